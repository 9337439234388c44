"""A sweep folder on disk: ``sweep.json``, ``sweep.log``, one run folder per setting.

::

    DIR/sweep.json        "format": "stackelberg-rl/sweep": the sweep file's text, every
                          setting's name, folder (relative to DIR), configuration
                          (RunConfig.to_dict()) and status, the seeds done and failed
    DIR/sweep.log         what happened, with the traceback of every failure
    DIR/<setting>/        a run folder (experiments.load_run reads it), written once all its
                          seeds are done
    DIR/.parts/<setting>/ the seeds of an unfinished setting, one file each, until the setting's
                          run folder is written

Only the driver writes here (no file system is shared with the workers). Everything is written
under a temporary name and renamed, so a killed sweep never leaves a half-written file. Nothing
that this program did not write is ever deleted or replaced: a setting's folder is replaced only
if it holds an unfinished run of this program and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..experiments.config import dumps
from ..experiments.plans import Plans, read_plans, write_plans
from ..experiments.store import (
    RunFolderError,
    _alive,
    check_destination,
    git_state,
    host,
    now,
    read_manifest,
    versions,
    write_file,
)
from .settings import Setting, config_key

SWEEP_FILE = "sweep.json"
LOG_FILE = "sweep.log"
PARTS = ".parts"
SWEEP_FORMAT = "stackelberg-rl/sweep"
"""The ``format`` of ``sweep.json``: a folder whose ``sweep.json`` says otherwise is not ours."""
SWEEP_FORMAT_VERSION = 1
_PART_CONFIG = "config.json"

COMPLETE, FAILED, PENDING, RUNNING = "complete", "failed", "pending", "running"
"""A setting's status in ``sweep.json``: its run folder is written; a seed failed (run again next
time); not run yet or interrupted (run or resumed next time); being run."""


class SweepFolderError(RunFolderError):
    """A sweep folder, or a setting's folder in it, that cannot be used."""


