"""``stackelberg-rl explore`` and ``plan``: exploration folders, plans for other rewards."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import call, interrupt, killed_if_left, one_line_error

from stackelberg_rl import games
from stackelberg_rl.equilibria import reward_free as rf
from stackelberg_rl.experiments import store

SMALL = ["--game", "security", "--param", "n_targets=2", "--param", "levels=2",
         "--param", "horizon=3"]  # fmt: skip


@pytest.fixture
def explored(tmp_path, capsys):
    folder = tmp_path / "ex"
    code, out, err = call(
        ["explore", *SMALL, "--episodes", "40", "--seed", "3", "--quiet", "--out", str(folder)],
        capsys,
    )
    assert code == 0, err
    return folder


def test_explore_writes_the_folder_and_the_gaps_of_its_plan(explored):
    names = sorted(p.name for p in explored.iterdir())
    assert names == ["data.npz", "gaps.json", "manifest.json", "policies.npz"]
    manifest = json.loads((explored / "manifest.json").read_text())
    assert manifest["format"] == "stackelberg-rl/exploration" and manifest["status"] == "complete"
    assert manifest["options"]["episodes"] == 40 and manifest["plans"] == []
    # The folder holds what the API computes from the same seed.
    game = games.make("security", n_targets=2, levels=2, horizon=3)
    data = rf.explore(game, 40, seed=3)
    pi_l, pi_f = rf.solve(data)
    with np.load(explored / "policies.npz") as saved:
        np.testing.assert_array_equal(saved["pi_l"], pi_l)
        np.testing.assert_array_equal(saved["pi_f"], pi_f)
        assert saved["w"].shape == (2, 3, game.dim)
    gaps = json.loads((explored / "gaps.json").read_text())
    assert gaps == pytest.approx(rf.gaps(game, pi_l, pi_f), abs=1e-15)
    assert manifest["gaps"] == pytest.approx(gaps)
    back = rf.ExplorationData.load(explored / "data.npz")
    np.testing.assert_array_equal(back.actions, data.actions)


def test_plan_writes_one_new_file_pair_per_reward_and_never_replaces_one(explored, capsys):
    code, out, err = call(["plan", str(explored), "--param", "zero_sum=true"], capsys)
    assert code == 0, err
    stem = "plan-security-zero_sum=true"
    assert (explored / f"{stem}.npz").is_file() and (explored / f"{stem}.json").is_file()
    record = json.loads((explored / f"{stem}.json").read_text())
    zero_sum = games.make("security", n_targets=2, levels=2, horizon=3, zero_sum=True)
    with np.load(explored / f"{stem}.npz") as saved:
        pi_l, pi_f = saved["pi_l"], saved["pi_f"]
    assert record["gaps"] == pytest.approx(rf.gaps(zero_sum, pi_l, pi_f), abs=1e-15)
    data = rf.ExplorationData.load(explored / "data.npz")
    expected = rf.solve(data, zero_sum)
    np.testing.assert_array_equal(pi_l, expected[0])
    np.testing.assert_array_equal(pi_f, expected[1])
    # Again, and with a user's file in the way: new names, nothing replaced.
    user_file = explored / f"{stem}-2.npz"
    user_file.write_text("mine")
    code, _, err = call(["plan", str(explored), "--param", "zero_sum=true"], capsys)
    assert code == 0, err
    assert user_file.read_text() == "mine" and (explored / f"{stem}-3.npz").is_file()
    manifest = json.loads((explored / "manifest.json").read_text())
    assert [p["name"] for p in manifest["plans"]] == [stem, f"{stem}-3"]


def test_plans_of_one_folder_take_turns(explored, capsys, monkeypatch):
    """Each plan adds its record to the manifest: two at once had lost one of them. A plan waits
    for the folder's lock (``PLAN_WAIT`` seconds), then is refused in one line, writing nothing."""
    from stackelberg_rl.cli import explore as explore_cli

    monkeypatch.setattr(explore_cli, "PLAN_WAIT", 0.0)
    before = sorted(p.name for p in explored.iterdir())
    held = store.lock(explored, rf.EXPLORATION_FOLDER)  # another process's plan, as it were
    try:
        code, _, err = call(["plan", str(explored), "--param", "zero_sum=true"], capsys)
        assert "still running" in one_line_error(code, err)
        assert sorted(p.name for p in explored.iterdir()) == before
    finally:
        os.close(held)
    code, _, err = call(["plan", str(explored), "--param", "zero_sum=true"], capsys)
    assert code == 0, err


