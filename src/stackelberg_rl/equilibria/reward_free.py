"""General-sum Stackelberg equilibria by reward-free exploration (math.md §7; the paper's §5).

:func:`explore`: every player runs Algorithm 1 with the bonus ``min(β‖φ‖_{Λ_h⁻¹}, H)/H`` as its
only reward (:class:`ExplorationData`); :func:`fit` / :func:`solve`: the Stackelberg solution on
the learned model for any rewards; :func:`gaps`: its exact gaps on a finite game. Shapes are
written for two players: with ``N`` followers ``2`` is ``1+N``, ``A, B`` the action axes
``A_0, …, A_N``, and ``pi_l, pi_f`` are ``pi_0 … pi_N``.

Example:
    >>> from stackelberg_rl import games
    >>> game = games.make("security", horizon=2, n_targets=2, levels=2)
    >>> data = explore(game, episodes=20, beta=0.5, seed=0)
    >>> pi_l, pi_f = solve(data)                   # the rewards observed while exploring
    >>> pi_l.shape, pi_f.shape
    ((2, 2, 2), (2, 2, 2, 3))
    >>> sorted(gaps(game, pi_l, pi_f))[:2]
    ['gap/follower/initial', 'gap/follower/worst']
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, _files
from .._seeding import stream
from .._validate import TOL, array, check_shape, first_index, instance, integer, real
from ..agents import LSVIAgent, follower_alphas, named_alphas, set_generator_state
from ..experiments import checkpoint as ckpt
from ..experiments.checkpoint import CHECKPOINTS_DIR
from ..experiments.config import GameSpec, difference
from ..experiments.loop import DEFAULT_CHECKPOINT_EVERY, play_episodes
from ..experiments.store import (
    MANIFEST_FILE,
    REPORT_FILE,
    REPORT_PREFIX,
    FolderKind,
    RunFolderError,
    read_complete,
    read_record,
)
from ..games import ContinuousGame, FiniteGame, Game
from ..games.base import action_axes, player_names, sha256_of
from ..games.sampling import compiled_step
from ..learners import SoftmaxLSVIUCB, alpha_value
from ..planning import (
    best_response,
    check_policies,
    collapse,
    evaluate,
    stackelberg_equilibrium,
    stackelberg_rules,
)

FORMAT = "stackelberg-rl/exploration-data"
"""The ``format`` of a data file's header (:mod:`stackelberg_rl._files`)."""
FORMAT_VERSION = 2  # a version 1 file is refused with its one-line error
DENSE_MODEL_LIMIT = 4_000_000
"""A finite game's transitions are kept densely (``H·S·A·B·S`` entries) up to this size, else
as ``mu`` (only to refuse planning for a game whose transitions differ)."""
TIE_TOL = 1e-9
"""How far below the follower's best planned value an action still counts as a best answer."""
_PARAMS = ("beta", "lam", "alpha_l", "alpha_f", "seed", "refresh_every")
_CHECKED = _PARAMS[:5]  # what the manifest's options and the data must agree on
_EPISODE_ARRAYS = ("phi", "rewards", "states", "actions", "next_states", "next_features")
_ARRAYS = (*_EPISODE_ARRAYS, "features", "initial_distribution", "transitions", "mu")


class ExplorationDataError(ValueError):
    """A data file that cannot be read, or data that do not form an exploration data set."""


