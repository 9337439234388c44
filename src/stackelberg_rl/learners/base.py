"""What every soft-max LSVI-UCB learner shares: parameters, input checks, schedule, policy queries.

:class:`LSVIUCBLearner` holds no statistics and no compiled code: the fast learner
(:class:`~stackelberg_rl.learners.SoftmaxLSVIUCB`) and the from-scratch one
(:class:`~stackelberg_rl.learners.ReferenceLSVIUCB`) each keep their own and say how to plan and
how to turn ``w``, ``Λ^{-1}`` and features into policies. Everything a caller hands in is checked
here first, with a :class:`ValueError` naming the argument: a bad index, a NaN reward or an
over-long feature vector would otherwise be stored and spread into every later policy.
"""

from __future__ import annotations

import abc
import math
import sys
from collections.abc import Callable

import numpy as np

from .functional import alpha_value

FeatureMap = Callable[[np.ndarray], np.ndarray]
"""Maps a batch of states ``(n, ...)`` to features ``(n, A, B, d)``."""

SCHEDULES = ("every", "every-n", "doubling")

NORM_TOL = 1e-9
"""``‖φ‖₂ ≤ 1 + NORM_TOL`` (math.md §1)."""

REWARD_TOL = 1e-9
"""Realised rewards lie in ``[-1 - REWARD_TOL, 1 + REWARD_TOL]`` (math.md §1)."""

PLAYERS = ("leader", "follower")


class NonFiniteError(ValueError):
    """A plan or a policy that is not finite, named by episode, step and player."""


def check_index(value, n: int, name: str) -> int:
    """``value`` as an integer in ``[0, n)``, or a :class:`ValueError` naming ``name``.

    Booleans and floats are refused (``1.0`` is not an index); so are negative integers, which
    numpy would silently read from the end.
    """
    if (type(value) is int or isinstance(value, np.integer)) and 0 <= value < n:
        return int(value)
    raise ValueError(f"{name} must be an integer in [0, {n}), got {value!r}")


def check_reward(value, name: str) -> float:
    """``value`` as a float in ``[-1, 1]`` (math.md §1, within :data:`REWARD_TOL`), or an error."""
    try:
        r = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [-1, 1], got {value!r}") from None
    if not -1.0 - REWARD_TOL <= r <= 1.0 + REWARD_TOL:  # also false for NaN
        raise ValueError(f"{name} must be finite and in [-1, 1], got {value!r}")
    return r


