"""A sweep folder on disk: ``sweep.json``, ``sweep.log``, one run folder per setting.

::

    DIR/sweep.json        "format": "stackelberg-rl/sweep": the sweep file's text, every
                          setting's name, folder (relative to DIR), configuration
                          (RunConfig.to_dict()) and status, the seeds done and failed
    DIR/sweep.log         what happened, with the traceback of every failure
    DIR/<setting>/        a run folder (experiments.load_run reads it), written once all its
                          seeds are done
    DIR/.parts/<setting>/ an unfinished setting's seeds until its run folder is written: each
                          finished seed's rows (seed-N.parquet, and seed-N.npz with its plans),
                          each unfinished seed's newest checkpoint (seed-N.ckpt), and the
                          configuration they belong to (config.json)
    DIR/report.html       the report (stackelberg_rl.report), and its figures report-*.png

Only the driver writes here (no file system is shared with the workers). Everything is written
under a temporary name and renamed, so a killed sweep never leaves a half-written file. Nothing
that this program did not write is ever deleted or replaced: a setting's folder is replaced only
if it holds an unfinished run of this program and nothing else. The reading side
(:func:`read_sweep_file`, :func:`load_sweep`) is what the report uses.
"""

from __future__ import annotations

import json
import os
import shutil
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..experiments import checkpoint as ckpt
from ..experiments.config import dumps
from ..experiments.plans import Plans, read_plans, write_plans
from ..experiments.store import (
    RunFolderError,
    _alive,
    check_destination,
    git_state,
    host,
    load_run,
    now,
    read_format_file,
    read_manifest,
    versions,
    write_durably,
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
    """

    name: str
    folder: Path
    config: dict
    status: str
    df: pd.DataFrame | None = None
    manifest: dict | None = None
    error: str | None = None


def load_sweep(folder: str | os.PathLike) -> tuple[dict, list[SettingResult]]:
    """A sweep folder's ``sweep.json`` and each setting's run, as far as it can be read.

    A setting whose run folder is missing, unfinished or damaged is returned with ``df = None``
    and the reason in ``error`` (a failed seed's error, if it has one); the sweep file itself
    must be readable.

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
            result.df, result.manifest = load_run(result.folder)
        except RunFolderError as err:
            failed = s.get("seeds_failed")
            if isinstance(failed, dict) and failed:
                seed, why = next(iter(failed.items()))
                result.error = f"seed {seed} failed: {why}"
            elif result.status != COMPLETE:
                done = s.get("seeds_done")
                played = f", {len(done)} seeds played" if isinstance(done, list) else ""
                result.error = f"not finished (status {result.status}{played})"
            else:
                result.error = str(err)
        out.append(result)
    return data, out


@dataclass
class SettingState:
    """What a sweep has of one setting before it runs, and what it does with it."""

    setting: Setting
    status: str = PENDING
    done: list[int] = field(default_factory=list)
    """Seeds whose results are kept (in the run folder, or in ``.parts``)."""
    failed: dict[int, str] = field(default_factory=dict)
    """Seeds that failed in this sweep, with the last line of their error."""
    checkpoints: dict[int, int] = field(default_factory=dict)
    """Seeds to play that have a checkpoint in ``.parts``: the episodes it holds."""
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
        if not (root / SWEEP_FILE).exists():
            if any(root.iterdir()):
                raise SweepFolderError(
                    f"{root} is not empty and holds no {SWEEP_FILE}: it is not a sweep folder "
                    "of stackelberg-rl and is never used; choose another --out"
                )
            return None
        return read_sweep_file(root)

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
        reasons = [state.why] if state.why else []
        if state.done:
            reasons.insert(0, f"seeds {_seeds(state.done)} kept from an earlier sweep")
        for seed in state.to_run:
            try:
                episodes = self.peek_checkpoint(setting, seed)
            except ckpt.CheckpointError:
                reasons.append(f"seed {seed}'s checkpoint cannot be used: it starts afresh")
                continue
            if episodes is not None:
                state.checkpoints[seed] = episodes
                reasons.append(f"seed {seed} continues from episode {episodes}")
        if state.done or state.checkpoints:
            state.action = "resume"
        state.why = "; ".join(reasons)
        if previous is not None and previous.get("status") == FAILED:
            state.why = "failed last time" + (f"; {state.why}" if state.why else "")
        return state

    # ------------------------------------------------------------------ parts
    def _parts(self, setting: Setting) -> Path:
        return self.root / PARTS / setting.name

    def _parts_are_of(self, setting: Setting) -> bool:
        """Whether ``.parts`` holds parts of ``setting``'s configuration (not another's)."""
        try:
            kept = json.loads((self._parts(setting) / _PART_CONFIG).read_text())
        except (OSError, ValueError):
            return False
        return kept == json.loads(config_key(setting.config))

    def _parts_done(self, setting: Setting) -> list[int]:
        """Seeds of ``setting`` kept in ``.parts`` (parts of another configuration are not)."""
        parts = self._parts(setting)
        if not self._parts_are_of(setting):
            return []
        done = []
        for seed in setting.config.run_seeds:
            if (parts / f"seed-{seed}.parquet").is_file():
                if not setting.config.save_plans or (parts / f"seed-{seed}.npz").is_file():
                    done.append(seed)
        return done

    def _own_parts(self, setting: Setting) -> Path:
        """``.parts/<setting>``, made if need be, holding parts of this configuration only."""
        parts = self._parts(setting)
        parts.mkdir(parents=True, exist_ok=True)
        text = config_key(setting.config)
        path = parts / _PART_CONFIG
        if not path.is_file() or path.read_text() != text:
            for old in parts.glob("seed-*"):  # another configuration's seeds
                old.unlink(missing_ok=True)
            write_file(parts, _PART_CONFIG, lambda p: p.write_text(text))
        return parts

    def save_part(self, setting: Setting, seed: int, df: pd.DataFrame, plans: Plans | None) -> None:
        """Keep one seed's results until its setting's run folder is written.

        Its checkpoint, no longer needed, goes.
        """
        parts = self._own_parts(setting)
        if plans is not None:
            write_file(parts, f"seed-{seed}.npz", lambda p: write_plans(p, {seed: plans}))
        write_file(parts, f"seed-{seed}.parquet", lambda p: df.to_parquet(p, index=False))
        (parts / _checkpoint_name(seed)).unlink(missing_ok=True)

    def save_checkpoint(self, setting: Setting, seed: int, data: bytes) -> None:
        """Keep the newest checkpoint of a seed that plays, synced to the disk, atomically."""
        write_durably(self._own_parts(setting), _checkpoint_name(seed), data)

    def _checkpoint_path(self, setting: Setting, seed: int) -> Path | None:
        path = self._parts(setting) / _checkpoint_name(seed)
        return path if path.is_file() and self._parts_are_of(setting) else None

    def peek_checkpoint(self, setting: Setting, seed: int) -> int | None:
        """The episodes played in seed ``seed``'s checkpoint, or ``None`` if it has none.

        Only its header is read (the arrays and the game are checked when the sweep runs).

        Raises:
            CheckpointError: the checkpoint is damaged, unreadable, or of another seed.
        """
        data = self.read_checkpoint(setting, seed)
        if data is None:
            return None
        where = str(self._parts(setting) / _checkpoint_name(seed))
        header = ckpt.peek(data, where)
        if header.get("seed") != seed:
            raise ckpt.CheckpointError(f"{where} is of seed {header.get('seed')!r}")
        done = header.get("episodes_done")
        if isinstance(done, bool) or not isinstance(done, int):
            raise ckpt.CheckpointError(f"{where} is damaged: no episodes played")
        return done

    def read_checkpoint(self, setting: Setting, seed: int) -> bytes | None:
        """Seed ``seed``'s checkpoint (unchecked), or ``None`` if it has none.

        Raises:
            CheckpointError: it cannot be read.
        """
        path = self._checkpoint_path(setting, seed)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as err:
            raise ckpt.CheckpointError(f"cannot read {path}: {err.strerror or err}") from None

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


def provenance() -> dict:
    """Where and by what a sweep runs: versions, git commit, host, process.

    Taken once per sweep (asking git costs a process or two), not at every update of
    ``sweep.json``.
    """
    return {"versions": versions(), **git_state(), "host": host(), "pid": os.getpid()}


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


def _checkpoint_name(seed: int) -> str:
    return f"seed-{seed}.ckpt"


def _seeds(seeds: list[int]) -> str:
    return ", ".join(map(str, seeds)) if len(seeds) <= 6 else f"{seeds[0]}..{seeds[-1]}"


def _first_difference(there: object, here: object, path: str = "") -> str:
    """The first field where two configurations differ: ``episodes: 1000 there, 2000 here``."""
    if isinstance(there, dict) and isinstance(here, dict):
        for key in sorted(set(there) | set(here)):
            if there.get(key) != here.get(key):
                return _first_difference(there.get(key), here.get(key), f"{path}{key}.")
    return f"{path.rstrip('.')}: {there!r} there, {here!r} here"
