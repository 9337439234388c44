"""Equilibria: how far the uniform mixture of a run's policies is from a Stackelberg equilibrium."""

from .certificate import Certificate, best_response_values, certificate, pair_values, zero_sum_gap

__all__ = ["Certificate", "best_response_values", "certificate", "pair_values", "zero_sum_gap"]