def test_plan_of_an_exploration_of_a_game_file_plans_for_that_file(tmp_path, capsys):
    """``--game``'s default, the explored game, is the file's (refused before: "not a registered
    one"), as long as the file still holds that game."""
    game_file, folder = tmp_path / "sec.npz", tmp_path / "ex"
    games.save(games.make("security", n_targets=2, levels=2, horizon=3), game_file)
    argv = ["explore", "--game-file", str(game_file), "--episodes", "30", "--quiet"]
    assert call([*argv, "--out", str(folder)], capsys)[0] == 0
    code, _, err = call(["plan", str(folder)], capsys)
    assert code == 0, err
    expected = rf.solve(rf.ExplorationData.load(folder / "data.npz"), games.load(game_file))
    with np.load(folder / "plan-sec.npz") as planned:
        np.testing.assert_array_equal(planned["pi_l"], expected[0])
        np.testing.assert_array_equal(planned["pi_f"], expected[1])
    code, _, err = call(["plan", str(folder), "--param", "zero_sum=true"], capsys)
    assert "the explored game is the file" in one_line_error(code, err)  # not "--game-file given"
    game_file.unlink()
    games.save(games.make("security", n_targets=2, levels=2, horizon=3, zero_sum=True), game_file)
    code, _, err = call(["plan", str(folder)], capsys)
    assert "its game has changed since it was recorded" in one_line_error(code, err)


def test_plan_takes_rewards_or_theta_from_a_file(explored, tmp_path, capsys):
    game = games.make("security", n_targets=2, levels=2, horizon=3, seed=7)
    table = np.stack([game.reward(h) for h in range(game.horizon)], axis=1)
    np.savez(tmp_path / "table.npz", rewards=table)
    np.savez(tmp_path / "theta.npz", theta=game.theta)
    outputs = []
    for name in ("table", "theta"):
        code, _, err = call(
            ["plan", str(explored), "--rewards", str(tmp_path / f"{name}.npz"), "--name", name],
            capsys,
        )
        assert code == 0, err
        with np.load(explored / f"plan-{name}.npz") as saved:
            outputs.append((saved["pi_l"], saved["pi_f"]))
        record = json.loads((explored / f"plan-{name}.json").read_text())
        assert record["gaps"]["value/leader/stackelberg"] == pytest.approx(
            rf.gaps(game, *outputs[-1])["value/leader/stackelberg"]
        )
    np.testing.assert_array_equal(outputs[0][0], outputs[1][0])
    np.testing.assert_array_equal(outputs[0][1], outputs[1][1])


