"""The paper's running example (§1, §2): a utility prices electricity, consumers answer.

Each hour the utility (leader) posts a price ``p_a``; the consumers (follower) see it and consume
``q_b``, valued by ``U(q; δ) = v·(m − m²/(2δ))``, ``m = min(q, δ)``, saturating at the hour's
desired demand ``δ``. Stored energy ``σ`` serves first, free; the rest ``g = max(q − σ, 0)`` costs
``C(g) = c₁·g + c₂·g²``, times the evening-peak factor ``κ_h``. Rewards: consumers ``U − p·q``,
the utility social welfare ``U − κ_h·C`` (general-sum: welfare prices at marginal cost). Unserved
demand shifts to later hours; used storage is gone until renewables recharge it.

State ``x = D·L + s`` (demand level ``D``, storage level ``s``, both ``< L = levels``); the hour
is the step ``h`` (clock ``start_hour + h``). In units of the largest consumption:
``δ_D = (D+1)/L``, ``σ_s = storage·s/(L−1)``, ``q_b = b/(|B|−1)``, ``p_a = price_max·(a+1)/|A|``.

Linear (Assumption 2) with ``d = 7``. The next state comes from one of four regimes, (high, low
demand) × (charged, depleted store), with probabilities ``ψ(x,a,b) ∈ Δ⁴``: high demand with
``w_D = (1 + δ_D − q_b)/2``, a charged store with ``w_S = 1/4 + (σ_s − min(q_b, σ_s))/(2·storage)``
(``1/4`` without storage), independently. Regime ``i`` draws ``x'`` from ``ν_{h,i}``, a product of
a demand distribution (around the hour's profile, peaking at 19:00) and a storage one (solar
recharge peaking at 13:00), each 20% mixed with seeded Dirichlet noise (the ``seed`` is the
weather). ``φ = [ψ/√2 ; (U/U_max, p·q/p_max, C/C_max)/√6]``, ``μ_h(x') = [√2·ν_{h,i}(x')]_i`` on
the first block and ``0`` on the second, ``θ_{l,h} = √6·(0, 0, 0, 0, U_max, 0, −κ_h C_max)/R``,
``θ_{f,h} = √6·(0, 0, 0, 0, U_max, −p_max, 0)/R`` with ``R`` (``game.payoff_scale``) the largest
absolute raw reward, so rewards lie in ``[-1, 1]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._params import checked, param
from .base import FiniteGame
from .registry import register

DENSE_ENTRIES = 5_000_000
"""The dense model (``H·S·A·B·S`` entries) is also given, and checked, up to this size."""

N_REGIMES = 4
"""(high, low demand) × (charged, depleted store)."""


@dataclass(frozen=True)
class ElectricityParams:
    """Parameters of ``electricity``."""

    hours: int = param(6, "H, hours in an episode (one step per hour).", ge=1)
    start_hour: int = param(
        16,
        "Clock hour of step 0, in 0..23 (the default episode covers the 19:00 peak).",
        ge=0,
        le=23,
    )
    levels: int = param(3, "L, demand levels and storage levels: S = L².", ge=1)
    n_prices: int = param(3, "|A|, price levels the utility can post: price_max·(a+1)/|A|.", ge=1)
    n_consumption: int = param(
        3, "|B| >= 2, consumption choices b/(|B|-1), from nothing to one unit.", ge=2
    )
    price_max: float = param(1.0, "The highest price, > 0, per unit of consumption.", gt=0.0)
    utility: float = param(
        2.0,
        "Consumers' marginal utility v > 0 of the first unit (concave, saturating at the demand).",
        gt=0.0,
    )
    cost_linear: float = param(0.2, "c₁ >= 0 of the generation cost c₁·g + c₂·g².", ge=0.0)
    cost_quadratic: float = param(0.8, "c₂ >= 0 of the generation cost (its convexity).", ge=0.0)
    peak_cost: float = param(
        1.0,
        "Extra cost at the evening peak, >= 0: the cost is multiplied by 1 + peak_cost at 19:00.",
        ge=0.0,
    )
    storage: float = param(
        0.5, "Capacity of the store in [0, 1], in units of the largest consumption.", ge=0.0, le=1.0
    )
    seed: int = param(
        0, "Seed of the weather: the noise in the regimes' next-state distributions.", ge=0
    )


def _electricity_bytes(p: ElectricityParams) -> int:
    """Features ``(S, A, B, 7)``, ``mu (H, 7, S)``, and the dense model when it is given."""
    S, A, B, H = p.levels**2, p.n_prices, p.n_consumption, p.hours
    dense = H * S * A * B * S if H * S * A * B * S <= DENSE_ENTRIES else 0
    return 8 * (2 * S * A * B * 7 + H * 7 * S + 2 * dense + 2 * H * S * A * B)


def _cosine_bump(clock_hour: float, peak: float) -> float:
    """``max(0, cos(2π(t − peak)/24))``: 1 at the peak hour, 0 beyond six hours from it."""
    return max(0.0, math.cos(2 * math.pi * (clock_hour - peak) / 24))


def _level_distribution(levels: int, centre: float) -> np.ndarray:
    """A discretised bell ``(L,)`` over levels ``0..L-1`` centred at ``centre``."""
    if levels == 1:
        return np.ones(1)
    width = (levels - 1) / 3
    p = np.exp(-0.5 * ((np.arange(levels) - centre) / width) ** 2)
    return p / p.sum()


def regime_distributions(
    hours: int, start_hour: int, levels: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``nu_demand (H, 2, L)`` (high, low) and ``nu_storage (H, 2, L)`` (charged, depleted).

    The regime ``(j, k)`` draws ``(D', s')`` from ``nu_demand[h, j] ⊗ nu_storage[h, k]``.
    """
    rng = np.random.default_rng(seed)
    top = levels - 1
    nu_demand, nu_storage = np.empty((2, hours, 2, levels))
    for h in range(hours):
        clock = (start_hour + h) % 24
        profile = 0.5 + 0.35 * math.cos(2 * math.pi * (clock - 19) / 24)
        sun = _cosine_bump(clock, 13)
        centres = [
            (nu_demand, top * min(1.0, profile + 0.3)),
            (nu_demand, top * max(0.0, profile - 0.3)),
            (nu_storage, top * (0.6 + 0.4 * sun)),
            (nu_storage, top * 0.4 * sun),
        ]
        for i, (nu, centre) in enumerate(centres):
            noise = rng.dirichlet(np.ones(levels))
            nu[h, i % 2] = 0.8 * _level_distribution(levels, centre) + 0.2 * noise
    return nu_demand, nu_storage


