"""What every command shares but its options: how it fails, the files it writes, its tables.

A :class:`UsageError` is one line and exit code 2 (:mod:`.main`). Nothing heavy is imported here:
:mod:`.main` reads this module before its signal handlers are in place.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

PROG = "stackelberg-rl"

INTERRUPTION = {"note": ""}
"""What an interruption now leaves behind, for the one line printed after Ctrl-C or SIGTERM."""


class UsageError(Exception):
    """Something the user can fix: printed as one line, exit code 2."""


def checked(make: Callable[[], T], *also: type[Exception], writing: str | None = None) -> T:
    """``make()``, with a ``ValueError``, ``MemoryError`` or one of ``also`` as a UsageError.

    With ``writing`` (what is written, e.g. ``"--json FILE"``), an ``OSError`` is ``cannot
    write WRITING: why``.
    """
    try:
        return make()
    except (ValueError, MemoryError, *also) as err:
        raise UsageError(str(err)) from None
    except OSError as err:
        if writing is None:
            raise
        raise UsageError(f"cannot write {writing}: {err.strerror or err}") from None


def resume_hint(folder, command: str) -> str:
    """How ``PROG command --resume folder`` continues an unfinished folder: what it kept."""
    from ..experiments.checkpoint import CHECKPOINTS_DIR

    resume = f"{PROG} {command} --resume {folder}"
    kept = len(list((Path(folder) / CHECKPOINTS_DIR).glob("seed-*.npz")))
    if not kept:
        return f"no checkpoint was written, so {resume} starts again from episode 0"
    return f"checkpoint{'s' * (kept > 1)} kept, resume with {resume}"


def check_writable_file(
    path: Path, what: str, kind: str, ours: Callable[[Path], bool], asks: str | None = None
) -> None:
    """Raise ``ValueError`` unless ``path`` can be written; an existing file only if ``ours``.

    ``asks``: the option not given without which even a file of ``ours`` is kept (``None``: one
    is replaced).
    """
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    if path.exists() and not ours(path):
        raise ValueError(
            f"{what} {path} exists and is not a {kind} written by {PROG}: it is never "
            "replaced; choose another file"
        )
    if path.exists() and asks is not None:
        raise ValueError(
            f"{what} {path} already holds a {kind}: give {asks} to replace it, or choose "
            "another file"
        )
    parent = path.absolute().parent
    if not parent.is_dir():
        why = "is not a folder" if parent.exists() else "does not exist"
        raise ValueError(f"cannot write {what} {path}: {parent} {why}")
    existed = path.exists()
    try:
        open(path, "a").close()
    except OSError as err:
        raise ValueError(f"cannot write {what} {path}: {err.strerror or err}") from None
    if not existed:
        path.unlink()


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence], left=(0,), group: int = 1
) -> None:
    """A rich table: columns ``left`` aligned left, a rule after every ``group`` rows."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title))
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i in left else "right")
    for i, row in enumerate(rows):
        end = group > 1 and i % group == group - 1
        table.add_row(*(Text(str(x)) for x in row), end_section=end)
    Console().print(table)


def say(text: str) -> None:
    """Print ``text`` through rich (wrapped to the terminal), without markup or highlighting."""
    from rich.console import Console

    Console().print(text, markup=False, highlight=False)


@contextlib.contextmanager
def progress(total: int, what: str, shown: bool = True):
    """``advance(done)`` of the package's progress bar if ``shown`` (a no-op otherwise)."""
    if not shown:
        yield lambda done: None
        return
    from ..experiments import progress_bar

    with progress_bar() as bar:
        task = bar.add_task(what, total=total)
        yield lambda done: bar.update(task, completed=done)
