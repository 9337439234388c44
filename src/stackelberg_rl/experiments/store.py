"""Run folders on disk: reserved before the first episode, finished atomically, read back checked.

A run folder holds::

    manifest.json     "format": "stackelberg-rl/run", its version, "status" ("running" while the
                      seeds are played, "interrupted" if they were stopped, "complete" once the
                      results are written), the configuration, every resolved α, β, λ, the game
                      (name, parameters, SHA-256 of its arrays), versions, git commit
    results.parquet   one row per (seed, episode), the columns of :data:`~.loop.COLUMNS`
    plans.npz         with ``save_plans``: what replays every episode's policies (:mod:`.plans`)
    regret.png        written by the command line's run and report
    report.html       the report (:mod:`stackelberg_rl.report`), and its figures report-*.png
    checkpoints/      while the run is unfinished: seed-N.npz, each seed's last state
                      (:mod:`.checkpoint`), removed once the run is complete

The life of a run (:class:`Reservation`): the folder is reserved and its manifest written with
status ``"running"`` before the first episode — an unwritable folder fails then, not after the
work — the seeds' checkpoints are written as they come (:meth:`Reservation.write_checkpoint`:
a temporary file, synced, then renamed, so the last one is always whole), the results at the
end, then the manifest says ``"complete"`` and the checkpoints go. A run that is interrupted
keeps its folder and checkpoints, its manifest saying ``"interrupted"`` (``"running"`` if the
process was killed outright), and continues from them (:meth:`Reservation.resume`). A folder that
holds a run of this program and nothing else may be replaced (``overwrite``): the new run is
written beside it and swapped in only once complete. Nothing else is ever deleted: a folder with
any other file is refused, overwrite or not. If the results cannot be written where asked, they
are saved in a fresh temporary folder and the error says where.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import platform
import socket
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .._files import TMP_PREFIX, replace_with, write_atomic
from .._validate import is_integer
from .checkpoint import CHECKPOINTS_DIR, CheckpointWriteError, checkpoint_name
from .config import RunConfig
from .plan_history import PLANS_FILE, Plans, write_plans

RESULTS_FILE = "results.parquet"
MANIFEST_FILE = "manifest.json"
PLOT_FILE = "regret.png"
REPORT_FILE = "report.html"
"""The report's page, in a run, sweep or exploration folder."""
REPORT_PREFIX = "report-"
"""The report's figures: ``report-*.png`` beside its page."""
FORMAT = "stackelberg-rl/run"
"""The ``format`` of a run folder's manifest: a folder whose manifest says otherwise is not ours."""
FORMAT_VERSION = 1
OWN_FILES = (MANIFEST_FILE, RESULTS_FILE, PLANS_FILE, PLOT_FILE, REPORT_FILE)
"""The files this program writes in a run folder (and the report's figures, ``report-*.png``);
temporary ones start with ``.tmp-``."""
REQUIRED_COLUMNS = ("seed", "episode", "regret_leader", "regret_follower", "eval_weight")


@dataclass(frozen=True)
class FolderKind:
    """What a folder of this program holds: its manifest's format and the files it writes.

    A folder is this program's to replace when its manifest has ``format`` and every other entry
    is one of ``files``, starts with one of ``prefixes``, is a temporary ``.tmp-`` file, or is
    one of the ``scratch`` sub-folders holding only files whose names start with their prefixes
    (or temporary ones).
    """

    format: str
    files: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    what: str = "run"
    """What such a folder holds, in messages."""
    scratch: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Sub-folders of working files, ``(name, prefixes of its files)``: removed once finished."""

    @property
    def a(self) -> str:
        """``what`` with its article: "a run", "an exploration"."""
        return f"{'an' if self.what[:1] in 'aeiou' else 'a'} {self.what}"

    def owns(self, name: str) -> bool:
        """Whether a file called ``name`` is one this program writes in such a folder."""
        return name in self.files or name.startswith((TMP_PREFIX, *self.prefixes))

    def owns_in(self, folder: str, name: str) -> bool:
        """Whether a file ``name`` in the scratch sub-folder ``folder`` is this program's."""
        prefixes = dict(self.scratch).get(folder)
        return prefixes is not None and name.startswith((TMP_PREFIX, *prefixes))


RUN_FOLDER = FolderKind(
    FORMAT, OWN_FILES, (REPORT_PREFIX,), scratch=((CHECKPOINTS_DIR, ("seed-",)),)
)
"""A run folder: ``manifest.json``, ``results.parquet``, ``plans.npz``, ``regret.png``, the
report's ``report.html`` and ``report-*.png``, and while it is unfinished
``checkpoints/seed-N.npz``."""


