"""``explore`` and ``plan`` check their folders and names before they work or delete anything."""

import json
import os

import numpy as np
import pytest
from helpers import call, one_line_error

SMALL = ["--game", "security", "--param", "n_targets=2", "--param", "levels=2",
         "--param", "horizon=3"]  # fmt: skip


def explore(folder, capsys, *more):
    code, _, err = call(["explore", *SMALL, "--episodes", "20", "--quiet", "--out", str(folder),
                         *more], capsys)  # fmt: skip
    return code, err


@pytest.fixture
def explored(tmp_path, capsys):
    folder = tmp_path / "ex"
    code, err = explore(folder, capsys)
    assert code == 0, err
    return folder


def listing(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_overwrite_refuses_a_folder_holding_plans_and_deletes_nothing(explored, capsys):
    code, _, err = call(["plan", str(explored), "--param", "zero_sum=true"], capsys)
    assert code == 0, err
    before = listing(explored)
    line = one_line_error(*explore(explored, capsys, "--seed", "1", "--overwrite"))
    plans = sorted(name for name in before if name.startswith("plan-"))
    assert f"{explored} holds plans ({', '.join(plans)}) that --overwrite would delete" in line
    assert listing(explored) == before
    assert sorted(p.name for p in explored.parent.iterdir()) == ["ex"]  # no work folder left
    # Without plans it is replaced as before.
    for name in plans:
        (explored / name).unlink()
    manifest = json.loads((explored / "manifest.json").read_text())
    manifest["plans"] = []
    (explored / "manifest.json").write_text(json.dumps(manifest))
    assert explore(explored, capsys, "--seed", "1", "--overwrite")[0] == 0
    assert json.loads((explored / "manifest.json").read_text())["options"]["seed"] == 1


def test_plan_refuses_damaged_gaps_and_writes_nothing(explored, capsys):
    (explored / "gaps.json").write_bytes((explored / "gaps.json").read_bytes()[:20])
    before = listing(explored)
    code, _, err = call(["plan", str(explored), "--param", "zero_sum=true"], capsys)
    assert "gaps.json is corrupt or truncated" in one_line_error(code, err)
    assert listing(explored) == before
    (explored / "gaps.json").unlink()
    code, _, err = call(["plan", str(explored), "--param", "zero_sum=true"], capsys)
    assert "gaps.json is missing" in one_line_error(code, err)
    assert sorted(listing(explored)) == sorted(set(before) - {"gaps.json"})


@pytest.mark.parametrize("damaged", ["data.npz", "gaps.json", "policies.npz"])
def test_resume_of_a_complete_exploration_refuses_damaged_files(explored, capsys, damaged):
    code, out, err = call(["explore", "--resume", str(explored)], capsys)
    assert code == 0 and "nothing to resume" in out, err
    path = explored / damaged
    path.write_bytes(path.read_bytes()[: 100 if damaged.endswith(".npz") else 20])
    code, out, err = call(["explore", "--resume", str(explored)], capsys)
    assert f"{path}" in one_line_error(code, err) and "nothing to resume" not in out


def test_a_name_too_long_is_refused_before_the_plan(explored, capsys, monkeypatch):
    from stackelberg_rl.cli import explore as explore_cli

    def no_planning(*args, **kwargs):
        raise AssertionError("planned before the name was checked")

    monkeypatch.setattr(explore_cli, "_planned", no_planning)
    before = listing(explored)
    name_max = os.pathconf(explored, "PC_NAME_MAX")
    code, _, err = call(["plan", str(explored), "--param", "zero_sum=true",
                         "--name", "z" * name_max], capsys)  # fmt: skip
    line = one_line_error(code, err)
    assert f"--name is too long: {name_max} characters, at most" in line
    assert listing(explored) == before
    monkeypatch.undo()
    # The longest name allowed is written, and a default name from a long file is shortened.
    most = int(line.split("at most ")[1].split()[0])
    code, out, err = call(["plan", str(explored), "--param", "zero_sum=true",
                           "--name", "z" * most], capsys)  # fmt: skip
    assert code == 0, err
    assert (explored / f"plan-{'z' * most}.npz").is_file()
    rewards = explored.parent / ("r" * (name_max - 4) + ".npz")
    np.savez(rewards, rewards=np.full((2, 3, 2, 2, 3), 0.5))
    code, out, err = call(["plan", str(explored), "--rewards", str(rewards)], capsys)
    assert code == 0, err
    assert (explored / f"plan-{'r' * most}.npz").is_file()


@pytest.mark.parametrize("name", ["../evil", "a/b", "", "_x", "two words"])
def test_a_name_that_is_not_a_file_name_as_given_is_refused_not_rewritten(explored, capsys, name):
    before = listing(explored)
    code, _, err = call(["plan", str(explored), "--param", "zero_sum=true", "--name", name], capsys)
    expected = (
        f"--name must be letters, digits and _.=,+- (neither _ nor . first or last), got {name!r}"
    )
    assert one_line_error(code, err).endswith(expected)
    assert listing(explored) == before  # it had written plan-evil, plan-a_b, plan-rewards, ...


def test_a_folder_of_another_kind_is_named_as_such(explored, tmp_path, capsys):
    run = tmp_path / "run"
    code, _, err = call(["run", "--game", "security", "--episodes", "5", "--seeds", "1",
                         "--quiet", "--out", str(run)], capsys)  # fmt: skip
    assert code == 0, err
    for argv, expected in [
        (["plan", str(run)], f"{run} is a run folder, not an exploration folder"),
        (["explore", "--resume", str(run)], f"{run} is a run folder, not an exploration folder"),
        (["run", "--resume", str(explored)], f"{explored} is an exploration folder, not a run"),
        (["equilibrium", str(explored)], f"{explored} is an exploration folder, not a run"),
    ]:
        line = one_line_error(*call(argv, capsys)[::2])
        assert expected in line and "not a manifest" not in line, line


def test_equilibrium_of_a_run_whose_game_file_moved_takes_it_with_game_file(tmp_path, capsys):
    from stackelberg_rl import games

    path, other = tmp_path / "g.npz", tmp_path / "other.npz"
    games.save(games.make("security", n_targets=2, levels=2, horizon=3), path)
    games.save(games.make("security", n_targets=2, levels=2, horizon=4), other)
    run = tmp_path / "run"
    code, _, err = call(["run", "--game-file", str(path), "--episodes", "8", "--seeds", "1",
                         "--save-plans", "--quiet", "--out", str(run)], capsys)  # fmt: skip
    assert code == 0, err
    moved = tmp_path / "moved.npz"
    path.rename(moved)
    line = one_line_error(*call(["equilibrium", str(run)], capsys)[::2])
    assert f"{path}: no such file" in line and "--game-file PATH" in line
    assert "game=" not in line
    line = one_line_error(*call(["equilibrium", str(run), "--game-file", str(other)], capsys)[::2])
    assert f"--game-file {other}: the game" in line and "is not the game the run played" in line
    code, out, err = call(["equilibrium", str(run), "--game-file", str(moved), "--points", "2"],
                          capsys)  # fmt: skip
    assert code == 0, err
    assert "the mixture of seed 0's K=8 episodes" in out


def test_plan_for_other_dynamics_under_the_same_label_names_the_parameter(tmp_path, capsys):
    folder = tmp_path / "econt"
    argv = ["explore", "--game", "continuous", "--episodes", "2", "--quiet", "--out", str(folder)]
    assert call(argv, capsys)[0] == 0
    line = one_line_error(*call(["plan", str(folder), "--param", "tilt=1"], capsys)[::2])
    assert (
        "continuous(d=4,A=2,B=2,H=3) with tilt=1.0 has other features or transitions than "
        "the explored one with tilt=2.0" in line
    ), line


def test_resume_refuses_a_damaged_checkpoint_before_the_progress_bar(explored, capsys, monkeypatch):
    import stackelberg_rl.cli.explore as cli_explore

    manifest = json.loads((explored / "manifest.json").read_text())
    (explored / "manifest.json").write_text(json.dumps({**manifest, "status": "interrupted"}))
    (explored / "checkpoints").mkdir()
    seed = manifest["options"]["seed"]
    (explored / "checkpoints" / f"seed-{seed}.npz").write_bytes(b"PK\x03\x04truncated")
    bars = []
    monkeypatch.setattr(cli_explore, "progress", lambda *args: bars.append(args))
    line = one_line_error(*call(["explore", "--resume", str(explored)], capsys)[::2])
    assert "the exploration's checkpoint is damaged" in line and "remove" in line, line
    assert bars == []
