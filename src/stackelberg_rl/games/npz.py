"""Users' own finite games in ``.npz`` files: :func:`load` and :func:`save`.

A game file holds :class:`FiniteGame`'s arrays (``features``, ``initial_distribution``, the dense
and/or the factored model), optionally ``reward_noise`` and ``name``; :func:`load` also reads a
plain ``np.savez`` of them. Nothing is unpickled; every problem is a :class:`GameFileError`
naming the file, the array and the index.

Example:
    >>> import os, tempfile
    >>> from stackelberg_rl import games
    >>> g = games.make("matrix")
    >>> path = os.path.join(tempfile.mkdtemp(), "commitment.npz")
    >>> games.save(g, path)
    >>> games.load(path).fingerprint() == g.fingerprint()
    True
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .. import _files
from .._validate import instance
from .base import FiniteGame

FORMAT, FORMAT_VERSION = "stackelberg-rl/game", 1
"""The container format of the files :func:`save` writes (:func:`stackelberg_rl._files.save`)."""

_AXES = {
    "features": "(S, A, B, d)",
    "initial_distribution": "(S,)",
    "transitions": "(H, S, A, B, S)",
    "rewards": "(2, H, S, A, B)",
    "mu": "(H, d, S)",
    "theta": "(2, H, d)",
}

ARRAYS = (*_AXES, "reward_noise", "name")
"""The names a game file may hold."""


class GameFileError(ValueError):
    """A game file that cannot be read, or that does not hold a valid game."""


def _has_header(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return f"{_files.HEADER}.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def load(path: str | os.PathLike) -> FiniteGame:
    """The finite game stored at ``path``: :func:`save`'s container or a plain ``np.savez``.

    Raises:
        GameFileError: naming the file and the array (and index) at fault: a missing, corrupt
            or truncated file; an unknown, missing, misshaped, non-numeric or object array;
            a non-finite entry; probabilities that do not sum to one; rewards outside
            ``[-1, 1]``; a game given in both forms that is not linear in its features.
    """
    path = Path(path)
    if _has_header(path):
        _, tree = _files.load(path, FORMAT, FORMAT_VERSION, what="game file", error=GameFileError)
        arrays = {key: np.asarray(value) for key, value in tree.items()}
    else:
        arrays = _files.read_npz(path, GameFileError)
    unknown = sorted(set(arrays) - set(ARRAYS))
    if unknown:
        raise GameFileError(
            f"{path}: unknown array{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"a game file holds {', '.join(ARRAYS)}"
        )
    pairs = {"transitions": "rewards", "rewards": "transitions", "mu": "theta", "theta": "mu"}
    for key in ("features", "initial_distribution", *pairs):
        # the two arrays every game needs, and either half of a form given without the other
        if key not in arrays and (key not in pairs or pairs[key] in arrays):
            needs = f": {pairs[key]!r} needs it" if key in pairs else ""
            raise GameFileError(f"{path}: missing array {key!r} {_AXES[key]}{needs}")
    if not set(pairs) & set(arrays):
        raise GameFileError(
            f"{path}: missing arrays: give transitions and rewards (the dense model), or mu "
            "and theta (the factored one)"
        )
    model = {key: arrays[key] for key in _AXES if key in arrays}
    noise = arrays.get("reward_noise", np.float64(0.0))
    name = arrays.get("name", np.str_(path.stem))
    for key, value in model.items():
        if value.dtype.kind not in "biuf":
            raise GameFileError(
                f"{path}: array {key!r} has dtype {value.dtype}, expected real numbers"
            )
    for key, value, kinds, what in [
        ("reward_noise", noise, "biuf", "number"),
        ("name", name, "U", "string"),
    ]:
        if value.shape != () or value.dtype.kind not in kinds:
            raise GameFileError(
                f"{path}: array {key!r} must be one {what}, got dtype {value.dtype} and shape "
                f"{value.shape}"
            )
    try:
        return FiniteGame(**model, reward_noise=float(noise), name=str(name))
    except ValueError as err:
        raise GameFileError(f"{path}: {err}") from None


def estimate_bytes(path: str | os.PathLike) -> int | None:
    """Bytes loading the game file takes (its arrays twice: read, then validated), or ``None``."""
    try:
        with zipfile.ZipFile(path) as archive:
            return 2 * sum(member.file_size for member in archive.infolist())
    except (OSError, zipfile.BadZipFile):
        return None


def n_players(path: str | os.PathLike) -> int | None:
    """``1+N`` of the game file, from the axes of ``features (S, A_0, …, A_N, d)`` alone.

    Only that array's header is read; ``None`` if the file cannot tell (:func:`load` says why).
    """
    read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                   (2, 0): np.lib.format.read_array_header_2_0}  # fmt: skip
    try:
        with zipfile.ZipFile(path) as archive, archive.open("features.npy") as f:
            return len(read_header[np.lib.format.read_magic(f)](f)[0]) - 2
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None


def save(game: FiniteGame, path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Write ``game`` to ``path`` as a game file that :func:`load` reads back bit for bit.

    The arrays are stored as the game holds them (the same :meth:`~FiniteGame.fingerprint`),
    whole or not at all. No ``.npz`` is appended. ``overwrite``: replace a game file already at
    ``path`` (any other file never is).

    Raises:
        GameFileError: ``path`` is a folder, another kind of file, a game file without
            ``overwrite``, or cannot be written (one line naming ``path``).
        ValueError: ``game`` is not a :class:`FiniteGame` (a continuous game has no arrays).
    """
    instance(game, FiniteGame, "game", "a FiniteGame: only finite games can be saved")
    model = {key: value for key, value in game.arrays().items() if value is not None}
    tree = {key: model.pop(key) for key in ("features", "initial_distribution")}
    tree.update(reward_noise=game.reward_noise, name=game.name, **model)
    _files.save(
        path, FORMAT, FORMAT_VERSION, tree, what="game file", overwrite=overwrite,
        error=GameFileError,
    )  # fmt: skip
