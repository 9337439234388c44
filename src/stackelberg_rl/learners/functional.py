"""The learner's math as pure numpy functions: bonus, optimistic ``Q``, parameters (math.md §3).

The readable form of Algorithm 1, lines 7–14, that the compiled kernels are tested against;
``Q (..., P, A_0, …, A_N)`` holds every player's action values. The soft-max is
:mod:`stackelberg_rl.planning`'s.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import integer, real
from ..planning import collapse, softmax_rule


def theory_beta(
    dim: int,
    horizon: int,
    episodes: int,
    n_leader_actions: int,
    n_follower_actions: int,
    c1: float = 1.0,
    p: float = 0.05,
) -> float:
    """``β = C₁ d H √ι`` of Theorem 3, ``ι = log((log|A||B| + 2 log|A| log|B|)·4dT/p)``, ``T = KH``.

    When both players have one action the factor is zero and dropped: ``ι = log(4dT/p)``.

    >>> round(theory_beta(4, 3, 100, 2, 1), 2)  # 12·√log(log 2 · 4·4·300/0.05)
    39.99
    """
    for name, value in (
        ("dim", dim), ("horizon", horizon), ("episodes", episodes),
        ("n_leader_actions", n_leader_actions), ("n_follower_actions", n_follower_actions),
    ):  # fmt: skip
        integer(value, name, low=1)
    c1 = real(c1, "c1", low=0.0, low_open=True)
    p = real(p, "p", low=0.0, high=1.0, low_open=True, high_open=True)
    A, B = n_leader_actions, n_follower_actions
    factor = math.log(A * B) + 2.0 * math.log(A) * math.log(B)
    T = episodes * horizon
    iota = math.log((factor if factor > 0 else 1.0) * 4.0 * dim * T / p)
    return c1 * dim * horizon * math.sqrt(iota)


POWER_MAX = 10.0
"""The largest ``|p|`` of ``power:c,p``: ``K^10`` is already greedy play for any ``K`` > 1."""


def parse_power_alpha(spec: str) -> tuple[float, float]:
    """``(c, p)`` of ``"power:c,p"``, the schedule ``α = c·log(n)·K^p / H`` (ValueError if bad)."""
    body = spec[len("power:") :] if spec.startswith("power:") else None
    parts = [] if body is None else body.split(",")
    if len(parts) != 2:
        raise ValueError(f"the power schedule is power:c,p (e.g. power:1,0.5), got {spec!r}")
    try:
        c, p = float(parts[0]), float(parts[1])
    except ValueError:
        raise ValueError(f"c and p of power:c,p must be numbers, got {spec!r}") from None
    if not (math.isfinite(c) and c > 0):
        raise ValueError(f"c of power:c,p must be a finite number > 0, got {spec!r}")
    if not (math.isfinite(p) and abs(p) <= POWER_MAX):
        raise ValueError(
            f"p of power:c,p must be a number in [-{POWER_MAX:g}, {POWER_MAX:g}] (K^p beyond "
            f"overflows; for greedy play give inf), got {spec!r}"
        )
    return c, p


def alpha_value(spec: float | str, n_actions: int, horizon: int, episodes: int, k: int) -> float:
    """The soft-max parameter at episode ``k`` (0-based) from a number or a schedule name.

    ``"fixed-K"``: ``log(n)·√K / H`` (Algorithm 1, line 1); ``"anytime"``: ``log(n)·√(k+1) / H``;
    ``"power:c,p"``: ``c·log(n)·K^p / H`` (``power:1,0.5`` is fixed-K); a number (``inf``:
    greedy) is used as it is.

    >>> round(alpha_value("power:2,0.25", n_actions=3, horizon=5, episodes=16, k=0), 5)
    0.87889
    """
    if isinstance(spec, str):
        if spec == "fixed-K":
            return math.log(n_actions) * math.sqrt(episodes) / horizon
        if spec == "anytime":
            return math.log(n_actions) * math.sqrt(k + 1) / horizon
        if spec.startswith("power:"):
            c, p = parse_power_alpha(spec)
            scale = c * math.log(n_actions) / horizon
            if scale == 0:  # one action: α = 0, harmless
                return 0.0
            try:
                return scale * float(episodes) ** p
            except OverflowError:  # K^p past the largest float: α = ∞ is greedy play
                return math.inf
        raise ValueError(
            f"alpha must be a number, 'fixed-K', 'anytime' or 'power:c,p', got {spec!r}"
        )
    value = float(spec)
    if math.isnan(value) or value < 0:
        raise ValueError(f"alpha must be >= 0, got {spec!r}")
    return value


def bonus(phi: np.ndarray, Lambda_inv: np.ndarray, beta: float) -> np.ndarray:
    """The bonus ``β‖φ‖_{Λ^{-1}}`` ``(...)`` of ``phi (..., d)`` (Algorithm 1, line 7)."""
    # Round-off can make a tiny square negative.
    return beta * np.sqrt(np.maximum(np.einsum("...d,...d->...", phi @ Lambda_inv, phi), 0.0))


def optimistic_q(
    phi: np.ndarray,
    w: np.ndarray,
    Lambda_inv: np.ndarray,
    beta: float,
    horizon: float,
    n_action_axes: int = 2,
) -> np.ndarray:
    """``Q_m = min{w_mᵀφ + β‖φ‖_{Λ^{-1}}, H}`` (Algorithm 1, line 7) for every row ``m`` of ``w``.

    ``phi (..., A_0, …, A_N, d)`` with ``n_action_axes = 1+N`` action axes, ``w (P, d)``,
    ``Lambda_inv (d, d)``; returns ``Q (..., P, A_0, …, A_N)``.
    """
    Q = np.minimum(phi @ w.T + bonus(phi, Lambda_inv, beta)[..., None], horizon)  # (..., A.., P)
    return np.moveaxis(Q, -1, -1 - n_action_axes)


def chain_policies(Q: np.ndarray, alphas) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The soft-max chain of math.md §9 from the last player down (Algorithm 1, lines 9–14).

    ``Q (..., P, A_0, …, A_N)``, ``alphas (P,)`` (``inf``: greedy). Returns each player's policy
    ``π_i (..., A_0, …, A_i) = softmax(α_i W^{(i+1)}_i)`` and the nodes ``W^{(i)} (..., A_0, …,
    A_{i-1}, P)``, ``W^{(0)} = V (..., P)``.
    """
    W = np.moveaxis(np.asarray(Q, dtype=np.float64), -1 - len(alphas), 0)
    pis, nodes = collapse(W, [softmax_rule(m, alpha) for m, alpha in enumerate(alphas)])
    return pis, [np.moveaxis(node, 0, -1) for node in nodes]


def soft_policies(Q: np.ndarray, alpha_l: float, alpha_f: float) -> tuple[np.ndarray, ...]:
    """Two players' :func:`chain_policies` from ``Q (..., 2, A, B)``.

    Returns ``pi_l (..., A)``, ``pi_f (..., A, B)``, ``q_l``, ``vbar_f (..., A)``, ``V (..., 2)``.
    """
    (pi_l, pi_f), (V, q) = chain_policies(Q, (alpha_l, alpha_f))
    return pi_l, pi_f, q[..., 0], q[..., 1], V
