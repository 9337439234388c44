"""Finite leader-follower Markov games: the validated game type, the registry, the generators.

``make(name, **params)`` builds any registered game, ``names()`` lists them; a game checks itself
when it is made (math.md §1), raising :class:`ValueError` naming the field and the index. The
registered games: ``random-linear`` and ``random-tabular`` (:mod:`.random`), ``electricity``,
``security``, ``appendix-f``, ``matrix``, ``supply-chain`` (``N`` followers) and ``continuous``
(states in ``[0, 1]²``, a
:class:`ContinuousGame`, math.md §6), each in its module. Users' own finite games are read from
and written to ``.npz`` files by :func:`load` and :func:`save`.
"""

from . import appendix_f, continuous, electricity, matrix, security, supply_chain
from .appendix_f import appendix_f_game
from .base import FiniteGame
from .continuous import AtomDensities, BetaDensities, ContinuousGame, EvaluationSample
from .npz import GameFileError, load, save
from .random import one_hot_features, random_linear, random_tabular, tabular
from .registry import info, make, names, register
from .sampling import draw

Game = FiniteGame | ContinuousGame
"""Any game the players, the loop and the planners take: finite states or points of [0, 1]²."""

__all__ = [
    "AtomDensities",
    "BetaDensities",
    "ContinuousGame",
    "EvaluationSample",
    "FiniteGame",
    "Game",
    "GameFileError",
    "appendix_f",
    "appendix_f_game",
    "continuous",
    "draw",
    "electricity",
    "info",
    "load",
    "make",
    "matrix",
    "names",
    "one_hot_features",
    "random_linear",
    "random_tabular",
    "register",
    "save",
    "security",
    "supply_chain",
    "tabular",
]
