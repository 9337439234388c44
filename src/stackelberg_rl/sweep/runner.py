"""A sweep: every seed of every setting, on local processes or Ray, written to a sweep folder.

:func:`plan` says what a sweep would do with what its folder already holds (nothing changes on
disk); :func:`run_grid` does it. Before the first task: the folder, every setting's folder, every
game (built here, once per distinct game) and the memory of every setting are checked; then
``sweep.json`` is written. Tasks — one seed of one setting — are given to the backend longest
first, so that the cores stay busy to the end. As each task's rows come back they are kept in
``.parts``; once a setting's seeds are all there its run folder is written (atomically, the
same folder ``run`` writes) and the parts removed. A seed that plays sends its checkpoint every
``checkpoint_every`` seconds (and, on the local backend, when the sweep is interrupted); the
driver keeps the newest in ``.parts`` until the seed is done. A failed task is logged with its
traceback and its setting marked failed; the others go on. Running the sweep again skips what is
complete, keeps the seeds already played, continues each unfinished seed from its checkpoint (to
the rows it would have had uninterrupted, bit for bit, ``wall_time`` aside; a damaged checkpoint
is logged and its seed starts afresh), and plays what is missing or failed.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..experiments import RunConfig
from ..experiments import checkpoint as ckpt
from ..experiments.config import check_checkpoint_every, dumps, jsonable
from ..experiments.executors import progress_bar
from ..experiments.loop import DEFAULT_CHECKPOINT_EVERY
from ..experiments.resources import check_game_fits, check_run_fits
from ..experiments.runs import game_record, plans_record, run_manifest
from ..experiments.store import NewFolder, Reservation, now
from ..games import Game
from .backends import BACKENDS, Result, Task, run_local, run_ray
from .folder import (
    COMPLETE,
    FAILED,
    PENDING,
    RUNNING,
    SettingState,
    SweepFolder,
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


def plan(settings: list[Setting], out: str | os.PathLike) -> list[SettingState]:
    """What a sweep of ``settings`` into ``out`` would do; nothing is written.

    Raises:
        SweepFolderError: ``out``, or a setting's folder in it, cannot be used.
    """
    folder = SweepFolder(Path(out))
    previous = folder.check() or {}
    before = {s.get("name"): s for s in previous.get("settings", []) if isinstance(s, dict)}
    return [folder.state_of(s, before.get(s.name)) for s in settings]


def _cost(task: Task, game: Game) -> float:
    """A task's rough cost, to start the longest first: episodes × steps × feature work.

    Planning re-evaluates every stored next state (math.md §5: ``k·|A||B|`` features per step
    at episode ``k``), so a learner that re-plans every episode costs ``O(K²)``, the others about
    ``O(K)``; a resumed seed costs what it has left.
    """
    d, A, B, H = game.dim, game.n_leader_actions, game.n_follower_actions, game.horizon
    agent, K = task.config.agent, task.config.episodes
    done = ckpt.peek(task.state)["episodes_done"] if task.state is not None else 0
    cost = (K - done) * H * (d * d + A * B * d)
    if agent.kind.endswith("lsvi-ucb") and agent.schedule == "every":
        cost += H * A * B * d * (K - done) * (K + done - 1) / 2  # Σ k over the episodes left
    return cost


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
    if workers is not None and (
        isinstance(workers, bool) or int(workers) != workers or workers < 1
    ):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    every = check_checkpoint_every(checkpoint_every)
    check_settings(settings)
    t0 = time.perf_counter()
    if isinstance(out, NewFolder):
        states = [SettingState(s) for s in settings]  # a new folder holds nothing yet
    else:
        states = plan(settings, Path(out))
    todo = [s for s in states if s.action != "skip"]
    n_tasks = sum(len(s.to_run) for s in todo)
    workers = int(workers or os.cpu_count() or 1)
    local_workers = max(1, min(workers, n_tasks))

    games: dict[str, Game] = {}  # by SHA-256
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
        games[game.fingerprint()] = game

    root = Reservation.make(out).target if isinstance(out, NewFolder) else Path(out)
    folder = SweepFolder(root)
    if on_folder is not None:
        on_folder(root)
    tasks: list[Task] = []
    damaged: list[str] = []
    for i, state in enumerate(states):
        if state.action == "skip":
            continue
        fp = built[_spec_key(state.setting.config)].fingerprint()
        for seed in state.to_run:
            data = _checkpoint(folder, state, seed, fp, damaged)
            tasks.append(Task(0, i, state.setting.name, state.setting.config, seed, fp, data))
    tasks.sort(key=lambda t: (-_cost(t, games[t.fingerprint]), t.setting, t.seed))
    tasks = [replace(t, index=k) for k, t in enumerate(tasks)]

    execution = {
        "backend": backend,
        "workers": local_workers if backend == "local" else workers,
        "address": address,
        "started": now(),
    }

    origin = provenance()

    def record(status: str) -> None:
        folder.write_record(sweep_record(states, text, source, execution, status, origin))

    for state in todo:
        if state.replace_folder:
            folder.remove_run_folder(state.setting)
        state.status, state.failed = RUNNING, {}
    record(RUNNING)
    skipped = len(states) - len(todo)
    resumed = [t for t in tasks if t.state is not None]
    folder.log(
        f"sweep started: {len(states)} settings ({skipped} complete, skipped), {len(tasks)} "
        f"seeds to play ({len(resumed)} from a checkpoint) on {backend}"
        + (f" with {local_workers} workers" if backend == "local" else f" at {address or 'local'}")
    )
    for line in damaged:
        folder.log(line)
    for task in resumed:
        episodes = ckpt.peek(task.state)["episodes_done"]
        folder.log(f"setting {task.name} seed {task.seed}: continues from episode {episodes}")

    def finish_setting(state: SettingState) -> None:
        setting = state.setting
        try:
            df, plans = folder.load_parts(setting)
            game = built[_spec_key(setting.config)]
            manifest = run_manifest(setting.config, game, infos[setting.name], execution["workers"])
            manifest["sweep"] = {"folder": str(root.resolve()), "setting": setting.name}
            # A folder there now is one this sweep began and an interruption cut short (its
            # parts are all kept): written again.
            folder.remove_run_folder(setting)
            reservation = Reservation.make(root / setting.name)
            reservation.start(dumps(manifest))
            if plans is not None:
                manifest["plans"] = plans_record(plans, len(df))
            elapsed = float(df.groupby("seed")["wall_time"].max().sum())
            manifest.update(status=COMPLETE, finished=now(), elapsed_seconds=elapsed)
            reservation.finish(df, dumps(manifest), plans)
        except Exception as err:  # a folder that cannot be written fails this setting only
            state.status = FAILED
            state.failed[-1] = _last_line(err)
            folder.log(f"setting {setting.name}: its run folder could not be written", err)
            return
        folder.drop_parts(setting)
        state.status = COMPLETE
        folder.log(f"setting {setting.name}: complete")

    view = _View(progress, tasks, skipped)
    played = [0]
    # The episodes of each task's checkpoint kept in .parts (inf once the task is done).
    kept = {t.index: (ckpt.peek(t.state)["episodes_done"] if t.state else 0) for t in tasks}

    def on_progress(index: int, done: int) -> None:
        view.update(index, done)

    def on_checkpoint(index: int, data: bytes) -> None:
        task = tasks[index]
        episodes = ckpt.peek(data)["episodes_done"]
        if episodes <= kept[index]:
            return  # the task is done, or a newer state is kept (messages may cross)
        folder.save_checkpoint(states[task.setting].setting, task.seed, data)
        kept[index] = episodes

    def on_done(task: Task, result: Result | None, error: str | None) -> None:
        # Called again with the same result if an interruption cut it short (run_jobs).
        state = states[task.setting]
        kept[task.index] = math.inf
        if error is not None:
            state.failed[task.seed] = error.strip().splitlines()[-1]
            state.status = FAILED
            folder.log(f"setting {task.name} seed {task.seed}: failed", error)
        else:
            df, plans = result
            folder.save_part(state.setting, task.seed, df, plans)
            if task.seed not in state.done:
                state.done.append(task.seed)
            if not state.to_run and not state.failed:
                finish_setting(state)
        view.finish(task.index, error is None)
        played[0] += 1
        record(RUNNING)

    try:
        for state in todo:  # every seed kept from an earlier sweep
            if not state.to_run:
                finish_setting(state)
        with view:
            if not tasks:
                pass  # nothing to play: no pool, no cluster
            elif backend == "local":
                run_local(tasks, local_workers, on_progress, on_done, on_start,
                          on_checkpoint=on_checkpoint, checkpoint_every=every)  # fmt: skip
            else:
                run_ray(tasks, games, on_progress, on_done, address=address, workers=workers,
                        on_checkpoint=on_checkpoint, checkpoint_every=every)  # fmt: skip
    except BaseException as err:
        for state in todo:
            if state.status == RUNNING:
                state.status = PENDING
        record("interrupted")
        what = type(err).__name__ if not str(err) else f"{type(err).__name__}: {err}"
        if isinstance(getattr(err, "signum", None), int):
            what = f"signal {signal.Signals(err.signum).name}"
        folder.log(f"sweep interrupted ({what}); the seeds played and checkpoints are kept")
        raise
    for state in todo:
        if state.status == RUNNING:  # a seed failed to come back without an error
            state.status = FAILED if state.to_run else COMPLETE
    outcome = SweepOutcome(root, states, played[0], len(resumed), time.perf_counter() - t0)
    execution["finished"] = now()
    record(FAILED if outcome.failed else COMPLETE)
    folder.log(outcome.summary())
    return outcome


def _checkpoint(
    folder: SweepFolder, state: SettingState, seed: int, fingerprint: str, damaged: list[str]
) -> bytes | None:
    """The checkpoint a seed continues from, checked whole; ``None`` to start afresh.

    A checkpoint that cannot be used is told in ``damaged`` (for the log), never raised.
    """
    try:
        data = folder.read_checkpoint(state.setting, seed)
        if data is not None:
            where = f"the checkpoint of seed {seed}"
            ckpt.read(data, state.setting.config, fingerprint, seed, where)
        return data
    except ckpt.CheckpointError as err:
        damaged.append(
            f"setting {state.setting.name} seed {seed}: its checkpoint cannot be used ({err}); "
            "the seed starts from episode 0"
        )
        return None


def _spec_key(config: RunConfig) -> str:
    """The game's specification as text: settings with equal keys play one game."""
    return json.dumps(jsonable(asdict(config.game)), sort_keys=True)


