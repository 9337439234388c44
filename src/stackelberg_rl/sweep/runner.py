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

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .._files import jsonable
from .._validate import integer
from ..experiments import RunConfig
from ..experiments.checkpoint import peek
from ..experiments.config import BACKENDS, check_checkpoint_every, dumps
from ..experiments.driver import Play, _reason, drive, read_checkpoints
from ..experiments.loop import DEFAULT_CHECKPOINT_EVERY
from ..experiments.resources import check_game_fits, check_run_fits
from ..experiments.runs import game_record, restart, run_manifest
from ..experiments.store import NewFolder, Reservation, now
from ..games import Game
from .folder import (
    COMPLETE,
    FAILED,
    PENDING,
    RUNNING,
    SettingState,
    SweepFolder,
    SweepFolderError,
    provenance,
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
    if same_settings and previous and sorted(recorded) != sorted(s.name for s in settings):
        theirs = ", ".join(n for n in recorded if n not in {s.name for s in settings})
        ours = ", ".join(s.name for s in settings if s.name not in recorded)
        raise SweepFolderError(
            f"{out} holds a sweep of other settings ({theirs or 'none'} there, "
            f"{ours or 'none'} here): it is left as it is; give the same options, or choose "
            "another --out"
        )
    before = {s.get("name"): s for s in previous.get("settings", []) if isinstance(s, dict)}
    return [folder.state_of(s, before.get(s.name)) for s in settings]


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
    todo = [s for s in states if s.action != "skip"]
    n_tasks = sum(len(s.to_run) for s in todo)
    workers = int(workers or os.cpu_count() or 1)
    local_workers = max(1, min(workers, n_tasks))

    built: dict[str, Game] = {}  # by specification
    infos: dict[str, dict] = {}  # the manifest's game record, by setting
    for state in todo:
        config = state.setting.config
        try:
            if _spec_key(config) not in built:
                check_game_fits(config)
                built[_spec_key(config)] = config.game.make()
            game = built[_spec_key(config)]
            infos[state.setting.name] = game_record(config, game, given=False)
            check_run_fits(config, game, min(local_workers, config.seeds))
        except (ValueError, MemoryError) as err:
            raise SettingError(state.setting, str(err)) from None

    root = Reservation.make(out).target if isinstance(out, NewFolder) else Path(out)
    folder = SweepFolder(root)
    if on_folder is not None:
        on_folder(root)
    execution = {
        "backend": backend,
        "workers": local_workers if backend == "local" else workers,
        "address": address,
        "started": now(),
    }
    origin = provenance()

    def record(status: str = RUNNING) -> None:
        for state, p in zip(todo, plays, strict=False):
            state.done = sorted(p.done) if p.status != COMPLETE else list(p.config.run_seeds)
            state.failed = dict(p.failed)
            state.status = {"complete": COMPLETE, "failed": FAILED}.get(p.status, state.status)
        folder.write_record(sweep_record(states, text, source, execution, status, origin))

    plays: list[Play] = []
    unusable: list[str] = []
    try:
        for state in todo:
            plays.append(_reserve(folder, state, built, infos, execution["workers"], unusable))
            state.status = RUNNING
    except BaseException:
        for p in plays:  # what this call reserved and has not played goes back as it was
            if not p.reservation.resumed:
                p.reservation.abandon()
        raise
    record()
    resumed = sum(len(p.states) for p in plays)
    skipped = len(states) - len(todo)
    folder.log(
        f"sweep started: {len(states)} settings ({skipped} complete, skipped), {n_tasks} "
        f"seeds to play ({resumed} from a checkpoint) on {backend}"
        + (f" with {local_workers} workers" if backend == "local" else f" at {address or 'local'}")
    )
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
        drive(plays, backend=backend, workers=local_workers if backend == "local" else workers,
              address=address, progress=progress, checkpoint_every=every, fail_fast=False,
              on_start=on_start, log=folder.log, on_change=changed)  # fmt: skip
    except BaseException as err:
        for state in todo:
            if state.status == RUNNING:
                state.status = PENDING
        record("interrupted")
        folder.log(f"sweep interrupted ({_reason(err)}); the seeds played and checkpoints are kept")
        raise
    outcome = SweepOutcome(root, states, played[0], resumed, time.perf_counter() - t0)
    execution["finished"] = now()
    record(FAILED if any(p.status != COMPLETE for p in plays) else COMPLETE)
    folder.log(outcome.summary())
    return outcome


def _reserve(
    folder: SweepFolder,
    state: SettingState,
    built: dict[str, Game],
    infos: dict[str, dict],
    workers: int,
    unusable: list[str],
) -> Play:
    """A setting's run folder, reserved anew or taken back to continue it, as a :class:`Play`."""
    setting, config = state.setting, state.setting.config
    game = built[_spec_key(config)]
    target = folder.root / setting.name
    if state.action == "resume":
        reservation, manifest = Reservation.resume(target)
        lines = []
        try:
            sha256 = game.fingerprint()
            if (manifest.get("game") or {}).get("sha256") != sha256:
                raise SweepFolderError(f"{target} played another game")
            states, done, lines = read_checkpoints(target, config, sha256, strict=False)
        except SweepFolderError:
            state.action, state.replace_folder = "run", True
        else:
            unusable += [f"setting {setting.name}: {line}" for line in lines]
            p = Play(setting.name, config, game, reservation, manifest, states, done)
            p.previous_seconds = restart(p, workers)
            return p
    if state.replace_folder:
        folder.remove_run_folder(setting)
    manifest = run_manifest(config, game, infos[setting.name], workers)
    manifest["sweep"] = {"folder": str(folder.root.resolve()), "setting": setting.name}
    reservation = Reservation.make(target)
    try:
        reservation.start(dumps(manifest))
    except BaseException:
        reservation.abandon()
        raise
    return Play(setting.name, config, game, reservation, manifest)


def _spec_key(config: RunConfig) -> str:
    """The game's specification as text: settings with equal keys play one game."""
    return json.dumps(jsonable(asdict(config.game)), sort_keys=True)
