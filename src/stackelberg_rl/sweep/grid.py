"""A sweep: every seed of every setting, on local processes or Ray, into a sweep folder.

``DIR/sweep.json`` records the sweep file's text and each setting's folder, configuration, status,
seeds done and failed; ``DIR/sweep.log`` what happened, with tracebacks; ``DIR/<setting>/`` is a
run folder: continued if it holds an unfinished run of its configuration, replaced if of another,
refused if it holds anything else. Settings that differ only in ``K`` are cut from the largest
where the players do not depend on ``K`` (:func:`link_prefixes`).
"""

from __future__ import annotations

import itertools
import json
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from .._files import jsonable
from ..experiments import NewFolder, driver, store
from ..experiments import checkpoint as ckpt
from ..experiments.config import difference, dumps
from ..experiments.driver import Play
from ..experiments.loop import DEFAULT_CHECKPOINT_EVERY
from ..experiments.plan_history import PLANS_FILE, PlansFileError, read_plans
from ..experiments.resources import check_results_fit
from ..experiments.runs import check_execution, continued, new_play, playable
from ..experiments.store import SWEEP_FILE, RunFolderError, now, read_manifest, write_file
from ..games import Game
from .settings import Setting, check_settings, config_key, depends_on_K

LOG_FILE = "sweep.log"
SWEEP_FORMAT = "stackelberg-rl/sweep"  # the ``format`` of ``sweep.json``
COMPLETE, FAILED, PENDING, RUNNING = "complete", "failed", "pending", "running"


class SweepFolderError(RunFolderError):
    """A sweep folder, or a setting's folder in it, that cannot be used."""


class _OtherConfiguration(SweepFolderError):
    """A setting's folder holds a complete run of another configuration (never replaced)."""

    def __init__(self, folder: Path, where: str, there, here) -> None:
        self.folder, self.difference = folder, f"{where}: {there!r} there, {here!r} here"
        super().__init__(
            f"{folder} holds a complete run of another configuration ({self.difference}); "
            "it is never replaced: remove it yourself or choose another --out"
        )


def _other_configurations(root: Path, errors: list[_OtherConfiguration]) -> SweepFolderError:
    """One error naming every setting folder of ``root`` that holds another configuration."""
    if len(errors) == 1:
        return errors[0]
    names = [err.folder.name for err in errors]
    return SweepFolderError(
        f"{root} holds complete runs of another configuration ({errors[0].difference}) in "
        f"{len(errors)} setting folders: {store.shown(names)}; they are never replaced: "
        "remove them yourself or choose another --out"
    )


class SettingError(ValueError):
    """A setting that cannot run (its game cannot be built, or it does not fit in memory)."""

    def __init__(self, setting: Setting, message: str) -> None:
        super().__init__(f"setting {setting.name}: {message}")
        self.setting, self.reason = setting, message


SWEEP_FOLDER = store.FolderKind(
    SWEEP_FORMAT, (SWEEP_FILE, LOG_FILE, store.REPORT_FILE), (store.REPORT_PREFIX,), "sweep",
    manifest=SWEEP_FILE, error=SweepFolderError,
)  # fmt: skip


# ---------------------------------------------------------------------- reading a sweep back
def is_sweep_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder with a ``sweep.json`` (readable or not)."""
    return (Path(path) / SWEEP_FILE).is_file()


def lost_sweep_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a sweep folder less its ``sweep.json``: its settings' run folders alone.

    A sweep into it goes on from them (:func:`run_grid` rewrites the ``sweep.json``).
    """
    path = Path(path)
    return (
        path.is_dir()
        and not is_sweep_folder(path)
        and not (path / store.MANIFEST_FILE).exists()
        and any(p.is_dir() for p in path.iterdir())
        and _left_by_a_sweep(path)
    )


