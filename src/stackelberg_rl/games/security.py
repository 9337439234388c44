"""A Stackelberg security game played over time: the ``security`` game.

SSG payoffs (Kiekintveld et al. 2009; Tambe 2011): each target ``t`` has, for an attack on it,
covered or not, the defender's ``U_d^c(t) ≥ U_d^u(t)`` and the attacker's ``U_a^u(t) ≥ U_a^c(t)``.
Each step the defender (leader) patrols a target ``a < T``; the attacker (follower) sees it and
attacks ``b < T`` or waits (``b = T``). The state is the attacker's threat level ``ℓ < L``; an
attack's payoffs are scaled by ``f(ℓ) = ((ℓ+1)/L)^κ`` and reset ``ℓ`` to 0; waiting pays nothing
and raises ``ℓ`` by one with probability ``escalation``. Episodes start at ``ℓ = 0``. Payoffs are
given (any scale) or seeded (``U_d^c ~ U(0, 1)``, ``U_d^u ~ U(-1, 0)``, ``U_a^u ~ U(0, 1)``,
``U_a^c ~ U(-1, 0)``; ``zero_sum``: ``U_a = −U_d``), divided by ``payoff_scale`` (the largest).

Linear (Assumption 2) with ``d = 2T + L + 1``: ``φ(ℓ, a, b)`` has ``f(ℓ)/√2`` at ``b`` for an
attack on the patrolled target, at ``T + b`` on another, and ``1/√2`` at ``2T + ℓ`` when waiting
or at ``2T + L`` when attacking; ``θ`` is ``√2·`` the scaled payoffs on the first ``2T`` indices;
``μ_h(ℓ') = √2·`` the escalation from ``ℓ`` at ``2T + ℓ`` and ``√2·1{ℓ' = 0}`` at ``2T + L``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import first_index
from ._params import checked, param, parse_given
from .base import FiniteGame
from .registry import register

_PAYOFFS = {
    "defender_covered": 0.0,
    "defender_uncovered": -1.0,
    "attacker_covered": -1.0,
    "attacker_uncovered": 0.0,
}
"""The payoff vectors, each with the lower end of its random draws (the upper is one more)."""


@dataclass(frozen=True)
class SecurityParams:
    """Parameters of ``security``; the payoff vectors are random where not given."""

    n_targets: int = param(
        4,
        "T, targets; the defender patrols one, the attacker strikes one or waits: A = T, B = T+1.",
        ge=1,
    )
    levels: int = param(3, "L, the attacker's threat levels (the states).", ge=1)
    horizon: int = param(5, "H, steps per episode.", ge=1)
    escalation: float = param(
        0.5, "Probability in [0, 1] that waiting raises the threat by one level.", ge=0, le=1
    )
    impact_exponent: float = param(
        2.0, "κ >= 0: an attack at threat level ℓ has its payoffs scaled by ((ℓ+1)/L)^κ.", ge=0
    )
    zero_sum: bool = param(
        False, "Whether the attacker's reward is minus the defender's (else general-sum)."
    )
    defender_covered: str | tuple | None = param(
        None,
        "The defender's payoff per target when the attacked target is patrolled (T values, any "
        "scale, e.g. 5,3,2,1); random when not given.",
    )
    defender_uncovered: str | tuple | None = param(
        None, "The defender's payoff per target when it is not patrolled (<= defender_covered)."
    )
    attacker_covered: str | tuple | None = param(
        None,
        "The attacker's payoff per target when patrolled (<= attacker_uncovered); not with "
        "zero_sum.",
    )
    attacker_uncovered: str | tuple | None = param(
        None, "The attacker's payoff per target when not patrolled; not with zero_sum."
    )
    seed: int = param(0, "Seed of the random payoffs (those not given).", ge=0)

    def __post_init__(self) -> None:
        if not isinstance(self.zero_sum, bool | np.bool_):
            raise ValueError(f"zero_sum must be true or false, got {self.zero_sum!r}")
        parse_given(self, _PAYOFFS, 1)


def _security_bytes(p: SecurityParams) -> int:
    """Features ``(L, T, T+1, d)``, the dense model ``(H, L, T, T+1, L)`` and ``mu (H, d, L)``."""
    L, A, B, H = p.levels, p.n_targets, p.n_targets + 1, p.horizon
    d = 2 * p.n_targets + L + 1
    return 8 * (L * A * B * d + H * L * A * B * L + 2 * H * L * A * B + H * d * L + 2 * H * d)


@register("security", SecurityParams, nbytes=_security_bytes)
def security_game(**params) -> FiniteGame:
    """A Stackelberg security game over time: a defender patrols, an attacker strikes or waits.

    Built as the module's docstring says, in both forms (the game checks its own linearity);
    keeps ``game.payoff_scale`` and ``game.payoffs``, the four ``(T,)`` vectors as given.

    Raises:
        ValueError: naming the parameter, or the payoff vector and target of a wrong length or
            a violated SSG order, or attacker payoffs given with ``zero_sum``.
    """
    p = checked(SecurityParams, **params)
    T, L, H = p.n_targets, p.levels, p.horizon
    rng = np.random.default_rng(p.seed)
    # All four are drawn, in this order, so that a given vector leaves the others unchanged.
    payoffs = {name: rng.uniform(low, low + 1.0, T) for name, low in _PAYOFFS.items()}
    for name in _PAYOFFS:
        given = getattr(p, name)
        if given is not None and p.zero_sum and name.startswith("attacker"):
            raise ValueError(
                f"{name} is given but zero_sum=True takes the attacker's payoffs from the "
                "defender's: give only the defender's"
            )
        if given is not None and len(given) != T:
            raise ValueError(f"{name} has {len(given)} values, expected n_targets={T}")
        payoffs[name] = payoffs[name] if given is None else np.array(given)
    if p.zero_sum:
        payoffs["attacker_covered"] = -payoffs["defender_covered"]
        payoffs["attacker_uncovered"] = -payoffs["defender_uncovered"]
    for player, high, low in [
        ("defender", "defender_covered", "defender_uncovered"),
        ("attacker", "attacker_uncovered", "attacker_covered"),
    ]:
        bad = payoffs[high] < payoffs[low]
        if bad.any():
            (t,) = first_index(bad)
            raise ValueError(
                f"{high}[{t}] = {payoffs[high][t]:g} is below {low}[{t}] = "
                f"{payoffs[low][t]:g}: an SSG {player} needs {high} >= {low} at every target"
            )
    scale = float(max(np.abs(v).max() for v in payoffs.values())) or 1.0
    u = np.stack(list(payoffs.values())).reshape(2, 2, T) / scale  # (player, covered/not, t)

    A, B, d = T, T + 1, 2 * T + L + 1
    WAIT, RESET = 2 * T, 2 * T + L  # the transition block: escalate from ℓ, or reset
    impact = ((np.arange(L) + 1) / L) ** p.impact_exponent  # f(ℓ)
    root2 = math.sqrt(2)

    features = np.zeros((L, A, B, d))
    a, t = np.meshgrid(np.arange(A), np.arange(T), indexing="ij")
    # an attack on t at index t when t is patrolled (a = t), at T + t when not
    features[:, a, t, np.where(a == t, t, T + t)] = (impact / root2)[:, None, None]
    features[:, :, :T, RESET] = 1 / root2
    features[np.arange(L), :, T, WAIT + np.arange(L)] = 1 / root2

    # escalate[ℓ, ℓ']: the threat after waiting at ℓ (it stays at the top level L - 1)
    escalate = (1 - p.escalation) * np.eye(L) + p.escalation * np.eye(L, k=1)
    escalate[-1, -1] += p.escalation
    step_mu = np.zeros((d, L))
    step_mu[WAIT:RESET] = root2 * escalate
    step_mu[RESET, 0] = root2
    mu = np.broadcast_to(step_mu, (H, d, L))
    step_theta = np.zeros((2, d))
    step_theta[:, : 2 * T] = u.reshape(2, 2 * T)
    theta = np.broadcast_to(root2 * step_theta[:, None], (2, H, d))

    # The dense model from the rules, apart from φ·μ and φ·θ: the game compares the two.
    covered = np.eye(T, dtype=bool)  # covered[a, t]: the attack on t meets the patrol
    stage = np.zeros((2, L, A, B))
    per_target = np.where(covered, u[:, 0, None, :], u[:, 1, None, :])  # (2, A, T)
    stage[:, :, :, :T] = impact[:, None, None] * per_target[:, None]
    step_P = np.zeros((L, A, B, L))
    step_P[:, :, :T, 0] = 1.0
    step_P[:, :, T, :] = escalate[:, None, :]
    game = FiniteGame(
        features,
        np.eye(L)[0],
        transitions=np.broadcast_to(step_P, (H, L, A, B, L)),
        rewards=np.broadcast_to(stage[:, None], (2, H, L, A, B)),
        mu=mu,
        theta=theta,
        name=f"security(T={T},L={L},H={H},{'zero-sum' if p.zero_sum else 'general-sum'})",
    )
    game.payoff_scale = scale
    game.payoffs = payoffs
    return game
