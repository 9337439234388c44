"""Finite leader-follower Markov games: the validated game type, the registry, the generators.

``make(name, **params)`` builds any registered game; ``names()`` lists them. A game checks itself
when it is made (math.md §1) and raises :class:`ValueError` naming the field and the index. The
registered games: ``random-linear`` and ``random-tabular`` (:mod:`.random`), ``electricity``
(:mod:`.electricity`), ``security`` (:mod:`.security`), ``appendix-f`` (:mod:`.appendix_f`, with
:func:`~.appendix_f.marginal_bound`), ``matrix`` (:mod:`.matrix`) and ``continuous``
(:mod:`.continuous`: states in ``[0, 1]²``, a :class:`ContinuousGame`, math.md §6). Users' own
finite games are read from and written to ``.npz`` files by :func:`load` and :func:`save`
(:mod:`.npz`).
"""

from . import appendix_f, continuous, electricity, matrix, security
from .appendix_f import AppendixFParams, appendix_f_game
from .base import DENSE_LIMIT, PROB_TOL, FiniteGame
from .continuous import (
    AtomDensities,
    BetaDensities,
    ContinuousGame,
    ContinuousParams,
    EvaluationSample,
    continuous_game,
)
from .electricity import ElectricityParams, electricity_game
from .matrix import MatrixParams, matrix_game
from .npz import GameFileError, load, save
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
from .security import SecurityParams, security_game

Game = FiniteGame | ContinuousGame
"""Any game the players, the loop and the planners take: finite states or points of [0, 1]²."""

__all__ = [
    "DENSE_LIMIT",
    "PROB_TOL",
    "AppendixFParams",
    "AtomDensities",
    "BetaDensities",
    "ContinuousGame",
    "ContinuousParams",
    "ElectricityParams",
    "EvaluationSample",
    "FiniteGame",
    "Game",
    "GameFileError",
    "GameInfo",
    "MatrixParams",
    "RandomLinearParams",
    "RandomTabularParams",
    "SecurityParams",
    "appendix_f",
    "appendix_f_game",
    "continuous",
    "continuous_game",
    "draw",
    "electricity",
    "electricity_game",
    "info",
    "load",
    "make",
    "matrix",
    "matrix_game",
    "names",
    "one_hot_features",
    "random_linear",
    "random_tabular",
    "register",
    "save",
    "security",
    "security_game",
    "tabular",
]
