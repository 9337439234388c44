"""Experiments: configurations, the episode loop, seeds in parallel, run folders on disk.

:func:`run_seeds` (also called :func:`run_sweep`, its older name) runs every seed of one
configuration into one run folder; a grid of configurations is :mod:`stackelberg_rl.sweep`.
"""

from .checkpoint import CheckpointError, CheckpointWriteError
from .config import ExecutionOptions, GameSpec, RunConfig
from .loop import COLUMNS, run
from .resources import run_bytes
from .runs import resolved_parameters, run_seeds, run_sweep
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
    "resolved_parameters",
    "run",
    "run_bytes",
    "run_seeds",
    "run_sweep",
]