# ---------------------------------------------------------------------- the data set
@dataclass(frozen=True, eq=False)
class ExplorationData:
    """The data of ``K`` exploration episodes, and what identifies the game they come from.

    One sample ``(x, a, b, r, x')`` per episode and step (need not chain into trajectories).

    Attributes:
        phi: ``(K, H, d)`` ``φ(x_h^k, a_h^k, b_h^k)``.
        rewards, actions: ``(K, H, 2)`` every player's realised rewards, ``(a_h^k, b_h^k)``.
        states, next_states: ``(K, H)`` indices ``x_h^k``, ``x_{h+1}^k`` (finite game) or
            ``(K, H, 2)`` points (continuous game).
        features: ``(S, A, B, d)`` of a finite game; next_features: ``(K, H-1, A, B, d)``
            ``φ(x_{h+1}^k, ·, ·)`` of a continuous game (the other one ``None``).
        initial_distribution: ``(S,)``, transitions: ``(H, S, A, B, S)`` (up to
            :data:`DENSE_MODEL_LIMIT` entries, else ``mu (H, d, S)``) of a finite game.
        meta: the game (``describe()``, SHA-256s of the game and of its transition model), the
            exploration's parameters.

    Raises:
        ExplorationDataError: naming the array, the axis or the index at fault.
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
        try:
            self._validate()
        except ValueError as err:
            raise ExplorationDataError(str(err)) from None

    episodes = property(lambda self: self.phi.shape[0], doc="``K``.")
    horizon = property(lambda self: self.phi.shape[1], doc="``H``.")
    dim = property(lambda self: self.phi.shape[2], doc="``d``.")
    is_finite = property(lambda self: self.features is not None, doc="From a finite game?")

    @property
    def n_actions(self) -> tuple[int, ...]:
        """``(A, B)``; with ``N`` followers ``(A_0, …, A_N)``."""
        return self.features.shape[1:-1] if self.is_finite else self.next_features.shape[2:-1]

    n_players = property(lambda self: len(self.n_actions), doc="``1+N``.")

    def head(self, k: int) -> ExplorationData:
        """The data of the first ``k`` episodes (``1 <= k <= K``)."""
        k = integer(k, "k", low=1, high=self.episodes)
        cut = {n: getattr(self, n)[:k] for n in _EPISODE_ARRAYS if getattr(self, n) is not None}
        return replace(self, **cut, meta={**self.meta, "episodes": int(k)})

    def _validate(self) -> None:
        phi, finite = self.phi, self.is_finite
        if not isinstance(self.meta, dict):
            raise ValueError(f"meta must be a dict, got {type(self.meta).__name__}")
        if not isinstance(phi, np.ndarray) or phi.ndim != 3 or 0 in phi.shape:
            raise ValueError(f"phi must be a 3-d array (K, H, d), none empty, got {np.shape(phi)}")
        K, H, d = phi.shape
        array(phi, "phi", axes=("k", "h", "i"))
        norms = np.linalg.norm(phi, axis=-1)
        if (norms > 1 + TOL).any():
            idx = first_index(norms > 1 + TOL)
            raise ValueError(f"phi has norm {norms[idx]:.12g} > 1 at index {idx} (k, h)")
        if finite == (self.next_features is not None):
            raise ValueError(
                "give features (a finite game) or next_features (a continuous game), not both "
                "or neither"
            )
        name = "features" if finite else "next_features"
        table = getattr(self, name)
        P = np.ndim(table) - (2 if finite else 3)  # the players: one action axis each
        if P < 2:
            raise ValueError(f"{name} has shape {np.shape(table)}: fewer than two action axes")
        acts, axes = action_axes(P, upper=False), ("k", "h", "player")
        array(self.rewards, "rewards", shape=(K, H, P), axes=axes, low=-1.0, high=1.0)
        lead, lead_axes = ((None,), ("x",)) if finite else ((K, H - 1), ("k", "h"))
        array(table, name, shape=(*lead, *(None,) * P, d), axes=(*lead_axes, *acts, "i"))
        counts = np.shape(table)[-1 - P : -1]
        for name in ("states", "next_states"):
            if finite:
                _indices(name, getattr(self, name), (K, H), len(table))
            else:
                array(getattr(self, name), name, shape=(K, H, 2), axes=("k", "h", "coordinate"))
        check_shape(self.actions, "actions", (K, H, P), axes)
        for m, n in enumerate(counts):
            _indices(f"actions[..., {m}]", self.actions[..., m], (K, H), n)
        if not finite:
            return
        played = table[(self.states, *np.moveaxis(self.actions, -1, 0))]
        if not np.array_equal(played, phi):
            idx = first_index(np.abs(played - phi).max(axis=-1) > 0)
            raise ValueError(
                f"phi at index {idx} (k, h) is not features[x, {', '.join(acts)}] of the "
                "recorded state and actions: the data set is inconsistent"
            )
        S = len(table)
        array(self.initial_distribution, "initial_distribution", shape=(S,), axes=("x",))
        if (self.transitions is None) == (self.mu is None):
            raise ValueError("give the finite game's transitions or its mu (one)")
        if self.transitions is not None:
            array(self.transitions, "transitions", shape=(H, S, *counts, S),
                  axes=("h", "x", *acts, "x'"))  # fmt: skip
        else:
            array(self.mu, "mu", shape=(H, d, S), axes=("h", "i", "x'"))

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> None:
        """Write the data set to ``path`` (an ``.npz``) whole or not at all.

        ``overwrite``: replace an exploration data set already at ``path`` (any other file never
        is); without it, an existing one is refused (:class:`ExplorationDataError`).
        """
        arrays = {name: getattr(self, name) for name in _ARRAYS if getattr(self, name) is not None}
        meta = _files.jsonable(self.meta, "meta", nan=True)
        _files.save(path, FORMAT, FORMAT_VERSION, arrays, {"meta": meta}, compress=True,
                    what="exploration data set", overwrite=overwrite,
                    error=ExplorationDataError)  # fmt: skip

    @classmethod
    def load(cls, path: str | os.PathLike) -> ExplorationData:
        """Read and check a data set written by :meth:`save` (or :class:`ExplorationDataError`)."""
        head, arrays = _files.load(
            path, FORMAT, FORMAT_VERSION, what="exploration data set", error=ExplorationDataError
        )
        meta = head.get("meta")
        try:
            if not isinstance(meta, dict):
                raise ValueError("its header has no meta table")
            unknown = sorted(set(arrays) - set(_ARRAYS))
            if unknown:
                raise ValueError(f"unknown arrays {', '.join(unknown)}")
            missing = [name for name in _EPISODE_ARRAYS[:5] if name not in arrays]
            if missing:
                raise ValueError(f"missing array {missing[0]!r}")
            finite = "features" in arrays
            for name, value in arrays.items():
                ints = name == "actions" or (name in ("states", "next_states") and finite)
                if value.dtype.kind not in ("iu" if ints else "biuf"):
                    expected = "integers" if ints else "numbers"
                    raise ValueError(f"array {name!r} has dtype {value.dtype}, expected {expected}")
                arrays[name] = value.astype(np.int64 if ints else np.float64, copy=False)
            return cls(**arrays, meta=meta)
        except ValueError as err:
            raise ExplorationDataError(f"{path}: {err}") from None

    def check_game(self, game: Game) -> None:
        """Raise :class:`ExplorationDataError` unless ``game`` has the explored dynamics.

        Rewards may differ: finite games are compared by value (within ``1e-10``), continuous
        ones by the SHA-256 of their model.
        """
        H, d, counts = self.horizon, self.dim, self.n_actions
        explored = self.meta.get("game", {}).get("name", "the explored game")
        finite = isinstance(game, FiniteGame)
        if finite != self.is_finite:
            kinds = ("a continuous", "a finite") if finite else ("a finite", "a continuous")
            raise ExplorationDataError(
                f"the data come from {kinds[0]} game ({explored}); {game.name} is {kinds[1]} game"
            )
        sizes, explored_sizes = (game.horizon, *game.action_counts, game.dim), (H, *counts, d)
        if sizes != explored_sizes:
            names = [
                ", ".join(("H", *action_axes(len(t) - 2), "d")) for t in (sizes, explored_sizes)
            ]
            theirs = "" if names[0] == names[1] else f"({names[1]}) = "
            raise ExplorationDataError(
                f"the game has ({names[0]}) = {sizes}, the data of {explored} {theirs}"
                f"{explored_sizes}"
            )
        if not self.is_finite:
            ours, theirs = model_fingerprint(game), self.meta.get("model_sha256")
            if ours != theirs:
                what = f"{game.name} has other features or transitions than {explored}"
                if game.name == explored:  # the same label: name what differs
                    mine, recorded = (
                        (record.get("registered") or {}).get("params") or {}
                        for record in (game.describe(), self.meta.get("game") or {})
                    )
                    differ = [k for k in {**mine, **recorded} if mine.get(k) != recorded.get(k)]
                    if differ:
                        here, there = (
                            ", ".join(f"{k}={params.get(k)!r}" for k in differ)
                            for params in (mine, recorded)
                        )
                    else:  # a game file's, or parameters not recorded: the two fingerprints
                        here, there = (f"model SHA-256 {str(h)[:12]}…" for h in (ours, theirs))
                    what = (
                        f"{game.name} with {here} has other features or transitions than the "
                        f"explored one with {there}"
                    )
                raise ExplorationDataError(
                    f"{what} (the SHA-256 of its model differs): plan needs the explored dynamics"
                )
            return
        acts = action_axes(len(counts), upper=False)
        _compare("features", game.features, self.features, ("x", *acts, "i"))
        _compare("initial_distribution", game.initial_distribution, self.initial_distribution,
                 ("x",))  # fmt: skip
        for h in range(H):
            if self.mu is not None and game.mu is not None:  # too large to compare densely
                _compare("mu", game.mu[h], self.mu[h], ("i", "x'"), h)
                continue
            P = self.transitions[h] if self.transitions is not None else self.features @ self.mu[h]
            _compare("transitions", game.transition(h), P, ("x", *acts, "x'"), h)


def model_fingerprint(game: Game) -> str:
    """SHA-256 of a game's dynamics (features, transitions, initial states; not its rewards)."""
    if isinstance(game, ContinuousGame):
        return sha256_of({"centres": game.centres, "bandwidth": np.float64(game.bandwidth),
                          "log_weights": game.log_weights, "horizon": np.int64(game.horizon),
                          **game.densities.arrays()})  # fmt: skip
    return sha256_of({"features": game.features, "initial_distribution": game.initial_distribution,
                      "transitions": game._transitions, "mu": game.mu})  # fmt: skip