def _last_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err) else ''}"


@dataclass
class _View:
    """One rich progress bar for the sweep (episodes of every task), a line per running task."""

    enabled: bool
    tasks: list[Task]
    skipped: int
    _bar: object = None
    _total: object = None
    _lines: dict = field(default_factory=dict)
    _done: dict = field(default_factory=dict)
    _finished: int = 0

    def __enter__(self) -> _View:
        if not self.enabled or not self.tasks:
            return self
        self._bar = progress_bar()
        self._bar.__enter__()
        episodes = sum(t.config.episodes for t in self.tasks)
        self._total = self._bar.add_task(self._title(), total=episodes)
        return self

    def _title(self) -> str:
        return f"[bold]sweep[/bold] {self._finished}/{len(self.tasks)} seeds, episodes"

    def update(self, index: int, done: int) -> None:
        self._done[index] = done
        if self._bar is None:
            return
        task = self.tasks[index]
        if index not in self._lines:
            self._lines[index] = self._bar.add_task(
                f"  {task.name} seed {task.seed}", total=task.config.episodes
            )
        self._bar.update(self._lines[index], completed=done)
        self._bar.update(self._total, completed=sum(self._done.values()))

    def finish(self, index: int, ok: bool) -> None:
        self._finished += 1
        self._done[index] = self.tasks[index].config.episodes
        if self._bar is None:
            return
        line = self._lines.pop(index, None)
        if line is not None:
            self._bar.remove_task(line)
        self._bar.update(self._total, completed=sum(self._done.values()), description=self._title())

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
