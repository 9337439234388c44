"""The finite leader-follower Markov game, which checks itself when it is made.

A game is ``(S, A, B, P, H, r_l, r_f)`` with features ``phi(x, a, b)`` (math.md §1), held densely
(``transitions (H,S,A,B,S)``, ``rewards (2,H,S,A,B)``) or in the factored form of Assumption 2
(``mu (H,d,S)``, ``theta (2,H,d)``: no ``S×A×B×S`` array is built). With ``N`` followers (math.md
§9) the action axes are ``A_0, …, A_N`` and player arrays have a leading axis of ``1 + N``.

Example:
    >>> from stackelberg_rl.games import random_linear
    >>> game = random_linear(n_states=5, n_leader_actions=2, n_follower_actions=3, dim=4,
    ...                      horizon=3, seed=0)
    >>> game.reward(0).shape
    (2, 5, 2, 3)
"""

from __future__ import annotations

import functools
import hashlib
from typing import NamedTuple

import numpy as np

from .._jit import read_only
from .._validate import (
    TOL,
    array,
    check_shape,
    distribution,
    fast_index,
    first_index,
    instance,
    is_integer,
    real,
)
from .sampling import draw, mixture_draw

DENSE_LIMIT = 50_000_000
"""Largest number of entries ``S·A·B·S`` that :meth:`FiniteGame.transition` builds for one step."""

_CHUNK = 2**22
"""Entries per block when a check must look at every ``P_h(x'|x,a,b)`` of a factored game."""


def action_axes(n_players: int, upper: bool = True) -> tuple[str, ...]:
    """Names of the action axes in messages: ``A, B`` (``a, b``) for two players, else ``A_i``."""
    names = ("A", "B") if n_players == 2 else tuple(f"A_{i}" for i in range(n_players))
    return names if upper else tuple(name.lower().replace("_", "") for name in names)


def player_names(n_players: int) -> tuple[str, ...]:
    """The players in order of moves: ``leader, follower``, or ``leader, follower_1, …``."""
    if n_players == 2:
        return ("leader", "follower")
    return ("leader", *(f"follower_{i}" for i in range(1, n_players)))


def sha256_of(arrays: dict[str, np.ndarray | None], suffix: str = "") -> str:
    """SHA-256 of named arrays (with name, dtype and shape; ``None`` skipped) and a text."""
    digest = hashlib.sha256()
    for key, value in arrays.items():
        if value is not None:
            value = np.ascontiguousarray(value)
            digest.update(f"{key}:{value.dtype.str}:{value.shape};".encode())
            digest.update(value.data)
    digest.update(suffix.encode())
    return digest.hexdigest()


def _agree_on_states(S: int, **arrays: tuple) -> None:
    """Raise unless every array's state axes are ``S`` long, as the features' axis 0 is.

    ``arrays``: ``name=(value, its number of axes, its state axes)``; one with another number
    of axes (or ``None``) is left to its shape check. The message takes none of them to be
    right: ``features has S = 2 (axis 0), initial_distribution 3 (axis 0), …``.
    """
    sizes = {"features": ((S,), (0,))}
    for name, (value, ndim, axes) in arrays.items():
        try:
            shape = np.shape(value)
        except ValueError:  # ragged: its own check names it
            continue
        if value is not None and len(shape) == ndim:
            sizes[name] = (tuple(shape[a] for a in axes), axes)
    if any(set(n) != {S} for n, _ in sizes.values()):
        said = [
            f"{name} {' and '.join(map(str, dict.fromkeys(n)))} "
            f"({'axis' if len(axes) == 1 else 'axes'} {', '.join(map(str, axes))})"
            for name, (n, axes) in sizes.items()
        ]
        said[0] = said[0].replace("features ", "features has S = ", 1)
        raise ValueError(f"the arrays disagree on the number of states S: {', '.join(said)}")


class StepArrays(NamedTuple):
    """What :func:`~.sampling.compiled_step` reads (``J``: joint action, C order; unused: empty).

    ``features (S, J, d)``, ``rewards (1+N, H, S, J)`` or ``theta (H, 1+N, d)``, next states from
    ``transitions (H, S, J, S)``, the mixture's ``cdf (H, d, S)`` or ``mu (H, d, S)``.
    """

    features: np.ndarray
    rewards: np.ndarray
    theta: np.ndarray
    transitions: np.ndarray
    cdf: np.ndarray
    mu: np.ndarray
    reward_noise: float


