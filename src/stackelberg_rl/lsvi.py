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
the round-off; the largest correction it made is kept in :attr:`SoftmaxLSVIUCB.drift`. The pass
itself — forms, bonus, both players' ``Q``, both soft-max policies and ``V`` — is one compiled loop
(:mod:`stackelberg_rl._kernels`), because it is bound by memory traffic.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _kernels
from .functional import soft_policies

FeatureMap = Callable[[np.ndarray], np.ndarray]
"""Maps a batch of states ``(n, ...)`` to features ``(n, A, B, d)``."""

SCHEDULES = ("every", "every-n", "doubling")


# ---------------------------------------------------------------------- pure functions
def theory_beta(
    dim: int,
    horizon: int,
    episodes: int,
    n_leader_actions: int,
    n_follower_actions: int,
    c1: float = 1.0,
    p: float = 0.05,
) -> float:
    """``β = C₁ d H √ι`` of Theorem 3, ``ι = log((log|A||B| + 2 log|A| log|B|)·4dT/p)``, ``T = KH``.

    With one action for each player the first factor is zero; it is then taken as 1 so ``ι`` stays
    defined (the bonus of a game with nothing to choose does not matter).
    """
    A, B = n_leader_actions, n_follower_actions
    factor = math.log(A * B) + 2.0 * math.log(A) * math.log(B)
    T = episodes * horizon
    iota = math.log(max(factor, 1.0) * 4.0 * dim * T / p)
    return c1 * dim * horizon * math.sqrt(max(iota, 0.0))


def alpha_value(spec: float | str, n_actions: int, horizon: int, episodes: int, k: int) -> float:
    """The soft-max parameter at episode ``k`` (0-based) from a number or a schedule name.

    ``"fixed-K"``: ``log(n)·√K / H`` (Algorithm 1, line 1); ``"anytime"``: ``log(n)·√(k+1) / H``;
    a number (``inf`` for greedy) is used as it is.
    """
    if isinstance(spec, str):
        if spec == "fixed-K":
            return math.log(n_actions) * math.sqrt(episodes) / horizon
        if spec == "anytime":
            return math.log(n_actions) * math.sqrt(k + 1) / horizon
        raise ValueError(f"alpha must be a number, 'fixed-K' or 'anytime', got {spec!r}")
    value = float(spec)
    if math.isnan(value) or value < 0:
        raise ValueError(f"alpha must be >= 0, got {spec!r}")
    return value


def optimistic_q(
    phi: np.ndarray, w: np.ndarray, Lambda_inv: np.ndarray, beta: float, horizon: float
) -> np.ndarray:
    """``Q_m = min{w_mᵀφ + β‖φ‖_{Λ^{-1}}, H}`` (Algorithm 1, line 7) for both players.

    Args:
        phi: ``(..., A, B, d)``.
        w: ``(2, d)``.
        Lambda_inv: ``(d, d)``.
        beta: bonus scale.
        horizon: the cap ``H``.

    Returns:
        ``Q (..., 2, A, B)``.
    """
    bonus = beta * np.sqrt(np.maximum(np.einsum("...d,de,...e->...", phi, Lambda_inv, phi), 0.0))
    Q = np.minimum(phi @ w.T + bonus[..., None], horizon)  # (..., A, B, 2)
    return np.moveaxis(Q, -1, -3)


# ---------------------------------------------------------------------- the learner
@dataclass
class _StepData:
    """Observations at one step ``h``, in arrays that grow by doubling."""

    phi: np.ndarray  # (cap, d)       φ(x_h^τ, a_h^τ, b_h^τ)
    r: np.ndarray  # (cap, 2)         realised rewards
    # Each sample's |A||B| next-state vectors are stored side by side, (d, A·B): the compiled
    # pass then runs its products across actions, in SIMD lanes.
    psi: np.ndarray | None  # (cap, d, A·B)  φ(x_{h+1}^τ, a, b) as columns, absent at the last step
    quad: np.ndarray | None  # (cap, A·B)  ψᵀΛ_{h+1}^{-1}ψ as of the last plan
    n: int = 0
    n_quad: int = 0  # rows of quad that are computed
    seen_next: int = 0  # rows of step h+1's phi that quad reflects


