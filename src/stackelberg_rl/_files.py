"""Files written whole or not at all, and ``.npz`` containers read without trusting them.

Every file the package writes goes through :func:`write_atomic` (a temporary file beside the
target, renamed over it). Every ``.npz`` it makes is one container: :func:`pack` / :func:`save`
write a tree of arrays and JSON values with one JSON header (``format``, ``format_version``);
:func:`unpack` / :func:`load` read it back and check both, with one set of errors.
:func:`jsonable` is the one JSON sanitiser.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import numbers
import os
import threading
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

TMP_PREFIX = ".tmp-"
"""Files being written start with this (``.tmp-NAME-PID``); a folder's owner may remove them."""

HEADER = "header"
"""The array of a container that holds its JSON header."""

_LEGACY_HEADERS = ("format", "meta")
"""Where files of stackelberg-rl 0.1 kept their header (plans and mixtures; explorations)."""

_PARSING = threading.Lock()
"""Held while numpy reads an array's header: it parses it with ``ast.literal_eval``, which
CPython 3.11 does not allow in two threads at once (a checkpoint read while another is written)."""

_UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, UnicodeDecodeError)


class ContainerError(ValueError):
    """A container that cannot be read: missing, damaged, foreign or of another format version."""


def temporary_path(path: str | os.PathLike) -> Path:
    """Where ``path`` is written before it is renamed: ``.tmp-NAME-PID`` beside it."""
    path = Path(path)
    return path.with_name(f"{TMP_PREFIX}{path.name}-{os.getpid()}")


def replace_with(
    path: str | os.PathLike,
    fill: Callable[[Path], object],
    *,
    exclusive: bool = False,
    durable: bool = False,
) -> None:
    """Create or replace ``path`` whole or not at all: ``fill(tmp)`` writes a temporary, renamed.

    ``exclusive``: refuse to replace an existing ``path`` (:class:`FileExistsError`); ``durable``:
    sync the file and its folder, so that the rename survives a crash of the machine.

    Raises:
        OSError: the file could not be written; ``path`` is as it was and no temporary is left.
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        fill(tmp)
        if durable:
            _sync(tmp)
        if exclusive:  # link refuses an existing name
            os.link(tmp, path)
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the folder may have gone or turned read-only
            tmp.unlink(missing_ok=True)
        raise
    if durable:
        with contextlib.suppress(OSError):  # some file systems cannot sync a folder
            _sync(path.parent)


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(
    path: str | os.PathLike,
    write: Callable[[BinaryIO], object] | bytes,
    *,
    exclusive: bool = False,
    durable: bool = True,
) -> None:
    """Write ``path`` whole or not at all (:func:`replace_with`), synced to the disk by default.

    ``write``: the bytes, or a function that writes them into the open binary file it is given.
    """

    def fill(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            if isinstance(write, bytes | bytearray | memoryview):
                f.write(write)
            else:
                write(f)

    replace_with(path, fill, exclusive=exclusive, durable=durable)


def read_npz(
    path: str | os.PathLike, error: type[Exception] = ValueError, what: str = "archive"
) -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path``, by name; pickled objects are refused.

    Raises:
        error: a missing file, not a zip archive (or truncated), an object array, a corrupt
            array; the message names the file, the array and ``what`` it should hold.
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a folder, not an .npz {what}")
    if not path.is_file():
        raise error(f"{path}: no such file")
    if not zipfile.is_zipfile(path):
        raise error(f"{path}: not an .npz {what} (not a zip file, or truncated)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return _read_arrays(archive, str(path), what, error)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise error(f"{path}: not a readable .npz {what}: {err}") from None


def _read_arrays(npz, where: str, what: str, error, skip: str | None = None) -> dict:
    """Every array of an open ``.npz`` but ``skip``; one error naming a pickled or corrupt one."""
    arrays = {}
    for name in npz.files:
        if name == skip:
            continue
        try:
            with _PARSING:
                arrays[name] = npz[name]
        except ValueError as err:
            if "allow_pickle" in str(err):
                raise error(
                    f"{where}: array {name!r} is an object array (Python objects); "
                    f"{_article(what)} holds numbers and strings only"
                ) from None
            raise error(f"{where} is damaged: array {name!r} is corrupt: {err}") from None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
            raise error(f"{where} is damaged: array {name!r} is corrupt: {err}") from None
    return arrays


def jsonable(obj: Any, where: str = "value", *, nan: bool = False) -> Any:
    """``obj`` as JSON data: infinities as ``"inf"``/``"-inf"``, numpy scalars as Python ones.

    ``obj``: nested dicts (string keys), lists, tuples, numbers, strings, ``None``; ``where``:
    its name in errors (``config``); ``nan``: write NaN as ``"nan"`` instead of refusing it.

    Raises:
        ValueError: naming the first value JSON cannot hold (a NaN, an object, ...) by its path.
    """
    if isinstance(obj, dict):
        bad = next((k for k in obj if not isinstance(k, str)), None)
        if bad is not None:
            raise ValueError(f"{where} has a key JSON cannot hold: {bad!r}")
        return {k: jsonable(v, f"{where}.{k}", nan=nan) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v, f"{where}[{i}]", nan=nan) for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, bool | str):
        return obj
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, numbers.Integral):
        return int(obj)
    if isinstance(obj, numbers.Real):
        x = float(obj)
        if math.isnan(x):
            if nan:
                return "nan"
            raise ValueError(f"{where} is NaN, which cannot be written to JSON")
        return x if math.isfinite(x) else ("inf" if x > 0 else "-inf")
    raise ValueError(f"{where} = {obj!r} ({type(obj).__name__}) cannot be written to JSON")


def _json_array(obj) -> np.ndarray:
    return np.frombuffer(json.dumps(obj, allow_nan=True).encode(), dtype=np.uint8)


def pack(
    fmt: str, version: int, tree: dict, header: dict | None = None, *, compress: bool = False
) -> bytes:
    """``tree`` (nested dicts of arrays and JSON values) as the bytes of a container.

    Leaves that are ``np.ndarray`` are stored as arrays named by their path (``seed3/w``); any
    other leaf (a number, a string, ``None``, a list; an ``int`` of any size) goes into the
    header's ``values``. An array equal bit for bit to one stored earlier is stored once.
    ``fmt`` (``"stackelberg-rl/checkpoint"``) and ``version`` name the format; ``header`` holds
    more JSON fields (what a reader checks before the arrays).
    """
    arrays: dict[str, np.ndarray] = {}
    values: dict[str, Any] = {}
    aliases: dict[str, str] = {}
    for path, leaf in _leaves(tree):
        if isinstance(leaf, np.ndarray):
            same = next((o for o, stored in arrays.items() if _identical(stored, leaf)), None)
            if same is None:
                arrays[path] = leaf
            else:
                aliases[path] = same
        else:
            values[path] = leaf.item() if isinstance(leaf, np.generic) else leaf
    head = {**(header or {}), "format": fmt, "format_version": int(version)}
    head.update(values=values, aliases=aliases)
    buffer = io.BytesIO()
    (np.savez_compressed if compress else np.savez)(buffer, **{HEADER: _json_array(head)}, **arrays)
    return buffer.getvalue()


def _identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays hold the same bits (``-0.0`` told from ``0.0``; NaN never equal)."""
    if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b):
        return False
    return a.dtype.kind != "f" or np.array_equal(np.signbit(a), np.signbit(b))


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if not isinstance(key, str) or not key or "/" in key or key == HEADER:
            raise ValueError(f"a container's key must be a name without '/', got {key!r}")
        path = prefix + key
        if isinstance(value, dict):
            if not value:
                raise ValueError(f"a container's dict {path} is empty")
            yield from _leaves(value, path + "/")
        else:
            yield path, value