class RunFolderError(ValueError):
    """A folder that cannot be used for a run, or that does not hold a readable run."""


class ResultsNotSavedError(OSError):
    """The run finished but its results could not be put where asked; the message says where."""


# ---------------------------------------------------------------------- versions, times
def _git(*args: str) -> str | None:
    """Output of ``git ARGS`` in the repository holding this package, or ``None``."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state() -> dict:
    """``git_commit`` (``git rev-parse HEAD``) and ``git_dirty`` (uncommitted changes), or None."""
    commit = _git("rev-parse", "HEAD") or None
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def versions() -> dict:
    """Versions of the package, Python and the libraries that shape the results."""
    import matplotlib
    import numba
    import pyarrow
    import scipy

    from .. import __version__

    return {
        "stackelberg_rl": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "pyarrow": pyarrow.__version__,
        "matplotlib": matplotlib.__version__,
    }


def now() -> str:
    """The time in UTC, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def host() -> str:
    """This machine's name (with the pid, it tells whether a "running" run is still alive)."""
    return socket.gethostname()


def provenance() -> dict:
    """Where and by what a folder is written: ``versions``, git commit, ``host``, ``pid``.

    Asking git costs a process or two: taken once per run or sweep, not at every update.
    """
    return {"versions": versions(), **git_state(), "host": host(), "pid": os.getpid()}


# ---------------------------------------------------------------------- reading a manifest
def read_manifest(run_dir: Path, kind: FolderKind | None = None) -> dict:
    """The manifest of ``run_dir``, checked to be this program's (a run's, or ``kind``'s).

    Raises:
        RunFolderError: no manifest, unreadable JSON, or not a manifest of this program.
    """
    kind = kind or RUN_FOLDER
    path = run_dir / MANIFEST_FILE
    data = read_format_file(path, kind.format, f"{kind.a} folder", "a manifest")
    version = data.get("format_version")
    if not is_integer(version) or version > FORMAT_VERSION:
        raise RunFolderError(
            f"{path} has format version {version!r}; this version of stackelberg-rl reads "
            f"versions up to {FORMAT_VERSION}"
        )
    return data


def read_format_file(
    path: Path, fmt: str, folder_is: str, file_is: str, error: type[Exception] = RunFolderError
) -> dict:
    """The JSON object in ``path`` (a manifest, ``sweep.json``) whose ``format`` is ``fmt``.

    Args:
        path: the file.
        fmt: the ``format`` it must have.
        folder_is: what its folder is, for the message when it is missing ("a run folder").
        file_is: what the file is, for the message when it is not ours ("a manifest").
        error: the exception to raise.

    Raises:
        error: the file is missing, unreadable, not JSON, or not of ``fmt``.
    """
    if not path.is_file():
        raise error(f"{path.parent} is not {folder_is}: no {path.name}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{path} is corrupt or truncated: {err}") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise error(f"{path} is not {file_is} of stackelberg-rl (no format {fmt!r})")
    return data


def _foreign_entries(folder: Path, kind: FolderKind) -> list[str]:
    """The entries of ``folder`` this program did not write (in scratch folders too)."""
    out = []
    scratch = dict(kind.scratch)
    for p in folder.iterdir():
        if p.name in scratch and p.is_dir() and not p.is_symlink():
            out.extend(f"{p.name}/{q.name}" for q in p.iterdir() if not _owned_in(kind, q))
        elif p.name in scratch or not kind.owns(p.name):
            out.append(p.name)
    return sorted(out)


def _owned_in(kind: FolderKind, path: Path) -> bool:
    return kind.owns_in(path.parent.name, path.name) and path.is_file() and not path.is_symlink()


def _alive(manifest: dict) -> bool:
    """Whether the run that wrote this "running" manifest is still running on this machine."""
    pid = manifest.get("pid")
    if manifest.get("status") != "running" or manifest.get("host") != host():
        return False
    if not is_integer(pid) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return pid != os.getpid()


# ---------------------------------------------------------------------- where a run goes
@dataclass(frozen=True)
class NewFolder:
    """A run folder that does not exist yet: ``parent/stem-YYYYmmdd-HHMMSS``.

    ``-2``, ``-3``, … is appended if that is taken; the name is reserved atomically (exclusive
    ``mkdir``), so two runs started in the same second never share a folder.
    """

    parent: str = "runs"
    stem: str = "run"


