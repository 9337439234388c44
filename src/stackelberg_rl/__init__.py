"""stackelberg-rl: learning in leader-follower Markov games with linear function approximation.

Implements "Provably Efficient Model-free RL in Leader-Follower MDP with Linear Function
Approximation": soft-max LSVI-UCB for a non-myopic leader and follower, exact planning on known
finite games, Monte-Carlo planning on continuous ones, and the experiments around them. The
subpackages, each importing only those before it: :mod:`.games` → :mod:`.planning` →
:mod:`.montecarlo` → :mod:`.learners` → :mod:`.agents` → :mod:`.experiments` →
:mod:`.equilibria` → :mod:`.sweep` → :mod:`.report` → :mod:`.cli` (the report reads sweep folders
through :mod:`.sweep`; a sweep's YAML file is read by :mod:`.cli.sweep_file`, whose keys are the
command line's options).
"""

__version__ = "0.1.0"

from .agents import AgentConfig, make_agents  # noqa: E402
from .experiments import GameSpec, RunConfig, load_run, run, run_seeds, run_sweep  # noqa: E402
from .games import FiniteGame, make, names, random_linear, random_tabular, tabular  # noqa: E402
from .learners import ReferenceLSVIUCB, SoftmaxLSVIUCB  # noqa: E402
from .planning import (  # noqa: E402
    Values,
    evaluate,
    follower_best_response,
    leader_best_response,
    regret,
    stackelberg_equilibrium,
)
from .report import summary  # noqa: E402

__all__ = [
    "AgentConfig",
    "FiniteGame",
    "GameSpec",
    "ReferenceLSVIUCB",
    "RunConfig",
    "SoftmaxLSVIUCB",
    "Values",
    "__version__",
    "evaluate",
    "follower_best_response",
    "leader_best_response",
    "load_run",
    "make",
    "make_agents",
    "names",
    "random_linear",
    "random_tabular",
    "regret",
    "run",
    "run_seeds",
    "run_sweep",
    "stackelberg_equilibrium",
    "summary",
    "tabular",
]
