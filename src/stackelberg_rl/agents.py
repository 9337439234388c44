"""Leader and follower agents: soft-max LSVI-UCB (Algorithms 1 and 2) and baselines.

Every agent has the same small interface, used by the episode loop in ``experiments``:

- ``begin_episode(k)``: re-plan if the schedule says so (0-based ``k``);
- the leader's ``act(h, x) -> a``, the follower's ``act(h, x, a) -> b`` (it has seen ``a``);
- ``record(h, x, a, b, r (2,), x_next)``: the observation of one step (Assumption 1: both players
  see the state, both actions and both rewards);
- ``policy_table(game)``: the policy the agent plays this episode on a finite game,
  ``pi_l (H, S, A)`` for a leader and ``pi_f (H, S, A, B)`` for a follower, for exact evaluation;
- ``policies_at(h, phi)``: the same policy at step ``h`` at any states, given by their features
  ``phi (n, A, B, d)``: ``(n, A)`` for a leader, ``(n, A, B)`` for a follower — how the
  Monte-Carlo planner evaluates play on a continuous game (math.md §6);
- ``replanned``: whether ``begin_episode`` planned; ``params()``: the ``β``, ``λ``, ``α`` in use.

Each agent draws its actions from its own ``np.random.Generator``. ``state_dict()`` and
``load_state_dict(state)`` save and restore what an agent will act on — its random stream's
state and, for a learning agent, its learner's (:meth:`LSVIUCBLearner.state_dict`) — so that a run
can stop and continue exactly where it was.
"""

from __future__ import annotations

import math
import numbers
import sys
from dataclasses import asdict, dataclass, field
from typing import Literal

import numpy as np

from .games import ContinuousGame, FiniteGame, Game, draw
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
from .learners.base import check_index
from .montecarlo import sampled_stackelberg, stackelberg_actions
from .planning import stackelberg_equilibrium

AGENT_KINDS = ("softmax-lsvi-ucb", "greedy-lsvi-ucb", "random", "oracle")
DTYPES = ("float64", "float32")
"""Storage types of the cached next-state features."""