def check_features(phi, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``phi`` as a C-contiguous float64 array of ``shape``, finite, each ``‖φ‖₂ ≤ 1``."""
    out = np.ascontiguousarray(phi, dtype=np.float64)
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    norms = np.sqrt(np.einsum("...d,...d->...", out, out))
    if not np.isfinite(norms).all():
        raise ValueError(f"{name} has a non-finite entry at index {_first(~np.isfinite(out))}")
    if norms.max(initial=0.0) > 1.0 + NORM_TOL:
        at = _first(norms > 1.0 + NORM_TOL)
        raise ValueError(f"{name} at index {at} has norm {norms[at]!r} > 1")
    return out


def _first(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first true entry of ``mask``."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


class LSVIUCBLearner(abc.ABC):
    """Parameters, checks, schedule and policy queries of soft-max LSVI-UCB (Algorithms 1–2).

    Args:
        feature_map: ``states (n, ...) -> phi (n, A, B, d)``, or for a finite state space
            the table ``phi (S, A, B, d)`` itself (then states are row indices in ``[0, S)``).
        n_leader_actions: ``|A|``.
        n_follower_actions: ``|B|`` (1 gives single-agent LSVI-UCB).
        dim: ``d``.
        horizon: ``H``.
        beta: bonus scale ``β ≥ 0``, finite.
        lam: ridge ``λ > 0``, finite.
        alpha_l: leader soft-max parameter, a number (``inf``: greedy); a schedule sets the
            attribute before each plan.
        alpha_f: follower soft-max parameter, likewise.
        schedule: ``"every"`` episode (the paper's), ``"every-n"`` episodes, or ``"doubling"``
            (re-plan when ``det Λ_h`` has doubled for some ``h`` since the last plan).
        schedule_n: ``n`` of ``"every-n"``.

    Attributes:
        w: ``(2, H, d)`` the ridge solutions of the last plan (Algorithm 1, line 6).
        Lambda_inv: ``(H, d, d)`` ``Λ_h^{-1}`` of the last plan, the one the policies are
            played with (its bonus, Algorithm 1, line 7).
        n_plans: plans made so far.
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
    ) -> None:
        sizes = {
            "n_leader_actions": n_leader_actions,
            "n_follower_actions": n_follower_actions,
            "dim": dim,
            "horizon": horizon,
            "schedule_n": schedule_n,
        }
        for name, value in sizes.items():
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        for name, value, low in (("lam", lam, "> 0"), ("beta", beta, ">= 0")):
            ok = isinstance(value, int | float | np.number) and math.isfinite(value)
            if not ok or not (value > 0 if name == "lam" else value >= 0):
                raise ValueError(f"{name} must be a finite number {low}, got {value!r}")
        alphas = {}
        for name, value, n in (
            ("alpha_l", alpha_l, n_leader_actions),
            ("alpha_f", alpha_f, n_follower_actions),
        ):
            if isinstance(value, str):
                raise ValueError(
                    f"{name}: the learner takes numbers; use alpha_value for {value!r}"
                )
            try:
                alphas[name] = alpha_value(value, n, horizon, 1, 0)
            except (TypeError, ValueError) as err:
                raise ValueError(f"{name}: {err}") from None
        A, B, d, H = (int(v) for v in (n_leader_actions, n_follower_actions, dim, horizon))
        self.n_leader_actions, self.n_follower_actions, self.dim, self.horizon = A, B, d, H
        self.table: np.ndarray | None = None
        """The feature table ``(S, A, B, d)`` of a finite state space, else ``None``."""
        if isinstance(feature_map, np.ndarray):
            if feature_map.ndim != 4:
                raise ValueError(
                    f"a feature table must have shape (S, A, B, d) = (S, {A}, {B}, {d}), "
                    f"got {feature_map.shape}"
                )
            shape = (feature_map.shape[0], A, B, d)
            self.table = check_features(feature_map, shape, "the feature table (S, A, B, d)")
            self.feature_map: FeatureMap = self.table.__getitem__
        else:
            self.feature_map = feature_map
        self.beta, self.lam = float(beta), float(lam)
        self.alpha_l, self.alpha_f = alphas["alpha_l"], alphas["alpha_f"]
        self.schedule, self.schedule_n = schedule, int(schedule_n)
        self.w = np.zeros((2, H, d))
        self.Lambda_inv = np.broadcast_to(np.eye(d) / lam, (H, d, d)).copy()
        self.n_plans = 0
        self.planned_episode: int | None = None
        """The episode given to the last :meth:`plan`, if any."""
        self._logdet_at_plan = np.full(H, d * math.log(lam))
        self._last_state: tuple | None = None
        self._last_pi_f = np.empty(0)
        self._tables_key: tuple | None = None
        self._tables: tuple[np.ndarray, np.ndarray] = (np.empty(0), np.empty(0))

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """Everything the learner has learned and will act on, as arrays and numbers.

        With :meth:`load_state_dict` on a learner made with the same arguments, it continues
        exactly as this one would: the same plans and policies, bit for bit. Caches that are
        recomputed identically (the policy tables) are left out; so is what the constructor
        sets (the features, ``λ``, the schedule). The arrays are the learner's own, not copies:
        serialise them before it changes.
        """
        return {
            "w": self.w,
            "Lambda_inv": self.Lambda_inv,
            "n_plans": self.n_plans,
            "planned_episode": self.planned_episode,
            "logdet_at_plan": self._logdet_at_plan,
            "alpha_l": self.alpha_l,
            "alpha_f": self.alpha_f,
            "beta": self.beta,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s ``state`` (this learner's data is replaced).

        Raises:
            ValueError: an entry is missing or has the wrong type, dtype or shape for this
                learner (naming it).
        """
        H, d = self.horizon, self.dim
        self.w = state_array(state, "w", (2, H, d), np.float64)
        self.Lambda_inv = state_array(state, "Lambda_inv", (H, d, d), np.float64)
        self._logdet_at_plan = state_array(state, "logdet_at_plan", (H,), np.float64)
        self.n_plans = state_int(state, "n_plans")
        episode = state.get("planned_episode")
        self.planned_episode = None if episode is None else state_int(state, "planned_episode")
        for name in ("alpha_l", "alpha_f", "beta"):
            setattr(self, name, state_float(state, name))
        self._last_state, self._last_pi_f = None, np.empty(0)
        self._tables_key, self._tables = None, (np.empty(0), np.empty(0))

    # ------------------------------------------------------------------ checks
    @property
    def n_states(self) -> int | None:
        """``|S|`` of a feature table, ``None`` for a feature map."""
        return None if self.table is None else self.table.shape[0]

    def _check_step(self, h) -> int:
        return check_index(h, self.horizon, "h")

    def _features(self, x, name: str = "x") -> np.ndarray:
        """``φ(x, ·, ·) (A, B, d)``: a row of the table (``x`` an index), or ``feature_map``'s.

        ``feature_map``'s features are checked: the shape, finite entries and ``‖φ‖ ≤ 1``.
        """
        if self.table is not None:
            return self.table[check_index(x, self.table.shape[0], name)]
        A, B, d = self.n_leader_actions, self.n_follower_actions, self.dim
        phi = self.feature_map(np.asarray([x]))
        return check_features(np.asarray(phi)[0], (A, B, d), f"feature_map({name})")

    def _check_transition(self, h, x, a, b, r_l, r_f, x_next) -> tuple:
        """The checked ``(h, φ(x) (A, B, d), a, b, r_l, r_f, φ(x_next) or None)`` of a record.

        ``x_next`` is checked (and its features made) only where it is used, ``h < H - 1``;
        with a feature table it must be a valid index at every step.
        """
        h = self._check_step(h)
        a = check_index(a, self.n_leader_actions, "a")
        b = check_index(b, self.n_follower_actions, "b")
        r_l, r_f = check_reward(r_l, "r_l"), check_reward(r_f, "r_f")
        phi = self._features(x)
        psi = None
        if h < self.horizon - 1:
            psi = self._features(x_next, "x_next")
        elif self.table is not None:
            check_index(x_next, self.table.shape[0], "x_next")
        return h, phi, a, b, r_l, r_f, psi

    # ------------------------------------------------------------------ data
    @abc.abstractmethod
    def record(self, h: int, x, a: int, b: int, r_l: float, r_f: float, x_next) -> None:
        """Store one transition of step ``h`` (Algorithm 1, line 5); every argument is checked."""

    @property
    @abc.abstractmethod
    def n_samples(self) -> np.ndarray:
        """``(H,)`` number of samples recorded at each step."""

    @abc.abstractmethod
    def observations(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """The features ``φ (n, d)`` and rewards ``(n, 2)`` recorded at step ``h`` (read-only)."""

    @property
    @abc.abstractmethod
    def Lambda(self) -> np.ndarray:
        """``(H, d, d)`` ``Λ_h = λI + Σ_τ φ_h^τ φ_h^τᵀ`` of the data recorded so far."""

    # ------------------------------------------------------------------ planning
    def should_plan(self, k: int) -> bool:
        """Whether the schedule re-plans at the start of episode ``k`` (0-based)."""
        k = check_index(k, sys.maxsize, "k")
        if self.n_plans == 0 or self.schedule == "every":
            return True
        if self.schedule == "every-n":
            return k % self.schedule_n == 0
        logdet = np.linalg.slogdet(self.Lambda)[1]
        return bool((logdet > self._logdet_at_plan + math.log(2.0)).any())

    def plan(self, episode: int | None = None) -> None:
        """Backward pass of Algorithm 1, lines 4–14, over all recorded data.

        Args:
            episode: the episode this plan is for, named in the error if ``w`` or ``Λ^{-1}``
                comes out non-finite (:class:`NonFiniteError`).
        """
        if episode is not None:
            episode = check_index(episode, sys.maxsize, "episode")
        self._plan()
        self.planned_episode = episode
        when = f"plan {self.n_plans}" if episode is None else f"the plan of episode {episode}"
        for name, values in (("w", self.w), ("Lambda_inv", self.Lambda_inv[None])):
            bad = ~np.isfinite(values[:, ::-1])  # the backward pass goes from h = H - 1
            if bad.any():
                m, h = _first(bad)[:2]
                h = values.shape[1] - 1 - h
                player = PLAYERS[m] if name == "w" else "both players"
                raise NonFiniteError(
                    f"{when}: {name} of the {player} at step {h} is not finite "
                    f"(lam={self.lam!r}, beta={self.beta!r})"
                )
        if self.schedule == "doubling":
            self._logdet_at_plan = np.linalg.slogdet(self.Lambda)[1]
        self.n_plans += 1

    @abc.abstractmethod
    def _plan(self) -> None:
        """Set ``w`` and ``Lambda_inv`` from the data recorded so far."""

    # ------------------------------------------------------------------ the policies
    @abc.abstractmethod
    def _policies(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        """``Q (n, 2, A, B)``, ``pi_l (n, A)``, ``pi_f (n, A, B)`` and whether all are finite.

        At the states of ``phi (n, A, B, d)`` (Algorithm 1, lines 7–20). Row ``i`` must depend
        on ``phi[i]`` alone, to the bit: acting asks for one state, the policy tables for all of
        them, and the two must agree.
        """

    def _state(self, h, x, what: str = "Q and the policies") -> tuple:
        """``Q (2, A, B)``, ``pi_l (A,)``, ``pi_f (A, B)`` at ``(h, x)``, checked finite."""
        h = self._check_step(h)
        if self.table is not None:  # the row as a batch of one, without a copy
            i = check_index(x, self.table.shape[0], "x")
            phi = self.table[i : i + 1]
        else:
            phi = self._features(x)[None]
        Q, pi_l, pi_f, finite = self._policies(h, phi)
        if not finite:
            raise NonFiniteError(
                f"{what} at step {h}, state {x!r} are not finite ({self._plan_name()})"
            )
        return Q[0], pi_l[0], pi_f[0]

    def _plan_name(self) -> str:
        if self.planned_episode is None:
            return f"after {self.n_plans} plans"
        return f"plan of episode {self.planned_episode}"

    def q_values(self, h: int, x) -> np.ndarray:
        """Optimistic ``Q_{m,h}(x, ·, ·)`` of both players: ``(2, A, B)`` (line 7)."""
        return self._state(h, x)[0]

    def leader_policy(self, h: int, x) -> np.ndarray:
        """``π_{l,h}(·|x)``: ``(A,)`` (Algorithm 1, lines 16–20)."""
        _, pi_l, pi_f = self._state(h, x, "the leader's policy and Q")
        # Lines 17-18 computed the follower's policy at every a: a learner shared by both
        # players (the centralised path) hands it to the follower instead of recomputing it.
        self._last_state = self._policy_key(h, x)
        self._last_pi_f = pi_f
        return pi_l

    def follower_policy(self, h: int, x, a: int) -> np.ndarray:
        """``π_{f,h}(·|x, a)``: ``(B,)`` (Algorithm 2, line 4)."""
        a = check_index(a, self.n_leader_actions, "a")
        key = self._policy_key(h, x)
        if key is not None and key == self._last_state:
            return self._last_pi_f[a]
        return self._state(h, x, "the follower's policy and Q")[2][a]

    def _policy_key(self, h, x) -> tuple | None:
        """What the policy at ``(h, x)`` depends on, for an index state; ``None`` otherwise."""
        if type(x) is int or isinstance(x, np.integer):
            return (self.n_plans, self.alpha_l, self.alpha_f, self.beta, h, int(x))
        return None

    def policy_tables(self, game_or_features=None) -> tuple[np.ndarray, np.ndarray]:
        """Both players' current policies at every state of a finite state space.

        Each row is computed as acting computes it (:meth:`_policies`), so the tables are the
        policies that are played, to the bit.

        Args:
            game_or_features: a :class:`~stackelberg_rl.games.FiniteGame` or its features
                ``(S, A, B, d)``; by default the learner's own feature table. The tables of the
                learner's own states are kept until the next plan or change of ``α`` or ``β``
                (read-only arrays).

        Returns:
            ``pi_l (H, S, A)`` and ``pi_f (H, S, A, B)``.
        """
        features = getattr(game_or_features, "features", game_or_features)
        own = features is None or (
            self.table is not None and (features is self.table or _same(features, self.table))
        )
        if own:
            if self.table is None:
                raise ValueError("a learner with a feature map has no table: pass features")
            key = (self.n_plans, self.alpha_l, self.alpha_f, self.beta)
            if self._tables_key == key:
                return self._tables
            features = self.table
        else:
            A, B, d = self.n_leader_actions, self.n_follower_actions, self.dim
            features = check_features(features, (len(features), A, B, d), "features")
        H, S = self.horizon, features.shape[0]
        pi_l = np.empty((H, S, self.n_leader_actions))
        pi_f = np.empty((H, S, self.n_leader_actions, self.n_follower_actions))
        for h in range(H):
            pi_l[h], pi_f[h] = self._checked_policies(h, features)
        if own:
            pi_l.flags.writeable = pi_f.flags.writeable = False
            self._tables_key, self._tables = key, (pi_l, pi_f)
        return pi_l, pi_f

    def policies_at(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Both players' current policies at step ``h`` at the states of ``phi (n, A, B, d)``.

        For any state space: the rows are the ones acting draws from at a state with these
        features (the same compiled path, row by row to the bit), which is how a planner on
        sampled states evaluates the policies played (math.md §6).

        Returns:
            ``pi_l (n, A)`` and ``pi_f (n, A, B)``.

        Raises:
            ValueError: for a bad ``h`` or features of the wrong shape, non-finite or with
                ``‖φ‖ > 1``.
            NonFiniteError: naming the player and the row whose policy is not finite.
        """
        h = self._check_step(h)
        A, B, d = self.n_leader_actions, self.n_follower_actions, self.dim
        if np.ndim(phi) != 4:
            raise ValueError(f"phi must have shape (n, {A}, {B}, {d}), got {np.shape(phi)}")
        return self._checked_policies(h, check_features(phi, (len(phi), A, B, d), "phi"))

    def _checked_policies(self, h: int, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``pi_l (n, A)``, ``pi_f (n, A, B)`` at checked ``features``, or a NonFiniteError."""
        _, pi_l, pi_f, finite = self._policies(h, features)
        if not finite:
            player = "leader" if not np.isfinite(pi_l).all() else "follower"
            x = _first(~np.isfinite(pi_l if player == "leader" else pi_f))[0]
            raise NonFiniteError(
                f"the {player}'s policy at step {h}, state {x} is not finite ({self._plan_name()})"
            )
        return pi_l, pi_f


def state_array(
    state: dict, name: str, shape: tuple[int | None, ...], dtype: np.dtype | type
) -> np.ndarray:
    """``state[name]`` as a writable C-contiguous copy, checked against ``shape`` and ``dtype``.

    ``None`` in ``shape`` matches any length on that axis.

    Raises:
        ValueError: naming the entry, for a missing entry or a wrong dtype, number of axes or
            length.
    """
    if name not in state:
        raise ValueError(f"the learner's state has no {name}")
    value = state[name]
    if not isinstance(value, np.ndarray) or value.dtype != np.dtype(dtype):
        got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"the learner's state: {name} has type {got}, expected {np.dtype(dtype)}")
    if value.ndim != len(shape) or any(
        n is not None and n != m for n, m in zip(shape, value.shape, strict=True)
    ):
        raise ValueError(f"the learner's state: {name} has shape {value.shape}, expected {shape}")
    return np.array(value, dtype=dtype, order="C")


def state_int(state: dict, name: str) -> int:
    """``state[name]`` as a non-negative ``int``, or a :class:`ValueError` naming it."""
    value = state.get(name)
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"the learner's state: {name} must be an integer >= 0, got {value!r}")
    return int(value)


def state_float(state: dict, name: str) -> float:
    """``state[name]`` as a ``float`` (``inf`` allowed, NaN not), or a ValueError naming it."""
    value = state.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise ValueError(f"the learner's state: {name} must be a number, got {value!r}")
    if math.isnan(value):
        raise ValueError(f"the learner's state: {name} is NaN")
    return float(value)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b))
