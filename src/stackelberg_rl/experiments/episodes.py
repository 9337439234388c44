"""Blocks of episodes of a finite game in one compiled call, between two plans.

Each player draws ``a_{m,h} ~ π_{m,h}(·|x_h, a_{<m})`` from its fixed table with its own stream,
in the Python loop's order: the same trajectories bit for bit; the learners record them after.
Doubling re-plans once ``log det Λ_h`` has grown by ``log 2``: the block updates a copy of ``Λ``
and ends before an episode whose copy passes that test less a margin far above round-off, so
the learner's own test decides.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .._jit import ensure_cache_dir, read_only
from ..games.sampling import compiled_step, draw_index

ensure_cache_dir(__file__)  # before the first cache=True kernel

DOUBLING_MARGIN = 1e-8  # relative, below the learner's test (log det round-off is near 1e-15)


def doubling_threshold(logdet_at_plan: np.ndarray) -> np.ndarray:
    """``(H,)`` the block's test: ``log det Λ_h`` of the last plan ``+ log 2``, less a margin."""
    threshold = logdet_at_plan + math.log(2.0)
    return threshold - DOUBLING_MARGIN * (1.0 + np.abs(threshold))


def play_block(
    arrays: tuple,
    initial: np.ndarray,
    tables: tuple[np.ndarray, ...],
    rngs: tuple[np.random.Generator, ...],
    env_rng: np.random.Generator,
    episodes: int,
    Lambda: np.ndarray | None = None,
    threshold: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Play up to ``episodes`` episodes of a finite game with fixed policy tables.

    ``arrays``: the game's ``step_arrays()``; ``initial (S,)``; ``tables``: player ``m``'s policy
    ``(H, S, J_m, A_m)``, ``J_m = A_0 ⋯ A_{m-1}``; ``Lambda (H, d, d)``: a copy of ``Λ`` updated
    in place to stop before a doubling (with ``threshold (H,)``), or ``None``. Returns
    ``states (n, H+1)``, ``actions``, ``rewards (n, H, 1+N)``, ``returns (n, 1+N)``.
    """
    H, P = tables[0].shape[0], len(tables)
    d = arrays[0].shape[2]
    if Lambda is None:
        Lambda, threshold = np.empty((0, d, d)), np.empty(0)
    counts = np.array([t.shape[3] for t in tables], dtype=np.int64)
    states = np.empty((episodes, H + 1), dtype=np.int64)
    actions = np.empty((episodes, H, P), dtype=np.int64)
    rewards = np.empty((episodes, H, P))
    returns = np.empty((episodes, P))
    players = (tuple(map(read_only, tables)), counts, tuple(rngs))
    n = _play(
        tuple(arrays), read_only(initial), players, env_rng, (Lambda, threshold),
        (states, actions, rewards, returns),
    )  # fmt: skip
    return states[:n], actions[:n], rewards[:n], returns[:n]


@njit(cache=True, error_model="numpy")
def _play(arrays, initial, players, env_rng, doubling, out):  # pragma: no cover - compiled
    """:func:`play_block`'s loop, filling ``out``: the number of episodes played."""
    tables, counts, rngs = players
    Lambda, threshold = doubling
    states, actions, rewards, returns = out
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
                a = draw_index(tables[m][h, x, joint], rngs[m].random())
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


@njit(cache=True, error_model="numpy")
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