def _check_cwd_outside(out: Path) -> None:
    cwd = Path.cwd().resolve()
    target = out.resolve()
    if cwd == target or target in cwd.parents:
        raise RunFolderError(
            f"{out} contains the current directory; give a run folder of its own, "
            "e.g. --out runs/NAME"
        )


def _check_ancestors(out: Path) -> None:
    """The first existing ancestor of ``out`` must be a folder (a file in the path is an error)."""
    for parent in out.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunFolderError(f"cannot create {out}: {parent} is a file, not a folder")
            return


def check_destination(out: Path, overwrite: bool, kind: FolderKind | None = None) -> str:
    """What writing a run (or a folder of ``kind``) to ``out`` would do.

    Returns:
        ``"new"``, ``"empty"`` or ``"replace"``.

    Raises:
        RunFolderError: ``out`` contains the current directory, a parent is a file, ``out`` is a
            file, or ``out`` holds anything but a run of this program that may be replaced (with
            ``overwrite``, and not while that run is still running).
    """
    kind = kind or RUN_FOLDER
    _check_cwd_outside(out)
    _check_ancestors(out)
    if not out.exists():
        if out.is_symlink():
            raise RunFolderError(f"{out} is a broken symbolic link")
        return "new"
    if not out.is_dir():
        raise RunFolderError(f"{out} exists and is not a folder")
    try:
        entries = list(out.iterdir())
    except OSError as err:
        raise RunFolderError(f"cannot read {out}: {err.strerror or err}") from None
    if not entries:
        return "empty"
    try:
        manifest = read_manifest(out, kind)
    except RunFolderError:
        manifest = None
    foreign = _foreign_entries(out, kind)
    if manifest is None or foreign:
        shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
        what = f"files that are not {kind.a} ({shown})" if foreign else f"no {kind.what} manifest"
        raise RunFolderError(
            f"{out} is not empty and holds {what}: it is never replaced, --overwrite or not; "
            "choose another --out"
        )
    if _alive(manifest):
        raise RunFolderError(f"{out} holds {kind.a} that is still running (pid {manifest['pid']})")
    if not overwrite:
        status = manifest.get("status")
        what = kind.a if status == "complete" else f"an unfinished {kind.what}"
        what += "" if status == "complete" else f" (status {status!r})"
        how = "pass --overwrite (overwrite=True) to replace it"
        if status != "complete" and kind.scratch:
            how = f"continue it with --resume {out} (resume=True), or {how}"
        raise RunFolderError(f"{out} already holds {what}; {how}")
    return "replace"


