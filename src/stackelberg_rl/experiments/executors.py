"""Where the seeds of a run are played: in this process, or in a pool of worker processes."""

from __future__ import annotations

import multiprocessing as mp
import queue as _queue
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait

import pandas as pd

from .. import games as games_mod
from .config import RunConfig
from .loop import run


def _run_worker(config_dict: dict, seed: int, progress_queue=None) -> pd.DataFrame:
    """One seed in a worker process: rebuild the game from its spec and play."""
    config = RunConfig.from_dict(config_dict)
    game = config.game.make()
    report = None
    if progress_queue is not None:

        def report(done: int) -> None:
            progress_queue.put((seed, done))

    return run(game, config, seed, progress=report)


def run_all(
    config: RunConfig,
    game: games_mod.FiniteGame,
    workers: int,
    on_progress: Callable[[int, int], None] | None,
) -> list[pd.DataFrame]:
    """Every seed's table, in seed order.

    Serial in this process, on ``game``, when ``workers == 1``; else each worker process
    rebuilds the game from ``config.game``.
    """
    seeds = config.run_seeds
    if workers == 1:
        out = []
        for s in seeds:
            cb = None if on_progress is None else (lambda done, s=s: on_progress(s, done))
            out.append(run(game, config, s, progress=cb))
        return out
    # "spawn": fresh interpreters, no fork of a process that holds threads (the progress bar).
    ctx = mp.get_context("spawn")
    config_dict = config.to_dict()
    with ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        q = manager.Queue() if on_progress is not None else None
        futures = [pool.submit(_run_worker, config_dict, s, q) for s in seeds]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.1)
            while q is not None:
                try:
                    s, done = q.get_nowait()
                except _queue.Empty:
                    break
                on_progress(s, done)
        return [f.result() for f in futures]  # re-raises a worker's exception
