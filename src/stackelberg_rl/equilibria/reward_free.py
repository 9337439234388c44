"""General-sum Stackelberg equilibria by reward-free exploration (math.md §7; the paper's §5).

Corollary 1's mixture is a coarse correlated equilibrium; only in zero-sum games is it a
Stackelberg equilibrium. The paper's §5 sketches the general-sum route, which this module builds:

1. :func:`explore` — both players run Algorithm 1 with the exploration bonus as their only
   reward, ``u_h = min(β‖φ‖_{Λ_h⁻¹}, H)/H``, shared by both, and the paper's soft-max policies
   (not greedy). The data set (:class:`ExplorationData`: features, both players' realised
   rewards, next states, and what identifies the game) is kept, and saved.
2. :func:`fit` / :func:`plan` — for given rewards (those observed during exploration, or any the
   user supplies afterwards: a reward table, ``θ``, or a game with the same transitions), plan
   the Stackelberg solution on the learned model by backward induction: the follower
   best-responds to each leader action (ties in the leader's favour), the leader maximises its
   marginal. Several reward functions, one exploration.
3. :func:`gaps` — on a finite game, exactly: the follower's best-response gap of the output and
   the leader's shortfall from the Stackelberg value when the follower best-responds *against*
   it.

Example:
    >>> from stackelberg_rl import games
    >>> game = games.make("security", horizon=2, n_targets=2, levels=2)
    >>> data = explore(game, episodes=20, beta=0.5, seed=0)
    >>> pi_l, pi_f = plan(data)                    # the rewards observed while exploring
    >>> pi_l.shape, pi_f.shape
    ((2, 2, 2), (2, 2, 2, 3))
    >>> sorted(gaps(game, pi_l, pi_f))[:2]
    ['gap/follower/initial', 'gap/follower/worst']
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._files import read_npz, write_npz
from ..games import ContinuousGame, FiniteGame, Game
from ..games.base import PROB_TOL, _check_shape, sha256_of
from ..games.sampling import draw
from ..learners.functional import alpha_value, soft_policies
from ..planning import (
    evaluate,
    follower_best_response,
    follower_choice,
    stackelberg_equilibrium,
)

FORMAT = "stackelberg-rl/exploration-data"
"""The ``format`` in a data file's ``meta``: a file that says otherwise is not ours."""
FORMAT_VERSION = 1
DENSE_MODEL_LIMIT = 4_000_000
"""A finite game's transitions are kept densely (``H·S·A·B·S`` entries) up to this size, else
as ``mu``: only to refuse, later, planning for a game whose transitions differ."""
TIE_TOL = 1e-9
"""How far below the follower's best planned value an action still counts as a best answer."""


class ExplorationDataError(ValueError):
    """A data file that cannot be read, or data that do not form an exploration data set."""


