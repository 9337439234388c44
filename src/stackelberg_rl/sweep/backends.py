"""Where a sweep's tasks run: local worker processes, or a Ray cluster.

A task is one seed of one setting; it plays :func:`~stackelberg_rl.experiments.loop.play` (from
the task's checkpoint if it has one) and sends the rows (and plans) back to the driver, which
alone writes to disk: no file system is shared with the workers. So do the checkpoints a task
takes every ``checkpoint_every`` seconds: on the local backend with its progress, on the pool's
queue (:func:`~stackelberg_rl.experiments.executors.run_jobs`); on Ray through the actor that
collects progress for the driver. The same task gives the same rows on any backend and any number of
workers (each seed has its own random streams, and the game a worker plays is checked against the
driver's SHA-256).

A task that raises is reported with its traceback and the others go on. On any interruption
(Ctrl-C, SIGTERM, an error in the driver) the workers are stopped before the exception goes on:
the local backend first asks its playing tasks for their states (for a few seconds), then kills
its processes (they also die with the driver, even on SIGKILL); Ray's tasks are cancelled (the
checkpoints they had sent are handed in first) and a Ray started here is shut down.
"""

from __future__ import annotations

import logging
import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from ..experiments import RunConfig
from ..experiments.executors import Job, reporters, run_jobs
from ..experiments.loop import play
from ..experiments.plans import Plans
from ..games import Game

BACKENDS = ("local", "ray")

Result = tuple[pd.DataFrame, "Plans | None"]
OnProgress = Callable[[int, int], None]
"""Called with ``(task index, episodes done)``."""
OnDone = Callable[["Task", "Result | None", "str | None"], None]
"""Called with a task and its result, or ``None`` and the traceback of its failure."""
OnCheckpoint = Callable[[int, bytes], None]
"""Called with ``(task index, checkpoint)``: the newest state of a task that is playing."""


@dataclass(frozen=True)
class Task:
    """One seed of one setting."""

    index: int
    setting: int
    """The setting's position in the sweep."""
    name: str
    config: RunConfig
    seed: int
    fingerprint: str
    """SHA-256 of the game the driver built: the worker's game must have it."""
    state: bytes | None = None
    """The seed's checkpoint to continue from (:mod:`stackelberg_rl.experiments.checkpoint`)."""


class BackendUnavailableError(RuntimeError):
    """The backend cannot run here (Ray not installed, or no cluster at the address)."""


# ---------------------------------------------------------------------- the worker's side
_GAMES: dict[str, Game] = {}
_GAMES_KEPT = 4
"""Games a worker process keeps built, most recent first (settings often share a game)."""


def game_for(task: Task) -> Game:
    """The game of ``task``, built once per worker process and checked against the driver's."""
    game = _GAMES.get(task.fingerprint)
    if game is None:
        game = task.config.game.make()
        if game.fingerprint() != task.fingerprint:
            raise RuntimeError(
                f"the game built by this worker ({game.fingerprint()[:12]}…) is not the "
                f"driver's ({task.fingerprint[:12]}…): different versions of stackelberg-rl or "
                "numpy on the driver and the workers?"
            )
        while len(_GAMES) >= _GAMES_KEPT:
            _GAMES.pop(next(iter(_GAMES)))
        _GAMES[task.fingerprint] = game
    return game


def play_task(
    task: Task,
    game: Game | None = None,
    report: Callable[[int], None] | None = None,
    checkpoint: Callable[[bytes], None] | None = None,
    every: float = math.inf,
    stop: Callable[[], bool] | None = None,
) -> Result:
    """Play one task: its seed of its setting, on ``game`` or the one built from its spec.

    From the task's state if it has one; ``report``, ``checkpoint``, ``every`` and ``stop`` are
    :func:`~stackelberg_rl.experiments.loop.play`'s.
    """
    if game is None:
        game = game_for(task)
    elif game.fingerprint() != task.fingerprint:
        raise RuntimeError(f"task {task.name} seed {task.seed}: the game shipped is not its game")
    return play(
        game, task.config, task.seed, progress=report, state=task.state,
        checkpoint=checkpoint, checkpoint_every=every, stop=stop,
    )  # fmt: skip


def failure_text(error: BaseException) -> str:
    """The traceback of a task's failure, the worker's own included where the pool kept it."""
    return "".join(traceback.format_exception(error)).rstrip()


# ---------------------------------------------------------------------- local processes
def _local_task(task: Task, every: float, *, channel, stop) -> Result:
    """A task as a job of :func:`~stackelberg_rl.experiments.executors.run_jobs`."""
    report, send = reporters(channel, task.index)
    return play_task(task, None, report, send, every, stop.is_set)


