"""Users' own games in .npz files: bit-exact round trips, atomic writes, every bad file named."""

import os
import zipfile

import numpy as np
import pytest
from helpers import dense_model

from stackelberg_rl import games
from stackelberg_rl.games import npz


def _arrays(game):
    return {
        "features": game.features,
        "initial_distribution": game.initial_distribution,
        "transitions": game._transitions,
        "rewards": game._rewards,
        "mu": game.mu,
        "theta": game.theta,
    }


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("electricity", {}),
        ("security", {"zero_sum": True}),
        ("appendix-f", {"table": 2}),
        ("matrix", {}),
        ("random-linear", {"reward_noise": 0.1}),  # factored only
        ("random-tabular", {"n_states": 4}),  # dense only
    ],
)
def test_save_then_load_is_bit_exact(tmp_path, name, params):
    game = games.make(name, **params)
    path = tmp_path / "game.npz"
    games.save(game, path)
    back = games.load(path)
    assert back.fingerprint() == game.fingerprint()
    for key, array in _arrays(game).items():
        loaded = _arrays(back)[key]
        assert (array is None) == (loaded is None), key
        if array is not None:
            assert loaded.dtype == np.float64 and np.array_equal(loaded, array), key
    assert (back.name, back.reward_noise) == (game.name, game.reward_noise)
    assert os.listdir(tmp_path) == ["game.npz"]  # no temporary file left behind


def test_a_users_dense_game_loads_with_its_file_name(tmp_path):
    P = np.full((2, 3, 2, 2, 3), 1 / 3)
    r = np.zeros((2, 2, 3, 2, 2))
    features = games.one_hot_features(3, 2, 2)
    path = tmp_path / "mine.npz"
    np.savez(path, features=features, transitions=P, rewards=r, initial_distribution=np.ones(3) / 3)
    game = games.load(path)
    assert game.name == "mine" and game.horizon == 2 and not game.is_factored


def test_save_replaces_atomically_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "g.npz"
    games.save(games.make("matrix"), path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        games.save(games.make("appendix-f"), path, overwrite=True)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["g.npz"]


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


def _valid(game=None):
    game = game or games.make("matrix", horizon=2)
    return {k: v for k, v in _arrays(game).items() if v is not None}


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.pop("features"), r"missing array 'features' \(S, A, B, d\)"),
        (lambda a: a.pop("initial_distribution"), r"missing array 'initial_distribution' \(S,\)"),
        (lambda a: a.pop("rewards"), r"missing array 'rewards' \(2, H, S, A, B\): 'transitions'"),
        (lambda a: a.pop("mu"), r"missing array 'mu' \(H, d, S\): 'theta' needs it"),
        (lambda a: a.update(extra=np.ones(2)), r"unknown array extra; a game file holds features"),
        (
            lambda a: a.update(transitions=a["transitions"][..., None]),
            r"transitions has shape \(2, 1, 2, 2, 1, 1\), expected .*\(H, S, A, B, S\): "
            r"6 axes instead of 5",
        ),
        (
            lambda a: a.update(rewards=np.zeros((2, 2, 1, 3, 2))),
            r"rewards has shape \(2, 2, 1, 3, 2\), expected \(2, 2, 1, 2, 2\): axis 3 \(A\) is 3",
        ),
        (
            lambda a: a.update(theta=np.where(np.arange(4) == 2, np.nan, a["theta"])),
            r"theta has a non-finite entry nan at index \(0, 0, 2\)",
        ),
        (
            lambda a: a.update(features=a["features"].astype(str)),
            r"array 'features' has dtype <U32, expected real numbers",
        ),
        (
            lambda a: a.update(reward_noise=np.array([0.1, 0.2])),
            r"array 'reward_noise' must be one number",
        ),
        (lambda a: a.update(name=np.array(3)), r"array 'name' must be one string"),
    ],
)
def test_bad_arrays_are_named(tmp_path, change, match):
    arrays = _valid()
    change(arrays)
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(games.GameFileError, match=match) as err:
        games.load(path)
    assert str(err.value).startswith(str(path))


