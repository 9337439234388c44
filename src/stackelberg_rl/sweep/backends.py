"""Where a sweep's tasks run: local worker processes, or a Ray cluster.

A task is one seed of one setting; it plays :func:`~stackelberg_rl.experiments.loop.play` and
sends the rows (and plans) back to the driver, which alone writes to disk: no file system is
shared with the workers. The same task gives the same rows on any backend and any number of
workers (each seed has its own random streams, and the game a worker plays is checked against the
driver's SHA-256).

A task that raises is reported with its traceback and the others go on. On any interruption
(Ctrl-C, SIGTERM, an error in the driver) the workers are stopped before the exception goes on:
the local pool's processes are killed (they also die with the driver, even on SIGKILL), Ray's
tasks are cancelled and a Ray started here is shut down.
"""

from __future__ import annotations

import logging
import os
import queue as _queue
import signal
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

import pandas as pd

from ..experiments import RunConfig
from ..experiments.executors import die_with_parent
from ..experiments.loop import play
from ..experiments.plans import Plans
from ..games import Game

BACKENDS = ("local", "ray")

Result = tuple[pd.DataFrame, "Plans | None"]
OnProgress = Callable[[int, int], None]
"""Called with ``(task index, episodes done)``."""
OnDone = Callable[["Task", "Result | None", "str | None"], None]
"""Called with a task and its result, or ``None`` and the traceback of its failure."""


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
    task: Task, game: Game | None = None, report: Callable[[int], None] | None = None
) -> Result:
    """Play one task: its seed of its setting, on ``game`` or the one built from its spec."""
    if game is None:
        game = game_for(task)
    elif game.fingerprint() != task.fingerprint:
        raise RuntimeError(f"task {task.name} seed {task.seed}: the game shipped is not its game")
    return play(game, task.config, task.seed, progress=report)


def failure_text(error: BaseException) -> str:
    """The traceback of a task's failure, the worker's own included where the pool kept it."""
    return "".join(traceback.format_exception(error)).rstrip()


# ---------------------------------------------------------------------- local processes
_progress_queue = None


def _init_local_worker(parent_pid: int, progress_queue) -> None:
    global _progress_queue
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the driver stops the workers itself
    _progress_queue = progress_queue


def _local_task(task: Task) -> Result:
    q = _progress_queue

    def report(done: int) -> None:
        if q is not None:
            q.put((task.index, done))

    return play_task(task, report=report)


def run_local(
    tasks: list[Task],
    workers: int,
    on_progress: OnProgress,
    on_done: OnDone,
    on_start: Callable[[list[int]], None] | None = None,
) -> None:
    """Run ``tasks`` in ``workers`` processes (``1``: in this process), in the order given.

    Each worker takes the next task as soon as it is free, so a sweep of many small settings
    keeps every core busy.
    """
    if workers == 1:
        if on_start is not None:
            on_start([])
        for task in tasks:
            try:
                result = play_task(task, report=lambda done, i=task.index: on_progress(i, done))
            except Exception as err:
                on_done(task, None, failure_text(err))
            else:
                on_done(task, result, None)
        return

    from loky import ProcessPoolExecutor
    from loky.backend.context import get_context

    q = get_context("loky").Queue()
    pool = ProcessPoolExecutor(
        max_workers=workers, initializer=_init_local_worker, initargs=(os.getpid(), q)
    )
    try:
        futures = {pool.submit(_local_task, task): task for task in tasks}
        if on_start is not None:
            on_start(sorted(p.pid for p in getattr(pool, "_processes", {}).values()))
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            _drain(q, on_progress)
            for future in done:
                error = future.exception()
                if error is None:
                    on_done(futures[future], future.result(), None)
                else:
                    on_done(futures[future], None, failure_text(error))
        _drain(q, on_progress)
    except BaseException:
        pool.shutdown(wait=True, kill_workers=True)
        raise
    pool.shutdown(wait=True)


def _drain(q, on_progress: OnProgress) -> None:
    while True:
        try:
            index, n = q.get_nowait()
        except (_queue.Empty, OSError, EOFError):
            return
        on_progress(index, n)


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


def _ray_task(task: Task, game: Game, board) -> Result:
    """A task on a Ray worker: the game comes from the object store, progress goes to ``board``."""
    step = max(1, task.config.episodes // 20)

    def report(done: int) -> None:
        if done % step == 0 or done == task.config.episodes:
            board.update.remote(task.index, done)  # fire and forget

    return play_task(task, game, report)


class _Board:
    """A Ray actor that holds every task's episodes done, for the driver's progress bar."""

    def __init__(self) -> None:
        self.done: dict[int, int] = {}

    def update(self, index: int, done: int) -> None:
        self.done[index] = done

    def snapshot(self) -> dict[int, int]:
        return dict(self.done)


def run_ray(
    tasks: list[Task],
    games: dict[str, Game],
    on_progress: OnProgress,
    on_done: OnDone,
    address: str | None = None,
    workers: int | None = None,
) -> None:
    """Run ``tasks`` on a Ray cluster.

    The cluster at ``address``, else the one this process is connected to, else a local one of
    ``workers`` CPUs started here (and shut down at the end).

    Each game is put in the object store once and shared by its tasks.

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
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_task)
        board = ray.remote(num_cpus=0)(_Board).remote()
        refs = {fp: ray.put(game) for fp, game in games.items()}
        pending = {remote.remote(t, refs[t.fingerprint], board): t for t in tasks}
        shown: dict[int, int] = {}
        last = 0.0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=len(pending), timeout=0.2)
            if time.monotonic() - last > 0.5 or ready:
                last = time.monotonic()
                for index, n in ray.get(board.snapshot.remote()).items():
                    if shown.get(index) != n:
                        shown[index] = n
                        on_progress(index, n)
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
        raise
    finally:
        if started:
            ray.shutdown()