def truncate(path):
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize(
    ("args", "damage", "match"),
    [
        (["--param", "escalation=0.3"], None, r"transitions differ from the explored game's"),
        (["--param", "impact_exponent=1"], None, r"features differ"),
        (["--game", "electricity"], None, r"the game has \(H, A, B, d\)"),
        (["--param", "zero_sum=maybe"], None, "zero_sum must be true or false"),
        (["--param", "zero_sum=true", "--rewards", "x.npz"], None, "not both"),
        (["--rewards", "missing.npz"], None, "missing.npz: no such file"),
        (["--lam", "0"], None, r"lam must be in \(0, inf\)"),
        ([], "truncate data", r"data.npz is damaged, truncated or not an exploration data set"),
        ([], "foreign data", r"data.npz is not an exploration data set"),
        ([], "unfinished", r"did not finish \(status 'running'\)"),
        ([], "no manifest", "is not an exploration folder: no manifest.json"),
        ([], "run manifest", "is a run folder, not an exploration folder"),
        ([], "flip policies", r"policies.npz is damaged"),
        ([], "edit game", r"manifest.json was edited or damaged: its options' game is not the"),
    ],
)
def test_plan_refuses_what_it_cannot_plan_for_in_one_line(explored, capsys, args, damage, match):
    if damage == "truncate data":
        truncate(explored / "data.npz")
    elif damage == "foreign data":  # games.save never overwrites another kind of file
        (explored / "data.npz").unlink()
        games.save(games.make("security"), explored / "data.npz")
    elif damage == "flip policies":
        data = bytearray((explored / "policies.npz").read_bytes())
        data[len(data) // 2] ^= 1
        (explored / "policies.npz").write_bytes(bytes(data))
    elif damage in ("unfinished", "run manifest", "edit game"):
        manifest = json.loads((explored / "manifest.json").read_text())
        if damage == "unfinished":
            manifest["status"] = "running"
        elif damage == "edit game":
            manifest["options"]["game"]["params"]["n_targets"] = 3
        else:
            manifest["format"] = "stackelberg-rl/run"
        (explored / "manifest.json").write_text(json.dumps(manifest))
    elif damage == "no manifest":
        (explored / "manifest.json").unlink()
    before = sorted(p.name for p in explored.iterdir())
    code, _, err = call(["plan", str(explored), *args], capsys)
    assert re.search(match, one_line_error(code, err)), err
    assert sorted(p.name for p in explored.iterdir()) == before  # nothing written


def test_a_rewards_file_of_the_wrong_kind_is_refused(explored, tmp_path, capsys):
    np.savez(tmp_path / "two.npz", rewards=np.zeros(1), theta=np.zeros(1))
    np.savez(tmp_path / "shape.npz", theta=np.zeros((2, 3, 99)))
    np.savez(tmp_path / "flat.npz", rewards=np.zeros((2, 5, 3)))
    (tmp_path / "text.npz").write_text("no")
    (tmp_path / "folder.npz").mkdir()
    for name, match in [
        ("two", "must hold one array"),
        ("shape", r"theta has shape \(2, 3, 99\), expected \(2, 3, 7\)"),
        ("flat", r"rewards has shape \(2, 5, 3\), expected \(2, H, S, A, B\)"),
        ("text", r"not an .npz rewards file \(not a zip file, or truncated\)"),
        ("folder", r"folder.npz is a folder, not an .npz rewards file"),
    ]:
        code, _, err = call(["plan", str(explored), "--rewards", str(tmp_path / f"{name}.npz")],
                            capsys)  # fmt: skip
        assert re.search(match, one_line_error(code, err)), err


def test_explore_keeps_users_files_and_replaces_only_its_own_folder(explored, tmp_path, capsys):
    argv = ["explore", *SMALL, "--episodes", "5", "--quiet", "--out", str(explored)]
    line = one_line_error(*call(argv, capsys)[::2])
    assert "already holds an exploration; pass --overwrite" in line
    code, _, err = call([*argv, "--overwrite"], capsys)
    assert code == 0, err
    manifest = json.loads((explored / "manifest.json").read_text())
    assert manifest["options"]["episodes"] == 5
    (explored / "notes.txt").write_text("mine")
    line = one_line_error(*call([*argv, "--overwrite"], capsys)[::2])
    assert "notes.txt" in line and "never replaced" in line
    assert (explored / "notes.txt").read_text() == "mine"
    user = tmp_path / "user"
    user.mkdir()
    (user / "data.npz").write_text("mine")
    line = one_line_error(*call([*argv[:-1], str(user), "--overwrite"], capsys)[::2])
    assert (user / "data.npz").read_text() == "mine"


def test_an_exploration_folder_is_played_by_one_process_at_a_time(explored, capsys):
    """As a run folder (store.Reservation): a resume of a folder another process holds is
    refused in one line, and the folder is left as it was."""
    manifest = json.loads((explored / "manifest.json").read_text())
    manifest["status"] = "interrupted"
    (explored / "manifest.json").write_text(json.dumps(manifest))
    before = (explored / "manifest.json").read_bytes()
    held = store.lock(explored)  # as an `explore --resume` that is playing holds it
    try:
        code, _, err = call(["explore", "--resume", str(explored), "--quiet"], capsys)
    finally:
        os.close(held)
    assert "holds an exploration that is still running" in one_line_error(code, err)
    assert (explored / "manifest.json").read_bytes() == before


def test_an_exploration_whose_files_cannot_be_written_is_saved_elsewhere(
    tmp_path, capsys, monkeypatch
):
    """As a run's results (store.Reservation.finish): the error says where they are."""
    out, rescue_root = tmp_path / "ex", tmp_path / "tmp"
    rescue_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(rescue_root))  # where the rescue goes
    real = rf.ExplorationData.save

    def disk_full(self, path, **options):
        if str(path).startswith(str(out)):
            raise OSError(28, "No space left on device")
        return real(self, path, **options)

    monkeypatch.setattr(rf.ExplorationData, "save", disk_full)
    argv = ["explore", *SMALL, "--episodes", "5", "--quiet", "--out", str(out)]
    line = one_line_error(*call(argv, capsys)[::2])
    where = Path(line.split("they are saved in ")[1].strip())
    assert where.parent == rescue_root and not out.exists()
    names = ["data.npz", "gaps.json", "manifest.json", "policies.npz"]
    assert sorted(p.name for p in where.iterdir()) == names
    assert json.loads((where / "manifest.json").read_text())["status"] == "complete"
    assert rf.ExplorationData.load(where / "data.npz").episodes == 5


