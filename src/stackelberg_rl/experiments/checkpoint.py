"""A seed's state as bytes: what lets a run stop and continue to the same results, bit for bit.

A checkpoint is an uncompressed ``.npz`` held in memory (:func:`pack`), never a pickle: every
array of the state under its path (``leader/learner/psi``), and one array ``header``, the UTF-8
JSON of

====================  ==================================================================
``format``            :data:`CHECKPOINT_FORMAT`; ``version``: :data:`CHECKPOINT_VERSION`
``stackelberg_rl``    the version of the package that wrote it
``seed``              the run's seed
``episodes_done``     episodes played (the next one to play), of ``episodes``
``finished``          whether the seed has played all its episodes (then only its rows and
                      plans are stored: nothing is left to play)
``elapsed``           seconds the seed had been playing when the state was taken
``config``            the :class:`~.config.RunConfig` (as in the manifest)
``game_sha256``       the fingerprint of the game played
``values``            the state's numbers, strings and random streams' states, by path
``aliases``           paths whose array equals an array stored under another path
====================  ==================================================================

Decentralised players hold equal statistics (math.md §3), so each of the follower's arrays is
stored once, as an alias of the leader's equal one. :func:`unpack` rebuilds the nested
dictionaries; :func:`check` refuses a checkpoint of another run, seed, game, configuration or
version with a :class:`CheckpointError` naming what differs. Zip's checksums catch a damaged
file; a truncated one fails to open: both are a :class:`CheckpointError` too.
"""

from __future__ import annotations

import io
import math
import zipfile
from typing import Any

import numpy as np

from .. import __version__
from .._files import json_array, read_json_array
from .config import RunConfig, difference, jsonable

CHECKPOINT_FORMAT = "stackelberg-rl/checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINTS_DIR = "checkpoints"
"""The run folder's sub-folder of checkpoints, ``seed-N.npz`` each, removed once the run is done."""
HEADER = "header"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, foreign, or of another run, seed or version."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, folder not writable); the last one stays."""


class SeedStopped(Exception):  # noqa: N818 - an outcome, not a failure
    """A seed stopped when asked to (:func:`~.loop.play`'s ``stop``), with its state.

    Attributes:
        seed: the seed.
        state: its checkpoint (:func:`pack`), or ``None`` if it had played nothing new.
    """

    def __init__(self, seed: int, state: bytes | None) -> None:
        super().__init__(seed, state)
        self.seed, self.state = seed, state

    def __str__(self) -> str:
        return f"seed {self.seed} stopped when asked to"


def checkpoint_name(seed: int) -> str:
    """The file of seed ``seed``'s checkpoint in :data:`CHECKPOINTS_DIR`."""
    return f"seed-{seed}.npz"


def identity(config: RunConfig, game_sha256: str, seed: int) -> dict:
    """The header fields that say which run and seed a checkpoint belongs to."""
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "stackelberg_rl": __version__,
        "seed": int(seed),
        "episodes": int(config.episodes),
        "config": jsonable(config.to_dict()),
        "game_sha256": game_sha256,
    }


# ---------------------------------------------------------------------- bytes
def pack(tree: dict, header: dict) -> bytes:
    """``tree`` (nested dicts of arrays and JSON values) and ``header`` as ``.npz`` bytes.

    Leaves that are ``np.ndarray`` are stored as arrays; any other leaf (a number, a string,
    ``None``, a list; Python's ``int`` of any size) goes into the header's ``values``. An array
    equal to one stored earlier (same dtype, shape and values) is stored once.
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
    text = json_array({**header, "values": values, "aliases": aliases}, allow_nan=True)
    buffer = io.BytesIO()
    np.savez(buffer, **{HEADER: text}, **arrays)
    return buffer.getvalue()


def _identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays hold the same bits (equal values, and ``-0.0`` told from ``0.0``)."""
    if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(a, b):
        return False  # NaN is never equal: such arrays are stored twice
    return a.dtype.kind != "f" or np.array_equal(np.signbit(a), np.signbit(b))


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if not isinstance(key, str) or not key or "/" in key or key == HEADER:
            raise ValueError(f"a state's key must be a name without '/', got {key!r}")
        path = prefix + key
        if isinstance(value, dict):
            if not value:
                raise ValueError(f"a state's dict {path} is empty")
            yield from _leaves(value, path + "/")
        else:
            yield path, value


