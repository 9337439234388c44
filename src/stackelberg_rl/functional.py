"""Pure array functions shared by the learners, the agents and the games: soft-max, drawing.

Shapes follow SPEC §2–3: a joint table ``Q (..., 2, A, B)`` per state holds the leader's (index 0)
and the follower's (index 1) action values; a follower policy ``pi_f (..., A, B)`` and a leader
policy ``pi_l (..., A)`` reduce it to ``q_l (..., A)``, ``vbar_f (..., A)`` and ``V (..., 2)``.
"""

from __future__ import annotations

import numpy as np

from . import _kernels


def softmax(z: np.ndarray, alpha: float, axis: int = -1) -> np.ndarray:
    """``SOFT-MAX_alpha(z)`` of eq. (12) along ``axis``, computed stably.

    ``alpha = inf`` gives the limit: uniform over the maximisers (greedy play); ``alpha = 0``
    gives the uniform policy. The maximum is subtracted before exponentiating, so ``alpha`` of
    ``1e6`` and more is safe.

    >>> softmax(np.array([0.0, 1.0]), np.inf)
    array([0., 1.])
    """
    z = np.asarray(z, dtype=np.float64)
    zmax = z.max(axis=axis, keepdims=True)
    if np.isinf(alpha):
        e = (z == zmax).astype(np.float64)
    else:
        e = np.exp(alpha * (z - zmax))
    return e / e.sum(axis=axis, keepdims=True)


def draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """One draw from the distribution ``p`` by inverse CDF, with one uniform from ``rng``.

    Negative round-off entries (``-1e-12`` from signed features) count as zero.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError(f"draw needs a non-empty 1-d distribution, got shape {p.shape}")
    return int(_kernels.draw_index(p, rng.random()))


def soft_policies(
    Q: np.ndarray, alpha_l: float, alpha_f: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Soft-max follower then leader policies from joint values (Algorithm 1, lines 9–14).

    Args:
        Q: ``(..., 2, A, B)``.
        alpha_l: leader inverse temperature (``inf`` for greedy).
        alpha_f: follower inverse temperature (``inf`` for greedy).

    Returns:
        ``pi_l (..., A)``, ``pi_f (..., A, B)``, ``q_l (..., A)``, ``vbar_f (..., A)``,
        ``V (..., 2)``.
    """
    pi_f = softmax(Q[..., 1, :, :], alpha_f, axis=-1)
    q = np.einsum("...mab,...ab->...ma", Q, pi_f)
    pi_l = softmax(q[..., 0, :], alpha_l, axis=-1)
    V = np.einsum("...ma,...a->...m", q, pi_l)
    return pi_l, pi_f, q[..., 0, :], q[..., 1, :], V
