"""Soft-max LSVI-UCB statistics and planning, fast (Algorithm 1, lines 4–14; math.md §3 and §5).

The next states' forms ``ψᵀΛ_{h+1}^{-1}ψ`` are cached and downdated by Sherman–Morrison (math.md
§5), made exactly every ``refresh_every`` plans. Policies are played with ``Λ_h^{-1}`` made afresh
by Cholesky, so that any episode's policy replays bit for bit (:func:`replay_inverse`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np

from .._jit import read_only
from .._validate import first_index, integer
from ._kernels import plan as _kernels
from .base import LSVIUCBLearner, state_array, state_int

_NONE = np.empty((0, 0))  # no next-state features to write


class SoftmaxLSVIUCB(LSVIUCBLearner):
    """The statistics and planner of soft-max LSVI-UCB (Algorithms 1 and 2), fast.

    Every player may own one (math.md §9): the same observations give the same ``Λ``, ``w`` and
    policies.

    Args:
        *args, **kwargs: those of :class:`.base.LSVIUCBLearner`.
        incremental: keep ``Λ^{-1}`` and the forms by rank-one updates (math.md §5); ``False``
            recomputes them at each plan (the benchmarks' baseline for the cache).
        refresh_every: plans between exact refreshes of ``Λ^{-1}`` and the cached forms.
        dtype: storage of the next states' features ``ψ``, ``float64`` or ``float32``.
    """

    def __init__(
        self,
        *args,
        incremental: bool = True,
        refresh_every: int = 128,
        dtype: str | np.dtype = np.float64,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.refresh_every = integer(refresh_every, "refresh_every", low=1)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
        self.incremental = bool(incremental)
        P, J, d, H = self.n_players, self.n_joint_actions, self.dim, self.horizon
        self.drift: list[float] = []  # the largest correction of a cached form at each refresh
        self._data = _kernels.Samples(
            features=np.empty((H, 0, d)),
            rewards=np.empty((H, 0, P)),
            next_features=self._next_table(),
            next_rows=np.empty((H - 1, 0), dtype=np.int64),
            Lambda=initial_gram(self.lam, H, d),
            counts=np.zeros(H, dtype=np.int64),
        )
        S = 0 if self.table is None else len(self.table)  # places of distinct next states
        self._cache = _kernels.PlanCache(
            forms=np.zeros((H - 1, S, J)),
            n_forms=np.zeros(H, dtype=np.int64),
            inverse=self.Lambda_inv.copy(),
            n_inverse=np.zeros(H, dtype=np.int64),
            growth=np.zeros(H),
            **_sums(H, S, d, P),
        )
        self._grow(16)

    def _forget_policies(self) -> None:
        super()._forget_policies()
        self._parameters = None  # the kernels' Parameters, made again for the next policy

    # ------------------------------------------------------------------ data
    def _next_table(self) -> np.ndarray:
        """``ψ`` before any sample: the table's rows transposed ``(1, S, d, J)``, or none."""
        J, d, H = self.n_joint_actions, self.dim, self.horizon
        if self.table is None:
            return np.empty((H - 1, 0, d, J), dtype=self.dtype)
        rows = self.table.reshape(len(self.table), J, d).transpose(0, 2, 1)
        return np.ascontiguousarray(rows[None], dtype=self.dtype)

    def _grow(self, capacity: int) -> None:
        """Room for ``capacity`` samples per step (the rows in use are kept)."""

        def grown(a: np.ndarray) -> np.ndarray:
            out = np.zeros(a.shape[:1] + (capacity,) + a.shape[2:], dtype=a.dtype)
            out[:, : a.shape[1]] = a
            return out

        next_features = self._data.next_features  # a table's rows, there once for all
        if self.table is None:  # or each sample's own, with its form
            next_features = grown(next_features)
            self._cache = self._cache._replace(forms=grown(self._cache.forms))
        self._data = self._data._replace(
            features=grown(self._data.features),
            rewards=grown(self._data.rewards),
            next_features=next_features,
            next_rows=grown(self._data.next_rows),
        )
        self._data_tuple = tuple(self._data)

    def record(self, h: int, x, actions, rewards, x_next) -> None:
        """Store one transition of step ``h`` and add ``φφᵀ`` to ``Λ_h`` (Algorithm 1, line 5)."""
        h, phi, actions, rewards, psi = self._check_transition(h, x, actions, rewards, x_next)
        if self._data.counts[h] == self._data.features.shape[1]:
            self._grow(2 * self._data.features.shape[1])
        if self.table is not None:  # the next state's row of the table, checked above
            next_row, f_next = int(x_next), _NONE
        else:  # this sample's own row, where ψ (J, d) is written
            next_row = int(self._data.counts[h])
            f_next = _NONE if psi is None else psi.reshape(-1, self.dim)
        rewards = np.ascontiguousarray(rewards)  # one signature, for a strided row too
        _kernels.record_sample(self._data_tuple, h, phi[actions], rewards, next_row, f_next)

    def _store_episodes(self, states, actions, rewards) -> None:
        """Store whole episodes in one compiled call (see the base class)."""
        capacity = self._data.features.shape[1]
        need = int(self._data.counts.max(initial=0)) + len(states)
        while capacity < need:
            capacity *= 2
        if capacity != self._data.features.shape[1]:
            self._grow(capacity)
        joint = np.ravel_multi_index(tuple(np.moveaxis(actions, -1, 0)), self.action_counts)
        table = read_only(self.table.reshape(len(self.table), -1, self.dim))  # one signature
        _kernels.record_episodes(self._data_tuple, table, states, joint, rewards)

    @property
    def n_samples(self) -> np.ndarray:
        """See the base class."""
        return self._data.counts.copy()

    @property
    def Lambda(self) -> np.ndarray:
        """See the base class (a read-only view)."""
        return read_only(self._data.Lambda)

    def observations(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """See the base class (read-only views)."""
        h = self._check_step(h)
        n = self._data.counts[h]
        phi, r = self._data.features[h, :n], self._data.rewards[h, :n]
        phi.flags.writeable = r.flags.writeable = False
        return phi, r

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The base class's, the samples in use and the caches.

        The next states as ``next_states (H-1, n)`` indices with a table, with ``quad (H-1, S,
        J)`` the forms of their places (made again from the samples on loading, as the sums);
        else ``psi (H-1, n, d, J)`` and ``quad (H-1, n, J)``.
        """
        data, cache = self._data, self._cache
        rows = int(data.counts.max(initial=0))
        if self.table is None:
            next_states = {"psi": data.next_features[:, :rows], "quad": cache.forms[:, :rows]}
        else:
            next_states = {"next_states": data.next_rows[:, :rows], "quad": cache.forms}
        return {
            **super().state_dict(),
            "capacity": data.features.shape[1],
            "n": data.counts,
            "phi_rows": data.features[:, :rows],
            "r_rows": data.rewards[:, :rows],
            **next_states,
            "n_quad": cache.n_forms,
            "n_inverse": cache.n_inverse,
            "growth": cache.growth,
            "Lambda": data.Lambda,
            "plan_inverse": cache.inverse,
            "drift": np.asarray(self.drift, dtype=np.float64),
        }

    def load_state_dict(self, state: dict) -> None:
        """See the base class."""
        super().load_state_dict(state)
        P, J, d, H = self.n_players, self.n_joint_actions, self.dim, self.horizon
        counts = state_array(state, "n", (H,), np.int64, low=0)
        rows = int(counts.max(initial=0))
        capacity = state_int(state, "capacity")
        # Room doubles from 16 only when full: never more than twice the rows in use (or 16).
        if not max(rows, 1) <= capacity <= max(16, 2 * rows):
            raise ValueError(
                f"the learner's state: capacity {capacity} must be in [{max(rows, 1)}, "
                f"{max(16, 2 * rows)}] for its {rows} rows in use"
            )

        counters = {k: state_array(state, k, (H,), np.int64) for k in ("n_quad", "n_inverse")}
        for name, counter in counters.items():
            if (counter < 0).any() or (counter > counts).any():
                raise ValueError(f"the learner's state: {name} must lie in [0, n] at every step")
        S = 0 if self.table is None else len(self.table)
        if self.table is None:
            next_features = state_array(state, "psi", (H - 1, rows, d, J), self.dtype)
            next_rows = np.broadcast_to(np.arange(rows), (H - 1, rows)).copy()
            forms = state_array(state, "quad", (H - 1, rows, J), np.float64)
        else:
            next_features = self._next_table()
            next_rows = state_array(state, "next_states", (H - 1, rows), np.int64)
            bad = (next_rows < 0) | (next_rows >= len(self.table))
            if bad.any():
                raise ValueError(
                    f"the learner's state: next_states at {first_index(bad)} is not a state "
                    f"of the feature table (S = {len(self.table)})"
                )
            forms = state_array(state, "quad", (H - 1, S, J), np.float64)
        self._data = _kernels.Samples(
            features=state_array(state, "phi_rows", (H, rows, d), np.float64),
            rewards=state_array(state, "r_rows", (H, rows, P), np.float64, low=-1.0, high=1.0),
            next_features=next_features,
            next_rows=next_rows,
            Lambda=state_array(state, "Lambda", (H, d, d), np.float64),
            counts=counts,
        )
        self._cache = _kernels.PlanCache(
            forms=forms,
            n_forms=counters["n_quad"],
            inverse=state_array(state, "plan_inverse", (H, d, d), np.float64),
            n_inverse=counters["n_inverse"],
            growth=state_array(state, "growth", (H,), np.float64),
            **_sums(H, S, d, P),
        )
        _kernels.add_samples(tuple(self._data), tuple(self._cache))  # as the plans made them
        made, seen = counters["n_quad"][: H - 1], self._cache.n_places[: H - 1]
        if self.table is not None and (made > seen).any():
            h = int(np.argmax(made > seen))
            raise ValueError(
                f"the learner's state: n_quad at step {h} is {made[h]}, more than the {seen[h]} "
                "next states its samples reached"
            )
        self._grow(capacity)  # the capacity the learner saved, zeros past the rows in use
        self.drift = [float(x) for x in state_array(state, "drift", (None,), np.float64)]

    # ------------------------------------------------------------------ planning
    def _kernel_parameters(self) -> tuple:
        if self._parameters is None:
            self._parameters = parameters(
                self.beta, self.horizon, self.alphas, self.bonus_reward, self.action_counts
            )
        return self._parameters

    def _plan(self) -> None:
        if not self.incremental:
            how = _kernels.RECOMPUTE
        elif self.n_plans % self.refresh_every == 0:
            how = _kernels.REFRESH
        else:
            how = _kernels.UPDATE
        drift = np.empty(self.horizon)
        args = (self._data_tuple, tuple(self._cache), self._kernel_parameters(), how, self.w, drift)
        _kernels.backward_pass(*args)
        _kernels.spd_inverses(self._data.Lambda, self.Lambda_inv)
        self.drift.extend(float(x) for x in drift[::-1] if not math.isnan(x))

    def _policies(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, tuple, bool]:
        return compiled_policies(phi, self.w, self.Lambda_inv, h, self._kernel_parameters())

    def _policies_by_step(self, features: np.ndarray) -> tuple[np.ndarray, ...]:
        """One compiled call for every step, the kernel of :meth:`_policies`.

        A non-finite policy is named by the base class's step-by-step check.
        """
        flat, finite = _kernels.policies_by_step(
            _flat(features), self.w, self.Lambda_inv, self._kernel_parameters()
        )
        if not finite:
            return super()._policies_by_step(features)
        return _by_player(flat, features.shape[1:-1])


def _sums(H: int, S: int, d: int, P: int) -> dict:
    """The plan cache's running sums before any sample (``S``: places of a table's states)."""
    return dict(
        place_of=np.full((H - 1, S), -1, dtype=np.int64),
        place_states=np.zeros((H - 1, S), dtype=np.int64),
        n_places=np.zeros(H, dtype=np.int64),
        reward_sums=np.zeros((H, d, P)),
        place_sums=np.zeros((H - 1, S, d)),
        n_summed=np.zeros(H, dtype=np.int64),
    )


@functools.cache
def _policy_columns(action_counts: tuple[int, ...]) -> tuple[tuple[int, int, tuple], ...]:
    """``(start, stop, (A_0, …, A_i))`` of each player's policy in the kernel's ``pis``."""
    out, start, size = [], 0, 1
    for i, n_actions in enumerate(action_counts):
        size *= n_actions
        out.append((start, start + size, action_counts[: i + 1]))
        start += size
    return tuple(out)


def _flat(phi: np.ndarray) -> np.ndarray:
    """C-contiguous ``phi (n, A_0, …, A_N, d)`` as the kernels' read-only ``(n, J, d)``."""
    return read_only(phi.reshape(len(phi), -1, phi.shape[-1]))  # one signature, a Ray worker's too


def _by_player(flat: np.ndarray, counts: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The kernels' policies ``(..., Σ_i J_i)`` as each player's ``(..., A_0, …, A_i)``."""
    lead = flat.shape[:-1]
    return tuple(flat[..., a:b].reshape(*lead, *shape) for a, b, shape in _policy_columns(counts))


def compiled_policies(phi, w, Lambda_inv, h, params) -> tuple[np.ndarray, tuple, bool]:
    """:func:`._kernels.plan.policies` at C-contiguous ``phi``: ``Q (n, P, …)``, pis, finite?"""
    n, counts = len(phi), phi.shape[1:-1]
    Q, flat, finite = _kernels.policies(_flat(phi), w, Lambda_inv, h, params)
    return Q.reshape(n, len(counts), *counts), _by_player(flat, counts), finite


# ---------------------------------------------------------------------- replaying a plan
def parameters(beta, horizon, alphas, bonus_reward, action_counts) -> tuple:
    """The kernels' :data:`._kernels.plan.Parameters` in their types, as a plain tuple."""
    return (
        float(beta), float(horizon), read_only(np.array(alphas, dtype=np.float64)),
        bool(bonus_reward), read_only(np.array(action_counts, dtype=np.int64)),
    )  # fmt: skip


def initial_gram(lam: float, horizon: int, dim: int) -> np.ndarray:
    """``Λ_h = λI`` at every step, as a learner starts: ``(H, d, d)``."""
    return np.broadcast_to(lam * np.eye(dim), (horizon, dim, dim)).copy()


# Λ_h += φ_h^τ φ_h^τᵀ for τ = lo … hi-1 in place: from initial_gram, episode k's Λ to the bit.
add_episodes = _kernels.add_rows


def replay_inverse(Lambda: np.ndarray) -> np.ndarray:
    """``Λ_h^{-1}`` as the learner plays with it after a plan with this ``Λ (H, d, d)``."""
    out = np.empty_like(Lambda)
    _kernels.spd_inverses(np.ascontiguousarray(Lambda, dtype=np.float64), out)
    return out


def played_policies(
    phi: np.ndarray,
    w: np.ndarray,
    Lambda_inv: np.ndarray,
    h: int,
    beta: float,
    horizon: int,
    alphas: Sequence[float],
    bonus_reward: bool = False,
) -> tuple:
    """``(Q (n, P, A_0, …, A_N), π_0 (n, A_0), …, π_N (n, A_0, …, A_N), finite)``, as played.

    The learner's policy path (Algorithm 1, lines 7–20; math.md §9) at ``phi (n, A_0, …, A_N, d)``
    from a plan's ``w (P, H, d)``, ``Lambda_inv (H, d, d)``, ``β`` and ``alphas (P,)``.
    """
    params = parameters(beta, horizon, alphas, bonus_reward, phi.shape[1:-1])
    Q, pis, finite = compiled_policies(np.ascontiguousarray(phi), w, Lambda_inv, h, params)
    return (Q, *pis, finite)