class Players:
    """The player axis every game shares: index 0 is the leader, then the followers in order."""

    n_players = 2
    """The leader and its followers, ``1 + n_followers``."""
    provenance: dict | None = None
    """``{"name", "params"}`` when the game was built by :func:`~.registry.make`."""
    action_counts: tuple[int, ...]
    """``(A_0, …, A_N)``: each player's number of actions."""

    @property
    def n_followers(self) -> int:
        """``N``, the followers moving in order after the leader."""
        return self.n_players - 1

    @property
    def n_leader_actions(self) -> int:
        """``A = action_counts[0]``."""
        return self.action_counts[0]

    @property
    def n_follower_actions(self) -> int:
        """``B = action_counts[1]``."""
        return self.action_counts[1]

    def _record(self, **more) -> dict:
        return {
            "name": self.name,
            "registered": self.provenance,
            "horizon": self.horizon,
            "n_states": self.n_states,
            **more,
            "n_leader_actions": self.n_leader_actions,
            "n_follower_actions": self.n_follower_actions,
            "dim": self.dim,
            **({} if self.n_players == 2 else {"action_counts": list(self.action_counts)}),
        }


class SteppedGame(Players):
    """Playing a step, shared by both kinds of game (not :class:`Players`: a learner is one too).

    A subclass gives ``_at`` (the checked ``(x, actions)``), ``_reward_at`` and ``_next_state``.
    """

    def _step(self, h) -> int:
        """``h`` as an ``int`` in ``[0, H)``: a negative step is refused, not read from the end."""
        return fast_index(h, self.horizon, "h")

    def _joint(self, actions: tuple) -> tuple:
        if len(actions) == 1 and not isinstance(actions[0], int | np.integer):
            actions = tuple(actions[0])
        if len(actions) != self.n_players:
            raise ValueError(
                f"a joint action has one action per player, {self.n_players}; got "
                f"{len(actions)}: {actions!r}"
            )
        return actions

    def _split_rng(self, args: tuple) -> tuple:
        """:meth:`step`'s arguments after ``x``: the actions, then ``rng`` (checked)."""
        if args and isinstance(args[-1], np.random.Generator):
            return args
        one_sequence = len(args) == 1 and not is_integer(args[0])
        if not args or one_sequence or (len(args) == self.n_players and all(map(is_integer, args))):
            raise ValueError(
                "rng is missing: step(h, x, a_0, …, a_N, rng) takes a numpy.random.Generator "
                f"after the actions, got only {args!r}"
            )
        return self._rng(args[-1])  # not a Generator: raises, naming it

    @staticmethod
    def _rng(rng: np.random.Generator) -> np.random.Generator:
        """``rng`` if it is a :class:`numpy.random.Generator`, else one line naming it."""
        return instance(rng, np.random.Generator, "rng", "a numpy.random.Generator")

    def reward_at(self, h: int, x, *actions) -> np.ndarray:
        """Mean rewards ``(1+N,)`` of one ``(x, a_0, …, a_N)`` (actions as in :meth:`step`)."""
        return self._reward_at(h, self._at(h, x, actions))

    def step(self, h: int, x, *actions_and_rng) -> tuple[np.ndarray, int | np.ndarray]:
        """Play a joint action in ``x`` at step ``h``: realised rewards ``(1+N,)`` and ``x'``.

        Called ``step(h, x, a, b, rng)``, ``step(h, x, a_0, …, a_N, rng)`` or
        ``step(h, x, (a_0, …, a_N), rng)``. The uniforms of ``rng``: one per player for the
        reward noise (if any), then one for ``x'`` (two from a mixture: the component, then the
        state), as :func:`~.sampling.compiled_step` draws them.
        """
        *actions, rng = self._split_rng(actions_and_rng)
        at = self._at(h, x, tuple(actions))
        r = self._reward_at(h, at)
        if self.reward_noise > 0.0:
            half = self.reward_noise * (1.0 - np.abs(r))
            r = r + half * rng.uniform(-1.0, 1.0, size=self.n_players)
        return r, self._next_state(h, at, rng)


