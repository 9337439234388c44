"""Sweeps: a grid of run configurations, each a run folder, played on local cores or on Ray.

:func:`~.settings.name_settings` names each configuration by what sets it apart;
:func:`~.runner.run_grid` plays every seed of every setting not yet complete into a sweep folder
(:mod:`.folder`), on local processes or a Ray cluster (:mod:`.backends`); :func:`~.runner.plan`
says what it would do. The command line's ``stackelberg-rl sweep FILE.yaml`` reads the grid from a
YAML file (:mod:`stackelberg_rl.cli.sweep_file`).
"""

from .backends import BACKENDS, BackendUnavailableError, Task
from .folder import LOG_FILE, SWEEP_FILE, SWEEP_FORMAT, SettingState, SweepFolderError
from .runner import SettingError, SweepOutcome, plan, run_grid
from .settings import Setting, name_settings

__all__ = [
    "BACKENDS",
    "LOG_FILE",
    "SWEEP_FILE",
    "SWEEP_FORMAT",
    "BackendUnavailableError",
    "Setting",
    "SettingError",
    "SettingState",
    "SweepFolderError",
    "SweepOutcome",
    "Task",
    "name_settings",
    "plan",
    "run_grid",
]
