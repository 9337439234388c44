"""The backends: two local workers and a real local Ray (2 CPUs, no dashboard, started once for
this module) give the results of one local worker bit for bit; a failing task stops nothing else;
a Ray task continues from the state it is given and sends its checkpoints back; an interruption
cancels Ray's tasks and leaves the sweep resumable."""

import json
import logging
import signal
import sys
import threading
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from stackelberg_rl.cli.sweep_file import parse
from stackelberg_rl.experiments import BackendUnavailableError, load_run, run_seeds
from stackelberg_rl.experiments import checkpoint as ckpt
from stackelberg_rl.experiments.driver import Task, _Local, _Ray, _run
from stackelberg_rl.experiments.loop import SeedRun, play
from stackelberg_rl.sweep import name_settings, preview, run_grid

TINY = "param: {n_states: 5, n_leader_actions: 2, n_follower_actions: 2, dim: 3, horizon: 2}\n"
GRID = TINY + "seeds: 2\nbeta: 0.3\nepisodes: [6, 9]\nalpha-l: [anytime, 'power:2,0.25']\n"


def settings_of(text: str):
    return name_settings([p.config for p in parse(text)])


@pytest.fixture(scope="module")
def ray_cluster():
    """A local Ray of 2 CPUs for this module; skipped only if Ray cannot start here."""
    ray = pytest.importorskip("ray")
    errors = []
    for kwargs in (
        dict(num_cpus=2, include_dashboard=False),
        dict(address="local", num_cpus=2, include_dashboard=False),
    ):
        try:
            ray.init(log_to_driver=False, logging_level=logging.ERROR, **kwargs)
            break
        except Exception as err:  # noqa: BLE001 - any failure to start is a reason to skip
            errors.append(f"{type(err).__name__}: {err}")
            ray.shutdown()
    else:
        pytest.skip(f"a local Ray cannot start in this sandbox: {'; '.join(errors)}")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def local_one(tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "one"
    run_grid(settings_of(GRID), out, workers=1, progress=False)
    return out


def results(folder):
    df, _ = load_run(folder)
    return df.drop(columns="wall_time")


@pytest.mark.slow
def test_two_local_workers_give_the_results_of_one_and_a_failure_stops_nothing(local_one):
    settings = settings_of(GRID)
    game = settings[0].config.game.make()
    fingerprint = game.fingerprint()
    tasks = [Task(0, 0, settings[0].name, settings[0].config, 0, "0" * 64)]  # no such game
    for i, s in enumerate(settings):
        for seed in s.config.run_seeds:
            tasks.append(Task(len(tasks), i, s.name, s.config, seed, fingerprint))
    done, progress = {}, {}
    _run(
        tasks, _Local({fingerprint: game}, 2, float("inf")),
        on_result=lambda i, r: done.__setitem__(i, (r, None)),
        on_error=lambda i, e: done.__setitem__(i, (None, e)),
        on_progress=progress.__setitem__, on_checkpoint=lambda i, d: None,
    )  # fmt: skip
    assert sorted(done) == list(range(len(tasks)))
    assert done[0][0] is None and isinstance(done[0][1], KeyError)
    for task in tasks[1:]:
        (df, _), error = done[task.index]
        assert error is None and progress[task.index] == task.config.episodes
        kept = results(local_one / task.name)
        pd.testing.assert_frame_equal(
            df.drop(columns="wall_time"),
            kept[kept["seed"] == task.seed].reset_index(drop=True),
            check_exact=True,
        )


@pytest.mark.slow
def test_an_interrupted_ray_sweep_cancels_its_tasks_and_ray_gives_the_local_results(
    ray_cluster, local_one, tmp_path
):
    """An interruption cancels Ray's tasks and leaves the sweep resumable; then a sweep on the
    same cluster gives the results of the local backend bit for bit (one test: each sweep on
    Ray starts an actor, a process of its own, and the cancelled tasks' workers are killed, so
    the sweep after them starts its own)."""
    long = TINY + "seeds: 1\nepisodes: [200000, 200001]\n"  # a task per CPU, both playing
    settings = settings_of(long)

    def ctrl_c_once_the_tasks_play() -> None:  # waits for a state: their first checkpoints
        for _ in range(120_000):
            if len(list((tmp_path / "sw").glob("*/checkpoints/seed-*.npz"))) == 2:
                break
            time.sleep(0.001)
        signal.raise_signal(signal.SIGINT)

    threading.Thread(target=ctrl_c_once_the_tasks_play, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        run_grid(settings, tmp_path / "sw", backend="ray", progress=False, checkpoint_every=0.05)
    record = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert record["status"] == "interrupted"
    assert [s.to_run for s in preview(settings, tmp_path / "sw")] == [[0], [0]]

    # The cancelled tasks give their CPUs back: a short sweep runs at once on the same cluster,
    # to the local backend's results bit for bit.
    outcome = run_grid(settings_of(GRID), tmp_path / "ray", backend="ray", progress=True)
    assert not outcome.failed and outcome.tasks == 8
    record = json.loads((tmp_path / "ray" / "sweep.json").read_text())
    assert record["backend"] == "ray" and record["status"] == "complete"
    for s in settings_of(GRID):
        pd.testing.assert_frame_equal(
            results(local_one / s.name), results(tmp_path / "ray" / s.name), check_exact=True
        )
    assert ray_cluster.is_initialized()  # a Ray this process was connected to is left running


@pytest.mark.slow
def test_a_ray_task_resumes_its_state_sends_checkpoints_and_a_failing_one_is_reported(ray_cluster):
    """Both in one drive (a drive on Ray starts an actor, a process of its own): a task whose
    game is not its own is reported, and the other, given a state, plays on to the end."""
    (setting,) = settings_of(TINY + "seeds: 1\nbeta: 0.3\nepisodes: 40\n")
    game = setting.config.game.make()
    seed_run = SeedRun(game, setting.config, 0)
    for _ in range(15):
        seed_run.play_episode()
    state = seed_run.checkpoint()
    fp = game.fingerprint()
    tasks = [Task(0, 0, setting.name, setting.config, 0, fp, state),
             Task(1, 0, setting.name, setting.config, 1, "0" * 64)]  # fmt: skip
    games = {fp: game, "0" * 64: game}  # the second task's game is not its own
    done, sent = {}, []

    _run(
        tasks, _Ray(games, 0.0), on_result=lambda i, r: done.__setitem__(i, (r, None)),
        on_error=lambda i, e: done.__setitem__(i, (None, e)), on_progress=lambda i, n: None,
        on_checkpoint=lambda i, data: sent.append((i, data)),
    )  # fmt: skip
    assert done[1][0] is None and "the game shipped is not its game" in str(done[1][1])
    (df, _), error = done[0]
    assert error is None
    whole, _ = play(game, setting.config, 0)
    pd.testing.assert_frame_equal(df.drop(columns="wall_time"), whole.drop(columns="wall_time"))
    # Continued, not replayed: the first 15 rows keep the times of the session that played them.
    np.testing.assert_array_equal(
        df["wall_time"].to_numpy()[:15], seed_run.state_dict()["rows"]["wall_time"]
    )
    # Its checkpoints came back to the driver: the board hands over the newest it holds, and
    # holds the last one (after episode 39 of 40) once the result is ready.
    assert {i for i, _ in sent} == {0}
    played = [ckpt.peek(data)["episodes_done"] for _, data in sent]
    assert played[-1] == 39 and all(15 < n for n in played) and played == sorted(played)


@pytest.mark.parametrize(
    "address, message",
    [
        ("127.0.0.1:1", "no Ray cluster answers at 127.0.0.1:1"),
        ("nonsense", "cannot start or reach Ray at nonsense"),
    ],
)
def test_a_ray_that_cannot_be_reached_is_refused_before_anything_is_written(
    tmp_path, monkeypatch, address, message
):
    """Ray is started (or reached) before a folder is made: a malformed address had left an
    "interrupted" run folder, and a sweep folder with every setting's."""
    ray = pytest.importorskip("ray")
    monkeypatch.setattr(ray, "is_initialized", lambda: False)  # as in a new process
    for attempt in (
        lambda: run_grid(settings_of(GRID), tmp_path / "sw", backend="ray", address=address),
        lambda: run_seeds(
            settings_of(GRID)[0].config, tmp_path / "run", backend="ray", address=address
        ),  # fmt: skip
    ):
        with pytest.raises(BackendUnavailableError, match=message):
            attempt()
    assert list(tmp_path.iterdir()) == []


def test_starting_ray_keeps_the_commands_sigterm_handler(monkeypatch):
    """``ray.init`` makes SIGTERM exit the driver with status 15, saying nothing; the command's
    own handler (exit 143, the resume line) is put back."""
    from stackelberg_rl.experiments import driver as driver_mod

    class StartingRay:  # what ray.init does to the driver's signals
        def is_initialized(self):
            return False

        def init(self, **kwargs):
            signal.signal(signal.SIGTERM, lambda *args: sys.exit(15))

    def ours(signum, frame):  # pragma: no cover - never called
        raise AssertionError

    monkeypatch.setattr(driver_mod, "_ray", StartingRay)
    monkeypatch.setattr(driver_mod, "_ray_started_here", False)
    previous = signal.signal(signal.SIGTERM, ours)
    try:
        driver_mod.check_backend("ray", None, 2)
        assert signal.getsignal(signal.SIGTERM) is ours and driver_mod._ray_started_here
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_a_ray_of_its_own_beside_a_cluster_and_no_wait_without_end_at_an_address(
    tmp_path, monkeypatch
):
    """Without an address, a Ray of its own ("local"): beside a cluster that `ray start` left,
    Ray had refused num_cpus ("When connecting to an existing cluster, num_cpus … must not be
    provided"). At an address where something else listens, ray.init had waited for ever."""
    import socket

    from stackelberg_rl.experiments import driver as driver_mod

    asked, never = [], threading.Event()

    class FakeRay:
        def is_initialized(self):
            return False

        def init(self, **kwargs):
            asked.append(kwargs)
            if kwargs["address"] != "local":
                never.wait()  # what Ray does when a web server answers at the address

    monkeypatch.setattr(driver_mod, "_ray", FakeRay)
    monkeypatch.setattr(driver_mod, "_ray_started_here", False)
    monkeypatch.setattr(driver_mod, "RAY_CONNECT", 0.5)
    driver_mod.check_backend("ray", None, 2)
    assert asked[0]["address"] == "local" and asked[0]["num_cpus"] == 2
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        address = f"127.0.0.1:{listening.getsockname()[1]}"
        settings = settings_of(GRID)
        with pytest.raises(
            BackendUnavailableError,
            match=f"no Ray cluster answers at {address} "
            "within 0.5 s: something listens there, but not a Ray cluster",
        ):
            run_grid(settings, tmp_path / "sw", backend="ray", address=address)  # fmt: skip
    never.set()
    assert asked[1] == {"address": address, "log_to_driver": False, "logging_level": 40}
    assert list(tmp_path.iterdir()) == []


def test_a_ray_cluster_that_stops_answering_stops_the_run_resumable(
    ray_cluster, local_one, tmp_path, monkeypatch
):
    """No wait without end: the driver's questions to the cluster time out, the folder stays.

    Then a run is a sweep of one setting: ``run --backend ray`` plays it through the same driver
    (its resume here) to the rows of the local run. One seed: each seed the cluster was playing
    when it stopped answering is a Ray worker killed, and started again to play on."""
    from stackelberg_rl.experiments import driver as driver_mod

    class Silent:  # the cluster as the driver sees it once it no longer answers
        exceptions = ray_cluster.exceptions

        def __getattr__(self, name):
            return getattr(ray_cluster, name)

        def get(self, ref, timeout=None):
            raise ray_cluster.exceptions.GetTimeoutError("no answer")

    monkeypatch.setattr(driver_mod, "_ray", lambda: Silent())
    setting = settings_of(GRID)[0]
    config = replace(setting.config, seeds=1)
    with pytest.raises(BackendUnavailableError, match="stopped answering") as stopped:
        run_seeds(config, tmp_path / "run", backend="ray", progress=False)
    assert stopped.value.run_dir == str(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "manifest.json").read_text())["status"] == "interrupted"
    monkeypatch.undo()
    df = run_seeds(None, tmp_path / "run", resume=True, backend="ray", progress=False)
    kept = results(local_one / setting.name)
    pd.testing.assert_frame_equal(
        df.drop(columns="wall_time"), kept[kept["seed"] == 0].reset_index(drop=True),
        check_exact=True,
    )  # fmt: skip
    assert load_run(tmp_path / "run")[1]["status"] == "complete"