@dataclass
class AgentConfig:
    """How the two players learn. Every field lands in the run's manifest.

    Strings that spell numbers (``beta="0.2"``, ``alpha_l="inf"``, as a command line or a file
    gives them) are converted on construction; :meth:`validate` raises :class:`ValueError` naming
    the first bad field, and runs on construction too.
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
    alpha_l: float | str = field(
        default="fixed-K", metadata={"metavar": "fixed-K|anytime|power:C,P|NUMBER"}
    )
    """Leader soft-max ``α_l``: ``fixed-K`` (``log|A|·√K/H``), ``anytime`` (``√k`` for ``√K``),
    ``power:c,p`` (``c·log|A|·K^p/H``, c > 0; fixed-K is power:1,0.5), or a number >= 0
    (``inf``: greedy)."""
    alpha_f: float | str = field(
        default="fixed-K", metadata={"metavar": "fixed-K|anytime|power:C,P|NUMBER"}
    )
    """Follower soft-max ``α_f``: ``fixed-K`` (``log|B|·√K/H``), ``anytime``, ``power:c,p``
    (``c·log|B|·K^p/H``), or a number >= 0 (``inf``: greedy)."""
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
        for name in ("beta", "alpha_l", "alpha_f"):
            value = getattr(self, name)
            if isinstance(value, str) and value.startswith("power:"):
                # One spelling in the manifest: "power: 1, 0.50" is written "power:1,0.5".
                try:
                    c, p = parse_power_alpha(value)
                    setattr(self, name, f"power:{_short(c)},{_short(p)}")
                except ValueError:
                    pass  # validate() names the field
            elif isinstance(value, str) and value not in ("theory", "fixed-K", "anytime"):
                try:
                    setattr(self, name, float(value))
                except ValueError:
                    pass  # validate() names the field
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field."""
        if self.kind not in AGENT_KINDS:
            raise ValueError(
                f"agent kind must be one of {', '.join(AGENT_KINDS)}, got {self.kind!r}"
            )
        if isinstance(self.beta, str) or isinstance(self.beta, bool):
            if self.beta != "theory":
                raise ValueError(f"beta must be a number >= 0 or 'theory', got {self.beta!r}")
        elif not (
            isinstance(self.beta, numbers.Real) and math.isfinite(self.beta) and self.beta >= 0
        ):
            raise ValueError(f"beta must be a finite number >= 0 or 'theory', got {self.beta!r}")
        for name in ("alpha_l", "alpha_f"):
            value = getattr(self, name)
            try:  # raises for a bad number or schedule name
                alpha_value(value, n_actions=2, horizon=1, episodes=1, k=0)
            except (TypeError, ValueError) as err:
                if isinstance(value, str) and value.startswith("power:"):
                    raise ValueError(f"{name}: {err}") from None
                raise ValueError(
                    f"{name} must be fixed-K, anytime, power:c,p (c > 0, p finite), inf or a "
                    f"number >= 0, got {value!r}"
                ) from None
        if self.schedule not in SCHEDULES:
            raise ValueError(
                f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}"
            )
        for name in ("schedule_n", "refresh_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name, ok in (
            ("lam", lambda v: v > 0),
            ("c1", lambda v: v > 0),
            ("p", lambda v: 0 < v < 1),
        ):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Real)
                or not math.isfinite(value)
                or not ok(value)
            ):
                bound = "in (0, 1)" if name == "p" else "finite and > 0"
                raise ValueError(f"{name} must be {bound}, got {value!r}")
        for name in ("decentralised", "incremental", "reference"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if not isinstance(self.extra, dict):
            raise ValueError(f"extra must be a dict, got {self.extra!r}")

    def to_dict(self) -> dict:
        """Plain data for the manifest."""
        return asdict(self)

    def alpha_specs(self) -> tuple[float | str, float | str]:
        """``(α_l, α_f)`` as numbers or schedule names; greedy LSVI-UCB plays ``α = ∞``."""
        if self.kind == "greedy-lsvi-ucb":
            return math.inf, math.inf
        return self.alpha_l, self.alpha_f


def generator_state(rng: np.random.Generator) -> dict:
    """The state of ``rng``'s bit generator (a dict of plain values; PCG64's are 128-bit ints)."""
    return rng.bit_generator.state


def set_generator_state(rng: np.random.Generator, state) -> None:
    """Put ``rng`` in ``state`` (:func:`generator_state`), refusing another kind of generator.

    Raises:
        ValueError: ``state`` is not a state of ``rng``'s bit generator.
    """
    kind = type(rng.bit_generator).__name__
    if not isinstance(state, dict) or state.get("bit_generator") != kind:
        got = state.get("bit_generator") if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"a random stream's state is of {got!r}, expected {kind!r}")
    try:
        rng.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"a random stream's state is not valid: {err}") from None


