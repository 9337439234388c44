"""Tables, plots and the report page of runs and sweeps (plotting only reads results).

:mod:`.tables` (summaries, bands, slopes), :mod:`.analysis` (the soft-max bias, regret along
``K`` and sizes), :mod:`.plots` and :mod:`.page` (``report.html``: :func:`write_report`).
"""

from .analysis import episode_bias, run_bias
from .page import write_exploration_report, write_report, write_run_report, write_sweep_report
from .plots import (
    plot_certificate_curve,
    plot_cumulative_regret,
    plot_prefixes,
    plot_regret_vs_K,
    plot_sizes,
    plot_zero_sum_gap,
)
from .tables import (
    SlopeFit,
    binned_regret,
    cumulative_regret,
    learning_summary,
    loglog_fit,
    mean_band,
    summary,
    total_regret,
)

__all__ = [
    "SlopeFit",
    "binned_regret",
    "cumulative_regret",
    "episode_bias",
    "learning_summary",
    "loglog_fit",
    "mean_band",
    "plot_certificate_curve",
    "plot_cumulative_regret",
    "plot_prefixes",
    "plot_regret_vs_K",
    "plot_sizes",
    "plot_zero_sum_gap",
    "run_bias",
    "summary",
    "total_regret",
    "write_exploration_report",
    "write_report",
    "write_run_report",
    "write_sweep_report",
]
