"""Sweeps: a grid of run configurations, each a run folder, played on local cores or on Ray.

:func:`~.settings.name_settings` names each configuration by what sets it apart;
:func:`~.runner.run_grid` plays every seed of every setting not yet complete into a sweep folder
(:mod:`.folder`), through the one run driver (:mod:`stackelberg_rl.experiments.driver`, on local
processes or a Ray cluster), continuing each seed from its checkpoint; :func:`~.runner.preview`
says what it would do (the dry run); :func:`~.folder.load_sweep`
reads a sweep folder back. The command line's ``stackelberg-rl sweep FILE.yaml`` reads the grid
from a YAML file (:mod:`stackelberg_rl.cli.sweep_file`), and ``stackelberg-rl demo`` is a sweep.

In the package order this comes after :mod:`stackelberg_rl.experiments` and before
:mod:`stackelberg_rl.report` (which reads sweep folders through it) and :mod:`stackelberg_rl.cli`:
it imports neither.
"""

from ..experiments.config import BACKENDS
from ..experiments.driver import BackendUnavailableError
from .folder import (
    LOG_FILE,
    SWEEP_FILE,
    SWEEP_FORMAT,
    SettingResult,
    SettingState,
    SweepFolderError,
    is_sweep_folder,
    load_sweep,
    read_sweep_file,
)
from .runner import SettingError, SweepOutcome, preview, preview_lines, run_grid
from .settings import Setting, check_settings, name_settings

__all__ = [
    "BACKENDS",
    "LOG_FILE",
    "SWEEP_FILE",
    "SWEEP_FORMAT",
    "BackendUnavailableError",
    "Setting",
    "SettingError",
    "SettingResult",
    "SettingState",
    "SweepFolderError",
    "SweepOutcome",
    "check_settings",
    "is_sweep_folder",
    "load_sweep",
    "name_settings",
    "preview",
    "preview_lines",
    "read_sweep_file",
    "run_grid",
]
