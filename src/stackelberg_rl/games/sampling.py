"""Drawing from finite distributions: one uniform per draw, by inverse CDF (compiled).

Used by the games (initial states, next states) and by the players (actions), so it sits at the
bottom of the package: nothing here imports the rest of it.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._jit import ensure_cache_dir

ensure_cache_dir(__file__)  # before the first cache=True kernel

NEGATIVE_TOL = 1e-9
"""Weights down to ``-NEGATIVE_TOL`` are round-off (from signed features) and count as zero."""


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """One draw from the distribution ``p`` by inverse CDF, with one uniform from ``rng``.

    Negative round-off entries (``-1e-12`` from signed features) count as zero. NaN or infinite
    weights, a weight below ``-NEGATIVE_TOL`` or a zero total raise :class:`ValueError`: they
    are not a distribution, and no action is the right answer to them.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"draw needs a non-empty 1-d distribution, got shape {p.shape}")
    i = int(draw_index(p, rng.random()))
    if i < 0:
        raise ValueError(_not_a_distribution(p))
    return i


def _not_a_distribution(p: np.ndarray) -> str:
    """What is wrong with the weights ``p`` that :func:`draw_index` refused."""
    bad = np.flatnonzero(~np.isfinite(p))
    if len(bad):
        return f"draw: weight {bad[0]} is {float(p[bad[0]])} (not finite) in {p.tolist()}"
    bad = np.flatnonzero(p < -NEGATIVE_TOL)
    if len(bad):
        return f"draw: weight {bad[0]} is negative ({float(p[bad[0]])}) in {p.tolist()}"
    return f"draw: the weights sum to zero: {p.tolist()}"


# Sampling: no fastmath, so that the cumulative sums are the plain left-to-right ones.
@njit(cache=True, error_model="numpy")
def draw_index(p, u):  # pragma: no cover - compiled
    """The index an inverse-CDF draw with uniform ``u`` picks from the weights ``p``.

    Negative weights down to ``-NEGATIVE_TOL`` (round-off) count as zero; the result is the
    first ``i`` with ``u · Σ p < Σ_{j ≤ i} p``, the last index with a positive weight if there
    is none. ``-1`` if ``p`` is not a distribution: a NaN or infinite weight, a weight below
    ``-NEGATIVE_TOL``, or no positive weight.
    """
    total = 0.0
    last = -1
    for i in range(p.shape[0]):
        if not (-NEGATIVE_TOL <= p[i] < math.inf):  # also NaN
            return -1
        if p[i] > 0.0:
            total += p[i]
            last = i
    if not (0.0 < total < math.inf):
        return -1
    target = u * total
    cum = 0.0
    for i in range(p.shape[0]):
        cum += max(p[i], 0.0)
        if target < cum:
            return i
    return last


@njit(cache=True, error_model="numpy")
def mixture_draw(weights, cdf, u_component, u_state):  # pragma: no cover - compiled
    """A state from the mixture ``Σ_i weights_i · μ^i``: draw ``i``, then a state from ``μ^i``.

    ``cdf (d, S)``: the cumulative sums of each ``μ^i``; the state is the first ``s`` with
    ``u_state · cdf[i, -1] < cdf[i, s]`` (the last if none). ``-1`` if the weights are not a
    distribution (:func:`draw_index`); a validated game's features on the simplex always are.
    """
    i = draw_index(weights, u_component)
    if i < 0:
        return -1
    row = cdf[i]
    S = row.shape[0]
    return min(np.searchsorted(row, u_state * row[S - 1], side="right"), S - 1)
