"""Benchmarks behind ``stackelberg-rl bench`` and ``make bench``: medians and ratios.

Every figure is a median of runs taken in one process after an untimed run that loads the
compiled code, the variants interleaved (:func:`interleaved`) so that the machine's drift hits
all alike. Nothing here is a test.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

import numpy as np


def seconds(call: Callable[[], object]) -> float:
    """Wall time of ``call()``."""
    t0 = time.perf_counter()
    call()
    return time.perf_counter() - t0


def interleaved(variants: dict, repeats: int) -> dict[object, list[float]]:
    """Seconds of ``variants[name](i)`` for ``i < repeats``: every variant in turn per ``i``."""
    times: dict[object, list[float]] = {name: [] for name in variants}
    for i in range(repeats):
        for name, call in variants.items():
            times[name].append(seconds(partial(call, i)))
    return times


def median(values) -> float:
    """The median, as a float."""
    return float(np.median(values))
