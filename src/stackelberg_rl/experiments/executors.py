"""Where seeds are played: in a thread of this process, or in worker processes.

:func:`run_jobs` plays any list of jobs (a run's seeds for :func:`run_all`, a sweep's tasks for
:mod:`stackelberg_rl.sweep.backends`) and hands their messages and outcomes to the driver.

The pool is loky's (fork-and-exec workers, functions sent by reference or by value): a script can
call :func:`~.runs.run_seeds` at its top level, with no ``if __name__ == "__main__":`` guard.
For a run, each worker receives the game itself once, when it starts, so every seed plays the
very game the caller has (never one rebuilt from its name). Workers die with the process that
started them, even when it is killed with SIGKILL (Linux's parent-death signal); they ignore
SIGINT and SIGTERM, which a terminal or ``kill`` may send to the whole process group, and are
stopped by their parent instead. With one worker the jobs play one after the other in a thread of
this process, so that the main thread, where signals arrive, can ask them to stop between
episodes.

Checkpoints travel from the seeds to the driver, never through a shared file system
(:class:`Checkpointing`): a seed hands its state's bytes to its ``checkpoint`` callback
(:func:`~.loop.play`), the worker sends them with its progress on a queue, and the driver, the
only one that writes the run folder, calls ``on_checkpoint(seed, bytes)``. On an interruption
(``KeyboardInterrupt`` or any other ``BaseException`` that is not an ``Exception``) the driver
sets the stop flag that every seed polls after each episode, waits at most ``grace`` seconds for
the seeds that are playing to stop (each raises :class:`~.checkpoint.SeedStopped` carrying its
state, which goes to ``on_checkpoint`` too; a seed that finishes meanwhile goes to
``on_finished``), then kills the workers and lets the interruption go on. Any other exception
kills the workers at once.
"""

from __future__ import annotations

import ctypes
import functools
import math
import os
import queue as _queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, wait
from dataclasses import dataclass, field

import pandas as pd

from .._signals import signals_held
from ..games import Game
from .checkpoint import SeedStopped
from .config import RunConfig
from .loop import play
from .plans import Plans

_PR_SET_PDEATHSIG = 1
"""``prctl`` option (``<linux/prctl.h>``): the signal a process gets when its parent dies."""

STOP_GRACE = 5.0
"""Seconds the driver waits, after an interruption, for the seeds to hand in their states."""

_game: Game | None = None
_channel = None
_stop = None

Result = tuple[pd.DataFrame, Plans | None]


@dataclass
class Checkpointing:
    """How the seeds of a run are checkpointed: the driver's side of the protocol.

    Every backend carries the same callbacks: it starts seed ``s`` with ``states.get(s)``, passes
    :func:`~.loop.play` a ``checkpoint`` callback that brings the bytes back to the driver's
    ``on_checkpoint(s, data)``, a ``stop`` callable it can set from the driver, and hands each
    finished seed's result to ``on_finished(s, df, plans)`` as it arrives.
    """

    states: dict[int, bytes] = field(default_factory=dict)
    """The checkpoint each seed continues from (seeds without one start afresh)."""
    every: float = math.inf
    """Seconds between a seed's checkpoints (``inf``: only when stopped)."""
    on_checkpoint: Callable[[int, bytes], None] | None = None
    """Called in the driver with a seed's checkpoint; an exception stops the run."""
    on_finished: Callable[[int, pd.DataFrame, Plans | None], None] | None = None
    """Called in the driver with each seed's result as it arrives."""
    grace: float = STOP_GRACE
    """Seconds to wait, after an interruption, for the playing seeds' states."""


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent exits (Linux; elsewhere a no-op).

    If the parent is already gone (it died before this ran), exit at once.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:
        os._exit(1)


def _init_worker(parent_pid: int, game: Game | None, channel, stop) -> None:
    """A worker's start: die with the parent, leave signals to it, keep the game and channels."""
    global _game, _channel, _stop
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _game, _channel, _stop = game, channel, stop


def reporters(channel, key: int) -> tuple[Callable[[int], None], Callable[[bytes], None]]:
    """:func:`~.loop.play`'s ``progress`` and ``checkpoint`` callbacks, as messages on ``channel``.

    Messages: ``("progress", key, episodes done)`` and ``("checkpoint", key, bytes)``.
    """

    def report(done: int) -> None:
        channel.put(("progress", key, done))

    def send(data: bytes) -> None:
        channel.put(("checkpoint", key, data))

    return report, send


