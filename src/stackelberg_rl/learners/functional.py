"""The learner's math as pure functions: bonus, optimistic ``Q``, soft-max policies, parameters.

The readable numpy form of Algorithm 1, lines 7–14, used by the from-scratch learner, reward-free
exploration and the tests; the fast learner computes the same in compiled loops
(:mod:`._kernels.plan`), tested against these.

Shapes follow math.md §2–3: a joint table ``Q (..., 2, A, B)`` per state holds the leader's
(index 0) and the follower's (index 1) action values; a follower policy ``pi_f (..., A, B)`` and a
leader policy ``pi_l (..., A)`` reduce it to ``q_l (..., A)``, ``vbar_f (..., A)`` and
``V (..., 2)``. The soft-max and the policies it makes from ``Q`` (Algorithm 1, lines 9–14) are
:mod:`stackelberg_rl.planning`'s, shared with planning on the true model, and re-exported here.
"""

from __future__ import annotations

import math

import numpy as np

from .._validate import integer, real
from ..planning import soft_policies as soft_policies  # re-exported: the learner's policies
from ..planning import softmax as softmax


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

    The factor ``log|A||B| + 2 log|A| log|B|`` is used as it is, also below 1 (``|A| = 2``,
    ``|B| = 1`` gives ``log 2``). It is zero only when both players have one action: nothing can
    be chosen, the factor (which comes from covering the soft-max policies) is dropped and
    ``ι = log(4dT/p)``.

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


def parse_power_alpha(spec: str) -> tuple[float, float]:
    """``(c, p)`` of ``"power:c,p"``, the schedule ``α = c·log(n)·K^p / H``.

    Raises:
        ValueError: not of the form ``power:c,p``, ``c`` not a finite number > 0, or ``p`` not
            a finite number.
    """
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
    if not math.isfinite(p):
        raise ValueError(f"p of power:c,p must be a finite number, got {spec!r}")
    return c, p


def alpha_value(spec: float | str, n_actions: int, horizon: int, episodes: int, k: int) -> float:
    """The soft-max parameter at episode ``k`` (0-based) from a number or a schedule name.

    ``"fixed-K"``: ``log(n)·√K / H`` (Algorithm 1, line 1); ``"anytime"``: ``log(n)·√(k+1) / H``;
    ``"power:c,p"``: ``c·log(n)·K^p / H`` (beyond the paper: ``power:1,0.5`` is fixed-K, and
    other ``p`` trade Lemma 2's soft-max bias ``KH·log(n)/α`` against the robustness of
    Appendix F); a number (``inf`` for greedy) is used as it is.

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
            return c * math.log(n_actions) * float(episodes) ** p / horizon
        raise ValueError(
            f"alpha must be a number, 'fixed-K', 'anytime' or 'power:c,p', got {spec!r}"
        )
    value = float(spec)
    if math.isnan(value) or value < 0:
        raise ValueError(f"alpha must be >= 0, got {spec!r}")
    return value


def bonus(phi: np.ndarray, Lambda_inv: np.ndarray, beta: float) -> np.ndarray:
    """The optimism bonus ``β‖φ‖_{Λ^{-1}}`` (Algorithm 1, line 7): ``(...)`` for ``phi (..., d)``.

    The same for every player; reward-free exploration also makes a reward of it (math.md §4).

    Args:
        phi: ``(..., d)`` features.
        Lambda_inv: ``(d, d)`` ``Λ_h^{-1}``.
        beta: the bonus scale ``β``.
    """
    # ‖φ‖²_{Λ^{-1}} as (φΛ^{-1})·φ: one matrix product, then a row-wise dot (Λ^{-1} symmetric);
    # round-off can make a tiny square negative.
    return beta * np.sqrt(np.maximum(np.einsum("...d,...d->...", phi @ Lambda_inv, phi), 0.0))


def optimistic_q(
    phi: np.ndarray, w: np.ndarray, Lambda_inv: np.ndarray, beta: float, horizon: float
) -> np.ndarray:
    """``Q_m = min{w_mᵀφ + β‖φ‖_{Λ^{-1}}, H}`` (Algorithm 1, line 7) for every player ``m``.

    Args:
        phi: ``(..., A, B, d)``.
        w: ``(n_players, d)``.
        Lambda_inv: ``(d, d)``.
        beta: bonus scale.
        horizon: the cap ``H``.

    Returns:
        ``Q (..., n_players, A, B)``, the layout of :func:`soft_policies`.
    """
    Q = np.minimum(phi @ w.T + bonus(phi, Lambda_inv, beta)[..., None], horizon)  # (..., A, B, n)
    return np.moveaxis(Q, -1, -3)
