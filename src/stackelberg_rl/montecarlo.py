"""Planning on a continuous linear game by Monte Carlo (math.md §6): regret and Stackelberg values.

``w_{m,h} = θ_{m,h} + ∫ μ_h(x') V_{m,h+1}(x')``, each integral estimated without bias from the
game's evaluation sample; backward induction uses :mod:`.planning`'s steps. ``R`` replications
give a mean and a 95% Student-t interval. A best response's value is biased up by ``O(1/√N)``
(``E max ≥ max E``): the regret is consistent and never negative.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import _validate
from .games.continuous import ContinuousGame, EvaluationSample
from .planning import collapse, policy_names, regret_at, regret_backup, stackelberg_rules

PolicyMap = Callable[[int, np.ndarray], np.ndarray]
"""A player's policy at step ``h`` at states given by their features ``phi (n, A, B, d)``:
``pi_l (n, A)`` for the leader, ``pi_f (n, A, B)`` for the follower."""


@dataclass(frozen=True)
class Estimate:
    """Monte-Carlo estimates from ``R`` independent replications (math.md §6).

    Attributes:
        mean: ``(...)`` the mean over the replications.
        half_width: ``(...)`` half-width of its 95% Student-t interval; NaN with one
            replication, zero for an exact quadrature.
        replications: ``(..., R)`` the replications' estimates.
    """

    mean: np.ndarray
    half_width: np.ndarray
    replications: np.ndarray


def t_half_width(values: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Half-width ``t_{(1+level)/2, R−1} · s / √R`` of the Student-t interval over the last axis.

    NaN where ``R < 2``; the package's one confidence interval (estimates, bands, slopes).
    ``level`` lies in ``(0, 1)`` (:class:`ValueError` otherwise).
    """
    level = _validate.confidence_level(level)
    values = np.asarray(values, dtype=np.float64)
    R = values.shape[-1]
    if R < 2:
        return np.full(values.shape[:-1], np.nan)[()]
    from scipy import special  # here: runs never need it, and it loads slowly

    sem = values.std(axis=-1, ddof=1) / np.sqrt(R)
    return special.stdtrit(R - 1, 0.5 + level / 2) * sem


def t_interval(replications: np.ndarray, exact: bool = False) -> Estimate:
    """The mean of ``replications (..., R)`` and its half-width (zero if ``exact``)."""
    mean = replications.mean(axis=-1)
    half = np.zeros_like(mean) if exact else t_half_width(replications)
    return Estimate(mean=mean, half_width=half, replications=replications)


def _continuous_game(game: ContinuousGame) -> ContinuousGame:
    """``game`` if it is a :class:`~.games.continuous.ContinuousGame`, else a ValueError."""
    kind = "a ContinuousGame (planning solves a finite game exactly)"
    return _validate.instance(game, ContinuousGame, "game", kind)


def _policies(maps: list[PolicyMap], h: int, phi: np.ndarray) -> list[np.ndarray]:
    """Every player's ``policy(h, phi)`` at ``phi (n, A, B, d)``, checked to be distributions."""
    out = []
    for m, name in enumerate(policy_names(2)):
        pi = np.asarray(maps[m](h, phi))  # distribution's tolerance suits its dtype
        axes = ("x", "a", "b")[: m + 2]
        _validate.check_shape(pi, name, phi.shape[: m + 2], axes)
        try:
            out.append(_validate.distribution(pi, name, axes))
        except ValueError as err:
            raise ValueError(f"{err} at step {h}") from None
    return out