class _Stream:
    """The state of an agent that acts only from fixed tables: its random stream."""

    rng: np.random.Generator

    def state_dict(self) -> dict:
        """``{"rng": state of the random stream}``."""
        return {"rng": generator_state(self.rng)}

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s ``state``."""
        set_generator_state(self.rng, state.get("rng"))


def _short(x: float) -> str:
    """``x`` written briefly (``1``, ``0.5``, ``1e-07``) when that loses nothing, else ``repr``."""
    text = f"{x:g}"
    return text if float(text) == x else repr(x)


class _LSVIAgent:
    """Shared plumbing of the LSVI-UCB leader and follower."""

    def __init__(
        self,
        learner: LSVIUCBLearner,
        rng: np.random.Generator,
        alpha_l: float | str,
        alpha_f: float | str,
        episodes: int,
        owner: bool = True,
    ) -> None:
        self.learner, self.rng, self.owner = learner, rng, owner
        self._alpha_spec = (alpha_l, alpha_f)
        self.episodes = episodes
        self.episode: int | None = None
        """The episode under way (set by :meth:`begin_episode`)."""
        self.replanned = False

    def begin_episode(self, k: int) -> None:
        """Re-plan at the start of episode ``k`` if the schedule says so (owner only)."""
        self.episode = check_index(k, sys.maxsize, "k")
        self.replanned = False
        if not self.owner:
            return
        L = self.learner
        if L.should_plan(k):
            L.alpha_l = alpha_value(
                self._alpha_spec[0], L.n_leader_actions, L.horizon, self.episodes, k
            )
            L.alpha_f = alpha_value(
                self._alpha_spec[1], L.n_follower_actions, L.horizon, self.episodes, k
            )
            L.plan(episode=k)
            self.replanned = True

    def record(self, h: int, x, a: int, b: int, r: np.ndarray, x_next) -> None:
        """Store one observation (owner only: a shared learner records once).

        ``r``: the realised rewards ``(r_l, r_f)``. The learner checks every argument.
        """
        if np.shape(r) != (2,):
            raise ValueError(f"r must hold the two rewards (r_l, r_f), got {r!r}")
        if self.owner:
            self.learner.record(h, x, a, b, r[0], r[1], x_next)

    def params(self) -> dict:
        """The ``β``, ``λ``, ``α_l``, ``α_f`` in use."""
        L = self.learner
        return {"beta": L.beta, "lam": L.lam, "alpha_l": L.alpha_l, "alpha_f": L.alpha_f}

    def state_dict(self) -> dict:
        """The random stream, the episode under way and the learner's state (owner only).

        A learner shared by both players belongs to the leader, and is saved once.
        """
        return {
            "rng": generator_state(self.rng),
            "episode": self.episode,
            "replanned": self.replanned,
            "learner": self.learner.state_dict() if self.owner else None,
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue from :meth:`state_dict`'s ``state``.

        Raises:
            ValueError: a part of ``state`` does not fit this agent (named).
        """
        set_generator_state(self.rng, state.get("rng"))
        episode = state.get("episode")
        self.episode = None if episode is None else check_index(episode, sys.maxsize, "episode")
        self.replanned = bool(state.get("replanned", False))
        if self.owner:
            learner = state.get("learner")
            if not isinstance(learner, dict):
                raise ValueError("the agent's state has no learner, but this agent owns one")
            self.learner.load_state_dict(learner)

    def _in_episode(self, err: NonFiniteError) -> NonFiniteError:
        """``err`` with the episode under way in front."""
        return NonFiniteError(f"episode {self.episode}: {err}")


class LSVILeader(_LSVIAgent):
    """The leader of Algorithm 1: soft-max over its marginal ``q_l`` (line 20)."""

    def act(self, h: int, x) -> int:
        """Draw ``a_h ~ π_{l,h}(·|x_h)``."""
        try:
            pi_l = self.learner.leader_policy(h, x)
        except NonFiniteError as err:
            raise self._in_episode(err) from None
        return draw(pi_l, self.rng)

    def policy_table(self, game: FiniteGame) -> np.ndarray:
        """``pi_l (H, S, A)`` of the current plan: the rows :meth:`act` draws from."""
        return self.learner.policy_tables(game.features)[0]

    def policies_at(self, h: int, phi: np.ndarray) -> np.ndarray:
        """``π_{l,h}`` at the states of ``phi (n, A, B, d)``: ``(n, A)``, as :meth:`act` draws."""
        try:
            return self.learner.policies_at(h, phi)[0]
        except NonFiniteError as err:
            raise self._in_episode(err) from None


class LSVIFollower(_LSVIAgent):
    """The follower of Algorithm 2: soft-max over ``Q_f(x, a, ·)`` after seeing ``a`` (line 5)."""

    def act(self, h: int, x, a: int) -> int:
        """Draw ``b_h ~ π_{f,h}(·|x_h, a_h)``."""
        try:
            pi_f = self.learner.follower_policy(h, x, a)
        except NonFiniteError as err:
            raise self._in_episode(err) from None
        return draw(pi_f, self.rng)

    def policy_table(self, game: FiniteGame) -> np.ndarray:
        """``pi_f (H, S, A, B)`` of the current plan: the rows :meth:`act` draws from."""
        return self.learner.policy_tables(game.features)[1]

    def policies_at(self, h: int, phi: np.ndarray) -> np.ndarray:
        """``π_{f,h}`` at the states of ``phi (n, A, B, d)``: ``(n, A, B)``, as acting draws."""
        try:
            return self.learner.policies_at(h, phi)[1]
        except NonFiniteError as err:
            raise self._in_episode(err) from None


