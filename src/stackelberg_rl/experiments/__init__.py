"""Experiments: configurations, the episode loop, seeds in parallel, run folders on disk.

:func:`run_seeds` plays every seed of one configuration into a run folder through the one
driver (:mod:`.driver`), which also plays grids of them (:mod:`stackelberg_rl.sweep`).
"""

from .checkpoint import CheckpointError, CheckpointWriteError
from .config import ExecutionOptions, GameSpec, RunConfig
from .driver import BackendUnavailableError, progress_bar
from .loop import COLUMNS, run
from .runs import run_seeds
from .store import (
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
    "run",
    "run_seeds",
]
