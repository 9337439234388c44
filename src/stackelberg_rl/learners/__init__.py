"""Soft-max LSVI-UCB (Algorithms 1 and 2): the math as pure functions, the statistics in a class."""

from .base import SCHEDULES, FeatureMap, LSVIUCBLearner, NonFiniteError
from .functional import alpha_value, optimistic_q, soft_policies, softmax, theory_beta
from .lsvi_ucb import SoftmaxLSVIUCB
from .reference import ReferenceLSVIUCB

__all__ = [
    "SCHEDULES",
    "FeatureMap",
    "LSVIUCBLearner",
    "NonFiniteError",
    "ReferenceLSVIUCB",
    "SoftmaxLSVIUCB",
    "alpha_value",
    "optimistic_q",
    "soft_policies",
    "softmax",
    "theory_beta",
]
