"""Checks and parsers shared by the registered games' parameters.

Every check raises :class:`ValueError` naming the parameter, so that ``games.make`` and the command
line (``--param KEY=VALUE``) report which value was refused. Payoff arrays may come as Python
sequences, numpy arrays or compact strings (``"1,2,3"`` for a vector, ``"2,4;1,3"`` for a matrix,
rows separated by ``;``); they are turned into tuples of floats so that a game's provenance stays
plain, hashable data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def check_sizes(**sizes: int) -> None:
    """Raise unless every size is a positive integer (named in the error)."""
    for name, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def check_real(
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in the interval given, else a :class:`ValueError` naming it.

    Args:
        name: the parameter's name, for the error.
        value: the value to check.
        low: lower end of the interval.
        high: upper end of the interval.
        low_open: exclude ``low`` itself.
        high_open: exclude ``high`` itself.
    """
    opens = "(" if low_open or math.isinf(low) else "["  # an infinite end is never included
    closes = ")" if high_open or math.isinf(high) else "]"
    interval = f"{opens}{low:g}, {high:g}{closes}"
    ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if not ok or not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    if v < low or v > high or (low_open and v == low) or (high_open and v == high):
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


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
        array = np.array([_number(name, t, (i,)) for i, t in enumerate(value.split(","))])
    else:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a vector of numbers, got {value!r}") from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty vector, got shape {array.shape}")
    _check_finite_entries(name, array)
    return tuple(float(v) for v in array)


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
        array = np.array(
            [[_number(name, t, (i, j)) for j, t in enumerate(row)] for i, row in enumerate(rows)]
        )
    else:
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"{name} must be a matrix of numbers (rows of equal length), got {value!r}"
            ) from None
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty matrix (A, B), got shape {array.shape}")
    _check_finite_entries(name, array)
    return tuple(tuple(float(v) for v in row) for row in array)


def _check_finite_entries(name: str, array: np.ndarray) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.unravel_index(np.argmax(bad), array.shape))
        raise ValueError(f"{name} has a non-finite entry {array[index]} at index {index}")