# ---------------------------------------------------------------------- the folder
DATA_FILE = "data.npz"
POLICIES_FILE = "policies.npz"
GAPS_FILE = "gaps.json"
PLAN_PREFIX = "plan-"
PLAN_FORMAT = "stackelberg-rl/exploration-plan"
"""The format of ``policies.npz`` and ``plan-NAME.npz`` (arrays ``w``, ``pi_l``, ``pi_f``)."""
EXPLORATION_FOLDER = FolderKind(
    "stackelberg-rl/exploration", (MANIFEST_FILE, DATA_FILE, POLICIES_FILE, GAPS_FILE, REPORT_FILE),
    (PLAN_PREFIX, REPORT_PREFIX), "exploration", scratch=((CHECKPOINTS_DIR, ("seed-",)),),
)  # fmt: skip
"""An exploration folder (``explore``): its manifest, data, plans, report, checkpoint."""


def read_folder(folder: str | os.PathLike, plans: bool = False) -> tuple[dict, ExplorationData]:
    """The manifest and the data set of a complete exploration folder, checked to agree.

    ``plans``: also read every plan file (``policies.npz``, the manifest's ``plan-*.npz``) in
    full. Raises :class:`RunFolderError` naming the file at fault.
    """
    folder = Path(folder)
    manifest = read_complete(folder, EXPLORATION_FOLDER)
    path = folder / DATA_FILE
    try:
        data = ExplorationData.load(path)
    except ExplorationDataError as err:
        raise RunFolderError(str(err)) from None
    options, explored = manifest.get("options") or {}, data.meta.get("exploration") or {}
    game = manifest.get("game") or {}
    pairs = [("its game's SHA-256", data.meta.get("game_sha256"), game.get("sha256")),
             ("episodes", data.episodes, options.get("episodes"))]  # fmt: skip
    for what, theirs, ours in pairs + [(k, explored.get(k), options.get(k)) for k in _CHECKED]:
        if theirs != ours:
            raise RunFolderError(
                f"{path} is not the data of the exploration in {folder} ({what} is {theirs!r} "
                f"there, {ours!r} in the manifest)"
            )
    try:  # the options' game is the game explored: its parameters, or its file's SHA-256
        spec = GameSpec(**options["game"])
        same = (spec.sha256 == game.get("sha256")) if spec.file else {
            "name": spec.name, "params": spec.resolved()} == game.get("registered")  # fmt: skip
    except (KeyError, TypeError, ValueError):
        same = False
    if not same:
        raise RunFolderError(
            f"{folder / MANIFEST_FILE} was edited or damaged: its options' game is not the game "
            "explored"
        )
    gaps_path = folder / GAPS_FILE  # a finite game's: its manifest records them
    if manifest.get("gaps") is not None or gaps_path.exists():
        read_record(gaps_path, "a record of gaps")
    plan_records = manifest.get("plans") or []
    listed = [f for p in plan_records for f in (p.get("files") if isinstance(p, dict) else [p])]
    for name in [POLICIES_FILE, *listed] * plans:  # a user's own plan-*.npz is not read
        if not isinstance(name, str) or Path(name).name != name:
            raise RunFolderError(f"{folder / MANIFEST_FILE} lists a plan file {name!r}")
        _files.load(folder / name, PLAN_FORMAT, 1, what="plan", error=RunFolderError)
    return manifest, data