@dataclass
class SettingState:
    """What a sweep has of one setting before it runs, and what it does with it."""

    setting: Setting
    status: str = PENDING
    done: list[int] = field(default_factory=list)
    """Seeds whose results are kept (in the run folder, or in ``.parts``)."""
    failed: dict[int, str] = field(default_factory=dict)
    """Seeds that failed in this sweep, with the last line of their error."""
    action: str = "run"
    """``"skip"`` (complete), ``"run"`` or ``"resume"`` (some seeds kept)."""
    replace_folder: bool = False
    """Its folder holds an unfinished run of this program, removed before the sweep runs."""
    why: str = ""
    """For ``--dry-run``: why the setting is skipped, resumed or replaced."""

    @property
    def to_run(self) -> list[int]:
        """Seeds still to be played."""
        return [s for s in self.setting.config.run_seeds if s not in self.done]

    def record(self) -> dict:
        """The setting's entry in ``sweep.json``."""
        entry = {
            "name": self.setting.name,
            "folder": self.setting.name,
            "config": self.setting.config.to_dict(),
            "status": self.status,
            "seeds_done": sorted(self.done),
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
            SweepFolderError: ``root`` is a file, or a folder that holds anything and no
                ``sweep.json`` of this program.
        """
        root = self.root
        if root.exists() and not root.is_dir():
            raise SweepFolderError(f"{root} exists and is not a folder")
        for parent in root.absolute().parents:
            if parent.exists():
                if not parent.is_dir():
                    raise SweepFolderError(f"cannot create {root}: {parent} is a file")
                break
        if not root.exists():
            return None
        path = root / SWEEP_FILE
        if not path.exists():
            if any(root.iterdir()):
                raise SweepFolderError(
                    f"{root} is not empty and holds no {SWEEP_FILE}: it is not a sweep folder "
                    "of stackelberg-rl; choose another --out"
                )
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise SweepFolderError(f"{path} is corrupt or truncated: {err}") from None
        if not isinstance(data, dict) or data.get("format") != SWEEP_FORMAT:
            raise SweepFolderError(f"{path} is not a sweep of stackelberg-rl (no format)")
        return data

    def state_of(self, setting: Setting, previous: dict | None) -> SettingState:
        """What is kept of ``setting`` and what is to be done (nothing is changed on disk).

        Raises:
            SweepFolderError: its folder holds something that is not a run of this program, a
                run still running, or a complete run of another configuration.
        """
        state = SettingState(setting)
        folder = self.root / setting.name
        key = config_key(setting.config)
        if folder.exists() or folder.is_symlink():
            try:
                manifest = read_manifest(folder)
            except RunFolderError:
                manifest = None
            if manifest is not None and manifest.get("status") == COMPLETE:
                there = json.dumps(manifest.get("config"), sort_keys=True)
                if there != key:
                    raise SweepFolderError(
                        f"{folder} holds a complete run of another configuration "
                        f"({_first_difference(manifest.get('config'), json.loads(key))}); "
                        "it is never replaced: remove it yourself or choose another --out"
                    )
                state.status, state.action, state.why = COMPLETE, "skip", "complete"
                state.done = list(setting.config.run_seeds)
                return state
            try:  # an unfinished run of ours may be replaced; anything else is refused
                check_destination(folder, overwrite=True)
            except RunFolderError as err:
                raise SweepFolderError(f"setting {setting.name}: {err}") from None
            if manifest is not None and _alive(manifest):
                raise SweepFolderError(f"{folder} is being written by process {manifest['pid']}")
            state.replace_folder, state.why = True, "an unfinished run folder, replaced"
        state.done = self._parts_done(setting)
        if state.done:
            state.action = "resume"
            kept = f"seeds {_seeds(state.done)} kept from an earlier sweep"
            state.why = f"{kept}; {state.why}" if state.why else kept
        if previous is not None and previous.get("status") == FAILED:
            state.why = "failed last time" + (f"; {state.why}" if state.why else "")
        return state

    # ------------------------------------------------------------------ parts
    def _parts(self, setting: Setting) -> Path:
        return self.root / PARTS / setting.name

    def _parts_done(self, setting: Setting) -> list[int]:
        """Seeds of ``setting`` kept in ``.parts`` (parts of another configuration are not)."""
        parts = self._parts(setting)
        try:
            kept = json.loads((parts / _PART_CONFIG).read_text())
        except (OSError, ValueError):
            return []
        if kept != json.loads(config_key(setting.config)):
            return []
        done = []
        for seed in setting.config.run_seeds:
            if (parts / f"seed-{seed}.parquet").is_file():
                if not setting.config.save_plans or (parts / f"seed-{seed}.npz").is_file():
                    done.append(seed)
        return done

    def save_part(self, setting: Setting, seed: int, df: pd.DataFrame, plans: Plans | None) -> None:
        """Keep one seed's results until its setting's run folder is written."""
        parts = self._parts(setting)
        parts.mkdir(parents=True, exist_ok=True)
        text = config_key(setting.config)
        path = parts / _PART_CONFIG
        if not path.is_file() or path.read_text() != text:
            for old in parts.glob("seed-*"):  # another configuration's seeds
                old.unlink(missing_ok=True)
            write_file(parts, _PART_CONFIG, lambda p: p.write_text(text))
        if plans is not None:
            write_file(parts, f"seed-{seed}.npz", lambda p: write_plans(p, {seed: plans}))
        write_file(parts, f"seed-{seed}.parquet", lambda p: df.to_parquet(p, index=False))

    def load_parts(self, setting: Setting) -> tuple[pd.DataFrame, dict[int, Plans] | None]:
        """Every seed's rows (sorted by seed, episode), and plans with ``save_plans``."""
        parts = self._parts(setting)
        seeds = setting.config.run_seeds
        frames = [pd.read_parquet(parts / f"seed-{s}.parquet") for s in seeds]
        df = pd.concat(frames, ignore_index=True).sort_values(["seed", "episode"])
        plans = None
        if setting.config.save_plans:
            plans = {s: read_plans(parts / f"seed-{s}.npz", s) for s in seeds}
        return df.reset_index(drop=True), plans

    def drop_parts(self, setting: Setting) -> None:
        """Remove a setting's parts once its run folder is written (only our files)."""
        parts = self._parts(setting)
        (parts / _PART_CONFIG).unlink(missing_ok=True)
        for pattern in ("seed-*", ".tmp-*"):
            for p in parts.glob(pattern):
                p.unlink(missing_ok=True)
        for folder in (parts, parts.parent):
            try:
                folder.rmdir()
            except OSError:
                break

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
            shutil.rmtree(folder)


def sweep_record(
    states: list[SettingState], text: str, source: str | None, execution: dict, status: str
) -> dict:
    """The content of ``sweep.json``."""
    return {
        "format": SWEEP_FORMAT,
        "format_version": SWEEP_FORMAT_VERSION,
        "status": status,
        "file": source,
        "text": text,
        **execution,
        "updated": now(),
        "versions": versions(),
        **git_state(),
        "host": host(),
        "pid": os.getpid(),
        "settings": [s.record() for s in states],
    }


def _seeds(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds)) if len(seeds) <= 6 else f"{seeds[0]}..{seeds[-1]}"


def _first_difference(there: object, here: object, path: str = "") -> str:
    """The first field where two configurations differ: ``episodes: 1000 there, 2000 here``."""
    if isinstance(there, dict) and isinstance(here, dict):
        for key in sorted(set(there) | set(here)):
            if there.get(key) != here.get(key):
                return _first_difference(there.get(key), here.get(key), f"{path}{key}.")
    return f"{path.rstrip('.')}: {there!r} there, {here!r} here"