def sampled_regrets(
    game: ContinuousGame,
    policy_l: PolicyMap,
    policy_f: PolicyMap,
    x1: np.ndarray,
    a1: int,
    sample: EvaluationSample | None = None,
) -> Estimate:
    """Both players' regret of one episode, eqs. (9) and (10), by planning on a sample.

    :func:`~.planning.player_regrets`' passes in every replication at once, at step ``h ≥ 1`` on
    the sample's states from ``μ_{h-1}``, at step 0 on ``x1 (2,)``; ``a1`` the leader's first
    action, ``sample`` by default the game's evaluation sample. Returns an :class:`Estimate`
    ``(2,)``, the leader's first.
    """
    game = _continuous_game(game)
    sample = game.evaluation if sample is None else sample
    H, A, B, d = game.horizon, game.n_leader_actions, game.n_follower_actions, game.dim
    R, N = sample.n_replications, sample.n_points
    a1 = _validate.index(a1, A, "a1")
    maps = [policy_l, policy_f]
    phi_1 = game.feature_map(np.asarray(x1, dtype=np.float64)[None])  # (1, A, B, d)
    V_next = None  # (R, 2, 2, d·N): the rows of values at the states of step h + 1
    for h in range(H - 1, -1, -1):
        W = np.broadcast_to(game.theta[:, h], (R, 2, 2, d))  # (R, row, m, d)
        if V_next is not None:  # w = θ + Σ_j ω_j V(x_j) for each component, eq. of §6
            integrals = np.einsum(
                "rvmij,rij->rvmi", V_next.reshape(R, 2, 2, d, N), sample.weights[:, h]
            )
            W = W + integrals
        if h > 0:
            phi = sample.features[:, h - 1]  # (R, d·N, A, B, d)
            policies = _policies(maps, h, phi.reshape(-1, A, B, d))
        else:  # one state, the same in every replication: its policy once
            phi = np.broadcast_to(phi_1, (R, 1, A, B, d))
            policies = [np.repeat(pi, R, axis=0) for pi in _policies(maps, 0, phi_1)]
        n = phi.shape[1]
        Q = np.einsum("rnabk,rvmk->vmrnab", phi, W).reshape(2, 2, R * n, A, B)
        V = np.empty((2, 2, R * n))
        nodes, best = regret_backup(Q, policies, out=V)
        V_next = V.reshape(2, 2, R, n).transpose(2, 0, 1, 3)
    # Step 0 holds one state per replication: state index r is replication r's x1.
    regrets = regret_at(nodes, best, np.arange(R), [np.full(R, a1)])  # (2, R)
    return t_interval(regrets, exact=sample.exact)


def sampled_stackelberg(
    game: ContinuousGame,
    sample: EvaluationSample | None = None,
    tie_break: Literal["leader", "follower"] = "leader",
    tol: float = 1e-9,
) -> tuple[np.ndarray, Estimate]:
    """The Stackelberg solution of the game planned on a sample (math.md §2 and §6).

    :func:`~.planning.stackelberg_equilibrium` in each replication; ``Q̂_{m,h}(x, a, b) = ⟨φ(x, a,
    b), w[r, m, h]⟩`` gives the policy at any state. ``sample``: by default the game's evaluation
    sample (its ``pooled()`` form: one best plan); ``tie_break``: ``"leader"`` (strong) or
    ``"follower"`` (weak), within ``tol``. Returns ``w (R, 2, H, d)`` and the :class:`Estimate`
    ``(2,)`` of ``E_{x_0}[V_{m,0}(x_0)]`` over the sample's initial states.
    """
    rules = stackelberg_rules(tie_break, tol)
    game = _continuous_game(game)
    sample = game.evaluation if sample is None else sample
    H, d = game.horizon, game.dim
    R, N = sample.n_replications, sample.n_points
    w = np.empty((R, 2, H, d))
    V_next = None  # (R, 2, n) both players' values at the states of step h + 1
    for h in range(H - 1, -1, -1):
        W = np.broadcast_to(game.theta[:, h], (R, 2, d))
        if V_next is not None:
            W = W + np.einsum("rmij,rij->rmi", V_next.reshape(R, 2, d, N), sample.weights[:, h])
        w[:, :, h] = W
        phi = sample.features[:, h - 1] if h > 0 else sample.initial_features
        Q = np.einsum("rnabk,rmk->mrnab", phi, W)  # (2, R, n, A, B)
        V_next = np.moveaxis(collapse(Q, rules)[1][0], 1, 0)  # (R, 2, n): V_m(x, a*, b*)
    values = np.einsum("rmn,rn->mr", V_next, sample.initial_weights)  # (2, R)
    return w, t_interval(values, exact=sample.exact)


def stackelberg_actions(
    Q: np.ndarray, tie_break: Literal["leader", "follower"] = "leader", tol: float = 1e-9
) -> tuple[np.ndarray, np.ndarray]:
    """The leader's ``a* (...)`` and the follower's ``b* (..., A)`` from ``Q (2, ..., A, B)``."""
    shape = np.shape(Q)
    if len(shape) < 3 or shape[0] != 2:
        raise ValueError(
            f"Q must have shape (2, ..., A, B), the leader's and the follower's, got {shape}"
        )
    (pi_l, pi_f), _ = collapse(Q, stackelberg_rules(tie_break, tol))
    return pi_l.argmax(axis=-1), pi_f.argmax(axis=-1)
