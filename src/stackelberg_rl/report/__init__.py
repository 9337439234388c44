"""Tables and plots from a run's results (plotting only reads them)."""

from .plots import plot_cumulative_regret
from .tables import PLAYERS, binned_regret, cumulative_regret, learning_summary, summary

__all__ = [
    "PLAYERS",
    "binned_regret",
    "cumulative_regret",
    "learning_summary",
    "plot_cumulative_regret",
    "summary",
]
