"""Sweeps: a grid of run configurations, each a run folder, played on local cores or on Ray.

:func:`~.settings.name_settings` names the settings, :func:`~.grid.run_grid` plays what is not
complete, :func:`~.grid.preview` is its dry run, :func:`~.grid.load_sweep` reads a sweep back.
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
