"""Sweeps: a grid of run configurations, each a run folder, played on local cores or on Ray.

:func:`~.settings.name_settings` names each configuration by what sets it apart;
:func:`~.grid.run_grid` plays every seed of every setting not yet complete into a sweep folder
through the one run driver; :func:`~.grid.preview` says what it would do (the dry run);
:func:`~.grid.load_sweep` reads a sweep folder back. ``stackelberg-rl sweep FILE.yaml`` reads the
grid from a YAML file, and ``stackelberg-rl demo`` is a sweep.
"""

from ..experiments.driver import BackendUnavailableError
from .grid import (
    SWEEP_FORMAT,
    SettingError,
    SweepFolderError,
    is_sweep_folder,
    load_sweep,
    preview,
    preview_lines,
    run_grid,
)
from .settings import Setting, name_settings

__all__ = [
    "SWEEP_FORMAT",
    "BackendUnavailableError",
    "Setting",
    "SettingError",
    "SweepFolderError",
    "is_sweep_folder",
    "load_sweep",
    "name_settings",
    "preview",
    "preview_lines",
    "run_grid",
]
