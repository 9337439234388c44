"""Generated games: random linear games in factored form, tabular and random tabular games.

Both random games are registered (``random-linear``, ``random-tabular``); their defaults make the
demo's small instance (``S = 20``, ``A = B = 3``, ``H = 5``, and ``d = 8`` for the linear one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import array, real
from ._params import sizes
from .base import FiniteGame
from .registry import register


@dataclass(frozen=True)
class RandomLinearParams:
    """Parameters of ``random-linear``."""

    n_states: int = 20
    """|S|, the number of states."""
    n_leader_actions: int = 3
    """|A|, the leader's actions."""
    n_follower_actions: int = 3
    """|B|, the follower's actions."""
    dim: int = 8
    """d, the feature dimension."""
    horizon: int = 5
    """H, steps per episode."""
    seed: int = 0
    """Seed of the game's arrays (not of the players or of the episodes)."""
    concentration: float = 1.0
    """Dirichlet parameter of the features; small values give nearly one-hot features."""
    reward_noise: float = 0.0
    """Half-width of the uniform noise on realised rewards, in [0, 1]."""


def _random_linear_bytes(p: RandomLinearParams) -> int:
    """Features ``(S, A, B, d)`` twice (drawn, then validated) and ``mu (H, d, S)``."""
    S, A, B, d, H = p.n_states, p.n_leader_actions, p.n_follower_actions, p.dim, p.horizon
    return 8 * (2 * S * A * B * d + H * d * S)


@register("random-linear", RandomLinearParams, nbytes=_random_linear_bytes)
def random_linear(
    n_states: int,
    n_leader_actions: int,
    n_follower_actions: int,
    dim: int,
    horizon: int,
    seed: int | np.random.SeedSequence = 0,
    *,
    concentration: float = 1.0,
    reward_noise: float = 0.0,
) -> FiniteGame:
    """A random linear game in factored form: simplex features, mixture transitions.

    Features lie on the probability simplex (so ``‖phi‖₂ <= 1`` and ``phi >= 0``); each of the
    ``d`` measures ``mu_h^i`` is a distribution over states, so ``P_h(·|x,a,b)`` is a mixture of
    them; ``theta`` lies in ``[-1, 1]^d`` so mean rewards are convex combinations in ``[-1, 1]``.

    Args:
        n_states, n_leader_actions, n_follower_actions, dim, horizon: ``S, A, B, d, H``.
        seed: an integer or a ``SeedSequence``.
        concentration: Dirichlet parameter of the features; small values give near one-hot ones.
        reward_noise: see :class:`FiniteGame`.
    """
    S, A, B, d, H = sizes(
        n_states=n_states,
        n_leader_actions=n_leader_actions,
        n_follower_actions=n_follower_actions,
        dim=dim,
        horizon=horizon,
    )
    concentration = real(concentration, "concentration", low=0.0, low_open=True)
    rng = np.random.default_rng(seed)
    features = rng.dirichlet(np.full(d, concentration), size=(S, A, B))
    # Sparse-ish measures: each mu_h^i puts its mass on a few states, so dynamics are not trivial.
    mu = rng.dirichlet(np.full(S, 1.0 / max(1.0, np.sqrt(S))), size=(H, d)).astype(np.float64)
    theta = rng.uniform(-1.0, 1.0, size=(FiniteGame.n_players, H, d))
    return FiniteGame(
        features,
        np.full(S, 1.0 / S),
        mu=mu,
        theta=theta,
        reward_noise=reward_noise,
        name=f"random-linear(S={S},A={A},B={B},d={d},H={H})",
    )


def one_hot_features(n_states: int, n_leader_actions: int, n_follower_actions: int) -> np.ndarray:
    """Tabular features ``(S, A, B, S·A·B)``: ``phi(x,a,b)`` is the indicator of ``(x,a,b)``."""
    S, A, B = n_states, n_leader_actions, n_follower_actions
    return np.eye(S * A * B).reshape(S, A, B, S * A * B)


def tabular(
    transitions: np.ndarray,
    rewards: np.ndarray,
    initial_distribution: np.ndarray | None = None,
    *,
    reward_noise: float = 0.0,
    name: str = "tabular",
) -> FiniteGame:
    """A tabular game (one-hot features, ``d = S·A·B``) from a dense model.

    Args:
        transitions: ``(H, S, A, B, S)``.
        rewards: ``(2, H, S, A, B)``.
        initial_distribution: ``(S,)``; defaults to state 0.
        reward_noise: see :class:`FiniteGame`.
        name: a label.
    """
    axes = ("H", "S", "A", "B", "S")
    transitions = array(transitions, "transitions", shape=(None,) * 5, axes=axes)
    _, S, A, B, _ = transitions.shape
    if initial_distribution is None:
        initial_distribution = np.eye(S)[0]
    return FiniteGame(
        one_hot_features(S, A, B),
        initial_distribution,
        transitions=transitions,
        rewards=rewards,
        reward_noise=reward_noise,
        name=name,
    )


@dataclass(frozen=True)
class RandomTabularParams:
    """Parameters of ``random-tabular`` (one-hot features: ``d = |S||A||B|``)."""

    n_states: int = 20
    """|S|, the number of states."""
    n_leader_actions: int = 3
    """|A|, the leader's actions."""
    n_follower_actions: int = 3
    """|B|, the follower's actions."""
    horizon: int = 5
    """H, steps per episode."""
    seed: int = 0
    """Seed of the game's arrays (not of the players or of the episodes)."""
    reward_noise: float = 0.0
    """Half-width of the uniform noise on realised rewards, in [0, 1]."""


def _random_tabular_bytes(p: RandomTabularParams) -> int:
    """Transitions ``(H, S, A, B, S)``, rewards, and one-hot features ``(S, A, B, S·A·B)``."""
    S, A, B, H = p.n_states, p.n_leader_actions, p.n_follower_actions, p.horizon
    return 8 * (H * S * A * B * S + 2 * H * S * A * B + (S * A * B) ** 2)


@register("random-tabular", RandomTabularParams, nbytes=_random_tabular_bytes)
def random_tabular(
    n_states: int,
    n_leader_actions: int,
    n_follower_actions: int,
    horizon: int,
    seed: int | np.random.SeedSequence = 0,
    *,
    reward_noise: float = 0.0,
) -> FiniteGame:
    """A random tabular game: Dirichlet transitions, uniform rewards in ``[-1, 1]``."""
    S, A, B, H = sizes(
        n_states=n_states,
        n_leader_actions=n_leader_actions,
        n_follower_actions=n_follower_actions,
        horizon=horizon,
    )
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(H, S, A, B))
    r = rng.uniform(-1.0, 1.0, size=(FiniteGame.n_players, H, S, A, B))
    return tabular(
        P,
        r,
        np.full(S, 1.0 / S),
        reward_noise=reward_noise,
        name=f"random-tabular(S={S},A={A},B={B},H={H})",
    )
