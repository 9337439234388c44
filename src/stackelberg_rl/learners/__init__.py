"""Soft-max LSVI-UCB (Algorithms 1 and 2): the math as pure functions, the statistics in a class."""

from .base import SCHEDULES, FeatureMap, LSVIUCBLearner, NonFiniteError
from .functional import alpha_value, optimistic_q, parse_power_alpha, soft_policies, theory_beta
from .lsvi_ucb import SoftmaxLSVIUCB, add_episodes, initial_gram, played_policies, replay_inverse
from .reference import ReferenceLSVIUCB

__all__ = [
    "SCHEDULES",
    "FeatureMap",
    "LSVIUCBLearner",
    "NonFiniteError",
    "ReferenceLSVIUCB",
    "SoftmaxLSVIUCB",
    "add_episodes",
    "alpha_value",
    "initial_gram",
    "optimistic_q",
    "parse_power_alpha",
    "played_policies",
    "replay_inverse",
    "soft_policies",
    "theory_beta",
]
