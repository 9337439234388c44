"""A sweep folder on disk: ``sweep.json``, ``sweep.log``, one run folder per setting.

::

    DIR/sweep.json        "format": "stackelberg-rl/sweep": the sweep file's text, every
                          setting's name, folder (relative to DIR), configuration
                          (RunConfig.to_dict()) and status, the seeds done and failed
    DIR/sweep.log         what happened, with the traceback of every failure
    DIR/<setting>/        a run folder (experiments.load_run reads it), as `run` writes it:
                          its checkpoints while it plays, its results once its seeds are done
    DIR/report.html       the report (stackelberg_rl.report), and its figures report-*.png

Only the driver writes here (no file system is shared with the workers). Everything is written
under a temporary name and renamed, so a killed sweep never leaves a half-written file. Nothing
that this program did not write is ever deleted or replaced: a setting's folder is continued if
it holds an unfinished run of its configuration, replaced if it holds an unfinished run of
another, and refused otherwise. A sweep that is still running (its ``sweep.json`` says so, with
the process id of a live process on this machine) is never driven by a second one. The reading
side
(:func:`read_sweep_file`, :func:`load_sweep`) is what the report uses.
"""

from __future__ import annotations

import fcntl
import json
import os
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..experiments import checkpoint as ckpt
from ..experiments.config import difference, dumps
from ..experiments.driver import read_checkpoints
from ..experiments.store import (
    RunFolderError,
    _alive,
    _check_ancestors,
    _remove_own,
    check_destination,
    load_run,
    now,
    read_format_file,
    read_manifest,
    write_file,
)
from .settings import Setting, config_key

SWEEP_FILE = "sweep.json"
LOG_FILE = "sweep.log"
SWEEP_FORMAT = "stackelberg-rl/sweep"
"""The ``format`` of ``sweep.json``: a folder whose ``sweep.json`` says otherwise is not ours."""
SWEEP_FORMAT_VERSION = 1

COMPLETE, FAILED, PENDING, RUNNING = "complete", "failed", "pending", "running"
"""A setting's status in ``sweep.json``: its run folder is written; a seed failed (run again next
time); not run yet or interrupted (run or resumed next time); being run."""


class SweepFolderError(RunFolderError):
    """A sweep folder, or a setting's folder in it, that cannot be used."""


