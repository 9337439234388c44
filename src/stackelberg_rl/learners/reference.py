"""A plain from-scratch soft-max LSVI-UCB in numpy: the benchmarks' baseline and a cross-check."""

from __future__ import annotations

import math

import numpy as np

from .base import LSVIUCBLearner, state_array
from .functional import bonus, chain_policies, optimistic_q


class ReferenceLSVIUCB(LSVIUCBLearner):
    """Algorithm 1 as written, in numpy: every plan starts from scratch.

    Each plan forms ``Λ_h = λI + ΦᵀΦ`` and its inverse anew, asks ``feature_map`` for the next
    states' features and computes ``Q`` and the policies with :mod:`.functional`: nothing shared
    with :class:`.SoftmaxLSVIUCB` but the checks and the interface.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        H, d = self.horizon, self.dim
        self._n = np.zeros(H, dtype=np.int64)  # rows in use at each step
        self._phi = np.zeros((H, 16, d))  # φ(x_h^τ, a_h^τ, b_h^τ), grown by doubling
        self._rewards = np.zeros((H, 16, self.n_players))
        self._next_states: list[list] = [[] for _ in range(H)]

    def record(self, h: int, x, actions, rewards, x_next) -> None:
        """Store the played features, the rewards and the next state (checked first)."""
        h, phi, actions, rewards, _ = self._check_transition(h, x, actions, rewards, x_next)
        t = self._n[h]
        if t == self._phi.shape[1]:
            self._phi = np.concatenate([self._phi, np.zeros_like(self._phi)], axis=1)
            self._rewards = np.concatenate([self._rewards, np.zeros_like(self._rewards)], axis=1)
        self._phi[h, t] = phi[actions]
        self._rewards[h, t] = rewards
        self._next_states[h].append(x_next)
        self._n[h] = t + 1

    def state_dict(self) -> dict:
        """The base class's with the samples; ``next_states/h{h}`` one row per sample."""
        rows = int(self._n.max(initial=0))
        next_states = {f"h{h}": np.asarray(xs) for h, xs in enumerate(self._next_states)}
        return {
            **super().state_dict(),
            "n": self._n,
            "phi": self._phi[:, :rows],
            "rewards": self._rewards[:, :rows],
            "next_states": next_states,
        }

    def load_state_dict(self, state: dict) -> None:
        """See the base class."""
        super().load_state_dict(state)
        H, d = self.horizon, self.dim
        n = state_array(state, "n", (H,), np.int64, low=0)
        rows = int(n.max(initial=0))
        phi = state_array(state, "phi", (H, rows, d), np.float64)
        rewards = state_array(
            state, "rewards", (H, rows, self.n_players), np.float64, low=-1, high=1
        )
        next_states = state.get("next_states")
        if not isinstance(next_states, dict):
            raise ValueError("the learner's state has no next_states")
        lists = []
        for h in range(H):
            xs = next_states.get(f"h{h}")
            if not isinstance(xs, np.ndarray) or len(xs) != n[h]:
                raise ValueError(f"the learner's state: next_states/h{h} must hold {n[h]} states")
            lists.append([x if xs.ndim > 1 else x.item() for x in xs])
        capacity = max(16, rows)
        self._phi = np.zeros((H, capacity, d))
        self._rewards = np.zeros((H, capacity, self.n_players))
        self._phi[:, :rows], self._rewards[:, :rows] = phi, rewards
        self._n, self._next_states = n, lists

    @property
    def n_samples(self) -> np.ndarray:
        """See the base class."""
        return self._n.copy()

    def observations(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """See the base class (copies)."""
        h = self._check_step(h)
        n = self._n[h]
        return self._phi[h, :n].copy(), self._rewards[h, :n].copy()

    @property
    def Lambda(self) -> np.ndarray:
        """``(H, d, d)`` ``Λ_h = λI + ΦᵀΦ``, formed afresh."""
        out = np.empty((self.horizon, self.dim, self.dim))
        for h in range(self.horizon):
            phi = self._phi[h, : self._n[h]]
            out[h] = self.lam * np.eye(self.dim) + phi.T @ phi
        return out

    def _q(self, phi: np.ndarray, h: int) -> np.ndarray:
        """``Q (..., P, A_0, …, A_N)`` at ``phi (..., A_0, …, A_N, d)`` (line 7), ``u`` on top."""
        Lambda_inv, H, P = self.Lambda_inv[h], self.horizon, self.n_players
        Q = optimistic_q(phi, self.w[:, h], Lambda_inv, self.beta, math.inf, P)
        if self.bonus_reward:
            Q = Q + np.expand_dims(np.minimum(bonus(phi, Lambda_inv, self.beta), H) / H, -1 - P)
        return np.minimum(Q, H)

    def _plan(self) -> None:
        """Algorithm 1, lines 4–14: for ``h = H-1 … 0``, ``Λ_h``, its inverse, then ``w_h``."""
        Lambda = self.Lambda
        for h in range(self.horizon - 1, -1, -1):
            self.Lambda_inv[h] = np.linalg.inv(Lambda[h])
            phi, y = self.observations(h)
            if h < self.horizon - 1 and len(y):
                psi = np.asarray(self.feature_map(np.asarray(self._next_states[h])))
                y = y + chain_policies(self._q(psi, h + 1), self.alphas)[1][0]  # V_{h+1} (n, P)
            self.w[:, h] = (self.Lambda_inv[h] @ (phi.T @ y)).T

    def _policies(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, tuple, bool]:
        """``optimistic_q`` and ``chain_policies`` a state at a time: a row never on the batch."""
        n, counts = phi.shape[0], self.action_counts
        Q = np.empty((n, self.n_players, *counts))
        pis = tuple(np.empty((n, *counts[: i + 1])) for i in range(self.n_players))
        for i in range(n):
            Q[i] = self._q(phi[i], h)
            for pi, row in zip(pis, chain_policies(Q[i], self.alphas)[0], strict=True):
                pi[i] = row
        finite = bool(np.isfinite(Q).all() and all(np.isfinite(pi).all() for pi in pis))
        return Q, pis, finite