class TableAgent(_Stream):
    """A player with a fixed policy table: the uniform baseline and the Stackelberg oracle."""

    replanned = False
    """A fixed policy never plans."""

    def __init__(self, table: np.ndarray, rng: np.random.Generator, role: str) -> None:
        if role not in ("leader", "follower"):
            raise ValueError(f"role must be 'leader' or 'follower', got {role!r}")
        self.table, self.rng, self.role = table, rng, role

    def begin_episode(self, k: int) -> None:
        """Nothing to plan."""

    def act(self, h: int, x, a: int | None = None) -> int:
        """Draw from the table: ``table[h, x]`` (leader) or ``table[h, x, a]`` (follower)."""
        H, S = self.table.shape[:2]
        row = self.table[check_index(h, H, "h"), check_index(x, S, "x")]
        if self.role == "follower":
            row = row[check_index(a, self.table.shape[2], "a")]
        return draw(row, self.rng)

    def record(self, h: int, x, a: int, b: int, r: np.ndarray, x_next) -> None:
        """A fixed policy learns nothing."""

    def policy_table(self, game: FiniteGame) -> np.ndarray:
        """The fixed table."""
        return self.table

    def params(self) -> dict:
        """No learning parameters."""
        return {}


class UniformAgent(_Stream):
    """Uniform play at every state of any state space: the ``random`` baseline."""

    replanned = False
    """A fixed policy never plans."""

    def __init__(
        self,
        n_leader_actions: int,
        n_follower_actions: int,
        horizon: int,
        rng: np.random.Generator,
        role: str,
    ) -> None:
        if role not in ("leader", "follower"):
            raise ValueError(f"role must be 'leader' or 'follower', got {role!r}")
        self.n_leader_actions, self.n_follower_actions = n_leader_actions, n_follower_actions
        self.horizon, self.rng, self.role = horizon, rng, role
        n = n_leader_actions if role == "leader" else n_follower_actions
        self._row = np.full(n, 1.0 / n)

    def begin_episode(self, k: int) -> None:
        """Nothing to plan."""

    def act(self, h: int, x, a: int | None = None) -> int:
        """Draw an action uniformly (the follower's whatever ``a`` it saw)."""
        return draw(self._row, self.rng)

    def record(self, h: int, x, a: int, b: int, r: np.ndarray, x_next) -> None:
        """A fixed policy learns nothing."""

    def _shape(self, n: int) -> tuple[int, ...]:
        A, B = self.n_leader_actions, self.n_follower_actions
        return (n, A) if self.role == "leader" else (n, A, B)

    def policy_table(self, game: FiniteGame) -> np.ndarray:
        """The uniform ``pi_l (H, S, A)`` or ``pi_f (H, S, A, B)``."""
        return np.full((self.horizon, *self._shape(game.n_states)), self._row[0])

    def policies_at(self, h: int, phi: np.ndarray) -> np.ndarray:
        """The uniform policy at ``n`` states: ``(n, A)`` or ``(n, A, B)``."""
        return np.full(self._shape(len(phi)), self._row[0])

    def params(self) -> dict:
        """No learning parameters."""
        return {}


class PlannedAgent(_Stream):
    """Greedy Stackelberg play from a linear plan ``w (2, H, d)``, at any state (math.md §6).

    ``Q_{m,h}(x, a, b) = ⟨φ(x, a, b), w[m, h]⟩``; the follower answers each ``a`` with its best
    action (ties to the leader), the leader plays its best action given those answers. The
    ``oracle`` of a continuous game, with ``w`` planned on its evaluation sample
    (:func:`~stackelberg_rl.montecarlo.sampled_stackelberg`).
    """

    replanned = False
    """A fixed plan never changes."""

    def __init__(self, feature_map, w: np.ndarray, rng: np.random.Generator, role: str) -> None:
        if role not in ("leader", "follower"):
            raise ValueError(f"role must be 'leader' or 'follower', got {role!r}")
        self.feature_map, self.w, self.rng, self.role = feature_map, np.asarray(w), rng, role

    def begin_episode(self, k: int) -> None:
        """Nothing to plan."""

    def act(self, h: int, x, a: int | None = None) -> int:
        """The planned action at ``x`` (the follower's answer to ``a``)."""
        pi = self.policies_at(h, self.feature_map(np.asarray(x)[None]))[0]
        return draw(pi if self.role == "leader" else pi[a], self.rng)

    def record(self, h: int, x, a: int, b: int, r: np.ndarray, x_next) -> None:
        """A fixed plan learns nothing."""

    def policies_at(self, h: int, phi: np.ndarray) -> np.ndarray:
        """One-hot rows at ``phi (n, A, B, d)``: ``(n, A)`` or ``(n, A, B)``."""
        Q = np.einsum("nabk,mk->mnab", phi, self.w[:, h])
        a_star, b_star = stackelberg_actions(Q)
        n, A, B = Q.shape[1:]
        if self.role == "leader":
            return np.eye(A)[a_star]
        return np.eye(B)[b_star]

    def params(self) -> dict:
        """No learning parameters."""
        return {}


