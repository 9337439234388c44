"""Soft-max LSVI-UCB statistics and planning (Algorithm 1, lines 4–14; SPEC §3 and §5).

:class:`SoftmaxLSVIUCB` holds what one player has observed and plans from it. Both the leader
(Algorithm 1) and the follower (Algorithm 2) own one; given the same observations they compute the
same ``Λ``, ``w`` and policies. The math is in the pure functions at the top of this module.

The cost of :meth:`SoftmaxLSVIUCB.plan` is dominated by evaluating ``V_{m,h+1}`` at every stored
next state. The stored next-state features ``ψ = φ(x_{h+1}^τ, ·, ·)`` and their quadratic forms
``ψᵀΛ_{h+1}^{-1}ψ`` are cached; when ``Λ_{h+1}`` has gained the rows ``Φ_p`` since the last plan the
forms are downdated in one pass (Woodbury with the new inverse):

    ψᵀΛ_new^{-1}ψ = ψᵀΛ_old^{-1}ψ − zᵀ(I − Φ_pΛ_new^{-1}Φ_pᵀ)^{-1}z,   z = Φ_pΛ_new^{-1}ψ,

which for one new row is the Sherman–Morrison update of SPEC §5. A periodic exact refresh bounds
the round-off; the largest correction it made is kept in :attr:`SoftmaxLSVIUCB.drift`. The whole
backward pass — at each step the forms, bonus, both players' ``Q``, both soft-max policies, ``V``
and the ridge solve — is one compiled call (:mod:`._kernels.plan`), and so is recording a sample:
a plan reads every cached vector once and does nothing per step in Python.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from ._kernels import plan as _kernels
from .functional import alpha_value, optimistic_q, soft_policies, softmax

FeatureMap = Callable[[np.ndarray], np.ndarray]
"""Maps a batch of states ``(n, ...)`` to features ``(n, A, B, d)``."""

SCHEDULES = ("every", "every-n", "doubling")


# ---------------------------------------------------------------------- the learner
class SoftmaxLSVIUCB:
    """The statistics and planner of soft-max LSVI-UCB (Algorithms 1 and 2).

    Args:
        feature_map: ``states (n, ...) -> phi (n, A, B, d)``, or for a finite state space
            the table ``phi (S, A, B, d)`` itself (then states are row indices).
        n_leader_actions: ``|A|``.
        n_follower_actions: ``|B|`` (1 gives single-agent LSVI-UCB).
        dim: ``d``.
        horizon: ``H``.
        beta: bonus scale ``β``.
        lam: ridge ``λ``.
        alpha_l: leader soft-max parameter, a number (``inf``: greedy); a schedule sets the
            attribute before each plan.
        alpha_f: follower soft-max parameter, likewise.
        schedule: ``"every"`` episode (the paper's), ``"every-n"`` episodes, or ``"doubling"``
            (re-plan when ``det Λ_h`` has doubled for some ``h`` since the last plan).
        schedule_n: ``n`` of ``"every-n"``.
        incremental: keep the quadratic forms by rank-one downdates (SPEC §5); ``False``
            recomputes them exactly at each plan (an ablation; :class:`ReferenceLSVIUCB` is the
            plain from-scratch learner).
        refresh_every: plans between exact refreshes of the cached forms.
        dtype: storage of the cached next-state features, ``float64`` or ``float32``.
    """

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
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        if schedule_n < 1:
            raise ValueError(f"schedule_n must be >= 1, got {schedule_n}")
        if not lam > 0:
            raise ValueError(f"lam must be > 0, got {lam}")
        if not beta >= 0:
            raise ValueError(f"beta must be >= 0, got {beta}")
        self._table: np.ndarray | None = None
        if isinstance(feature_map, np.ndarray):
            if feature_map.ndim != 4 or feature_map.shape[1:] != (
                n_leader_actions,
                n_follower_actions,
                dim,
            ):
                raise ValueError(
                    f"a feature table must have shape (S, A, B, d) = (S, {n_leader_actions}, "
                    f"{n_follower_actions}, {dim}), got {feature_map.shape}"
                )
            self._table = np.ascontiguousarray(feature_map, dtype=np.float64)
            feature_map = functools.partial(np.take, self._table, axis=0)
        self.feature_map = feature_map
        self.A, self.B, self.d, self.H = n_leader_actions, n_follower_actions, dim, horizon
        self.beta, self.lam = float(beta), float(lam)
        if isinstance(alpha_l, str) or isinstance(alpha_f, str):
            raise ValueError("the learner takes numeric alphas; use alpha_value for schedules")
        self.alpha_l = alpha_value(alpha_l, n_leader_actions, horizon, 1, 0)
        self.alpha_f = alpha_value(alpha_f, n_follower_actions, horizon, 1, 0)
        self.schedule, self.schedule_n = schedule, int(schedule_n)
        self.incremental, self.refresh_every = incremental, int(refresh_every)
        self.dtype = np.dtype(dtype)
        d, H = dim, horizon
        self.Lambda = np.broadcast_to(lam * np.eye(d), (H, d, d)).copy()
        self.Lambda_inv = np.broadcast_to(np.eye(d) / lam, (H, d, d)).copy()
        self.w = np.zeros((2, H, d))
        self.logdet_at_plan = np.full(H, d * math.log(lam))
        self.n_plans = 0
        self.drift: list[float] = []
        self._last_state: tuple | None = None
        self._phi_state: int | None = None
        self._phi = np.empty(0)
        self._last_pi_f = np.empty(0)
        self._n_inverse = np.zeros(horizon, dtype=int)  # samples that Lambda_inv reflects
        self._tables_key: tuple | None = None
        self._tables: tuple = ()
        # Observations of every step in arrays that grow by doubling, rows < n[h] in use. Each
        # sample's |A||B| next-state vectors are stored side by side, (d, A·B): the compiled
        # pass then runs its products across actions, in SIMD lanes.
        self._n = np.zeros(H, dtype=np.int64)
        self._phi_rows = np.empty((H, 0, d))  # φ(x_h^τ, a_h^τ, b_h^τ)
        self._r_rows = np.empty((H, 0, 2))  # realised rewards
        self._psi = np.empty((H - 1, 0, d, self.A * self.B), dtype=self.dtype)  # φ(x_{h+1}^τ, ·, ·)
        self._quad = np.empty((H - 1, 0, self.A * self.B))  # ψᵀΛ_{h+1}^{-1}ψ as of the last plan
        self._n_quad = np.zeros(H, dtype=np.int64)  # rows of quad that are computed
        self._seen_next = np.zeros(H, dtype=np.int64)  # rows of step h+1 that quad reflects
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

    def record(
        self, h: int, x, a: int, b: int, r_l: float, r_f: float, x_next, phi=None, psi=None
    ) -> None:
        """Store one transition of step ``h`` and add ``φφᵀ`` to ``Λ_h`` (Algorithm 1, line 5).

        ``phi (A, B, d)`` and ``psi (A, B, d)`` may be passed when the caller already has the
        features of ``x`` and ``x_next``.
        """
        # The compiled store below trusts its indices and shapes: check them here.
        if not (0 <= h < self.H and 0 <= a < self.A and 0 <= b < self.B):
            raise ValueError(
                f"need 0 <= h < {self.H}, 0 <= a < {self.A}, 0 <= b < {self.B}; got {h}, {a}, {b}"
            )
        if self._n[h] == self._phi_rows.shape[1]:
            self._grow(2 * self._phi_rows.shape[1])
        phi = self._features(x) if phi is None else self._checked(phi, "phi")
        f = phi[a, b]
        if h == self.H - 1:  # no next-state features are kept at the last step
            f_next = phi
        else:
            f_next = self._features(x_next) if psi is None else self._checked(psi, "psi")
        _kernels.record_sample(
            self._phi_rows, self._r_rows, self._psi, self.Lambda, self._n, h,
            f, float(r_l), float(r_f), f_next,
        )  # fmt: skip

    @property
    def n_samples(self) -> np.ndarray:
        """``(H,)`` number of samples recorded at each step."""
        return self._n.copy()

    def observations(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """The features ``φ (n, d)`` and rewards ``(n, 2)`` recorded at step ``h`` (read-only)."""
        n = self._n[h]
        phi, r = self._phi_rows[h, :n], self._r_rows[h, :n]
        phi.flags.writeable = r.flags.writeable = False
        return phi, r

    # ------------------------------------------------------------------ planning
    def should_plan(self, k: int) -> bool:
        """Whether the schedule re-plans at the start of episode ``k`` (0-based)."""
        if self.n_plans == 0 or self.schedule == "every":
            return True
        if self.schedule == "every-n":
            return k % self.schedule_n == 0
        logdet = np.linalg.slogdet(self.Lambda)[1]
        return bool((logdet > self.logdet_at_plan + math.log(2.0)).any())

    def plan(self) -> None:
        """Backward pass of Algorithm 1, lines 4–14, over all recorded data."""
        refresh = (not self.incremental) or (self.n_plans % self.refresh_every == 0)
        self._update_inverse(refresh)
        self._backward(refresh)
        if self.schedule == "doubling":
            self.logdet_at_plan = np.linalg.slogdet(self.Lambda)[1]
        self.n_plans += 1

    def _update_inverse(self, refresh: bool) -> None:
        """``Λ_h^{-1}`` for the data so far: Sherman–Morrison when each ``Λ_h`` gained one row."""
        n = self._n.copy()
        if refresh or not (n - self._n_inverse == 1).all():
            self.Lambda_inv = np.linalg.inv(self.Lambda)
        else:
            phi = self._phi_rows[np.arange(self.H), n - 1]  # (H, d): the new rows
            u = np.einsum("hde,he->hd", self.Lambda_inv, phi)
            denom = 1.0 + np.einsum("hd,hd->h", phi, u)
            self.Lambda_inv = self.Lambda_inv - u[:, :, None] * (u / denom[:, None])[:, None, :]
        self._n_inverse = n

    def _backward(self, refresh: bool) -> None:
        """``w`` of every step in one compiled pass (:func:`._kernels.plan.backward_pass`)."""
        drift = np.empty(self.H)
        _kernels.backward_pass(
            self._phi_rows, self._r_rows, self._psi, self._quad, self._n, self._n_quad,
            self._seen_next, self.Lambda_inv, self.w, self.A, self.beta, float(self.H),
            self.alpha_l, self.alpha_f, self.incremental, refresh, drift,
        )  # fmt: skip
        self.drift.extend(float(x) for x in drift[::-1] if not math.isnan(x))

    # ------------------------------------------------------------------ acting
    def _checked(self, features, name: str) -> np.ndarray:
        """``features`` as a C-contiguous float64 ``(A, B, d)`` array, or a ``ValueError``."""
        out = np.ascontiguousarray(features, dtype=np.float64)
        if out.shape != (self.A, self.B, self.d):
            raise ValueError(
                f"{name} must have shape (A, B, d) = ({self.A}, {self.B}, {self.d}), "
                f"got {out.shape}"
            )
        return out

    def _features(self, x) -> np.ndarray:
        """``φ(x, ·, ·) (A, B, d)``: a row of the table, or ``feature_map``'s (checked).

        Without a table the last finite state's features are kept: one step asks for them up
        to three times (acting, recording, and as the next state).
        """
        if self._table is not None:
            return self._table[x]
        if not isinstance(x, int | np.integer):
            return self._checked(self.feature_map(np.asarray([x]))[0], "feature_map(x)")
        if self._phi_state != x:
            phi = self._checked(self.feature_map(np.asarray([x]))[0], "feature_map(x)")
            self._phi_state, self._phi = int(x), phi
        return self._phi

    def _state(self, h: int, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``Q (2, A, B)``, ``pi_l (A,)``, ``pi_f (A, B)`` at ``(h, x)`` (lines 16–20)."""
        phi = self._features(x)
        return _kernels.state_policies(
            phi, self.w[:, h], self.Lambda_inv[h], self.beta, float(self.H),
            self.alpha_l, self.alpha_f,
        )  # fmt: skip

    def q_values(self, h: int, x) -> np.ndarray:
        """Optimistic ``Q_{m,h}(x, ·, ·)`` of both players: ``(2, A, B)``."""
        return self._state(h, x)[0]

    def leader_policy(self, h: int, x) -> np.ndarray:
        """``π_{l,h}(·|x)``: ``(A,)`` (Algorithm 1, lines 16–20)."""
        _, pi_l, pi_f = self._state(h, x)
        # Lines 17-18 computed the follower's policy at every a: a learner shared by both
        # players (the centralised path) hands it to the follower instead of recomputing it.
        self._last_state = (self.n_plans, h, x) if isinstance(x, int | np.integer) else None
        self._last_pi_f = pi_f
        return pi_l

    def follower_policy(self, h: int, x, a: int) -> np.ndarray:
        """``π_{f,h}(·|x, a)``: ``(B,)`` (Algorithm 2, line 4)."""
        if isinstance(x, int | np.integer) and self._last_state == (self.n_plans, h, x):
            return self._last_pi_f[a]
        return self._state(h, x)[2][a]

    def policy_tables(self, game_or_features) -> tuple[np.ndarray, np.ndarray]:
        """Both players' current policies at every state of a finite game.

        Args:
            game_or_features: a :class:`~stackelberg_rl.games.FiniteGame` or its
                ``features (S, A, B, d)``.

        Returns:
            ``pi_l (H, S, A)`` and ``pi_f (H, S, A, B)``.
        """
        features = getattr(game_or_features, "features", game_or_features)
        key = self._table_key(features)
        if self._tables_key == key:  # the leader's and the follower's tables come from one pass
            return self._tables
        S = features.shape[0]
        pi_l = np.empty((self.H, S, self.A))
        pi_f = np.empty((self.H, S, self.A, self.B))
        for h in range(self.H):
            Q = optimistic_q(features, self.w[:, h], self.Lambda_inv[h], self.beta, self.H)
            pi_l[h], pi_f[h] = soft_policies(Q, self.alpha_l, self.alpha_f)[:2]
        self._tables_key, self._tables = key, (pi_l, pi_f)
        return pi_l, pi_f

    def follower_table(self, game_or_features) -> np.ndarray:
        """The follower's current policy at every state, ``pi_f (H, S, A, B)``.

        The same as ``policy_tables(...)[1]``, without the leader's soft-max when the pair is not
        already made (a follower that owns its learner needs only its own table).
        """
        features = getattr(game_or_features, "features", game_or_features)
        if self._tables_key == self._table_key(features):
            return self._tables[1]
        pi_f = np.empty((self.H, features.shape[0], self.A, self.B))
        for h in range(self.H):
            Q = optimistic_q(features, self.w[:, h], self.Lambda_inv[h], self.beta, self.H)
            pi_f[h] = softmax(Q[..., 1, :, :], self.alpha_f, axis=-1)
        return pi_f

    def _table_key(self, features: np.ndarray) -> tuple:
        """What the policy tables depend on besides the features: the plan and the ``α``."""
        return (self.n_plans, id(features), self.alpha_l, self.alpha_f)