# ---------------------------------------------------------------------- the data set
@dataclass(frozen=True, eq=False)
class ExplorationData:
    """The data of ``K`` exploration episodes, and what identifies the game they come from.

    Every episode contributes one sample per step, so the arrays have an episode axis ``K`` and
    a step axis ``H``; the first ``k`` episodes (:meth:`head`) are what an exploration of ``k``
    episodes would have collected when ``α`` does not depend on ``K`` (``"anytime"`` or a
    number). A sample is ``(x, a, b, r, x')``: an exploration's samples chain into trajectories
    (``next_states[:, h] == states[:, h + 1]``), but planning does not need them to, so data
    from a simulator that can be reset anywhere are data too.

    Attributes:
        phi: ``(K, H, d)`` ``φ(x_h^k, a_h^k, b_h^k)``.
        rewards: ``(K, H, 2)`` both players' realised rewards (leader, follower).
        states: ``(K, H)`` state indices ``x_h^k`` (finite game) or ``(K, H, 2)`` points
            (continuous game).
        actions: ``(K, H, 2)`` ``(a_h^k, b_h^k)``.
        next_states: ``(K, H)`` or ``(K, H, 2)``, ``x_{h+1}^k``.
        features: ``(S, A, B, d)`` the finite game's features, or ``None``.
        next_features: ``(K, H-1, A, B, d)`` ``φ(x_{h+1}^k, ·, ·)`` of a continuous game (no
            table to look them up in), or ``None``.
        initial_distribution: ``(S,)`` of a finite game, or ``None``.
        transitions: ``(H, S, A, B, S)`` of a finite game (up to :data:`DENSE_MODEL_LIMIT`
            entries), or ``None``.
        mu: ``(H, d, S)`` of a larger factored game, or ``None``.
        meta: the format, the game (``describe()``, its SHA-256, and for a continuous game the
            SHA-256 of its transition model), the exploration's parameters.
    """

    phi: np.ndarray
    rewards: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    next_states: np.ndarray
    features: np.ndarray | None = None
    next_features: np.ndarray | None = None
    initial_distribution: np.ndarray | None = None
    transitions: np.ndarray | None = None
    mu: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    # ------------------------------------------------------------------ sizes
    @property
    def episodes(self) -> int:
        """``K``."""
        return self.phi.shape[0]

    @property
    def horizon(self) -> int:
        """``H``."""
        return self.phi.shape[1]

    @property
    def dim(self) -> int:
        """``d``."""
        return self.phi.shape[2]

    @property
    def is_finite(self) -> bool:
        """Whether the data come from a finite game (states are indices into ``features``)."""
        return self.features is not None

    @property
    def n_actions(self) -> tuple[int, int]:
        """``(A, B)``."""
        table = self.features if self.is_finite else self.next_features
        return table.shape[-3], table.shape[-2]

    def head(self, k: int) -> ExplorationData:
        """The data of the first ``k`` episodes (``1 <= k <= K``)."""
        if not _is_int(k) or not 1 <= k <= self.episodes:
            raise ValueError(f"k must be an integer in [1, {self.episodes}], got {k!r}")
        nf = None if self.next_features is None else self.next_features[:k]
        meta = {**self.meta, "episodes": int(k)}
        return ExplorationData(
            self.phi[:k], self.rewards[:k], self.states[:k], self.actions[:k],
            self.next_states[:k], self.features, nf, self.initial_distribution,
            self.transitions, self.mu, meta,
        )  # fmt: skip

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`ExplorationDataError` naming the array, the axis or the index at fault."""
        phi = _array("phi", self.phi, 3)
        K, H, d = phi.shape
        if min(K, H, d) < 1:
            raise ExplorationDataError(f"phi has an empty axis: shape {phi.shape} (K, H, d)")
        _finite("phi", phi)
        norms = np.linalg.norm(phi, axis=-1)
        if (norms > 1 + PROB_TOL).any():
            idx = _unravel(np.argmax(norms), norms.shape)
            raise ExplorationDataError(f"phi has norm {norms[idx]:.12g} > 1 at index {idx} (k, h)")
        _shape("rewards", self.rewards, (K, H, 2), ("k", "h", "player"))
        _finite("rewards", self.rewards)
        out = np.abs(self.rewards) > 1 + PROB_TOL
        if out.any():
            idx = _unravel(np.argmax(out), out.shape)
            raise ExplorationDataError(
                f"rewards is {self.rewards[idx]:.6g}, outside [-1, 1], at index {idx} (k, h, m)"
            )
        if (self.features is None) == (self.next_features is None):
            raise ExplorationDataError(
                "give features (a finite game) or next_features (a continuous game), not both "
                "or neither"
            )
        if self.is_finite:
            features = _array("features", self.features, 4)
            S, A, B, fd = features.shape
            if fd != d:
                raise ExplorationDataError(f"features has d = {fd}, phi has d = {d}")
            _finite("features", features)
            for name in ("states", "next_states"):
                _shape(name, getattr(self, name), (K, H), ("k", "h"))
                _indices(name, getattr(self, name), S)
        else:
            A, B = self.next_features.shape[-3:-1]
            _shape("next_features", self.next_features, (K, H - 1, A, B, d),
                   ("k", "h", "a", "b", "d"))  # fmt: skip
            _finite("next_features", self.next_features)
            for name in ("states", "next_states"):
                _shape(name, getattr(self, name), (K, H, 2), ("k", "h", "coordinate"))
                _finite(name, getattr(self, name))
        _shape("actions", self.actions, (K, H, 2), ("k", "h", "player"))
        _indices("actions[..., 0]", self.actions[..., 0], A)
        _indices("actions[..., 1]", self.actions[..., 1], B)
        if self.is_finite:
            played = self.features[self.states, self.actions[..., 0], self.actions[..., 1]]
            if not np.array_equal(played, phi):
                idx = _unravel(np.argmax(np.abs(played - phi).max(axis=-1)), (K, H))
                raise ExplorationDataError(
                    f"phi at index {idx} (k, h) is not features[x, a, b] of the recorded state "
                    "and actions: the data set is inconsistent"
                )
            self._validate_model(H, S, A, B, d)
        if not isinstance(self.meta, dict):
            raise ExplorationDataError(f"meta must be a dict, got {type(self.meta).__name__}")

    def _validate_model(self, H: int, S: int, A: int, B: int, d: int) -> None:
        _shape("initial_distribution", self.initial_distribution, (S,), ("S",))
        if (self.transitions is None) == (self.mu is None):
            raise ExplorationDataError("give the finite game's transitions or its mu (one)")
        if self.transitions is not None:
            _shape("transitions", self.transitions, (H, S, A, B, S), ("h", "x", "a", "b", "x'"))
            _finite("transitions", self.transitions)
        else:
            _shape("mu", self.mu, (H, d, S), ("h", "d", "x'"))
            _finite("mu", self.mu)

    # ------------------------------------------------------------------ files
    def save(self, path: str | os.PathLike) -> None:
        """Write the data set to ``path`` (an ``.npz``), atomically: complete or not at all.

        The arrays are written to a temporary file in the same folder, which is synced and then
        renamed over ``path``.
        """
        path = Path(path)
        arrays = {
            name: getattr(self, name)
            for name in _ARRAYS
            if name != "meta" and getattr(self, name) is not None
        }
        meta = {**self.meta, "format": FORMAT, "format_version": FORMAT_VERSION}
        arrays["meta"] = np.str_(json.dumps(_jsonable(meta), allow_nan=False))
        write_npz(path, arrays, compress=True)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ExplorationData:
        """Read and validate a data set written by :meth:`save`.

        Raises:
            ExplorationDataError: naming the file and the problem: missing, not an ``.npz``,
                truncated or corrupt, foreign (no ``meta`` of this format), a newer format, an
                unknown, missing, misshaped or non-numeric array, inconsistent data.
        """
        path = Path(path)
        arrays = read_npz(path, ExplorationDataError)
        if "meta" not in arrays:
            raise ExplorationDataError(
                f"{path}: not an exploration data set of stackelberg-rl (no 'meta' array)"
            )
        meta_array = arrays.pop("meta")
        try:
            if meta_array.shape != () or meta_array.dtype.kind != "U":
                raise ValueError("not one string")
            meta = json.loads(str(meta_array))
        except ValueError as err:
            raise ExplorationDataError(f"{path}: 'meta' is not JSON text ({err})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ExplorationDataError(
                f"{path}: not an exploration data set of stackelberg-rl (format "
                f"{meta.get('format') if isinstance(meta, dict) else None!r}, expected {FORMAT!r})"
            )
        version = meta.get("format_version")
        if not _is_int(version) or version > FORMAT_VERSION:
            raise ExplorationDataError(
                f"{path}: format version {version!r}; this version of stackelberg-rl reads "
                f"versions up to {FORMAT_VERSION}"
            )
        unknown = sorted(set(arrays) - set(_ARRAYS))
        if unknown:
            raise ExplorationDataError(f"{path}: unknown arrays {', '.join(unknown)}")
        for name in ("phi", "rewards", "states", "actions", "next_states"):
            if name not in arrays:
                raise ExplorationDataError(f"{path}: missing array {name!r}")
        for name, array in arrays.items():
            if array.dtype.kind not in "biuf":
                raise ExplorationDataError(
                    f"{path}: array {name!r} has dtype {array.dtype}, expected numbers"
                )
        kwargs = {}
        for name, array in arrays.items():
            integer = name == "actions" or (
                name in ("states", "next_states") and "features" in arrays
            )
            if integer and array.dtype.kind not in "iu":
                raise ExplorationDataError(
                    f"{path}: array {name!r} has dtype {array.dtype}, expected integers"
                )
            kwargs[name] = array.astype(np.int64 if integer else np.float64, copy=False)
        try:
            return cls(**kwargs, meta=meta)
        except ExplorationDataError as err:
            raise ExplorationDataError(f"{path}: {err}") from None

    # ------------------------------------------------------------------ the game
    def check_game(self, game: Game) -> None:
        """Raise :class:`ExplorationDataError` unless ``game`` has the explored transitions.

        Rewards may differ (that is what planning for other rewards is for); the features, the
        initial distribution, the horizon, the action sets and the transitions may not: a plan
        on these data is a plan for the explored dynamics only. Finite games are compared by
        value (within ``1e-10``), transitions densely, or by ``mu`` for a game too large to hold
        them (:data:`DENSE_MODEL_LIMIT`); continuous games by :func:`model_fingerprint`.
        """
        H, d = self.horizon, self.dim
        A, B = self.n_actions
        explored = self.meta.get("game", {}).get("name", "the explored game")
        finite = isinstance(game, FiniteGame)
        if finite != self.is_finite:
            kinds = ("a continuous", "a finite") if finite else ("a finite", "a continuous")
            raise ExplorationDataError(
                f"the data come from {kinds[0]} game ({explored}); {game.name} is {kinds[1]} game"
            )
        sizes = (game.horizon, game.n_leader_actions, game.n_follower_actions, game.dim)
        if sizes != (H, A, B, d):
            raise ExplorationDataError(
                f"the game has (H, A, B, d) = {sizes}, the data of {explored} {(H, A, B, d)}"
            )
        if not self.is_finite:
            if model_fingerprint(game) != self.meta.get("model_sha256"):
                raise ExplorationDataError(
                    f"{game.name} has other features or transitions than {explored} (the "
                    "SHA-256 of its model differs): plan needs the explored dynamics"
                )
            return
        if game.features.shape != self.features.shape:
            raise ExplorationDataError(
                f"the game's features have shape {game.features.shape}, the explored "
                f"{self.features.shape}"
            )
        _compare("features", game.features, self.features, ("x", "a", "b", "i"))
        _compare("initial_distribution", game.initial_distribution, self.initial_distribution,
                 ("x",))  # fmt: skip
        for h in range(H):
            if self.mu is not None and game.mu is not None:  # too large to compare densely
                _compare("mu", game.mu[h], self.mu[h], ("i", "x'"), h)
                continue
            P = self.transitions[h] if self.transitions is not None else self.features @ self.mu[h]
            _compare("transitions", game.transition(h), P, ("x", "a", "b", "x'"), h)


_ARRAYS = (
    "phi", "rewards", "states", "actions", "next_states", "features", "next_features",
    "initial_distribution", "transitions", "mu", "meta",
)  # fmt: skip


def model_fingerprint(game: Game) -> str:
    """SHA-256 of what a game's dynamics depend on: features, transitions, initial states.

    Not the rewards: two games with the same fingerprint here can be planned for from the same
    exploration. For a finite game it hashes the arrays as held, so the same transitions held
    in another form hash differently (:meth:`ExplorationData.check_game` compares values).
    """
    if isinstance(game, ContinuousGame):
        arrays = {
            "centres": game.centres,
            "bandwidth": np.float64(game.bandwidth),
            "log_weights": game.log_weights,
            "horizon": np.int64(game.horizon),
            **game.densities.arrays(),
        }
    else:
        arrays = {
            "features": game.features,
            "initial_distribution": game.initial_distribution,
            "transitions": game._transitions,
            "mu": game.mu,
        }
    return sha256_of(arrays)  # the hash games use for their own fingerprints


# ---------------------------------------------------------------------- phase 1: explore
def bonus(phi: np.ndarray, Lambda_inv: np.ndarray, beta: float) -> np.ndarray:
    """``β‖φ‖_{Λ⁻¹}`` (Algorithm 1, line 7): ``(...)`` for ``phi (..., d)``, ``Lambda_inv (d, d)``.

    The bonus of :func:`~stackelberg_rl.learners.functional.optimistic_q`, which adds it to both
    players' values; exploration also makes a reward of it.
    """
    return beta * np.sqrt(np.maximum(np.einsum("...d,...d->...", phi @ Lambda_inv, phi), 0.0))


def exploration_values(
    phi: np.ndarray,
    w: np.ndarray,
    Lambda_inv: np.ndarray,
    beta: float,
    horizon: int,
    alpha_l: float,
    alpha_f: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The exploration phase's optimistic ``Q``, soft-max policies and ``V`` (math.md §7).

    ``Q_h(x, a, b) = min(w_hᵀφ + u_h + β‖φ‖_{Λ_h⁻¹}, H)`` with the exploration reward
    ``u_h = min(β‖φ‖_{Λ_h⁻¹}, H)/H``, the same for both players, so one ``Q`` serves both;
    the policies are Algorithm 1's (lines 9-14) soft-max of it.

    Args:
        phi: ``(..., A, B, d)`` features of the states.
        w: ``(d,)`` the ridge weights of ``V_{h+1}(x')``.
        Lambda_inv: ``(d, d)`` ``Λ_h⁻¹``.
        beta: the bonus scale ``β``.
        horizon: ``H``, the cap.
        alpha_l: the leader's soft-max parameter.
        alpha_f: the follower's.

    Returns:
        ``Q (..., A, B)``, ``pi_l (..., A)``, ``pi_f (..., A, B)``, ``V (...)``.
    """
    b = bonus(phi, Lambda_inv, beta)
    Q = np.minimum(phi @ w + np.minimum(b, horizon) / horizon + b, horizon)
    both = np.broadcast_to(Q[..., None, :, :], (*Q.shape[:-2], 2, *Q.shape[-2:]))
    pi_l, pi_f, _, _, V = soft_policies(both, alpha_l, alpha_f)
    return Q, pi_l, pi_f, V[..., 0]


