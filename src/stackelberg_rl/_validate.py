"""The checks of everything a user hands in: one function per kind of value, one error style.

Each returns the value in its canonical type or raises :class:`ValueError` naming the argument,
what was expected and what was given (for an array, the first bad index and its axes' names).
Booleans are never numbers here, and floats are never indices.

Example:
    >>> integer(3, "n_states", low=1)
    3
    >>> integer(True, "n_states", low=1)
    Traceback (most recent call last):
    ...
    ValueError: n_states must be an integer >= 1, got True
"""

from __future__ import annotations

import math
import numbers
import os
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TOL = 1e-9
"""Tolerance on probabilities summing to one, on ``‖φ‖₂ ≤ 1`` and on rewards in ``[-1, 1]``."""


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (Python's or numpy's), and not a boolean."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def is_real(value: Any) -> bool:
    """Whether ``value`` is a real number (Python's or numpy's), and not a boolean."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


def plain(value: Any) -> Any:
    """``value`` with numpy scalars as Python's, also inside a list, a tuple or a dict.

    ``np.int64`` → ``int``, ``np.float32`` → ``float``, ``np.bool_`` → ``bool``: what a
    configuration stores, so that its checks and its manifest's JSON take it.
    """
    if isinstance(value, np.generic):
        return value.item()
    if type(value) in (list, tuple):
        return type(value)(plain(v) for v in value)
    if type(value) is dict:
        return {k: plain(v) for k, v in value.items()}
    return value


def _interval(low: float, high: float, low_open: bool, high_open: bool) -> str:
    opens = "(" if low_open or math.isinf(low) else "["  # an infinite end is never included
    closes = ")" if high_open or math.isinf(high) else "]"
    return f"{opens}{low:g}, {high:g}{closes}"


def integer(value: Any, name: str, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an ``int`` in ``[low, high]`` (either end may be omitted).

    Raises:
        ValueError: not an integer (a boolean, a float, a string), or out of range.
    """
    if is_integer(value) and (low is None or value >= low) and (high is None or value <= high):
        return int(value)
    expected = "an integer"
    if low is not None and high is not None:
        expected += f" in [{low}, {high}]"
    elif low is not None or high is not None:
        expected += f" >= {low}" if high is None else f" <= {high}"
    raise ValueError(f"{name} must be {expected}, got {value!r}")


def index(value: Any, n: int, name: str) -> int:
    """``value`` as an index in ``[0, n)``: negative indices are refused, not read from the end."""
    if is_integer(value) and 0 <= value < n:
        return int(value)
    where = f"in [0, {n})" if n < 2**62 else ">= 0"  # no bound that only a machine word sets
    raise ValueError(f"{name} must be an integer {where}, got {value!r}")


def real(
    value: Any,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    infinite: bool = False,
) -> float:
    """``value`` as a ``float`` in ``[low, high]`` (``low_open``/``high_open`` exclude an end).

    ``infinite`` accepts ``±inf`` within the interval; NaN is always refused.

    Raises:
        ValueError: not a number, NaN, infinite (unless ``infinite``), or out of the interval.
    """
    interval = _interval(low, high, low_open, high_open)
    finite = "" if infinite else "finite "
    v = float(value) if is_real(value) else math.nan
    if math.isnan(v) or (not infinite and math.isinf(v)):
        raise ValueError(f"{name} must be a {finite}number in {interval}, got {value!r}")
    if v < low or v > high or (low_open and v == low) or (high_open and v == high):
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def instance(value: Any, kind: Any, name: str, expected: str = "") -> Any:
    """``value`` itself if it is a ``kind`` (a class, a tuple or a union of them).

    ``expected``: what the message asks for, by default the classes' names
    (``game must be a FiniteGame, got ContinuousGame(...)``).

    Raises:
        ValueError: ``value`` is of another type (``None`` for a forgotten argument).
    """
    if isinstance(value, kind):
        return value
    if not expected:
        kinds = kind if isinstance(kind, tuple) else typing.get_args(kind) or (kind,)
        names = [k.__name__ for k in kinds]
        expected = " or ".join(("an " if n[0] in "AEIOU" else "a ") + n for n in names)
    raise ValueError(f"{name} must be {expected}, got {_short(value)}")


def point(value: Any, name: str) -> np.ndarray:
    """``value`` as a finite float64 point of the plane ``(2,)``: a continuous game's state."""
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        out = None
    if out is None or out.shape != (2,) or not np.isfinite(out).all():
        raise ValueError(f"{name} must be a finite point of the plane, shape (2,), got {value!r}")
    return out


def probability(value: Any, name: str) -> float:
    """``value`` as a ``float`` in ``[0, 1]``."""
    return real(value, name, low=0.0, high=1.0)


