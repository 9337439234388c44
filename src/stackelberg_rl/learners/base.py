"""What every soft-max LSVI-UCB learner shares: parameters, input checks, schedule, policy queries.

A leader and ``N ≥ 1`` followers move in order (math.md §9). Player-indexed arrays have a leading
axis ``P = 1+N`` (``w (P, H, d)``, rewards ``(P,)``, ``Q (P, A_0, …, A_N)``); the policies are a
tuple, player ``i``'s ``(…, A_0, …, A_i)``.
"""

from __future__ import annotations

import abc
import functools
import math
import sys
from collections.abc import Callable, Sequence

import numpy as np

from .._validate import TOL, array, check_shape, fast_index, first_index, integer, real
from ..games.base import Players, action_axes, sha256_of

FeatureMap = Callable[[np.ndarray], np.ndarray]
"""Maps a batch of states ``(n, ...)`` to features ``(n, A_0, …, A_N, d)``."""

SCHEDULES = ("every", "every-n", "doubling")

PLAYERS = ("leader", "follower")


def player_name(m: int, n_players: int) -> str:
    """Player ``m``'s name in messages: ``leader``, ``follower`` or, with more, ``follower m``."""
    if m == 0 or n_players == 2:
        return PLAYERS[min(m, 1)]
    return f"follower {m}"


class NonFiniteError(ValueError):
    """A plan or a policy that is not finite, named by episode, step and player."""


def check_features(phi, shape: tuple[int, ...], name: str) -> np.ndarray:
    """``phi`` as a C-contiguous float64 array of ``shape``, finite, each ``‖φ‖₂ ≤ 1``."""
    out = array(phi, name)  # real and finite
    if out.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {out.shape}")
    norms = np.sqrt(np.einsum("...d,...d->...", out, out))
    if norms.max(initial=0.0) > 1.0 + TOL:
        at = first_index(norms > 1.0 + TOL)
        raise ValueError(f"{name} at index {at} has norm {float(norms[at])!r} > 1")
    return out


def _per_player(name: str, general, spellings: dict, n_players: int | None = None) -> tuple:
    """Values and names of ``general`` (``n_players`` long, or ≥ 2) or of the two spellings."""
    given = {k: v for k, v in spellings.items() if v is not None}
    if general is not None and given:
        raise ValueError(f"give {name} or {' and '.join(spellings)}, not both")
    if general is None:
        if len(given) != len(spellings):
            missing = " and ".join(k for k in spellings if k not in given)
            raise ValueError(f"{name} is required: give {name}=(...) one per player, or {missing}")
        if n_players not in (None, 2):
            raise ValueError(
                f"{' and '.join(spellings)} name two players; give {name}=(...) for {n_players}"
            )
        return list(given.values()), list(given)
    return _one_per_player(name, general, n_players)


def _one_per_player(name: str, values, n_players: int | None = None) -> tuple[list, list[str]]:
    """``values`` (``n_players`` of them, or ≥ 2) as a list, and their names ``name[m]``."""
    if (
        isinstance(values, str)
        or not isinstance(values, Sequence | np.ndarray)
        or np.shape(values) == ()  # a 0-d array has no length
    ):
        raise ValueError(f"{name} must hold one value per player, got {values!r}")
    if len(values) < 2 if n_players is None else len(values) != n_players:
        players = "a leader and its followers" if n_players is None else f"{n_players} players"
        raise ValueError(f"{name} must hold one value per player ({players}), got {values!r}")
    return list(values), [f"{name}[{m}]" for m in range(len(values))]