def explore(
    game: Game,
    episodes: int,
    beta: float = 1.0,
    *,
    lam: float = 1.0,
    alpha_l: float | str = "anytime",
    alpha_f: float | str = "anytime",
    seed: int = 0,
    refresh_every: int = 64,
    progress: Callable[[int], None] | None = None,
) -> ExplorationData:
    """Phase 1: ``K`` episodes of reward-free exploration by both players (math.md §7).

    Each episode starts with Algorithm 1's plan (lines 4-14) for the exploration reward: for
    ``h = H-1 … 0``, ``w_h = Λ_h⁻¹ Σ_τ φ_h^τ V_{h+1}(x_{h+1}^τ)`` and ``Q_h``, policies and
    ``V_h`` by :func:`exploration_values`. The reward ``u_h`` is a known function of ``φ`` and
    the current ``Λ_h`` (as in reward-free linear RL, Wang et al. 2020), so it is added, not
    regressed: a regression would fit the bonuses of past ``Λ``'s, which have shrunk since, and
    add its own error to a quantity that is known exactly. Then the leader draws
    ``a_h ~ π_l(·|x_h)`` and the follower, seeing it, ``b_h ~ π_f(·|x_h, a_h)``, each from its own
    stream; the game's realised rewards are recorded, never used. ``Λ_h⁻¹`` is updated by
    Sherman-Morrison with the old inverse (math.md §5) and recomputed exactly every
    ``refresh_every`` episodes.

    Args:
        game: a finite or a continuous game.
        episodes: ``K``.
        beta: the bonus scale ``β >= 0``.
        lam: the ridge ``λ > 0``.
        alpha_l: the leader's soft-max parameter: a number, ``"anytime"`` (``log|A|·√(k+1)/H``:
            then the first ``k`` episodes are an exploration of ``k`` episodes) or ``"fixed-K"``
            (``log|A|·√K/H``).
        alpha_f: the follower's, likewise with ``|B|``.
        seed: the seed; ``SeedSequence(seed).spawn(3)`` gives the game's, the leader's and the
            follower's streams.
        refresh_every: episodes between exact inversions of ``Λ_h``.
        progress: called with the number of finished episodes after each one.

    Returns:
        The :class:`ExplorationData`.
    """
    K, beta, lam = check_exploration(episodes, beta, lam, alpha_l, alpha_f, seed, refresh_every)
    finite = isinstance(game, FiniteGame)
    if not finite and not isinstance(game, ContinuousGame):
        raise ValueError(f"game must be a FiniteGame or a ContinuousGame, got {game!r}")
    H, A, B, d = game.horizon, game.n_leader_actions, game.n_follower_actions, game.dim
    env_rng, rng_l, rng_f = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )

    phi = np.empty((H, K, d))  # step-major: each plan reads phi[h, :k] contiguously
    rewards = np.empty((K, H, 2))
    actions = np.empty((K, H, 2), dtype=np.int64)
    states = np.empty((K, H), dtype=np.int64) if finite else np.empty((K, H, 2))
    next_states = np.empty_like(states)
    next_features = None if finite else np.empty((max(H - 1, 0), K, A, B, d))
    Lambda = np.broadcast_to(lam * np.eye(d), (H, d, d)).copy()
    Lambda_inv = np.broadcast_to(np.eye(d) / lam, (H, d, d)).copy()
    w = np.zeros((H, d))
    if finite:
        pi_l_table, pi_f_table = np.empty((H, game.n_states, A)), np.empty((H, game.n_states, A, B))

    for k in range(K):
        # The soft-max parameters of episode k; beta and H as given.
        params = (beta, H, alpha_value(alpha_l, A, H, K, k), alpha_value(alpha_f, B, H, K, k))
        # Plan (Algorithm 1, lines 4-14): V_{h+1} at every recorded next state, then w_h.
        V_next = None  # V_{h+1} at the table's states (finite game)
        for h in range(H - 1, -1, -1):
            w[h] = 0.0
            if h < H - 1 and k > 0:
                if finite:
                    target = V_next[next_states[:k, h]]
                else:
                    target = exploration_values(
                        next_features[h, :k], w[h + 1], Lambda_inv[h + 1], *params
                    )[3]
                w[h] = Lambda_inv[h] @ (phi[h, :k].T @ target)
            if finite:
                _, pi_l_table[h], pi_f_table[h], V_next = exploration_values(
                    game.features, w[h], Lambda_inv[h], *params
                )

        # Play: the leader draws a_h, the follower sees it and draws b_h.
        x = game.sample_initial(env_rng)
        x_phi = None if finite else game.feature_map(np.asarray(x)[None])[0]
        for h in range(H):
            if finite:
                p_l, p_f = pi_l_table[h, x], pi_f_table[h, x]
            else:
                _, p_l, p_f, _ = exploration_values(x_phi, w[h], Lambda_inv[h], *params)
            a = draw(p_l, rng_l)
            b = draw(p_f[a], rng_f)
            r, x_next = game.step(h, x, a, b, env_rng)
            phi[h, k] = game.features[x, a, b] if finite else x_phi[a, b]
            rewards[k, h], actions[k, h], states[k, h], next_states[k, h] = r, (a, b), x, x_next
            if not finite:
                x_phi = game.feature_map(np.asarray(x_next)[None])[0]
                if h < H - 1:
                    next_features[h, k] = x_phi
            x = x_next

        # Λ_h gains φ_h^k: Sherman-Morrison with the old inverse (math.md §5), exact refreshes.
        f = phi[:, k]  # (H, d)
        v = np.einsum("hij,hj->hi", Lambda_inv, f)
        Lambda_inv -= (
            v[:, :, None] * v[:, None, :] / (1.0 + np.einsum("hi,hi->h", f, v))[:, None, None]
        )
        Lambda += f[:, :, None] * f[:, None, :]
        if (k + 1) % refresh_every == 0:
            Lambda_inv = np.linalg.inv(Lambda)
        if progress is not None:
            progress(k + 1)

    meta = {
        "game": game.describe(),
        "game_sha256": game.fingerprint(),
        "model_sha256": model_fingerprint(game),
        "episodes": K,
        "exploration": {
            "beta": beta,
            "lam": lam,
            "alpha_l": alpha_l,
            "alpha_f": alpha_f,
            "seed": seed,
            "refresh_every": refresh_every,
        },
    }
    model = {}
    if finite:
        model["initial_distribution"] = game.initial_distribution
        if game.mu is not None and H * game.n_states**2 * A * B > DENSE_MODEL_LIMIT:
            model["mu"] = game.mu
        else:
            model["transitions"] = np.stack([game.transition(h) for h in range(H)])
    return ExplorationData(
        phi=np.ascontiguousarray(phi.transpose(1, 0, 2)),
        rewards=rewards,
        states=states,
        actions=actions,
        next_states=next_states,
        features=game.features if finite else None,
        next_features=None
        if finite
        else np.ascontiguousarray(next_features.transpose(1, 0, 2, 3, 4)),
        meta=meta,
        **model,
    )


