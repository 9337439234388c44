"""Users' own games on the command line and in configurations: ``--game-file PATH``."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import call, one_line_error

from stackelberg_rl import games
from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, run, run_seeds
from stackelberg_rl.games import random_linear


def without_time(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="wall_time")


@pytest.fixture
def game_file(tmp_path):
    """A small factored game saved where only this test sees it: ``(path, game)``."""
    game = random_linear(6, 2, 2, 3, 3, seed=41)
    path = tmp_path / "mine.npz"
    games.save(game, path)
    return path, game


# ---------------------------------------------------------------------- the configuration
def test_a_game_spec_records_the_file_and_its_game(game_file):
    path, game = game_file
    spec = GameSpec(file=str(path))
    assert (spec.name, spec.params, spec.sha256) == (None, {}, game.fingerprint())
    assert spec.label == "mine" and spec.resolved() == {}
    assert spec.make().fingerprint() == game.fingerprint()
    assert spec.estimate_bytes() >= game.features.nbytes + game.mu.nbytes
    config = RunConfig(game=spec, episodes=3)
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again.game == spec
    assert GameSpec().name == "random-linear"  # without a file, the default game


@pytest.mark.parametrize(
    "extra, words",
    [
        (dict(name="matrix"), "game 'matrix' (--game)"),
        (dict(name="random-linear"), "game 'random-linear' (--game)"),
        (dict(params={"seed": 1}), "parameters {'seed': 1} (--param)"),
    ],
)
def test_a_file_with_a_name_or_parameters_is_refused(game_file, extra, words):
    with pytest.raises(ValueError, match="are both given") as err:
        GameSpec(file=str(game_file[0]), **extra)
    assert words in str(err.value) and str(game_file[0]) in str(err.value)


def test_a_file_whose_game_changed_is_refused_when_the_game_is_built(game_file, tmp_path):
    path, _ = game_file
    config = RunConfig(game=GameSpec(file=str(path)), episodes=3)
    games.save(random_linear(6, 2, 2, 3, 3, seed=42), path, overwrite=True)
    with pytest.raises(ValueError, match="mine.npz: its game has changed since it was recorded"):
        config.game.make()
    with pytest.raises(ValueError, match="has changed"):
        run_seeds(config, tmp_path / "run", workers=1, progress=False)
    assert not (tmp_path / "run").exists()


def test_workers_play_that_very_game_and_the_manifest_identifies_it(game_file, tmp_path):
    path, game = game_file
    config = RunConfig(game=GameSpec(file=str(path)), episodes=6, seeds=2)
    parallel = run_seeds(config, tmp_path / "parallel", workers=2, progress=False)
    for seed in (0, 1):  # each worker's seed is the seed played alone on the game of the file
        alone = run(game, config, seed=seed)
        played = parallel[parallel["seed"] == seed].reset_index(drop=True)
        pd.testing.assert_frame_equal(without_time(played), without_time(alone))
    manifest = load_run(tmp_path / "parallel")[1]
    assert manifest["config"]["game"] == {
        "name": None,
        "params": {},
        "file": str(path),
        "sha256": game.fingerprint(),
    }
    assert manifest["game"]["file"] == str(path.resolve())
    assert manifest["game"]["sha256"] == game.fingerprint()
    assert manifest["game"]["source"] == f"read from {path}"
    other = random_linear(6, 2, 2, 3, 3, seed=43)
    with pytest.raises(ValueError, match="is not the game of config.game's file"):
        run_seeds(config, tmp_path / "other", workers=1, progress=False, game=other)


# ---------------------------------------------------------------------- the command line
def test_run_and_solve_take_a_game_file(game_file, tmp_path, capsys, monkeypatch):
    path, game = game_file
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--game-file", str(path), "--episodes", "4", "--seeds", "1", "--quiet"]
    code, out, err = call(argv, capsys)
    assert code == 0, err
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("mine-")  # named after the file
    manifest = load_run(folder)[1]
    assert manifest["config"]["game"]["sha256"] == game.fingerprint()
    assert manifest["game"]["file"] == str(path.resolve())
    code, out, err = call(["solve", "--game-file", str(path)], capsys)
    assert code == 0 and "Stackelberg equilibrium" in out, err


def test_a_relative_game_file_is_found_again_from_any_folder(
    game_file, tmp_path, capsys, monkeypatch
):
    path, game = game_file
    monkeypatch.chdir(tmp_path)
    argv = ["run", "--game-file", "mine.npz", "--episodes", "6", "--seeds", "1", "--save-plans"]
    code, _, err = call([*argv, "--quiet", "--out", "runs/r"], capsys)
    assert code == 0, err
    manifest = load_run(tmp_path / "runs" / "r")[1]
    assert manifest["config"]["game"]["file"] == str(path)  # as given, made absolute
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the run's game rebuilt from its manifest, from another folder
    code, out, err = call(["equilibrium", str(tmp_path / "runs" / "r")], capsys)
    assert code == 0 and "leader" in out, err
    assert GameSpec(file="../mine.npz").file == str(path)


def _truncated(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _misshaped(path):
    arrays = dict(np.load(path))
    arrays["theta"] = arrays["theta"][:, :2]
    np.savez(path, **arrays)


DAMAGES = {
    "missing": (lambda p: p.unlink(), "no such file"),
    "not a zip": (lambda p: p.write_bytes(b"\x00garbage" * 10), "not an .npz archive"),
    "truncated": (_truncated, "not an .npz archive"),
    "foreign": (lambda p: np.savez(p, weights=np.ones(3)), "unknown array weights"),
    "misshaped": (_misshaped, "theta has shape (2, 2, 3), expected (2, 3, 3)"),
    "a folder": (lambda p: (p.unlink(), p.mkdir()), "is a folder, not an .npz archive"),
}


@pytest.mark.parametrize("command", ["run", "solve"])
@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_bad_game_file_is_one_line_naming_the_file_and_the_problem(
    game_file, damage, command, tmp_path, capsys, monkeypatch
):
    path, _ = game_file
    spoil, problem = DAMAGES[damage]
    spoil(path)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    line = one_line_error(*call([command, "--game-file", str(path)], capsys)[::2])
    assert f"game file {path}" in line and problem in line, line
    assert list(work.iterdir()) == []  # nothing written, nothing run


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--game", "matrix"], "game 'matrix' (--game)"),
        (["--game", "random-linear"], "game 'random-linear' (--game)"),  # the default, given
        (["--param", "seed=3"], "(--param)"),
    ],
)
@pytest.mark.parametrize("command", ["run", "solve", "demo"])
def test_a_game_file_with_game_or_param_is_one_line(
    game_file, extra, words, command, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    line = one_line_error(*call([command, "--game-file", str(game_file[0]), *extra], capsys)[::2])
    assert "are both given" in line and words in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.npz"]