@register("electricity", ElectricityParams, nbytes=_electricity_bytes)
def electricity_game(**params) -> FiniteGame:
    """An electricity market: a utility prices each hour, consumers choose their consumption.

    Built as the module's docstring says, factored and, up to :data:`DENSE_ENTRIES` entries, dense
    too (the game checks its own linearity); keeps ``game.payoff_scale = R``.
    """
    p = checked(ElectricityParams, **params)
    H, L, A, B, storage = p.hours, p.levels, p.n_prices, p.n_consumption, p.storage
    S = L * L
    demand = (np.arange(L) + 1) / L  # δ_D
    stored = storage * np.arange(L) / (L - 1) if L > 1 else np.zeros(1)  # σ_s
    consumption = np.arange(B) / (B - 1)  # q_b
    prices = p.price_max * (np.arange(A) + 1) / A  # p_a
    peak = np.array([1 + p.peak_cost * _cosine_bump((p.start_hour + h) % 24, 19) for h in range(H)])

    # Reward components on (D, s, a, b).
    served = np.minimum(consumption[None, :], demand[:, None])  # (L_D, B)
    value = p.utility * (served - served**2 / (2 * demand[:, None]))  # U (L_D, B)
    payment = prices[:, None] * consumption[None, :]  # p·q (A, B)
    generated = np.maximum(consumption[None, :] - stored[:, None], 0.0)  # g (L_s, B)
    cost = p.cost_linear * generated + p.cost_quadratic * generated**2  # C (L_s, B)
    U = np.broadcast_to(value[:, None, None, :], (L, L, A, B))
    pay = np.broadcast_to(payment[None, None], (L, L, A, B))
    C = np.broadcast_to(cost[None, :, None, :], (L, L, A, B))
    raw_follower = U - pay  # (L_D, L_s, A, B), the same every hour
    raw_leader = U[None] - peak[:, None, None, None, None] * C[None]  # (H, L_D, L_s, A, B)
    scale = float(max(np.abs(raw_follower).max(), np.abs(raw_leader).max()))
    rewards = np.stack([raw_leader, np.broadcast_to(raw_follower, raw_leader.shape)]) / scale

    # Regime probabilities ψ (S, A, B, 4): demand regime j, store regime k at index 2j + k.
    w_demand = (1 + demand[:, None] - consumption[None, :]) / 2  # (L_D, B)
    left = stored[:, None] - np.minimum(consumption[None, :], stored[:, None])  # 0 if no store
    w_store = 0.25 + left / (2 * storage or 1.0)  # (L_s, B)
    wD = np.stack([w_demand, 1 - w_demand], axis=-1)[:, None, None, :, :, None]  # D,.,.,b,j,.
    wS = np.stack([w_store, 1 - w_store], axis=-1)[None, :, None, :, None, :]  # .,s,.,b,.,k
    psi = np.broadcast_to(wD * wS, (L, L, A, B, 2, 2)).reshape(S, A, B, N_REGIMES)

    U_max, C_max = p.utility / 2, (p.cost_linear + p.cost_quadratic) or 1.0
    reward_features = np.stack([U / U_max, pay / p.price_max, C / C_max], axis=-1) / math.sqrt(6)
    features = np.concatenate([psi / math.sqrt(2), reward_features.reshape(S, A, B, 3)], axis=-1)
    d = N_REGIMES + 3

    nu_demand, nu_storage = regime_distributions(H, p.start_hour, L, p.seed)
    nu = np.einsum("hjD,hks->hjkDs", nu_demand, nu_storage).reshape(H, N_REGIMES, S)
    mu = np.zeros((H, d, S))
    mu[:, :N_REGIMES] = math.sqrt(2) * nu
    theta = np.zeros((2, H, d))
    theta[0, :, N_REGIMES] = theta[1, :, N_REGIMES] = U_max
    theta[0, :, N_REGIMES + 2] = -peak * C_max
    theta[1, :, N_REGIMES + 1] = -p.price_max
    theta *= math.sqrt(6) / scale

    dense = {}
    if H * S * A * B * S <= DENSE_ENTRIES:
        # P_h(D', s' | x, a, b), the product of the two marginals: built apart from φ·μ, so
        # that the game's linearity check compares two constructions.
        next_demand = np.einsum("Dbj,hjE->hDbE", wD.reshape(L, B, 2), nu_demand)
        next_store = np.einsum("sbk,hkt->hsbt", wS.reshape(L, B, 2), nu_storage)
        P = np.einsum("hDbE,hsbt->hDsbEt", next_demand, next_store).reshape(H, S, 1, B, S)
        dense = {
            "transitions": np.broadcast_to(P, (H, S, A, B, S)),
            "rewards": rewards.reshape(2, H, S, A, B),
        }
    game = FiniteGame(
        features,
        np.full(S, 1.0 / S),
        mu=mu,
        theta=theta,
        name=f"electricity(H={H},L={L},A={A},B={B})",
        **dense,
    )
    game.payoff_scale = scale
    return game