def _article(what: str) -> str:
    return f"an {what}" if what[:1].lower() in "aeiou" else f"a {what}"


def unpack(
    data: bytes | str | os.PathLike,
    fmt: str,
    version: int,
    *,
    what: str = "file",
    where: str | None = None,
    error: type[Exception] = ContainerError,
    header_only: bool = False,
) -> tuple[dict, dict]:
    """The header and the tree of a container (bytes, or the path of its file), checked.

    ``fmt``, ``version``: the format expected; ``what``: what the file should hold and
    ``where``: how to name it (default: its path, or "the {what}"), for the messages;
    ``header_only``: read only the header. Returns ``(header, tree)``: the header without
    ``values``/``aliases``, and the tree as :func:`pack` was given it (empty if ``header_only``).

    Raises:
        error: a missing file or a folder, a damaged or truncated one, pickled objects, a file
            of another format, or of another format version (both versions named): one line,
            naming the file.
    """
    if isinstance(data, bytes | bytearray | memoryview):
        where = where or f"the {what}"
        source = io.BytesIO(data)
    else:
        source = Path(data)
        where = where or str(source)
        if source.is_dir():
            raise error(f"{where} is a folder, not {_article(what)} (.npz)")
        if not source.is_file():
            raise error(f"{where}: no such file")
    if not zipfile.is_zipfile(source):  # numpy would take any other bytes for a pickle
        raise error(f"{where} is damaged, truncated or not {_article(what)} (not a zip archive)")
    try:
        npz = np.load(source, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise error(f"{where} is damaged, truncated or not {_article(what)}: {err}") from None
    with npz:  # a zip archive: an NpzFile, never a bare array
        head = _read_header(npz, fmt, version, what, where, error)
        flat = {} if header_only else _read_arrays(npz, where, what, error, skip=HEADER)
    values, aliases = head.pop("values", {}), head.pop("aliases", {})
    if not isinstance(values, dict) or not isinstance(aliases, dict):
        raise error(f"{where} is damaged: its header's values or aliases are not tables")
    if header_only:
        return head, {}
    flat.update(values)
    for path, same in aliases.items():
        if not isinstance(flat.get(same), np.ndarray):
            raise error(f"{where} is damaged: {path} refers to a missing array {same}")
        flat[path] = flat[same].copy()
    tree: dict = {}
    for path, leaf in flat.items():
        node = tree
        *parents, last = path.split("/")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise error(f"{where} is damaged: {path} lies under a value")
        node[last] = leaf
    return head, tree


def _header(npz) -> tuple[str | None, Any]:
    """The name of an open container's header array (or of 0.1's) and its JSON; ``None``s."""
    key = next((k for k in (HEADER, *_LEGACY_HEADERS) if k in npz.files), None)
    if key is None:
        return None, None
    with _PARSING:
        raw = npz[key]
    if not isinstance(raw, np.ndarray):  # a zip member that is not an .npy array
        raise ValueError(f"its member {key!r} is not an array")
    return key, json.loads(str(raw) if raw.dtype.kind == "U" else raw.tobytes().decode())


def _format(head: Any) -> Any:
    """The format a header names (0.1's mixtures named it ``kind``)."""
    return head.get("kind", head.get("format")) if isinstance(head, dict) else None


def _read_header(npz, fmt: str, version: int, what: str, where: str, error) -> dict:
    """The checked JSON header of an open container; a file of 0.1 is told by its version."""
    try:
        key, head = _header(npz)
    except _UNREADABLE as err:
        raise error(f"{where} is damaged: its header is unreadable ({err})") from None
    if key is None:
        raise error(f"{where} is not {_article(what)} of stackelberg-rl (no header)")
    if not isinstance(head, dict):
        raise error(f"{where} is damaged: its header is not a JSON object")
    if (found := _format(head)) != fmt:
        raise error(
            f"{where} is not {_article(what)} of stackelberg-rl "
            f"(format {found!r}, expected {fmt!r})"
        )
    got = head.get("format_version", head.get("version", head.get("ccse_version")))
    if key != HEADER:  # 0.1's layout: never read as today's
        got = f"{got} (stackelberg-rl 0.1)"
    if got != version:
        raise error(
            f"{where} is {_article(what)} of format version {got!r}; this version of "
            f"stackelberg-rl reads format version {version}"
        )
    return head


def save(
    path: str | os.PathLike,
    fmt: str,
    version: int,
    tree: dict,
    header: dict | None = None,
    *,
    what: str = "file",
    compress: bool = False,
    overwrite: bool = False,
    error: type[Exception] = ContainerError,
) -> Path:
    """Write a container to ``path`` whole or not at all (:func:`write_atomic`).

    A file already at ``path`` is replaced only with ``overwrite`` and only if it is a container
    of the same format: a user's unrelated file is never overwritten.

    Raises:
        error: ``path`` is a folder, holds a file that is not ``fmt``, or holds one that is and
            ``overwrite`` is not given; the folder does not exist or cannot be written (named,
            never the temporary file).
    """
    path = Path(path)
    if path.is_dir():
        raise error(f"{path} is a folder; give a file name for the {what}")
    if path.exists() and not is_format(path, fmt):
        raise error(
            f"{path} exists and is not {_article(what)} of stackelberg-rl: it is left as it "
            "is; choose another name or remove it"
        )
    if path.exists() and not overwrite:
        raise error(
            f"{path} is already {_article(what)}: give overwrite=True to replace it, or choose "
            "another file"
        )
    if not path.parent.is_dir():
        raise error(f"cannot write {path}: its folder {path.parent} does not exist")
    data = pack(fmt, version, tree, header, compress=compress)
    try:
        write_atomic(path, data)
    except OSError as err:
        raise error(f"cannot write {path}: {err.strerror or err}") from None
    return path


load = unpack
"""Read the container file at a path: :func:`unpack`."""


def is_format(path: str | os.PathLike, fmt: str) -> bool:
    """Whether ``path`` is a container of format ``fmt``, of any version (its header is read)."""
    if not zipfile.is_zipfile(path):  # also a folder or a missing file
        return False
    try:
        with np.load(path, allow_pickle=False) as npz:
            return _format(_header(npz)[1]) == fmt
    except _UNREADABLE:
        return False
