"""``sweep CONFIG.yaml``: every setting of a sweep file, each a run folder, on local cores or Ray.

The file (:mod:`.sweep_file`) is read and every setting checked before anything runs; the work
is :func:`stackelberg_rl.sweep.run_grid`'s. Running the same command again skips what is
complete, keeps the seeds already played and runs what is missing or failed.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ..experiments.config import check_checkpoint_every
from ..experiments.loop import DEFAULT_CHECKPOINT_EVERY
from .errors import INTERRUPTION, UsageError, checked
from .options import build, command_function, options


@dataclass
class SweepOptions:
    """Where and how a sweep runs; nothing here changes its results."""

    out: str | None = field(default=None, metadata={"metavar": "DIR"})
    """The sweep folder (default: sweeps/NAME for a file NAME.yaml). Running the same sweep into
    the same folder again skips what is complete and runs what is not."""
    dry_run: bool = False
    """List the settings, what would run and what is skipped and why; run nothing."""
    backend: Literal["local", "ray"] = "local"
    """local: worker processes on this machine; ray: the tasks on a Ray cluster (pip install
    'stackelberg-rl[ray]' on the driver and the workers)."""
    address: str | None = field(default=None, metadata={"metavar": "ADDR"})
    """The Ray cluster's address (HEAD:6379); default: a Ray started here for this sweep."""
    workers: int | None = None
    """Local worker processes (default: every core; 1 plays in this process), or the CPUs of
    a Ray started here."""
    quiet: bool = False
    """No progress bar."""
    checkpoint_every: float = field(
        default=DEFAULT_CHECKPOINT_EVERY, metadata={"metavar": "SECONDS"}
    )
    """Seconds between checkpoints of every playing seed's state, kept in the sweep folder
    (also taken at Ctrl-C or kill on the local backend; inf: only then). Running the sweep again
    continues each seed from its checkpoint."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1
        ):
            raise ValueError(f"workers must be a positive integer, got {self.workers!r}")
        if self.address is not None and self.backend != "ray":
            raise ValueError("--address is the address of a Ray cluster: give --backend ray too")
        if self.out is not None and (not isinstance(self.out, str) or not self.out.strip()):
            raise ValueError(f"out must be a folder path, got {self.out!r}")
        check_checkpoint_every(self.checkpoint_every)


SWEEP_OPTIONS = options(SweepOptions())


def cmd_sweep(values: dict[str, Any]) -> int:
    """Read the sweep file, check it, and run (or list) its settings."""
    from ..sweep import (
        BackendUnavailableError,
        SettingError,
        SweepFolderError,
        name_settings,
        plan,
        run_grid,
    )
    from . import sweep_file

    path = Path(values.pop("config_file"))
    opts = checked(lambda: build(SweepOptions(), SWEEP_OPTIONS, values))
    text, points = checked(lambda: sweep_file.load(path))
    settings = checked(lambda: name_settings([p.config for p in points]))
    out = Path(opts.out) if opts.out else Path("sweeps") / path.stem
    by_name = {s.name: p for s, p in zip(settings, points, strict=True)}
    try:
        if opts.dry_run:
            _print_plan(plan(settings, out), out)
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
        point = by_name[err.setting.name]
        raise UsageError(
            str(sweep_file.combination_error(str(path), point.values, err.reason))
            + f" (setting {err.setting.name})"
        ) from None
    except (SweepFolderError, BackendUnavailableError, MemoryError) as err:
        raise UsageError(str(err)) from None
    print(outcome.summary())
    return 1 if outcome.failed else 0


def _print_plan(states: list, out: Path) -> None:
    """What a sweep would do: one line per setting, then the totals."""
    seeds = 0
    for state in states:
        if state.action == "skip":
            what = "skip: complete"
        else:
            n = len(state.to_run)
            seeds += n
            what = f"run {n} seed{'s' * (n != 1)} ({', '.join(map(str, state.to_run))})"
            if state.why:
                what += f": {state.why}"
        print(f"{state.setting.name}  {what}")
    skipped = sum(s.action == "skip" for s in states)
    print(
        f"{len(states)} settings in {out}: {len(states) - skipped} to run ({seeds} seeds), "
        f"{skipped} complete and skipped"
    )


def register(app: typer.Typer) -> None:
    """Add ``sweep`` to ``app``."""
    config = inspect.Parameter(
        "config_file",
        inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[
            Path,
            typer.Argument(
                metavar="CONFIG.yaml",
                help="The sweep file: run's options as keys, a list for the values to try.",
                show_default=False,
            ),
        ],
    )
    app.command(
        "sweep",
        help="Run a grid of settings from a YAML file: every key is an option of run (a list "
        "is tried value by value, the settings are the product of the lists; zip: pairs lists), "
        "one run folder per setting plus sweep.json and sweep.log, on local processes or a Ray "
        "cluster. Running it again skips what is complete and runs what is not.",
    )(command_function(SWEEP_OPTIONS, cmd_sweep, extra=[config]))