def confidence_level(value: Any) -> float:
    """``value`` as the level of a confidence interval, a ``float`` in ``(0, 1)``."""
    return real(value, "level", low=0.0, high=1.0, low_open=True, high_open=True)


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first true entry of ``mask`` (C order); ``()`` for a true scalar."""
    mask = np.asarray(mask)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _at(idx: tuple[int, ...], axes: Sequence[str] | None) -> str:
    if axes is None or len(axes) != len(idx):
        return f"index {idx}"
    return f"index {idx} ({', '.join(axes)})"


def array(
    value: Any,
    name: str,
    *,
    shape: tuple[int | None, ...] | None = None,
    axes: Sequence[str] | None = None,
    dtype: Any = np.float64,
    finite: bool = True,
    low: float | None = None,
    high: float | None = None,
) -> np.ndarray:
    """``value`` as a C-contiguous array of ``dtype``, checked.

    ``shape``: the shape expected (``None`` in an axis accepts any length); ``axes``: the axes'
    names (``("H", "S", "A")``) for every error; ``finite``: refuse NaN and infinities;
    ``low``, ``high``: refuse entries outside ``[low, high]`` (within :data:`TOL`).

    Raises:
        ValueError: not real numbers (complex ones too), the wrong number of axes or the wrong
            length of one (the axis named), a non-finite entry or one out of range (its index
            named).
    """
    try:
        raw = np.asarray(value)
        # numpy would cast a complex array to real, dropping the imaginary part
        complex_ = raw.dtype.kind == "c" and np.dtype(dtype).kind != "c"
        out = None if complex_ else np.ascontiguousarray(raw, dtype=dtype)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers, got {_short(value)}") from None
    if out is None:
        raise ValueError(f"{name} must be real, got complex dtype {raw.dtype}")
    if shape is not None:
        check_shape(out, name, shape, axes)
    if finite and out.dtype.kind in "fc":
        bad = ~np.isfinite(out)
        if bad.any():
            idx = first_index(bad)
            raise ValueError(f"{name} has a non-finite entry {out[idx]} at {_at(idx, axes)}")
    if low is not None and out.size and out.min() < low - TOL:
        idx = first_index(out < low - TOL)
        raise ValueError(f"{name} has {out[idx]:.6g} < {low:g} at {_at(idx, axes)}")
    if high is not None and out.size and out.max() > high + TOL:
        idx = first_index(out > high + TOL)
        raise ValueError(f"{name} has {out[idx]:.6g} > {high:g} at {_at(idx, axes)}")
    return out


def check_shape(
    value: np.ndarray,
    name: str,
    shape: tuple[int | None, ...],
    axes: Sequence[str] | None = None,
) -> None:
    """Raise unless ``value.shape`` matches ``shape``, naming the first axis that differs.

    ``pi_l has shape (3, 5, 4), expected (3, 5, 3): axis 2 (a) is 4, expected 3``.
    """
    got = tuple(np.shape(value))
    want = tuple("any" if n is None else n for n in shape)
    shown = "(" + ", ".join(map(str, want)) + ("," if len(want) == 1 else "") + ")"
    if len(got) != len(shape):
        names = f" ({', '.join(axes)})" if axes else ""
        raise ValueError(
            f"{name} has shape {got}, expected {shown}{names}: {len(got)} axes instead of "
            f"{len(shape)}"
        )
    for axis, (n, m) in enumerate(zip(got, shape, strict=True)):
        if m is not None and n != m:
            label = f" ({axes[axis]})" if axes else ""
            raise ValueError(
                f"{name} has shape {got}, expected {shown}: axis {axis}{label} is {n}, expected {m}"
            )


def distribution(value: Any, name: str, axes: Sequence[str] | None = None) -> np.ndarray:
    """``value`` as float64 probabilities over its last axis: finite, ``≥ 0``, summing to one.

    Whole-array tests come first (they run on every evaluated policy). The tolerance suits the
    given dtype: :data:`TOL`, or ``n·eps`` of a less precise floating dtype (``n`` entries a
    row, each rounded to ``eps/2``; ``1.2e-7·n`` for float32), so its round-off passes.

    Raises:
        ValueError: not numbers, a non-finite or negative entry, or a row that does not sum to
            one (within that tolerance), by its index.
    """
    raw = np.asarray(value)
    if raw.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold probabilities (numbers), got dtype {raw.dtype}")
    eps = np.finfo(raw.dtype).eps if raw.dtype.kind == "f" else 0.0
    tol = max(TOL, float(eps) * (raw.shape[-1] if raw.ndim else 1))
    p = np.ascontiguousarray(raw, dtype=np.float64)
    sums = np.einsum("...i->...", p)  # much faster than p.sum(-1) over a short last axis
    if not np.isfinite(sums).all():  # NaN and ±inf entries make their row sum non-finite
        array(p, name, axes=axes)
    if p.size and p.min() < -tol:
        idx = first_index(p == p.min())
        raise ValueError(f"{name} has a negative probability {p[idx]:.3g} at {_at(idx, axes)}")
    err = np.abs(sums - 1.0)
    if (err > tol).any():
        idx = first_index(err > tol)
        rows = None if axes is None else list(axes)[:-1]
        at = "" if not idx else f" at {_at(idx, rows)}"
        raise ValueError(f"{name} does not sum to 1{at} (sum {sums[idx]:.12g})")
    return p


def path(
    value: Any,
    name: str,
    *,
    kind: str = "any",
    exists: bool | None = None,
) -> Path:
    """``value`` as a :class:`~pathlib.Path`, checked against what it must be.

    ``kind``: ``"file"``, ``"folder"`` or ``"any"`` if it exists; ``exists``: ``True`` it must
    exist, ``False`` it must not, ``None`` either.

    Raises:
        ValueError: not a path, empty, missing, present, or a file where a folder is wanted
            (or the reverse).
    """
    if not isinstance(value, str | os.PathLike) or not os.fspath(value):
        raise ValueError(f"{name} must be a path, got {value!r}")
    p = Path(value)
    if exists and not p.exists():
        raise ValueError(f"{name}: {p} does not exist")
    if exists is False and p.exists():
        raise ValueError(f"{name}: {p} already exists")
    if p.exists():
        if kind == "file" and p.is_dir():
            raise ValueError(f"{name}: {p} is a folder, not a file")
        if kind == "folder" and not p.is_dir():
            raise ValueError(f"{name}: {p} is a file, not a folder")
    return p


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fast_index(value: Any, n: int, name: str) -> int:
    """:func:`index` for the hot paths of acting and recording, without abstract-class checks."""
    if type(value) is int or (isinstance(value, np.integer) and not isinstance(value, np.bool_)):
        if 0 <= value < n:
            return int(value)
    return index(value, n, name)