def resolve_beta(config: AgentConfig, game: Game, episodes: int) -> float:
    """The number ``β`` of a configuration (``"theory"`` resolved by Theorem 3)."""
    if config.beta == "theory":
        return theory_beta(
            game.dim,
            game.horizon,
            episodes,
            game.n_leader_actions,
            game.n_follower_actions,
            c1=config.c1,
            p=config.p,
        )
    return float(config.beta)


def make_learner(config: AgentConfig, game: Game, episodes: int) -> LSVIUCBLearner:
    """A fresh learner for ``game`` as ``config`` says (``α`` of episode 0).

    :class:`SoftmaxLSVIUCB`, or with ``config.reference`` the from-scratch
    :class:`ReferenceLSVIUCB` (which has no cache to configure). It knows the game's features:
    the table of a finite game (states are indices), the feature map of a continuous one.
    """
    spec_l, spec_f = config.alpha_specs()
    A, B, H = game.n_leader_actions, game.n_follower_actions, game.horizon
    features = game.features if isinstance(game, FiniteGame) else game.feature_map
    args = (features, A, B, game.dim, H)
    kwargs = dict(
        beta=resolve_beta(config, game, episodes),
        lam=config.lam,
        alpha_l=alpha_value(spec_l, A, H, episodes, 0),
        alpha_f=alpha_value(spec_f, B, H, episodes, 0),
        schedule=config.schedule,
        schedule_n=config.schedule_n,
    )
    if config.reference:
        return ReferenceLSVIUCB(*args, **kwargs)
    return SoftmaxLSVIUCB(
        *args,
        **kwargs,
        incremental=config.incremental,
        refresh_every=config.refresh_every,
        dtype=config.dtype,
    )


def make_agents(
    game: Game, config: AgentConfig, episodes: int, seed: int | np.random.SeedSequence
) -> tuple:
    """The leader and the follower for one run, each with its own random stream.

    Args:
        game: the game (its features are the known feature map).
        config: the agents' configuration.
        episodes: ``K`` (for ``"fixed-K"`` soft-max parameters and ``β = "theory"``).
        seed: an integer or ``SeedSequence``; the leader's and the follower's streams are spawned
            from it.

    Returns:
        ``(leader, follower)``.
    """
    config.validate()
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    rng_l, rng_f = (np.random.default_rng(s) for s in ss.spawn(2))
    H, A, B = game.horizon, game.n_leader_actions, game.n_follower_actions
    if config.kind == "random":
        return (
            UniformAgent(A, B, H, rng_l, "leader"),
            UniformAgent(A, B, H, rng_f, "follower"),
        )
    if config.kind == "oracle" and isinstance(game, ContinuousGame):
        w = sampled_stackelberg(game, game.evaluation.pooled())[0][0]
        return (
            PlannedAgent(game.feature_map, w, rng_l, "leader"),
            PlannedAgent(game.feature_map, w, rng_f, "follower"),
        )
    if config.kind == "oracle":
        pi_l, pi_f, _ = stackelberg_equilibrium(game)
        return TableAgent(pi_l, rng_l, "leader"), TableAgent(pi_f, rng_f, "follower")
    alphas = config.alpha_specs()
    learner_l = make_learner(config, game, episodes)
    learner_f = make_learner(config, game, episodes) if config.decentralised else learner_l
    leader = LSVILeader(learner_l, rng_l, *alphas, episodes, owner=True)
    follower = LSVIFollower(learner_f, rng_f, *alphas, episodes, owner=config.decentralised)
    return leader, follower
