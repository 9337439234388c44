"""The run driver's one loop under an interruption (issue 16): a seed finished is never lost.

A signal is handled in the main thread at its next Python call, wherever that call is (inside
``concurrent.futures`` or ``threading`` too). The tests make it arrive at that moment exactly, by a
trace function of the main thread, rather than by waiting for it.
"""

import math
import signal
import sys
import threading
import time
from concurrent.futures import Future

import pytest

from stackelberg_rl.experiments import GameSpec, RunConfig
from stackelberg_rl.experiments import checkpoint as ckpt
from stackelberg_rl.experiments import driver as driver_mod
from stackelberg_rl.experiments.driver import Task, _Local, _run

PARAMS = dict(n_states=5, n_leader_actions=2, n_follower_actions=2, dim=3, horizon=2)


def signal_at_the_next_call(armed: threading.Event):
    """A trace function that raises SIGINT at the main thread's first Python call once armed."""
    fired = []

    def trace(frame, event, arg):
        if event == "call" and armed.is_set() and not fired:
            fired.append(True)
            signal.raise_signal(signal.SIGINT)  # handled here, as a signal arriving now would be

    return trace, fired


def wait_for_the_stop(stop) -> None:
    for _ in range(60_000):
        if stop():
            return
        time.sleep(0.001)
    raise AssertionError("the driver never asked the seeds to stop")


@pytest.mark.parametrize("seeds", [2, 3])
def test_a_ctrl_c_just_after_a_seed_finishes_hands_that_seed_over(monkeypatch, seeds):
    """Seed 0 is finished (its result set) when the signal arrives, wherever the main thread is:
    its result is handed over once, and the interruption goes on; the others stop."""
    config = RunConfig(game=GameSpec("random-linear", PARAMS), episodes=4, seeds=seeds)
    game = config.game.make()
    tasks = [Task(s, 0, "run", config, s, game.fingerprint()) for s in config.run_seeds]
    real, armed = driver_mod.play, threading.Event()

    def play(game, config, seed, **kwargs):
        if seed == 1:  # seed 0's result is set: the signal arrives now
            armed.set()
            wait_for_the_stop(kwargs["stop"])
        return real(game, config, seed, **kwargs)

    monkeypatch.setattr(driver_mod, "play", play)
    handed: list[int] = []
    trace, fired = signal_at_the_next_call(armed)
    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        with pytest.raises(KeyboardInterrupt):
            _run(
                tasks, _Local({game.fingerprint(): game}, 1, math.inf),
                on_result=lambda i, r: handed.append(i), on_error=None,
                on_progress=lambda i, n: None, on_checkpoint=lambda i, d: None,
            )  # fmt: skip
    finally:
        sys.settrace(previous)
    assert fired and handed == [0]


class Backend:
    """A backend whose tasks the test ends: task 0 finished, 1 fails, 2 plays until cancelled."""

    worker, crashed, pids = "test worker", (), []

    def __init__(self) -> None:
        self.futures = [Future() for _ in range(3)]
        self.news_waiting = {("progress", 2): 7, ("checkpoint", 2): b"episode 7"}
        self.closed = []

    def submit(self, tasks):
        self.futures[0].set_result(({"episode": [0, 1, 2, 3]}, "plans of task 0"))  # columns
        return self.futures

    def news(self, timeout):
        news, self.news_waiting = self.news_waiting, {}
        return news

    def cancel(self, futures):
        if not self.futures[2].done():  # task 2 hands in its state; task 1 fails as it stops
            self.futures[2].set_exception(ckpt.SeedStopped(2, b"episode 8"))
            self.futures[1].set_exception(RuntimeError("failed while stopping"))

    def close(self, drain):
        self.closed.append(drain)


def test_an_interruption_hands_over_what_any_backend_finished_and_the_states_it_sends():
    """The one loop, whatever the backend: on Ctrl-C it cancels, hands over the finished result
    (its columns made a table), the news and the states handed in, drops failures, closes the
    backend and lets it go on."""
    config = RunConfig(game=GameSpec("random-linear", PARAMS), episodes=4, seeds=3)
    tasks = [Task(s, 0, "run", config, s, "0" * 64) for s in config.run_seeds]
    backend, handed = Backend(), []

    def ctrl_c(pids):  # as a Ctrl-C arriving once the tasks are submitted
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        driver_mod._run(
            tasks, backend,
            on_result=lambda i, r: handed.append(("result", i, (r[0]["episode"].tolist(), r[1]))),
            on_error=lambda i, e: handed.append(("error", i, e)),
            on_progress=lambda i, n: handed.append(("progress", i, n)),
            on_checkpoint=lambda i, d: handed.append(("checkpoint", i, d)), on_start=ctrl_c,
        )  # fmt: skip
    assert sorted(handed) == [
        ("checkpoint", 2, b"episode 7"), ("checkpoint", 2, b"episode 8"),
        ("progress", 2, 7), ("result", 0, ([0, 1, 2, 3], "plans of task 0")),
    ]  # fmt: skip
    assert backend.closed == [None]


def test_a_worker_plays_its_task_without_pandas_and_the_driver_makes_the_same_table():
    """A worker process sends the table's columns; the table is made where the results arrive.
    Importing pandas had been about a third of each worker's start-up."""
    import pickle
    import subprocess

    import numpy as np
    import pandas as pd

    from stackelberg_rl.experiments.loop import play

    script = """
import pickle, sys, threading
from stackelberg_rl.experiments import GameSpec, RunConfig
PARAMS = pickle.loads(sys.stdin.buffer.read())
from stackelberg_rl.experiments.driver import Task, play_task
config = RunConfig(game=GameSpec("random-linear", PARAMS), episodes=6, seeds=1)
game = config.game.make()
task = Task(0, 0, "run", config, 0, game.fingerprint())
rows, plans = play_task(task, game, send=lambda message: None, stop=threading.Event())
assert "pandas" not in sys.modules, "a worker imported pandas"
sys.stdout.buffer.write(pickle.dumps(rows))
"""
    given = pickle.dumps(PARAMS)
    done = subprocess.run([sys.executable, "-c", script], input=given, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    rows = pickle.loads(done.stdout)
    config = RunConfig(game=GameSpec("random-linear", PARAMS), episodes=6, seeds=1)
    expected, _ = play(config.game.make(), config, 0)
    table = driver_mod.as_table(rows)
    pd.testing.assert_frame_equal(
        table.drop(columns="wall_time"), expected.drop(columns="wall_time")
    )
    assert list(table.columns) == list(expected.columns) and np.isfinite(table["wall_time"]).all()
