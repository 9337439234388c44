"""A supply chain: a producer and ``N`` intermediaries price in turn (math.md §9), ``supply-chain``.

At each step the producer (player 0) sets its wholesale markup, then intermediary ``i`` sets its
markup seeing those before; the final price is their sum ``p``, consumers buy ``q = max(a − p, 0)``
and firm ``i`` earns its markup times ``q`` (costs 0), scaled by ``4/a_max²`` into ``[0, 1]``.
The demand level ``a`` is the state and moves between a few levels as a Markov chain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._params import checked, param
from .base import FiniteGame
from .registry import register


@dataclass(frozen=True)
class SupplyChainParams:
    """Parameters of ``supply-chain``."""

    n_followers: int = param(1, "N, the intermediaries pricing in turn after the producer.", ge=1)
    n_prices: int = param(9, "Markups on the grid 0, 1/(n-1), …, 1 for every firm.", ge=2)
    n_demand_levels: int = param(3, "Demand levels a, evenly from demand_low to 1.", ge=1)
    demand_low: float = param(0.5, "The lowest demand level, in (0, 1].", gt=0.0, le=1.0)
    persistence: float = param(0.8, "Probability that demand stays at its level.", ge=0.0, le=1.0)
    horizon: int = param(5, "H, steps per episode.", ge=1)


def _supply_chain_bytes(p: SupplyChainParams) -> int:
    """Features ``(S, n^(N+1), S·(N+2))``, twice (built, then validated)."""
    S = p.n_demand_levels
    return 16 * S * p.n_prices ** (p.n_followers + 1) * S * (p.n_followers + 2)


@register("supply-chain", SupplyChainParams, nbytes=_supply_chain_bytes)
def supply_chain(**params) -> FiniteGame:
    """A producer and N intermediaries set markups in turn; demand is linear in the final price.

    With demand ``q = a − p`` and no costs, the Stackelberg solution on a continuum of prices is
    multiple marginalisation (Spengler 1950, J. Political Economy 58(4); for a chain of ``N+1``
    firms e.g. Tirole 1988, *The Theory of Industrial Organization*, §4.2): firm ``i``'s markup
    ``a/2^(i+1)``, final price ``a(1 − 1/2^(N+1))``, quantity ``a/2^(N+1)``. On the grid of
    markups the solution approaches it as the grid is refined.

    The game is linear with ``d = S·(N+2)``: ``phi(x, m) = e_x ⊗ (1, r_0(x, m), …, r_N(x, m))/√2``
    with ``r_i = 4 m_i max(a_x − Σ m_j, 0)`` (``Σ_i r_i ≤ 1``, so ``‖phi‖ ≤ 1``).
    """
    p = checked(SupplyChainParams, **params)
    S, N, H, n = p.n_demand_levels, p.n_followers, p.horizon, p.n_prices
    levels = np.linspace(p.demand_low, 1.0, S) if S > 1 else np.ones(1)
    grid = np.linspace(0.0, 1.0, n)
    markups = np.meshgrid(*([grid] * (N + 1)), indexing="ij")  # N+1 arrays (n, …, n)
    quantity = np.maximum(levels.reshape(S, *(1,) * (N + 1)) - sum(markups), 0.0)
    rewards = np.stack([4.0 * m * quantity for m in markups], axis=-1)  # (S, n, …, n, 1+N)
    features = np.zeros((S, *(n,) * (N + 1), S, N + 2))
    for x in range(S):
        features[x, ..., x, 0] = 1.0
        features[x, ..., x, 1:] = rewards[x]
    features = features.reshape(*features.shape[:-2], S * (N + 2)) / np.sqrt(2.0)
    stay = np.full((S, S), (1.0 - p.persistence) / max(S - 1, 1))
    np.fill_diagonal(stay, p.persistence if S > 1 else 1.0)
    mu = np.zeros((H, S, N + 2, S))
    mu[:, :, 0, :] = np.sqrt(2.0) * stay
    theta = np.zeros((1 + N, H, S, N + 2))
    theta[np.arange(1 + N), :, :, 1 + np.arange(1 + N)] = np.sqrt(2.0)  # player i's own profit
    return FiniteGame(
        features,
        np.full(S, 1.0 / S),
        mu=mu.reshape(H, S * (N + 2), S),
        theta=theta.reshape(1 + N, H, S * (N + 2)),
        name=f"supply-chain(N={N},prices={n},levels={S},H={H})",
    )
