"""Sweeps that survive: a seed continues from its checkpoint in its setting's run folder to the
rows of an uninterrupted sweep, bit for bit (``wall_time`` aside), after SIGKILL at random points
and after Ctrl-C; a damaged checkpoint is logged and its seed starts afresh.

A seed that continued from a checkpoint is told from one played again from episode 0 by its
``wall_time``: the rows a checkpoint holds keep the times of the session that played them, and a
replayed episode would have new ones.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import interrupt, killed_if_left
from test_processes import wait_for, workers_of

from stackelberg_rl._files import jsonable
from stackelberg_rl.cli import main
from stackelberg_rl.cli.sweep_file import parse
from stackelberg_rl.experiments import checkpoint as ckpt
from stackelberg_rl.experiments import load_run
from stackelberg_rl.experiments.loop import SeedRun
from stackelberg_rl.sweep import SWEEP_FORMAT, name_settings, preview, run_grid

TINY = "param: {n_states: 5, n_leader_actions: 2, n_follower_actions: 2, dim: 3, horizon: 2}\n"
SMALL = TINY + "seeds: 2\nbeta: 0.3\nepisodes: [6, 9]\n"
LONG = TINY + "beta: 0.3\nzip: {episodes: [3500, 50], seeds: [1, 2]}\n"
"""One seed of about a second on one core, long enough to be cut short, and two short ones.

The driver starts the longest setting first: the short seeds end in the other worker while the
long one plays, on a loaded machine too."""


def settings_of(text: str):
    return name_settings([p.config for p in parse(text)])


def tables(folder: Path, settings) -> dict[str, pd.DataFrame]:
    return {s.name: load_run(folder / s.name)[0] for s in settings}


def kept_checkpoints(out: Path) -> dict[tuple[str, int], tuple[int, np.ndarray]]:
    """Every unfinished seed's checkpoint in the run folders: episodes played, rows' wall_time."""
    found = {}
    for path in sorted(out.glob("*/checkpoints/seed-*.npz")):
        header, tree = ckpt.unpack(path.read_bytes())
        if not header["finished"]:
            seed = int(path.stem.removeprefix("seed-"))
            found[(path.parent.parent.name, seed)] = (
                header["episodes_done"],
                tree["rows"]["wall_time"],
            )
    return found


def interrupted_sweep(out: Path, setting, checkpoints: dict[int, bytes]) -> None:
    """A sweep folder as an interrupted sweep leaves it: ``setting``'s run folder unfinished."""
    (out / "sweep.json").parent.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(
        json.dumps({"format": SWEEP_FORMAT, "format_version": 1, "settings": []})
    )
    config = setting.config
    folder = out / setting.name / "checkpoints"
    folder.mkdir(parents=True)
    manifest = {
        "format": "stackelberg-rl/run", "format_version": 1, "status": "interrupted",
        "config": jsonable(config.to_dict()), "game": {"sha256": config.game.make().fingerprint()},
        "seeds": config.run_seeds, "episodes": config.episodes,
    }  # fmt: skip
    (out / setting.name / "manifest.json").write_text(json.dumps(manifest))
    for seed, data in checkpoints.items():
        (folder / f"seed-{seed}.npz").write_bytes(data)


def assert_continued(final: dict[str, pd.DataFrame], checkpoints: dict) -> None:
    """The rows of every checkpoint are in the final table as they were (times included)."""
    for (name, seed), (episodes, wall_time) in checkpoints.items():
        df = final[name]
        rows = df[df["seed"] == seed].sort_values("episode")
        np.testing.assert_array_equal(rows["wall_time"].to_numpy()[:episodes], wall_time)


@pytest.fixture(scope="module")
def small_whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "sw"
    run_grid(settings_of(SMALL), out, workers=1, progress=False, checkpoint_every=float("inf"))
    return tables(out, settings_of(SMALL))


def test_a_seed_continues_from_its_checkpoint_to_the_rows_of_a_whole_sweep(small_whole, tmp_path):
    settings = settings_of(SMALL)
    out = tmp_path / "sw"
    nine = settings[1]
    seed_run = SeedRun(nine.config.game.make(), nine.config, 1)
    for _ in range(5):
        seed_run.play_episode()
    interrupted_sweep(out, nine, {1: seed_run.checkpoint()})
    (state_6, state_9) = preview(settings, out)
    assert state_9.checkpoints == {1: 5} and "seed 1 continues from episode 5" in state_9.why
    assert state_6.checkpoints == {}
    outcome = run_grid(settings, out, workers=1, progress=False)
    assert (
        outcome.tasks == 4
        and outcome.resumed == 1
        and "(1 from a checkpoint)" in (outcome.summary())
    )
    final = tables(out, settings)
    for name, df in final.items():
        pd.testing.assert_frame_equal(
            df.drop(columns="wall_time"), small_whole[name].drop(columns="wall_time")
        )
    rows = final[nine.name][final[nine.name]["seed"] == 1]["wall_time"].to_numpy()
    np.testing.assert_array_equal(rows[:5], seed_run.state_dict()["rows"]["wall_time"])
    assert "setting episodes=9 seed 1: continues from episode 5" in (out / "sweep.log").read_text()
    assert not list(out.glob("*/checkpoints"))  # checkpoints go once a setting is complete


