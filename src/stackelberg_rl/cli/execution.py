"""The options ``run``, ``sweep`` and ``demo`` share: what a run is, and where and how it plays.

One module that the three commands and the sweep file's reader (:mod:`.sweep_file`) import, so
that none of them imports another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..experiments import ExecutionOptions, RunConfig
from ..experiments.config import check_execution
from ..experiments.loop import DEFAULT_CHECKPOINT_EVERY
from .options import options

RUN_DEFAULTS = RunConfig(seeds=4)
"""``run``'s defaults: :class:`RunConfig`'s, with four seeds (for an interval over seeds)."""

RUN_OPTIONS = options(RUN_DEFAULTS)
EXECUTION_OPTIONS = options(ExecutionOptions())


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
    """Seconds between checkpoints of every playing seed's state, kept in its run folder (also
    taken at Ctrl-C or kill on the local backend; inf: only then). Running the sweep again
    continues each seed from its checkpoint."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        check_execution(self)
        if self.out is not None and (not isinstance(self.out, str) or not self.out.strip()):
            raise ValueError(f"out must be a folder path, got {self.out!r}")


SWEEP_OPTIONS = options(SweepOptions())