@dataclass
class Reservation:
    """A run folder reserved for one run: where it is written and how to finish or abandon it."""

    target: Path
    """The folder asked for."""
    work: Path
    """Where the run is written: ``target``, or a hidden sibling while it replaces ``target``."""
    mode: str
    """``"new"`` (created here), ``"empty"`` (an empty folder that existed), ``"replace"`` or
    ``"resume"`` (an interrupted run's own folder)."""
    manifest_written: bool = False
    made_parents: tuple[Path, ...] = ()
    """Folders above ``target`` made for it (removed with it if the run is abandoned)."""
    kind: FolderKind | None = None
    """What the folder holds (``None``: a run)."""
    resumed: bool = False
    """Whether this continues an interrupted run (:meth:`resume`): its folder is never removed."""

    @classmethod
    def make(
        cls,
        out: str | os.PathLike | NewFolder,
        overwrite: bool = False,
        kind: FolderKind | None = None,
    ) -> Reservation:
        """Reserve ``out`` (or a new folder) for a run (or ``kind``); nothing is written yet.

        Raises:
            RunFolderError: see :func:`check_destination`, or the folder cannot be created.
        """
        if isinstance(out, NewFolder):
            reservation = cls._new_unique(Path(out.parent), out.stem)
            reservation.kind = kind
            return reservation
        out = Path(out)
        mode = check_destination(out, overwrite, kind)
        try:
            if mode == "new":
                made = _make_parents(out)
                try:
                    out.mkdir()
                except FileExistsError:  # someone made it meanwhile: judge it again
                    return cls.make(out, overwrite, kind)
                return cls(out, out, mode, made_parents=made, kind=kind)
            if mode == "empty":
                return cls(out, out, mode, kind=kind)
            work = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
            work.chmod(0o755)  # mkdtemp's 0o700 would otherwise become the run folder's mode
            return cls(out, work, mode, kind=kind)
        except OSError as err:
            raise RunFolderError(f"cannot create {out}: {err.strerror or err}") from None

    @classmethod
    def resume(cls, folder: str | os.PathLike) -> tuple[Reservation, dict]:
        """An unfinished run's folder taken back to continue it, and its manifest.

        A run that was replacing another (``overwrite``) was written in a hidden folder beside
        it; its manifest names the folder it replaces (``"replaces"``), which it still replaces
        once complete.

        Raises:
            RunFolderError: not a run folder of this program, a folder holding anything else,
                or a run that is still running.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise RunFolderError(f"{folder} is not a run folder: no such folder")
        _check_cwd_outside(folder)
        manifest = read_manifest(folder)
        foreign = _foreign_entries(folder, RUN_FOLDER)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", …" if len(foreign) > 5 else "")
            raise RunFolderError(
                f"{folder} holds files that are not a run's ({shown}): a run is resumed only in "
                "a folder of its own"
            )
        if _alive(manifest):
            raise RunFolderError(
                f"{folder} holds a run that is still running (pid {manifest['pid']})"
            )
        replaces = manifest.get("replaces")
        if isinstance(replaces, str) and replaces:
            reservation = cls(
                Path(replaces), folder, "replace", manifest_written=True, resumed=True
            )
        else:
            reservation = cls(folder, folder, "resume", manifest_written=True, resumed=True)
        return reservation, manifest

    @classmethod
    def _new_unique(cls, parent: Path, stem: str) -> Reservation:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        base = parent / f"{stem}-{stamp}"
        _check_cwd_outside(base)
        _check_ancestors(base)
        try:
            made = _make_parents(base)
        except OSError as err:
            raise RunFolderError(f"cannot create {parent}: {err.strerror or err}") from None
        for n in range(1, 10_000):
            path = base if n == 1 else base.with_name(f"{base.name}-{n}")
            try:
                path.mkdir()  # exclusive: of two runs that want this name, one gets it
            except FileExistsError:
                continue
            except OSError as err:
                raise RunFolderError(f"cannot create {path}: {err.strerror or err}") from None
            return cls(path, path, "new", made_parents=made)
        raise RunFolderError(f"no free run folder name {base}-N in {parent}")

    # ------------------------------------------------------------------ writing
    def _write_text(self, name: str, text: str, exclusive: bool = False) -> None:
        self.write_file(name, lambda path: path.write_text(text), exclusive)

    def write_file(
        self, name: str, write: Callable[[Path], object], exclusive: bool = False
    ) -> None:
        """:func:`write_file` in the folder being written."""
        write_file(self.work, name, write, exclusive)

    def write_manifest(self, manifest_text: str) -> None:
        """Replace the manifest (atomically: a crash leaves the old one or the new one).

        Raises:
            OSError: the folder cannot be written.
        """
        self._write_text(MANIFEST_FILE, manifest_text)

    def write_checkpoint(self, seed: int, data: bytes) -> Path:
        """Write seed ``seed``'s checkpoint to ``checkpoints/seed-N.npz``; its path.

        Written to a temporary file, flushed to the disk (``fsync``), then renamed over the
        previous one: whatever happens meanwhile, the file under the name is a whole checkpoint.

        Raises:
            CheckpointWriteError: the folder or the file cannot be written (disk full, no
                permission); the previous checkpoint is left as it was.
        """
        folder = self.work / CHECKPOINTS_DIR
        path = folder / checkpoint_name(seed)
        try:
            folder.mkdir(exist_ok=True)
            write_atomic(path, data)
        except OSError as err:
            raise CheckpointWriteError(
                err.errno or errno.EIO,
                f"cannot write the checkpoint of seed {seed} to {path} ({_reason(err)})",
            ) from err
        return path

    def start(self, manifest_text: str) -> None:
        """Write the manifest of a run that starts (status ``"running"``).

        Whatever stops it (an interruption too), the reservation is abandoned.

        Raises:
            RunFolderError: the folder cannot be written, or another run took it meanwhile.
        """
        try:
            self._write_text(MANIFEST_FILE, manifest_text, exclusive=True)
        except BaseException as err:
            self.abandon()
            if isinstance(err, FileExistsError):
                raise RunFolderError(f"{self.target} was taken by another run meanwhile") from None
            if isinstance(err, OSError):
                raise RunFolderError(f"cannot write to {self.target}: {_reason(err)}") from None
            raise
        self.manifest_written = True

    def finish(
        self, df: pd.DataFrame, manifest_text: str, plans: dict[int, Plans] | None = None
    ) -> Path:
        """Write the results, the plans if any, the complete manifest; put the folder in place.

        ``plans``: each seed's :class:`~.plans.Plans` (``save_plans``), written to ``plans.npz``.

        Returns:
            The run folder.

        Raises:
            ResultsNotSavedError: the results could not be written or moved where asked; the
                message says where they are (a fresh temporary folder if need be).
        """
        try:
            if plans is not None:
                write_plans(self.work / PLANS_FILE, plans)
            replace_with(self.work / RESULTS_FILE, lambda path: df.to_parquet(path, index=False))
            self._write_text(MANIFEST_FILE, manifest_text)
            kind = self.kind or RUN_FOLDER
            for name, _ in kind.scratch:  # complete: the working files are no longer needed
                _remove_scratch(self.work / name, kind)
        except Exception as err:
            where = _rescue(df, manifest_text, plans)
            if where is not None:
                self.abandon()  # the results are safe elsewhere: leave no unfinished run here
            raise ResultsNotSavedError(
                errno.EIO,
                f"could not write the results to {self.target} ({_reason(err)}); "
                + (f"they are saved in {where}" if where else "and could not save them elsewhere"),
            ) from err
        return self.put_in_place()

    def put_in_place(self) -> Path:
        """Once everything is written: the folder asked for, swapped in if it replaces one.

        Raises:
            ResultsNotSavedError: the finished folder could not replace the old one; the
                message says where it is.
        """
        if self.mode != "replace":
            return self.target
        old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
        moved = False
        try:
            # Still ours alone? (A resumed run's target may be gone meanwhile: then it is new.)
            if check_destination(self.target, overwrite=True, kind=self.kind) == "replace":
                os.rename(self.target, old)
                moved = True
            os.rename(self.work, self.target)
        except (OSError, RunFolderError) as err:
            if moved:  # put the old run back where it was
                try:
                    os.rename(old, self.target)
                except OSError:
                    pass
            raise ResultsNotSavedError(
                errno.EIO,
                f"the finished run is in {self.work}: it could not replace {self.target} "
                f"({_reason(err)})",
            ) from err
        if moved:
            _remove_own(old, self.kind)
        return self.target

    def abandon(self) -> None:
        """Remove what a run that failed or was interrupted wrote, and nothing else.

        Only its own files go, and the folder too if this run made it. A resumed run's folder
        holds the work of earlier sessions: it is never removed.
        """
        if self.resumed:
            return
        if self.mode == "empty":
            if not self.manifest_written:
                return  # the folder was never ours (another run may have taken it)
            kind = self.kind or RUN_FOLDER
            for name in kind.files:
                _unlink_quietly(self.work / name)
            for p in self.work.glob(f"{TMP_PREFIX}*-{os.getpid()}"):
                _unlink_quietly(p)
            for name, _ in kind.scratch:
                _remove_scratch(self.work / name, kind)
        else:
            _remove_own(self.work, self.kind)
        for parent in self.made_parents:  # innermost first; a folder someone used stays
            try:
                parent.rmdir()
            except OSError:
                break


def write_file(
    folder: Path, name: str, write: Callable[[Path], object], exclusive: bool = False
) -> None:
    """Write ``folder/name`` by ``write(path)`` to a temporary name, then rename it.

    A crash never leaves a half-written file under ``name``. With ``exclusive`` an existing
    ``name`` is never replaced: :class:`FileExistsError`.
    """
    replace_with(folder / name, write, exclusive=exclusive)


def _make_parents(out: Path) -> tuple[Path, ...]:
    """Make the missing folders above ``out``; those made, innermost first."""
    missing = []
    for parent in out.absolute().parents:
        if parent.exists():
            break
        missing.append(parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    return tuple(missing)


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def _remove_own(folder: Path, kind: FolderKind | None = None) -> None:
    """Delete the files this program writes in ``folder``, then ``folder`` if it is empty.

    Anything else stays, and so does the folder that holds it.
    """
    kind = kind or RUN_FOLDER
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    scratch = dict(kind.scratch)
    for p in entries:
        if p.name in scratch and p.is_dir() and not p.is_symlink():
            _remove_scratch(p, kind)
        elif kind.owns(p.name) and not p.is_dir():
            _unlink_quietly(p)
    try:
        folder.rmdir()
    except OSError:
        pass


def _remove_scratch(folder: Path, kind: FolderKind) -> None:
    """Delete this program's files in the scratch sub-folder ``folder``, then it if empty."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for p in entries:
        if _owned_in(kind, p):
            _unlink_quietly(p)
    try:
        folder.rmdir()
    except OSError:
        pass


