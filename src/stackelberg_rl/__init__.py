"""stackelberg-rl: learning in leader-follower Markov games with linear function approximation.

Implements "Provably Efficient Model-free RL in Leader-Follower MDP with Linear Function
Approximation": soft-max LSVI-UCB for a non-myopic leader and follower, exact planning on known
finite games, and the experiments around them.
"""

from .games import FiniteGame, random_linear, random_tabular, tabular
from .planning import (
    Values,
    evaluate,
    follower_best_response,
    leader_best_response,
    regret,
    stackelberg_equilibrium,
)

__version__ = "0.1.0"

__all__ = [
    "FiniteGame",
    "Values",
    "evaluate",
    "follower_best_response",
    "leader_best_response",
    "random_linear",
    "random_tabular",
    "regret",
    "stackelberg_equilibrium",
    "tabular",
]
