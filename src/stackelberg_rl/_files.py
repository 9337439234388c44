"""Files written whole or not at all, and ``.npz`` archives read without trusting them.

Every file the package writes for a user (game files, plans, explorations, mixtures, benchmark
figures) goes through :func:`write_atomic`: a temporary file beside the target, flushed to disk,
then renamed over it, so a crash or a full disk never leaves half a file under the real name.
Every ``.npz`` it reads goes through :func:`read_npz`, which refuses pickled objects and names
the file and the array in every error. Nothing here knows about games or learners.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np


def write_atomic(
    path: str | os.PathLike, write: Callable[[BinaryIO], None] | bytes, mode: int = 0o644
) -> None:
    """Write ``path`` whole or not at all.

    Args:
        path: the file to create or replace.
        write: the bytes, or a function that writes them into the open binary file it is given.
        mode: the file's permissions (``mkstemp`` would otherwise leave ``0o600``).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(write, bytes | bytearray | memoryview):
                f.write(write)
            else:
                write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
