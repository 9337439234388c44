"""Soft-max LSVI-UCB statistics and planning, fast (Algorithm 1, lines 4–14; math.md §3 and §5).

:class:`SoftmaxLSVIUCB` holds what one player has observed and plans from it. Both the leader
(Algorithm 1) and the follower (Algorithm 2) own one; given the same observations they compute the
same ``Λ``, ``w`` and policies.

The cost of a plan is dominated by evaluating ``V_{m,h+1}`` at every stored next state. The
stored next-state features ``ψ = φ(x_{h+1}^τ, ·, ·)`` and their quadratic forms ``ψᵀΛ_{h+1}^{-1}ψ``
are cached; when ``Λ_{h+1}`` has gained rows ``φ`` since the last plan, ``Λ^{-1}`` and the forms
are updated one row at a time by Sherman–Morrison with the *old* inverse (math.md §5):

    u = Λ^{-1}φ,   Λ'^{-1} = Λ^{-1} − uuᵀ/(1 + φᵀu),   ψᵀΛ'^{-1}ψ = ψᵀΛ^{-1}ψ − (ψᵀu)²/(1 + φᵀu),

which stays accurate for small ``λ`` (the form with the new inverse, ``1 − φᵀΛ'^{-1}φ``, does
not). Every ``refresh_every`` plans ``Λ^{-1}`` and the forms are recomputed exactly; the largest
correction that made is kept in :attr:`SoftmaxLSVIUCB.drift`. The backward pass, recording a
sample and the policies are compiled (:mod:`._kernels.plan`).

The inverse the plan keeps this way depends on the history of updates and refreshes. The
policies are played with another one, :attr:`~.base.LSVIUCBLearner.Lambda_inv`, made afresh
from ``Λ_h`` after every plan (Cholesky, ``O(H·d³)``, small beside the backward pass) and a
function of ``Λ_h`` alone; ``Λ_h`` is accumulated in exact IEEE arithmetic. So the policy of any
episode can be replayed from the recorded features and the plan's ``w``, ``α``, ``β``, bit for
bit, without replaying the run (:func:`replay_inverse`).
"""

from __future__ import annotations

import math

import numpy as np

from ._kernels import plan as _kernels
from .base import FeatureMap, LSVIUCBLearner, state_array, state_int