def test_a_damaged_or_foreign_checkpoint_is_logged_and_its_seed_starts_afresh(
    small_whole, tmp_path, capsys
):
    settings = settings_of(SMALL)
    out = tmp_path / "sw"
    six = settings[0]
    other = SeedRun(six.config.game.make(), six.config, 0)  # seed 0's state, filed as seed 1's
    other.play_episode()
    interrupted_sweep(out, six, {1: other.checkpoint(), 0: b"PK\x03\x04 not a whole checkpoint"})
    path = tmp_path / "grid.yaml"
    path.write_text(SMALL)
    assert main(["sweep", str(path), "--out", str(out), "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "seed-0.npz is damaged" in dry and "(the seed starts from episode 0)" in dry
    assert "seed-1.npz is of seed 0, not seed 1" in dry and "continues from episode" not in dry
    outcome = run_grid(settings, out, workers=1, progress=False)
    assert not outcome.failed and outcome.resumed == 0
    log = (out / "sweep.log").read_text()
    assert "setting episodes=6: " in log and "seed-0.npz is damaged" in log
    assert "seed-1.npz is of seed 0, not seed 1" in log and "starts from episode 0" in log
    assert "remove it" not in log  # the sweep starts the seed afresh itself: no contrary advice
    for name, df in tables(out, settings).items():
        pd.testing.assert_frame_equal(
            df.drop(columns="wall_time"), small_whole[name].drop(columns="wall_time")
        )


# ---------------------------------------------------------------------- killed for real
def start(tmp_path: Path, out: Path, every: str, workers: int) -> subprocess.Popen:
    argv = [sys.executable, "-m", "stackelberg_rl", "sweep", str(tmp_path / "grid.yaml"),
            "--out", str(out), "--workers", str(workers), "--quiet",
            "--checkpoint-every", every]  # fmt: skip
    return subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip


def cpu_seconds(pids: list[int]) -> float:
    """The CPU time (user and system) the processes ``pids`` have used, from /proc."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def newest_part(out: Path) -> float:
    """The newest modification time of a seed's checkpoint (0 if none)."""
    times = [p.stat().st_mtime for p in out.glob("*/checkpoints/seed-*")]
    return max(times, default=0.0)


@pytest.mark.slow
def test_a_sweep_stopped_by_ctrl_c_and_killed_at_random_points_ends_as_a_whole_one(tmp_path):
    settings = settings_of(LONG)
    whole = tmp_path / "whole"
    run_grid(settings, whole, workers=1, progress=False, checkpoint_every=float("inf"))
    (tmp_path / "grid.yaml").write_text(LONG)
    out = tmp_path / "sw"
    rng = np.random.default_rng(np.random.SeedSequence(20241130))
    seen: dict = {}

    # Ctrl-C while the long seed plays, the two short ones done: with no periodic checkpoints,
    # the states kept are the ones the seeds handed in as they stopped. The signal comes once the
    # workers have spent a random share of CPU time on it, which a loaded machine does not change
    # (a wall-clock wait would, and could find the seed not started yet).
    proc = start(tmp_path, out, "inf", 2)
    with killed_if_left(proc):
        short = out / settings[1].name / "results.parquet"  # written once the setting is complete
        wait_for(lambda: short.is_file() or proc.poll() is not None, 60, "the short setting")
        workers = workers_of(proc.pid)
        spent, share = cpu_seconds(workers), rng.uniform(0.05, 0.25)
        wait_for(
            lambda: cpu_seconds(workers) - spent >= share or proc.poll() is not None,
            60,
            "the long seed to play on",
        )
        err = interrupt(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert len(err.strip().splitlines()) == 1 and "run the same command again" in err
    taken = kept_checkpoints(out)
    assert list(taken) == [(settings[0].name, 0)] and 0 < taken[settings[0].name, 0][0] < 3500
    seen.update(taken)

    # SIGKILL at two random points, each once the run again has written something. Only the long
    # seed is left, so it plays in the driver's process with --workers 2 as with 1 (the driver
    # starts no more workers than tasks): workers killed with their driver are
    # tests/test_processes.py's.
    for workers in (2, 1):
        since = time.time()
        proc = start(tmp_path, out, "0.05", workers)
        with killed_if_left(proc):
            wait_for(
                lambda s=since, p=proc: newest_part(out) > s or p.poll() is not None, 60, "work"
            )
            try:
                proc.wait(timeout=rng.uniform(0.0, 0.4))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=60)
        for key, value in kept_checkpoints(out).items():
            seen.setdefault(key, value)

    outcome = run_grid(settings, out, workers=1, progress=False)
    assert not outcome.failed
    final = tables(out, settings)
    for name, df in tables(whole, settings).items():
        pd.testing.assert_frame_equal(
            final[name].drop(columns="wall_time"), df.drop(columns="wall_time"), check_exact=True
        )
    assert_continued(final, seen)
    assert "continues from episode" in (out / "sweep.log").read_text()
    record = json.loads((out / "sweep.json").read_text())
    assert record["status"] == "complete" and not list(out.glob("*/checkpoints"))
