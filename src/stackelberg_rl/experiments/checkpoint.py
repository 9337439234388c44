"""A seed's state as bytes: what lets a run stop and continue to the same results, bit for bit.

A :mod:`stackelberg_rl._files` container in memory: the state's arrays and a JSON header (seed,
episodes, episodes_done, finished, elapsed, config, game_sha256, the package version).
"""

from __future__ import annotations

from .. import __version__, _files
from .._validate import integer, real
from .config import RunConfig, difference

CHECKPOINT_FORMAT = "stackelberg-rl/checkpoint"
CHECKPOINT_VERSION = 3  # 3: a table learner's forms by distinct next state; 1, 2 refused
CHECKPOINTS_DIR = "checkpoints"  # a run folder's, removed once the run is done


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, foreign, or of another run, seed or version."""


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, folder not writable); the last one stays."""


class SeedStopped(Exception):  # noqa: N818 - an outcome, not a failure
    """A seed stopped when asked to, with its ``state`` (``None``: it played nothing new)."""

    def __init__(self, seed: int, state: bytes | None) -> None:
        super().__init__(seed, state)
        self.seed, self.state = seed, state

    def __str__(self) -> str:
        return f"seed {self.seed} stopped when asked to"


def checkpoint_name(seed: int) -> str:
    """The file of seed ``seed``'s checkpoint in :data:`CHECKPOINTS_DIR`."""
    return f"seed-{seed}.npz"


def identity(config: RunConfig, game_sha256: str, seed: int, **fields) -> dict:
    """The header fields that say which run and seed a checkpoint belongs to, then ``fields``."""
    config_data = _files.jsonable(config.to_dict(), "config")
    return dict(stackelberg_rl=__version__, seed=int(seed), episodes=int(config.episodes),
                config=config_data, game_sha256=game_sha256, **fields)  # fmt: skip


def pack(tree: dict, header: dict) -> bytes:
    """A seed's state ``tree`` (nested dicts of arrays and JSON values) and ``header``."""
    return _files.pack(CHECKPOINT_FORMAT, CHECKPOINT_VERSION, tree, header)


def unpack(
    data: bytes, where: str = "the checkpoint", header_only: bool = False
) -> tuple[dict, dict]:
    """The header and the state of :func:`pack`'s bytes (:class:`CheckpointError` if unusable)."""
    return _files.unpack(
        data, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, what="checkpoint", where=where,
        error=CheckpointError, header_only=header_only,
    )  # fmt: skip


def peek(data: bytes) -> dict:
    """The header of a checkpoint, without reading its arrays."""
    return unpack(data, header_only=True)[0]


def read(
    data: bytes, config: RunConfig, game_sha256: str, seed: int, where: str
) -> tuple[dict, dict]:
    """The header and state of this run's ``seed`` (``CheckpointError`` naming what differs)."""
    header, tree = unpack(data, where)
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
    try:
        done = integer(header.get("episodes_done"), "episodes_done", low=0, high=config.episodes)
        real(header.get("elapsed"), "elapsed", low=0.0)
    except ValueError as err:
        raise CheckpointError(f"{where} is damaged: {err}") from None
    if bool(header.get("finished")) != (done == config.episodes):
        raise CheckpointError(f"{where} is damaged: finished disagrees with episodes_done")
    return header, tree