class SoftmaxLSVIUCB(LSVIUCBLearner):
    """The statistics and planner of soft-max LSVI-UCB (Algorithms 1 and 2), fast.

    Args:
        feature_map, n_leader_actions, n_follower_actions, dim, horizon, beta, lam, alpha_l,
            alpha_f, schedule, schedule_n: see :class:`.base.LSVIUCBLearner`.
        incremental: keep ``Λ^{-1}`` and the quadratic forms by rank-one updates (math.md §5);
            ``False`` recomputes them exactly at each plan (an ablation;
            :class:`~stackelberg_rl.learners.ReferenceLSVIUCB` is the plain from-scratch learner).
        refresh_every: plans between exact refreshes of ``Λ^{-1}`` and the cached forms.
        dtype: storage of the cached next-state features, ``float64`` or ``float32``.
    """

    ablation: tuple[bool, bool] | None = None
    """For the benchmark's ablation only: ``(poly_exp, simd_products)`` to turn either trick of
    :mod:`._kernels.plan` off; ``None`` (the default) plans with both."""

    def __init__(
        self,
        feature_map: FeatureMap | np.ndarray,
        n_leader_actions: int,
        n_follower_actions: int,
        dim: int,
        horizon: int,
        beta: float,
        lam: float = 1.0,
        alpha_l: float = math.inf,
        alpha_f: float = math.inf,
        *,
        schedule: str = "every",
        schedule_n: int = 1,
        incremental: bool = True,
        refresh_every: int = 128,
        dtype: str | np.dtype = np.float64,
    ) -> None:
        super().__init__(
            feature_map, n_leader_actions, n_follower_actions, dim, horizon, beta, lam,
            alpha_l, alpha_f, schedule=schedule, schedule_n=schedule_n,
        )  # fmt: skip
        if isinstance(refresh_every, bool) or not isinstance(refresh_every, int | np.integer):
            raise ValueError(f"refresh_every must be a positive integer, got {refresh_every!r}")
        if refresh_every < 1:
            raise ValueError(f"refresh_every must be a positive integer, got {refresh_every!r}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
        self.incremental, self.refresh_every = bool(incremental), int(refresh_every)
        A, B, d, H = self.n_leader_actions, self.n_follower_actions, self.dim, self.horizon
        self._Lambda = initial_gram(lam, H, d)
        self._plan_inverse = self.Lambda_inv.copy()  # kept by Sherman–Morrison for the plan
        self.drift: list[float] = []
        """The largest correction of a cached form at each exact refresh, per step."""
        self._n_inverse = np.zeros(H, dtype=np.int64)  # samples that Lambda_inv reflects
        self._growth = np.zeros(H)  # log det Λ_h growth since Λ_h^{-1} was last made afresh
        # Observations of every step in arrays that grow by doubling, rows < n[h] in use. Each
        # sample's |A||B| next-state vectors are stored side by side, (d, A·B): the compiled
        # pass then runs its products across actions, in SIMD lanes.
        self._n = np.zeros(H, dtype=np.int64)
        self._phi_rows = np.empty((H, 0, d))  # φ(x_h^τ, a_h^τ, b_h^τ)
        self._r_rows = np.empty((H, 0, 2))  # realised rewards
        self._psi = np.empty((H - 1, 0, d, A * B), dtype=self.dtype)  # φ(x_{h+1}^τ, ·, ·)
        self._quad = np.empty((H - 1, 0, A * B))  # ψᵀΛ_{h+1}^{-1}ψ as of the last plan
        self._n_quad = np.zeros(H, dtype=np.int64)  # rows of quad that are computed
        self._grow(16)

    # ------------------------------------------------------------------ data
    def _grow(self, cap: int) -> None:
        """Room for ``cap`` samples per step (the rows in use are kept)."""

        def grown(a: np.ndarray) -> np.ndarray:
            out = np.zeros(a.shape[:1] + (cap,) + a.shape[2:], dtype=a.dtype)
            out[:, : a.shape[1]] = a
            return out

        self._phi_rows, self._r_rows = grown(self._phi_rows), grown(self._r_rows)
        self._psi, self._quad = grown(self._psi), grown(self._quad)

    def record(self, h: int, x, a: int, b: int, r_l: float, r_f: float, x_next) -> None:
        """Store one transition of step ``h`` and add ``φφᵀ`` to ``Λ_h`` (Algorithm 1, line 5).

        Every argument is checked first (:meth:`_check_transition`): nothing is stored if one is
        bad.
        """
        h, phi, a, b, r_l, r_f, psi = self._check_transition(h, x, a, b, r_l, r_f, x_next)
        if self._n[h] == self._phi_rows.shape[1]:
            self._grow(2 * self._phi_rows.shape[1])
        _kernels.record_sample(
            self._phi_rows, self._r_rows, self._psi, self._Lambda, self._n, h,
            phi[a, b], r_l, r_f, phi if psi is None else psi,
        )  # fmt: skip

    @property
    def n_samples(self) -> np.ndarray:
        """``(H,)`` number of samples recorded at each step."""
        return self._n.copy()

    @property
    def Lambda(self) -> np.ndarray:
        """``(H, d, d)`` ``Λ_h = λI + Σ_τ φ_h^τ φ_h^τᵀ`` (read-only view)."""
        view = self._Lambda.view()
        view.flags.writeable = False
        return view

    def observations(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """The features ``φ (n, d)`` and rewards ``(n, 2)`` recorded at step ``h`` (read-only)."""
        h = self._check_step(h)
        n = self._n[h]
        phi, r = self._phi_rows[h, :n], self._r_rows[h, :n]
        phi.flags.writeable = r.flags.writeable = False
        return phi, r

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """:meth:`.base.LSVIUCBLearner.state_dict` with the samples and the plan's caches.

        The rows in use of the growing arrays (``n`` per step; the rest are zeros), their
        capacity, ``Λ``, the plan's Sherman–Morrison inverse with its counters
        (``n_inverse``, ``growth``, ``n_quad``) and the refreshes' ``drift``: what the next plan
        reads, so that it is the plan this learner would make.
        """
        rows = int(self._n.max(initial=0))
        return {
            **super().state_dict(),
            "capacity": self._phi_rows.shape[1],
            "n": self._n,
            "phi_rows": self._phi_rows[:, :rows],
            "r_rows": self._r_rows[:, :rows],
            "psi": self._psi[:, :rows],
            "quad": self._quad[:, :rows],
            "n_quad": self._n_quad,
            "n_inverse": self._n_inverse,
            "growth": self._growth,
            "Lambda": self._Lambda,
            "plan_inverse": self._plan_inverse,
            "drift": np.asarray(self.drift, dtype=np.float64),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s ``state``; see the base class."""
        super().load_state_dict(state)
        A, B, d, H = self.n_leader_actions, self.n_follower_actions, self.dim, self.horizon
        n = state_array(state, "n", (H,), np.int64)
        rows = int(n.max(initial=0))
        capacity = state_int(state, "capacity")
        if capacity < max(rows, 1):
            raise ValueError(f"the learner's state: capacity {capacity} < {rows} rows in use")
        arrays = {
            "phi_rows": state_array(state, "phi_rows", (H, rows, d), np.float64),
            "r_rows": state_array(state, "r_rows", (H, rows, 2), np.float64),
            "psi": state_array(state, "psi", (H - 1, rows, d, A * B), self.dtype),
            "quad": state_array(state, "quad", (H - 1, rows, A * B), np.float64),
        }
        counters = {
            name: state_array(state, name, (H,), np.int64) for name in ("n_quad", "n_inverse")
        }
        for name, counter in counters.items():
            if (counter < 0).any() or (counter > n).any():
                raise ValueError(f"the learner's state: {name} must lie in [0, n] at every step")
        self._growth = state_array(state, "growth", (H,), np.float64)
        self._Lambda = state_array(state, "Lambda", (H, d, d), np.float64)
        self._plan_inverse = state_array(state, "plan_inverse", (H, d, d), np.float64)
        self.drift = [float(x) for x in state_array(state, "drift", (None,), np.float64)]
        self._n, self._n_quad, self._n_inverse = n, counters["n_quad"], counters["n_inverse"]
        # The same capacity as the learner saved, the rows beyond those in use zero as there.
        for name, value in arrays.items():
            full = np.zeros(value.shape[:1] + (capacity,) + value.shape[2:], dtype=value.dtype)
            full[:, :rows] = value
            setattr(self, f"_{name}", full)

    # ------------------------------------------------------------------ planning
    def _plan(self) -> None:
        """``Λ^{-1}`` and ``w`` of every step in one compiled pass (:func:`backward_pass`)."""
        refresh = (not self.incremental) or (self.n_plans % self.refresh_every == 0)
        drift = np.empty(self.horizon)
        args = (
            self._phi_rows, self._r_rows, self._psi, self._quad, self._n, self._n_quad,
            self._n_inverse, self._growth, self._Lambda, self._plan_inverse, self.w,
            self.n_leader_actions, self.beta, float(self.horizon), self.alpha_l, self.alpha_f,
            self.incremental, refresh, drift,
        )  # fmt: skip
        if self.ablation is None:
            _kernels.backward_pass(*args)
        else:
            _kernels.backward_pass_ablation(*args, *self.ablation)
        _kernels.spd_inverses(self._Lambda, self.Lambda_inv)
        self.drift.extend(float(x) for x in drift[::-1] if not math.isnan(x))

    # ------------------------------------------------------------------ the policies
    def _policies(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """One compiled function for acting and for the tables (:func:`played_policies`)."""
        return played_policies(
            phi, self.w, self.Lambda_inv, h, self.beta, self.horizon, self.alpha_l, self.alpha_f
        )


# ---------------------------------------------------------------------- replaying a plan
def initial_gram(lam: float, horizon: int, dim: int) -> np.ndarray:
    """``Λ_h = λI`` at every step, as a learner starts: ``(H, d, d)``."""
    return np.broadcast_to(lam * np.eye(dim), (horizon, dim, dim)).copy()


def add_episodes(Lambda: np.ndarray, phi: np.ndarray, lo: int, hi: int) -> None:
    """``Λ_h += φ_h^τ φ_h^τᵀ`` for the episodes ``τ = lo … hi-1``, in order, in place.

    The learner's own arithmetic (:func:`._kernels.plan.add_outer`): from :func:`initial_gram`
    with the rows of episodes ``0 … k-1``, ``Λ`` is the learner's at the start of episode ``k``,
    bit for bit.

    Args:
        Lambda: ``(H, d, d)``, C-contiguous float64, updated.
        phi: ``(K, H, d)`` the features recorded in each episode at each step.
        lo, hi: the episodes to add.
    """
    _kernels.add_rows(Lambda, phi, lo, hi)


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
    alpha_l: float,
    alpha_f: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """``Q (n, 2, A, B)``, ``pi_l (n, A)``, ``pi_f (n, A, B)`` and whether all are finite.

    The one compiled policy path (:func:`._kernels.plan.policies`, Algorithm 1, lines 7–20) at
    the states of ``phi (n, A, B, d)``, from a plan's ``w (2, H, d)``, ``Lambda_inv (H, d, d)``,
    ``β``, ``α_l``, ``α_f``: what a learner acts with and what a replay of its plan computes.
    """
    return _kernels.policies(
        phi, w, Lambda_inv, h, float(beta), float(horizon), float(alpha_l), float(alpha_f)
    )
