"""Game parameters declared once (default, help, bounds), and payoff arrays parsed from text.

Payoffs are kept as tuples of floats, so that a game's provenance stays plain, hashable data.
"""

from __future__ import annotations

from dataclasses import field, fields, replace
from typing import Any

import numpy as np

from .._validate import array, integer, real


def param(default: Any, help: str, *, ge: Any = None, gt: Any = None, le: Any = None) -> Any:
    """A parameter field: its default, its help and the bounds (``>= ge``, ``> gt``, ``<= le``)."""
    bounds = {"low": ge, "high": le} if gt is None else {"low": gt, "high": le, "low_open": True}
    bounds = {key: value for key, value in bounds.items() if value is not None}
    return field(default=default, metadata={"help": help, "bounds": bounds})


def checked(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``cls(*args, **kwargs)``, each bounded field checked (an integer if its default is)."""
    params = cls(*args, **kwargs)
    values = {}
    for f in fields(params):
        bounds = f.metadata.get("bounds")
        if bounds and not isinstance(getattr(params, f.name), np.random.SeedSequence):  # a seed
            check = integer if isinstance(f.default, int) else real
            values[f.name] = check(getattr(params, f.name), f.name, **bounds)
    return replace(params, **values)


def _number(name: str, text: str, index: tuple[int, ...]) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} has {text.strip()!r} at index {index}, not a number") from None


def parse_given(params: Any, names: Any, ndim: int) -> None:
    """In a frozen ``params``' ``__post_init__``: its payoff fields that are given, parsed."""
    for name in names:
        if getattr(params, name) is not None:
            object.__setattr__(params, name, parse_payoffs(name, getattr(params, name), ndim))


def parse_payoffs(name: str, value: Any, ndim: int) -> tuple:
    """A payoff vector (``ndim=1``, ``"1,2,3"``) or matrix (``ndim=2``, ``"2,4;1,3"``) as tuples."""
    if isinstance(value, str):
        rows = [row.split(",") for row in (value.split(";") if ndim == 2 else [value])]
        for i, row in enumerate(rows):
            if len(row) != len(rows[0]):
                raise ValueError(f"{name} row {i} has {len(row)} entries, row 0 has {len(rows[0])}")
        value = [
            [_number(name, t, (i, j)[2 - ndim :]) for j, t in enumerate(row)]
            for i, row in enumerate(rows)
        ]
        value = value[0] if ndim == 1 else value
    kind = "vector" if ndim == 1 else "matrix"
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a {kind} of numbers, got {value!r}") from None
    if values.ndim != ndim or values.size == 0:
        kind = "vector" if ndim == 1 else "matrix (A, B)"
        raise ValueError(f"{name} must be a non-empty {kind}, got shape {values.shape}")
    out = array(values, name).tolist()
    return tuple(out) if ndim == 1 else tuple(map(tuple, out))
