"""The package's one container, one validation module and one seeding scheme."""

import math
import zipfile

import numpy as np
import pytest

from stackelberg_rl import _files, _seeding, _validate

FMT = "stackelberg-rl/test"


def test_pack_unpack_round_trip_keeps_tree_values_and_aliases():
    w = np.arange(6.0).reshape(2, 3)
    tree = {"a": {"w": w, "same": w.copy(), "n": 2**70}, "x": [1, "b"], "z": np.array(-0.0)}
    data = _files.pack(FMT, 3, tree, {"seed": 4})
    header, back = _files.unpack(data, FMT, 3)
    assert header["seed"] == 4 and header["format_version"] == 3
    np.testing.assert_array_equal(back["a"]["w"], w)
    np.testing.assert_array_equal(back["a"]["same"], w)
    assert back["a"]["n"] == 2**70 and back["x"] == [1, "b"]
    assert np.signbit(back["z"])
    with np.load(__import__("io").BytesIO(data)) as npz:  # the alias is stored once
        assert sorted(npz.files) == ["a/w", "header", "z"]


def test_unpack_names_the_versions_found_and_expected():
    data = _files.pack(FMT, 1, {"a": np.zeros(2)})
    with pytest.raises(_files.ContainerError, match=r"format version 1; .* reads format version 2"):
        _files.unpack(data, FMT, 2, what="test file")
    with pytest.raises(_files.ContainerError, match="format 'stackelberg-rl/test', expected"):
        _files.unpack(data, "stackelberg-rl/other", 1)


def test_unpack_of_a_legacy_header_names_its_version(tmp_path):
    path = tmp_path / "old.npz"
    np.savez(path, format=_files._json_array({"format": FMT, "version": 1}), a=np.zeros(1))
    with pytest.raises(ValueError, match=r"version '1 \(stackelberg-rl 0.1\)'.*version 2"):
        _files.load(path, FMT, 2)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a zip", "damaged, truncated or not"),
        (None, "no such file"),
    ],
)
def test_unpack_refuses_damaged_and_missing_files(tmp_path, content, message):
    path = tmp_path / "f.npz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(_files.ContainerError, match=message):
        _files.load(path, FMT, 1)


def test_random_bytes_never_suggest_allow_pickle():
    junk = np.random.default_rng(0).bytes(300)
    with pytest.raises(_files.ContainerError) as err:
        _files.unpack(junk, FMT, 1, what="archive")
    assert "allow_pickle" not in str(err.value) and "not an archive" in str(err.value)


def test_unpack_of_a_truncated_container_is_one_error(tmp_path):
    data = _files.pack(FMT, 1, {"a": np.arange(1000.0)})
    path = tmp_path / "t.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(_files.ContainerError):
        _files.load(path, FMT, 1)


def test_unpack_refuses_pickles(tmp_path):
    path = tmp_path / "p.npz"
    np.savez(path, header=_files._json_array({"format": FMT, "format_version": 1}),
             o=np.array([{"a": 1}], dtype=object))  # fmt: skip
    with pytest.raises(_files.ContainerError, match="Python objects"):
        _files.load(path, FMT, 1)
    assert zipfile.is_zipfile(path)


def test_save_never_replaces_a_foreign_file(tmp_path):
    mine = tmp_path / "notes.npz"
    mine.write_text("keep")
    with pytest.raises(_files.ContainerError, match="not a file of stackelberg-rl"):
        _files.save(mine, FMT, 1, {"a": np.zeros(1)})
    assert mine.read_text() == "keep"
    ours = tmp_path / "ours.npz"
    _files.save(ours, FMT, 1, {"a": np.zeros(1)})
    with pytest.raises(_files.ContainerError, match="ours.npz is already a file: give overwrite"):
        _files.save(ours, FMT, 1, {"a": np.ones(1)})  # one of ours, kept without overwrite
    assert _files.load(ours, FMT, 1)[1]["a"][0] == 0.0
    _files.save(ours, FMT, 1, {"a": np.ones(1)}, overwrite=True)  # and replaced with it
    assert _files.load(ours, FMT, 1)[1]["a"][0] == 1.0
    with pytest.raises(_files.ContainerError, match="not a file of stackelberg-rl"):
        _files.save(mine, FMT, 1, {"a": np.zeros(1)}, overwrite=True)  # a foreign one never
    assert mine.read_text() == "keep"


def test_save_into_a_missing_folder_names_it_not_the_temporary(tmp_path):
    with pytest.raises(_files.ContainerError, match="does not exist") as err:
        _files.save(tmp_path / "no" / "x.npz", FMT, 1, {"a": np.zeros(1)})
    assert ".tmp-" not in str(err.value)


def test_jsonable_names_the_path_of_a_nan():
    assert _files.jsonable({"a": [np.float64(math.inf), np.int64(2)]}) == {"a": ["inf", 2]}
    assert _files.jsonable(math.nan, nan=True) == "nan"
    with pytest.raises(ValueError, match=r"config.b\[1\] is NaN"):
        _files.jsonable({"b": [1, math.nan]}, "config")


@pytest.mark.parametrize("value", [True, 2.0, "3", None, -1])
def test_integer_refuses_non_integers(value):
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        _validate.integer(value, "n", low=0)


def test_real_and_probability():
    assert _validate.real(np.float32(0.5), "x") == 0.5
    assert _validate.real(math.inf, "alpha", low=0, infinite=True) == math.inf
    with pytest.raises(ValueError, match="alpha must be a finite number"):
        _validate.real(math.inf, "alpha")
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        _validate.probability(1.5, "p")
    with pytest.raises(ValueError, match="lam must be in"):
        _validate.real(0, "lam", low=0, low_open=True)


def test_array_names_the_axis_and_the_first_bad_index():
    with pytest.raises(ValueError, match=r"axis 2 \(a\) is 4, expected 3"):
        _validate.array(np.zeros((3, 5, 4)), "pi_l", shape=(3, 5, 3), axes=("h", "x", "a"))
    bad = np.zeros((2, 3))
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"non-finite entry nan at index \(1, 2\) \(h, x\)"):
        _validate.array(bad, "V", axes=("h", "x"))
    with pytest.raises(ValueError, match=r"at index \(0, 1\)"):
        _validate.array([[0, 2.0]], "r", low=-1, high=1)


def test_distribution_reports_the_row():
    p = np.full((2, 3), 1 / 3)
    p[1] = [0.5, 0.5, 0.5]
    with pytest.raises(ValueError, match=r"does not sum to 1 at index \(1,\)"):
        _validate.distribution(p, "pi")


def test_path_kinds(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        _validate.path(tmp_path / "f", "--out", kind="folder")
    with pytest.raises(ValueError, match="does not exist"):
        _validate.path(tmp_path / "g", "--game-file", exists=True)


def test_streams_keep_the_historical_spawn_tree():
    """The purposes' paths are those the package spawned by hand before (results unchanged)."""
    env, agents = np.random.SeedSequence(5).spawn(2)
    assert _seeding.stream(5, "game").random() == np.random.default_rng(env).random()
    leader, follower = agents.spawn(2)
    assert _seeding.stream(5, "player", 1).random() == np.random.default_rng(follower).random()
    assert _seeding.stream(5, "player", 0).random() != _seeding.stream(6, "player", 0).random()
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        _seeding.stream(-1, "game")