class LSVIUCBLearner(Players, abc.ABC):
    """Parameters, checks, schedule and policy queries of soft-max LSVI-UCB (Algorithms 1–2).

    Args:
        feature_map: ``states (n, ...) -> phi (n, A_0, …, A_N, d)``, or for a finite state
            space the table ``phi (S, A_0, …, A_N, d)`` itself (then states are row indices in
            ``[0, S)``).
        action_counts: ``(|A_0|, …, |A_N|)``, the leader first (``|B| = 1``: single-agent).
        dim, horizon: ``d``, ``H``.
        beta, lam: bonus scale ``β ≥ 0`` and ridge ``λ > 0``, finite.
        alphas: ``(α_0, …, α_N)`` (two players ``(α_l, α_f)``), numbers ``≥ 0`` (``inf``:
            greedy); required. A schedule sets :attr:`alphas` before each plan.
        n_leader_actions, n_follower_actions, alpha_l, alpha_f: the two-player spellings.
        bonus_reward: add the known exploration reward ``u = min(β‖φ‖_{Λ^{-1}}, H)/H`` to every
            player's ``Q`` (math.md §7).
        schedule: ``"every"`` episode (the paper's), ``"every-n"`` episodes (``schedule_n``), or
            ``"doubling"`` (when ``det Λ_h`` has doubled for some ``h`` since the last plan).

    Attributes:
        w: ``(P, H, d)`` the ridge solutions of the last plan (Algorithm 1, line 6).
        Lambda_inv: ``(H, d, d)`` ``Λ_h^{-1}`` the policies are played with (line 7).
        n_plans: plans made so far; planned_episode: the episode of the last :meth:`plan`.
        table: the feature table ``(S, A_0, …, A_N, d)`` of a finite state space, else ``None``.
    """

    def __init__(
        self,
        feature_map: FeatureMap | np.ndarray,
        action_counts: Sequence[int] | None = None,
        dim: int | None = None,
        horizon: int | None = None,
        beta: float | None = None,
        lam: float = 1.0,
        alphas: Sequence[float] | None = None,
        *,
        n_leader_actions: int | None = None,
        n_follower_actions: int | None = None,
        alpha_l: float | None = None,
        alpha_f: float | None = None,
        bonus_reward: bool = False,
        schedule: str = "every",
        schedule_n: int = 1,
    ) -> None:
        counts, names = _per_player(
            "action_counts",
            action_counts,
            {"n_leader_actions": n_leader_actions, "n_follower_actions": n_follower_actions},
        )
        self.action_counts = tuple(integer(n, k, low=1) for n, k in zip(counts, names, strict=True))
        self.n_players = len(self.action_counts)
        self._action_names = action_axes(self.n_players, upper=False)  # in errors: a, b
        d, H = integer(dim, "dim", low=1), integer(horizon, "horizon", low=1)
        schedule_n = integer(schedule_n, "schedule_n", low=1)
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
        self.lam = real(lam, "lam", low=0.0, low_open=True)
        self.beta = beta
        self.table: np.ndarray | None = None
        self.feature_map: FeatureMap = feature_map
        if isinstance(feature_map, np.ndarray):
            axes = ", ".join(action_axes(self.n_players))
            sizes = ", ".join(map(str, self.action_counts))
            if feature_map.ndim != 2 + self.n_players:
                raise ValueError(
                    f"a feature table must have shape (S, {axes}, d) = (S, {sizes}, {d}), one "
                    f"action axis per player of action_counts, got {feature_map.shape}"
                )
            shape = (feature_map.shape[0], *self.action_counts, d)
            name = f"the feature table (S, {axes}, d)"
            self.table = check_features(feature_map, shape, name)
            self.feature_map = self.table.__getitem__
        self.bonus_reward = bool(bonus_reward)
        self.dim, self.horizon = d, H
        self._set_alphas(
            *_per_player("alphas", alphas, {"alpha_l": alpha_l, "alpha_f": alpha_f}, self.n_players)
        )
        self.schedule, self.schedule_n = schedule, schedule_n
        self.w = np.zeros((self.n_players, H, d))
        self.Lambda_inv = np.broadcast_to(np.eye(d) / self.lam, (H, d, d)).copy()
        self.n_plans, self.planned_episode = 0, None
        self.logdet_at_plan = np.full(H, d * math.log(self.lam))  # doubling's reference

    # ------------------------------------------------------------------ parameters
    @property
    def alphas(self) -> np.ndarray:
        """``(P,)`` the soft-max parameters in force (``inf``: greedy); read-only, set it whole."""
        return self._alphas

    @alphas.setter
    def alphas(self, values) -> None:
        self._set_alphas(*_one_per_player("alphas", values, self.n_players))

    def _set_alphas(self, values: list, names: list[str]) -> None:
        """Put ``α`` in force, ``values[m]`` checked (the constructor's checks) by ``names[m]``."""
        alphas = np.array(
            [real(v, k, low=0.0, infinite=True) for v, k in zip(values, names, strict=True)]
        )
        alphas.flags.writeable = False
        self._alphas = alphas
        self._forget_policies()

    @property
    def beta(self) -> float:
        """``β``, the bonus scale."""
        return self._beta

    @beta.setter
    def beta(self, value: float) -> None:
        self._beta = real(value, "beta", low=0.0)
        self._forget_policies()

    @property
    def alpha_l(self) -> float:
        """``α_l``, ``alphas[0]``."""
        return float(self._alphas[0])

    @alpha_l.setter
    def alpha_l(self, value: float) -> None:
        self._set_alphas([value, *self._alphas[1:]], ["alpha_l", *self._alpha_names()[1:]])

    @property
    def alpha_f(self) -> float:
        """``α_f``, ``alphas[1]``."""
        return float(self._alphas[1])

    @alpha_f.setter
    def alpha_f(self, value: float) -> None:
        names = self._alpha_names()
        self._set_alphas(
            [self._alphas[0], value, *self._alphas[2:]], [names[0], "alpha_f", *names[2:]]
        )

    def _alpha_names(self) -> list[str]:
        return [f"alphas[{m}]" for m in range(self.n_players)]

    @property
    def n_joint_actions(self) -> int:
        """``J = |A_0|⋯|A_N|``, the joint actions of one step."""
        return math.prod(self.action_counts)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """What the learner has learned and acts on (its own arrays, not copies).

        :meth:`load_state_dict` on a learner made with the same arguments continues bit for bit;
        what the constructor sets (the schedule) is left out, but for what the statistics were
        gathered with: the kind of learner, the ridge ``λ`` (``Λ_h = λI + Σφφᵀ``) and the
        fingerprint ``features_sha256`` of the feature table.
        """
        return {
            "learner": type(self).__name__,
            "lam": self.lam,
            "features_sha256": self.features_sha256,
            "w": self.w,
            "Lambda_inv": self.Lambda_inv,
            "n_plans": self.n_plans,
            "planned_episode": self.planned_episode,
            "logdet_at_plan": self.logdet_at_plan,
            "alphas": self.alphas,
            "beta": self.beta,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s ``state``; a ValueError names a bad entry."""
        H, d, P = self.horizon, self.dim, self.n_players
        kind = state.get("learner") if isinstance(state, dict) else None  # None: saved before
        if kind is not None and kind != type(self).__name__:
            raise ValueError(
                f"the learner's state is of another kind of learner, {kind}, not this "
                f"{type(self).__name__}"
            )
        w = state_array(state, "w", (P, H, d), np.float64)  # another size: named by its shape
        lam = state.get("lam")  # None: saved before it was kept
        if lam is not None and lam != self.lam:
            raise ValueError(
                f"the learner's state was gathered with lam={lam!r}, this learner has "
                f"lam={self.lam!r}: Lambda = lam*I + sum of phi phi^T would mix the two"
            )
        theirs = state.get("features_sha256")
        if theirs is not None and theirs != self.features_sha256:  # None: saved before it was kept
            raise ValueError(
                f"the learner's state is of another feature table (SHA-256 {str(theirs)[:12]}…, "
                f"this learner's {str(self.features_sha256)[:12]}…)"
            )
        self.w = w
        self.Lambda_inv = state_array(state, "Lambda_inv", (H, d, d), np.float64)
        self.logdet_at_plan = state_array(state, "logdet_at_plan", (H,), np.float64)
        self.n_plans = state_int(state, "n_plans")
        episode = state.get("planned_episode")
        self.planned_episode = None if episode is None else state_int(state, "planned_episode")
        alphas = state_array(state, "alphas", (P,), np.float64, finite=False, low=0.0)
        if np.isnan(alphas).any():
            raise ValueError("the learner's state: alphas has a NaN")
        self.alphas = alphas
        self.beta = real(state.get("beta"), "the learner's state: beta", low=0.0)

    @functools.cached_property
    def features_sha256(self) -> str | None:
        """SHA-256 of the feature table (``None`` with a feature map): what the statistics fit."""
        return None if self.table is None else sha256_of({"features": self.table})

    # ------------------------------------------------------------------ checks
    def _check_step(self, h) -> int:
        return fast_index(h, self.horizon, "h")

    def _features(self, x, name: str = "x") -> np.ndarray:
        """``φ(x, ·) (A_0, …, A_N, d)``: a row of the table, or ``feature_map``'s (checked)."""
        if self.table is not None:
            return self.table[fast_index(x, self.table.shape[0], name)]
        phi = self.feature_map(np.asarray([x]))
        shape = (*self.action_counts, self.dim)
        return check_features(np.asarray(phi)[0], shape, f"feature_map({name})")

    def _check_transition(self, h, x, actions, rewards, x_next) -> tuple:
        """Checked ``(h, φ(x), actions, rewards (P,), φ(x_next))``; ``None`` for ``φ(x_{H})``."""
        h = self._check_step(h)
        actions = self._check_actions(actions, self.n_players, "actions")
        rewards = self._check_rewards(rewards)
        phi = self._features(x)
        psi = None
        if h < self.horizon - 1:
            psi = self._features(x_next, "x_next")
        elif self.table is not None:
            fast_index(x_next, self.table.shape[0], "x_next")
        return h, phi, actions, rewards, psi

    def _check_actions(self, actions, n: int, name: str) -> tuple[int, ...]:
        """The first ``n`` players' ``actions`` as a tuple of checked indices."""
        try:
            if isinstance(actions, str) or len(actions) != n:
                raise TypeError
        except TypeError:
            raise ValueError(
                f"{name} must hold {n} actions, one per player, got {actions!r}"
            ) from None
        counts, names = self.action_counts, self._action_names
        return tuple([fast_index(actions[m], counts[m], names[m]) for m in range(n)])

    def _check_rewards(self, rewards) -> np.ndarray:
        """``rewards`` as ``(P,)`` float64 in ``[-1, 1]``; the common case without a message."""
        try:
            out = np.asarray(rewards, dtype=np.float64)
        except (TypeError, ValueError):
            out = None
        if out is not None and out.shape == (self.n_players,):
            for r in out.tolist():  # NaN fails the test
                if not -1.0 - TOL <= r <= 1.0 + TOL:
                    break
            else:
                return out
        return array(rewards, "rewards", shape=(self.n_players,), axes=("player",),
                     low=-1.0, high=1.0)  # fmt: skip

    # ------------------------------------------------------------------ data
    @abc.abstractmethod
    def record(self, h: int, x, actions: Sequence[int], rewards, x_next) -> None:
        """Store a transition of step ``h`` (Algorithm 1, line 5), every argument checked.

        ``actions (a_0, …, a_N)``, ``rewards (P,)`` in ``[-1, 1]``, states indices with a table.
        """

    def record_episodes(self, states, actions, rewards) -> None:
        """Store whole episodes of a finite state space, as :meth:`record` would one by one.

        ``states (n, H+1)`` indices ``x_0 … x_H`` of each episode, ``actions (n, H, P)``,
        ``rewards (n, H, P)`` in ``[-1, 1]``: all checked first, nothing stored if one is bad.
        """
        self._store_episodes(*self._check_episodes(states, actions, rewards))

    def _store_episodes(self, states, actions, rewards) -> None:
        """Store episodes checked already: int64, int64 and float64 arrays of valid values."""
        for i in range(len(states)):
            for h in range(self.horizon):
                self.record(h, states[i, h], actions[i, h], rewards[i, h], states[i, h + 1])

    def _check_episodes(self, states, actions, rewards) -> tuple[np.ndarray, ...]:
        """The arguments of :meth:`record_episodes` as int64, int64, float64 arrays."""
        if self.table is None:
            raise ValueError("record_episodes needs a learner with a feature table")
        H, P, S = self.horizon, self.n_players, self.table.shape[0]
        checked = []
        for value, name, shape, high in (
            (states, "states", (None, H + 1), np.array(S)),
            (actions, "actions", (None, H, P), np.array(self.action_counts)),
        ):
            value = np.asarray(value)
            if value.size and not np.issubdtype(value.dtype, np.integer):
                raise ValueError(f"{name} must hold integers, got dtype {value.dtype}")
            axes = ("episode", "h", "player")[: len(shape)]
            value = array(value, name, shape=shape, axes=axes, dtype=np.int64)
            bad = (value < 0) | (value >= high)
            if bad.any():
                at = first_index(bad)
                limit = np.broadcast_to(high, value.shape)[at]
                raise ValueError(f"{name} at index {at} is {value[at]}, outside [0, {limit})")
            checked.append(value)
        n = len(checked[0])
        if len(checked[1]) != n:
            raise ValueError(f"actions must hold {n} episodes like states, got {len(checked[1])}")
        rewards = array(rewards, "rewards", shape=(n, H, P), axes=("episode", "h", "player"),
                        low=-1.0, high=1.0)  # fmt: skip
        return (*checked, rewards)

    @property
    @abc.abstractmethod
    def n_samples(self) -> np.ndarray:
        """``(H,)`` number of samples recorded at each step."""

    @abc.abstractmethod
    def observations(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """The features ``φ (n, d)`` and rewards ``(n, P)`` recorded at step ``h``."""

    @property
    @abc.abstractmethod
    def Lambda(self) -> np.ndarray:
        """``(H, d, d)`` ``Λ_h = λI + Σ_τ φ_h^τ φ_h^τᵀ`` of the data recorded so far."""

    # ------------------------------------------------------------------ planning
    def should_plan(self, k: int) -> bool:
        """Whether the schedule re-plans at the start of episode ``k`` (0-based)."""
        k = fast_index(k, sys.maxsize, "k")
        if self.n_plans == 0 or self.schedule == "every":
            return True
        if self.schedule == "every-n":
            return k % self.schedule_n == 0
        logdet = np.linalg.slogdet(self.Lambda)[1]
        return bool((logdet > self.logdet_at_plan + math.log(2.0)).any())

    def plan(self, episode: int | None = None) -> None:
        """Backward pass of Algorithm 1, lines 4–14, over all recorded data.

        ``episode``: the plan's, named in the :class:`NonFiniteError` if ``w`` or ``Λ^{-1}`` is not
        finite.
        """
        if episode is not None:
            episode = fast_index(episode, sys.maxsize, "episode")
        try:
            self._plan()
        except np.linalg.LinAlgError:  # Λ_h = λI + Σ φφᵀ with λ below double precision's reach
            raise self._not_finite(episode, "Lambda is singular to machine precision") from None
        self._forget_policies()
        self.planned_episode = episode
        for name, values in (("w", self.w), ("Lambda_inv", self.Lambda_inv[None])):
            bad = ~np.isfinite(values[:, ::-1])  # the backward pass goes from h = H - 1
            if bad.any():
                m, h = first_index(bad)[:2]
                whose = f" of the {player_name(m, self.n_players)}" if name == "w" else ""
                at = values.shape[1] - 1 - h
                raise self._not_finite(episode, f"{name}{whose} at step {at} is not finite")
        if self.schedule == "doubling":
            self.logdet_at_plan = np.linalg.slogdet(self.Lambda)[1]
        self.n_plans += 1

    def _not_finite(self, episode: int | None, what: str) -> NonFiniteError:
        """The error of a plan that failed, naming it and the parameters it was made with."""
        when = f"plan {self.n_plans}" if episode is None else f"the plan of episode {episode}"
        return NonFiniteError(f"{when}: {what} (lam={self.lam!r}, beta={self.beta!r})")

    @abc.abstractmethod
    def _plan(self) -> None:
        """Set ``w`` and ``Lambda_inv`` from the data recorded so far."""

    # ------------------------------------------------------------------ the policies
    @abc.abstractmethod
    def _policies(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, tuple, bool]:
        """``Q (n, P, A_0, …, A_N)``, the policies and whether finite, at ``phi (n, …, d)``.

        Row ``i`` must depend on ``phi[i]`` alone, to the bit (Algorithm 1, lines 7–20).
        """

    def _policies_by_step(self, features: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every player's policy ``(H, n, A_0, …, A_i)`` at ``features`` (checked as acting's)."""
        per_step = [self._checked_policies(h, features) for h in range(self.horizon)]
        return tuple(np.stack(pis) for pis in zip(*per_step, strict=True))

    def _forget_policies(self) -> None:  # after a plan or a new α or β
        self._last_key: tuple | None = None
        self._last_policies: tuple = ()
        self._tables: tuple | None = None

    def _state(self, h, x, player: int | None = None) -> tuple[np.ndarray, tuple]:
        """``Q (1, P, …)`` and the policies at ``(h, x)``, ``player`` named if not finite."""
        h = self._check_step(h)
        if self.table is not None:  # the row as a batch of one, without a copy
            i = fast_index(x, self.table.shape[0], "x")
            phi = self.table[i : i + 1]
        else:
            phi = self._features(x)[None]
        Q, policies, finite = self._policies(h, phi)
        if not finite:
            what = "Q and the policies"
            if player is not None:
                what = f"the {player_name(player, self.n_players)}'s policy and Q"
            raise NonFiniteError(
                f"{what} at step {h}, state {x!r} are not finite ({self._plan_name()})"
            )
        return Q, policies

    def _plan_name(self) -> str:
        if self.planned_episode is None:
            return f"after {self.n_plans} plans"
        return f"plan of episode {self.planned_episode}"

    def q_values(self, h: int, x) -> np.ndarray:
        """Optimistic ``Q_{m,h}(x, ·)`` of every player: ``(P, A_0, …, A_N)`` (line 7)."""
        return self._state(h, x)[0][0]

    def policy(self, m: int, h: int, x, earlier: Sequence[int] = ()) -> np.ndarray:
        """``π_{m,h}(·|x, a_{<m})``: player ``m``'s policy after the actions ``earlier``.

        Player 0's call computes every player's (Algorithm 1, lines 16–20), kept for the rest.
        """
        m = fast_index(m, self.n_players, "m")
        earlier = self._check_actions(earlier, m, "earlier")
        # The policies at an index state depend on (h, x) until the next plan, α or β.
        key = (h, int(x)) if type(x) is int or isinstance(x, np.integer) else None
        if m == 0 or key is None or key != self._last_key:
            self._last_policies = self._state(h, x, m)[1]
            self._last_key = key
        return self._last_policies[m][(0, *earlier)]

    def leader_policy(self, h: int, x) -> np.ndarray:
        """``π_{l,h}(·|x)``: ``(A,)``; :meth:`policy` of player 0."""
        return self.policy(0, h, x)

    def follower_policy(self, h: int, x, a: int) -> np.ndarray:
        """``π_{f,h}(·|x, a)``: ``(B,)`` (Algorithm 2, line 4); :meth:`policy` of player 1."""
        return self.policy(1, h, x, (a,))

    def policy_tables(self, game_or_features=None) -> tuple[np.ndarray, ...]:
        """Every player's current policy ``(H, S, A_0, …, A_i)``, each row as acting computes it.

        ``game_or_features``: a finite game or its features ``(S, A_0, …, A_N, d)``; by default
        the learner's table, whose policies are kept (read-only) until the next plan, ``α``, ``β``.
        """
        features = getattr(game_or_features, "features", game_or_features)
        own = features is None or features is self.table
        own = own or (self.table is not None and np.array_equal(features, self.table))
        if own:
            if self.table is None:
                raise ValueError("a learner with a feature map has no table: pass features")
            if self._tables is not None:
                return self._tables
            features = self.table
        else:
            shape = (len(features), *self.action_counts, self.dim)
            features = check_features(features, shape, "features")
        tables = self._policies_by_step(features)
        if own:
            for table in tables:
                table.flags.writeable = False
            self._tables = tables
        return tables

    def policies_at(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every player's policy ``(n, A_0, …, A_i)`` at ``phi (n, A_0, …, A_N, d)`` (math.md §6).

        Raises:
            ValueError: for a bad ``h`` or features of the wrong shape, non-finite or ``‖φ‖ > 1``.
            NonFiniteError: naming the player and the row whose policy is not finite.
        """
        h = self._check_step(h)
        shape = (*self.action_counts, self.dim)
        if np.ndim(phi) != 2 + self.n_players:
            raise ValueError(
                f"phi must have shape (n, {', '.join(map(str, shape))}), got {np.shape(phi)}"
            )
        return self._checked_policies(h, check_features(phi, (len(phi), *shape), "phi"))

    def _checked_policies(self, h: int, features: np.ndarray) -> tuple[np.ndarray, ...]:
        _, policies, finite = self._policies(h, features)
        for m, pi in enumerate(() if finite else policies):
            if not np.isfinite(pi).all():
                raise NonFiniteError(
                    f"the {player_name(m, self.n_players)}'s policy at step {h}, state "
                    f"{first_index(~np.isfinite(pi))[0]} is not finite ({self._plan_name()})"
                )
        return policies


def state_array(
    state: dict, name: str, shape: tuple[int | None, ...], dtype: np.dtype | type, **checks
) -> np.ndarray:
    """``state[name]`` as a writable C copy of ``dtype`` and ``shape`` (``None``: any length).

    ``checks``: :func:`~stackelberg_rl._validate.array`'s (finite by default, ``low``, ``high``),
    the checks the constructor and :meth:`LSVIUCBLearner.record` make of the same values.
    """
    if not isinstance(state, dict):
        raise ValueError(f"the learner's state must be a dict, got {type(state).__name__}")
    if name not in state:
        raise ValueError(f"the learner's state has no {name}")
    value = state[name]
    if not isinstance(value, np.ndarray) or value.dtype != np.dtype(dtype):
        got = value.dtype if isinstance(value, np.ndarray) else type(value).__name__
        raise ValueError(f"the learner's state: {name} has type {got}, expected {np.dtype(dtype)}")
    check_shape(value, f"the learner's state: {name}", shape)
    return array(value, f"the learner's state: {name}", dtype=dtype, **checks).copy()


def state_int(state: dict, name: str) -> int:
    """``state[name]`` as a non-negative ``int``, or a :class:`ValueError` naming it."""
    return integer(state.get(name), f"the learner's state: {name}", low=0)
