"""Experiments: configurations, the episode loop, seeds in parallel, run folders on disk."""

from .checkpoint import CheckpointError, CheckpointWriteError
from .config import ExecutionOptions, GameSpec, RunConfig
from .loop import COLUMNS, run
from .resources import run_bytes
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
from .sweep import resolved_parameters, run_sweep

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
    "run_sweep",
]
