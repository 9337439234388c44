"""Files written whole or not at all, and ``.npz`` archives read without trusting them.

Every file the package writes for a user (game files, plans, explorations, mixtures, benchmark
figures) goes through :func:`write_atomic`: a temporary file beside the target, flushed to disk,
then renamed over it, so a crash or a full disk never leaves half a file under the real name.
Every ``.npz`` it reads goes through :func:`read_npz`, which refuses pickled objects and names
the file and the array in every error. Nothing here knows about games or learners.
"""

from __future__ import annotations

import json
import os
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

TMP_PREFIX = ".tmp-"
"""Files being written start with this (``.tmp-NAME-PID``); a folder's owner may remove them."""


def temporary_path(path: str | os.PathLike) -> Path:
    """Where ``path`` is written before it is renamed: ``.tmp-NAME-PID`` beside it.

    The process id ends the name, so that a process can find and remove its own leftovers.
    """
    path = Path(path)
    return path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")


def replace_with(
    path: str | os.PathLike,
    fill: Callable[[Path], object],
    *,
    exclusive: bool = False,
    durable: bool = False,
) -> None:
    """Create or replace ``path`` whole or not at all: ``fill`` writes a temporary file, renamed.

    Args:
        path: the file.
        fill: called with the temporary path, which it writes.
        exclusive: refuse to replace an existing ``path`` (:class:`FileExistsError`): of two
            writers, one wins.
        durable: sync the file and its folder to the disk, so that the rename survives a crash
            of the machine, not only of the process.

    Raises:
        OSError: the file could not be written; ``path`` is as it was and no temporary is left.
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        fill(tmp)
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        if exclusive:  # link refuses an existing name
            os.link(tmp, path)
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the folder went away or turned read-only: nothing more can be done
        raise
    if durable:
        _sync_folder(path.parent)


def write_atomic(
    path: str | os.PathLike,
    write: Callable[[BinaryIO], object] | bytes,
    *,
    exclusive: bool = False,
    durable: bool = True,
) -> None:
    """Write ``path`` whole or not at all (:func:`replace_with`), synced to the disk by default.

    Args:
        path: the file to create or replace.
        write: the bytes, or a function that writes them into the open binary file it is given.
        exclusive: never replace an existing ``path`` (:class:`FileExistsError`).
        durable: sync the file and its folder (see :func:`replace_with`).
    """

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            if isinstance(write, bytes | bytearray | memoryview):
                f.write(write)
            else:
                write(f)

    replace_with(path, fill, exclusive=exclusive, durable=durable)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the file itself is synced
    finally:
        os.close(fd)


def write_npz(
    path: str | os.PathLike, arrays: dict[str, np.ndarray], compress: bool = False
) -> None:
    """``np.savez`` (or ``savez_compressed``) of ``arrays`` to ``path``, atomically."""
    save = np.savez_compressed if compress else np.savez
    write_atomic(path, lambda f: save(f, **arrays))


def read_npz(
    path: str | os.PathLike, error: type[Exception] = ValueError, what: str = "archive"
) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, by name; pickled objects are refused.

    Args:
        path: the file.
        error: the exception class to raise (a ``ValueError`` subclass names the kind of file).
        what: what the file should hold, for the messages (``"game file"``).

    Raises:
        error: a missing file, not a zip archive (or truncated), an object array, a corrupt
            array; the message names the file and the array.
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a folder, not an .npz {what}")
    if not path.is_file():
        raise error(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise error(f"{path}: not an .npz {what} (not a zip file, or truncated)")
    arrays = {}
    try:
        with np.load(path, allow_pickle=False) as archive:
            for key in archive.files:
                try:
                    arrays[key] = archive[key]
                except ValueError as err:
                    if "allow_pickle" in str(err):
                        raise error(
                            f"{path}: array {key!r} is an object array; a {what} holds numbers "
                            "and strings only"
                        ) from None
                    raise error(f"{path}: array {key!r} is corrupt: {err}") from None
                except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as err:
                    raise error(f"{path}: array {key!r} is corrupt: {err}") from None
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise error(f"{path}: not a readable .npz {what}: {err}") from None
    return arrays


def json_array(obj, allow_nan: bool = False) -> np.ndarray:
    """``obj`` as JSON text in a ``uint8`` array: how an ``.npz`` of ours carries its header."""
    return np.frombuffer(json.dumps(obj, allow_nan=allow_nan).encode(), dtype=np.uint8)


def read_json_array(npz, key: str):
    """The JSON value stored by :func:`json_array` as ``key`` of an open ``.npz``.

    Raises:
        KeyError: the archive has no ``key``.
        ValueError: the array cannot be read or is not JSON text (the reason in the message).
    """
    try:
        raw = np.asarray(npz[key])
        return json.loads(raw.tobytes().decode())
    except KeyError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as err:
        raise ValueError(str(err)) from None
