"""PettingZoo environments over any finite leader-follower Markov game (math.md §1).

**AEC** (:func:`env`, :class:`raw_env`): at every step ``h`` the agent ``"leader"`` acts, then the
agent ``"follower"``, who has seen its action; then the game steps and both players' realised
rewards of step ``h`` are credited (each agent collects its own from ``last()`` at its next turn).
Observations ``[h, x, a]`` (int64, ``MultiDiscrete([H + 1, S, A + 1])``; ``a = A`` before the
leader acts, ``h = H`` at the end), actions ``Discrete(A)`` then ``Discrete(B)``, infos
``{"action_mask": ones}`` (every action is legal). Both agents are terminated after ``H`` steps,
or truncated after ``max_cycles``.

**Parallel** (:func:`parallel_env`): both agents act at once and observe ``[h, x]``; as the follower
cannot see ``a_h``, its action is a reply to every leader action, ``MultiDiscrete([B] * A)``, and
``b_h`` is its entry at ``a_h``: the outcomes of the AEC game. Its infos report the actions played.

``reset(seed=s)`` starts the game's random stream of a run of seed ``s``
(:mod:`stackelberg_rl._seeding`), ``reset()`` goes on with it; ``render_mode="ansi"`` renders the
last step and where play stands as text.

Example:
    >>> from stackelberg_rl import games
    >>> from stackelberg_rl.envs.pettingzoo import env
    >>> aec = env(games.make("matrix", horizon=2))
    >>> aec.reset(seed=0)
    >>> for agent in aec.agent_iter():
    ...     observation, reward, terminated, truncated, info = aec.last()
    ...     aec.step(None if terminated or truncated else 0)
    >>> aec.agents
    []
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._seeding import stream
from ._common import Episode, check_action, missing

try:
    from gymnasium.spaces import Discrete, MultiDiscrete
    from pettingzoo import AECEnv, ParallelEnv
    from pettingzoo.utils import wrappers
except ImportError as err:  # pragma: no cover - exercised by hiding the package
    raise missing("pettingzoo", __name__) from err

LEADER, FOLLOWER = "leader", "follower"
AGENTS = (LEADER, FOLLOWER)
"""The agents, in the order they act at every step."""


class _Episode(Episode):
    """What both environments share: the agents, the random stream, the spaces."""

    def __init__(self, game: Any, **options: Any) -> None:
        super().__init__(game, **options)
        self.possible_agents = list(AGENTS)
        self.agents: list[str] = []
        self._n_actions = dict(zip(AGENTS, self.game.action_counts, strict=True))
        self._rng: np.random.Generator | None = None
        self.observation_spaces, self.action_spaces = self._spaces()

    def _start(self, seed: int | None) -> None:
        """A ``seed`` starts a new stream, ``None`` goes on with it; ``x_0`` is drawn."""
        if seed is not None or self._rng is None:
            # the game's stream of a run of seed `seed` (_seeding's "game"); fresh without one
            self._rng = np.random.default_rng() if seed is None else stream(seed, "game")
        self.agents = list(AGENTS)
        self._begin(self._rng)

    def _rewards(self, a: int, b: int) -> dict[str, float]:
        return dict(zip(AGENTS, map(float, self._play(a, b, self._rng)), strict=True))

    def observation_space(self, agent: str) -> MultiDiscrete:
        """The agent's observation space (the same object every call)."""
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> Discrete | MultiDiscrete:
        """The agent's action space (the same object every call)."""
        return self.action_spaces[agent]

    def close(self) -> None:
        """Nothing to release."""


class LeaderFollowerAECEnv(_Episode, AECEnv):
    """The game as an AEC environment: the leader, then the follower, at every step.

    See the module's docstring for the spaces, rewards and seeding, and :func:`env` for the
    arguments.
    """

    metadata = {"render_modes": ["ansi"], "name": "stackelberg_rl_v0", "is_parallelizable": False}

    def _spaces(self) -> tuple[dict, dict]:
        H, S, A = self.game.horizon, self.game.n_states, self.game.n_leader_actions
        observations = {agent: MultiDiscrete([H + 1, S, A + 1], dtype=np.int64) for agent in AGENTS}
        return observations, {agent: Discrete(n) for agent, n in self._n_actions.items()}

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        """Start an episode; a ``seed`` starts a new random stream, ``None`` goes on with it."""
        self._start(seed)
        self.rewards = dict.fromkeys(AGENTS, 0.0)
        self._cumulative_rewards = dict.fromkeys(AGENTS, 0.0)
        self.terminations = dict.fromkeys(AGENTS, False)
        self.truncations = dict.fromkeys(AGENTS, False)
        self.infos = {
            agent: {"action_mask": np.ones(n, dtype=np.int8)}
            for agent, n in self._n_actions.items()
        }
        self.agent_selection = LEADER

    def observe(self, agent: str) -> np.ndarray:
        """``[h, x, a]`` (``a = A`` until the leader has acted at step ``h``): ``(3,)`` int64."""
        if agent not in self.observation_spaces:
            raise ValueError(f"unknown agent {agent!r}; the agents are {', '.join(AGENTS)}")
        a = self.game.n_leader_actions if self._a is None else self._a
        return np.array([self._h, self._x, a], dtype=np.int64)

    def step(self, action: int | None) -> None:
        """Play the selected agent's action; the game steps once the follower has acted."""
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        action = check_action(agent, action, self._n_actions[agent])
        self._cumulative_rewards[agent] = 0.0
        if agent == LEADER:
            self._a = action
            self._clear_rewards()  # half a step: nobody is paid yet
        else:
            self.rewards = self._rewards(self._a, action)
            if self._h >= self.game.horizon:
                self.terminations = dict.fromkeys(AGENTS, True)
            elif self._h >= self.max_cycles:
                self.truncations = dict.fromkeys(AGENTS, True)
                self._truncated = True
        self.agent_selection = FOLLOWER if agent == LEADER else LEADER
        self._accumulate_rewards()


