"""Exact planning on a known finite game (SPEC §2): values, best responses, Stackelberg, regret.

Every function is one backward pass over ``h = H-1 … 0`` and vectorised over states and actions:
the cost is ``O(H·S·A·B·d)`` for a factored game and ``O(H·S²·A·B)`` for a dense one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .functional import greedy, marginalise
from .games import PROB_TOL, FiniteGame


@dataclass(frozen=True)
class Values:
    """Values of a pair of policies in a finite game.

    Attributes:
        Q: ``(2, H, S, A, B)`` action values ``Q_{m,h}(x, a, b)``.
        q_l: ``(H, S, A)`` the leader's marginal ``q_{l,h}(x, a)``, eq. (1).
        vbar_f: ``(H, S, A)`` the follower's ``V̄_{f,h}(x, a)``, eq. (3).
        V: ``(2, H, S)`` state values ``V_{m,h}(x)``, eqs. (2) and (4).
    """

    Q: np.ndarray
    q_l: np.ndarray
    vbar_f: np.ndarray
    V: np.ndarray


# A step rule maps (h, Q_h (2,S,A,B)) to the follower's then the leader's policy at step h.
FollowerRule = Callable[[int, np.ndarray], np.ndarray]
LeaderRule = Callable[[int, np.ndarray], np.ndarray]


def _backward(
    game: FiniteGame, follower_rule: FollowerRule, leader_rule: LeaderRule
) -> tuple[np.ndarray, np.ndarray, Values]:
    """Backward induction with ``V_{m,H} = 0``; the rules choose the policies step by step."""
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    Q = np.empty((2, H, S, A, B))
    q_l = np.empty((H, S, A))
    vbar_f = np.empty((H, S, A))
    V = np.empty((2, H, S))
    pi_l = np.empty((H, S, A))
    pi_f = np.empty((H, S, A, B))
    V_next = np.zeros((2, S))
    for h in range(H - 1, -1, -1):
        Qh = game.reward(h) + game.expected_next(h, V_next) if h < H - 1 else game.reward(h).copy()
        Q[:, h] = Qh
        Qs = np.moveaxis(Qh, 0, 1)  # (S, 2, A, B)
        pi_f[h] = follower_rule(h, Qs)
        q = np.einsum("smab,sab->sma", Qs, pi_f[h])
        pi_l[h] = leader_rule(h, q[:, 0])
        q_l[h], vbar_f[h], Vh = marginalise(Qs, pi_l[h], pi_f[h])
        V[:, h] = V_next = Vh.T
    return pi_l, pi_f, Values(Q=Q, q_l=q_l, vbar_f=vbar_f, V=V)


def check_policies(game: FiniteGame, pi_l: np.ndarray | None, pi_f: np.ndarray | None) -> None:
    """Raise :class:`ValueError` unless the policies have the game's shapes and are distributions.

    Args:
        game: the game.
        pi_l: ``(H, S, A)`` or ``None`` to skip.
        pi_f: ``(H, S, A, B)`` or ``None`` to skip.
    """
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    for name, pi, shape, axes in [
        ("pi_l", pi_l, (H, S, A), "(h, x)"),
        ("pi_f", pi_f, (H, S, A, B), "(h, x, a)"),
    ]:
        if pi is None:
            continue
        if pi.shape != shape:
            raise ValueError(f"{name} has shape {pi.shape}, expected {shape}")
        bad = ~np.isfinite(pi)
        if bad.any():
            idx = tuple(int(i) for i in np.unravel_index(np.argmax(bad), pi.shape))
            raise ValueError(f"{name} has a non-finite entry at index {idx}")
        if (pi < -PROB_TOL).any():
            idx = tuple(int(i) for i in np.unravel_index(np.argmin(pi), pi.shape))
            raise ValueError(f"{name} has a negative probability at index {idx}")
        err = np.abs(pi.sum(axis=-1) - 1.0)
        if (err > PROB_TOL).any():
            idx = tuple(int(i) for i in np.unravel_index(np.argmax(err), err.shape))
            raise ValueError(f"{name} does not sum to 1 at index {idx} {axes}")


def evaluate(game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray) -> Values:
    """Exact values of the policies ``pi_l (H, S, A)`` and ``pi_f (H, S, A, B)``.

    >>> from stackelberg_rl.games import random_linear
    >>> g = random_linear(4, 2, 2, 3, 2, seed=1)
    >>> pi_l, pi_f = np.full((2, 4, 2), 0.5), np.full((2, 4, 2, 2), 0.5)
    >>> evaluate(g, pi_l, pi_f).V.shape
    (2, 2, 4)
    """
    pi_l, pi_f = np.asarray(pi_l, dtype=np.float64), np.asarray(pi_f, dtype=np.float64)
    check_policies(game, pi_l, pi_f)
    _, _, values = _backward(game, lambda h, Qs: pi_f[h], lambda h, q: pi_l[h])
    return values


def leader_best_response(game: FiniteGame, pi_f: np.ndarray) -> tuple[np.ndarray, Values]:
    """The leader's best response to ``pi_f``: greedy in ``q_l`` at every step, eq. (8).

    Returns:
        A deterministic ``pi_l (H, S, A)`` (first maximiser on ties) and its values.
    """
    pi_f = np.asarray(pi_f, dtype=np.float64)
    check_policies(game, None, pi_f)
    pi_l, _, values = _backward(game, lambda h, Qs: pi_f[h], lambda h, q: greedy(q))
    return pi_l, values


def follower_best_response(game: FiniteGame, pi_l: np.ndarray) -> tuple[np.ndarray, Values]:
    """The follower's best response to ``pi_l``: greedy in ``Q_f`` for every ``a``, eq. (7).

    Returns:
        A deterministic ``pi_f (H, S, A, B)`` (first maximiser on ties) and its values.
    """
    pi_l = np.asarray(pi_l, dtype=np.float64)
    check_policies(game, pi_l, None)
    _, pi_f, values = _backward(game, lambda h, Qs: greedy(Qs[:, 1]), lambda h, q: pi_l[h])
    return pi_f, values


def stackelberg_equilibrium(
    game: FiniteGame,
    tie_break: Literal["leader", "follower"] = "leader",
    tol: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray, Values]:
    """The subgame-perfect Stackelberg solution by backward induction (SPEC §2).

    At each ``(h, x)`` the follower best-responds to every ``a``; among its maximisers (within
    ``tol``) it picks the one best for the leader (``"leader"``, strong Stackelberg) or worst for
    the leader (``"follower"``, weak); the leader then picks ``argmax_a Q_l(x, a, b*(x, a))``.

    Returns:
        Deterministic ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)`` and their values.
    """
    if tie_break not in ("leader", "follower"):
        raise ValueError(f"tie_break must be 'leader' or 'follower', got {tie_break!r}")
    sign = 1.0 if tie_break == "leader" else -1.0

    def follower_rule(h: int, Qs: np.ndarray) -> np.ndarray:
        Q_l, Q_f = Qs[:, 0], Qs[:, 1]
        best = Q_f >= Q_f.max(axis=-1, keepdims=True) - tol
        return greedy(np.where(best, sign * Q_l, -np.inf))

    pi_l, pi_f, values = _backward(game, follower_rule, lambda h, q: greedy(q))
    return pi_l, pi_f, values


def regret(
    game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray, x1: int, a1: int
) -> tuple[float, float]:
    """Both players' exact regret of one episode, eqs. (9) and (10) (SPEC §2).

    Args:
        game: the game.
        pi_l: ``(H, S, A)`` the leader's policy in the episode.
        pi_f: ``(H, S, A, B)`` the follower's policy in the episode.
        x1: the realised initial state.
        a1: the leader's realised first action.

    Returns:
        ``(V_{l,0}^{BR_l(pi_f), pi_f}(x1) − V_{l,0}^{pi_l, pi_f}(x1),
        V̄_{f,0}^{pi_l, BR_f(pi_l)}(x1, a1) − V̄_{f,0}^{pi_l, pi_f}(x1, a1))``.
    """
    r = regrets(game, pi_l, pi_f, np.array([x1]), np.array([a1]))[:, 0]
    return float(r[0]), float(r[1])


def regrets(
    game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray, x1: np.ndarray, a1: np.ndarray
) -> np.ndarray:
    """:func:`regret` at several ``(x1, a1)`` pairs with one set of backward passes: ``(2, n)``."""
    values = evaluate(game, pi_l, pi_f)
    _, best_l = leader_best_response(game, pi_f)
    _, best_f = follower_best_response(game, pi_l)
    x1, a1 = np.asarray(x1, dtype=np.intp), np.asarray(a1, dtype=np.intp)
    leader = best_l.V[0, 0, x1] - values.V[0, 0, x1]
    follower = best_f.vbar_f[0, x1, a1] - values.vbar_f[0, x1, a1]
    return np.stack([leader, follower])
