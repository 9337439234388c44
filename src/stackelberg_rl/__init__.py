"""stackelberg-rl: learning in leader-follower Markov games with linear function approximation.

Implements "Provably Efficient Model-free RL in Leader-Follower MDP with Linear Function
Approximation": soft-max LSVI-UCB for a non-myopic leader and follower, exact planning on known
finite games, Monte-Carlo planning on continuous ones, and the experiments around them. The
subpackages, each importing only those before it: :mod:`.games` → :mod:`.planning` →
:mod:`.montecarlo` → :mod:`.learners` → :mod:`.agents` → :mod:`.experiments` →
:mod:`.equilibria` → :mod:`.envs` → :mod:`.sweep` → :mod:`.report` → :mod:`.bench` → :mod:`.cli`
(``tests/test_layers.py`` checks every import; the report reads sweep folders
through :mod:`.sweep`; a sweep's YAML file is read by :mod:`.cli.sweep_file`, whose keys are the
command line's options).
"""

__version__ = "0.1.0"

import importlib

_PUBLIC = {
    "AgentConfig": "agents",
    "make_agents": "agents",
    "GameSpec": "experiments",
    "RunConfig": "experiments",
    "load_run": "experiments",
    "run": "experiments",
    "run_seeds": "experiments",
    "FiniteGame": "games",
    "make": "games",
    "names": "games",
    "random_linear": "games",
    "random_tabular": "games",
    "tabular": "games",
    "ReferenceLSVIUCB": "learners",
    "SoftmaxLSVIUCB": "learners",
    "Values": "planning",
    "evaluate": "planning",
    "follower_best_response": "planning",
    "leader_best_response": "planning",
    "regret": "planning",
    "stackelberg_equilibrium": "planning",
    "summary": "report",
}
"""Each public name and the subpackage it comes from."""

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str):
    """A public name or a subpackage, imported on first use (PEP 562).

    The numerical stack (numba's kernels, pandas) takes about a second to import; importing it
    only when used lets the command line install its signal handlers first, so that Ctrl-C
    while it loads is an interruption, not a traceback.
    """
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    elif not name.startswith("__"):
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as err:
            if err.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