def _open(data: bytes, where: str):
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise CheckpointError(f"{where} is damaged or not a checkpoint: {err}") from None


def _header(npz, where: str) -> dict:
    try:
        header = read_json_array(npz, HEADER)
    except KeyError:
        raise CheckpointError(f"{where} is not a checkpoint of stackelberg-rl") from None
    except ValueError as err:
        raise CheckpointError(f"{where} is damaged: {err}") from None
    if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{where} is not a checkpoint of stackelberg-rl")
    if header.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{where} has checkpoint format version {header.get('version')!r}; this version of "
            f"stackelberg-rl reads version {CHECKPOINT_VERSION}"
        )
    return header


def peek(data: bytes, where: str = "the checkpoint") -> dict:
    """The header of a checkpoint, without reading its arrays.

    Raises:
        CheckpointError: damaged, truncated or not a checkpoint of this format version.
    """
    with _open(data, where) as npz:
        return _header(npz, where)


def unpack(data: bytes, where: str = "the checkpoint") -> tuple[dict, dict]:
    """The header and the state (nested dicts) of :func:`pack`'s bytes.

    Raises:
        CheckpointError: damaged, truncated or not a checkpoint of this format version.
    """
    with _open(data, where) as npz:
        header = _header(npz, where)
        flat: dict[str, Any] = {}
        try:
            for name in npz.files:
                if name != HEADER:
                    flat[name] = npz[name]
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise CheckpointError(f"{where} is damaged: {err}") from None
    values, aliases = header.pop("values", None), header.pop("aliases", None)
    if not isinstance(values, dict) or not isinstance(aliases, dict):
        raise CheckpointError(f"{where} is damaged: its header has no values or aliases")
    flat.update(values)
    for path, same in aliases.items():
        if same not in flat or not isinstance(flat[same], np.ndarray):
            raise CheckpointError(f"{where} is damaged: {path} refers to a missing array {same}")
        flat[path] = flat[same].copy()
    tree: dict = {}
    for path, leaf in flat.items():
        node = tree
        *parents, last = path.split("/")
        for key in parents:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                raise CheckpointError(f"{where} is damaged: {path} lies under a value")
        node[last] = leaf
    return header, tree


# ---------------------------------------------------------------------- whose is it
def check(header: dict, config: RunConfig, game_sha256: str, seed: int, where: str) -> None:
    """Refuse a checkpoint that is not of this run's ``seed``, game and configuration.

    Raises:
        CheckpointError: naming what differs (the seed, the game's SHA-256, a configuration
            field, the package version, the episodes played).
    """
    expected = identity(config, game_sha256, seed)
    if header.get("seed") != expected["seed"]:
        raise CheckpointError(f"{where} is of seed {header.get('seed')!r}, not seed {seed}")
    if header.get("game_sha256") != game_sha256:
        raise CheckpointError(
            f"{where} is of another game (SHA-256 {str(header.get('game_sha256'))[:12]}…, "
            f"this run's {game_sha256[:12]}…)"
        )
    if header.get("config") != expected["config"]:
        path, theirs, ours = difference(header.get("config"), expected["config"]) or ("", 0, 0)
        raise CheckpointError(
            f"{where} is of another configuration: {path or 'config'} is {theirs!r} there, "
            f"{ours!r} in this run"
        )
    if header.get("stackelberg_rl") != __version__:
        raise CheckpointError(
            f"{where} was written by stackelberg-rl {header.get('stackelberg_rl')!r}, this is "
            f"{__version__}: a resumed run would not be the same run"
        )
    done = header.get("episodes_done")
    if isinstance(done, bool) or not isinstance(done, int) or not 0 <= done <= config.episodes:
        raise CheckpointError(f"{where} is damaged: episodes_done {done!r}")
    if bool(header.get("finished")) != (done == config.episodes):
        raise CheckpointError(f"{where} is damaged: finished disagrees with episodes_done")
    elapsed = header.get("elapsed")
    if not isinstance(elapsed, int | float) or not math.isfinite(elapsed) or elapsed < 0:
        raise CheckpointError(f"{where} is damaged: elapsed {elapsed!r}")


def read(
    data: bytes, config: RunConfig, game_sha256: str, seed: int, where: str
) -> tuple[dict, dict]:
    """:func:`unpack` and :func:`check`: the header and state of this run's ``seed``."""
    header, tree = unpack(data, where)
    check(header, config, game_sha256, seed, where)
    return header, tree
