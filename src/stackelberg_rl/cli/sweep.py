"""``sweep CONFIG.yaml``: every setting of a sweep file, each a run folder, on local cores or Ray.

The file (:mod:`.sweep_file`) is read and every setting checked before anything runs; the work
is :func:`stackelberg_rl.sweep.run_grid`'s (the one run driver's). Running the same command
again skips what is complete, keeps the seeds already played and runs what is missing or failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..experiments import ExecutionOptions
from ..sweep import (
    BackendUnavailableError,
    SettingError,
    SweepFolderError,
    name_settings,
    preview,
    preview_lines,
    run_grid,
)
from . import sweep_file
from .errors import INTERRUPTION, UsageError, checked
from .options import SWEEP_OPTIONS, Option, argument, build, command

DRY_RUN = Option(
    ("dry_run",), "--dry-run/--no-dry-run", bool, False,
    "List the settings, what would run and what is skipped and why; run nothing.",
)  # fmt: skip
CONFIG_FILE = argument(
    "config_file", "The sweep file: run's options as keys, a list for the values to try.",
    "CONFIG.yaml",
)  # fmt: skip


@command([DRY_RUN, *SWEEP_OPTIONS], CONFIG_FILE)
def sweep(values: dict[str, Any]) -> int:
    """Run a grid of settings from a YAML file, one run folder per setting.

    Every key of the file is an option of run (a list is tried value by value, the settings are
    the product of the lists; zip: pairs lists); it writes one run folder per setting plus
    sweep.json and sweep.log, on local processes or a Ray cluster. Running it again skips what
    is complete and runs what is not.
    """
    path = Path(values.pop("config_file"))
    opts = checked(lambda: build(ExecutionOptions(), SWEEP_OPTIONS, values))
    text, points = checked(lambda: sweep_file.load(path))
    settings = checked(lambda: name_settings([p.config for p in points]))
    out = Path(opts.out) if opts.out else Path("sweeps") / path.stem
    try:
        if values.get("dry_run"):
            print("\n".join(preview_lines(preview(settings, out), out)))
            return 0
        INTERRUPTION["note"] = (
            f"workers stopped; the seeds played and checkpoints are kept in {out}: run the same "
            "command again to go on"
        )
        outcome = run_grid(
            settings,
            out,
            backend=opts.backend,
            workers=opts.workers,
            address=opts.address,
            text=text,
            source=str(path.resolve()),
            progress=not opts.quiet,
            checkpoint_every=opts.checkpoint_every,
        )
    except SettingError as err:
        point = {s.name: p for s, p in zip(settings, points, strict=True)}[err.setting.name]
        raise UsageError(
            str(sweep_file.combination_error(str(path), point.values, err.reason))
            + f" (setting {err.setting.name})"
        ) from None
    except (SweepFolderError, BackendUnavailableError, MemoryError) as err:
        raise UsageError(str(err)) from None
    print(outcome.summary())
    return 1 if outcome.failed else 0