raw_env = LeaderFollowerAECEnv
"""PettingZoo's name for the environment class without wrappers."""


def env(game: Any, **options: Any) -> AECEnv:
    """The AEC environment wrapped as PettingZoo's own are: actions checked, order enforced.

    Args:
        game: a :class:`~stackelberg_rl.games.FiniteGame`, or a registered game's name.
        **options: ``game_params`` (the registered game's parameters, only with a name),
            ``max_cycles`` (steps after which both agents are truncated; ``None`` plays all
            ``H``), ``render_mode`` (``"ansi"`` or ``None``).
    """
    return wrappers.OrderEnforcingWrapper(
        wrappers.AssertOutOfBoundsWrapper(raw_env(game, **options))
    )


class LeaderFollowerParallelEnv(_Episode, ParallelEnv):
    """The game with simultaneous moves: the follower replies to every leader action at once.

    See the module's docstring. ``step`` takes ``{"leader": a, "follower": replies}`` with
    ``replies (A,)`` the follower's action for each leader action; it plays ``b = replies[a]``.
    The arguments are :func:`env`'s.
    """

    metadata = {"render_modes": ["ansi"], "name": "stackelberg_rl_parallel_v0"}

    def _spaces(self) -> tuple[dict, dict]:
        H, S, (A, B) = self.game.horizon, self.game.n_states, self.game.action_counts
        observations = {agent: MultiDiscrete([H + 1, S], dtype=np.int64) for agent in AGENTS}
        return observations, {
            LEADER: Discrete(A),
            FOLLOWER: MultiDiscrete([B] * A, dtype=np.int64),
        }

    def _observations(self) -> dict[str, np.ndarray]:
        return {agent: np.array([self._h, self._x], dtype=np.int64) for agent in AGENTS}

    def _to_move(self) -> str:
        return "both players"

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Start an episode; a ``seed`` starts a new random stream, ``None`` goes on with it."""
        self._start(seed)
        return self._observations(), {agent: {} for agent in AGENTS}

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Play ``a = actions["leader"]`` and ``b = actions["follower"][a]`` at step ``h``."""
        if not self.agents:
            raise RuntimeError("the episode is over: call reset()")
        unknown = [repr(agent) for agent in actions if agent not in AGENTS]
        if unknown:
            raise ValueError(f"no agent {', '.join(unknown)}; the agents are {', '.join(AGENTS)}")
        missing_agents = [agent for agent in AGENTS if agent not in actions]
        if missing_agents:
            raise ValueError(f"no action for {', '.join(missing_agents)}")
        (A, B), replies = self.game.action_counts, np.asarray(actions[FOLLOWER])
        a = check_action(LEADER, actions[LEADER], A)
        if replies.shape != (A,) or replies.dtype.kind not in "iu":
            raise ValueError(
                f"the follower's action must be {A} integers (a reply to each leader action), "
                f"got {actions[FOLLOWER]!r}"
            )
        if ((replies < 0) | (replies >= B)).any():
            raise ValueError(f"the follower's replies must be in [0, {B}), got {replies.tolist()}")
        b = int(replies[a])
        rewards = self._rewards(a, b)
        terminated = self._h >= self.game.horizon
        truncated = self._truncated = not terminated and self._h >= self.max_cycles
        infos = {agent: {"leader_action": a, "follower_action": b} for agent in AGENTS}
        if terminated or truncated:
            self.agents = []
        done = dict.fromkeys(AGENTS, terminated), dict.fromkeys(AGENTS, truncated)
        return self._observations(), rewards, *done, infos


parallel_env = LeaderFollowerParallelEnv
"""PettingZoo's name for the parallel environment."""
