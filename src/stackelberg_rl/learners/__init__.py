"""Soft-max LSVI-UCB (Algorithms 1 and 2): the math as pure functions, the statistics in a class."""

from .functional import alpha_value, optimistic_q, soft_policies, softmax, theory_beta
from .lsvi_ucb import SCHEDULES, FeatureMap, SoftmaxLSVIUCB
from .reference import ReferenceLSVIUCB

__all__ = [
    "SCHEDULES",
    "FeatureMap",
    "ReferenceLSVIUCB",
    "SoftmaxLSVIUCB",
    "alpha_value",
    "optimistic_q",
    "soft_policies",
    "softmax",
    "theory_beta",
]