def test_a_game_declared_linear_that_is_not_is_refused_with_the_index(tmp_path):
    arrays = _valid(games.make("security", horizon=2, n_targets=2, levels=2))
    arrays["rewards"] = arrays["rewards"].copy()
    arrays["rewards"][1, 1, 0, 1, 2] = 0.25  # a waiting attacker paid at one (h, x, a, b)
    path = _write(tmp_path / "nonlinear.npz", **arrays)
    with pytest.raises(
        ValueError,
        match=r"rewards disagree with features·theta at index "
        r"\(1, 1, 0, 1, 2\) \(m, h, x, a, b\) by 0.25: the game is not linear",
    ):
        games.load(path)
    arrays = _valid(games.make("random-linear", n_states=3, dim=2, horizon=1))
    arrays["transitions"], arrays["rewards"] = dense_model(
        games.make("random-tabular", n_states=3, horizon=1)
    )
    path = _write(tmp_path / "other.npz", **arrays)
    with pytest.raises(ValueError, match=r"transitions disagree with features·mu at index"):
        games.load(path)


def test_probabilities_and_rewards_out_of_range_are_named(tmp_path):
    arrays = _valid()
    arrays.pop("mu"), arrays.pop("theta")
    arrays["rewards"] = arrays["rewards"] * 2
    path = _write(tmp_path / "big.npz", **arrays)
    with pytest.raises(ValueError, match=r"rewards has 2 > 1 at index \(0, 0, 0, 0, 1\)"):
        games.load(path)


def test_missing_corrupt_truncated_and_pickled_files(tmp_path):
    with pytest.raises(games.GameFileError, match="no such file"):
        games.load(tmp_path / "absent.npz")
    text = tmp_path / "notes.npz"
    text.write_text("not an archive")
    with pytest.raises(games.GameFileError, match=r"not an .npz archive"):
        games.load(text)
    good = tmp_path / "good.npz"
    games.save(games.make("electricity"), good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        games.GameFileError, match=r"not an .npz archive \(not a zip file, or trunc"
    ):
        games.load(truncated)
    # One byte flipped inside the stored features: the zip's checksum catches it.
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("features.npy")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 200
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1 :])
    with pytest.raises(games.GameFileError, match=r"corrupt.npz is damaged: array 'features'"):
        games.load(corrupt)
    pickled = tmp_path / "pickled.npz"
    arrays = _valid()
    arrays["features"] = np.array([object()] * 2, dtype=object)
    np.savez(pickled, **arrays)
    with pytest.raises(games.GameFileError, match=r"array 'features' is an object array"):
        games.load(pickled)


def test_the_format_names_every_array():
    assert set(npz.ARRAYS) == {
        "features", "initial_distribution", "transitions", "rewards", "mu", "theta",
        "reward_noise", "name",
    }  # fmt: skip


def test_a_game_file_of_the_previous_layout_loads_as_before(tmp_path):
    """What games.save wrote before the container: the arrays, name and noise, no header."""
    game = games.make("random-linear", n_states=4, reward_noise=0.2)
    path = tmp_path / "old.npz"
    arrays = {k: v for k, v in _arrays(game).items() if v is not None}
    np.savez(path, **arrays, reward_noise=np.float64(0.2), name=np.str_(game.name))
    back = games.load(path)
    assert back.fingerprint() == game.fingerprint() and back.name == game.name
    with pytest.raises(games.GameFileError, match="exists and is not a game file"):
        games.save(games.make("matrix"), path)  # the user's own file is left alone


def test_save_writes_a_container_and_never_replaces_another_file(tmp_path):
    path = tmp_path / "g.npz"
    games.save(games.make("matrix"), path)
    with np.load(path) as archive:
        assert "header" in archive.files
    mine = tmp_path / "mine.npz"
    np.savez(mine, data=np.arange(3))
    before = mine.read_bytes()
    with pytest.raises(games.GameFileError, match="exists and is not a game file"):
        games.save(games.make("matrix"), mine, overwrite=True)
    assert mine.read_bytes() == before
    # a game file is replaced only with overwrite=True
    with pytest.raises(games.GameFileError, match="is already a game file: give overwrite=True"):
        games.save(games.make("matrix", horizon=2), path)
    assert games.load(path).horizon == 1
    games.save(games.make("matrix", horizon=2), path, overwrite=True)
    assert games.load(path).horizon == 2
    with pytest.raises(games.GameFileError) as err:
        games.save(games.make("matrix"), tmp_path / "no" / "g.npz")
    assert "\n" not in str(err.value) and ".tmp-" not in str(err.value)
    assert str(tmp_path / "no" / "g.npz") in str(err.value)
