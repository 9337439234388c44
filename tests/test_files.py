"""The one atomic writer (``_files``): whole or nothing, exclusive, and no temporary left over."""

import os

import numpy as np
import pytest

from stackelberg_rl._files import (
    TMP_PREFIX,
    read_npz,
    replace_with,
    temporary_path,
    write_atomic,
)


def test_temporary_name_is_beside_the_file_and_ends_with_the_process_id(tmp_path):
    tmp = temporary_path(tmp_path / "results.parquet")
    assert tmp.parent == tmp_path
    assert tmp.name == f"{TMP_PREFIX}results.parquet-{os.getpid()}"


@pytest.mark.parametrize("durable", [False, True])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, durable):
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")

    def half(f):
        f.write(b"new, but")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(path, half, durable=durable)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_bytes_and_writers_replace_the_file(tmp_path):
    path = tmp_path / "f.bin"
    write_atomic(path, b"one")
    assert path.read_bytes() == b"one"
    write_atomic(path, lambda f: f.write(b"two"))
    assert path.read_bytes() == b"two"
    replace_with(path, lambda p: p.write_text("three"))
    assert path.read_text() == "three"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_exclusive_never_replaces_an_existing_file(tmp_path):
    path = tmp_path / "manifest.json"
    write_atomic(path, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        write_atomic(path, b"second", exclusive=True)
    with pytest.raises(FileExistsError):
        replace_with(path, lambda p: p.write_text("third"), exclusive=True)
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_npz_round_trip_keeps_names_and_values(tmp_path):
    arrays = {"w": np.arange(6.0).reshape(2, 3), "k": np.array([1, 2], dtype=np.int32)}
    for compress, save in enumerate((np.savez, np.savez_compressed)):
        path = tmp_path / f"a{compress}.npz"
        save(path, **arrays)
        back = read_npz(path)
        assert set(back) == set(arrays)
        for key, value in arrays.items():
            np.testing.assert_array_equal(back[key], value)
            assert back[key].dtype == value.dtype
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a0.npz", "a1.npz"]


@pytest.mark.parametrize("member", ["header", "format", "meta"])
def test_a_header_member_that_is_not_an_array_is_named_not_a_traceback(tmp_path, member):
    import zipfile

    from stackelberg_rl._files import ContainerError, is_format, unpack

    path = tmp_path / "odd.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(member, b'{"format": "x", "format_version": 1}')
        z.writestr("w.npy", b"")
    with pytest.raises(ContainerError, match="damaged: its header is unreadable"):
        unpack(path, "x", 1, what="mixture")
    assert not is_format(path, "x")


def test_arrays_are_read_one_thread_at_a_time(tmp_path):
    """numpy parses each array's header with ``ast``, unsafe in two threads at once on 3.11."""
    import stackelberg_rl._files as files

    np.savez(tmp_path / "a.npz", x=np.arange(3))
    held = []

    class Spy:
        files = ["x"]

        def __init__(self, npz):
            self.npz = npz

        def __getitem__(self, name):
            held.append(files._PARSING.locked())
            return self.npz[name]

    with np.load(tmp_path / "a.npz") as npz:
        out = files._read_arrays(Spy(npz), "a.npz", "archive", ValueError)
    assert held == [True] and out["x"].tolist() == [0, 1, 2]
