"""A sweep folder: several settings, each a run folder, and the sweep's own ``sweep.json``.

A sweep folder holds::

    sweep.json      "format": "stackelberg-rl/sweep", its version, "status" ("running", then
                    "complete"), "settings": one entry per setting, in order, {"name", "folder"
                    (relative to the sweep folder), "config" (RunConfig.to_dict()), "status"
                    ("pending", "complete" or "failed", with "error")}, versions, git commit,
                    host, start and end
    NAME/           each setting's run folder (:mod:`.store`), readable by :func:`load_run`
    report.html     the report (:mod:`stackelberg_rl.report`), and its figures report-*.png

:func:`run_settings` runs every setting with :func:`~stackelberg_rl.experiments.run_seeds` (one
setting's seeds in one process) in a pool of worker processes, the longest settings first, so
that every core is busy while settings remain; the results do not depend on the number of
workers. It is the loop the demo's grid needs, and nothing more: a sweep file, resuming, other
backends are for a sweep runner to add around the same folder. The folder has the safety of a run
folder: a new folder, an empty one, or with ``overwrite`` one that holds a sweep of this program
and nothing else, replaced only once the new sweep is complete; a sweep that fails or is
interrupted removes what it wrote and nothing else.
"""

from __future__ import annotations

import json
import os
import re
import signal
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .config import RunConfig, dumps
from .executors import die_with_parent
from .store import (
    REPORT_FILE,
    REPORT_PREFIX,
    NewFolder,
    RunFolderError,
    _check_ancestors,
    _check_cwd_outside,
    _make_parents,
    _remove_own,
    check_destination,
    git_state,
    host,
    load_run,
    now,
    versions,
    write_file,
)

SWEEP_FORMAT = "stackelberg-rl/sweep"
"""The ``format`` of a sweep folder's ``sweep.json``."""
SWEEP_FORMAT_VERSION = 1
SWEEP_FILE = "sweep.json"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=,+-]*")


@dataclass(frozen=True)
class Setting:
    """One setting of a sweep: a name (its run folder's) and the configuration it runs."""

    name: str
    config: RunConfig


@dataclass
class SettingResult:
    """A setting of a sweep folder as read back: its entry in ``sweep.json`` and its run.

    Attributes:
        name: the setting's name.
        folder: its run folder.
        config: the configuration ``sweep.json`` records (``RunConfig.to_dict()``).
        status: ``"complete"``, ``"pending"`` or ``"failed"``.
        df: the results table, if the run folder holds a complete run (else ``None``).
        manifest: the run's manifest, likewise.
        error: why ``df`` is ``None``.
    """

    name: str
    folder: Path
    config: dict
    status: str
    df: pd.DataFrame | None = None
    manifest: dict | None = None
    error: str | None = None


