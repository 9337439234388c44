"""Leader-follower Markov games: the validated game types, the registry, the generators.

``make(name, **params)`` builds a registered game (``names()``), each defined in its module; a
game checks itself when it is made (math.md §1). :func:`load` and :func:`save` read and write
users' own finite games as ``.npz`` files.
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