class FiniteGame(SteppedGame):
    """A finite-state episodic leader-follower Markov game with features.

    Give the dense model (``transitions`` and ``rewards``), the factored linear model (``mu`` and
    ``theta``), or both — then the game is declared linear and the dense model must equal what
    ``features, mu, theta`` give. Bad input raises :class:`ValueError` naming the field and an
    offending index.

    Args:
        features: ``phi (S, A, B, d)`` with ``‖phi(x,a,b)‖₂ <= 1``; ``(S, A_0, …, A_N, d)``
            for ``N`` followers (the number of axes gives ``N``).
        initial_distribution: ``(S,)`` distribution of ``x_0``.
        transitions: ``P (H, S, A, B, S)``, ``P[h, x, a, b, x']`` (dense form).
        rewards: mean rewards ``(1+N, H, S, A, B)`` in ``[-1, 1]`` (dense form).
        mu: ``(H, d, S)``, ``P_h(x'|x,a,b) = <phi(x,a,b), mu[h, :, x']>`` (factored form).
        theta: ``(1+N, H, d)``, ``r_{m,h}(x,a,b) = <phi(x,a,b), theta[m, h]>`` (factored form).
        reward_noise: half-width of the uniform noise added to realised rewards, shrunk near
            ``±1`` so realised rewards stay in ``[-1, 1]`` with the same mean.
        name: a label used in results.
    """

    def __init__(
        self,
        features: np.ndarray,
        initial_distribution: np.ndarray,
        *,
        transitions: np.ndarray | None = None,
        rewards: np.ndarray | None = None,
        mu: np.ndarray | None = None,
        theta: np.ndarray | None = None,
        reward_noise: float = 0.0,
        name: str = "game",
    ) -> None:
        self.name = name
        ndim = max(np.ndim(features), 4)
        self.n_players = m = ndim - 2
        acts = action_axes(m)
        self.features = array(features, "features", shape=(None,) * ndim, axes=("S", *acts, "d"))
        S, *counts, d = self.features.shape
        if min(self.features.shape) < 1:
            raise ValueError(f"features has an empty axis: shape {self.features.shape}")
        norms = np.linalg.norm(self.features, axis=-1)
        array(norms, "the norm of features", axes=("x", *action_axes(m, False)), high=1.0)
        _agree_on_states(
            S,
            initial_distribution=(initial_distribution, 1, (0,)),
            transitions=(transitions, m + 3, (1, m + 2)),
            rewards=(rewards, m + 3, (2,)),
            mu=(mu, 3, (2,)),
        )
        self.initial_distribution = array(
            initial_distribution, "initial_distribution", shape=(S,), axes=("S",)
        )
        distribution(initial_distribution, "initial_distribution", ("x",))  # its dtype's tolerance
        self.reward_noise = real(reward_noise, "reward_noise", low=0.0, high=1.0)

        dense = transitions is not None or rewards is not None
        factored = mu is not None or theta is not None
        if dense and (transitions is None or rewards is None):
            raise ValueError("the dense form needs both transitions and rewards")
        if factored and (mu is None or theta is None):
            raise ValueError("the factored form needs both mu and theta")
        if not (dense or factored):
            raise ValueError("give transitions and rewards, or mu and theta")

        self._transitions = self._rewards = self.mu = self.theta = None
        # The horizon is read from the dense model when there is one, else from mu.
        self._axes_p = ("H", "S", *acts, "S")
        if dense:
            self._transitions = array(
                transitions, "transitions", shape=(None, S, *counts, S), axes=self._axes_p
            )
            H = self._transitions.shape[0]
            axes = ("player", "H", "S", *acts)
            shape = (m, H, S, *counts)
            self._rewards = array(rewards, "rewards", shape=shape, axes=axes, low=-1.0, high=1.0)
        if factored:
            self.mu = array(mu, "mu", shape=(H if dense else None, d, S), axes=("H", "d", "S"))
            H = self.mu.shape[0]
            self.theta = array(theta, "theta", shape=(m, H, d), axes=("player", "H", "d"))
        if H < 1:
            raise ValueError("the horizon H (axis 0 of transitions or mu) is 0")
        self.horizon, self.n_states, self.dim = H, S, d
        self.action_counts = tuple(counts)
        self._phi = self.features.reshape(-1, d)  # (S·A·B, d): the factored model's products
        if dense:
            distribution(transitions, "transitions", self._axes_p)  # its dtype's tolerance
            if factored:
                self._check_linear()
        else:
            self._check_factored()

    def _check_factored(self) -> None:
        """Check that ``phi, mu, theta`` give a valid game without building ``P``."""
        acts = ", ".join(action_axes(self.n_players, False))
        for h in range(self.horizon):
            axes = ("player", *self._axes_p[1:-1])
            array(self.reward(h), f"rewards given by theta at step {h}", axes=axes, low=-1, high=1)
        # Rows sum to one: <phi, Σ_x' mu_h(x')> = 1, an O(SABd) check.
        sums = np.moveaxis(self.features @ self.mu.sum(axis=2).T, -1, 0)  # (H, S, A, B)
        err = np.abs(sums - 1.0)
        if (err > TOL).any():
            idx = first_index(err == err.max())
            raise ValueError(
                f"transitions given by mu do not sum to 1 at index {idx} (h, x, {acts}) "
                f"(sum {sums[idx]:.12g})"
            )
        if (self.features >= 0).all() and (self.mu >= 0).all():
            return  # non-negative features and measures give non-negative probabilities
        # Signed features or measures: every P_h(x'|x,a,b), in blocks of rows (bounded memory).
        rows = max(1, _CHUNK // self.n_states)
        for h in range(self.horizon):
            for start in range(0, self._phi.shape[0], rows):
                p = self._phi[start : start + rows] @ self.mu[h]
                if (p < -TOL).any():
                    row, x_next = first_index(p == p.min())
                    at = np.unravel_index(start + row, self.features.shape[:-1])
                    raise ValueError(
                        f"transitions given by mu have a negative probability {p.min():.3g} at "
                        f"index {(h, *map(int, at), x_next)} (h, x, {acts}, x')"
                    )

    def _check_linear(self) -> None:
        """A game given in both forms must be linear: the dense model equals ``phi, mu, theta``."""
        acts = ", ".join(action_axes(self.n_players, False))
        for h in range(self.horizon):
            for what, by, given, linear in [
                ("transitions", "mu", self._transitions[h], self.features @ self.mu[h]),
                ("rewards", "theta", self._rewards[:, h], self._linear_reward(h)),
            ]:
                err = np.abs(linear - given)
                if (err > 1e-8).any():
                    idx = first_index(err == err.max())
                    at, axes = (h, *idx), f"h, x, {acts}, x'"
                    if what == "rewards":
                        at, axes = (idx[0], h, *idx[1:]), f"m, h, x, {acts}"
                    raise ValueError(
                        f"{what} disagree with features·{by} at index {at} ({axes}) by "
                        f"{err[idx]:.3g}: the game is not linear in its features"
                    )

    @property
    def is_factored(self) -> bool:
        """Whether the game carries ``mu, theta`` (and so can skip dense arrays)."""
        return self.mu is not None

    def _linear_reward(self, h: int) -> np.ndarray:
        return (self.theta[:, h] @ self._phi.T).reshape(-1, *self.features.shape[:-1])

    def reward(self, h: int) -> np.ndarray:
        """Mean rewards at step ``h``: ``(1+N, S, A_0, …, A_N)``."""
        h = self._step(h)
        return self._linear_reward(h) if self._rewards is None else self._rewards[:, h]

    def _values(self, V: np.ndarray, players: tuple[int, ...] = ()) -> np.ndarray:
        """``V (..., *players, S)`` as float64, or a :class:`ValueError` naming its shape."""
        V = np.asarray(V, dtype=np.float64)
        want = (*players, self.n_states)
        if V.shape[V.ndim - len(want) :] != want:
            raise ValueError(f"V has shape {V.shape}, expected (..., {', '.join(map(str, want))})")
        return V

    def expected_next(self, h: int, V: np.ndarray) -> np.ndarray:
        """``Σ_x' P_h(x'|x,a,b) V(x')`` for ``V (..., S)``; returns ``(..., S, A_0, …, A_N)``."""
        h = self._step(h)
        V = self._values(V)
        shape = V.shape[:-1] + self.features.shape[:-1]
        if self.mu is not None:
            return ((V @ self.mu[h].T) @ self._phi.T).reshape(shape)  # O(Sd), no S×S array
        return (V @ self._transitions[h].reshape(-1, self.n_states).T).reshape(shape)

    def action_values(
        self, h: int, V: np.ndarray | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """The Bellman backup ``Q_{m,h} = r_{m,h} + P_h V_m`` (math.md §2).

        Factored: one product ``<phi, theta_{m,h} + Σ_x' mu_h(x') V_m(x')>`` (Assumption 2).

        Args:
            h: the step.
            V: ``(..., 1+N, S)`` next-step values of every player, for one or more profiles;
                ``None`` for zero (``h = H-1``).
            out: optional array of the result's shape to write into (its state and action axes
                contiguous).

        Returns:
            ``Q_h (..., 1+N, S, A_0, …, A_N)`` (``out`` when given).
        """
        m, d, h = self.n_players, self.dim, self._step(h)
        V = None if V is None else self._values(V, (m,))
        shape = (*(() if V is None else V.shape[:-2]), m, *self.features.shape[:-1])
        if out is None:
            out = np.empty(shape)
        elif out.shape != shape:  # the message only when it is needed: this is a hot path
            axes = ("...",) * (len(shape) - m - 2) + ("player", *self._axes_p[1:-1])
            check_shape(out, "out", shape, axes)
        if self._rewards is None:
            w = self.theta[:, h] if V is None else self.theta[:, h] + V @ self.mu[h].T
            flat = out.reshape(-1, self._phi.shape[0])
            if not np.may_share_memory(flat, out):
                raise ValueError("out must have its state and action axes contiguous")
            np.matmul(w.reshape(-1, d), self._phi.T, out=flat)
        else:
            out[...] = self._rewards[:, h]
            if V is not None:
                out += self.expected_next(h, V)
        return out

    def transition(self, h: int) -> np.ndarray:
        """Dense ``P_h (S, A_0, …, A_N, S)``; raises for games too large to hold it."""
        h = self._step(h)
        if self._transitions is not None:
            return self._transitions[h]
        S, size = self.n_states, self._phi.shape[0] * self.n_states
        if size > DENSE_LIMIT:
            raise ValueError(
                f"transition({h}) would build {size:,} entries (S={S}, {self._counts()}); "
                f"the limit is {DENSE_LIMIT:,}: use expected_next instead"
            )
        return self.features @ self.mu[h]

    def sample_initial(self, rng: np.random.Generator) -> int:
        """Draw ``x_0`` from the initial distribution."""
        return draw(self.initial_distribution, self._rng(rng))

    def _at(self, h: int, x: int, actions: tuple) -> tuple[int, ...]:
        """``(x, a_0, …, a_N)`` from actions given one by one or as one sequence, checked."""
        actions = self._joint(actions)
        self._step(h)  # every step of a run in Python comes here
        fast_index(x, self.n_states, "x")
        for m, (a, n) in enumerate(zip(actions, self.action_counts, strict=True)):
            fast_index(a, n, f"a_{m}")
        return (x, *actions)

    def next_state_distribution(self, h: int, x: int, *actions) -> np.ndarray:
        """``P_h(·|x, a_0, …, a_N)`` as an ``(S,)`` array (actions one by one or in a sequence)."""
        return self._next_state_distribution(h, self._at(h, x, actions))

    def _next_state_distribution(self, h: int, at: tuple[int, ...]) -> np.ndarray:
        if self._transitions is not None:
            return self._transitions[(h, *at)]
        return self.features[at] @ self.mu[h]

    def _reward_at(self, h: int, at: tuple[int, ...]) -> np.ndarray:
        if self._rewards is None:
            return self.theta[:, h] @ self.features[at]
        return self._rewards[(slice(None), h, *at)].copy()

    def _next_state(self, h: int, at: tuple[int, ...], rng: np.random.Generator) -> int:
        if self._mixture_cdf is None:
            return draw(self._next_state_distribution(h, at), rng)
        # P_h(·|x,a) = Σ_i φ_i μ_h^i: draw the component, then the state (no S-vector).
        u_component = rng.random()
        return int(mixture_draw(self.features[at], self._mixture_cdf[h], u_component, rng.random()))

    @functools.cached_property
    def _mixture_cdf(self) -> np.ndarray | None:
        """``cumsum(mu) (H, d, S)`` when φ is on the simplex and each μ_h^i a distribution."""
        if self.mu is None or (self.features < 0).any() or (self.mu < 0).any():
            return None
        on_simplex = np.allclose(self.features.sum(axis=-1), 1.0, rtol=0, atol=TOL)
        distributions = np.allclose(self.mu.sum(axis=2), 1.0, rtol=0, atol=TOL)
        return np.cumsum(self.mu, axis=2) if on_simplex and distributions else None

    def step_arrays(self) -> StepArrays:
        """The arrays :meth:`step` reads, as a compiled step takes them (no copy where it can)."""
        S, H, m = self.n_states, self.horizon, self.n_players
        J = self._phi.shape[0] // S
        # The forms in the order step prefers them: dense rewards; the mixture, then dense P.
        cdf = self._mixture_cdf
        dense_p = cdf is None and self._transitions is not None
        dense_r = self._rewards is not None
        arrays = dict(
            features=np.ascontiguousarray(self._phi).reshape(S, J, self.dim),
            rewards=self._rewards.reshape(m, H, S, J) if dense_r else np.empty((0,) * 4),
            theta=np.empty((0,) * 3) if dense_r else self.theta.transpose(1, 0, 2).copy(),
            transitions=self._transitions.reshape(H, S, J, S) if dense_p else np.empty((0,) * 4),
            cdf=np.empty((0,) * 3) if cdf is None else cdf,
            mu=self.mu if cdf is None and not dense_p else np.empty((0,) * 3),
        )  # read-only views: the kernels compile once whatever the game holds
        arrays = {name: read_only(a) for name, a in arrays.items()}
        return StepArrays(**arrays, reward_noise=float(self.reward_noise))

    def feature_map(self, states: np.ndarray) -> np.ndarray:
        """``phi`` of a batch of state indices: ``(n, A_0, …, A_N, d)``.

        Indices in ``[0, S)``: ``-1`` is refused, not read as the last state.
        """
        idx, S = np.asarray(states), self.n_states
        if idx.size and idx.dtype.kind not in "iu":
            raise ValueError(f"states must be state indices (integers), got dtype {idx.dtype}")
        if idx.size and (idx.min() < 0 or idx.max() >= S):
            bad = first_index((idx < 0) | (idx >= S))
            raise ValueError(f"states must be in [0, {S}), got {idx[bad]} at index {bad}")
        return self.features[idx.astype(np.intp, copy=False)]

    def arrays(self) -> dict[str, np.ndarray | None]:
        """The model as held, by the names of a game file (``None``: a form not held)."""
        return {
            "features": self.features,
            "initial_distribution": self.initial_distribution,
            "transitions": self._transitions,
            "rewards": self._rewards,
            "mu": self.mu,
            "theta": self.theta,
        }

    def fingerprint(self) -> str:
        """SHA-256 of the game's arrays as held and its reward noise: equal play, equal hash."""
        return sha256_of(self.arrays(), f"reward_noise:{self.reward_noise!r}")

    def describe(self) -> dict:
        """What identifies the game in a manifest: name, sizes, provenance and fingerprint."""
        form = "factored" if self.is_factored else "dense"
        return {**self._record(), "form": form, "sha256": self.fingerprint()}

    def _counts(self) -> str:
        """``A=3, B=2`` (``A_0=…, A_1=…, …`` with followers), for messages."""
        axes = self._axes_p[2:-1]
        return ", ".join(f"{n}={k}" for n, k in zip(axes, self.action_counts, strict=True))

    def __repr__(self) -> str:
        return (
            f"FiniteGame({self.name!r}, H={self.horizon}, S={self.n_states}, {self._counts()}, "
            f"d={self.dim}, {'factored' if self.is_factored else 'dense'})"
        )