def is_sweep_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a ``sweep.json`` (readable or not)."""
    return (Path(path) / SWEEP_FILE).is_file()


def read_sweep_file(folder: Path) -> dict:
    """The ``sweep.json`` of ``folder``, checked to be this program's.

    Raises:
        RunFolderError: missing, corrupt, foreign, or without a list of settings.
    """
    path = folder / SWEEP_FILE
    if not path.is_file():
        raise RunFolderError(f"{folder} is not a sweep folder: no {SWEEP_FILE}")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{path} is corrupt or truncated: {err}") from None
    if not isinstance(data, dict) or data.get("format") != SWEEP_FORMAT:
        raise RunFolderError(
            f"{path} is not a sweep of stackelberg-rl (no format {SWEEP_FORMAT!r})"
        )
    settings = data.get("settings")
    if not isinstance(settings, list) or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("folder"), str)
        for s in settings
    ):
        raise RunFolderError(f"{path} has no list of settings with a name and a folder each")
    for s in settings:
        inside = (folder / s["folder"]).resolve()
        if folder.resolve() not in inside.parents:
            raise RunFolderError(f"{path}: setting {s['name']!r} has a folder outside the sweep")
    return data


def load_sweep(folder: str | os.PathLike) -> tuple[dict, list[SettingResult]]:
    """A sweep folder's ``sweep.json`` and each setting's run, as far as it can be read.

    A setting whose run folder is missing, unfinished or damaged is returned with ``df = None``
    and the reason in ``error``; the sweep file itself must be readable.

    Raises:
        RunFolderError: no sweep folder, or a damaged ``sweep.json``.
    """
    folder = Path(folder)
    data = read_sweep_file(folder)
    out = []
    for s in data["settings"]:
        result = SettingResult(
            s["name"], folder / s["folder"], s.get("config") or {}, str(s.get("status"))
        )
        try:
            result.df, result.manifest = load_run(result.folder)
        except RunFolderError as err:
            result.error = s.get("error") or str(err)
        out.append(result)
    return data, out


# ---------------------------------------------------------------------- running a grid
def _check_settings(settings: list[Setting]) -> None:
    if not settings:
        raise ValueError("a sweep needs at least one setting")
    names = [s.name for s in settings]
    for name in names:
        if not isinstance(name, str) or not _NAME.fullmatch(name) or name.startswith("report"):
            raise ValueError(
                f"setting name {name!r} must be letters, digits and ._=,+- (not starting with "
                "report): it names the setting's run folder"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"setting names must differ: {names}")
    for s in settings:
        s.config.validate()


def _cost(config: RunConfig) -> float:
    """A rough work estimate, to start the longest settings first (plans cost ``O(k)``)."""
    K = config.episodes
    plans_every_episode = config.agent.schedule == "every" and config.agent.kind.endswith("ucb")
    return config.seeds * (K + (K * K / 1000.0 if plans_every_episode else 0.0))


def _owned_entries(folder: Path, data: dict) -> set[str]:
    names = {SWEEP_FILE, REPORT_FILE}
    names |= {Path(s["folder"]).parts[0] for s in data["settings"]}
    return names


def _check_sweep_destination(out: Path, overwrite: bool) -> str:
    """``"new"``, ``"empty"`` or ``"replace"``; like :func:`~.store.check_destination`.

    Raises:
        RunFolderError: the folder cannot be used (it holds anything but a sweep of this
            program, or ``overwrite`` is not given).
    """
    _check_cwd_outside(out)
    _check_ancestors(out)
    if not out.exists():
        return "new"
    if not out.is_dir():
        raise RunFolderError(f"{out} exists and is not a folder")
    entries = list(out.iterdir())
    if not entries:
        return "empty"
    try:
        data = read_sweep_file(out)
    except RunFolderError:
        data = None
    foreign = []
    if data is not None:
        owned = _owned_entries(out, data)
        for p in entries:
            if p.name.startswith((REPORT_PREFIX, ".tmp-")) and p.is_file():
                continue
            if p.name not in owned:
                foreign.append(p.name)
            elif p.is_dir():
                try:
                    check_destination(p, overwrite=True)
                except RunFolderError:
                    foreign.append(p.name)
    if data is None or foreign:
        what = (
            f"files that are not a sweep's ({', '.join(sorted(foreign)[:5])})"
            if foreign
            else ("no sweep")
        )
        raise RunFolderError(
            f"{out} is not empty and holds {what}: it is never replaced, --overwrite or not; "
            "choose another --out"
        )
    if not overwrite:
        raise RunFolderError(f"{out} already holds a sweep; pass --overwrite to replace it")
    return "replace"


def _remove_sweep(folder: Path, names: list[str], keep_folder: bool = False) -> None:
    """Delete what a sweep wrote in ``folder``: its settings' run files and its own files.

    Then ``folder`` itself if it is empty, unless ``keep_folder``. Anything else stays.
    """
    for name in names:
        _remove_own(folder / name)
    for p in list(folder.glob(f"{REPORT_PREFIX}*")) + list(folder.glob(".tmp-*")):
        if p.is_file():
            p.unlink(missing_ok=True)
    for name in (SWEEP_FILE, REPORT_FILE):
        (folder / name).unlink(missing_ok=True)
    if not keep_folder:
        try:
            folder.rmdir()
        except OSError:
            pass


def _init_worker(parent_pid: int) -> None:
    """A worker dies with the sweep's process and leaves SIGINT to it (:mod:`.executors`)."""
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_setting(config: RunConfig, folder: str) -> float:
    """One setting, all its seeds in this worker: :func:`run_seeds` with one worker."""
    from . import run_seeds  # the package's name for it, whichever module holds it

    t0 = time.perf_counter()
    run_seeds(config, folder, workers=1, progress=False)
    return time.perf_counter() - t0


