"""Runs that survive: an interrupted run keeps its folder and checkpoints, never looks finished,
and ``resume`` finishes it with the results of an uninterrupted run; a full disk or a folder that
turns read-only stops the run with its last checkpoints whole; nothing that is not the run's is
used or deleted. (Real processes killed by signals: tests/test_processes.py.)"""

import errno
import json
import os
import shutil
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from stackelberg_rl import experiments
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.cli import main
from stackelberg_rl.experiments import (
    CheckpointError,
    CheckpointWriteError,
    GameSpec,
    RunConfig,
    RunFolderError,
    load_run,
    run_seeds,
    store,
)
from stackelberg_rl.experiments import checkpoint as ckpt
from stackelberg_rl.experiments.store import Reservation, host

TINY = GameSpec(params=dict(n_states=5, n_leader_actions=2, n_follower_actions=2, dim=3, horizon=3))
CLI_TINY = [
    "--param", "n_states=5", "--param", "n_leader_actions=2", "--param", "n_follower_actions=2",
    "--param", "dim=3", "--param", "horizon=3",
]  # fmt: skip


def config_of(**kw) -> RunConfig:
    agent = AgentConfig(beta=0.3, schedule=kw.pop("schedule", "every"), refresh_every=5)
    return RunConfig(
        game=TINY, episodes=kw.pop("episodes", 60), seeds=kw.pop("seeds", 3), agent=agent,
        save_plans=True, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run: its table and plans."""
    out = tmp_path_factory.mktemp("reference") / "run"
    df = run_seeds(config_of(), out, workers=1, progress=False)
    return df, dict(np.load(out / "plans.npz"))


def assert_same_as(reference, df, out):
    pd.testing.assert_frame_equal(
        reference[0].drop(columns="wall_time"), df.drop(columns="wall_time")
    )
    plans = np.load(out / "plans.npz")
    assert sorted(plans.files) == sorted(reference[1])
    for name in plans.files:
        assert plans[name].tobytes() == reference[1][name].tobytes(), name
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "plans.npz",
        "results.parquet",
    ]
    assert load_run(out)[1]["status"] == "complete"


def interrupt_at(monkeypatch, when):
    """Ctrl-C in the driver as it is about to write the checkpoint for which ``when`` is true.

    The seed that sent it (in this process) waits for the stop that follows, so it stops right
    there: where a run is interrupted does not depend on how fast the driver reads.
    """
    real_write, real_play = Reservation.write_checkpoint, experiments.driver.play
    fired, held = [], []

    def write(self, seed, data):
        if not fired and when(seed, ckpt.peek(data)):
            fired.append(seed)
            raise KeyboardInterrupt
        return real_write(self, seed, data)

    def play(game, config, seed, progress=None, *, checkpoint=None, stop=None, **kw):
        def send(data):
            checkpoint(data)
            if not held and when(seed, ckpt.peek(data)):
                held.append(seed)
                deadline = time.monotonic() + 30
                while not stop() and time.monotonic() < deadline:
                    time.sleep(0.01)

        return real_play(game, config, seed, progress, checkpoint=send, stop=stop, **kw)

    monkeypatch.setattr(Reservation, "write_checkpoint", write)
    monkeypatch.setattr(experiments.driver, "play", play)
    return fired


def manifest_of(out):
    return json.loads((out / "manifest.json").read_text())


def played_seeds(monkeypatch):
    """The seeds handed to the loop (from the start or a checkpoint)."""
    seen = []
    real = experiments.driver.play

    def spy(game, config, seed, progress=None, **kw):
        seen.append((seed, None if kw.get("state") is None else ckpt.peek(kw["state"])))
        return real(game, config, seed, progress, **kw)

    monkeypatch.setattr(experiments.driver, "play", spy)
    return seen


# ---------------------------------------------------------------------- interrupted, resumed
@pytest.fixture(scope="module")
def half_way(tmp_path_factory):
    """The run of ``config_of()`` interrupted with seed 0 done, seed 1 half-way, seed 2 not
    started: played once for the module (never changed), with the interruption's run_dir."""
    out = tmp_path_factory.mktemp("half-way") / "run"
    with pytest.MonkeyPatch.context() as monkeypatch:
        interrupt_at(monkeypatch, lambda s, h: s == 1 and h["episodes_done"] >= 30)
        with pytest.raises(KeyboardInterrupt) as stopped:
            run_seeds(config_of(), out, workers=1, progress=False, checkpoint_every=0)
    return out, stopped.value.run_dir


def copy_of(half_way, tmp_path):
    """This test's own copy of the run ``half_way`` played."""
    out = tmp_path / "run"
    shutil.copytree(half_way[0], out)
    return out


def test_an_interrupted_run_keeps_its_checkpoints_and_resumes_to_the_same_results(
    tmp_path, monkeypatch, reference, half_way
):
    config = config_of()
    # Seed 0 done, seed 1 half-way, seed 2 not started.
    assert half_way[1] == str(half_way[0])
    out = copy_of(half_way, tmp_path)
    manifest = manifest_of(out)
    assert manifest["status"] == "interrupted" and manifest["reason"] == "KeyboardInterrupt"
    # Seed 1 stops at the end of the episode it was playing when asked.
    assert manifest["checkpoints"] == {"0": 60, "1": 31}
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["seed-0.npz", "seed-1.npz"]
    with pytest.raises(RunFolderError, match="did not finish .* --resume"):
        load_run(out)
    with pytest.raises(RunFolderError, match="continue it with --resume"):
        run_seeds(config, out, workers=1, progress=False)  # a new run there: refused

    # Interrupted again once resumed: seed 1 goes on from its checkpoint, seed 0 is not played.
    monkeypatch.undo()
    seen = played_seeds(monkeypatch)
    interrupt_at(monkeypatch, lambda s, h: s == 2 and h["episodes_done"] >= 15)
    with pytest.raises(KeyboardInterrupt):
        run_seeds(config, out, workers=1, progress=False, resume=True, checkpoint_every=0)
    assert [(s, h and h["episodes_done"]) for s, h in seen] == [(1, 31), (2, None)]
    assert manifest_of(out)["checkpoints"] == {"0": 60, "1": 60, "2": 16}

    monkeypatch.undo()
    seen = played_seeds(monkeypatch)
    df = run_seeds(config, out, workers=1, progress=False, resume=True)
    assert [(s, h and h["episodes_done"]) for s, h in seen] == [(2, 16)]
    assert df.attrs["resumed"] == [2] and df.attrs["run_dir"] == str(out)
    assert_same_as(reference, df, out)
    assert len(manifest_of(out)["resumed"]) == 2


@pytest.mark.slow
def test_seeds_resumed_in_worker_processes_end_as_if_never_stopped(
    tmp_path, monkeypatch, reference, half_way
):
    out = copy_of(half_way, tmp_path)
    # Seed 1's state goes to a worker, seed 2 starts afresh in the other; their checkpoints
    # come back to this process, which writes them.
    writes = []
    real = Reservation.write_checkpoint
    monkeypatch.setattr(
        Reservation,
        "write_checkpoint",
        lambda self, s, data: (
            writes.append((s, ckpt.peek(data)["episodes_done"])) or real(self, s, data)
        ),
    )
    df = run_seeds(None, out, workers=2, progress=False, resume=True, checkpoint_every=0)
    assert {s for s, _ in writes} == {1, 2} and (1, 60) in writes and (2, 60) in writes
    assert_same_as(reference, df, out)


def test_resuming_a_complete_run_changes_nothing(tmp_path, reference, monkeypatch):
    out = tmp_path / "run"
    run_seeds(config_of(), out, workers=1, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    seen = played_seeds(monkeypatch)
    df = run_seeds(None, out, workers=1, progress=False, resume=True)
    assert seen == [] and df.attrs["already_complete"] is True
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    pd.testing.assert_frame_equal(
        reference[0].drop(columns="wall_time"), df.drop(columns="wall_time")
    )
    with pytest.raises(ValueError, match="has episodes = 60, the configuration given 61"):
        run_seeds(config_of(episodes=61), out, workers=1, progress=False, resume=True)


# ---------------------------------------------------------------------- disk full, read-only
def test_a_full_disk_stops_the_run_with_its_last_checkpoints_whole(
    tmp_path, monkeypatch, reference
):
    out = tmp_path / "run"
    real, written = store.write_atomic, []

    def disk_fills_up(path, data, **kwargs):  # after one checkpoint
        if written:

            def part(f):
                f.write(data[: len(data) // 3])  # what fit before the disk was full
                raise OSError(errno.ENOSPC, "No space left on device")

            return real(path, part, **kwargs)
        real(path, data, **kwargs)
        written.append(data)

    monkeypatch.setattr(store, "write_atomic", disk_fills_up)
    with pytest.raises(CheckpointWriteError, match="No space left on device") as stopped:
        run_seeds(config_of(), out, workers=1, progress=False, checkpoint_every=0)
    assert stopped.value.errno == errno.ENOSPC and stopped.value.run_dir == str(out)
    manifest = manifest_of(out)
    assert manifest["status"] == "interrupted" and "No space left" in manifest["reason"]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["seed-0.npz"]
    data = (out / "checkpoints" / "seed-0.npz").read_bytes()  # no partial or temporary file
    assert data == written[0]  # the last one written, whole
    assert manifest["checkpoints"] == {"0": ckpt.peek(data)["episodes_done"]}
    monkeypatch.undo()
    assert_same_as(reference, run_seeds(None, out, workers=1, progress=False, resume=True), out)


def test_a_full_disk_is_one_line_and_exit_code_2(tmp_path, monkeypatch, capsys):
    def full(path, data, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store, "write_atomic", full)
    out = tmp_path / "run"
    argv = ["run", *CLI_TINY, "--episodes", "30", "--seeds", "1", "--workers", "1"]
    code = main([*argv, "--quiet", "--checkpoint-every", "0", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "No space left on device" in err
    # None was written: the message says so, and a resume then plays from episode 0.
    resume = f"stackelberg-rl run --resume {out}"
    assert f"no checkpoint was written, so {resume} starts again from episode 0" in err
    assert not list((out / "checkpoints").iterdir())
    monkeypatch.undo()
    assert main(["run", "--resume", str(out), "--quiet"]) == 0, capsys.readouterr().err


def make_read_only(folder):
    """``folder`` read-only even for root (which ignores permissions): the immutable flag."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return lambda: folder.chmod(0o755)
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot make a folder read-only as root here: {done.stderr.decode()}")
    return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_a_folder_made_read_only_mid_run_stops_it_and_it_resumes_once_writable(
    tmp_path, monkeypatch, reference
):
    out = tmp_path / "run"
    real, undo = Reservation.write_checkpoint, []

    def then_read_only(self, seed, data):
        path = real(self, seed, data)
        if not undo and ckpt.peek(data)["episodes_done"] >= 20:
            undo.extend([make_read_only(out / "checkpoints"), make_read_only(out)])
        return path

    monkeypatch.setattr(Reservation, "write_checkpoint", then_read_only)
    try:
        with pytest.raises(CheckpointWriteError, match="cannot write the checkpoint of seed"):
            run_seeds(config_of(), out, workers=1, progress=False, checkpoint_every=0)
        # The manifest could not be updated either: it says "running", which resumes too.
        assert manifest_of(out)["status"] == "running"
        last = ckpt.peek((out / "checkpoints" / "seed-0.npz").read_bytes())["episodes_done"]
        assert 20 <= last < 60
    finally:
        for restore in undo:
            restore()
    monkeypatch.undo()
    assert_same_as(reference, run_seeds(None, out, workers=1, progress=False, resume=True), out)


# ---------------------------------------------------------------------- refused, never deleted
@pytest.fixture(scope="module")
def interrupted_once(tmp_path_factory):
    """A run interrupted after some checkpoints, played once for the module (never changed)."""
    out = tmp_path_factory.mktemp("interrupted") / "run"
    config = config_of(seeds=2, episodes=40)
    with pytest.MonkeyPatch.context() as monkeypatch:
        interrupt_at(monkeypatch, lambda s, h: s == 1 and h["episodes_done"] >= 10)
        with pytest.raises(KeyboardInterrupt):
            run_seeds(config, out, workers=1, progress=False, checkpoint_every=0)
    return config, out


@pytest.fixture
def interrupted(interrupted_once, tmp_path):
    """A run interrupted after some checkpoints: each test's own copy of the module's one."""
    config, played = interrupted_once
    out = tmp_path / "run"
    shutil.copytree(played, out)
    return config, out


def test_a_checkpoint_of_another_run_or_a_damaged_one_is_refused_by_name(interrupted, tmp_path):
    config, out = interrupted
    path = out / "checkpoints" / "seed-1.npz"
    good = path.read_bytes()
    path.write_bytes(good[:-100])
    with pytest.raises(CheckpointError, match=r"seed-1\.npz is damaged.*remove it to play seed 1"):
        run_seeds(None, out, workers=1, progress=False, resume=True)
    other = config_of(seeds=2, episodes=40, eval_every=2)
    game = other.game.make()
    state = []
    experiments.loop.play(game, other, 1, checkpoint=state.append, checkpoint_every=0)
    path.write_bytes(state[3])
    with pytest.raises(CheckpointError, match="another configuration: eval_every is 2 there"):
        run_seeds(None, out, workers=1, progress=False, resume=True)
    path.write_bytes(good)
    (out / "checkpoints" / "seed-7.npz").write_bytes(good)
    with pytest.raises(CheckpointError, match=r"seed-7\.npz is not the checkpoint of a seed"):
        run_seeds(None, out, workers=1, progress=False, resume=True)
    (out / "checkpoints" / "seed-7.npz").unlink()
    with pytest.raises(ValueError, match="is not the game the run .* played"):
        game = GameSpec(params=dict(TINY.params, n_states=6)).make()
        run_seeds(None, out, workers=1, progress=False, resume=True, game=game)
    assert manifest_of(out)["status"] == "interrupted"  # nothing changed by the refusals
    df = run_seeds(None, out, workers=1, progress=False, resume=True)
    assert len(df) == 80


def test_a_user_file_in_the_run_is_never_deleted_and_stops_a_resume(interrupted):
    config, out = interrupted
    (out / "checkpoints" / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match=r"checkpoints/notes\.txt"):
        run_seeds(None, out, workers=1, progress=False, resume=True)
    with pytest.raises(RunFolderError, match=r"checkpoints/notes\.txt.*never replaced"):
        run_seeds(config, out, workers=1, progress=False, overwrite=True)
    assert (out / "checkpoints" / "notes.txt").read_text() == "mine"
    (out / "checkpoints" / "notes.txt").unlink()
    with pytest.raises(RunFolderError, match="not a run folder"):
        run_seeds(None, out.parent / "elsewhere", progress=False, resume=True)


def test_a_run_that_is_still_running_is_not_resumed(interrupted):
    config, out = interrupted
    manifest = manifest_of(out)
    manifest.update(status="running", pid=os.getppid(), host=host())  # alive, not this process
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(RunFolderError, match="still running"):
        run_seeds(None, out, workers=1, progress=False, resume=True)
    # Nor replaced, and a new run there is told so (not advised to --resume or --overwrite).
    for overwrite in (False, True):
        with pytest.raises(RunFolderError, match=rf"still running \(pid {os.getppid()}\)$"):
            run_seeds(config, out, workers=1, progress=False, overwrite=overwrite)


def test_a_run_folder_is_played_by_one_process_at_a_time(interrupted, monkeypatch):
    # Two `run --resume D` at once: the first holds D's lock, the second is refused (issue 16).
    config, out = interrupted
    held = store.lock(out)  # as a resume that is playing holds it
    try:
        with pytest.raises(RunFolderError, match="holds a run that is still running"):
            run_seeds(None, out, workers=1, progress=False, resume=True)
    finally:
        os.close(held)
    assert manifest_of(out)["status"] == "interrupted"  # nothing was touched
    # While it plays, a resumed run holds its folder's lock, and lets it go once done.
    tried, real = [], experiments.driver.play

    def second_resume(game, config, seed, *args, **kw):
        if not tried:
            try:
                os.close(store.lock(out))
            except RunFolderError as err:
                tried.append(str(err))
        return real(game, config, seed, *args, **kw)

    monkeypatch.setattr(experiments.driver, "play", second_resume)
    run_seeds(None, out, workers=1, progress=False, resume=True)
    assert tried and "still running" in tried[0]
    os.close(store.lock(out))


def test_overwrite_replaces_an_interrupted_run(interrupted):
    config, out = interrupted
    df = run_seeds(config, out, workers=1, progress=False, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [
        "manifest.json",
        "plans.npz",
        "results.parquet",
    ]
    assert len(df) == 80 and "resumed" not in manifest_of(out)


def test_an_interrupted_replacement_leaves_the_old_run_and_replaces_it_once_resumed(
    tmp_path, monkeypatch
):
    out = tmp_path / "run"
    config = config_of(seeds=2, episodes=40)
    old = run_seeds(config_of(seeds=1, episodes=10), out, workers=1, progress=False)
    interrupt_at(monkeypatch, lambda s, h: h["episodes_done"] >= 10)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run_seeds(config, out, workers=1, progress=False, overwrite=True, checkpoint_every=0)
    hidden = stopped.value.run_dir
    assert os.path.dirname(hidden) == str(tmp_path) and os.path.basename(hidden).startswith(".run.")
    assert manifest_of(out)["status"] == "complete" and len(load_run(out)[0]) == len(old)
    monkeypatch.undo()
    df = run_seeds(None, hidden, workers=1, progress=False, resume=True)
    assert df.attrs["run_dir"] == str(out) and len(load_run(out)[0]) == 80
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_stopped_replacement_is_named_by_resume_and_never_replaces_a_newer_run(
    tmp_path, monkeypatch, capsys
):
    """An --overwrite killed mid-run had left its work hidden: ``--resume run`` answered
    "complete" only, and the hidden run, resumed after a newer one, replaced that newer run."""
    out = tmp_path / "run"
    run_seeds(config_of(seeds=1, episodes=10), out, workers=1, progress=False)
    interrupt_at(monkeypatch, lambda s, h: h["episodes_done"] >= 10)
    with pytest.raises(KeyboardInterrupt) as stopped:
        run_seeds(config_of(seeds=2, episodes=40), out, workers=1, progress=False,
                  overwrite=True, checkpoint_every=0)  # fmt: skip
    hidden = stopped.value.run_dir
    monkeypatch.undo()
    assert main(["run", "--resume", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert f"an unfinished run that was to replace it is in {hidden}: continue it with" in printed
    newer = run_seeds(config_of(seeds=1, episodes=12), out, workers=1, progress=False,
                      overwrite=True)  # fmt: skip
    assert main(["run", "--resume", str(out), "--quiet"]) == 0  # it no longer leads there
    printed = capsys.readouterr().out
    assert f"is in {hidden}: {out} was replaced since, so it never will be: remove it" in printed
    with pytest.raises(experiments.ResultsNotSavedError, match="both are kept") as refused:
        run_seeds(None, hidden, workers=1, progress=False, resume=True)
    assert str(refused.value).startswith(f"the finished run is in {hidden}")  # no [Errno 5]
    pd.testing.assert_frame_equal(load_run(out)[0], newer)
    assert len(load_run(hidden)[0]) == 80  # the replacement, finished, kept where it played


def test_resume_options_that_disagree_with_the_run_are_refused(interrupted, capsys):
    config, out = interrupted
    for extra, message in (
        (["--episodes", "41"], "--episodes 41 disagrees with the run in .* which has 40"),
        (["--beta", "0.5"], "--beta 0.5 disagrees"),
        (["--param", "n_states=6"], "--param n_states=6 disagrees .* which has n_states=5: a"),
        (["--overwrite"], "resume .* overwrite .* not both"),
        (["--out", str(out.parent / "x")], "name different folders"),
    ):
        code = main(["run", "--resume", str(out), "--quiet", *extra])
        err = capsys.readouterr().err
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert pytest.importorskip("re").search(message, err), err
    # Options at the run's values are its own: a game parameter given or left at its default.
    same = ["--episodes", "40", "--param", "n_states=5", "--param", "seed=0"]
    code = main(["run", "--resume", str(out), "--quiet", *same, "--workers", "1"])
    assert code == 0 and manifest_of(out)["status"] == "complete"
    code = main(["run", "--resume", str(out), "--quiet"])
    assert code == 0 and "nothing to resume" in capsys.readouterr().out


def test_the_checkpoints_folder_is_the_programs_own(interrupted, tmp_path):
    config, out = interrupted
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    assert store.check_destination(copy, overwrite=True) == "replace"
    (copy / "checkpoints" / "seed-0.npz").unlink()
    (copy / "checkpoints" / "seed-0.npz").mkdir()  # a folder where a file should be: not ours
    with pytest.raises(RunFolderError, match=r"checkpoints/seed-0\.npz"):
        store.check_destination(copy, overwrite=True)


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_resuming_a_complete_run_with_damaged_plans_is_refused(tmp_path, capsys, damage):
    """A truncated plans.npz had been 'nothing to resume: the run is complete', exit 0, as a
    damaged results.parquet is not."""
    out = tmp_path / "r"
    argv = ["run", "--param", "n_states=4", "--param", "horizon=2", "--param", "dim=3",
            "--episodes", "3", "--seeds", "1", "--workers", "1", "--quiet", "--save-plans",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    capsys.readouterr()
    plans = out / "plans.npz"
    data = plans.read_bytes()
    if damage == "truncate":
        plans.write_bytes(data[: len(data) // 2])
    else:  # one byte inside the first member's data: its CRC no longer holds
        plans.write_bytes(data[:100] + bytes([data[100] ^ 0xFF]) + data[101:])
    code = main(["run", "--resume", str(out), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "plans.npz is corrupt or truncated" in err, err
