"""stackelberg-rl: learning in leader-follower Markov games with linear function approximation.

Soft-max LSVI-UCB for a non-myopic leader and its followers ("Provably Efficient Model-free RL
in Leader-Follower MDP with Linear Function Approximation"), exact and Monte-Carlo planning, and
the experiments around them. Subpackages import only those before them: games → planning →
montecarlo → learners → agents → experiments → equilibria → envs → sweep → report → bench → cli.
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
    """A public name or a subpackage, imported on first use (the CLI's signal handlers first)."""
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
