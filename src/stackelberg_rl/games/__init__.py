"""Finite leader-follower Markov games: the validated game type, the registry, the generators.

``make(name, **params)`` builds any registered game; ``names()`` lists them. A game checks itself
when it is made (SPEC §1) and raises :class:`ValueError` naming the field and the index.
"""

from .base import DENSE_LIMIT, PROB_TOL, FiniteGame
from .random import (
    RandomLinearParams,
    RandomTabularParams,
    one_hot_features,
    random_linear,
    random_tabular,
    tabular,
)
from .registry import GameInfo, info, make, names, register
from .sampling import draw

__all__ = [
    "DENSE_LIMIT",
    "PROB_TOL",
    "FiniteGame",
    "GameInfo",
    "RandomLinearParams",
    "RandomTabularParams",
    "draw",
    "info",
    "make",
    "names",
    "one_hot_features",
    "random_linear",
    "random_tabular",
    "register",
    "tabular",
]