class SoftmaxLSVIUCB:
    """The statistics and planner of soft-max LSVI-UCB (Algorithms 1 and 2).

    Args:
        feature_map: ``states (n, ...) -> phi (n, A, B, d)``.
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
        feature_map: FeatureMap,
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
        self._data = [self._new_step(h, 16) for h in range(H)]

    # ------------------------------------------------------------------ data
    def _new_step(self, h: int, cap: int) -> _StepData:
        last = h == self.H - 1
        return _StepData(
            phi=np.empty((cap, self.d)),
            r=np.empty((cap, 2)),
            psi=None if last else np.empty((cap, self.d, self.A * self.B), dtype=self.dtype),
            quad=None if last else np.empty((cap, self.A * self.B)),
        )

    @staticmethod
    def _grow(a: np.ndarray | None, n: int) -> np.ndarray | None:
        """``a`` with room for row ``n`` (capacity doubles when full)."""
        if a is None or n < len(a):
            return a
        out = np.empty((2 * len(a),) + a.shape[1:], dtype=a.dtype)
        out[:n] = a[:n]
        return out

    def record(
        self, h: int, x, a: int, b: int, r_l: float, r_f: float, x_next, phi=None, psi=None
    ) -> None:
        """Store one transition of step ``h`` and add ``φφᵀ`` to ``Λ_h`` (Algorithm 1, line 5).

        ``phi (A, B, d)`` and ``psi (A, B, d)`` may be passed when the caller already has the
        features of ``x`` and ``x_next``.
        """
        D = self._data[h]
        if D.n == len(D.phi):
            D.phi, D.r = self._grow(D.phi, D.n), self._grow(D.r, D.n)
            D.psi, D.quad = self._grow(D.psi, D.n), self._grow(D.quad, D.n)
        f = (self._features(x) if phi is None else phi)[a, b]
        D.phi[D.n] = f
        D.r[D.n, 0] = r_l
        D.r[D.n, 1] = r_f
        if D.psi is not None:
            f_next = self._features(x_next) if psi is None else psi
            D.psi[D.n] = f_next.reshape(self.A * self.B, self.d).T
        D.n += 1
        self.Lambda[h] += np.outer(f, f)

    @property
    def n_samples(self) -> np.ndarray:
        """``(H,)`` number of samples recorded at each step."""
        return np.array([D.n for D in self._data])

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
        H = self.H
        refresh = (not self.incremental) or (self.n_plans % self.refresh_every == 0)
        self._update_inverse(refresh)
        for h in range(H - 1, -1, -1):
            D = self._data[h]
            n = D.n
            y = D.r[:n].copy()
            if h < H - 1 and n > 0:
                y += self._next_values(h, refresh)
            self.w[:, h] = (self.Lambda_inv[h] @ (D.phi[:n].T @ y)).T
        if self.schedule == "doubling":
            self.logdet_at_plan = np.linalg.slogdet(self.Lambda)[1]
        self.n_plans += 1

    def _update_inverse(self, refresh: bool) -> None:
        """``Λ_h^{-1}`` for the data so far: Sherman–Morrison when each ``Λ_h`` gained one row."""
        n = self.n_samples
        if refresh or not (n - self._n_inverse == 1).all():
            self.Lambda_inv = np.linalg.inv(self.Lambda)
        else:
            phi = np.stack([D.phi[D.n - 1] for D in self._data])  # (H, d): the new rows
            u = np.einsum("hde,he->hd", self.Lambda_inv, phi)
            denom = 1.0 + np.einsum("hd,hd->h", phi, u)
            self.Lambda_inv = self.Lambda_inv - u[:, :, None] * (u / denom[:, None])[:, None, :]
        self._n_inverse = n

    def _next_values(self, h: int, refresh: bool) -> np.ndarray:
        """``V_{m,h+1}`` at the stored next states of step ``h``: ``(n, 2)`` (lines 9–14)."""
        D, Dn = self._data[h], self._data[h + 1]
        n, d = D.n, self.d
        Linv = self.Lambda_inv[h + 1]
        pending = Dn.phi[D.seen_next : Dn.n]  # rows Λ_{h+1} gained since the forms were made
        m = len(pending)
        # Downdating costs O(m) per form, recomputing O(d): beyond m ~ d/2 recompute.
        if not self.incremental or D.n_quad == 0 or 2 * m >= d:
            mode = _kernels.MODE_EXACT
        else:
            mode = _kernels.MODE_MEASURE if refresh else _kernels.MODE_DOWNDATE
        U = pending @ Linv  # (m, d): rows of Φ_p Λ_new^{-1}
        if m == 1:  # Sherman–Morrison: a scalar
            M_inv = np.array([[1.0 / (1.0 - float(U[0] @ pending[0]))]])
        else:
            M_inv = np.linalg.inv(np.eye(m) - U @ pending.T) if m else np.zeros((0, 0))
        V = np.empty((n, 2))
        drift = _kernels.next_state_values(
            D.psi, D.quad, n, D.n_quad, self.A, np.ascontiguousarray(self.w[:, h + 1]),
            np.ascontiguousarray(U), M_inv, Linv, self.beta, float(self.H),
            self.alpha_l, self.alpha_f, mode, V,
        )  # fmt: skip
        if mode == _kernels.MODE_MEASURE:
            self.drift.append(float(drift))
        D.n_quad, D.seen_next = n, Dn.n
        return V

    # ------------------------------------------------------------------ acting
    def _features(self, x) -> np.ndarray:
        """``φ(x, ·, ·) (A, B, d)``, keeping the last finite state's.

        One step asks for them up to three times: acting, recording, and as the next state.
        """
        if not isinstance(x, int | np.integer):
            return self.feature_map(np.asarray([x]))[0]
        if self._phi_state != x:
            self._phi_state, self._phi = int(x), self.feature_map(np.asarray([x]))[0]
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
        key = (self.n_plans, id(features), self.alpha_l, self.alpha_f)
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


class ReferenceLSVIUCB(SoftmaxLSVIUCB):
    """A straightforward vectorised soft-max LSVI-UCB: every plan starts from scratch.

    It keeps the stored next states, and at each plan rebuilds their features, inverts ``Λ`` and
    recomputes every bonus with numpy — no cache, no downdates, no compiled code. It is the
    baseline of ``stackelberg-rl bench`` and a cross-check of :class:`SoftmaxLSVIUCB`.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._next_states: list[list] = [[] for _ in range(self.H)]

    def record(self, h: int, x, a: int, b: int, r_l: float, r_f: float, x_next, **kw) -> None:
        """Store the transition and its next state."""
        super().record(h, x, a, b, r_l, r_f, x_next, **kw)
        self._next_states[h].append(x_next)

    def _update_inverse(self, refresh: bool) -> None:
        self.Lambda_inv = np.linalg.inv(self.Lambda)

    def _next_values(self, h: int, refresh: bool) -> np.ndarray:
        psi = self.feature_map(np.asarray(self._next_states[h]))  # (n, A, B, d)
        Q = optimistic_q(psi, self.w[:, h + 1], self.Lambda_inv[h + 1], self.beta, self.H)
        return soft_policies(Q, self.alpha_l, self.alpha_f)[4]  # (n, 2)