@pytest.mark.parametrize(
    ("option", "value", "match"),
    [
        ("--episodes", "0", "episodes must be an integer >= 1"),
        ("--beta", "-1", "beta must be in [0, inf)"),
        ("--lam", "0", "lam must be in (0, inf)"),
        ("--plan-lam", "0", "--plan-lam must be in (0, inf)"),
        ("--alpha-l", "hot", "alpha_l"),
        ("--seed", "-1", "seed must be an integer >= 0"),
        ("--game", "nope", "unknown game"),
    ],
)
def test_explore_refuses_bad_options_in_one_line_before_writing(
    tmp_path, capsys, option, value, match
):
    out = tmp_path / "never"
    code, _, err = call(["explore", option, value, "--quiet", "--out", str(out)], capsys)
    assert match in one_line_error(code, err)
    assert not out.exists()


def test_explore_on_a_continuous_game_writes_the_plans_weights(tmp_path, capsys):
    out = tmp_path / "c"
    code, stdout, err = call(
        ["explore", "--game", "continuous", "--param", "n_eval_states=5", "--episodes", "6",
         "--quiet", "--out", str(out)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["data.npz", "manifest.json", "policies.npz"]
    with np.load(out / "policies.npz") as saved:
        assert sorted(saved.files) == ["header", "w"]  # the container's header, then the plan
    assert "no exact gaps" in stdout


def _wait_for(condition, what: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_an_exploration_stopped_by_sigterm_is_kept_and_resumes_to_the_same_data(tmp_path, capsys):
    """Issue 16: SIGTERM once it has played (a checkpoint is written) keeps the folder; --resume
    gives the data and plan of an exploration never stopped, bit for bit. The signal needs a
    process of its own; the resumes after it play in this one."""
    out = tmp_path / "ex"
    argv = ["explore", *SMALL, "--episodes", "1500", "--seed", "3", "--quiet", "--out", str(out),
            "--checkpoint-every", "0"]  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-m", "stackelberg_rl", *argv], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    with killed_if_left(proc):
        _wait_for((out / "checkpoints" / "seed-3.npz").is_file, "a checkpoint")
        err = interrupt(proc, signal.SIGTERM, to_group=False)
    assert proc.returncode == 143, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in err, err
    line = lines[0]
    assert f"checkpoint kept, resume with stackelberg-rl explore --resume {out}" in line
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "manifest.json"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["reason"] == "signal SIGTERM"
    # A damaged checkpoint is refused in one line (on a copy), another option than the
    # recorded one too; then it continues.
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    truncate(copy / "checkpoints" / "seed-3.npz")
    line = one_line_error(*call(["explore", "--resume", str(copy)], capsys)[::2])
    assert "checkpoint is damaged, truncated" in line and "remove" in line
    code, _, err = call(["explore", "--resume", str(out), "--beta", "2"], capsys)
    assert code == 2 and "--beta 2.0 disagrees" in err
    code, _, err = call(["explore", "--resume", str(out), "--quiet"], capsys)
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == ["data.npz", "gaps.json", "manifest.json", "policies.npz"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["resumed"]) == 1
    whole = rf.explore(games.make("security", n_targets=2, levels=2, horizon=3), 1500, seed=3)
    back = rf.ExplorationData.load(out / "data.npz")
    for name in ("phi", "rewards", "states", "actions", "next_states"):
        assert getattr(back, name).tobytes() == getattr(whole, name).tobytes(), name
    pi_l, pi_f = rf.solve(whole)
    with np.load(out / "policies.npz") as saved:
        assert saved["pi_l"].tobytes() == pi_l.tobytes()
        assert saved["pi_f"].tobytes() == pi_f.tobytes()
    code, stdout, _ = call(["explore", "--resume", str(out)], capsys)
    assert code == 0 and "nothing to resume" in stdout


def test_an_exploration_checkpoint_restores_the_same_data_in_process(tmp_path):
    """The API: a KeyboardInterrupt between episodes hands the checkpoint over; continued from
    it, a continuous game's exploration is the one never stopped; a foreign one is refused."""
    game = games.make("continuous", n_eval_states=5)
    whole = rf.explore(game, 6, seed=1)
    saved = []

    def stop(done):
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rf.explore(game, 6, seed=1, progress=stop, checkpoint=saved.append, checkpoint_every=1e9)
    assert len(saved) == 1
    back = rf.explore(game, 6, seed=1, state=saved[0])
    for name in ("phi", "rewards", "states", "actions", "next_states", "next_features"):
        assert getattr(back, name).tobytes() == getattr(whole, name).tobytes(), name
    from stackelberg_rl.experiments import CheckpointError

    with pytest.raises(CheckpointError, match="seed is 1 there, 2 here"):
        rf.explore(game, 6, seed=2, state=saved[0])
    with pytest.raises(CheckpointError, match="damaged, truncated"):
        rf.explore(game, 6, seed=1, state=saved[0][:300])


def test_resuming_a_complete_exploration_checks_the_options_all_the_same(explored, capsys):
    code, _, err = call(["explore", "--resume", str(explored), "--out", "elsewhere"], capsys)
    assert "--out elsewhere disagrees with the exploration in" in one_line_error(code, err)
    code, _, err = call(["explore", "--resume", str(explored), "--beta", "0.3"], capsys)
    assert "--beta 0.3 disagrees" in one_line_error(code, err)
    code, out, err = call(["explore", "--resume", str(explored)], capsys)
    assert code == 0 and f"nothing to resume: the exploration in {explored} is complete" in out


def test_an_exploration_interrupted_while_its_files_are_written_is_finished_whole(
    tmp_path, monkeypatch, capsys
):
    """SIGINT after data.npz is written and before the manifest: the folder is finished all the
    same (the signal lands once it is in place) and the one line says where. Before, the signal
    cut the writing in two and the finished exploration was marked interrupted."""
    from stackelberg_rl.cli import main

    write_file = store.write_file

    def signalled(folder, name, write, *rest):
        write_file(folder, name, write, *rest)
        if name == rf.DATA_FILE:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(store, "write_file", signalled)
    out = tmp_path / "ex"
    code = main(["explore", *SMALL, "--episodes", "20", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 130 and err.count("\n") == 0, err
    assert f"interrupted by Ctrl-C; the finished exploration is in {out}" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and (out / rf.POLICIES_FILE).is_file()
    assert not list(tmp_path.glob(".*"))  # no working folder left beside it
