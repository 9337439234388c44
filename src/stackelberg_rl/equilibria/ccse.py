"""The coarse correlated Stackelberg equilibrium of a run, as an object one can deploy.

Corollary 1 (Definition 6; math.md §4): the uniform mixture over a run's ``K`` episodes of the
profiles ``(π_0^k, …, π_N^k)`` played is an ``ε``-CCSE; all players coordinate on one ``k``.
:class:`CCSE` replays them bit for bit from a run saved with ``--save-plans``, ``Λ_h`` rebuilt
from the recorded features by the learner's own arithmetic
(:func:`~stackelberg_rl.learners.played_policies`)::

    ccse = CCSE.from_run("runs/security", seed=0)
    k = ccse.sample(np.random.default_rng(0))        # both players coordinate on k
    leader, follower = ccse.policy(k).players(seed=1)
    b = follower.act(0, x, leader.act(0, x))          # a ~ π_l^k(·|x), b ~ π_f^k(·|x, a)
"""

from __future__ import annotations

import itertools
import math
import os
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import _files, _seeding, _validate
from ..agents import Agent, check_earlier
from ..experiments import RunConfig, load_run
from ..experiments.plan_history import PLANS_FILE, Plans, PlansFileError, read_plans
from ..experiments.resources import refuse_memory, sizes
from ..experiments.store import SWEEP_PLANS_HINT, of_sweep
from ..games import ContinuousGame, FiniteGame, Game, draw
from ..learners import (
    NonFiniteError,
    add_episodes,
    initial_gram,
    played_policies,
    replay_inverse,
)
from ..learners.base import check_features
from ..planning import policy_shapes
from .certificate import Certificate, certificate

CCSE_FORMAT = "stackelberg-rl/ccse"
CCSE_VERSION = 2
CHECKPOINT_EVERY = 256  # episodes between the Λ kept to replay any episode quickly
CACHED_PLANS = 64  # replayed plans kept, the least recently used dropped


def is_mixture_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a mixture written by :meth:`CCSE.save`, of any version (its header)."""
    return _files.is_format(path, CCSE_FORMAT)


class CCSEError(ValueError):
    """A mixture that cannot be made from what was given; the message names what is wrong."""


class NoPlansError(CCSEError):
    """The run was saved without its plans (``run --save-plans``)."""


class SeedNotInRunError(CCSEError):
    """The seed asked for is not one of the run's."""


class GameMismatchError(CCSEError):
    """The game given, or rebuilt, is not the game the run played (its SHA-256 differs)."""