# ---------------------------------------------------------------------- phase 1: explore
def explore(
    game: Game,
    episodes: int,
    beta: float = 1.0,
    *,
    lam: float = 1.0,
    alpha_l: float | str = "anytime",
    alpha_f: float | str | Sequence[float | str] = "anytime",
    seed: int = 0,
    refresh_every: int = 64,
    progress: Callable[[int], None] | None = None,
    state: bytes | None = None,
    checkpoint: Callable[[bytes], None] | None = None,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
) -> ExplorationData:
    """Phase 1: ``K`` episodes of reward-free exploration by every player (math.md §7, §9).

    Algorithm 1 (:class:`~stackelberg_rl.learners.SoftmaxLSVIUCB`, shared, ``bonus_reward``):
    ``Q_h = min(w_hᵀφ + u_h + β‖φ‖_{Λ_h⁻¹}, H)``, the reward ``u_h = min(β‖φ‖_{Λ_h⁻¹}, H)/H``
    added, not regressed (Wang et al. 2020); the game's rewards are kept, never learned from.

    Args:
        game: a finite or a continuous game.
        episodes, beta, lam: ``K``, the bonus scale ``β >= 0``, the ridge ``λ > 0``.
        alpha_l, alpha_f: the soft-max parameters: a number, ``"anytime"`` (``log|A|·√(k+1)/H``:
            the first ``k`` episodes are an exploration of ``k``) or ``"fixed-K"``
            (``log|A|·√K/H``); the followers' with their ``|A_i|``, one for all or a list.
        seed: of the streams ``stream(seed, "game")`` and ``stream(seed, "player", m)``.
        refresh_every: plans between exact inversions of ``Λ_h``.
        progress, checkpoint, checkpoint_every: as :func:`~..experiments.loop.play_episodes`.
        state: a checkpoint of this exploration (same game and arguments) to continue from, to
            the data of an exploration never stopped.

    Raises:
        ValueError: a bad argument (:func:`check_exploration`), a game neither finite nor
            continuous.
        CheckpointError: ``state`` is damaged or of another exploration (naming what differs).
    """
    exploration = _Exploration(game, episodes, beta, lam, alpha_l, alpha_f, seed, refresh_every)
    if state is not None:
        exploration.restore(state)
    play_episodes(exploration, progress, checkpoint, checkpoint_every)
    return exploration.result()