# ---------------------------------------------------------------------- reading a sweep back
def is_sweep_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a ``sweep.json`` (readable or not)."""
    return (Path(path) / SWEEP_FILE).is_file()


def read_sweep_file(folder: str | os.PathLike) -> dict:
    """The ``sweep.json`` of ``folder``, checked to be a sweep of this program.

    Raises:
        SweepFolderError: missing, corrupt, foreign, or without a list of settings each with a
            name and a folder inside ``folder``.
    """
    folder = Path(folder)
    path = folder / SWEEP_FILE
    data = read_format_file(path, SWEEP_FORMAT, "a sweep folder", "a sweep", SweepFolderError)
    settings = data.get("settings")
    if not isinstance(settings, list) or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("folder"), str)
        for s in settings
    ):
        raise SweepFolderError(f"{path} has no list of settings with a name and a folder each")
    for s in settings:
        if folder.resolve() not in (folder / s["folder"]).resolve().parents:
            raise SweepFolderError(f"{path}: setting {s['name']!r} has a folder outside the sweep")
    return data


@dataclass
class SettingResult:
    """A setting of a sweep folder as read back: its entry in ``sweep.json`` and its run.

    Attributes:
        name: the setting's name.
        folder: its run folder.
        config: the configuration ``sweep.json`` records (``RunConfig.to_dict()``).
        status: ``"complete"``, ``"failed"``, ``"pending"`` or ``"running"``.
        df: the results table, if the run folder holds a complete run (else ``None``).
        manifest: the run's manifest, likewise.
        error: why ``df`` is ``None``.
        damaged: ``sweep.json`` says the setting is complete but its run folder cannot be read,
            or holds a run of another configuration: data damaged or edited since, which a
            reader must say on the terminal, not only skip (``error`` says what).
    """

    name: str
    folder: Path
    config: dict
    status: str
    df: pd.DataFrame | None = None
    manifest: dict | None = None
    error: str | None = None
    damaged: bool = False


def load_sweep(folder: str | os.PathLike) -> tuple[dict, list[SettingResult]]:
    """A sweep folder's ``sweep.json`` and each setting's run, as far as it can be read.

    A setting whose run folder is missing, unfinished or damaged is returned with ``df = None``
    and the reason in ``error`` (a failed seed's error, if it has one); one that ``sweep.json``
    says is complete is then ``damaged``, and so is one whose run's configuration is not the one
    ``sweep.json`` records. The sweep file itself must be readable.

    Raises:
        SweepFolderError: no sweep folder, or a damaged ``sweep.json``.
    """
    folder = Path(folder)
    data = read_sweep_file(folder)
    out = []
    for s in data["settings"]:
        result = SettingResult(
            s["name"], folder / s["folder"], s.get("config") or {}, str(s.get("status"))
        )
        try:
            df, manifest = load_run(result.folder)
            diff = result.config and difference(result.config, manifest.get("config"))
            if diff is not None:
                where, here, there = diff
                raise RunFolderError(
                    f"{folder / SWEEP_FILE} says setting {result.name} has {where} = {here!r}, "
                    f"its run in {result.folder} has {there!r}"
                )
            result.df, result.manifest = df, manifest
        except RunFolderError as err:
            failed = s.get("seeds_failed")
            if result.status == COMPLETE:
                result.error, result.damaged = str(err), True
            elif isinstance(failed, dict) and failed:
                seed, why = next(iter(failed.items()))
                result.error = f"seed {seed} failed: {why}"
            else:
                done = s.get("seeds_done")
                played = f", {len(done)} seeds played" if isinstance(done, list) else ""
                result.error = f"not finished (status {result.status}{played})"
        out.append(result)
    return data, out


@dataclass
class SettingState:
    """What a sweep has of one setting before it runs, and what it does with it."""

    setting: Setting
    status: str = PENDING
    done: list[int] = field(default_factory=list)
    """Seeds whose results are kept (in the run folder)."""
    failed: dict[int, str] = field(default_factory=dict)
    """Seeds that failed in this sweep, with the last line of their error."""
    checkpoints: dict[int, int] = field(default_factory=dict)
    """Seeds to play that have a checkpoint in the run folder: the episodes it holds."""
    action: str = "run"
    """``"skip"`` (complete), ``"run"`` or ``"resume"`` (its unfinished run folder continued)."""
    replace_folder: bool = False
    """Its folder holds an unfinished run of another configuration, removed before it runs."""
    why: str = ""
    """For ``--dry-run``: why the setting is skipped, resumed or replaced."""

    @property
    def to_run(self) -> list[int]:
        """Seeds still to be played."""
        if self.status == COMPLETE:
            return []
        done = set(self.done)
        return [s for s in self.setting.config.run_seeds if s not in done]

    @property
    def n_to_run(self) -> int:
        """How many seeds are still to be played (without listing them)."""
        return 0 if self.status == COMPLETE else self.setting.config.seeds - len(self.done)

    def record(self) -> dict:
        """The setting's entry in ``sweep.json``."""
        config = self.setting.config
        entry = {
            "name": self.setting.name,
            "folder": self.setting.name,
            "config": config.to_dict(),
            "status": self.status,
            "seeds_done": config.run_seeds if self.status == COMPLETE else sorted(self.done),
        }
        if self.failed:
            entry["seeds_failed"] = {str(s): why for s, why in sorted(self.failed.items())}
        return entry


class SweepFolder:
    """The sweep folder ``root``: checked, then read and written by the driver only."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    # ------------------------------------------------------------------ checks
    def check(self) -> dict | None:
        """Whether ``root`` can hold this sweep; the ``sweep.json`` it already has, if any.

        Raises:
            SweepFolderError: ``root`` is a file, a folder that holds anything and no
                ``sweep.json`` of this program, or one of a sweep that is still running.
        """
        root = self.root
        if root.exists() and not root.is_dir():
            raise SweepFolderError(f"{root} exists and is not a folder")
        try:
            _check_ancestors(root)
        except RunFolderError as err:
            raise SweepFolderError(str(err)) from None
        if not root.exists():
            return None
        if not (root / SWEEP_FILE).exists():
            if any(root.iterdir()):
                raise SweepFolderError(
                    f"{root} is not empty and holds no {SWEEP_FILE}: it is not a sweep folder "
                    "of stackelberg-rl and is never used; choose another --out"
                )
            return None
        data = read_sweep_file(root)
        if _alive(data):
            raise SweepFolderError(
                f"{root} holds a sweep that is still running (pid {data['pid']})"
            )
        return data

    def state_of(self, setting: Setting, previous: dict | None) -> SettingState:
        """What is kept of ``setting`` and what is to be done (nothing is changed on disk).

        Raises:
            SweepFolderError: its folder holds something that is not a run of this program, a
                run still running, or a complete run of another configuration.
        """
        state = SettingState(setting)
        folder = self.root / setting.name
        if not (folder.exists() or folder.is_symlink()):
            return state
        try:
            manifest = read_manifest(folder)
        except RunFolderError:
            manifest = None
        key = json.loads(config_key(setting.config))
        same = manifest is not None and manifest.get("config") == key
        if manifest is not None and manifest.get("status") == COMPLETE:
            if not same:
                where, there, here = difference(manifest.get("config"), key) or ("config", 0, 0)
                raise SweepFolderError(
                    f"{folder} holds a complete run of another configuration "
                    f"({where}: {there!r} there, {here!r} here); "
                    "it is never replaced: remove it yourself or choose another --out"
                )
            state.status, state.action, state.why = COMPLETE, "skip", "complete"
            return state
        try:  # an unfinished run of ours may be continued or replaced; anything else is refused
            check_destination(folder, overwrite=True)
        except RunFolderError as err:
            raise SweepFolderError(f"setting {setting.name}: {err}") from None
        if not same:
            state.replace_folder, state.why = (
                True,
                "an unfinished run of another configuration, replaced",
            )
            return state
        state.action = "resume"
        sha256 = (manifest.get("game") or {}).get("sha256")
        states, done, reasons = read_checkpoints(folder, setting.config, sha256, strict=False)
        state.done = list(done)
        state.checkpoints = {s: ckpt.peek(data)["episodes_done"] for s, data in states.items()}
        state.done.sort()
        if state.done:
            reasons.append(f"seeds {_seeds(state.done)} kept from an earlier session")
        reasons += [f"seed {s} continues from episode {n}" for s, n in state.checkpoints.items()]
        state.why = "; ".join(reasons) or "an unfinished run folder, continued"
        if previous is not None and previous.get("status") == FAILED:
            state.why = f"failed last time; {state.why}"
        return state

    def lock(self) -> int:
        """Take the sweep folder for this process (an advisory lock, released when it exits).

        Returns:
            The descriptor holding the lock: :func:`os.close` releases it.

        Raises:
            SweepFolderError: another process holds it: a sweep that is still running.
        """
        fd = os.open(self.root, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            try:
                pid = read_sweep_file(self.root).get("pid")
            except SweepFolderError:
                pid = None
            raise SweepFolderError(
                f"{self.root} holds a sweep that is still running"
                + (f" (pid {pid})" if isinstance(pid, int) else "")
            ) from None
        return fd

    # ------------------------------------------------------------------ sweep.json, log
    def write_record(self, record: dict) -> None:
        """Write ``sweep.json`` (atomically)."""
        self.root.mkdir(parents=True, exist_ok=True)
        text = dumps(record)
        write_file(self.root, SWEEP_FILE, lambda p: p.write_text(text))

    def log(self, message: str, error: BaseException | str | None = None) -> None:
        """Append a line (and a traceback, indented) to ``sweep.log``."""
        self.root.mkdir(parents=True, exist_ok=True)
        lines = [f"{now()} {message}"]
        if isinstance(error, BaseException):
            error = "".join(traceback.format_exception(error))
        if error:
            lines += ["    " + line for line in str(error).rstrip().splitlines()]
        with open(self.root / LOG_FILE, "a") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def remove_run_folder(self, setting: Setting) -> None:
        """Remove an unfinished run folder of ours before it is written anew."""
        folder = self.root / setting.name
        if folder.exists():
            check_destination(folder, overwrite=True)  # still ours alone
            _remove_own(folder)  # this program's files only, whatever came meanwhile


def sweep_record(
    states: list[SettingState],
    text: str,
    source: str | None,
    execution: dict,
    status: str,
    origin: dict,
) -> dict:
    """The content of ``sweep.json``; ``origin`` is the sweep's :func:`provenance`."""
    return {
        "format": SWEEP_FORMAT,
        "format_version": SWEEP_FORMAT_VERSION,
        "status": status,
        "file": source,
        "text": text,
        **execution,
        "updated": now(),
        **origin,
        "settings": [s.record() for s in states],
    }


def _seeds(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds)) if len(seeds) <= 6 else f"{seeds[0]}..{seeds[-1]}"
