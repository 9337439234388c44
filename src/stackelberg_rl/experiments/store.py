"""Folders of this program on disk (:class:`FolderKind`: a run, a sweep, an exploration).

One life cycle for all (:class:`Reservation`): reserved, locked while played, finished whole,
replaced only if it holds this program's files alone, kept when interrupted, taken back. A run
folder holds ``manifest.json``, ``results.parquet`` (:data:`~.loop.COLUMNS`), ``plans.npz``
(``save_plans``), ``regret.png``, the report, and until done ``checkpoints/seed-N.npz``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import functools
import itertools
import json
import os
import platform
import socket
import subprocess
import tempfile
import time
import uuid
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from .._files import TMP_PREFIX, _article, replace_with, write_atomic
from .._validate import is_integer
from ..games.base import player_names
from .checkpoint import CHECKPOINTS_DIR, CheckpointWriteError, checkpoint_name
from .config import RunConfig, dumps
from .plan_history import PLANS_FILE, Plans, write_plans

if TYPE_CHECKING:  # imported where tables are read: not by worker processes
    import pandas as pd

RESULTS_FILE = "results.parquet"
MANIFEST_FILE = "manifest.json"
PLOT_FILE = "regret.png"
REPORT_FILE = "report.html"
REPORT_PREFIX = "report-"  # the report's figures, report-*.png
SWEEP_FILE = "sweep.json"  # a sweep folder's own file, one run folder per setting beside it
PROGRAM = "stackelberg-rl/"  # how the format of every manifest of this program begins
FORMAT = PROGRAM + "run"  # a run folder's manifest's format
FORMAT_VERSION = 1


class RunFolderError(ValueError):
    """A folder that cannot be used for a run, or that does not hold a readable run."""


class ResultsNotSavedError(OSError):
    """The run finished but its results could not be put where asked; the message says where."""

    def __str__(self) -> str:  # the message alone, without OSError's "[Errno 5]"
        return str(self.strerror)


@dataclass(frozen=True)
class FolderKind:
    """A folder of this program: its manifest's format, the files it writes (:meth:`entries`)."""

    format: str
    files: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    what: str = "run"
    scratch: tuple[tuple[str, tuple[str, ...]], ...] = ()
    manifest: str = MANIFEST_FILE
    error: type[RunFolderError] = RunFolderError

    @property
    def a(self) -> str:
        """``what`` with its article: "a run", "an exploration"."""
        return _article(self.what)

    def entries(self, folder: Path):
        """Each entry of ``folder`` (a scratch sub-folder after its files), and whether ours."""
        for p in folder.iterdir():
            prefixes = dict(self.scratch).get(p.name)
            if prefixes is not None and p.is_dir() and not p.is_symlink():
                for q in p.iterdir():
                    yield q, q.name.startswith((TMP_PREFIX, *prefixes)) and _is_file(q)
                yield p, True
            else:
                owned = p.name in self.files or p.name.startswith((TMP_PREFIX, *self.prefixes))
                yield p, owned and prefixes is None and _is_file(p)


def _is_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


RUN_FOLDER = FolderKind(
    FORMAT,
    (MANIFEST_FILE, RESULTS_FILE, PLANS_FILE, PLOT_FILE, REPORT_FILE),
    (REPORT_PREFIX,),
    scratch=((CHECKPOINTS_DIR, ("seed-",)),),
)


# ---------------------------------------------------------------------- versions, times
def _git(*args: str) -> str | None:
    try:
        return subprocess.run(
            ["git", *args], cwd=Path(__file__).resolve().parent, capture_output=True,
            text=True, timeout=10, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None


def now() -> str:
    """The time in UTC, ISO 8601 to the second."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


host = socket.gethostname  # with the pid, it tells whether a "running" run is still alive


@functools.cache  # a process's packages stay as they were loaded (reading them takes ~20 ms)
def _versions() -> dict[str, str]:
    from .. import __version__

    names = ("numpy", "numba", "pandas", "scipy", "pyarrow", "matplotlib")  # shape the results
    versions = {"stackelberg_rl": __version__, "python": platform.python_version()}
    return versions | {name: metadata.version(name) for name in names}


def provenance() -> dict:
    """Where and by what a folder is written: versions, git commit and state, host, pid."""
    commit = _git("rev-parse", "HEAD") or None
    status = None if commit is None else _git("status", "--porcelain", "--untracked-files=no")
    dirty = None if status is None else bool(status)
    return {"versions": dict(_versions()), "git_commit": commit, "git_dirty": dirty,
            "host": host(), "pid": os.getpid()}  # fmt: skip


def read_record(path: Path, what: str) -> dict:
    """The JSON object the package wrote at ``path``: else ``RunFolderError`` naming the file."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{path} is corrupt or truncated: {err}") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} is not {what}")
    return data


