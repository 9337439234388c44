"""Where the seeds of a run are played: in this process, or in a pool of worker processes.

The pool is loky's (fork-and-exec workers, functions sent by reference or by value): a script can
call :func:`~.sweep.run_sweep` at its top level, with no ``if __name__ == "__main__":`` guard.
Each worker receives the game itself once, when it starts, so every seed plays the very game the
caller has (never one rebuilt from its name). Workers die with the process that started them,
even when it is killed with SIGKILL (Linux's parent-death signal); they ignore SIGINT, which a
terminal sends to the whole process group, and are stopped by their parent instead: on any
exception, ``KeyboardInterrupt`` or other interruption the pool is shut down and its workers
killed before the exception goes on.
"""

from __future__ import annotations

import ctypes
import os
import queue as _queue
import signal
import sys
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, wait

import pandas as pd

from ..games import Game
from .config import RunConfig
from .loop import play
from .plans import Plans

_PR_SET_PDEATHSIG = 1
"""``prctl`` option (``<linux/prctl.h>``): the signal a process gets when its parent dies."""

_game: Game | None = None
_progress = None


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


def _init_worker(parent_pid: int, game: Game, progress_queue) -> None:
    """A worker's start: die with the parent, leave SIGINT to it, keep the game and the queue."""
    global _game, _progress
    die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _game, _progress = game, progress_queue


def _run_seed(config: RunConfig, seed: int) -> tuple[pd.DataFrame, Plans | None]:
    """One seed in a worker process, on the game the worker was given."""
    report = None
    if _progress is not None:
        q = _progress

        def report(done: int) -> None:
            q.put((seed, done))

    return play(_game, config, seed, progress=report)


def run_all(
    config: RunConfig,
    game: Game,
    workers: int,
    on_progress: Callable[[int, int], None] | None,
    on_start: Callable[[list[int]], None] | None = None,
) -> list[tuple[pd.DataFrame, Plans | None]]:
    """Every seed's table and plans (:func:`~.loop.play`), in seed order, all played on ``game``.

    Serial in this process when ``workers == 1``; else in ``workers`` processes.

    Args:
        config: the experiment.
        game: the game every seed plays.
        workers: processes.
        on_progress: called with ``(seed, episodes done)`` as the seeds progress.
        on_start: called with the workers' process ids once they run (for tests and logs).
    """
    seeds = config.run_seeds
    if workers == 1:
        out = []
        for s in seeds:
            cb = None if on_progress is None else (lambda done, s=s: on_progress(s, done))
            out.append(play(game, config, s, progress=cb))
        return out

    from loky import ProcessPoolExecutor
    from loky.backend.context import get_context

    q = get_context("loky").Queue() if on_progress is not None else None
    pool = None
    try:
        pool = ProcessPoolExecutor(
            max_workers=workers, initializer=_init_worker, initargs=(os.getpid(), game, q)
        )
        futures = [pool.submit(_run_seed, config, s) for s in seeds]
        if on_start is not None:
            on_start(sorted(p.pid for p in getattr(pool, "_processes", {}).values()))
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_EXCEPTION)
            for f in done:
                if f.exception() is not None:
                    raise f.exception()
            while q is not None:
                try:
                    s, n = q.get_nowait()
                except _queue.Empty:
                    break
                on_progress(s, n)
        out = [f.result() for f in futures]
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=True, kill_workers=True)
        raise
    pool.shutdown(wait=True)
    return out
