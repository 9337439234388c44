"""Experiments: configurations, the episode loop, seeds in parallel, run folders on disk."""

from .config import GameSpec, RunConfig
from .loop import COLUMNS, run
from .store import MANIFEST_FILE, RESULTS_FILE, load_run
from .sweep import resolved_parameters, run_sweep

__all__ = [
    "COLUMNS",
    "MANIFEST_FILE",
    "RESULTS_FILE",
    "GameSpec",
    "RunConfig",
    "load_run",
    "resolved_parameters",
    "run",
    "run_sweep",
]
