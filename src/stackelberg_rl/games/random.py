"""Generated games: random linear games in factored form, tabular and random tabular games.

Both random games are registered (``random-linear``, ``random-tabular``); their defaults make the
demo's small instance (``S = 20``, ``A = B = 3``, ``H = 5``, and ``d = 8`` for the linear one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import array
from ._params import checked, param
from .base import FiniteGame
from .registry import register

_SEED = "Seed of the game's arrays (not of the players or of the episodes)."
_NOISE = "Half-width of the uniform noise on realised rewards, in [0, 1]."


@dataclass(frozen=True)
class RandomLinearParams:
    """Parameters of ``random-linear``."""

    n_states: int = param(20, "|S|, the number of states.", ge=1)
    n_leader_actions: int = param(3, "|A|, the leader's actions.", ge=1)
    n_follower_actions: int = param(3, "|B|, the follower's actions.", ge=1)
    dim: int = param(8, "d, the feature dimension.", ge=1)
    horizon: int = param(5, "H, steps per episode.", ge=1)
    seed: int = param(0, _SEED)
    concentration: float = param(
        1.0,
        "Dirichlet parameter of the features; small values give nearly one-hot features.",
        gt=0.0,
    )
    reward_noise: float = param(0.0, _NOISE)


def _random_linear_bytes(p: RandomLinearParams) -> int:
    """Features ``(S, A, B, d)`` twice (drawn, then validated) and ``mu (H, d, S)``."""
    S, A, B, d, H = p.n_states, p.n_leader_actions, p.n_follower_actions, p.dim, p.horizon
    return 8 * (2 * S * A * B * d + H * d * S)


@register("random-linear", RandomLinearParams, nbytes=_random_linear_bytes)
def random_linear(*args, **params) -> FiniteGame:
    """A random linear game in factored form: simplex features, mixture transitions.

    Features lie on the probability simplex (so ``‖phi‖₂ <= 1`` and ``phi >= 0``); each of the
    ``d`` measures ``mu_h^i`` is a distribution over states, so ``P_h(·|x,a,b)`` is a mixture of
    them; ``theta`` lies in ``[-1, 1]^d`` so mean rewards are convex combinations in ``[-1, 1]``.

    ``args`` and ``params`` are the fields of :class:`RandomLinearParams` (in order: ``S, A, B,
    d, H, seed``; the seed may be a ``SeedSequence``).
    """
    p = checked(RandomLinearParams, *args, **params)
    S, A, B, d, H = p.n_states, p.n_leader_actions, p.n_follower_actions, p.dim, p.horizon
    rng = np.random.default_rng(p.seed)
    features = rng.dirichlet(np.full(d, p.concentration), size=(S, A, B))
    # Sparse-ish measures: each mu_h^i puts its mass on a few states, so dynamics are not trivial.
    mu = rng.dirichlet(np.full(S, 1.0 / max(1.0, np.sqrt(S))), size=(H, d))
    theta = rng.uniform(-1.0, 1.0, size=(FiniteGame.n_players, H, d))
    return FiniteGame(
        features,
        np.full(S, 1.0 / S),
        mu=mu,
        theta=theta,
        reward_noise=p.reward_noise,
        name=f"random-linear(S={S},A={A},B={B},d={d},H={H})",
    )


def one_hot_features(n_states: int, n_leader_actions: int, n_follower_actions: int) -> np.ndarray:
    """Tabular features ``(S, A, B, S·A·B)``: ``phi(x,a,b)`` is the indicator of ``(x,a,b)``."""
    n = n_states * n_leader_actions * n_follower_actions
    return np.eye(n).reshape(n_states, n_leader_actions, n_follower_actions, n)


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
    return FiniteGame(
        one_hot_features(S, A, B),
        np.eye(S)[0] if initial_distribution is None else initial_distribution,
        transitions=transitions,
        rewards=rewards,
        reward_noise=reward_noise,
        name=name,
    )


@dataclass(frozen=True)
class RandomTabularParams:
    """Parameters of ``random-tabular`` (one-hot features: ``d = |S||A||B|``)."""

    n_states: int = param(20, "|S|, the number of states.", ge=1)
    n_leader_actions: int = param(3, "|A|, the leader's actions.", ge=1)
    n_follower_actions: int = param(3, "|B|, the follower's actions.", ge=1)
    horizon: int = param(5, "H, steps per episode.", ge=1)
    seed: int = param(0, _SEED)
    reward_noise: float = param(0.0, _NOISE)


def _random_tabular_bytes(p: RandomTabularParams) -> int:
    """Transitions ``(H, S, A, B, S)``, rewards, and one-hot features ``(S, A, B, S·A·B)``."""
    S, A, B, H = p.n_states, p.n_leader_actions, p.n_follower_actions, p.horizon
    return 8 * (H * S * A * B * S + 2 * H * S * A * B + (S * A * B) ** 2)


@register("random-tabular", RandomTabularParams, nbytes=_random_tabular_bytes)
def random_tabular(*args, **params) -> FiniteGame:
    """A random tabular game: Dirichlet transitions, uniform rewards in ``[-1, 1]``.

    ``args`` and ``params`` are the fields of :class:`RandomTabularParams`, in order.
    """
    p = checked(RandomTabularParams, *args, **params)
    S, A, B, H = p.n_states, p.n_leader_actions, p.n_follower_actions, p.horizon
    rng = np.random.default_rng(p.seed)
    P = rng.dirichlet(np.ones(S), size=(H, S, A, B))
    r = rng.uniform(-1.0, 1.0, size=(FiniteGame.n_players, H, S, A, B))
    name = f"random-tabular(S={S},A={A},B={B},H={H})"
    return tabular(P, r, np.full(S, 1.0 / S), reward_noise=p.reward_noise, name=name)