class _Exploration:
    """Phase 1 one episode at a time, for :func:`~..experiments.loop.play_episodes`."""

    def __init__(self, game: Game, K, beta, lam, alpha_l, alpha_f, seed, refresh_every) -> None:
        K, beta, lam = check_exploration(K, beta, lam, alpha_l, alpha_f, seed, refresh_every)
        self.finite = finite = isinstance(game, FiniteGame)
        if not finite and not isinstance(game, ContinuousGame):
            raise ValueError(f"game must be a FiniteGame or a ContinuousGame, got {game!r}")
        H, d, counts, P = game.horizon, game.dim, game.action_counts, game.n_players
        learner = SoftmaxLSVIUCB(
            game.features if finite else game.feature_map,
            action_counts=counts, dim=d, horizon=H, beta=beta, lam=lam, alphas=(0.0,) * P,
            bonus_reward=True, refresh_every=refresh_every,
        )  # fmt: skip
        self.game, self.seed, self.episodes, self.episodes_done = game, seed, K, 0
        self.env_rng = stream(seed, "game")
        # One learner for all (the bonus is the shared reward); the leader's agent plans for it.
        alphas = (alpha_l, *follower_alphas(alpha_f, P))
        self.players = [
            LSVIAgent(learner, stream(seed, "player", m), m, alphas, K, owner=m == 0)
            for m in range(P)
        ]
        # A finite game steps as the compiled episode loop does, for any number of players.
        self.step_arrays = tuple(game.step_arrays()) if finite else None
        states = np.empty((K, H), dtype=np.int64) if finite else np.empty((K, H, 2))
        self.data = {"phi": np.empty((K, H, d)), "rewards": np.empty((K, H, P)),
                     "actions": np.empty((K, H, P), dtype=np.int64), "states": states,
                     "next_states": np.empty_like(states)}  # fmt: skip
        if not finite:
            self.data["next_features"] = np.empty((K, max(H - 1, 0), *counts, d))
        params = (beta, lam, alpha_l, alpha_f, seed, refresh_every)
        self.params = dict(zip(_PARAMS, params, strict=True))
        explored = _files.jsonable(self.params, "exploration")
        self.identity = {"stackelberg_rl": __version__, "game_sha256": game.fingerprint(),
                         "episodes": K, "exploration": explored}  # fmt: skip

    def features_at(self, x: Any) -> np.ndarray:  # φ(x, ·, …, ·): (A_0, …, A_N, d)
        game = self.game
        return game.features[x] if self.finite else game.feature_map(np.asarray(x)[None])[0]

    def play_episode(self) -> None:
        game, players, data, k = self.game, self.players, self.data, self.episodes_done
        for player in players:  # the leader plans (Algorithm 1, lines 4-14)
            player.begin_episode(k)
        x = game.sample_initial(self.env_rng)
        phi_x = self.features_at(x)
        rewards = np.empty(game.n_players)
        for h in range(game.horizon):
            actions: list[int] = []
            for player in players:
                actions.append(player.act(h, x, *actions))
            if self.finite:
                joint = int(np.ravel_multi_index(actions, game.action_counts))
                x_next = int(compiled_step(self.step_arrays, h, x, joint, self.env_rng, rewards))
            else:
                rewards, x_next = game.step(h, x, *actions, self.env_rng)
            players[0].record(h, x, tuple(actions), np.zeros(game.n_players), x_next)
            data["phi"][k, h] = phi_x[tuple(actions)]
            data["rewards"][k, h], data["actions"][k, h] = rewards, actions
            data["states"][k, h], data["next_states"][k, h] = x, x_next
            if h < game.horizon - 1:
                phi_x = self.features_at(x_next)
                if not self.finite:
                    data["next_features"][k, h] = phi_x
            x = x_next
        self.episodes_done = k + 1

    def checkpoint(self) -> bytes:
        done = self.episodes_done
        tree = {"env_rng": self.env_rng.bit_generator.state,
                "players": {str(m): p.state_dict() for m, p in enumerate(self.players)},
                "data": {n: a[:done] for n, a in self.data.items()}}  # fmt: skip
        return ckpt.pack(tree, {**self.identity, "episodes_done": done})

    def restore(self, state: bytes) -> None:  # CheckpointError if not of this exploration
        where = "the exploration's checkpoint"
        header, tree = ckpt.unpack(state, where)
        found = difference({k: header.get(k) for k in self.identity}, self.identity)
        if found is not None:
            path, theirs, ours = found
            raise ckpt.CheckpointError(
                f"{where} is of another exploration: {path} is {theirs!r} there, {ours!r} here"
            )
        try:
            done = integer(header.get("episodes_done"), "episodes_done", low=0, high=self.episodes)
            set_generator_state(self.env_rng, tree.get("env_rng"))
            for m, player in enumerate(self.players):
                player.load_state_dict((tree.get("players") or {}).get(str(m)) or {})
            for name, value in self.data.items():
                saved, shape = (tree.get("data") or {}).get(name), (done, *value.shape[1:])
                value[:done] = array(saved, name, shape=shape, dtype=value.dtype)
        except (TypeError, ValueError) as err:
            raise ckpt.CheckpointError(f"{where} does not fit this exploration: {err}") from None
        self.episodes_done = done

    def result(self) -> ExplorationData:
        game, finite = self.game, self.finite
        meta = {"game": game.describe(), "game_sha256": self.identity["game_sha256"],
                "model_sha256": model_fingerprint(game), "episodes": self.episodes,
                "exploration": self.params}  # fmt: skip
        if not finite:
            return ExplorationData(**self.data, meta=meta)
        H, joint = game.horizon, math.prod(game.action_counts)
        if game.mu is not None and H * game.n_states**2 * joint > DENSE_MODEL_LIMIT:
            model = {"mu": game.mu}
        else:
            model = {"transitions": np.stack([game.transition(h) for h in range(H)])}
        return ExplorationData(**self.data, features=game.features, meta=meta,
                               initial_distribution=game.initial_distribution, **model)  # fmt: skip


