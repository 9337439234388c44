"""Finite leader-follower Markov games: the validated game type, the registry, the generators.

``make(name, **params)`` builds any registered game; ``names()`` lists them. A game checks itself
when it is made (SPEC §1) and raises :class:`ValueError` naming the field and the index. The
registered games: ``random-linear`` and ``random-tabular`` (:mod:`.random`) and ``matrix``
(:mod:`.matrix`).
"""

from . import matrix
from .base import DENSE_LIMIT, PROB_TOL, FiniteGame
from .matrix import MatrixParams, matrix_game
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
    "MatrixParams",
    "RandomLinearParams",
    "RandomTabularParams",
    "draw",
    "info",
    "make",
    "matrix",
    "matrix_game",
    "names",
    "one_hot_features",
    "random_linear",
    "random_tabular",
    "register",
    "tabular",
]
