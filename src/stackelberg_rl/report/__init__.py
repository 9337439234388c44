"""Tables and plots from a run's results (plotting only reads them)."""

from .plots import plot_certificate_curve, plot_cumulative_regret, plot_zero_sum_gap
from .tables import PLAYERS, binned_regret, cumulative_regret, learning_summary, summary

__all__ = [
    "PLAYERS",
    "binned_regret",
    "cumulative_regret",
    "learning_summary",
    "plot_certificate_curve",
    "plot_cumulative_regret",
    "plot_zero_sum_gap",
    "summary",
]
