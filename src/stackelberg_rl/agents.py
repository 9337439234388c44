"""Players: soft-max LSVI-UCB (Algorithms 1 and 2) and baselines, one agent per player index.

The episode loop calls ``begin_episode(k)``, ``act(h, x, *earlier)`` (after the earlier players'
actions of the step), ``record(h, x, actions, rewards, x_next)`` (Assumption 1: every player sees
everything), ``policy_table(game)`` (``(H, S, A_0, …, A_i)``), ``policies_at(h, phi)``,
``params()`` and ``state_dict()`` / ``load_state_dict()``. Each draws from its own generator.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from ._seeding import stream
from ._validate import fast_index, index, instance, integer, is_real, plain, point, real
from .games import ContinuousGame, FiniteGame, Game, draw
from .games.base import action_axes
from .learners import (
    SCHEDULES,
    LSVIUCBLearner,
    NonFiniteError,
    ReferenceLSVIUCB,
    SoftmaxLSVIUCB,
    alpha_value,
    parse_power_alpha,
    theory_beta,
)
from .learners.base import player_name
from .montecarlo import sampled_stackelberg, stackelberg_actions
from .planning import stackelberg_equilibrium

AGENT_KINDS = ("softmax-lsvi-ucb", "greedy-lsvi-ucb", "random", "oracle")
DTYPES = ("float64", "float32")
"""Storage types of the cached next-state features."""
ALPHA_METAVAR = "fixed-K|anytime|power:C,P|NUMBER"
"""How an ``α`` option is written (:func:`~.learners.alpha_value` reads every form)."""
UNUSED = {"greedy-lsvi-ucb": ("alpha_l", "alpha_f"), "random": None, "oracle": None}
"""The options each agent kind does not use (``None``: none of them)."""
UNUSED_UNLESS = {
    "c1": ("beta", "theory"),
    "p": ("beta", "theory"),
    "schedule_n": ("schedule", "every-n"),
    "refresh_every": ("incremental", True),
}
"""The options another gives a use: that field and the value it needs."""


@dataclass
class AgentConfig:
    """How the players learn; every field lands in the run's manifest.

    Strings that spell numbers (``beta="0.2"``) are converted on construction, which runs
    :meth:`validate` (a :class:`ValueError` naming the first bad field).
    """

    kind: Literal[AGENT_KINDS] = field(default="softmax-lsvi-ucb", metadata={"flags": "--agent"})
    """The players' algorithm: ``softmax-lsvi-ucb``, ``greedy-lsvi-ucb`` (``α = ∞``), ``random``
    (uniform), ``oracle`` (the Stackelberg policies; of a continuous game, as planned on its
    sample)."""
    beta: float | str = field(default=0.5, metadata={"metavar": "NUMBER|theory"})
    """Bonus scale ``β``: a number >= 0, or ``theory`` for ``C₁ d H √ι`` (Theorem 3)."""
    c1: float = 1.0
    """``C₁`` of ``β = theory`` (> 0)."""
    p: float = 0.05
    """Failure probability ``p`` of ``β = theory``, in (0, 1)."""
    lam: float = 1.0
    """Ridge ``λ`` (> 0)."""
    alpha_l: float | str = field(default="fixed-K", metadata={"metavar": ALPHA_METAVAR})
    """Leader soft-max ``α_l``: ``fixed-K`` (``log|A|·√K/H``), ``anytime`` (``√(k+1)`` for
    ``√K`` at episode ``k``, from 0), ``power:c,p`` (``c·log|A|·K^p/H``, c > 0, |p| <= 10;
    fixed-K is power:1,0.5), or a number >= 0 (``inf``: greedy)."""
    alpha_f: float | str = field(default="fixed-K", metadata={"metavar": ALPHA_METAVAR})
    """Follower soft-max ``α_f``: ``fixed-K`` (``log|B|·√K/H``), ``anytime``, ``power:c,p``
    (``c·log|B|·K^p/H``), or a number >= 0 (``inf``: greedy); with ``N`` followers, every
    follower's (follower ``i``'s ``fixed-K`` is ``log|A_i|·√K/H``), or one per follower
    separated by spaces (``"inf 0.5"``; a list in Python)."""
    schedule: Literal[SCHEDULES] = "every"
    """When to re-plan: ``every`` episode, ``every-n`` episodes, or on ``doubling`` of
    ``det Λ_h``."""
    schedule_n: int = 10
    """``n`` of the ``every-n`` schedule (>= 1)."""
    decentralised: bool = field(default=True, metadata={"flags": "--decentralised/--centralised"})
    """Each player keeps its own statistics (Algorithms 1 and 2); centralised shares one copy
    (the same results, faster)."""
    incremental: bool = True
    """Cached quadratic forms with rank-one downdates (math.md §5); off recomputes them."""
    reference: bool = False
    """Play with the plain from-scratch numpy learner (same results, slower: the benchmarks'
    baseline)."""
    refresh_every: int = 128
    """Plans between exact refreshes of the cached forms (>= 1)."""
    dtype: Literal[DTYPES] = "float64"
    """Storage of the cached next-state features."""
    extra: dict = field(default_factory=dict, metadata={"cli": False})
    """Free-form labels copied to the manifest."""

    def __post_init__(self) -> None:
        vars(self).update({name: plain(value) for name, value in vars(self).items()})
        self.alpha_f = per_follower(self.alpha_f)
        for name in ("beta", "alpha_l", "alpha_f"):
            setattr(self, name, _spelled(getattr(self, name)))
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        _one_of(self.kind, AGENT_KINDS, "agent kind")
        if self.beta != "theory":
            if isinstance(self.beta, str) or not is_real(self.beta):
                raise ValueError(f"beta must be a number >= 0 or 'theory', got {self.beta!r}")
            real(self.beta, "beta", low=0.0)
        for name, value in named_alphas(self.alpha_l, self.alpha_f):
            try:  # raises for a bad number or schedule name
                alpha_value(value, n_actions=2, horizon=1, episodes=1, k=0)
            except (TypeError, ValueError) as err:
                if isinstance(value, str) and value.startswith("power:"):
                    raise ValueError(f"{name}: {err}") from None
                raise ValueError(
                    f"{name} must be fixed-K, anytime, power:c,p (c > 0, |p| <= 10), inf or a "
                    f"number >= 0, got {value!r}"
                ) from None
        _one_of(self.schedule, SCHEDULES, "schedule")
        for name in ("schedule_n", "refresh_every"):
            integer(getattr(self, name), name, low=1)
        real(self.lam, "lam", low=0.0, low_open=True)
        real(self.c1, "c1", low=0.0, low_open=True)
        real(self.p, "p", low=0.0, high=1.0, low_open=True, high_open=True)
        for name in ("decentralised", "incremental", "reference"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        _one_of(self.dtype, DTYPES, "dtype")
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra must be a dict, got {self.extra!r}")

    def to_dict(self) -> dict:
        """Plain data for the manifest."""
        return asdict(self)

    def unused(self, given=None) -> list[tuple[str, str]]:
        """The options of ``given`` the other fields leave without use, and the field that does.

        ``given``: field names; default, the fields not at their defaults. ``[("c1", "beta")]``.
        """
        if given is None:
            defaults = AgentConfig.__dataclass_fields__
            given = [n for n, f in defaults.items() if f.default != getattr(self, n)]
        out, unused = [], UNUSED.get(self.kind, ())
        for name in given:
            if name in ("kind", "extra"):
                continue
            if unused is None or name in unused:
                out.append((name, "kind"))
            elif name in UNUSED_UNLESS:
                field_, needed = UNUSED_UNLESS[name]
                if getattr(self, field_) != needed:
                    out.append((name, field_))
        return out

    def check_used(self) -> None:
        """Refuse an option the other fields leave without use (recorded, it would shape nothing).

        ``run`` and ``run_seeds`` call it; a sweep, whose grid may cross agent kinds with a
        shared option, records such options as given.
        """
        unused = self.unused()
        if unused:
            name, by = unused[0]
            raise ValueError(
                f"{name}={getattr(self, name)!r} has no effect with {by}={getattr(self, by)!r}: "
                f"leave it out"
            )

    def alpha_specs(self, n_players: int = 2) -> tuple[float | str, ...]:
        """``(α_l, α_f, …, α_f)``, one per player, numbers or schedule names (greedy: ``∞``)."""
        n_players = integer(n_players, "n_players", low=2)
        alpha_f = follower_alphas(self.alpha_f, n_players)
        return (
            (math.inf,) * n_players if self.kind == "greedy-lsvi-ucb" else (self.alpha_l, *alpha_f)
        )


def _one_of(value, allowed: tuple[str, ...], name: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


def set_generator_state(rng: np.random.Generator, state) -> None:
    """Put ``rng`` in ``state`` (``rng.bit_generator.state``); a ValueError for another kind."""
    kind = type(rng.bit_generator).__name__
    if not isinstance(state, dict) or state.get("bit_generator") != kind:
        got = state.get("bit_generator") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"a random stream's state is of {got!r}, expected {kind!r}")
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"a random stream's state is not valid: {err}") from None


def per_follower(alpha_f):
    """``alpha_f`` as given, or a list of one per follower from several words or a sequence."""
    if isinstance(alpha_f, str):
        many = re.sub(r"\s*([:,])\s*", r"\1", alpha_f).split()
        alpha_f = many if len(many) > 1 else alpha_f
    if isinstance(alpha_f, list | tuple):
        return [_spelled(value) for value in alpha_f]
    return alpha_f


def named_alphas(alpha_l, alpha_f) -> list[tuple[str, object]]:
    """``[("alpha_l", α_l), ("alpha_f", α_f)]``, or with one α per follower ``alpha_f[i]``."""
    if not isinstance(alpha_f, list | tuple):
        return [("alpha_l", alpha_l), ("alpha_f", alpha_f)]
    if not alpha_f:
        raise ValueError("alpha_f must give one value per follower, got an empty list")
    return [("alpha_l", alpha_l), *((f"alpha_f[{i}]", a) for i, a in enumerate(alpha_f))]


def follower_alphas(alpha_f, n_players: int) -> list:
    """Every follower's ``α`` of ``alpha_f`` (one value for all, or a list of one each)."""
    many = isinstance(alpha_f, list | tuple)
    followers = list(alpha_f) if many else [alpha_f] * (n_players - 1)
    if len(followers) != n_players - 1:
        raise ValueError(
            f"alpha_f gives {len(followers)} values, one per follower, but the game has "
            f"{n_players - 1} follower{'s' * (n_players > 2)}"
        )
    return followers