def check_exploration(
    episodes: Any, beta: Any, lam: Any, alpha_l: Any, alpha_f: Any, seed: Any, refresh_every: Any
) -> tuple[int, float, float]:
    """``(episodes, beta, lam)`` of :func:`explore` checked; else ``ValueError``."""
    episodes = integer(episodes, "episodes", low=1)
    beta = real(beta, "beta", low=0.0)
    lam = real(lam, "lam", low=0.0, low_open=True)
    for name, spec in named_alphas(alpha_l, alpha_f):
        try:
            alpha_value(spec, 2, 1, 1, 0)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{name}: {err}") from None
    integer(seed, "seed", low=0)
    integer(refresh_every, "refresh_every", low=1)
    return episodes, beta, lam


# ---------------------------------------------------------------------- phase 2: plan
def _stackelberg(Q: np.ndarray, tol: float, n_players: int = 2) -> tuple[np.ndarray, ...]:
    """One-hot ``pi_i (..., A_0, …, A_i)`` and ``V (1+N, ...)``: Stackelberg backup of ``Q``.

    ``Q (..., 1+N, A_0, …, A_N)``; each follower's ties go to the players before it (math.md §9).
    """
    W = np.moveaxis(Q, -1 - n_players, 0)
    pis, nodes = collapse(W, stackelberg_rules("leader", tol, n_players))
    return (*pis, nodes[0])


@dataclass(frozen=True, eq=False)
class LearnedPlan:
    """The Stackelberg solution planned on the learned model: usable at any state.

    Attributes:
        w: ``(2, H, d)`` the ridge weights ``ŵ_{m,h}``.
        theta: ``(2, H, d)`` rewards ``⟨φ, θ_{m,h}⟩`` known exactly, or ``None``.
        reward_table: ``(2, H, S, A, B)`` rewards of a finite game known exactly, or ``None``
            (then states must be given as indices).
        tol: the followers' tie tolerance.
    """

    w: np.ndarray
    theta: np.ndarray | None = None
    reward_table: np.ndarray | None = None
    tol: float = TIE_TOL

    horizon = property(lambda self: self.w.shape[1], doc="``H``.")
    n_players = property(lambda self: self.w.shape[0], doc="``1+N``.")

    def q(self, h: int, phi: np.ndarray, states: np.ndarray | None = None) -> np.ndarray:
        """``Q̂_h = clip(r + ŵ_hᵀφ, −(H−h), H−h)`` ``(..., 2, A, B)`` at ``phi (..., A, B, d)``.

        A known reward ``r`` is added, not regressed (math.md §7); ``states (...)`` (indices) are
        needed only with a ``reward_table``.
        """
        axis = -1 - self.n_players  # the player axis, before the action axes
        Q = np.moveaxis(phi @ self.w[:, h].T, -1, axis)
        if self.theta is not None:
            Q = Q + np.moveaxis(phi @ self.theta[:, h].T, -1, axis)
        elif self.reward_table is not None:
            if states is None:
                raise ValueError("a plan for a reward table needs the states' indices")
            Q = Q + np.moveaxis(self.reward_table[:, h][:, states], 0, axis)
        return np.clip(Q, h - self.horizon, self.horizon - h)

    def policies(
        self, h: int, phi: np.ndarray, states: np.ndarray | None = None
    ) -> tuple[np.ndarray, ...]:
        """The planned one-hot ``pi_i (..., A_0, …, A_i)`` at step ``h``: ``pi_l``, ``pi_f``."""
        return _stackelberg(self.q(h, phi, states), self.tol, self.n_players)[:-1]

    def tables(self, features: np.ndarray) -> tuple[np.ndarray, ...]:
        """One-hot ``pi_i (H, S, A_0, …, A_i)`` at ``features (S, A_0, …, A_N, d)``."""
        states = np.arange(len(features))
        by_step = [self.policies(h, features, states) for h in range(self.horizon)]
        return tuple(np.stack(pis) for pis in zip(*by_step, strict=True))


Rewards = np.ndarray | FiniteGame | ContinuousGame | None
"""What :func:`fit` plans for: ``None`` (the rewards observed while exploring, regressed on
``φ``), a table ``(2, H, S, A, B)`` (finite game), ``θ (2, H, d)``, or a game with the explored
transitions (its own rewards)."""


