"""Experiments: configurations, the episode loop, seeds in parallel, run folders on disk.

:func:`run_seeds` runs every seed of one configuration into one run folder through the one
driver (:mod:`.driver`), which also plays a grid of configurations (:mod:`stackelberg_rl.sweep`).
"""

from .checkpoint import CheckpointError, CheckpointWriteError
from .config import ExecutionOptions, GameSpec, RunConfig
from .driver import BackendUnavailableError, progress_bar
from .loop import COLUMNS, run
from .resources import run_bytes
from .runs import resolved_parameters, run_seeds
from .store import (
    FORMAT,
    MANIFEST_FILE,
    PLOT_FILE,
    RESULTS_FILE,
    NewFolder,
    ResultsNotSavedError,
    RunFolderError,
    load_run,
)

__all__ = [
    "COLUMNS",
    "BackendUnavailableError",
    "CheckpointError",
    "CheckpointWriteError",
    "FORMAT",
    "MANIFEST_FILE",
    "PLOT_FILE",
    "RESULTS_FILE",
    "ExecutionOptions",
    "GameSpec",
    "NewFolder",
    "ResultsNotSavedError",
    "RunConfig",
    "RunFolderError",
    "load_run",
    "progress_bar",
    "resolved_parameters",
    "run",
    "run_bytes",
    "run_seeds",
]
