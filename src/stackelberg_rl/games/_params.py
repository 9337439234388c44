"""Checks and parsers shared by the registered games' parameters.

Every check raises :class:`ValueError` naming the parameter, so that ``games.make`` and the command
line (``--param KEY=VALUE``) report which value was refused. Payoff arrays may come as Python
sequences, numpy arrays or compact strings (``"1,2,3"`` for a vector, ``"2,4;1,3"`` for a matrix,
rows separated by ``;``); they are turned into tuples of floats so that a game's provenance stays
plain, hashable data.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import array, integer, is_integer, real


def sizes(**values: int) -> tuple[int, ...]:
    """Every size as an ``int``, or a :class:`ValueError` naming the one that is not ``>= 1``."""
    return tuple(integer(v, name, low=1) for name, v in values.items())


def check_sizes(**sizes: int) -> None:
    """Raise unless every size is a positive integer (named): :mod:`.appendix_f`'s spelling."""
    for name, v in sizes.items():
        if not is_integer(v) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def check_real(name: str, value: Any, **interval: Any) -> float:
    """:func:`~stackelberg_rl._validate.real` with the name first (:mod:`.appendix_f`)."""
    return real(value, name, **interval)


def _number(name: str, text: str, index: tuple[int, ...]) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} has {text.strip()!r} at index {index}, not a number") from None


def parse_vector(name: str, value: Any) -> tuple[float, ...]:
    """A 1-d payoff array from a sequence, an array, or a string ``"1,2,3"``.

    Raises:
        ValueError: naming ``name`` for an entry that is not a finite number, or a shape that is
            not a non-empty vector.
    """
    if isinstance(value, str):
        value = [_number(name, t, (i,)) for i, t in enumerate(value.split(","))]
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a vector of numbers, got {value!r}") from None
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty vector, got shape {values.shape}")
    return tuple(float(v) for v in array(values, name))


def parse_matrix(name: str, value: Any) -> tuple[tuple[float, ...], ...]:
    """A 2-d payoff array from nested sequences, an array, or a string ``"2,4;1,3"``.

    Raises:
        ValueError: naming ``name`` and the row or the index at fault.
    """
    if isinstance(value, str):
        rows = [row.split(",") for row in value.split(";")]
        for i, row in enumerate(rows):
            if len(row) != len(rows[0]):
                raise ValueError(f"{name} row {i} has {len(row)} entries, row 0 has {len(rows[0])}")
        value = [
            [_number(name, t, (i, j)) for j, t in enumerate(row)] for i, row in enumerate(rows)
        ]
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a matrix of numbers (rows of equal length), got {value!r}"
        ) from None
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"{name} must be a non-empty matrix (A, B), got shape {values.shape}")
    return tuple(tuple(float(v) for v in row) for row in array(values, name))