def check_exploration(
    episodes: Any,
    beta: Any,
    lam: Any,
    alpha_l: Any,
    alpha_f: Any,
    seed: Any,
    refresh_every: Any,
    lam_name: str = "lam",
) -> tuple[int, float, float]:
    """Raise :class:`ValueError` naming the first bad argument of :func:`explore`.

    Returns:
        ``(episodes, beta, lam)`` as ``int``, ``float``, ``float``.
    """
    if not _is_int(episodes) or episodes < 1:
        raise ValueError(f"episodes must be a positive integer, got {episodes!r}")
    if not _is_real(beta) or not (math.isfinite(beta) and beta >= 0):
        raise ValueError(f"beta must be a finite number >= 0, got {beta!r}")
    if not _is_real(lam) or not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"{lam_name} must be a finite number > 0, got {lam!r}")
    for name, spec in (("alpha_l", alpha_l), ("alpha_f", alpha_f)):
        try:
            alpha_value(spec, 2, 1, 1, 0)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: {err}") from None
    if not _is_int(seed) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not _is_int(refresh_every) or refresh_every < 1:
        raise ValueError(f"refresh_every must be a positive integer, got {refresh_every!r}")
    return int(episodes), float(beta), float(lam)


# ---------------------------------------------------------------------- phase 2: plan
def planned_q(
    phi: np.ndarray, w: np.ndarray, steps_left: int, reward: np.ndarray | None = None
) -> np.ndarray:
    """``Q̂_m = clip(r_m + ŵ_mᵀφ, −(H−h), H−h)`` for both players (math.md §7).

    Args:
        phi: ``(..., A, B, d)``.
        w: ``(2, d)`` the ridge weights ``ŵ_{m,h}``.
        steps_left: ``H - h``: values from step ``h`` on lie in ``[-(H-h), H-h]``.
        reward: ``(..., 2, A, B)`` rewards known exactly (added, not regressed), or ``None``.

    Returns:
        ``Q (..., 2, A, B)``.
    """
    Q = np.moveaxis(phi @ w.T, -1, -3)
    if reward is not None:
        Q = Q + reward
    return np.clip(Q, -steps_left, steps_left)


