"""Benchmarks behind ``stackelberg-rl bench`` and ``make bench``: medians and ratios.

Every figure is a median of runs taken in one process after an untimed run that loads the
compiled code, the variants interleaved (:func:`interleaved`) so that the machine's drift hits
all alike. Nothing here is a test.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Any

import numpy as np


def seconds(call: Callable[[], object]) -> float:
    """Wall time of ``call()``."""
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def interleaved(variants: dict, repeats: int) -> dict[Any, list[float]]:
    """Seconds of ``variants[name](i)`` for ``i < repeats``: every variant in turn per ``i``."""
    times: dict[Any, list[float]] = {name: [] for name in variants}
    for i in range(repeats):
        for name, call in variants.items():
            times[name].append(seconds(partial(call, i)))
    return times


def in_fresh_process(function: Callable, *args: Any) -> Any:
    """``function(*args)`` in a spawned process, so that its peak memory is its own."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def median(values) -> float:
    """The median, as a float."""
    return float(np.median(values))


def table(rows: list[dict], columns: Sequence[tuple], indent: str = "") -> list[str]:
    """A heading and a line per row; a column is ``(heading, format spec, key or function)``.

    A value missing, ``None`` or not finite shows as ``-``.
    """

    def width(spec: str) -> str:
        return re.match(r"[<>^]?\d*", spec).group()

    def cell(row: dict, spec: str, key: Any) -> str:
        value = key(row) if callable(key) else row.get(key)
        if value is None or isinstance(value, float) and not math.isfinite(value):
            return format("-", width(spec) or "")
        return format(value, spec)

    lines = [" ".join(format(heading, width(spec)) for heading, spec, _ in columns)]
    lines += [" ".join(cell(row, spec, key) for _, spec, key in columns) for row in rows]
    return [indent + line.rstrip() for line in lines]