def fit(
    data: ExplorationData, rewards: Rewards = None, *, lam: float = 1.0, tol: float = TIE_TOL
) -> LearnedPlan:
    """Phase 2: the Stackelberg solution for ``rewards`` on the model learned from ``data``.

    Backward induction over ``h = H-1 … 0`` (math.md §7): ``ŵ_{m,h}`` is the ridge regression on
    the samples of step ``h`` of ``y_m = r̃_m + V̂_{m,h+1}(x')``, ``r̃`` the observed reward when
    ``rewards is None`` and zero otherwise (a known reward is added exactly in
    :meth:`LearnedPlan.q`); ``Q̂_{m,h} = clip(r_m + ŵ_{m,h}ᵀφ, −(H−h), H−h)``, the Stackelberg
    choices (math.md §9: from the last follower down, each answers the actions before it, ties
    for the earlier players, the leader first; the leader maximises), and ``V̂_{m,h}`` at the
    next states of step ``h-1`` (every state of a finite game).

    ``rewards``: see :data:`Rewards`; ``lam``: the ridge ``λ > 0``; ``tol``: the followers' tie
    tolerance.

    Raises:
        ValueError: rewards of the wrong shape, non-finite or outside ``[-1, 1]``, a game whose
            transitions differ from the explored one (:class:`ExplorationDataError`), a bad
            ``lam`` or ``tol``.
    """
    return fit_with_tables(data, rewards, lam=lam, tol=tol, tables=False)[0]


def fit_with_tables(
    data: ExplorationData,
    rewards: Rewards = None,
    *,
    lam: float = 1.0,
    tol: float = TIE_TOL,
    tables: bool | None = None,
) -> tuple[LearnedPlan, list[np.ndarray] | None]:
    """:func:`fit`'s plan and :meth:`LearnedPlan.tables` of the same backups, or ``None``.

    ``tables``: whether to make them (by default for a finite game only).
    """
    instance(data, ExplorationData, "data")
    tables = data.is_finite if tables is None else tables
    lam, tol = real(lam, "lam", low=0.0, low_open=True), real(tol, "tol", low=0.0)
    theta, table = known_rewards(data, rewards)
    (K, H, d), P = data.phi.shape, data.n_players
    w = np.zeros((P, H, d))
    # The plan holds w and is filled step by step: V̂_h below reads the w[:, h] just solved.
    plan_ = LearnedPlan(w=w, theta=theta, reward_table=table, tol=float(tol))
    observed = theta is None and table is None
    chosen = []  # the tables' Stackelberg choices, from h = H-1 down
    states = np.arange(len(data.features)) if data.is_finite else None
    V_next = np.zeros((K, P))  # V̂_{h+1}(x_{h+1}^k), zero after the last step
    for h in range(H - 1, -1, -1):
        Phi = data.phi[:, h]
        y = (data.rewards[:, h] if observed else 0.0) + V_next
        Lambda = lam * np.eye(d) + Phi.T @ Phi
        w[:, h] = np.linalg.solve(Lambda, Phi.T @ y).T
        if h == 0 and not tables:  # V̂_0 is needed only for the tables' choices at h = 0
            break
        if data.is_finite:
            *pis, V = _stackelberg(plan_.q(h, data.features, states), tol, P)
            if tables:
                chosen.append(pis)
            if h > 0:
                V_next = V.T[data.next_states[:, h - 1]]
        else:
            V_next = _stackelberg(plan_.q(h, data.next_features[:, h - 1]), tol, P)[-1].T
    return plan_, [np.stack(pis[::-1]) for pis in zip(*chosen, strict=True)] if tables else None


def solve(
    data: ExplorationData, rewards: Rewards = None, *, lam: float = 1.0, tol: float = TIE_TOL
) -> tuple[np.ndarray, ...]:
    """Phase 2 on a finite game: one-hot ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)`` (:func:`fit`).

    Raises:
        ValueError: as :func:`fit`, and for the data of a continuous game.
    """
    if not instance(data, ExplorationData, "data").is_finite:
        raise ValueError(
            "the data come from a continuous game: it has no policy tables; fit(data, ...) "
            "gives the plan at any state (LearnedPlan.policies)"
        )
    return tuple(fit_with_tables(data, rewards, lam=lam, tol=tol)[1])


