"""Random games (``random-linear``, ``random-tabular``) and tabular games.

The defaults are the demo's instance (``S = 20``, ``A = B = 3``, ``H = 5``); ``N`` followers have
``B`` actions each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import array
from ._params import checked, param
from .base import FiniteGame, action_axes
from .registry import register

_SEED = "Seed of the game's arrays (not of the players or of the episodes)."
_NOISE = "Half-width of the uniform noise on realised rewards, in [0, 1]."
_FOLLOWERS = "N, the followers moving in order after the leader."


@dataclass(frozen=True)
class RandomLinearParams:
    """Parameters of ``random-linear``."""

    n_states: int = param(20, "|S|, the number of states.", ge=1)
    n_leader_actions: int = param(3, "|A|, the leader's actions.", ge=1)
    n_follower_actions: int = param(3, "|B|, the follower's actions.", ge=1)
    dim: int = param(8, "d, the feature dimension.", ge=1)
    horizon: int = param(5, "H, steps per episode.", ge=1)
    seed: int = param(0, _SEED, ge=0)
    concentration: float = param(
        1.0,
        "Dirichlet parameter of the features; small values give nearly one-hot features.",
        gt=0.0,
    )
    reward_noise: float = param(0.0, _NOISE, ge=0.0, le=1.0)
    n_followers: int = param(1, _FOLLOWERS, ge=1)


def _action_counts(p: RandomLinearParams | RandomTabularParams) -> tuple[int, ...]:
    return (p.n_leader_actions,) + (p.n_follower_actions,) * p.n_followers


def _label(p: RandomLinearParams | RandomTabularParams) -> str:
    more = "" if p.n_followers == 1 else f",N={p.n_followers}"
    return f"S={p.n_states},A={p.n_leader_actions},B={p.n_follower_actions}{more}"


def _random_linear_bytes(p: RandomLinearParams) -> int:
    """Features ``(S, A_0, …, A_N, d)`` twice (drawn, then validated) and ``mu (H, d, S)``."""
    S, d, H = p.n_states, p.dim, p.horizon
    return 8 * (2 * S * math.prod(_action_counts(p)) * d + H * d * S)


@register("random-linear", RandomLinearParams, nbytes=_random_linear_bytes)
def random_linear(*args, **params) -> FiniteGame:
    """A random linear game in factored form: simplex features, mixture transitions.

    Features are Dirichlet draws on the simplex, each ``mu_h^i`` a distribution over states (so
    ``P_h(·|x,a,b)`` is their mixture), ``theta ~ U([-1, 1]^d)``. ``args`` and ``params`` are the
    fields of :class:`RandomLinearParams` in order (the seed may be a ``SeedSequence``).

    >>> random_linear(n_followers=2, n_states=6, seed=0).features.shape
    (6, 3, 3, 3, 8)
    """
    p = checked(RandomLinearParams, *args, **params)
    S, d, H = p.n_states, p.dim, p.horizon
    rng = np.random.default_rng(p.seed)
    features = rng.dirichlet(np.full(d, p.concentration), size=(S, *_action_counts(p)))
    # Sparse-ish measures: each mu_h^i puts its mass on a few states, so dynamics are not trivial.
    mu = rng.dirichlet(np.full(S, 1.0 / max(1.0, np.sqrt(S))), size=(H, d))
    theta = rng.uniform(-1.0, 1.0, size=(1 + p.n_followers, H, d))
    return FiniteGame(
        features,
        np.full(S, 1.0 / S),
        mu=mu,
        theta=theta,
        reward_noise=p.reward_noise,
        name=f"random-linear({_label(p)},d={d},H={H})",
    )


def one_hot_features(n_states: int, *action_counts: int) -> np.ndarray:
    """One-hot features ``(S, A_0, …, A_N, S·∏A_i)``: ``phi(x,a,b)`` indicates ``(x,a,b)``."""
    n = n_states * math.prod(action_counts)
    return np.eye(n).reshape(n_states, *action_counts, n)


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
        transitions: ``(H, S, A, B, S)``, or ``(H, S, A_0, …, A_N, S)``.
        rewards: ``(1+N, H, S, A, B)``.
        initial_distribution: ``(S,)``; defaults to state 0.
        reward_noise: see :class:`FiniteGame`.
        name: a label.
    """
    ndim = max(np.ndim(transitions), 5)
    axes = ("H", "S", *action_axes(ndim - 3), "S")
    # As given (dtype=None): the game checks the sums with its dtype's tolerance.
    transitions = array(transitions, "transitions", shape=(None,) * ndim, axes=axes, dtype=None)
    _, S, *counts, _ = transitions.shape
    return FiniteGame(
        one_hot_features(S, *counts),
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
    seed: int = param(0, _SEED, ge=0)
    reward_noise: float = param(0.0, _NOISE, ge=0.0, le=1.0)
    n_followers: int = param(1, _FOLLOWERS, ge=1)


def _random_tabular_bytes(p: RandomTabularParams) -> int:
    """Transitions ``(H, S, A, B, S)``, rewards, and one-hot features ``(S, A, B, S·A·B)``."""
    S, H, n = p.n_states, p.horizon, p.n_states * math.prod(_action_counts(p))
    return 8 * (H * n * S + (1 + p.n_followers) * H * n + n**2)


@register("random-tabular", RandomTabularParams, nbytes=_random_tabular_bytes)
def random_tabular(*args, **params) -> FiniteGame:
    """A random tabular game: Dirichlet transitions, uniform rewards in ``[-1, 1]``.

    ``args`` and ``params`` are the fields of :class:`RandomTabularParams`, in order.
    """
    p = checked(RandomTabularParams, *args, **params)
    S, H, counts = p.n_states, p.horizon, _action_counts(p)
    rng = np.random.default_rng(p.seed)
    P = rng.dirichlet(np.ones(S), size=(H, S, *counts))
    r = rng.uniform(-1.0, 1.0, size=(1 + p.n_followers, H, S, *counts))
    name = f"random-tabular({_label(p)},H={H})"
    return tabular(P, r, np.full(S, 1.0 / S), reward_noise=p.reward_noise, name=name)