def _spelled(value):
    """A field's value in one spelling: ``"0.5"`` as a number, ``"power:1,0.50"`` shortened."""
    if not isinstance(value, str) or value in ("theory", "fixed-K", "anytime"):
        return value
    try:
        if value.startswith("power:"):
            c, p = parse_power_alpha(value)
            return f"power:{_short(c)},{_short(p)}"
        return float(value)
    except ValueError:  # left for validate to name
        return value


def _short(x: float) -> str:
    """``x`` written briefly (``1``, ``0.5``, ``1e-07``) when that loses nothing, else ``repr``."""
    text = f"{x:g}"
    return text if float(text) == x else repr(x)


def check_earlier(player: int, n_players: int, earlier: tuple) -> None:
    """Refuse ``earlier`` unless it holds exactly the actions of the ``player`` players before."""
    if len(earlier) != player:
        actions = f"{player or 'no'} earlier action{'s' * (player > 1)}"
        name = player_name(player, n_players)
        raise ValueError(f"the {name} acts after {actions}, got {tuple(earlier)!r}")


class Agent:
    """One player on the player axis (0 the leader) of ``n_players``, with its own random stream.

    A subclass that acts sets ``horizon``, ``n_states`` (``None``: states are points of the
    plane) and ``action_counts`` (at least the earlier players'), which :meth:`_checked` reads.
    """

    replanned = False
    """Whether :meth:`begin_episode` planned (a fixed policy never does)."""
    horizon: int
    n_states: int | None
    action_counts: tuple[int, ...]

    def __init__(self, rng: np.random.Generator, player: int, n_players: int = 2) -> None:
        self.n_players = integer(n_players, "n_players", low=2)
        self.rng, self.player = rng, index(player, self.n_players, "player")
        self._action_names = action_axes(self.n_players, upper=False)  # in errors: a, b

    @property
    def role(self) -> str:
        """``"leader"``, ``"follower"``, or with more followers ``"follower i"``."""
        return player_name(self.player, self.n_players)

    def _checked(self, h, x, earlier: tuple) -> tuple:
        """``act``'s ``(h, x, earlier)`` checked: the step, the state, the earlier players' actions.

        Every agent's :meth:`act` calls it first, so all refuse bad arguments alike.
        """
        check_earlier(self.player, self.n_players, earlier)
        h = fast_index(h, self.horizon, "h")
        x = point(x, "x") if self.n_states is None else fast_index(x, self.n_states, "x")
        return h, x, tuple(map(fast_index, earlier, self.action_counts, self._action_names))

    def _check_game(self, game: FiniteGame) -> None:
        """Refuse, for ``policy_table``, a game whose sizes are not this player's."""
        mine = (self.horizon, self.n_states, *self.action_counts[: self.player + 1])
        theirs = (game.horizon, game.n_states, *game.action_counts[: self.player + 1])
        if mine != theirs:
            raise ValueError(
                f"policy_table: the game's (H, S, actions up to the {self.role}) are {theirs}, "
                f"the {self.role}'s {mine}: not the game it plays"
            )

    def begin_episode(self, k: int) -> None:
        """Nothing to plan."""

    def record(self, h: int, x, *observed) -> None:
        """A fixed policy learns nothing."""

    def params(self) -> dict:
        """The learning parameters (none)."""
        return {}

    def state_dict(self) -> dict:
        """``{"rng": state of the random stream}``."""
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s ``state``."""
        set_generator_state(self.rng, state.get("rng"))


class LSVIAgent(Agent):
    """A player of soft-max LSVI-UCB: the leader of Algorithm 1 or a follower of Algorithm 2.

    ``alphas``: every player's ``α``, numbers or schedule names (:func:`alpha_value`) over
    ``episodes = K``; of players sharing a ``learner`` only its ``owner`` plans and records.
    """

    def __init__(
        self,
        learner: LSVIUCBLearner,
        rng: np.random.Generator,
        player: int,
        alphas: tuple[float | str, ...],
        episodes: int,
        owner: bool = True,
    ) -> None:
        super().__init__(rng, player, learner.n_players)
        self.learner, self.owner = learner, owner
        self.horizon, self.action_counts = learner.horizon, learner.action_counts
        self.n_states = None if learner.table is None else len(learner.table)
        self._alpha_specs, self.episodes = tuple(alphas), episodes
        self.episode: int | None = None  # the episode under way

    def begin_episode(self, k: int) -> None:
        """Re-plan at the start of episode ``k`` if the schedule says so (owner only)."""
        self.episode = index(k, sys.maxsize, "k")
        self.replanned = False
        L = self.learner
        if self.owner and L.should_plan(k):
            L.alphas = np.array([
                alpha_value(spec, n, L.horizon, self.episodes, k)
                for spec, n in zip(self._alpha_specs, L.action_counts, strict=True)
            ])  # fmt: skip
            L.plan(episode=k)
            self.replanned = True

    def act(self, h: int, x, *earlier: int) -> int:
        """Draw ``a_{m,h} ~ π_{m,h}(·|x_h, a_{<m})`` after the earlier players' ``earlier``."""
        h, x, earlier = self._checked(h, x, earlier)
        try:
            pi = self.learner.policy(self.player, h, x, earlier)
        except NonFiniteError as err:
            raise self._in_episode(err) from None
        return draw(pi, self.rng)

    def record(self, h: int, x, *observed) -> None:
        """Store ``(actions, rewards, x_next)`` or ``(a, b, r, x_next)`` (owner only)."""
        if not self.owner:
            return
        if len(observed) == 4:
            self.learner.record(h, x, observed[:2], observed[2], observed[3])
        elif len(observed) == 3:
            self.learner.record(h, x, *observed)
        else:
            raise TypeError(
                f"record takes (h, x, actions, rewards, x_next), or (h, x, a, b, r, x_next); got "
                f"{2 + len(observed)} arguments"
            )

    def policy_table(self, game: FiniteGame) -> np.ndarray:
        """This player's policy table of the current plan on ``game``, the game it learns."""
        self._check_game(game)
        table = self.learner.table
        if game.features is not table and not np.array_equal(game.features, table):
            raise ValueError(
                f"policy_table: the game's features are not those the {self.role} learns on"
            )
        return self.learner.policy_tables(table)[self.player]

    def policies_at(self, h: int, phi: np.ndarray) -> np.ndarray:
        """This player's policy at the states of ``phi (n, A_0, …, A_N, d)``."""
        try:
            return self.learner.policies_at(h, phi)[self.player]
        except NonFiniteError as err:
            raise self._in_episode(err) from None

    def params(self) -> dict:
        """The ``β``, ``λ``, ``α_l``, ``α_f`` in use."""
        L = self.learner
        return {"beta": L.beta, "lam": L.lam, "alpha_l": L.alpha_l, "alpha_f": L.alpha_f}

    def state_dict(self) -> dict:
        """The random stream, the episode under way and the learner's state (owner only)."""
        return {
            **super().state_dict(),
            "episode": self.episode,
            "replanned": self.replanned,
            "learner": self.learner.state_dict() if self.owner else None,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s ``state`` (a ValueError naming what does not fit)."""
        super().load_state_dict(state)
        episode = state.get("episode")
        self.episode = None if episode is None else index(episode, sys.maxsize, "episode")
        self.replanned = bool(state.get("replanned", False))
        if self.owner:
            learner = state.get("learner")
            if not isinstance(learner, dict):
                raise ValueError("the agent's state has no learner, but this agent owns one")
            self.learner.load_state_dict(learner)

    def _in_episode(self, err: NonFiniteError) -> NonFiniteError:
        return NonFiniteError(f"episode {self.episode}: {err}")


class TableAgent(Agent):
    """A player with a fixed table, player ``i``'s ``(H, S, A_0, …, A_i)``: the oracle."""

    def __init__(self, table: np.ndarray, rng: np.random.Generator, player: int, n_players=2):
        super().__init__(rng, player, n_players)
        self.table = table
        self.horizon, self.n_states, *counts = table.shape
        self.action_counts = tuple(counts)

    def act(self, h: int, x, *earlier: int) -> int:
        """Draw from the row ``table[h, x, *earlier]``."""
        h, x, earlier = self._checked(h, x, earlier)
        return draw(self.table[(h, x, *earlier)], self.rng)

    def policy_table(self, game: FiniteGame) -> np.ndarray:
        """The fixed table (of ``game``'s sizes, checked)."""
        self._check_game(game)
        return self.table


class UniformAgent(Agent):
    """Uniform play at every state of any state space: the ``random`` baseline.

    ``horizon`` and ``n_states`` (``None``: states are points of the plane) are the game's, for
    the checks of :meth:`act`.
    """

    def __init__(
        self,
        action_counts,
        rng: np.random.Generator,
        player: int,
        *,
        horizon: int,
        n_states: int | None,
    ):
        super().__init__(rng, player, len(action_counts))
        self.action_counts = tuple(action_counts)
        self.horizon, self.n_states = horizon, n_states
        self._row = np.full(self.action_counts[self.player], 1.0 / self.action_counts[self.player])

    def act(self, h: int, x, *earlier: int) -> int:
        """Draw an action uniformly, whatever the earlier players did (their actions checked)."""
        self._checked(h, x, earlier)
        return draw(self._row, self.rng)

    def policy_table(self, game: FiniteGame) -> np.ndarray:
        """The uniform ``(H, S, A_0, …, A_i)``."""
        self._check_game(game)
        shape = (game.horizon, game.n_states, *self.action_counts[: self.player + 1])
        return np.full(shape, self._row[0])

    def policies_at(self, h: int, phi: np.ndarray) -> np.ndarray:
        """The uniform policy at ``n`` states: ``(n, A_0, …, A_i)``."""
        shape = (len(phi), *self.action_counts[: self.player + 1])
        return np.full(shape, self._row[0])


class PlannedAgent(Agent):
    """A continuous game's oracle: Stackelberg play from a plan ``w (P, H, d)`` (math.md §6).

    ``action_counts``: the game's ``(A, B)``, for the checks of :meth:`act`.
    """

    n_states = None  # states are points of the plane

    def __init__(
        self, feature_map, w: np.ndarray, rng: np.random.Generator, player: int, *, action_counts
    ):
        super().__init__(rng, player)
        self.feature_map, self.w = feature_map, np.asarray(w)
        self.horizon, self.action_counts = self.w.shape[1], tuple(action_counts)

    def act(self, h: int, x, *earlier: int) -> int:
        """The planned action at ``x`` (the follower's answer to the leader's action)."""
        h, x, earlier = self._checked(h, x, earlier)
        pi = self.policies_at(h, self.feature_map(x[None]))[0]
        return draw(pi[earlier], self.rng)

    def policies_at(self, h: int, phi: np.ndarray) -> np.ndarray:
        """One-hot rows at ``phi (n, A, B, d)``: ``(n, A)`` or ``(n, A, B)``."""
        Q = np.einsum("nabk,mk->mnab", phi, self.w[:, fast_index(h, self.horizon, "h")])
        best = stackelberg_actions(Q)[self.player]
        return np.eye(Q.shape[2 + self.player])[best]


def resolve_beta(config: AgentConfig, game: Game, episodes: int) -> float:
    """The number ``β`` of a configuration (``"theory"`` resolved by Theorem 3, one follower)."""
    if config.beta == "theory":
        if game.n_players != 2:
            raise ValueError(
                f"beta=theory is Theorem 3's, for one follower; this game has "
                f"{game.n_followers} followers: give beta a number"
            )
        counts = (game.n_leader_actions, game.n_follower_actions)
        return theory_beta(game.dim, game.horizon, episodes, *counts, c1=config.c1, p=config.p)
    return float(config.beta)


def make_learner(config: AgentConfig, game: Game, episodes: int) -> LSVIUCBLearner:
    """A fresh learner for ``game`` as ``config`` says, with the ``α`` of episode 0."""
    counts, H = game.action_counts, game.horizon
    features = game.features if isinstance(game, FiniteGame) else game.feature_map
    specs = config.alpha_specs(game.n_players)
    alphas = [alpha_value(a, n, H, episodes, 0) for a, n in zip(specs, counts, strict=True)]
    beta = resolve_beta(config, game, episodes)
    kwargs = dict(alphas=alphas, beta=beta, lam=config.lam, schedule=config.schedule)
    kwargs.update(action_counts=counts, dim=game.dim, horizon=H, schedule_n=config.schedule_n)
    if not config.reference:
        kwargs.update(incremental=config.incremental, refresh_every=config.refresh_every)
        kwargs.update(dtype=config.dtype)
    return (ReferenceLSVIUCB if config.reference else SoftmaxLSVIUCB)(features, **kwargs)


def make_agents(
    game: Game, config: AgentConfig, episodes: int, seed: int | np.random.SeedSequence
) -> tuple:
    """``(leader, follower 1, …)`` for one run, each with its own random stream.

    ``episodes``: ``K`` (of ``"fixed-K"`` soft-max parameters and ``β = "theory"``); ``seed``:
    the run's seed, player ``m`` drawing from ``_seeding.stream(seed, "player", m)``, or the
    ``"agents"`` node of its seed tree (a ``SeedSequence``).
    """
    instance(game, Game, "game")
    instance(config, AgentConfig, "config").validate()  # mutable: checked again where used
    episodes = integer(episodes, "episodes", low=1)
    n = game.n_players
    if isinstance(seed, np.random.SeedSequence):
        rngs = [np.random.default_rng(s) for s in seed.spawn(n)]
    else:
        rngs = [stream(seed, "player", m) for m in range(n)]
    if config.kind == "random":
        sizes = dict(horizon=game.horizon, n_states=game.n_states)
        return tuple(UniformAgent(game.action_counts, r, m, **sizes) for m, r in enumerate(rngs))
    if config.kind == "oracle" and isinstance(game, ContinuousGame):
        w = sampled_stackelberg(game, game.evaluation.pooled())[0][0]
        counts = game.action_counts
        return tuple(
            PlannedAgent(game.feature_map, w, r, m, action_counts=counts)
            for m, r in enumerate(rngs)
        )
    if config.kind == "oracle":
        tables = stackelberg_equilibrium(game)[:n]
        return tuple(TableAgent(tables[m], r, m, n) for m, r in enumerate(rngs))
    alphas = config.alpha_specs(n)
    own = config.decentralised  # a learner per player, else the leader's, shared
    learners = [make_learner(config, game, episodes) for _ in range(n if own else 1)]
    return tuple(
        LSVIAgent(learners[m if own else 0], r, m, alphas, episodes, owner=m == 0 or own)
        for m, r in enumerate(rngs)
    )