def stackelberg_choice(
    Q: np.ndarray, tol: float = TIE_TOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the Stackelberg backward induction on action values (math.md §2).

    The follower answers each ``a`` with ``b*(x, a) ∈ argmax_b Q_f`` (ties within ``tol`` in the
    leader's favour), the leader picks ``a*(x) = argmax_a Q_l(x, a, b*(x, a))`` (the first on
    ties).

    Args:
        Q: ``(..., 2, A, B)``.
        tol: the follower's tie tolerance.

    Returns:
        ``a* (...)``, ``b* (..., A)`` and the values ``V (..., 2)`` of the pair.
    """
    b_star = follower_choice(Q[..., 0, :, :], Q[..., 1, :, :], "leader", tol)
    q = np.take_along_axis(Q, b_star[..., None, :, None], axis=-1)[..., 0]  # (..., 2, A)
    a_star = q[..., 0, :].argmax(axis=-1)
    V = np.take_along_axis(q, a_star[..., None, None], axis=-1)[..., 0]
    return a_star, b_star, V


@dataclass(frozen=True, eq=False)
class LearnedPlan:
    """The Stackelberg solution planned on the learned model: usable at any state.

    Attributes:
        w: ``(2, H, d)`` the ridge weights ``ŵ_{m,h}``.
        theta: ``(2, H, d)`` rewards ``⟨φ, θ_{m,h}⟩`` known exactly, or ``None``.
        reward_table: ``(2, H, S, A, B)`` rewards of a finite game known exactly, or ``None``
            (then states must be given as indices).
        tol: the follower's tie tolerance.
    """

    w: np.ndarray
    theta: np.ndarray | None = None
    reward_table: np.ndarray | None = None
    tol: float = TIE_TOL

    @property
    def horizon(self) -> int:
        """``H``."""
        return self.w.shape[1]

    def q(self, h: int, phi: np.ndarray, states: np.ndarray | None = None) -> np.ndarray:
        """``Q̂_h (..., 2, A, B)`` at states with features ``phi (..., A, B, d)``.

        ``states (...)`` (indices) are needed only with a ``reward_table``.
        """
        reward = None
        if self.theta is not None:
            reward = np.moveaxis(phi @ self.theta[:, h].T, -1, -3)
        elif self.reward_table is not None:
            if states is None:
                raise ValueError("a plan for a reward table needs the states' indices")
            reward = np.moveaxis(self.reward_table[:, h][:, states], 0, -3)
        return planned_q(phi, self.w[:, h], self.horizon - h, reward)

    def policies(
        self, h: int, phi: np.ndarray, states: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The planned policies at step ``h``: one-hot ``pi_l (..., A)``, ``pi_f (..., A, B)``."""
        Q = self.q(h, phi, states)
        a_star, b_star, _ = stackelberg_choice(Q, self.tol)
        A, B = Q.shape[-2:]
        return np.eye(A)[a_star], np.eye(B)[b_star]

    def tables(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Policy tables of a finite game with ``features (S, A, B, d)``.

        Returns:
            One-hot ``pi_l (H, S, A)`` and ``pi_f (H, S, A, B)``.
        """
        S, A, B, _ = features.shape
        pi_l, pi_f = np.empty((self.horizon, S, A)), np.empty((self.horizon, S, A, B))
        for h in range(self.horizon):
            pi_l[h], pi_f[h] = self.policies(h, features, np.arange(S))
        return pi_l, pi_f


Rewards = np.ndarray | FiniteGame | ContinuousGame | None
"""What :func:`fit` plans for: ``None`` (the rewards observed while exploring, regressed on
``φ``), a table ``(2, H, S, A, B)`` (finite game), ``θ (2, H, d)``, or a game with the explored
transitions (its own rewards)."""


def fit(
    data: ExplorationData, rewards: Rewards = None, *, lam: float = 1.0, tol: float = TIE_TOL
) -> LearnedPlan:
    """Phase 2: the Stackelberg solution for ``rewards`` on the model learned from ``data``.

    Backward induction over ``h = H-1 … 0`` (math.md §7): ``ŵ_{m,h}`` is the ridge regression
    (``λ = lam``) on the ``K`` samples of step ``h`` of ``y_m = r̃_m + V̂_{m,h+1}(x')``, where
    ``r̃`` is the observed reward when ``rewards is None`` and zero otherwise — a reward that is
    known (a table, ``θ``, a game's) is added exactly in :func:`planned_q`, not regressed, which
    would shrink it towards zero in little-explored directions. Then
    ``Q̂_{m,h} = clip(r_m + ŵ_{m,h}ᵀφ, −(H−h), H−h)`` (the true values lie in that range, so the
    clip only removes error), the follower's and the leader's choices by
    :func:`stackelberg_choice`, and ``V̂_{m,h}`` of those choices at every next state of step
    ``h-1``: the table's states for a finite game, the recorded next states for a continuous
    one.

    Args:
        data: the exploration's data set.
        rewards: see :data:`Rewards`.
        lam: the ridge ``λ > 0``.
        tol: the follower's tie tolerance.

    Returns:
        The :class:`LearnedPlan`.

    Raises:
        ValueError: for rewards of the wrong shape, non-finite or outside ``[-1, 1]``, a game
            whose transitions differ from the explored one (:class:`ExplorationDataError`), a
            bad ``lam`` or ``tol``.
    """
    if not _is_real(lam) or not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"lam must be a finite number > 0, got {lam!r}")
    if not _is_real(tol) or not (math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    theta, table = known_rewards(data, rewards)
    K, H, d = data.phi.shape
    w = np.zeros((2, H, d))
    # The plan holds w and is filled step by step: V̂_h below reads the w[:, h] just solved.
    plan_ = LearnedPlan(w=w, theta=theta, reward_table=table, tol=float(tol))
    observed = theta is None and table is None
    V_next = np.zeros((K, 2))  # V̂_{h+1}(x_{h+1}^k), zero after the last step
    for h in range(H - 1, -1, -1):
        Phi = data.phi[:, h]
        y = (data.rewards[:, h] if observed else 0.0) + V_next
        Lambda = lam * np.eye(d) + Phi.T @ Phi
        w[:, h] = np.linalg.solve(Lambda, Phi.T @ y).T
        if h == 0:
            break
        if data.is_finite:
            S = data.features.shape[0]
            _, _, V = stackelberg_choice(plan_.q(h, data.features, np.arange(S)), tol)
            V_next = V[data.next_states[:, h - 1]]
        else:
            _, _, V_next = stackelberg_choice(plan_.q(h, data.next_features[:, h - 1]), tol)
    return plan_


def plan(
    data: ExplorationData, rewards: Rewards = None, *, lam: float = 1.0, tol: float = TIE_TOL
) -> tuple[np.ndarray, np.ndarray]:
    """Phase 2 on a finite game: the planned Stackelberg policy tables (see :func:`fit`).

    Returns:
        One-hot ``pi_l (H, S, A)`` and ``pi_f (H, S, A, B)``.

    Raises:
        ValueError: as :func:`fit`, and for the data of a continuous game (whose plan
            :func:`fit` gives at any state).
    """
    if not data.is_finite:
        raise ValueError(
            "the data come from a continuous game: it has no policy tables; fit(data, ...) "
            "gives the plan at any state (LearnedPlan.policies)"
        )
    return fit(data, rewards, lam=lam, tol=tol).tables(data.features)


def known_rewards(
    data: ExplorationData, rewards: Rewards
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(theta, reward_table)`` from what :func:`fit` was given, checked against the data.

    Raises:
        ValueError: naming the problem.
    """
    if rewards is None:
        return None, None
    H, d = data.horizon, data.dim
    A, B = data.n_actions
    if isinstance(rewards, FiniteGame | ContinuousGame):
        data.check_game(rewards)
        if isinstance(rewards, ContinuousGame):
            return rewards.theta.copy(), None
        return None, np.stack([rewards.reward(h) for h in range(H)], axis=1)
    array = np.asarray(rewards)
    if array.dtype.kind not in "biuf":
        raise ValueError(f"rewards must be numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    if array.ndim == 3:
        _shape("theta", array, (2, H, d), ("player", "h", "d"), ValueError)
        _finite("theta", array, ValueError)
        # The rewards ⟨φ, θ⟩ must lie in [-1, 1] wherever they are used: at every state of a
        # finite game, at the recorded states of a continuous one.
        if data.is_finite:
            r = np.einsum("sabd,mhd->mhsab", data.features, array)
        else:
            r = np.einsum("khd,mhd->mkh", data.phi, array)
            if H > 1:
                r_next = np.einsum("khabd,mhd->mkhab", data.next_features, array[:, 1:])
                r = np.concatenate([r.reshape(-1), r_next.reshape(-1)])
        if np.abs(r).max() > 1 + PROB_TOL:
            raise ValueError(
                f"theta gives rewards up to {np.abs(r).max():.6g} in absolute value at the "
                "explored states: rewards must lie in [-1, 1]"
            )
        return array, None
    if array.ndim == 5:
        if not data.is_finite:
            raise ValueError(
                "a reward table (2, H, S, A, B) needs the data of a finite game; give theta "
                "(2, H, d) for a continuous one"
            )
        S = data.features.shape[0]
        _shape("rewards", array, (2, H, S, A, B), ("player", "h", "x", "a", "b"), ValueError)
        _finite("rewards", array, ValueError)
        out = np.abs(array) > 1 + PROB_TOL
        if out.any():
            idx = _unravel(np.argmax(out), out.shape)
            raise ValueError(
                f"rewards is {array[idx]:.6g}, outside [-1, 1], at index {idx} (m, h, x, a, b)"
            )
        return None, array
    raise ValueError(
        f"rewards must be a table (2, H, S, A, B) = {(2, H, '?', A, B)} or theta (2, H, d) = "
        f"{(2, H, d)}, got shape {array.shape}"
    )


# ---------------------------------------------------------------------- exact gaps
def gaps(
    game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray, *, tol: float = TIE_TOL
) -> dict[str, float]:
    """How far ``(pi_l, pi_f)`` is from the game's Stackelberg solution, exactly (math.md §7).

    - follower: ``V_f^{π_l, BR_f(π_l)} − V_f^{π_l, π_f}``, its best-response gap (``>= 0``);
    - leader: ``V_l^SE − V_l^{π_l, BR_f^-(π_l)}``, with ``V^SE`` the strong Stackelberg value
      (:func:`~stackelberg_rl.planning.stackelberg_equilibrium`) and ``BR_f^-`` the follower's
      best response that breaks its ties against the leader: what the leader can count on.

    The leader's gap can be negative: a Markov leader policy may commit at later steps to
    actions that are not subgame perfect (a threat) and so steer the follower earlier, which
    backward induction never does (math.md §7 gives an example). It is ``>= 0`` in zero-sum games
    and when ``H = 1``.

    Args:
        game: a finite game.
        pi_l: ``(H, S, A)``.
        pi_f: ``(H, S, A, B)``.
        tol: tie tolerance of the Stackelberg solution and of ``BR_f^-``.

    Returns:
        ``gap/leader/initial`` and ``gap/follower/initial`` (at the initial distribution),
        ``gap/leader/worst`` and ``gap/follower/worst`` (the largest over the initial states,
        those of positive initial probability: a state that never starts an episode is never
        seen at ``h = 0``, and no exploration learns its values there), ``value/leader/
        stackelberg``, ``value/leader/output`` (``V_l`` against ``BR_f^-``),
        ``value/follower/output``, all at the initial distribution.
    """
    if not isinstance(game, FiniteGame):
        raise ValueError(f"gaps are exact on finite games only, got {game!r}")
    _, _, se = stackelberg_equilibrium(game, tol=tol)
    _, worst = follower_best_response(game, pi_l, tie_break="follower", tol=tol)
    _, best_f = follower_best_response(game, pi_l)
    own = evaluate(game, pi_l, pi_f)
    leader = se.V[0, 0] - worst.V[0, 0]
    follower = best_f.V[1, 0] - own.V[1, 0]
    p0 = game.initial_distribution
    starts = p0 > 0
    return {
        "gap/leader/initial": float(p0 @ leader),
        "gap/leader/worst": float(leader[starts].max()),
        "gap/follower/initial": float(p0 @ follower),
        "gap/follower/worst": float(follower[starts].max()),
        "value/leader/stackelberg": float(p0 @ se.V[0, 0]),
        "value/leader/output": float(p0 @ worst.V[0, 0]),
        "value/follower/output": float(p0 @ own.V[1, 0]),
    }


# ---------------------------------------------------------------------- helpers
def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _array(name: str, array: Any, ndim: int) -> np.ndarray:
    if not isinstance(array, np.ndarray) or array.ndim != ndim:
        shape = getattr(array, "shape", None)
        raise ExplorationDataError(f"{name} must be a {ndim}-d array, got shape {shape}")
    return array


def _shape(name, array, shape, axes, error=ExplorationDataError) -> None:
    _check_shape(name, array, shape, axes, error)


def _finite(name: str, array: np.ndarray, error=ExplorationDataError) -> None:
    bad = ~np.isfinite(array)
    if bad.any():
        raise error(f"{name} has a non-finite entry at index {_unravel(np.argmax(bad), bad.shape)}")


def _indices(name: str, array: np.ndarray, n: int) -> None:
    if array.dtype.kind not in "iu":
        raise ExplorationDataError(f"{name} must hold integers, got dtype {array.dtype}")
    bad = (array < 0) | (array >= n)
    if bad.any():
        idx = _unravel(np.argmax(bad), bad.shape)
        raise ExplorationDataError(f"{name} is {array[idx]} at index {idx}, outside [0, {n})")


def _compare(
    name: str, mine: np.ndarray, explored: np.ndarray, axes: tuple[str, ...], h: int | None = None
) -> None:
    err = np.abs(np.asarray(mine) - explored)
    if (err > 1e-10).any():
        idx = _unravel(np.argmax(err), err.shape)
        where = idx if h is None else (h, *idx)
        labels = axes if h is None else ("h", *axes)
        raise ExplorationDataError(
            f"the game's {name} differ from the explored game's at index {where} "
            f"({', '.join(labels)}) by {err[idx]:.3g}: plans on these data are for the explored "
            "dynamics only"
        )


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return "inf" if obj > 0 else ("-inf" if obj < 0 else "nan")
    return obj