def run_local(
    tasks: list[Task],
    workers: int,
    on_progress: OnProgress,
    on_done: OnDone,
    on_start: Callable[[list[int]], None] | None = None,
    *,
    on_checkpoint: OnCheckpoint | None = None,
    checkpoint_every: float = math.inf,
) -> None:
    """Run ``tasks`` in ``workers`` processes (``1``: in a thread of this process), in order.

    Each worker takes the next task as soon as it is free, so a sweep of many small settings
    keeps every core busy. Each task's checkpoints, every ``checkpoint_every`` seconds and when
    the sweep is interrupted, go to ``on_checkpoint``.
    """
    by_index = {task.index: task for task in tasks}
    run_jobs(
        [Job(task.index, _local_task, (task, checkpoint_every)) for task in tasks],
        workers,
        on_result=lambda i, result: on_done(by_index[i], result, None),
        on_error=lambda i, err: on_done(by_index[i], None, failure_text(err)),
        on_progress=on_progress,
        on_checkpoint=on_checkpoint,
        on_start=on_start,
    )


# ---------------------------------------------------------------------- Ray
def _ray():
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError(
            "the ray backend needs Ray: pip install 'stackelberg-rl[ray]' (on the driver and "
            "on every worker of the cluster)"
        ) from None
    return ray


def _ray_task(task: Task, game: Game, board, every: float) -> Result:
    """A task on a Ray worker: its game from the object store, its news sent to ``board``."""
    ray = _ray()
    step = max(1, task.config.episodes // 20)

    def report(done: int) -> None:
        if done % step == 0 or done == task.config.episodes:
            board.update.remote(task.index, done)  # fire and forget

    def send(data: bytes) -> None:
        # Waited for (a round trip, once a checkpoint interval): once the task's result is
        # ready, the board holds every checkpoint it sent.
        ray.get(board.keep.remote(task.index, data))

    return play_task(task, game, report, send, every)


class _Board:
    """A Ray actor that holds the news of every task for the driver.

    Each task's episodes done (for the progress bar), and the newest checkpoint each task sent
    since the driver last asked.
    """

    def __init__(self) -> None:
        self.done: dict[int, int] = {}
        self.checkpoints: dict[int, bytes] = {}

    def update(self, index: int, done: int) -> None:
        self.done[index] = done

    def keep(self, index: int, data: bytes) -> None:
        self.checkpoints[index] = data

    def snapshot(self) -> tuple[dict[int, int], dict[int, bytes]]:
        """Episodes done by task, and the checkpoints not handed over yet (then dropped here)."""
        checkpoints, self.checkpoints = self.checkpoints, {}
        return dict(self.done), checkpoints


def run_ray(
    tasks: list[Task],
    games: dict[str, Game],
    on_progress: OnProgress,
    on_done: OnDone,
    address: str | None = None,
    workers: int | None = None,
    *,
    on_checkpoint: OnCheckpoint | None = None,
    checkpoint_every: float = math.inf,
) -> None:
    """Run ``tasks`` on a Ray cluster.

    The cluster at ``address``, else the one this process is connected to, else a local one of
    ``workers`` CPUs started here (and shut down at the end).

    Each game is put in the object store once and shared by its tasks. Each task's checkpoints,
    every ``checkpoint_every`` seconds, go to ``on_checkpoint`` (a task that is cancelled
    cannot take one as it stops: its newest periodic one is handed in).

    Raises:
        BackendUnavailableError: Ray is not installed, or no cluster answers at ``address``.
    """
    ray = _ray()
    started = False
    if not ray.is_initialized():
        try:
            quiet = {"log_to_driver": False, "logging_level": logging.ERROR}
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(num_cpus=workers, include_dashboard=False, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as err:
            where = f"at {address}" if address else "on this machine"
            raise BackendUnavailableError(f"cannot start or reach Ray {where}: {err}") from None
        started = True
    pending: dict = {}
    board = None
    shown: dict[int, int] = {}

    def look(timeout: float | None = None) -> None:
        """Hand the board's news to the driver: progress, then the checkpoints sent."""
        done, checkpoints = ray.get(board.snapshot.remote(), timeout=timeout)
        for index, n in done.items():
            if shown.get(index) != n:
                shown[index] = n
                on_progress(index, n)
        if on_checkpoint is not None:
            for index, data in checkpoints.items():
                on_checkpoint(index, data)

    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        board = ray.remote(num_cpus=0)(_Board).remote()
        refs = {fp: ray.put(game) for fp, game in games.items()}
        every = checkpoint_every if on_checkpoint is not None else math.inf
        pending = {remote.remote(t, refs[t.fingerprint], board, every): t for t in tasks}
        last = 0.0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0.2)
            if time.monotonic() - last > 0.5 or ready:
                last = time.monotonic()
                look()
            for ref in ready:
                task = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as err:  # RayTaskError carries the worker's traceback
                    on_done(task, None, failure_text(err))
                else:
                    on_done(task, result, None)
    except BaseException:
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - a task that just finished cannot be cancelled
                pass
        if board is not None and pending:
            try:
                look(timeout=5.0)
            except Exception:  # noqa: BLE001 - the checkpoints are a bonus: the stop goes on
                pass
        raise
    finally:
        if started:
            ray.shutdown()