def run_settings(
    settings: list[Setting],
    out: str | os.PathLike | NewFolder,
    workers: int | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    on_start: Callable[[Path], None] | None = None,
) -> Path:
    """Run every setting into its run folder in the sweep folder ``out``; write ``sweep.json``.

    Args:
        settings: the settings, with distinct names (their folders' names).
        out: the sweep folder, or a :class:`~.store.NewFolder` for a new one.
        workers: processes (default: all cores, at most one per setting); ``1`` runs the
            settings one after the other in this process.
        overwrite: replace the sweep in ``out`` (only once the new one is complete).
        progress: a progress bar (rich), by episodes of the settings finished.
        on_start: called with the sweep folder once it is reserved.

    Returns:
        The sweep folder. A setting that failed is recorded as ``"failed"`` with its error, and
        the others still run.

    Raises:
        ValueError: bad settings.
        RunFolderError: (a ``ValueError``) a folder that cannot be used.
    """
    _check_settings(settings)
    if workers is None:
        workers = os.cpu_count() or 1
    workers = max(1, min(int(workers), len(settings)))
    made: tuple[Path, ...] = ()
    if isinstance(out, NewFolder):
        from .store import Reservation

        reservation = Reservation.make(out)
        target, mode, made = reservation.target, "new", reservation.made_parents
        work = target
    else:
        target = Path(out)
        mode = _check_sweep_destination(target, overwrite)
        try:
            if mode == "new":
                made = _make_parents(target)
                target.mkdir()
                work = target
            elif mode == "empty":
                work = target
            else:
                work = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
                work.chmod(0o755)
        except OSError as err:
            raise RunFolderError(f"cannot create {target}: {err.strerror or err}") from None
    if on_start is not None:
        on_start(target)
    data = {
        "format": SWEEP_FORMAT,
        "format_version": SWEEP_FORMAT_VERSION,
        "status": "running",
        "settings": [
            {"name": s.name, "folder": s.name, "config": s.config.to_dict(), "status": "pending"}
            for s in settings
        ],
        "versions": versions(),
        **git_state(),
        "host": host(),
        "pid": os.getpid(),
        "started": now(),
    }

    def save() -> None:
        text = dumps(data)
        write_file(work, SWEEP_FILE, lambda path: path.write_text(text))

    t0 = time.perf_counter()
    try:
        save()
        _play_settings(settings, work, workers, progress, data, save)
        data.update(status="complete", finished=now(), elapsed_seconds=time.perf_counter() - t0)
        save()
    except BaseException:
        _remove_sweep(work, [s.name for s in settings], keep_folder=mode == "empty")
        if mode != "empty":
            for parent in made:
                try:
                    parent.rmdir()
                except OSError:
                    break
        raise
    if mode == "replace":
        old_data = read_sweep_file(target)
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
        os.rename(work, target)
        _remove_sweep(old, [Path(s["folder"]).parts[0] for s in old_data["settings"]])
    return target


def _play_settings(
    settings: list[Setting],
    work: Path,
    workers: int,
    progress: bool,
    data: dict,
    save: Callable[[], None],
) -> None:
    """Run the settings (longest first), recording each one's status in ``data`` as it ends."""
    order = sorted(range(len(settings)), key=lambda i: -_cost(settings[i].config))
    total = sum(s.config.episodes * s.config.seeds for s in settings)
    bar = task = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        bar = Progress(
            "[bold]settings", BarColumn(), MofNCompleteColumn(), "episodes", TimeElapsedColumn()
        )
        bar.start()
        task = bar.add_task("sweep", total=total)

    def finished(i: int, error: BaseException | None) -> None:
        entry = data["settings"][i]
        entry["status"] = "complete" if error is None else "failed"
        if error is not None:
            entry["error"] = f"{type(error).__name__}: {error}"
        save()
        if bar is not None:
            c = settings[i].config
            bar.advance(task, c.episodes * c.seeds)

    try:
        if workers == 1:
            for i in order:
                try:
                    _run_setting(settings[i].config, str(work / settings[i].name))
                except Exception as err:  # recorded; the other settings still run
                    finished(i, err)
                else:
                    finished(i, None)
            return
        from loky import ProcessPoolExecutor

        pool = ProcessPoolExecutor(
            max_workers=workers, initializer=_init_worker, initargs=(os.getpid(),)
        )
        try:
            futures = {
                pool.submit(_run_setting, settings[i].config, str(work / settings[i].name)): i
                for i in order
            }
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for f in done:
                    finished(futures[f], f.exception())
        except BaseException:
            pool.shutdown(wait=True, kill_workers=True)
            raise
        pool.shutdown(wait=True)
    finally:
        if bar is not None:
            bar.stop()
