"""Drawing from finite distributions by inverse CDF, one uniform per draw (compiled).

Used by the games (states) and by the players (actions): nothing here imports the package.
:func:`compiled_step` is a finite game's step for compiled episode loops.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._jit import KERNEL, ensure_cache_dir

ensure_cache_dir(__file__)  # before the first cache=True kernel

NEGATIVE_TOL = 1e-9
"""Weights down to ``-NEGATIVE_TOL`` are round-off (from signed features) and count as zero."""


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """One draw from the distribution ``p (n,)`` by inverse CDF, with one uniform from ``rng``.

    Negative round-off entries (down to ``-NEGATIVE_TOL``) count as zero.

    Raises:
        ValueError: for NaN or infinite weights, a weight below ``-NEGATIVE_TOL``, a zero total.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"draw needs a non-empty 1-d distribution, got shape {p.shape}")
    i = int(draw_index(p, rng.random()))
    if i < 0:
        raise ValueError(_not_a_distribution(p))
    return i


def _not_a_distribution(p: np.ndarray) -> str:
    bad = np.flatnonzero(~np.isfinite(p))
    if len(bad):
        return f"draw: weight {bad[0]} is {float(p[bad[0]])} (not finite) in {p.tolist()}"
    bad = np.flatnonzero(p < -NEGATIVE_TOL)
    if len(bad):
        return f"draw: weight {bad[0]} is negative ({float(p[bad[0]])}) in {p.tolist()}"
    return f"draw: the weights sum to zero: {p.tolist()}"


# No fastmath: the cumulative sums are the plain left-to-right ones.
@njit(**KERNEL)
def draw_index(p, u):  # pragma: no cover - compiled
    """The first ``i`` with ``u · Σ p < Σ_{j ≤ i} p`` (else the last positive); -1 if not a law."""
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


@njit(**KERNEL)
def mixture_draw(weights, cdf, u_component, u_state):  # pragma: no cover - compiled
    """A state from ``Σ_i weights_i · μ^i`` (``cdf (d, S)`` their cumulative sums); -1 if bad."""
    i = draw_index(weights, u_component)
    if i < 0:
        return -1
    row = cdf[i]
    S = row.shape[0]
    return min(np.searchsorted(row, u_state * row[S - 1], side="right"), S - 1)


@njit(**KERNEL, inline="always")
def compiled_step(arrays, h, x, joint, rng, rewards):  # pragma: no cover - compiled
    """``FiniteGame.step`` at ``(h, x)`` and the joint action ``joint``: the next state.

    ``arrays``: the game's ``StepArrays`` as a tuple; the realised rewards are written into
    ``rewards (1+N,)``, with the arithmetic and the uniforms of ``step`` (``uniform(-1, 1)`` is
    ``-1 + 2u``).
    """
    features, mean, theta, transitions, cdf, mu, noise = arrays
    phi = features[x, joint]
    if mean.shape[0] > 0:
        for m in range(rewards.shape[0]):
            rewards[m] = mean[m, h, x, joint]
    else:  # the product step makes, theta[:, h] @ phi (the same BLAS call)
        mean_rewards = np.dot(theta[h], phi)
        for m in range(rewards.shape[0]):
            rewards[m] = mean_rewards[m]
    if noise > 0.0:
        for m in range(rewards.shape[0]):
            half = noise * (1.0 - abs(rewards[m]))
            rewards[m] = rewards[m] + half * (-1.0 + 2.0 * rng.random())
    if cdf.shape[0] > 0:
        u_component = rng.random()
        return mixture_draw(phi, cdf[h], u_component, rng.random())
    if transitions.shape[0] > 0:
        return draw_index(transitions[h, x, joint], rng.random())
    return draw_index(np.dot(phi, mu[h]), rng.random())