# ---------------------------------------------------------------------- ownership
def read_manifest(folder: Path, kind: FolderKind = RUN_FOLDER) -> dict:
    """The manifest of ``folder``, checked to be ``kind``'s (``kind.error`` naming why not)."""
    path = folder / kind.manifest
    if not path.is_file():
        if folder.exists() and not folder.is_dir():
            raise _not_a_folder(folder, kind)
        refuse_sweep(folder, kind)
        raise kind.error(f"{folder} is not {kind.a} folder: no {path.name}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise kind.error(f"{path} is corrupt or truncated: {err}") from None
    if not isinstance(data, dict) or data.get("format") != kind.format:
        other = data.get("format") if isinstance(data, dict) else None
        if isinstance(other, str) and other.startswith(PROGRAM) and other != PROGRAM:
            word = other.rsplit("/", 1)[-1]  # another of ours: run, exploration, sweep
            raise kind.error(f"{folder} is {_article(word)} folder, not {kind.a} folder")
        what = "a manifest" if kind.manifest == MANIFEST_FILE else kind.a
        raise kind.error(f"{path} is not {what} of stackelberg-rl (no format {kind.format!r})")
    version = data.get("format_version", None if kind.manifest == MANIFEST_FILE else 1)
    if not is_integer(version) or version > FORMAT_VERSION:  # sweep.json may have none
        raise kind.error(
            f"{path} has format version {version!r}; this version of stackelberg-rl reads "
            f"versions up to {FORMAT_VERSION}"
        )
    return data


SWEEP_PLANS_HINT = (
    "add save-plans: true to the sweep file and run the sweep again with another --out (its "
    "complete runs are never replaced)"
)
"""How a sweep's run folders come to hold plans.npz: ``run --save-plans`` refuses them."""


def refuse_sweep(
    folder: Path, kind: FolderKind = RUN_FOLDER, hint: str = "", needs: str | None = None
) -> None:
    """Refuse a sweep folder where one of ``kind`` is expected, naming its first run folders.

    ``needs``: a file the run folders named must hold (``plans.npz``), else what makes it.
    """
    if kind.manifest == SWEEP_FILE or not (folder / SWEEP_FILE).is_file():
        return
    if kind.what != "run":
        raise kind.error(f"{folder} is a sweep folder, not {kind.a} folder")
    runs = sorted(
        str(p)
        for p in folder.iterdir()
        if (p / MANIFEST_FILE).is_file() and (needs is None or (p / needs).is_file())
    )
    if not runs and needs is not None:
        raise kind.error(
            f"{folder} is a sweep folder and none of its run folders holds {needs}: "
            f"{SWEEP_PLANS_HINT}"
        )
    listed = shown(runs, 3) or "none yet"
    raise kind.error(f"{folder} is a sweep folder; give one of its run folders{hint} ({listed})")


def refuse_live(folder: Path, manifest: dict, kind: FolderKind = RUN_FOLDER) -> None:
    """Refuse a folder whose "running" manifest another live process on this machine wrote."""
    pid = manifest.get("pid")
    running_here = manifest.get("status") == "running" and manifest.get("host") == host()
    if not running_here or not is_integer(pid) or pid <= 0 or pid == os.getpid():
        return
    with contextlib.suppress(PermissionError):  # a process of another user: alive
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
    raise kind.error(f"{folder} holds {kind.a} that is still running (pid {pid})")


def lock(folder: Path, kind: FolderKind = RUN_FOLDER, wait: float = 0.0) -> int:
    """Lock ``folder`` for this process; the descriptor.

    ``kind.error`` if another process holds it after ``wait`` seconds (``plan`` waits for
    another ``plan`` of the same folder to end: each appends to the manifest).
    """
    fd = os.open(folder, os.O_RDONLY)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError:
            if time.monotonic() < deadline:
                time.sleep(0.05)
                continue
        os.close(fd)
        try:
            pid = read_manifest(folder, kind).get("pid")
        except RunFolderError:
            pid = None
        raise kind.error(
            f"{folder} holds {kind.a} that is still running"
            + (f" (pid {pid})" if is_integer(pid) else "")
        ) from None


def _foreign(folder: Path, kind: FolderKind) -> str:
    """The first entries of ``folder`` this program did not write (in scratch folders too)."""
    names = [p.relative_to(folder).as_posix() for p, ours in kind.entries(folder) if not ours]
    return shown(sorted(names))


def shown(names: list[str], n: int = 5) -> str:
    """The first ``n`` of ``names``, then ``…`` if there are more: a list in a message."""
    return ", ".join(names[:n]) + ", …" * (len(names) > n)


def _check_cwd_outside(out: Path) -> None:
    cwd, target = Path.cwd().resolve(), out.resolve()
    if cwd == target or target in cwd.parents:
        raise RunFolderError(
            f"{out} contains the current directory; give a run folder of its own, "
            "e.g. --out runs/NAME"
        )


def _identity(folder: Path, kind: FolderKind) -> str | None:
    """Which folder is at ``folder``: its manifest's ``folder_id`` (else ``started``)."""
    try:
        manifest = read_manifest(folder, kind)
    except RunFolderError:
        return None
    return manifest.get("folder_id") or manifest.get("started")


def pending_replacements(folder: Path, kind: FolderKind = RUN_FOLDER) -> list[tuple[Path, bool]]:
    """Unfinished folders (``.NAME.new-*`` beside it) that were to replace ``folder``.

    Each with whether the run it was to replace is still there (else, replaced since, it never
    will be).
    """
    out, folder = [], folder.resolve()  # beside the folder a link points to
    here = _identity(folder, kind)
    for work in sorted(folder.parent.glob(f".{folder.name}.new-*")):
        try:
            manifest = read_manifest(work, kind)
            refuse_live(work, manifest, kind)  # one still playing is not to be continued
        except RunFolderError:
            continue
        replaces = manifest.get("replaces")
        if manifest.get("status") != "complete" and isinstance(replaces, str):
            if Path(replaces).resolve() == folder:
                out.append((work, manifest.get("replaces_folder") in (None, here)))
    return out


def _read_format(path: Path) -> dict | None:
    """The JSON object at ``path`` if it is a manifest of this program (a ``format`` of ours)."""
    try:
        data = json.loads(path.read_text())
        return data if data["format"].startswith(PROGRAM) else None
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def of_sweep(folder: Path, sweep: dict | None = None) -> bool:
    """Whether ``folder`` is a sweep's run folder: one it lists, or one it wrote.

    ``sweep``: its parent's ``sweep.json``, if read already.
    """
    sweep = sweep or _read_format(folder.parent / SWEEP_FILE)
    if sweep is None:
        return False
    settings = sweep.get("settings")
    if isinstance(settings, list) and folder.name in [
        s.get("name") for s in settings if isinstance(s, dict)
    ]:
        return True
    manifest = _read_format(folder / MANIFEST_FILE)
    return manifest is not None and isinstance(manifest.get("sweep"), dict)


def check_ancestors(
    out: Path, error: type[RunFolderError] = RunFolderError, in_sweep: bool = False
) -> None:
    """Refuse ``out`` below a file, or inside a folder of this program (run, exploration, sweep).

    A folder written inside a run's would make it hold files that are not a run's: it could no
    longer be resumed or replaced. A sweep's folder holds its own run folders alone (``in_sweep``:
    its driver is writing one).
    """
    resolved = out.resolve()  # `..` and links resolved
    existing = [p for p in resolved.parents if p.exists()]
    if existing and not existing[0].is_dir():
        raise error(f"cannot create {out}: {existing[0]} is a file, not a folder")
    for parent in existing:
        sweep = _read_format(parent / SWEEP_FILE)
        if sweep and parent == resolved.parent and (in_sweep or of_sweep(resolved, sweep)):
            continue
        if sweep is not None or _read_format(parent / MANIFEST_FILE) is not None:
            what = "a sweep folder" if sweep is not None else "a folder"
            raise error(
                f"{out} is inside {parent}, {what} of stackelberg-rl: give a folder outside it"
            )


def refuse_sweep_setting(out: Path) -> None:
    """Refuse a new run at ``out`` where a sweep's run folder is: only the sweep replaces it."""
    if of_sweep(out.resolve()):
        raise RunFolderError(
            f"{out} is a run folder of the sweep in {out.parent}: only the sweep writes it; give "
            "a folder outside it"
        )


def check_destination(
    out: Path, overwrite: bool, kind: FolderKind = RUN_FOLDER, in_sweep: bool = False
) -> str:
    """What writing a folder of ``kind`` to ``out`` would do: ``"new"``, ``"empty"``, ``"replace"``.

    ``RunFolderError`` if ``out`` cannot be written, or holds anything but a folder of ``kind``
    that may be replaced (``overwrite``, and not while it is still running).
    """
    _check_cwd_outside(out)
    check_ancestors(out, in_sweep=in_sweep)
    if not out.exists():
        if out.is_symlink():
            raise RunFolderError(f"{out} is a broken symbolic link")
        return "new"
    if not out.is_dir():
        raise RunFolderError(f"{out} exists and is not a folder")
    try:
        if not any(out.iterdir()):
            return "empty"
    except OSError as err:
        raise RunFolderError(f"cannot read {out}: {err.strerror or err}") from None
    try:
        manifest, unread = read_manifest(out, kind), None
    except RunFolderError as err:
        manifest, unread = None, str(err)
    foreign = _foreign(out, kind)
    if manifest is None or foreign:
        what = f"files that are not {kind.a} ({foreign})" if foreign else None
        reason = f"{out} is not empty and holds {what or f'no {kind.what} manifest'}:"
        if not foreign and (out / kind.manifest).is_file():  # why it is not known to be ours
            reason = f"{unread}; {out} is not known to be {kind.a} folder of stackelberg-rl, so"
        raise RunFolderError(
            f"{reason} it is never replaced, --overwrite or not; choose another --out"
        )
    refuse_live(out, manifest, kind)
    if not overwrite:
        status = manifest.get("status")
        what = kind.a if status == "complete" else f"an unfinished {kind.what} (status {status!r})"
        how = "pass --overwrite (overwrite=True) to replace it"
        if status != "complete" and kind.scratch:
            how = f"continue it with --resume {out} (resume=True), or {how}"
        raise RunFolderError(f"{out} already holds {what}; {how}")
    return "replace"


# ---------------------------------------------------------------------- where a run goes
@dataclass(frozen=True)
class NewFolder:
    """A new folder ``parent/stem-YYYYmmdd-HHMMSS`` (``-2``, ``-3``, … if taken), made whole."""

    parent: str = "runs"
    stem: str = "run"


@dataclass
class Reservation:
    """A folder of ``kind`` reserved for one run or exploration: where it is written, how it ends.

    ``work`` is ``target``, or a hidden sibling while it replaces ``target``; ``mode`` is
    ``"new"``, ``"empty"``, ``"replace"`` or ``"resume"``; ``made_parents``: folders made above
    it (removed with it if abandoned); ``held``: :func:`lock`'s descriptor.
    """

    target: Path
    work: Path
    mode: str
    manifest_written: bool = False
    made_parents: tuple[Path, ...] = ()
    kind: FolderKind = RUN_FOLDER
    resumed: bool = False  # it continues an interrupted one: its folder is never removed
    held: int | None = None
    replaces_folder: str | None = None  # the identity of the folder it is to replace

    @classmethod
    def make(
        cls, out: str | os.PathLike | NewFolder, overwrite=False, kind=RUN_FOLDER, in_sweep=False
    ) -> Reservation:
        """Reserve ``out`` (or a new folder), nothing written yet (:func:`check_destination`)."""
        if isinstance(out, NewFolder):
            base = Path(out.parent) / f"{out.stem}-{_dt.datetime.now():%Y%m%d-%H%M%S}"
            names = [base, *(base.with_name(f"{base.name}-{n}") for n in range(2, 10_000))]
            check_ancestors(base)  # a path given is checked by check_destination
        else:
            names = [Path(out)]
        for path in names:
            mode = check_destination(path, overwrite, kind, in_sweep) if len(names) == 1 else "new"
            try:
                if mode == "replace":  # a link's own folder is replaced; the link stays
                    path = path.resolve() if path.is_symlink() else path
                    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.new-", dir=path.parent))
                    work.chmod(0o755)  # mkdtemp's 0o700 would become the run folder's mode
                    return cls(path, work, mode, kind=kind)
                if mode == "empty":
                    return cls(path, path, mode, kind=kind)
                made = tuple(itertools.takewhile(lambda p: not p.exists(), path.absolute().parents))
                path.parent.mkdir(parents=True, exist_ok=True)
                path.mkdir()  # exclusive: of two runs that want this name, one gets it
                return cls(path, path, "new", made_parents=made, kind=kind)
            except FileExistsError:
                if len(names) == 1:  # someone made it meanwhile: judge it again
                    return cls.make(out, overwrite, kind, in_sweep)
            except OSError as err:
                raise RunFolderError(f"cannot create {path}: {err.strerror or err}") from None
        raise RunFolderError(f"no free run folder name {base}-N in {base.parent}")

    @classmethod
    def begin(
        cls, out: str | os.PathLike | NewFolder, manifest: dict, overwrite=False, kind=RUN_FOLDER
    ) -> Reservation:
        """:meth:`make`, then :meth:`start` with ``manifest`` (JSON checked first)."""
        dumps(manifest)  # a value JSON cannot hold fails here, before anything is written
        reservation = cls.make(out, overwrite, kind, in_sweep="sweep" in manifest)
        manifest["folder_id"] = uuid.uuid4().hex  # which folder this is, wherever it moves
        if reservation.mode == "replace":  # resumed there, it still replaces its target, and
            manifest["replaces"] = str(reservation.target)  # only the one it was to replace
            manifest["replaces_folder"] = reservation.replaces_folder = _identity(
                reservation.target, kind
            )
        reservation.start(dumps(manifest))
        return reservation

    @classmethod
    def resume(
        cls, folder: str | os.PathLike, hold: bool = True, kind: FolderKind = RUN_FOLDER
    ) -> tuple[Reservation, dict]:
        """An unfinished folder of ``kind`` taken back (locked with ``hold``), and its manifest.

        One that was replacing another still replaces it; ``kind.error`` if not ours or running.
        """
        folder = Path(folder)
        if not folder.is_dir():
            raise _not_a_folder(folder, kind)
        _check_cwd_outside(folder)
        reservation = cls(folder, folder, "resume", True, kind=kind, resumed=True)
        if hold:
            reservation.hold()
        try:
            manifest = read_manifest(folder, kind)
            foreign = _foreign(folder, kind)
            if foreign:
                raise kind.error(
                    f"{folder} holds files that are not {kind.a}'s ({foreign}): "
                    f"{kind.a} is resumed only in a folder of its own"
                )
            refuse_live(folder, manifest, kind)
        except BaseException:
            reservation.release()
            raise
        replaces = manifest.get("replaces")
        if isinstance(replaces, str) and replaces:
            reservation.target, reservation.mode = Path(replaces), "replace"
            reservation.replaces_folder = manifest.get("replaces_folder")
        return reservation, manifest

    def hold(self) -> None:
        """Lock ``work`` for this process (:func:`lock`) until :meth:`release`."""
        if self.held is None:
            self.held = lock(self.work, self.kind)

    def release(self) -> None:  # noqa: D102
        if self.held is not None:
            os.close(self.held)
            self.held = None

    def write_manifest(self, manifest_text: str, exclusive: bool = False) -> None:
        """Replace the manifest (atomically)."""
        write_file(self.work, MANIFEST_FILE, lambda path: path.write_text(manifest_text), exclusive)

    def write_checkpoint(self, seed: int, data: bytes) -> Path:
        """Write seed ``seed``'s checkpoint (``CheckpointWriteError``: the last one stays)."""
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

    def restart(self, manifest: dict, **fields) -> None:
        """Write the manifest of an unfinished folder taken back: ``"running"`` here, ``fields``."""
        manifest.update(status="running", **fields, **provenance())
        manifest["resumed"] = [*manifest.get("resumed", []), now()]
        for key in ("interrupted", "reason", "checkpoints"):
            manifest.pop(key, None)
        self.write_manifest(dumps(manifest))

    def stop(self, manifest: dict, reason: str, **fields) -> None:
        """Mark the unfinished folder ``"interrupted"``, if it can still be written."""
        manifest.update(status="interrupted", interrupted=now(), reason=reason, **fields)
        with contextlib.suppress(OSError, RunFolderError):
            self.write_manifest(dumps(manifest))  # else it says "running": resumes as well

    def start(self, manifest_text: str) -> None:
        """Write the first manifest (``RunFolderError`` if it cannot be); on failure abandon."""
        try:
            self.write_manifest(manifest_text, exclusive=True)
        except BaseException as err:
            self.abandon()
            if isinstance(err, FileExistsError):
                raise RunFolderError(f"{self.target} was taken by another run meanwhile") from None
            if isinstance(err, OSError):
                raise RunFolderError(f"cannot write to {self.target}: {_reason(err)}") from None
            raise
        self.manifest_written = True

    def finish(
        self, results: pd.DataFrame | dict[str, Callable[[Path], object]], manifest_text: str,
        plans: dict[int, Plans] | None = None, keep: Callable[[Path], str | None] = lambda _: None,
    ) -> Path:  # fmt: skip
        """Write the results and the complete manifest; put the folder in place (swapped in).

        ``results``: a run's table (and ``plans``), or files by name, each written by
        ``write(path)``. ``ResultsNotSavedError`` (saying where they are) if they cannot be, or
        if ``keep(target)``, asked just before a replacement, says why the target is to be kept.
        """
        files = results
        if not isinstance(results, dict):  # a run's table
            files = {} if plans is None else {PLANS_FILE: lambda path: write_plans(path, plans)}
            files[RESULTS_FILE] = lambda path: results.to_parquet(  # each page with its CRC
                path, index=False, write_page_checksum=True
            )
        files = {**files, MANIFEST_FILE: lambda path: path.write_text(manifest_text)}  # the last
        try:
            for name, write in files.items():
                write_file(self.work, name, write)
            _remove_own(self.work, self.kind, keep=True, scratch=True)  # the working files
        except Exception as err:
            where = _rescue(files)
            if where is not None:
                self.abandon()  # the results are safe elsewhere: leave nothing unfinished here
            raise ResultsNotSavedError(
                errno.EIO,
                f"could not write the results to {self.target} ({_reason(err)}); "
                + (f"they are saved in {where}" if where else "and could not save them elsewhere"),
            ) from err
        if self.mode != "replace":
            return self.target
        old = self.target.with_name(f".{self.target.name}.old-{os.getpid()}")
        moved = False
        try:
            # Still ours alone? (A resumed run's target may be gone meanwhile: then it is new.)
            if check_destination(self.target, overwrite=True, kind=self.kind) == "replace":
                if self.replaces_folder not in (None, _identity(self.target, self.kind)):
                    raise RunFolderError(
                        f"it now holds another {self.kind.what} than the one this one was to "
                        "replace; both are kept"
                    )
                if reason := keep(self.target):
                    raise RunFolderError(f"{reason}; both are kept")
                os.rename(self.target, old)
                moved = True
            os.rename(self.work, self.target)
        except (OSError, RunFolderError) as err:
            if moved:  # put the old run back where it was
                with contextlib.suppress(OSError):
                    os.rename(old, self.target)
            raise ResultsNotSavedError(
                errno.EIO,
                f"the finished {self.kind.what} is in {self.work}: it could not replace "
                f"{self.target} ({_reason(err)})",
            ) from err
        if moved:
            _remove_own(old, self.kind)
        return self.target

    def abandon(self) -> None:
        """Remove what a failed run wrote (its folder if it made it, never a resumed one's)."""
        if self.resumed or (self.mode == "empty" and not self.manifest_written):
            return  # a resumed run's folder, or one never ours (another run may have taken it)
        _remove_own(self.work, self.kind, keep=self.mode == "empty")
        for parent in self.made_parents:  # innermost first; a folder someone used stays
            try:
                parent.rmdir()
            except OSError:
                break


def write_file(folder: Path, name: str, write: Callable[[Path], object], exclusive=False) -> None:
    """Write ``folder/name`` whole or not at all by ``write(path)`` (``exclusive``: a new one)."""
    replace_with(folder / name, write, exclusive=exclusive)


def _reason(err: BaseException) -> str:
    return getattr(err, "strerror", None) or str(err) or type(err).__name__


def _remove_own(folder: Path, kind: FolderKind = RUN_FOLDER, keep=False, scratch=False) -> None:
    """Delete our files in ``folder`` (``scratch``: in sub-folders), then it if empty (not keep)."""
    with contextlib.suppress(OSError):
        for p, ours in list(kind.entries(folder)):
            if ours and not (scratch and p.parent == folder and p.is_file()):
                with contextlib.suppress(OSError):
                    (p.rmdir if p.is_dir() else p.unlink)()
        if not keep:
            folder.rmdir()


def _rescue(files: dict[str, Callable[[Path], object]]) -> Path | None:
    """Save finished results in a fresh temporary folder; its path, or None if that fails too."""
    with contextlib.suppress(Exception):
        where = Path(tempfile.mkdtemp(prefix="stackelberg-rl-results-"))
        for name, write in files.items():
            write(where / name)
        return where
    return None


# ---------------------------------------------------------------------- reading a run back
def read_complete(folder: Path, kind: FolderKind = RUN_FOLDER, hint: str = "") -> dict:
    """The manifest of a complete folder of ``kind`` (``kind.error`` if not, ``hint`` told)."""
    if not folder.is_dir():
        raise _not_a_folder(folder, kind)
    manifest = read_manifest(folder, kind)
    status = known_status(folder, manifest, kind)
    if status != "complete":
        os.close(lock(folder, kind))  # one that still plays is said to be running, not resumable
        hint = hint if status in ("running", "interrupted") else ""
        raise kind.error(f"the {kind.what} in {folder} did not finish (status {status!r}){hint}")
    return manifest


def known_status(folder: Path, manifest: dict, kind: FolderKind = RUN_FOLDER) -> str:
    """The manifest's status, ``kind.error`` if it is none that a folder of ``kind`` writes."""
    status = manifest.get("status")
    if status not in ("complete", "running", "interrupted", "failed"):
        raise kind.error(
            f"{folder / kind.manifest} is damaged: status {status!r} is not one {kind.a} writes"
        )
    return status


def recorded_config(folder: Path, manifest: dict) -> RunConfig:
    """The configuration a run folder's manifest records (``RunFolderError`` if none or bad)."""
    where = folder / MANIFEST_FILE
    if not isinstance(manifest.get("config"), dict) or not manifest["config"]:
        raise RunFolderError(f"{where} is damaged: it has no configuration")
    try:
        return RunConfig.from_dict(manifest["config"])
    except (TypeError, ValueError) as err:
        raise RunFolderError(f"{where}: its configuration is unreadable: {err}") from None


def _not_a_folder(folder: Path, kind: FolderKind) -> RunFolderError:
    why = "it is a file" if folder.exists() else "no such folder"
    return kind.error(f"{folder} is not {kind.a} folder: {why}")


def load_run(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """The results table and the manifest of a complete run folder, checked to agree.

    Raises:
        RunFolderError: naming the problem: not a run folder, a corrupt, truncated, edited or
            foreign manifest or results file, or a run that did not finish.
    """
    import pandas as pd

    run_dir = Path(run_dir)
    hint = f"; continue it with stackelberg-rl run --resume {run_dir}"
    manifest = read_complete(run_dir, hint=hint)
    path, where = run_dir / RESULTS_FILE, run_dir / MANIFEST_FILE
    if not path.is_file():
        raise RunFolderError(f"{run_dir} is not a complete run folder: no {RESULTS_FILE}")
    df = _read_results(path, lambda p: pd.read_parquet(p, page_checksum_verification=True))
    # Every player's regret: 1+N players, the length of the game's action_counts (N > 1 only).
    counts = (manifest.get("game") or {}).get("action_counts")
    n_players = len(counts) if isinstance(counts, list) and len(counts) > 2 else 2
    required = ["seed", "episode", *[f"regret_{n}" for n in player_names(n_players)], "eval_weight"]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise RunFolderError(
            f"{path} is not a results table of stackelberg-rl: no column {', '.join(missing)}"
        )
    for c in required:
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise RunFolderError(f"{path}: column {c} is not numeric ({df[c].dtype})")
    config = recorded_config(run_dir, manifest)
    for key, value in (("seeds", config.run_seeds), ("episodes", config.episodes)):
        if key in manifest and manifest[key] != value:
            raise RunFolderError(
                f"{where} says {key} {_seeds_text(manifest[key])} but its configuration says "
                f"{_seeds_text(value)}: the manifest was edited or damaged"
            )
    columns = manifest.get("columns")
    if isinstance(columns, list) and list(df.columns) != columns:
        extra = [c for c in df.columns if c not in columns] or [c for c in columns if c not in df]
        raise RunFolderError(
            f"{path} has columns that {where} does not list (first: {extra[:1] or 'order'})"
        )
    counts = df["seed"].value_counts()
    if config.seeds > len(counts) or set(counts.index) != set(config.run_seeds):
        raise RunFolderError(
            f"{path} has rows of {len(counts)} seeds, {where} says {config.seeds} "
            f"({_seeds_text(config.run_seeds)}): they disagree"
        )
    wrong = counts[counts != config.episodes]
    if len(wrong):
        raise RunFolderError(
            f"{path} has {int(wrong.iloc[0])} rows for seed {wrong.index[0]}, {where} says "
            f"{config.episodes} episodes: they disagree"
        )
    return df, manifest


def check_results_whole(run_dir: str | os.PathLike, manifest: dict) -> None:
    """Raise :class:`RunFolderError` unless a complete run folder's results file looks whole.

    Its footer alone is read: its ``manifest``'s columns and one row per seed and episode.
    """
    import pyarrow.parquet as pq

    path = Path(run_dir) / RESULTS_FILE
    meta = _read_results(path, pq.read_metadata)
    seeds, episodes, columns = (manifest.get(k) for k in ("seeds", "episodes", "columns"))
    rows = len(seeds) * episodes if isinstance(seeds, list) and is_integer(episodes) else None
    if meta.num_rows != rows or (isinstance(columns, list) and meta.schema.names != columns):
        raise RunFolderError(
            f"{path} does not hold the {rows} rows of the columns {path.parent / MANIFEST_FILE} "
            f"lists ({meta.num_rows} rows)"
        )


def check_plans_whole(run_dir: str | os.PathLike, manifest: dict) -> None:
    """Raise :class:`RunFolderError` unless the plans file of a run saved with them reads whole.

    Every member's CRC is checked, streamed: a truncated or damaged file fails, nothing is kept.
    """
    if not (manifest.get("config") or {}).get("save_plans"):
        return
    path = Path(run_dir) / PLANS_FILE
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise RunFolderError(f"{path} is corrupt or truncated: {_reason(err)}") from None
    if bad is not None:
        raise RunFolderError(f"{path} is corrupt or truncated: array {bad} fails its CRC")


def _read_results(path: Path, read: Callable):
    try:
        return read(path)
    except Exception as err:  # pyarrow raises several types for a missing or damaged file
        raise RunFolderError(f"{path} is corrupt or truncated: {_reason(err)}") from None


def _seeds_text(seeds) -> str:
    if not isinstance(seeds, list) or len(seeds) <= 6:
        return repr(seeds)
    return f"[{seeds[0]}, …, {seeds[-1]}] ({len(seeds)})"
