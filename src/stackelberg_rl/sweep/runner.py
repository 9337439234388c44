"""A sweep: every seed of every setting, on local processes or Ray, written to a sweep folder.

:func:`preview` says what a sweep would do with what its folder already holds (nothing changes
on disk); :func:`run_grid` does it. Before the first task: the folder, every setting's folder,
every game (built here, once per distinct game) and the memory of every setting are checked;
then every setting's run folder is reserved (or taken back, to continue it) and ``sweep.json``
written. The seeds are played by the one driver (:func:`stackelberg_rl.experiments.driver.
drive`), which writes each setting's run folder — the very folder ``run`` writes, with its
checkpoints — and finishes it once its seeds are done. A failed seed is logged with its
traceback and its setting marked failed; the others go on. Running the sweep again skips what is
complete, continues each unfinished setting's run folder from its checkpoints (to the rows it
would have had uninterrupted, bit for bit, ``wall_time`` aside; a damaged checkpoint is logged
and its seed starts afresh), and plays what is missing or failed.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .._files import jsonable
from .._validate import integer
from ..experiments.checkpoint import peek
from ..experiments.config import BACKENDS, check_checkpoint_every, dumps
from ..experiments.driver import Play, _reason, check_backend, drive
from ..experiments.loop import DEFAULT_CHECKPOINT_EVERY
from ..experiments.resources import check_game_fits, check_results_fit, check_run_fits
from ..experiments.runs import continued, game_record, run_manifest
from ..experiments.store import NewFolder, Reservation, RunFolderError, now, provenance
from ..games import Game
from .folder import (
    COMPLETE,
    FAILED,
    PENDING,
    RUNNING,
    SettingState,
    SweepFolder,
    SweepFolderError,
    sweep_record,
)
from .settings import Setting, check_settings


class SettingError(ValueError):
    """A setting that cannot run (its game cannot be built, or it does not fit in memory)."""

    def __init__(self, setting: Setting, message: str) -> None:
        super().__init__(f"setting {setting.name}: {message}")
        self.setting = setting
        self.reason = message


@dataclass
class SweepOutcome:
    """What a sweep did: every setting's state, and where."""

    root: Path
    states: list[SettingState]
    tasks: int = 0
    """Tasks (seeds) played by this call."""
    resumed: int = 0
    """Of those, the seeds that continued from a checkpoint."""
    seconds: float = 0.0

    @property
    def failed(self) -> list[SettingState]:
        """Settings with a failed seed."""
        return [s for s in self.states if s.status == FAILED]

    def summary(self) -> str:
        """One line: how many settings are complete, skipped, failed; where the log is."""
        n = len(self.states)
        skipped = sum(s.action == "skip" for s in self.states)
        complete = sum(s.status == COMPLETE for s in self.states)
        text = (
            f"{n} setting{'s' * (n != 1)}: {complete} complete ({skipped} already were), "
            f"{len(self.failed)} failed; {self.tasks} seed{'s' * (self.tasks != 1)} played"
            + (f" ({self.resumed} from a checkpoint)" if self.resumed else "")
            + f" in {self.seconds:.1f} s; sweep folder {self.root}"
        )
        if self.failed:
            names = ", ".join(s.setting.name for s in self.failed[:3])
            more = ", …" if len(self.failed) > 3 else ""
            text += f"; failed: {names}{more} (tracebacks in {self.root / 'sweep.log'})"
        return text


def preview(
    settings: list[Setting], out: str | os.PathLike, same_settings: bool = False
) -> list[SettingState]:
    """What a sweep of ``settings`` into ``out`` would do (its dry run); nothing is written.

    Raises:
        SweepFolderError: ``out``, or a setting's folder in it, cannot be used; with
            ``same_settings``, ``out`` holds a sweep of other settings.
    """
    folder = SweepFolder(Path(out))
    previous = folder.check() or {}
    recorded = [s.get("name") for s in previous.get("settings", []) if isinstance(s, dict)]
    names = {s.name for s in settings}
    if same_settings and previous and sorted(recorded) != sorted(names):
        theirs = ", ".join(n for n in recorded if n not in names)
        ours = ", ".join(s.name for s in settings if s.name not in recorded)
        raise SweepFolderError(
            f"{out} holds a sweep of other settings ({theirs or 'none'} there, "
            f"{ours or 'none'} here): it is left as it is; give the same options, or choose "
            "another --out"
        )
    for s in settings:  # arithmetic only: the results of a setting must fit in memory
        try:
            check_results_fit(s.config)
        except MemoryError as err:
            raise SettingError(s, str(err)) from None
    if not previous and not folder.root.is_dir():
        return [SettingState(s) for s in settings]  # a new folder: nothing to look at
    before = {s.get("name"): s for s in previous.get("settings", []) if isinstance(s, dict)}
    present = {p.name for p in folder.root.iterdir()}
    return [
        folder.state_of(s, before.get(s.name)) if s.name in present else SettingState(s)
        for s in settings
    ]


