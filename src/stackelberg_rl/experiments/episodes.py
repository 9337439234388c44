"""Blocks of episodes of a finite game in one compiled call, between two plans.

Each player draws ``a_{m,h} ~ π_{m,h}(·|x_h, a_{<m})`` from its table with its own stream, in the
Python loop's order: the same trajectories bit for bit; the learners record them after. A
learner's rows are computed where the block first visits them, by the kernel acting computes them
with (:func:`~stackelberg_rl.learners._kernels.plan.policies`): a plan serving one episode costs
the ``H`` states it visits, not a table of ``S·H``.
Doubling re-plans once ``log det Λ_h`` has grown by ``log 2``: the block updates a copy of ``Λ``
and ends before an episode whose copy passes that test less a margin far above round-off, so
the learner's own test decides.
"""

from __future__ import annotations

import math
from collections import namedtuple
from collections.abc import Sequence
from types import SimpleNamespace

import numpy as np
from numba import njit

from .._jit import KERNEL, ensure_cache_dir, read_only
from ..games.sampling import compiled_step, draw_index
from ..learners._kernels.plan import policies
from ..learners.lsvi_ucb import parameters

ensure_cache_dir(__file__)  # before the first cache=True kernel

DOUBLING_MARGIN = 1e-8  # relative, below the learner's test (log det round-off is near 1e-15)


def doubling_threshold(logdet_at_plan: np.ndarray) -> np.ndarray:
    """``(H,)`` the block's test: ``log det Λ_h`` of the last plan ``+ log 2``, less a margin."""
    threshold = logdet_at_plan + math.log(2.0)
    return threshold - DOUBLING_MARGIN * (1.0 + np.abs(threshold))


Lazy = namedtuple("Lazy", ["sources", "filled", "w", "Lambda_inv", "params"])
"""How a block computes the learners' rows: player ``m``'s come from learner ``sources[m]``
(``-1``: its table is complete); ``filled (L, H, S)``: the rows learner ``ℓ`` has written; its
plan ``w (L, P, H, d)``, ``Lambda_inv (L, H, d, d)`` and its kernel parameters, learner ``ℓ``'s
at row ``ℓ`` of each: ``β (L,)``, ``H (L,)``, ``α (L, P)``, the exploration reward ``(L,)``,
the action counts ``(L, P)``. Kept until the next plan."""


def lazy_tables(learners: Sequence, sources: Sequence[int], horizon: int, n_states: int) -> Lazy:
    """:class:`Lazy` of ``learners`` (as planned) for players ``sources[m]``, no row yet written."""
    P = len(sources)
    if not learners:  # the kernel's types; never read
        learners = [SimpleNamespace(w=np.zeros((P, 1, 1)), Lambda_inv=np.zeros((1, 1, 1)), beta=0.0,
                                    horizon=1, alphas=np.zeros(P), bonus_reward=False,
                                    action_counts=(1,) * P)]  # fmt: skip

    def stacked(name: str) -> np.ndarray:  # one learner's own arrays, else copies side by side
        arrays = [np.asarray(getattr(x, name), dtype=np.float64) for x in learners]
        return arrays[0][None] if len(arrays) == 1 else np.stack(arrays)

    per_learner = [
        parameters(x.beta, x.horizon, x.alphas, x.bonus_reward, x.action_counts) for x in learners
    ]
    return Lazy(
        sources=np.array(sources, dtype=np.int64),
        filled=np.zeros((len(learners), horizon, n_states), dtype=np.bool_),
        w=stacked("w"),
        Lambda_inv=stacked("Lambda_inv"),
        params=tuple(read_only(np.array(column)) for column in zip(*per_learner, strict=True)),
    )


def play_block(
    arrays: tuple,
    initial: np.ndarray,
    tables: tuple[np.ndarray, ...],
    rngs: tuple[np.random.Generator, ...],
    env_rng: np.random.Generator,
    episodes: int,
    lazy: Lazy | None = None,
    doubling: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, ...]:
    """Play up to ``episodes`` episodes of a finite game with the players' policy tables.

    ``arrays``: the game's ``step_arrays()``; ``initial (S,)``; ``tables``: player ``m``'s policy
    ``(H, S, J_m, A_m)``, ``J_m = A_0 ⋯ A_{m-1}``, writable, its rows from a learner of ``lazy``
    written where first visited (``None``: every table complete); ``doubling``: ``(Λ, threshold)``,
    a copy of ``Λ (H, d, d)`` updated in place to stop before a doubling of ``det Λ_h`` past
    ``threshold (H,)``, or ``None``.
    Returns ``states (n, H+1)``, ``actions``, ``rewards (n, H, 1+N)``, ``returns (n, 1+N)`` and
    ``failed``: ``(episode, h, x, m)`` where player ``m``'s learner gave a non-finite ``Q`` or
    policy (the block ends before that episode), else ``None``.
    """
    H, S, P = tables[0].shape[0], tables[0].shape[1], len(tables)
    d = arrays[0].shape[2]
    if doubling is None:
        doubling = np.empty((0, d, d)), np.empty(0)
    if lazy is None:
        lazy = lazy_tables((), [-1] * P, H, S)
    counts = np.array([t.shape[3] for t in tables], dtype=np.int64)
    states = np.empty((episodes, H + 1), dtype=np.int64)
    actions = np.empty((episodes, H, P), dtype=np.int64)
    rewards = np.empty((episodes, H, P))
    returns = np.empty((episodes, P))
    failed = np.full(4, -1, dtype=np.int64)
    # A player draws one uniform a step: drawn here, as many as the block may use (numba takes
    # ~15 µs to receive each Generator); the streams are then set to where the block ended.
    starts = [rng.bit_generator.state for rng in rngs]
    uniforms = np.stack([rng.random(episodes * H) for rng in rngs]).reshape(P, episodes, H)
    n = _play(
        tuple(arrays), read_only(initial), (tuple(tables), counts, uniforms), env_rng,
        tuple(doubling), (states, actions, rewards, returns, failed), tuple(lazy),
    )  # fmt: skip
    if n < episodes:
        for rng, start in zip(rngs, starts, strict=True):
            rng.bit_generator.state = start
            rng.random(n * H)
    return states[:n], actions[:n], rewards[:n], returns[:n], (
        None if failed[0] < 0 else tuple(int(v) for v in failed)
    )  # fmt: skip