def play_seed(
    game: Game | None,
    config: RunConfig,
    seed: int,
    state: bytes | None,
    every: float,
    *,
    channel,
    stop,
) -> Result:
    """One seed (a :class:`Job`'s function), on ``game`` or, if ``None``, the worker's game.

    Its progress and checkpoints go as messages on ``channel`` (:func:`reporters`); ``stop``:
    an event (``is_set()``) the seed polls after every episode.
    """
    report, send = reporters(channel, seed)
    return play(
        _game if game is None else game, config, seed, progress=report, state=state,
        checkpoint=send, checkpoint_every=every, stop=stop.is_set,
    )  # fmt: skip


@dataclass(frozen=True)
class Job:
    """One piece of work for :func:`run_jobs`: ``fn(*args, channel=..., stop=...)``.

    ``fn`` is a module-level function (a worker process imports it by name); it sends its
    messages on ``channel`` under ``key`` (:func:`reporters`) and polls ``stop``.
    """

    key: int
    fn: Callable[..., Result]
    args: tuple


def _run_job(fn: Callable[..., Result], args: tuple) -> Result:
    """A job in a worker process, with the worker's channel and stop event."""
    return fn(*args, channel=_channel, stop=_stop)


class _SeedThread:
    """Jobs one after the other in a daemon thread of this process: the one-worker pool.

    A daemon, so that a seed that does not reach the end of its episode in time never holds up
    the exit of the process; asked to stop, it stops at the end of its episode, and starts no
    other job (even one the driver has not cancelled yet).
    """

    def __init__(self, stop: threading.Event) -> None:
        self._stop = stop
        self._tasks: list[tuple[Future, Callable[[], Result]]] = []

    def submit(self, fn: Callable[[], Result]) -> Future:
        future: Future = Future()
        self._tasks.append((future, fn))
        return future

    def start(self) -> None:
        threading.Thread(target=self._work, name="stackelberg-rl seeds", daemon=True).start()

    def _work(self) -> None:
        for future, fn in self._tasks:
            if self._stop.is_set():
                future.cancel()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as err:  # handed to the driver, which decides
                future.set_exception(err)


def run_jobs(
    jobs: list[Job],
    workers: int,
    *,
    on_result: Callable[[int, Result], None],
    on_progress: Callable[[int, int], None] | None = None,
    on_checkpoint: Callable[[int, bytes], None] | None = None,
    on_error: Callable[[int, BaseException], None] | None = None,
    on_start: Callable[[list[int]], None] | None = None,
    game: Game | None = None,
    grace: float = STOP_GRACE,
) -> None:
    """Run ``jobs`` in the order given, in ``workers`` processes (``1``: a thread of this one).

    Each worker takes the next job as soon as it is free.

    The driver (this thread) hands each job's messages and outcome to the callbacks, by the
    job's key: its progress, its newest checkpoint, its result, or its failure. A job stopped
    by an interruption (:class:`~.checkpoint.SeedStopped`) hands its state to ``on_checkpoint``.

    Args:
        jobs: the work, with distinct keys.
        workers: processes (``1``: a thread of this process).
        on_result: called with a job's key and result as it arrives.
        on_progress: called with ``(key, episodes done)``.
        on_checkpoint: called with ``(key, bytes)``; an exception stops everything.
        on_error: called with a failed job's key and exception, and the others go on; without
            it, the first failure stops everything and is raised (after an interruption,
            failures are dropped).
        on_start: called with the workers' process ids once they run (``[]`` for a thread).
        game: the game the worker processes hold for jobs that play ``game=None``.
        grace: seconds to wait, after an interruption, for the playing jobs' states.

    Raises:
        Whatever a job raised (without ``on_error``), or the interruption, once the jobs are
        stopped (see the module).
    """
    if not jobs:
        return
    pool = None
    futures: dict[Future, int] = {}
    if workers == 1:
        channel, stop = _queue.Queue(), threading.Event()
        pool = _SeedThread(stop)
        futures = {
            pool.submit(functools.partial(j.fn, *j.args, channel=channel, stop=stop)): j.key
            for j in jobs
        }
        pool.start()
        if on_start is not None:
            on_start([])
    else:
        from loky import ProcessPoolExecutor
        from loky.backend.context import get_context

        context = get_context("loky")
        channel, stop = context.Queue(), context.Event()

    def drain() -> None:
        """Hand the messages waiting to the driver: of a job's checkpoints, only the newest."""
        newest: dict[int, bytes] = {}
        while True:
            try:
                kind, key, value = channel.get_nowait()
            except _queue.Empty:
                break
            if kind == "progress":
                if on_progress is not None:
                    on_progress(key, value)
            else:
                newest[key] = value  # a job's messages arrive in the order it sent them
        if on_checkpoint is not None:
            for key, data in newest.items():
                on_checkpoint(key, data)

    handled: set[Future] = set()

    def collect(done: set[Future], stopping: bool = False) -> None:
        """Hand each job's outcome to the driver.

        Once stopping, a failure is dropped: a worker that the interruption reached first (a
        signal sent to the whole process group before it could ignore it) fails its job, and
        the job is played again next time anyway.
        """
        for f in done:
            if f.cancelled() or f in handled:
                continue
            key, err = futures[f], f.exception()
            if isinstance(err, SeedStopped):
                if err.state is not None and on_checkpoint is not None:
                    on_checkpoint(key, err.state)
            elif err is not None:
                if not stopping:
                    if on_error is None:
                        raise err
                    on_error(key, err)
            else:
                on_result(key, f.result())
            # Only once handed over: an outcome whose callback an interruption cut short is
            # handed over again while the jobs stop, rather than lost.
            handled.add(f)

    try:
        if workers > 1:
            with signals_held():  # every worker gets its start-up data before a signal lands
                pool = ProcessPoolExecutor(
                    max_workers=workers,
                    initializer=_init_worker,
                    initargs=(os.getpid(), game, channel, stop),
                )
                futures = {pool.submit(_run_job, j.fn, j.args): j.key for j in jobs}
            if on_start is not None:
                on_start(sorted(p.pid for p in getattr(pool, "_processes", {}).values()))
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
            drain()
            collect(done)
        drain()
    except Exception:
        stop.set()
        for f in futures:
            f.cancel()
        _shutdown(pool)
        raise
    except BaseException:
        # An interruption: the jobs that play hand in their states, then stop.
        stop.set()
        try:
            if futures:
                _stop_jobs(futures, grace, drain, collect)
        finally:
            _shutdown(pool)
        raise
    if workers > 1:
        _close(pool, drain)