# ---------------------------------------------------------------------- one episode's policies
@dataclass(frozen=True, eq=False)
class EpisodePolicy:
    """The profile ``(π_0^k, …, π_N^k)`` episode ``k`` played, replayed from its plan.

    Made by :meth:`CCSE.policy`: the ``game``, ``episode`` ``k``, the index of the ``plan`` it
    played and that plan's ``w (1+N, H, d)``, ``Lambda_inv (H, d, d)``, ``beta``, ``alphas
    (α_0, …, α_N)``. States are indices of a finite game or points of a continuous one.
    """

    game: Game
    episode: int
    plan: int
    w: np.ndarray
    Lambda_inv: np.ndarray
    beta: float
    alphas: tuple[float, ...]

    def _policies(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, ...]:
        _, *pis, finite = played_policies(
            phi, self.w, self.Lambda_inv, h, self.beta, self.game.horizon, self.alphas
        )
        if not finite:
            raise NonFiniteError(f"the policies of episode {self.episode} at step {h}")
        return tuple(pis)

    def policies_at(self, h: int, phi: np.ndarray) -> tuple[np.ndarray, ...]:
        """Every player's ``π_{i,h}^k``, ``pi_i (n, A_0, …, A_i)``, at ``phi (n, A_0, …, A_N, d)``.

        Two players: ``pi_l (n, A)``, ``pi_f (n, A, B)``.
        """
        g, h = self.game, _validate.index(h, self.game.horizon, "h")
        shape = (*g.action_counts, g.dim)
        if np.ndim(phi) != len(shape) + 1:
            raise ValueError(f"phi must have shape (n, {', '.join(map(str, shape))}), got "
                             f"{np.shape(phi)}")  # fmt: skip
        return self._policies(h, check_features(phi, (len(phi), *shape), "phi"))

    def player_policy(self, player: int, h: int, x, *earlier: int) -> np.ndarray:
        """``π_{i,h}^k(·|x, a_0, …, a_{i-1})`` ``(A_i,)`` of player ``i`` after actions ``earlier``.

        ``π_{l,h}^k(·|x)`` ``(A,)`` for the leader, ``π_{f,h}^k(·|x, a)`` ``(B,)`` for the follower:
        exactly the ``i`` earlier players' actions (whole tables are :meth:`policies_at`'s).
        """
        g, h = self.game, _validate.index(h, self.game.horizon, "h")
        player = _validate.index(player, g.n_players, "player")
        check_earlier(player, g.n_players, earlier)
        at = tuple(
            _validate.index(a, n, "a") for a, n in zip(earlier, g.action_counts, strict=False)
        )
        if isinstance(g, FiniteGame):  # φ(x, ·, ·) as a batch of one, as the learner acted on it
            i = _validate.index(x, g.n_states, "x")
            phi = g.features[i : i + 1]
        else:
            shape = (*g.action_counts, g.dim)
            phi = check_features(np.asarray(g.feature_map(np.asarray([x])))[0], shape,
                                 "feature_map(x)")[None]  # fmt: skip
        return self._policies(h, phi)[player][(0, *at)]

    def leader_policy(self, h: int, x) -> np.ndarray:
        """``π_{l,h}^k(·|x)``: ``(A,)``."""
        return self.player_policy(0, h, x)

    def follower_policy(self, h: int, x, a: int) -> np.ndarray:
        """``π_{f,h}^k(·|x, a)``: ``(B,)``."""
        return self.player_policy(1, h, x, a)

    def tables(self) -> tuple[np.ndarray, ...]:
        """Every player's ``pi_i (H, S, A_0, …, A_i)`` at every state of a finite game."""
        g = _finite(self.game, "tables")
        by_step = [self._policies(h, g.features) for h in range(g.horizon)]
        return tuple(np.stack(pis) for pis in zip(*by_step, strict=True))

    def players(self, seed: int | np.random.SeedSequence | None = None) -> tuple:
        """The ``1+N`` players of this profile, ``m`` on stream ``seed, "pair-player", m``."""
        return tuple(
            Player(self, m, _stream(seed, "pair-player", m)) for m in range(self.game.n_players)
        )


# ---------------------------------------------------------------------- players
@dataclass(eq=False)
class _Draw:
    """The ``k`` all players of a mixture play in an episode: drawn once per episode."""

    ccse: CCSE
    rng: np.random.Generator
    episode: int | None = None
    k: int | None = None

    def begin(self, episode: int) -> None:
        if episode != self.episode:
            self.episode, self.k = episode, self.ccse.sample(self.rng)

    def policy(self) -> EpisodePolicy:
        if self.k is None:
            self.begin(0)
        return self.ccse.policy(self.k)


class Player(Agent):
    """Player ``0 … N`` of a replayed profile: ``act(h, x)`` / ``act(h, x, a_0, …, a_{m-1})``.

    Of one profile (:meth:`EpisodePolicy.players`) or of the mixture (:meth:`CCSE.players`),
    whose ``begin_episode(j)`` draws episode ``j``'s ``k`` once for all players (Corollary 1).
    """

    def __init__(self, source: EpisodePolicy | _Draw, player: int, rng: np.random.Generator):
        game = (getattr(source, "ccse", None) or source).game
        super().__init__(rng, player, game.n_players)
        self.source, self.horizon = source, game.horizon  # read by _checked, as every agent's
        self.n_states, self.action_counts = game.n_states, game.action_counts

    @property
    def episode_policy(self) -> EpisodePolicy:
        """The profile played now (of a mixture: the ``k`` drawn for this episode)."""
        return self.source.policy() if isinstance(self.source, _Draw) else self.source

    def begin_episode(self, j: int) -> None:
        """A new episode ``j``: a mixture's players draw its ``k`` (once for both)."""
        if isinstance(self.source, _Draw):
            self.source.begin(_validate.index(j, 2**63 - 1, "j"))

    def act(self, h: int, x, *earlier: int) -> int:
        """Draw ``a_m ~ π_{m,h}^k(·|x, a_0, …, a_{m-1})``: ``a ~ π_{l,h}^k(·|x)`` (leader).

        Exactly the ``m`` earlier players' actions, as every agent's ``act`` takes them.
        """
        h, x, earlier = self._checked(h, x, earlier)
        return draw(self.episode_policy.player_policy(self.player, h, x, *earlier), self.rng)


