"""Drawing from finite distributions: one uniform per draw, by inverse CDF (compiled).

Used by the games (initial states, next states) and by the players (actions), so it sits at the
bottom of the package: nothing here imports the rest of it.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """One draw from the distribution ``p`` by inverse CDF, with one uniform from ``rng``.

    Negative round-off entries (``-1e-12`` from signed features) count as zero.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"draw needs a non-empty 1-d distribution, got shape {p.shape}")
    return int(draw_index(p, rng.random()))


# Sampling: no fastmath, so that the cumulative sums are the plain left-to-right ones.
@njit(cache=True, error_model="numpy")
def draw_index(p, u):  # pragma: no cover - compiled
    """The index an inverse-CDF draw with uniform ``u`` picks from the weights ``p``.

    Negative weights (round-off) count as zero; the result is the first ``i`` with
    ``u · Σ p < Σ_{j ≤ i} p``, the last index if there is none.
    """
    total = 0.0
    for i in range(p.shape[0]):
        total += max(p[i], 0.0)
    target = u * total
    cum = 0.0
    for i in range(p.shape[0]):
        cum += max(p[i], 0.0)
        if target < cum:
            return i
    return p.shape[0] - 1


@njit(cache=True, error_model="numpy")
def mixture_draw(weights, cdf, u_component, u_state):  # pragma: no cover - compiled
    """A state from the mixture ``Σ_i weights_i · μ^i``: draw ``i``, then a state from ``μ^i``.

    ``cdf (d, S)``: the cumulative sums of each ``μ^i``; the state is the first ``s`` with
    ``u_state · cdf[i, -1] < cdf[i, s]`` (the last if none).
    """
    i = draw_index(weights, u_component)
    row = cdf[i]
    S = row.shape[0]
    return min(np.searchsorted(row, u_state * row[S - 1], side="right"), S - 1)