def run_all(
    config: RunConfig,
    game: Game,
    workers: int,
    on_progress: Callable[[int, int], None] | None,
    on_start: Callable[[list[int]], None] | None = None,
    *,
    seeds: list[int] | None = None,
    checkpointing: Checkpointing | None = None,
) -> list[Result]:
    """Every seed's table and plans (:func:`~.loop.play`), in seed order, all played on ``game``.

    In a thread of this process when ``workers == 1``; else in ``workers`` processes
    (:func:`run_jobs`, one job per seed; the first failure stops the others and is raised).

    Args:
        config: the experiment.
        game: the game every seed plays.
        workers: processes.
        on_progress: called with ``(seed, episodes done)`` as the seeds progress.
        on_start: called with the workers' process ids once they run (for tests and logs).
        seeds: the seeds to play (default: all of ``config``'s).
        checkpointing: where the seeds continue from and where their checkpoints go (default:
            none taken).

    Raises:
        Whatever a seed raised, or the interruption, once the seeds are stopped.
    """
    seeds = config.run_seeds if seeds is None else list(seeds)
    cp = checkpointing or Checkpointing()
    results: dict[int, Result] = {}

    def on_result(seed: int, result: Result) -> None:
        results[seed] = result
        if cp.on_finished is not None:
            cp.on_finished(seed, *result)

    here = game if workers == 1 else None  # worker processes are given the game once
    jobs = [Job(s, play_seed, (here, config, s, cp.states.get(s), cp.every)) for s in seeds]
    run_jobs(
        jobs, workers, on_result=on_result, on_progress=on_progress,
        on_checkpoint=cp.on_checkpoint, on_start=on_start, game=game, grace=cp.grace,
    )  # fmt: skip
    return [results[s] for s in seeds]


def _close(pool, drain: Callable[[], None]) -> None:
    """Shut the pool down, reading the channel meanwhile.

    A worker process exits only once what it put on the queue is in the pipe, so messages still
    in flight (late checkpoints, which the driver finds stale, and progress) must be read.
    """
    closer = threading.Thread(target=pool.shutdown, kwargs={"wait": True}, daemon=True)
    closer.start()
    while closer.is_alive():
        drain()
        closer.join(0.05)
    drain()


def _stop_jobs(futures: dict, grace: float, drain, collect) -> None:
    """After ``stop`` is set: cancel the jobs not started, take the others' states."""
    for f in futures:
        f.cancel()
    deadline = time.monotonic() + grace
    pending = {f for f in futures if not f.done()}
    collect({f for f in futures if f.done()}, stopping=True)
    while pending and time.monotonic() < deadline:
        done, pending = wait(pending, timeout=min(0.1, max(0.0, deadline - time.monotonic())))
        drain()
        collect(done, stopping=True)
    drain()


def _shutdown(pool) -> None:
    if pool is not None and not isinstance(pool, _SeedThread):
        pool.shutdown(wait=True, kill_workers=True)


def progress_bar():
    """A rich progress bar (description, bar, done/total, elapsed, remaining) for episodes.

    rich loads here, only when a bar is shown.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