def preview_lines(states: list[SettingState], out: str | os.PathLike, most: int = 20) -> list[str]:
    """:func:`preview`'s answer for a terminal: at most ``most`` settings, then the totals.

    A line per setting (``NAME  run 3 seeds (0, 1, 2): why`` or ``NAME  skip: complete``),
    the settings to run first; then how many more there are, and one line of totals. Its cost
    does not grow with the number of seeds (seed lists are abbreviated).
    """
    todo = [s for s in states if s.action != "skip"]
    shown = (todo + [s for s in states if s.action == "skip"])[:most]
    lines = []
    for state in shown:
        if state.action == "skip":
            lines.append(f"{state.setting.name}  skip: complete")
            continue
        n = state.n_to_run
        what = f"run {n} seed{'s' * (n != 1)} ({_seed_list(state)})"
        lines.append(f"{state.setting.name}  {what}" + (f": {state.why}" if state.why else ""))
    if len(states) > len(shown):
        lines.append(f"… and {len(states) - len(shown)} more settings")
    seeds = sum(s.n_to_run for s in todo)
    lines.append(
        f"{len(states)} settings in {out}: {len(todo)} to run ({seeds} seeds), "
        f"{len(states) - len(todo)} complete and skipped"
    )
    return lines


def _seed_list(state: SettingState) -> str:
    """The seeds to run, the first six and how many (seeds kept are as many as checkpoints)."""
    config, done = state.setting.config, set(state.done)
    seeds = range(config.seed, config.seed + config.seeds)
    first = list(itertools.islice((s for s in seeds if s not in done), 7))
    if len(first) <= 6:
        return ", ".join(map(str, first))
    return f"{', '.join(map(str, first[:6]))}, … ({state.n_to_run} in all)"


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
) -> SweepOutcome:
    """Run every seed of every setting not yet complete in ``out`` (see the module).

    Args:
        settings: named run configurations (:func:`~.settings.name_settings`), with distinct
            names (:func:`~.settings.check_settings`).
        out: the sweep folder, created if need be; or a :class:`~stackelberg_rl.experiments.
            NewFolder` for a new one (made once every check has passed).
        backend: ``"local"`` (processes on this machine) or ``"ray"``.
        workers: local processes (default: every core; 1 plays in this process), or the CPUs of
            a Ray started here.
        address: the Ray cluster (``HOST:6379``); default: the one this process is connected
            to, or a new local one.
        text: the sweep file's text, kept in ``sweep.json``.
        source: the sweep file's path, kept in ``sweep.json``.
        progress: one progress bar for the sweep, with a line per running task.
        on_start: called with the local workers' process ids once they run.
        on_folder: called with the sweep folder before anything is played.
        checkpoint_every: seconds between a playing seed's checkpoints (``inf``: on the local
            backend, only when interrupted). It does not change the results.
        same_settings: refuse a folder whose sweep has other settings (the demo's).

    Returns:
        Every setting's state; settings that failed are marked so, and run again next time.

    Raises:
        ValueError: bad settings (:func:`~.settings.check_settings`) or options.
        SweepFolderError: ``out``, or a setting's folder in it, cannot be used.
        SettingError: a setting's game cannot be built, or it would not fit in memory.
        BackendUnavailableError: Ray is not installed, or no cluster answers.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if workers is not None:
        integer(workers, "workers", low=1)
    every = check_checkpoint_every(checkpoint_every)
    check_settings(settings)
    t0 = time.perf_counter()
    if isinstance(out, NewFolder):
        states = [SettingState(s) for s in settings]  # a new folder holds nothing yet
    else:
        states = preview(settings, Path(out), same_settings)
    n_tasks = sum(len(s.to_run) for s in states if s.action != "skip")
    if n_tasks:  # a complete sweep asks no backend for anything
        check_backend(backend, address)
    workers = int(workers or os.cpu_count() or 1)
    local_workers = max(1, min(workers, n_tasks))
    games: dict[str, tuple[Game, dict]] = {}  # by setting: the game and the manifest's record
    built: dict[str, Game] = {}  # by the game's specification: settings share a game
    for state in states:
        config = state.setting.config
        if state.action == "skip":
            continue
        try:
            key = json.dumps(jsonable(asdict(config.game)), sort_keys=True)
            if key not in built:
                check_game_fits(config)
                built[key] = config.game.make()
            game = built[key]
            games[state.setting.name] = (game, game_record(config, game, given=False))
            check_run_fits(config, game, min(local_workers, config.seeds))
        except (ValueError, MemoryError) as err:
            raise SettingError(state.setting, str(err)) from None

    root = Reservation.make(out).target if isinstance(out, NewFolder) else Path(out)
    root.mkdir(parents=True, exist_ok=True)
    folder = SweepFolder(root)
    lock = folder.lock()  # held to the end: a second sweep of this folder is refused
    try:
        if not isinstance(out, NewFolder):  # judged again, now that no other sweep plays here
            states = preview(settings, root, same_settings)
        if on_folder is not None:
            on_folder(root)
        execution = {
            "backend": backend,
            "workers": local_workers if backend == "local" else workers,
            "address": address,
            "started": now(),
        }
        origin = provenance()
        todo = [s for s in states if s.action != "skip"]
        plays: list[Play] = []

        def record(status: str = RUNNING) -> None:
            for state, p in zip(todo, plays, strict=False):
                state.done = sorted(p.done) if p.status != "complete" else []
                state.failed = dict(p.failed)
                state.status = {"complete": COMPLETE, "failed": FAILED}.get(p.status, state.status)
            folder.write_record(sweep_record(states, text, source, execution, status, origin))

        unusable: list[str] = []
        try:
            for state in todo:
                game, info = games[state.setting.name]
                plays.append(_reserve(folder, state, game, info, execution["workers"], unusable))
                state.status = RUNNING
        except BaseException as err:
            for p in plays:  # what this call reserved and has not played goes back as it was
                if not p.reservation.resumed:
                    p.reservation.abandon()
            if isinstance(err, RunFolderError) and not isinstance(err, SweepFolderError):
                raise SweepFolderError(str(err)) from None
            raise
        record()
        resumed = sum(len(p.states) for p in plays)
        where = (
            f"with {local_workers} workers" if backend == "local" else f"at {address or 'local'}"
        )
        folder.log(
            f"sweep started: {len(states)} settings ({len(states) - len(todo)} complete, "
            f"skipped), {n_tasks} seeds to play ({resumed} from a checkpoint) on {backend} {where}"
        )
        if (root / ".parts").is_dir():
            unusable.append(".parts/ holds seeds in the layout of stackelberg-rl 0.1, not read: "
                            "they are played again (remove .parts/ yourself)")  # fmt: skip
        for line in unusable:
            folder.log(line)
        for p in plays:
            for seed, data in sorted(p.states.items()):
                episodes = peek(data)["episodes_done"]
                folder.log(f"setting {p.name} seed {seed}: continues from episode {episodes}")
        played = [0]

        def changed() -> None:
            played[0] += 1
            record()

        try:
            drive(plays, backend=backend, workers=execution["workers"], address=address,
                  progress=progress, checkpoint_every=every, fail_fast=False,
                  on_start=on_start, log=folder.log, on_change=changed)  # fmt: skip
        except BaseException as err:
            for state in todo:
                if state.status == RUNNING:
                    state.status = PENDING
            record("interrupted")
            folder.log(
                f"sweep interrupted ({_reason(err)}); the seeds played and checkpoints are kept"
            )
            raise
        record()  # every setting's final state (some finish without playing a seed)
        outcome = SweepOutcome(root, states, played[0], resumed, time.perf_counter() - t0)
        execution["finished"] = now()
        record(FAILED if outcome.failed else COMPLETE)
        folder.log(outcome.summary())
        return outcome
    finally:
        os.close(lock)


def _reserve(
    folder: SweepFolder, state: SettingState, game: Game, info: dict, workers: int, notes: list
) -> Play:
    """A setting's run folder, taken back to continue it or reserved anew, as a :class:`Play`.

    A checkpoint that cannot be used is told in ``notes`` (for the log); its seed starts afresh.
    """
    setting, config = state.setting, state.setting.config
    target = folder.root / setting.name
    if state.action == "resume":
        reservation, manifest = Reservation.resume(target)
        if (manifest.get("game") or {}).get("sha256") == game.fingerprint():
            p, lines = continued(setting.name, config, game, reservation, manifest, workers, False)
            notes += [f"setting {setting.name}: {line}" for line in lines]
            return p
        state.replace_folder = True  # it played another game: the package changed since
    if state.replace_folder:
        folder.remove_run_folder(setting)
    manifest = run_manifest(config, game, info, workers)
    manifest["sweep"] = {"folder": str(folder.root.resolve()), "setting": setting.name}
    reservation = Reservation.make(target)
    reservation.start(dumps(manifest))
    return Play(setting.name, config, game, reservation, manifest)