def known_rewards(
    data: ExplorationData, rewards: Rewards
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """``(theta, reward_table)`` from what :func:`fit` was given, checked (else ``ValueError``)."""
    if rewards is None:
        return None, None
    H, d, P, counts = data.horizon, data.dim, data.n_players, data.n_actions
    if isinstance(rewards, FiniteGame | ContinuousGame):
        data.check_game(rewards)
        if isinstance(rewards, ContinuousGame):
            return rewards.theta.copy(), None
        return None, np.stack([rewards.reward(h) for h in range(H)], axis=1)
    given = np.asarray(rewards)
    if given.dtype.kind not in "biuf":
        raise ValueError(f"rewards must be numbers, got dtype {given.dtype}")
    if given.ndim == 3:
        theta = array(given, "theta", shape=(P, H, d), axes=("player", "h", "i"))
        # The rewards ⟨φ, θ⟩ must lie in [-1, 1] wherever they are used: at every state of a
        # finite game, at the recorded states of a continuous one.
        if data.is_finite:
            parts = [np.einsum("...d,mhd->mh...", data.features, theta)]
        else:
            parts = [np.einsum("khd,mhd->mkh", data.phi, theta),
                     np.einsum("kh...d,mhd->mkh...", data.next_features, theta[:, 1:])]  # fmt: skip
        top = max(np.abs(r).max(initial=0.0) for r in parts)
        if top > 1 + TOL:
            raise ValueError(
                f"theta gives rewards up to {top:.6g} in absolute value at the explored states: "
                "rewards must lie in [-1, 1]"
            )
        return theta, None
    names = ", ".join(action_axes(P))
    if given.ndim == 3 + P:
        if not data.is_finite:
            raise ValueError(
                f"a reward table ({P}, H, S, {names}) needs the data of a finite game; give "
                f"theta ({P}, H, d) for a continuous one"
            )
        axes = ("player", "h", "x", *action_axes(P, upper=False))
        shape = (P, H, len(data.features), *counts)
        return None, array(given, "rewards", shape=shape, axes=axes, low=-1.0, high=1.0)
    table = ", ".join(map(str, (P, H, len(data.features) if data.is_finite else "S", *counts)))
    raise ValueError(
        f"rewards must be a table ({P}, H, S, {names}) = ({table}) or theta ({P}, H, d) = "
        f"{(P, H, d)}, got shape {given.shape}"
    )


# ---------------------------------------------------------------------- exact gaps
def gaps(game: FiniteGame, *policies: np.ndarray, tol: float = TIE_TOL) -> dict[str, float]:
    """How far ``(pi_l, pi_f)`` is from the game's Stackelberg solution, exactly (math.md §7, §9).

    - follower: ``V_f^{π_l, BR_f(π_l)} − V_f^{π_l, π_f}``, its best-response gap (``>= 0``); with
      ``N`` followers, follower ``m``'s against the others' policies (those after it answering
      its deviation as planned);
    - leader: ``V_l^SE − V_l^{π_l, BR_f^-(π_l)}``: ``V^SE`` the strong Stackelberg value
      (:func:`~stackelberg_rl.planning.stackelberg_equilibrium`), ``BR_f^-`` the follower's best
      response breaking its ties against the leader (``N`` followers: each in turn, from the
      last, against the players before it). It can be negative (a Markov leader may commit to
      a later threat that is not subgame perfect; math.md §7); ``>= 0`` if zero-sum or ``H = 1``.

    ``policies``: ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)``; with ``N`` followers ``pi_i (H, S,
    A_0, …, A_i)``. ``tol``: the tie tolerance of ``V^SE`` and ``BR_f^-``.

    Returns:
        ``gap/leader/initial`` and ``gap/follower/initial`` (at the initial distribution),
        ``gap/leader/worst`` and ``gap/follower/worst`` (the largest over the initial states of
        positive probability: no exploration learns the values at ``h = 0`` of a state that
        never starts an episode), ``value/leader/stackelberg``, ``value/leader/output``
        (``V_l`` against ``BR_f^-``), ``value/follower/output``, at the initial distribution.
        With ``N`` followers ``follower_1`` … ``follower_N`` in place of ``follower``.
    """
    if not isinstance(game, FiniteGame):
        raise ValueError(f"gaps are exact on finite games only, got {game!r}")
    se = stackelberg_equilibrium(game, tol=tol)[-1]
    policies = check_policies(game, *policies)
    own = evaluate(game, *policies)
    answers = stackelberg_rules("follower", tol, game.n_players)[1:]
    worst = evaluate(game, policies[0], *answers).V[:, 0]
    followers = range(1, game.n_players)
    gap = [se.V[0, 0] - worst[0]]
    gap += [best_response(game, m, policies)[1].V[m, 0] - own.V[m, 0] for m in followers]
    p0, names = game.initial_distribution, player_names(game.n_players)
    out = {}
    for name, g in zip(names, gap, strict=True):
        out[f"gap/{name}/initial"], out[f"gap/{name}/worst"] = p0 @ g, g[p0 > 0].max()
    out["value/leader/stackelberg"] = p0 @ se.V[0, 0]
    for name, v in zip(names, [worst[0], *own.V[1:, 0]], strict=True):
        out[f"value/{name}/output"] = p0 @ v
    return {key: float(value) for key, value in out.items()}


def _indices(name: str, value: Any, shape: tuple, n: int) -> np.ndarray:
    """``value (k, h)`` as indices in ``[0, n)``; integers only (``1.0`` is no index)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {getattr(value, 'dtype', None)}")
    return array(value, name, shape=shape, axes=("k", "h"), dtype=np.int64, low=0, high=n - 1)


def _compare(
    name: str, mine: np.ndarray, explored: np.ndarray, axes: tuple[str, ...], h: int | None = None
) -> None:
    if np.shape(mine) != np.shape(explored):
        raise ExplorationDataError(
            f"the game's {name} have shape {np.shape(mine)}, the explored {np.shape(explored)}"
        )
    err = np.abs(np.asarray(mine) - explored)
    if (err > 1e-10).any():
        idx = first_index(err == err.max())
        where, labels = (idx, axes) if h is None else ((h, *idx), ("h", *axes))
        raise ExplorationDataError(
            f"the game's {name} differ from the explored game's at index {where} "
            f"({', '.join(labels)}) by {err[idx]:.3g}: plans on these data are for the explored "
            "dynamics only"
        )