@njit(**KERNEL)
def _play(arrays, initial, players, env_rng, doubling, out, lazy):  # pragma: no cover - compiled
    """:func:`play_block`'s loop, filling ``out``: the number of episodes played.

    ``players``: the tables, the action counts and each player's uniforms ``(P, n, H)``.
    """
    tables, counts, uniforms = players
    Lambda, threshold = doubling
    states, actions, rewards, returns, failed = out
    sources, filled = lazy[0], lazy[1]
    n, H, P = actions.shape
    features = arrays[0]
    doubling = Lambda.shape[0] > 0
    d = features.shape[2]
    scratch = np.empty((d, d))
    r = np.empty(P)
    for i in range(n):
        if i > 0 and doubling and _doubled(Lambda, threshold, scratch):
            return i
        x = draw_index(initial, env_rng.random())
        states[i, 0] = x
        for m in range(P):
            returns[i, m] = 0.0
        for h in range(H):
            joint = 0  # a_0 … a_{m-1} as one index
            for m in range(P):
                s = sources[m]
                if s >= 0 and not filled[s, h, x]:
                    if not _fill(features, h, x, s, lazy, tables):
                        failed[0], failed[1], failed[2], failed[3] = i, h, x, m
                        return i
                a = draw_index(tables[m][h, x, joint], uniforms[m, i, h])
                if a < 0:
                    raise ValueError("a policy table's row is not a distribution")
                actions[i, h, m] = a
                joint = joint * counts[m] + a
            x_next = compiled_step(arrays, h, x, joint, env_rng, r)
            for m in range(P):
                rewards[i, h, m] = r[m]
                returns[i, m] += r[m]
            if doubling:  # Λ_h += φφᵀ, as the learner adds it
                phi = features[x, joint]
                for a in range(d):
                    for b in range(d):
                        Lambda[h, a, b] += phi[a] * phi[b]
            x = x_next
            states[i, h + 1] = x
    return n


@njit(**KERNEL, inline="always")
def _fill(features, h, x, s, lazy, tables):  # pragma: no cover - compiled
    """Learner ``s``'s policies at ``(h, x)`` into its players' tables: ``Q`` and they finite?

    Computed as acting computes them (Algorithm 1, lines 16–20), a state alone.
    """
    sources, filled, w, Lambda_inv, (beta, horizon, alphas, bonus_reward, action_counts) = lazy
    counts = action_counts[s]
    params = (beta[s], horizon[s], alphas[s], bonus_reward[s], counts)
    _, pis, finite = policies(features[x : x + 1], w[s], Lambda_inv[s], h, params)
    start, width = 0, 1
    for m in range(len(tables)):
        width *= counts[m]  # player m's columns: (a_0, …, a_m) row-major, J_m·A_m of them
        if sources[m] == s:
            row = tables[m][h, x]
            n_own = row.shape[1]
            for j in range(row.shape[0]):
                for a in range(n_own):
                    row[j, a] = pis[0, start + j * n_own + a]
        start += width
    filled[s, h, x] = True
    return finite


@njit(**KERNEL, inline="always")
def _doubled(Lambda, threshold, R):  # pragma: no cover - compiled
    """Whether ``log det Λ_h > threshold[h]`` for some ``h`` (by Cholesky, ``Λ_h = RRᵀ``)."""
    d = Lambda.shape[1]
    for h in range(Lambda.shape[0]):
        logdet = 0.0
        for j in range(d):
            s = Lambda[h, j, j]
            for k in range(j):
                s -= R[j, k] * R[j, k]
            if not s > 0.0:
                return True  # not positive definite: let the learner's own test decide
            R[j, j] = math.sqrt(s)
            logdet += math.log(s)
            for i in range(j + 1, d):
                t = Lambda[h, i, j]
                for k in range(j):
                    t -= R[i, k] * R[j, k]
                R[i, j] = t / R[j, j]
        if logdet > threshold[h]:
            return True
    return False
