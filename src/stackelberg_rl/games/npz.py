"""Users' own finite games in ``.npz`` files: :func:`load` and :func:`save`.

A game file is a numpy ``.npz`` archive of named arrays (math.md §1):

- ``features (S, A, B, d)`` and ``initial_distribution (S,)``, always;
- the dense model ``transitions (H, S, A, B, S)`` and ``rewards (2, H, S, A, B)``, and/or the
  factored one ``mu (H, d, S)`` and ``theta (2, H, d)`` — both forms declare the game linear,
  and it must be: ``transitions = features·mu`` and ``rewards = features·theta``;
- optionally ``reward_noise`` (a number in ``[0, 1]``) and ``name`` (a string).

Nothing else is allowed, nothing is unpickled, and every problem is a :class:`GameFileError`
(a :class:`ValueError`) naming the file, the array and, where it applies, the index.

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

from .._files import read_npz, write_npz
from .base import FiniteGame

ARRAYS = (
    "features",
    "initial_distribution",
    "transitions",
    "rewards",
    "mu",
    "theta",
    "reward_noise",
    "name",
)
"""The names a game file may hold."""

_AXES = {
    "features": ("S", "A", "B", "d"),
    "initial_distribution": ("S",),
    "transitions": ("H", "S", "A", "B", "S"),
    "rewards": ("2", "H", "S", "A", "B"),
    "mu": ("H", "d", "S"),
    "theta": ("2", "H", "d"),
}
"""The axes of each array of the model (its shape is checked against the others by the game)."""


def _axes(key: str) -> str:
    axes = _AXES[key]
    return f"({axes[0]},)" if len(axes) == 1 else f"({', '.join(axes)})"


class GameFileError(ValueError):
    """A game file that cannot be read, or that does not hold a valid game."""


def _numeric(path: Path, key: str, array: np.ndarray) -> np.ndarray:
    """``array`` as float64, refusing non-numeric dtypes (strings, complex, structured)."""
    if array.dtype.kind not in "biuf":
        raise GameFileError(f"{path}: array {key!r} has dtype {array.dtype}, expected real numbers")
    if array.ndim != len(_AXES[key]):
        raise GameFileError(
            f"{path}: array {key!r} has shape {array.shape}, expected {_axes(key)}: "
            f"{array.ndim} axes instead of {len(_AXES[key])}"
        )
    return array.astype(np.float64, copy=False)


def load(path: str | os.PathLike) -> FiniteGame:
    """The finite game stored at ``path`` (see the module's docstring for the format).

    Raises:
        GameFileError: naming the file and the array (and index) at fault: a missing, corrupt
            or truncated file; an unknown, missing, misshaped, non-numeric or object array;
            a non-finite entry; probabilities that do not sum to one; rewards outside
            ``[-1, 1]``; a game given in both forms that is not linear in its features.
    """
    path = Path(path)
    arrays = read_npz(path, GameFileError)
    unknown = sorted(set(arrays) - set(ARRAYS))
    if unknown:
        raise GameFileError(
            f"{path}: unknown array{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"a game file holds {', '.join(ARRAYS)}"
        )
    for key in ("features", "initial_distribution"):
        if key not in arrays:
            raise GameFileError(f"{path}: missing array {key!r} {_axes(key)}")
    dense = "transitions" in arrays or "rewards" in arrays
    factored = "mu" in arrays or "theta" in arrays
    if not (dense or factored):
        raise GameFileError(
            f"{path}: missing arrays: give transitions and rewards (the dense model), or mu "
            "and theta (the factored one)"
        )
    for present, pair in [(dense, ("transitions", "rewards")), (factored, ("mu", "theta"))]:
        for key in pair:
            if present and key not in arrays:
                other = pair[1 - pair.index(key)]
                raise GameFileError(
                    f"{path}: missing array {key!r} {_axes(key)}: {other!r} needs it"
                )
    model = {k: _numeric(path, k, arrays[k]) for k in _AXES if k in arrays}
    kwargs = {}
    if "reward_noise" in arrays:
        noise = arrays["reward_noise"]
        if noise.shape != () or noise.dtype.kind not in "biuf":
            raise GameFileError(
                f"{path}: array 'reward_noise' must be one number, got dtype {noise.dtype} "
                f"and shape {noise.shape}"
            )
        kwargs["reward_noise"] = float(noise)
    if "name" in arrays:
        name = arrays["name"]
        if name.shape != () or name.dtype.kind != "U":
            raise GameFileError(
                f"{path}: array 'name' must be one string, got dtype {name.dtype} and shape "
                f"{name.shape}"
            )
        kwargs["name"] = str(name)
    else:
        kwargs["name"] = path.stem
    try:
        return FiniteGame(
            model.pop("features"), model.pop("initial_distribution"), **model, **kwargs
        )
    except ValueError as err:
        raise GameFileError(f"{path}: {err}") from None


def estimate_bytes(path: str | os.PathLike) -> int | None:
    """About what loading the game file at ``path`` takes; ``None`` if it cannot be read.

    Twice its arrays' uncompressed size: read, then held as validated float64 arrays.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return 2 * sum(member.file_size for member in archive.infolist())
    except (OSError, zipfile.BadZipFile):
        return None


def save(game: FiniteGame, path: str | os.PathLike) -> None:
    """Write ``game`` to ``path`` as an ``.npz`` that :func:`load` reads back bit for bit.

    The arrays are stored in the form the game holds (dense and/or factored) with their exact
    float64 values, so the loaded game has the same :meth:`~FiniteGame.fingerprint`. The file is
    written to a temporary file in the same folder and renamed over ``path``, so a crash never
    leaves a half-written game under that name. ``path`` is used as given (no ``.npz`` is
    appended).
    """
    path = Path(path)
    arrays = {
        "features": game.features,
        "initial_distribution": game.initial_distribution,
        "reward_noise": np.float64(game.reward_noise),
        "name": np.str_(game.name),
    }
    if game._transitions is not None:
        arrays["transitions"], arrays["rewards"] = game._transitions, game._rewards
    if game.mu is not None:
        arrays["mu"], arrays["theta"] = game.mu, game.theta
    write_npz(path, arrays)