def _stream(seed, purpose: str, *index: int) -> np.random.Generator:
    """A stream of :mod:`stackelberg_rl._seeding`; fresh entropy for ``seed = None``."""
    return _seeding.stream(np.random.SeedSequence() if seed is None else seed, purpose, *index)


def _finite(game: Game, what: str) -> FiniteGame:
    if not isinstance(game, FiniteGame):
        raise ValueError(
            f"{what} need a finite game; {game.name} has continuous states: use policies_at"
        )
    return game


# ---------------------------------------------------------------------- the mixture
class CCSE:
    """The uniform mixture over a run's episodes of the policy profiles played (Corollary 1).

    Args:
        plans: one seed's :class:`~stackelberg_rl.experiments.plan_history.Plans`.
        game: the game the run played (checked against ``info["game"]["sha256"]`` when given).
        info: where it comes from: ``game`` (the manifest's record of the game), ``config``
            (the run's configuration), ``seed``, ``seeds`` (all the run's), ``run_dir``.

    Raises:
        GameMismatchError: the game is not the run's, or its sizes do not fit the plans.
    """

    def __init__(self, plans: Plans, game: Game, info: dict | None = None) -> None:
        if not isinstance(game, FiniteGame | ContinuousGame):
            raise TypeError(f"game must be a game (games.make(name)), got {game!r}")
        self.plans, self.game, self.info = plans, game, dict(info or {})
        record = self.info.get("game") or {}
        if "sha256" in record:
            _check_game(game, record)
        sizes = (plans.horizon, plans.dim, plans.n_players)
        if sizes != (game.horizon, game.dim, game.n_players):
            raise GameMismatchError(
                f"the plans have H={plans.horizon}, d={plans.dim}, {plans.n_players} players; "
                f"the game {game.name} has H={game.horizon}, d={game.dim}, {game.n_players}"
            )
        self._episode_plan = plans.episode_plan()
        self._checkpoints: list[np.ndarray] = [initial_gram(plans.lam, game.horizon, game.dim)]
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()

    @classmethod
    def from_run(cls, run_dir: str | os.PathLike, seed: int = 0, game: Game | None = None) -> CCSE:
        """The mixture of seed ``seed`` of the run folder ``run_dir`` written with ``--save-plans``.

        ``game``: the game the run played, if at hand (else rebuilt from the manifest); either
        way its SHA-256 must be the manifest's.

        Raises:
            RunFolderError: not a complete, readable run folder.
            NoPlansError: the run was saved without ``--save-plans``.
            SeedNotInRunError: ``seed`` is not one of the run's.
            PlansFileError: the plans file is missing, truncated or foreign.
            GameMismatchError: ``game`` is not the run's game.
        """
        run_dir = Path(run_dir)
        _, manifest = load_run(run_dir)
        config = manifest.get("config") or {}
        if not config.get("save_plans"):
            how = (  # run refuses a sweep's run folder: only the sweep writes it
                f"it is a run folder of the sweep in {run_dir.parent}: {SWEEP_PLANS_HINT}"
                if of_sweep(run_dir.resolve())
                else "run it again with --save-plans (RunConfig.save_plans=True)"
            )
            raise NoPlansError(f"the run in {run_dir} was saved without its plans: {how}")
        seeds = manifest.get("seeds") or []
        if not _validate.is_integer(seed) or seed not in seeds:
            raise SeedNotInRunError(f"seed {seed!r} is not a seed of the run in {run_dir}: {seeds}")
        plans = read_plans(run_dir / PLANS_FILE, int(seed))
        if plans.episodes != manifest.get("episodes"):
            raise PlansFileError(
                f"{run_dir / PLANS_FILE}: seed {seed} has {plans.episodes} episodes, the "
                f"manifest says {manifest.get('episodes')}"
            )
        info = {"game": manifest.get("game") or {}, "config": config, "seed": int(seed),
                "seeds": list(seeds), "run_dir": str(run_dir.resolve())}  # fmt: skip
        return cls(plans, _rebuild(info) if game is None else game, info)

    @classmethod
    def load(cls, path: str | os.PathLike, game: Game | None = None) -> CCSE:
        """The mixture in the file ``path`` written by :meth:`save`, checked.

        ``game``: the game it was learned on (its SHA-256 must match); by default rebuilt from
        the file's record of the run's configuration.

        Raises:
            PlansFileError: missing, truncated, foreign or inconsistent file.
            GameMismatchError: ``game`` is not the one of the file.
        """
        path = Path(path)
        if path.is_file() and not zipfile.is_zipfile(path):  # before numpy guesses at a pickle
            raise PlansFileError(f"{path} is not a mixture file (.npz): not a zip, or truncated")
        head, tree = _files.load(
            path, CCSE_FORMAT, CCSE_VERSION, what="mixture file", error=PlansFileError
        )
        if not isinstance(tree.get("plans"), dict):
            raise PlansFileError(f"{path} is damaged: it holds no plans")
        plans = Plans.from_arrays(tree["plans"], "", str(path))
        info = head.get("info")
        if not isinstance(info, dict) or not isinstance(info.get("game"), dict):
            raise PlansFileError(f"{path}: no record of the game it was learned on")
        return cls(plans, _rebuild(info) if game is None else game, info)

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the mixture (plans, JSON header) to ``path`` whole or not at all; return ``path``.

        ``overwrite``: replace a mixture file already at ``path`` (any other file never is).

        Raises:
            PlansFileError: ``path`` is a folder, a file that is not a mixture (never replaced),
                a mixture file without ``overwrite``, or cannot be written.
        """
        return _files.save(
            path, CCSE_FORMAT, CCSE_VERSION, {"plans": self.plans.to_arrays()},
            {"info": _files.jsonable(self.info, "info")}, what="mixture file",
            overwrite=overwrite, error=PlansFileError,
        )  # fmt: skip

    episodes = property(lambda self: self.plans.episodes, doc="``K``: uniform over ``0 … K-1``.")

    def sample(self, rng: np.random.Generator) -> int:
        """Draw ``k`` uniformly from ``0 … K-1`` (all players then play episode ``k``'s profile)."""
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a np.random.Generator (default_rng(seed)), got {rng!r}")
        return int(rng.integers(self.episodes))

    def policy(self, k: int) -> EpisodePolicy:
        """The profile ``(π_0^k, …, π_N^k)`` episode ``k`` played, bit for bit."""
        p = int(self._episode_plan[_validate.index(k, self.episodes, "k")])
        if p in self._cache:
            self._cache.move_to_end(p)
        else:
            self._cache[p] = replay_inverse(self._gram_at(int(self.plans.plan_episode[p])))
            if len(self._cache) > CACHED_PLANS:
                self._cache.popitem(last=False)
        return self._profile(int(k), p, self._cache[p])

    def _profile(self, k: int, p: int, Lambda_inv: np.ndarray) -> EpisodePolicy:
        w, beta = np.ascontiguousarray(self.plans.w[p]), float(self.plans.beta[p])
        alphas = tuple(float(a) for a in self.plans.alpha[p])
        return EpisodePolicy(self.game, k, p, w, Lambda_inv, beta, alphas)

    def players(self, seed: int | np.random.SeedSequence | None = None) -> tuple:
        """The ``1+N`` players of the mixture: ``begin_episode(j)`` draws one ``k`` for all.

        ``k`` from ``seed``'s stream ``"mixture"`` (Corollary 1); player ``m`` plays episode
        ``k``'s policy with its stream ``"player", m``.
        """
        shared, n = _Draw(self, _stream(seed, "mixture")), self.game.n_players
        return tuple(Player(shared, m, _stream(seed, "player", m)) for m in range(n))

    def prefix(self, episodes: int) -> CCSE:
        """The mixture of the first ``episodes`` episodes of the same run."""
        return CCSE(self.plans.prefix(episodes), self.game, self.info)

    def _gram_at(self, e: int) -> np.ndarray:  # Λ (H, d, d) at the start of episode e
        c = e // CHECKPOINT_EVERY
        while len(self._checkpoints) <= c:
            start = (len(self._checkpoints) - 1) * CHECKPOINT_EVERY
            Lambda = self._checkpoints[-1].copy()
            add_episodes(Lambda, self.plans.phi, start, start + CHECKPOINT_EVERY)
            self._checkpoints.append(Lambda)
        Lambda = self._checkpoints[c].copy()
        add_episodes(Lambda, self.plans.phi, c * CHECKPOINT_EVERY, e)
        return Lambda

    def tables(self, episodes: int | None = None) -> tuple[np.ndarray, ...]:
        """Every episode's policies at every state of a finite game, one pass over the plans.

        Every player's ``pi_i (K, H, S, A_0, …, A_i)`` of the first ``episodes`` (default all);
        :class:`MemoryError` (with the estimate) if they would not fit in memory.
        """
        g = _finite(self.game, "tables")
        K = self.episodes if episodes is None else episodes
        K = _validate.integer(K, "episodes", low=1, high=self.episodes)
        shapes = [(K, *shape) for shape in policy_shapes(g)]
        need = sum(math.prod(shape) for shape in shapes) * 8
        refuse_memory(
            need, f"holding the policy tables of {K} episodes", f" ({sizes(g)})",
            ": take fewer episodes, or use policy(k) one episode at a time",
        )  # fmt: skip
        tables = [np.empty(shape) for shape in shapes]
        starts = [int(e) for e in self.plans.plan_episode] + [self.episodes]
        Lambda = initial_gram(self.plans.lam, g.horizon, g.dim)
        for p, (start, stop) in enumerate(itertools.pairwise(starts)):
            if start >= K:
                break
            add_episodes(Lambda, self.plans.phi, starts[p - 1] if p else 0, start)
            profile = self._profile(start, p, replay_inverse(Lambda)).tables()
            for table, pi in zip(tables, profile, strict=True):
                table[start : min(stop, K)] = pi
        return tuple(tables)

    def certificate(self, episodes: int | None = None, **kwargs) -> Certificate:
        """:func:`~.certificate.certificate` of the mixture of the first ``episodes``."""
        return certificate(self.game, *self.tables(episodes), **kwargs)  # tables: finite only

    def __repr__(self) -> str:
        return (
            f"CCSE({self.game.name!r}, K={self.episodes}, plans={self.plans.n_plans}, "
            f"seed={self.info.get('seed')})"
        )


def _check_game(game: Game, record: dict) -> None:
    if game.fingerprint() != record.get("sha256"):
        raise GameMismatchError(
            f"the game {game.name} (SHA-256 {game.fingerprint()[:12]}…) is not the game the run "
            f"played ({record.get('name')}, SHA-256 {str(record.get('sha256'))[:12]}…)"
        )


def _rebuild(info: dict) -> Game:
    """The run's game, built again from its configuration and checked against its record."""
    try:
        game = RunConfig.from_dict(info.get("config") or {}).game.make()
    except (ValueError, TypeError, MemoryError) as err:
        raise GameMismatchError(
            f"cannot rebuild the run's game ({err}); pass the game the run played as game="
        ) from None
    _check_game(game, info.get("game") or {})
    return game


def is_zero_sum(game: Game, tol: float = 1e-12) -> bool:
    """Whether ``r_f = −r_l`` at every step, state and pair of actions (math.md §4: two players)."""
    if game.n_players != 2:
        return False
    if isinstance(game, ContinuousGame):
        return bool(np.abs(game.theta[0] + game.theta[1]).max() <= tol)
    rewards = (game.reward(h) for h in range(game.horizon))
    return all(float(np.abs(r[0] + r[1]).max()) <= tol for r in rewards)