def _rescue(
    df: pd.DataFrame, manifest_text: str, plans: dict[int, Plans] | None = None
) -> Path | None:
    """Save finished results in a fresh temporary folder; its path, or None if that fails too."""
    try:
        where = Path(tempfile.mkdtemp(prefix="stackelberg-rl-results-"))
        if plans is not None:
            write_plans(where / PLANS_FILE, plans)
        df.to_parquet(where / RESULTS_FILE, index=False)
        (where / MANIFEST_FILE).write_text(manifest_text)
        return where
    except Exception:
        return None


# ---------------------------------------------------------------------- reading a run back
def load_run(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """The results table and the manifest of a complete run folder, both checked.

    Raises:
        RunFolderError: naming the problem: not a run folder, a corrupt, truncated or foreign
            manifest or results file, or a run that did not finish.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunFolderError(f"{run_dir} is not a run folder: no such folder")
    manifest = read_manifest(run_dir)
    if manifest.get("status") != "complete":
        raise RunFolderError(
            f"the run in {run_dir} did not finish (status {manifest.get('status')!r}); "
            f"continue it with stackelberg-rl run --resume {run_dir}"
        )
    path = run_dir / RESULTS_FILE
    if not path.is_file():
        raise RunFolderError(f"{run_dir} is not a complete run folder: no {RESULTS_FILE}")
    try:
        df = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several types for a damaged file
        raise RunFolderError(f"{path} is corrupt or truncated: {_reason(err)}") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise RunFolderError(
            f"{path} is not a results table of stackelberg-rl: no column {', '.join(missing)}"
        )
    for c in REQUIRED_COLUMNS:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise RunFolderError(f"{path}: column {c} is not numeric ({df[c].dtype})")
    _check_results(run_dir, manifest, df)
    return df, manifest


def _check_results(run_dir: Path, manifest: dict, df: pd.DataFrame) -> None:
    """Refuse a run whose manifest and results disagree (an edited or mixed-up file).

    The manifest's configuration says the seeds and the episodes of each; its ``seeds``,
    ``episodes`` and ``columns`` must say the same, and the table must hold exactly one row per
    (seed, episode) with those columns.
    """
    path = run_dir / MANIFEST_FILE
    try:
        config = RunConfig.from_dict(manifest.get("config") or {})
    except (TypeError, ValueError) as err:
        raise RunFolderError(f"{path}: its configuration is unreadable: {err}") from None
    for key, value in (("seeds", config.run_seeds), ("episodes", config.episodes)):
        if key in manifest and manifest[key] != value:
            shown = _seeds_text(manifest[key]) if key == "seeds" else repr(manifest[key])
            theirs = _seeds_text(value) if key == "seeds" else repr(value)
            raise RunFolderError(
                f"{path} says {key} {shown} but its configuration says {theirs}: the manifest "
                "was edited or damaged"
            )
    results = run_dir / RESULTS_FILE
    columns = manifest.get("columns")
    if isinstance(columns, list) and list(df.columns) != columns:
        extra = [c for c in df.columns if c not in columns] or [c for c in columns if c not in df]
        raise RunFolderError(
            f"{results} has columns that {path} does not list (first: {extra[:1] or 'order'})"
        )
    counts = df["seed"].value_counts()
    seeds = set(config.run_seeds) if config.seeds <= len(counts) else None
    if seeds is None or set(counts.index) != seeds:
        raise RunFolderError(
            f"{results} has rows of {len(counts)} seeds, {path} says {config.seeds} "
            f"({_seeds_text(config.run_seeds)}): they disagree"
        )
    wrong = counts[counts != config.episodes]
    if len(wrong):
        raise RunFolderError(
            f"{results} has {int(wrong.iloc[0])} rows for seed {wrong.index[0]}, {path} says "
            f"{config.episodes} episodes: they disagree"
        )


def _seeds_text(seeds) -> str:
    if not isinstance(seeds, list) or len(seeds) <= 6:
        return repr(seeds)
    return f"[{seeds[0]}, …, {seeds[-1]}] ({len(seeds)})"