def read_sweep_file(folder: Path) -> dict:
    """The ``sweep.json`` of ``folder``, checked: its settings have a name and a folder inside."""
    data = read_manifest(folder, SWEEP_FOLDER)
    path, settings = folder / SWEEP_FILE, data.get("settings")
    if not isinstance(settings, list) or not all(
        isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("folder"), str)
        for s in settings
    ):
        raise SweepFolderError(f"{path} has no list of settings with a name and a folder each")
    for s in settings:
        if folder.resolve() not in (folder / s["folder"]).resolve().parents:
            raise SweepFolderError(f"{path}: setting {s['name']!r} has a folder outside the sweep")
    return data


def dropped_settings(out: str | os.PathLike, settings: list[Setting]) -> list[str]:
    """The settings the sweep in ``out`` lists that ``settings`` do not (their folders stay)."""
    try:
        listed = read_sweep_file(Path(out))["settings"] if is_sweep_folder(out) else []
    except SweepFolderError:  # said when the sweep runs
        return []
    names = {s.name for s in settings}
    return [s["name"] for s in listed if s["name"] not in names]


@dataclass
class SettingResult:
    """A setting of a sweep folder as read back.

    ``df`` and ``manifest`` are its complete run's, else ``None`` with the reason in ``error``;
    ``damaged``: ``sweep.json`` calls it complete all the same.
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
    """A sweep folder's ``sweep.json`` and each setting's run (:class:`SettingResult`).

    Raises:
        SweepFolderError: no sweep folder, or a damaged ``sweep.json``.
    """
    folder = Path(folder)
    data, out = read_sweep_file(folder), []
    for s in data["settings"]:
        result = SettingResult(
            s["name"], folder / s["folder"], s.get("config") or {}, str(s.get("status"))
        )
        out.append(result)
        try:
            df, manifest = store.load_run(result.folder)
            # A setting whose record lost its config is read from its run folder alone.
            diff = difference(result.config, manifest.get("config")) if result.config else None
            if diff is not None:
                raise RunFolderError(
                    f"{folder / SWEEP_FILE} says setting {result.name} has {diff[0]} = "
                    f"{diff[1]!r}, its run in {result.folder} has {diff[2]!r}"
                )
            result.df, result.manifest = df, manifest
        except RunFolderError as err:
            failed, done = s.get("seeds_failed"), s.get("seeds_done")
            if result.status == COMPLETE:
                result.error, result.damaged = str(err), True
            elif isinstance(failed, dict) and failed:
                result.error = "seed {} failed: {}".format(*next(iter(failed.items())))
            else:
                played = f", {len(done)} seeds played" if isinstance(done, list) else ""
                result.error = f"not finished (status {result.status}{played})"
    return data, out


# ---------------------------------------------------------------------- what a sweep would do
@dataclass
class SettingState:
    """What a sweep has of one setting before it runs, and what it does with it.

    ``done``/``failed``: seeds kept, and failed with their error; ``checkpoints``: each kept
    checkpoint's episodes; ``action``: ``"skip"``, ``"run"`` or ``"resume"``; ``replace_folder``:
    its folder holds another configuration's unfinished run; ``source``: the setting its seeds are
    cut from (:func:`link_prefixes`); ``unusable``: checkpoints that cannot be continued;
    ``failed_before``: the sweep's last session marked it failed; ``damaged``: why its complete
    run folder cannot be read back (it is played again).
    """

    setting: Setting
    status: str = PENDING
    done: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    checkpoints: dict[int, int] = field(default_factory=dict)
    action: str = "run"
    replace_folder: bool = False
    source: str | None = None
    unusable: list[str] = field(default_factory=list)
    failed_before: bool = False
    damaged: str | None = None

    @property
    def why(self) -> str:
        """What the dry run says of it."""
        if self.status == COMPLETE:
            return "complete"
        if self.damaged:
            return f"a complete run whose files are damaged, played again ({self.damaged})"
        if self.replace_folder:
            return "an unfinished run of another configuration, replaced"
        if self.action != "resume":
            return ""
        reasons = list(self.unusable)
        if self.done:
            shown = self.done if len(self.done) <= 6 else [f"{self.done[0]}..{self.done[-1]}"]
            seeds = "seeds" if len(self.done) > 1 else "seed"
            reasons.append(f"{seeds} {', '.join(map(str, shown))} kept from an earlier session")
        reasons += [f"seed {s} continues from episode {n}" for s, n in self.checkpoints.items()]
        why = "; ".join(reasons) or "an unfinished run folder, continued"
        return f"failed last time; {why}" if self.failed_before else why

    @property
    def to_run(self) -> list[int]:
        """Seeds still to be played (none if they are cut from the source's)."""
        done = set(self.done)
        return [s for s in self.setting.config.run_seeds if s not in done] if self.n_to_run else []

    @property
    def n_to_write(self) -> int:
        """How many seeds are still to be played or cut."""
        return 0 if self.status == COMPLETE else self.setting.config.seeds - len(self.done)

    @property
    def n_to_run(self) -> int:
        """How many seeds are still to be played."""
        return 0 if self.source is not None else self.n_to_write

    def entry(self) -> dict:
        """The setting's entry in ``sweep.json``."""
        config, failed = self.setting.config, sorted(self.failed.items())
        return {
            "name": self.setting.name,
            "folder": self.setting.name,
            "config": config.to_dict(),
            "status": self.status,
            "seeds_done": config.run_seeds if self.status == COMPLETE else sorted(self.done),
            **({"seeds_failed": {str(s): why for s, why in failed}} if failed else {}),
        }


def _state_of(root: Path, setting: Setting, previous: dict | None) -> SettingState:
    """What is kept of ``setting`` in ``root``, and what to do; refuses what is not ours."""
    state, folder = SettingState(setting), root / setting.name
    try:
        manifest = read_manifest(folder)
    except RunFolderError as err:
        if (folder / store.MANIFEST_FILE).is_file():  # ours, damaged: what it held is unknown
            raise SweepFolderError(
                f"setting {setting.name}: {err}; remove {folder} to play the setting again"
            ) from None
        manifest = None
    key = json.loads(config_key(setting.config))
    same = manifest is not None and manifest.get("config") == key
    if manifest is not None and manifest.get("status") == COMPLETE:
        if not same:
            where, there, here = difference(manifest.get("config"), key) or ("config", 0, 0)
            raise _OtherConfiguration(folder, where, there, here)
        try:
            store.check_results_whole(folder, manifest)
            state.status, state.action = COMPLETE, "skip"
        except RunFolderError as err:
            state.replace_folder, state.damaged = True, str(err)
        return state
    try:  # an unfinished run of ours may be continued or replaced; anything else is refused
        store.check_destination(folder, overwrite=True, in_sweep=True)
    except RunFolderError as err:
        raise SweepFolderError(f"setting {setting.name}: {err}") from None
    state.replace_folder = not same
    if same:
        state.action = "resume"
        sha256 = (manifest.get("game") or {}).get("sha256")
        states, done, state.unusable = driver.read_checkpoints(
            folder, setting.config, sha256, False
        )
        state.done = sorted(done)
        state.checkpoints = {s: ckpt.peek(data)["episodes_done"] for s, data in states.items()}
        state.failed_before = (previous or {}).get("status") == FAILED
    return state


def link_prefixes(states: list[SettingState]) -> None:
    """Give each unfinished setting the ``source`` its runs are the first episodes of.

    Among settings that differ only in ``K`` and whose players do not depend on ``K``
    (:func:`~.settings.depends_on_K`), only the one of largest ``K`` is played.
    """
    groups: dict[str, list[SettingState]] = {}
    for state in states:
        config = state.setting.config
        if not depends_on_K(config.to_dict()):
            groups.setdefault(config_key(config, episodes=None), []).append(state)
    for group in groups.values():
        source = max(group, key=lambda state: state.setting.config.episodes)
        for state in group:
            if state is not source and state.status != COMPLETE:
                state.source = source.setting.name
                state.checkpoints = {}  # an unfinished seed of its own is not continued


def preview(
    settings: list[Setting], out: str | os.PathLike | NewFolder, same_settings: bool = False,
    prefixes: bool = True, *, build: bool = False, workers: int | None = None,
) -> list[SettingState]:  # fmt: skip
    """What a sweep of ``settings`` into ``out`` would do (its dry run); nothing is written.

    With ``build``, every setting to play is also built as :func:`run_grid` builds it before it
    plays anything, for ``workers`` as it takes them: its game, its α per follower, its memory.

    Raises:
        SweepFolderError: ``out``, or a setting's folder in it, cannot be used; with
            ``same_settings``, ``out`` holds a sweep of other settings.
        SettingError: the results of a setting would not fit in memory; with ``build``, a
            setting's game cannot be built or its players do not fit it.
    """
    root = None if isinstance(out, NewFolder) else Path(out)
    before = {} if root is None else _previous(root, settings, same_settings)
    for s in settings:  # arithmetic only: the results of a setting must fit in memory
        try:
            check_results_fit(s.config)
        except MemoryError as err:
            raise SettingError(s, str(err)) from None
    present = {p.name for p in root.iterdir()} if root and root.is_dir() else set()
    states, others = [], []
    for s in settings:  # every folder of another configuration is named at once
        try:
            states.append(
                _state_of(root, s, before.get(s.name)) if s.name in present else SettingState(s)
            )
        except _OtherConfiguration as err:
            others.append(err)
    if others:
        raise _other_configurations(root, others)
    if prefixes:
        link_prefixes(states)
    if build:
        _games(states, _local_workers(states, workers))
    return states


def _previous(root: Path, settings: list[Setting], same_settings: bool) -> dict[str, dict]:
    """The entries of ``root``'s ``sweep.json`` by name, once ``root`` is known to be usable."""
    if root.exists() and not root.is_dir():
        raise SweepFolderError(f"{root} exists and is not a folder")
    store.check_ancestors(root, SweepFolderError)
    previous: dict = {}
    if is_sweep_folder(root):
        try:
            previous = read_sweep_file(root)
        except SweepFolderError as err:
            raise SweepFolderError(
                f"{err}; if it is a sweep's, damaged, remove it and run the sweep again: its "
                "settings' run folders are kept and continued"
            ) from None
        store.refuse_live(root, previous, SWEEP_FOLDER)
    elif root.is_dir() and any(root.iterdir()) and not _left_by_a_sweep(root):
        raise SweepFolderError(
            f"{root} is not empty and holds no {SWEEP_FILE}: it is not a sweep folder "
            "of stackelberg-rl and is never used; choose another --out"
        )
    before = {s.get("name"): s for s in previous.get("settings", []) if isinstance(s, dict)}
    names = {s.name for s in settings}
    if same_settings and previous and sorted(before) != sorted(names):
        theirs = ", ".join(n for n in before if n not in names)
        ours = ", ".join(s.name for s in settings if s.name not in before)
        raise SweepFolderError(
            f"{root} holds a sweep of other settings ({theirs or 'none'} there, "
            f"{ours or 'none'} here): it is left as it is; give the same options, or choose "
            "another --out"
        )
    return before


def _left_by_a_sweep(root: Path) -> bool:
    """Whether ``root`` holds only what a sweep into it writes, less its ``sweep.json``."""
    for p in root.iterdir():
        if p.name in SWEEP_FOLDER.files or p.name.startswith(SWEEP_FOLDER.prefixes):
            continue
        try:
            manifest = read_manifest(p) if p.is_dir() and not p.is_symlink() else {}
        except RunFolderError:
            return False
        if (manifest.get("sweep") or {}).get("setting") != p.name:  # (moved: another folder)
            return False
    return True


def _local_workers(states: list[SettingState], workers: int | None) -> int:
    """Local processes of a sweep: ``workers`` (default: every core), at most one per task."""
    n_tasks = sum(s.n_to_run for s in states if s.action != "skip")
    return max(1, min(int(workers or os.cpu_count() or 1), n_tasks))


def _games(states: list[SettingState], workers: int) -> dict[str, Game]:
    """The game of every setting to play, by name; settings with one game spec share it."""
    games, built = {}, {}
    for state in (s for s in states if s.action != "skip"):
        config = state.setting.config
        key = json.dumps(jsonable(asdict(config.game)), sort_keys=True)
        try:
            game = playable(config, built.get(key), min(workers, config.seeds))
        except (ValueError, MemoryError) as err:
            raise SettingError(state.setting, str(err)) from None
        games[state.setting.name] = built[key] = game
    return games


def preview_lines(states: list[SettingState], out: str | os.PathLike, most: int = 20) -> list[str]:
    """:func:`preview`'s answer for a terminal: at most ``most`` settings, then the totals.

    A line per setting, those to run first: ``NAME  run 3 seeds (0, 1, 2): why`` or
    ``NAME  skip: complete``.
    """
    todo = [s for s in states if s.action != "skip" and s.source is None]
    cut = [s for s in states if s.action != "skip" and s.source is not None]
    shown = (todo + cut + [s for s in states if s.action == "skip"])[:most]
    lines = []
    for state in shown:
        if state.action == "skip":
            lines.append(f"{state.setting.name}  skip: complete")
            continue
        config, done, n = state.setting.config, set(state.done), state.n_to_write
        seeds = range(config.seed, config.seed + config.seeds)  # not listed: there may be many
        first = list(itertools.islice((s for s in seeds if s not in done), 7))
        listed = ", ".join(map(str, first[:6])) + (f", … ({n} in all)" if len(first) > 6 else "")
        what = f"{'run' if state.source is None else 'cut'} {_count(n, 'seed')} ({listed})"
        what += f" from the runs of {state.source}" if state.source is not None else ""
        lines.append(f"{state.setting.name}  {what}" + (f": {state.why}" if state.why else ""))
    if len(states) > len(shown):
        lines.append(f"… and {_count(len(states) - len(shown), 'more setting')}")
    lines.append(
        f"{_count(len(states), 'setting')} in {out}: {len(todo)} to run "
        f"({_count(sum(s.n_to_run for s in todo), 'seed')}), "
        + (f"{len(cut)} cut from the first episodes of longer runs, " if cut else "")
        + f"{len(states) - len(todo) - len(cut)} complete and skipped"
    )
    return lines


def _count(n: int, noun: str) -> str:
    """``1 seed``, ``2 seeds``."""
    return f"{n} {noun}{'s' * (n != 1)}"


# ---------------------------------------------------------------------- the sweep
@dataclass
class SweepOutcome:
    """What a sweep did: ``tasks`` seeds played (``resumed`` from a checkpoint) in ``seconds``."""

    root: Path
    states: list[SettingState]
    tasks: int = 0
    resumed: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[SettingState]:
        """Settings with a failed seed."""
        return [s for s in self.states if s.status == FAILED]

    def summary(self) -> str:
        """One line: how many settings are complete, skipped, failed, cut; where the log is."""
        n, failed = len(self.states), self.failed
        skipped = sum(s.action == "skip" for s in self.states)
        cut = sum(s.source is not None and s.action != "skip" for s in self.states)
        text = (
            f"{_count(n, 'setting')}: {sum(s.status == COMPLETE for s in self.states)} "
            f"complete ({skipped} already were), {len(failed)} failed; "
            f"{_count(self.tasks, 'seed')} played"
            + (f" ({self.resumed} from a checkpoint)" if self.resumed else "")
            + (f", {_count(cut, 'setting')} cut from longer runs" if cut else "")
            + f" in {self.seconds:.1f} s; sweep folder {self.root}"
        )
        if failed:
            names = store.shown([s.setting.name for s in failed], 3)
            text += f"; failed: {names} (tracebacks in {self.root / LOG_FILE})"
        return text


def run_grid(
    settings: list[Setting],
    out: str | os.PathLike | NewFolder,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    text: str = "",
    source: str | None = None,
    progress: bool = True,
    on_start: Callable[[list[int]], None] | None = None,
    on_folder: Callable[[Path], None] | None = None,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
    same_settings: bool = False,
    prefixes: bool = True,
) -> SweepOutcome:
    """Run every seed of every setting not yet complete in ``out`` (see the module).

    Every setting's folder, game and memory are checked before anything is written; a failed
    seed is logged with its traceback and its setting marked failed, and the others go on.

    Args:
        settings: named run configurations (:func:`~.settings.name_settings`).
        out: the sweep folder, created if need be; or a :class:`~stackelberg_rl.experiments.
            NewFolder` for a new one (made once every check has passed).
        backend, address, checkpoint_every: as for :func:`~stackelberg_rl.experiments.run_seeds`.
        workers: local processes (default: every core; 1 plays in this process), or the CPUs of
            a Ray started here.
        text, source: the sweep file's text and path, kept in ``sweep.json``.
        progress: one progress bar for the sweep, with a line per running task.
        on_start, on_folder: called with the local workers' process ids once they run, and with
            the sweep folder before anything is played.
        same_settings: refuse a folder whose sweep has other settings (the demo's).
        prefixes: cut settings from the first episodes of a longer one (:func:`link_prefixes`)
            instead of playing them; the files are the same.

    Raises:
        ValueError: bad settings (:func:`~.settings.check_settings`) or options.
        SweepFolderError: ``out``, or a setting's folder in it, cannot be used.
        SettingError: a setting's game cannot be built, or it would not fit in memory.
        BackendUnavailableError: Ray is not installed, or no cluster answers.
    """
    every = check_execution(backend, workers, checkpoint_every)
    check_settings(settings)
    t0, new = time.perf_counter(), isinstance(out, NewFolder)
    states = preview(settings, out, same_settings, prefixes)
    local_workers = _local_workers(states, workers)
    games = _games(states, local_workers)
    workers = local_workers if backend == "local" else int(workers or os.cpu_count() or 1)
    if any(s.n_to_run for s in states if s.action != "skip"):  # else no backend is asked
        driver.check_backend(backend, address, workers)
    try:
        root = store.Reservation.make(out).target if new else Path(out)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SweepFolderError(f"cannot create {root}: {err.strerror or err}") from None
        held = store.lock(root, SWEEP_FOLDER)  # to the end: a second sweep here is refused
    except BaseException:
        driver.release_backend()
        raise
    try:
        if not new:  # judged again, now that no other sweep plays here
            states = preview(settings, root, same_settings, prefixes)
        if on_folder is not None:
            on_folder(root)
        execution = dict(backend=backend, workers=workers, address=address, started=now())
        origin = store.provenance()
        todo = [s for s in states if s.action != "skip"]
        plays: list[Play] = []

        def record(status: str = RUNNING) -> None:
            for state, p in zip(todo, plays, strict=False):
                state.done = sorted(p.done) if p.status != "complete" else []
                state.failed = dict(p.failed)
                state.status = {"complete": COMPLETE, "failed": FAILED}.get(p.status, state.status)
            data = dumps({"format": SWEEP_FORMAT, "format_version": 1, "status": status,
                          "file": source, "text": text, **execution, "updated": now(), **origin,
                          "settings": [s.entry() for s in states]})  # fmt: skip
            write_file(root, SWEEP_FILE, lambda path: path.write_text(data))

        notes: list[str] = []
        try:
            for state in todo:
                plays.append(_reserve(root, state, games[state.setting.name], workers, notes))
                state.status = RUNNING
        except BaseException as err:
            for p in plays:  # what this call reserved and has not played goes back as it was
                if not p.reservation.resumed:
                    p.reservation.abandon()
            if isinstance(err, RunFolderError) and not isinstance(err, SweepFolderError):
                raise SweepFolderError(str(err)) from None
            raise
        _link(root, todo, plays, notes)
        record()
        resumed = sum(len(p.states) for p in plays)
        where = f"with {workers} workers" if backend == "local" else f"at {address or 'local'}"
        cut = sum(s.source is not None for s in todo)
        notes.insert(0, f"sweep started: {len(states)} settings ({len(states) - len(todo)} "
                     f"complete, skipped; {cut} cut from longer runs), "
                     f"{sum(s.n_to_run for s in todo)} seeds to play ({resumed} from a "
                     f"checkpoint) on {backend} {where}")  # fmt: skip
        notes += [
            f"setting {p.name} seed {seed}: continues from episode {p.written[seed]}"
            for p in plays
            for seed in sorted(p.states)
        ]
        for line in notes:
            _log(root, line)
        played, statuses = 0, [p.status for p in plays]

        def changed() -> None:  # sweep.json is rewritten when a setting is complete or failed
            nonlocal played, statuses
            played += 1
            if [p.status for p in plays] != statuses:
                statuses = [p.status for p in plays]
                record()

        try:
            driver.drive(plays, backend=backend, workers=workers, address=address,
                         progress=progress, checkpoint_every=every, fail_fast=False,
                         on_start=on_start, log=lambda *args: _log(root, *args),
                         on_change=changed)  # fmt: skip
        except BaseException as err:
            for state in todo:
                if state.status == RUNNING:
                    state.status = PENDING
            record("interrupted")
            why = driver._reason(err)
            _log(root, f"sweep interrupted ({why}); the seeds played and checkpoints are kept")
            raise
        outcome = SweepOutcome(root, states, played, resumed, time.perf_counter() - t0)
        execution["finished"] = now()
        record(FAILED if outcome.failed else COMPLETE)
        _log(root, outcome.summary())
        return outcome
    finally:
        os.close(held)
        driver.release_backend()  # a Ray started for this sweep that no drive shut down


def _reserve(root: Path, state: SettingState, game, workers: int, notes: list) -> Play:
    """A setting's run folder, continued or reserved anew, as a :class:`Play`."""
    setting, config = state.setting, state.setting.config
    target = root / setting.name
    if state.action == "resume":
        reservation, manifest = store.Reservation.resume(target, hold=False)  # the sweep holds root
        p, lines = continued(
            setting.name, config, game, reservation, manifest, workers, strict=False
        )
        notes += [f"setting {setting.name}: {line}" for line in lines]
        if p is not None:
            return p
        state.replace_folder = True  # it played another game: the package changed since
    if state.replace_folder and target.exists():
        store.check_destination(target, overwrite=True, in_sweep=True)  # still ours alone
        store._remove_own(target)  # this program's files only, whatever came meanwhile
    sweep = {"folder": str(root.resolve()), "setting": setting.name}
    return new_play(setting.name, config, game, target, workers, sweep=sweep)


def _link(root: Path, todo: list[SettingState], plays: list[Play], notes: list) -> None:
    """Give each prefix setting its source's play, or the seeds of its complete folder."""
    by_name = {state.setting.name: p for state, p in zip(todo, plays, strict=True)}
    for state, q in zip(todo, plays, strict=True):
        sweep = q.manifest.setdefault("sweep", {})
        sweep.pop("prefix_of", None)
        if state.source in by_name:
            q.source = by_name[state.source]
        elif state.source is not None:
            folder, cut = root / state.source, {}
            try:
                df, _ = store.load_run(folder)
                for seed in q.to_play:
                    plans = read_plans(folder / PLANS_FILE, seed) if q.config.save_plans else None
                    rows = df[df["seed"] == seed].reset_index(drop=True)
                    cut[seed] = driver.prefix_result((rows, plans), q.config.episodes)
            except (RunFolderError, PlansFileError) as err:
                notes.append(f"setting {q.name}: not cut from {state.source} ({err}): played")
                state.source = None
                continue
            q.done.update(cut)
        if state.source is not None:
            q.states = {}  # its seeds are cut from the source's, never continued
            sweep["prefix_of"] = state.source  # the manifest says where its seeds come from


def _log(root: Path, message: str, error: BaseException | str | None = None) -> None:
    """Append a line (and a traceback, indented) to ``sweep.log``."""
    lines = [f"{now()} {message}"]
    if isinstance(error, BaseException):
        error = "".join(traceback.format_exception(error))
    if error:
        lines += ["    " + line for line in str(error).rstrip().splitlines()]
    with open(root / LOG_FILE, "a") as f:
        f.write("\n".join(lines) + "\n")
        f.flush()
        os.fsync(f.fileno())
