"""PettingZoo environments over any finite leader-follower Markov game (math.md §1, math.md §9).

The agents are ``leader, follower`` or ``leader, follower_1, …, follower_N``, in order of moves:
one after the other (AEC, :func:`env`) or at once, each follower replying to every action before
it (:func:`parallel_env`); spaces in each environment's docstring. ``reset(seed=s)`` starts
the game's stream of a run of seed ``s`` (:mod:`stackelberg_rl._seeding`), ``reset()`` goes on.

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
    >>> three = env(games.make("random-tabular", n_followers=2, n_states=3, seed=0))
    >>> three.possible_agents
    ['leader', 'follower_1', 'follower_2']
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._seeding import stream
from ._common import EPISODE_OPTIONS, RENDER_MODES, Episode, check_action, check_options, missing

try:
    from gymnasium.spaces import Discrete, MultiDiscrete
    from pettingzoo import AECEnv, ParallelEnv
    from pettingzoo.utils import wrappers
except ImportError as err:  # pragma: no cover - exercised by hiding the package
    raise missing("pettingzoo", __name__) from err


class _Episode(Episode):  # what both share: the agents, the random stream, the spaces
    _called = "env"  # the function users call, named in errors

    def __init__(self, game: Any, **options: Any) -> None:
        where = f"stackelberg_rl.envs.pettingzoo.{self._called}()"
        check_options(options, where, ("game", *EPISODE_OPTIONS))
        super().__init__(game, **options)
        self.possible_agents = list(self.players)
        self.agents: list[str] = []
        self._n_actions = dict(zip(self.players, self.game.action_counts, strict=True))
        self._rng: np.random.Generator | None = None
        self.observation_spaces, self.action_spaces = self._spaces()

    def _start(self, seed: int | None) -> None:
        if seed is not None or self._rng is None:
            # the game's stream of a run of seed `seed` (_seeding's "game"); fresh without one
            self._rng = np.random.default_rng() if seed is None else stream(seed, "game")
        self.agents = list(self.players)
        self._begin(self._rng)

    def _known(self, agent: str) -> str:
        if agent not in self._n_actions:
            raise ValueError(f"unknown agent {agent!r}; the agents are {', '.join(self.players)}")
        return agent

    def observation_space(self, agent: str) -> MultiDiscrete:
        """The agent's observation space (the same object every call)."""
        return self.observation_spaces[self._known(agent)]

    def action_space(self, agent: str) -> Discrete | MultiDiscrete:
        """The agent's action space (the same object every call)."""
        return self.action_spaces[self._known(agent)]


class LeaderFollowerAECEnv(_Episode, AECEnv):
    """The game as an AEC environment (:func:`env`'s arguments): the agents act in turn.

    Observations ``[h, x, a_0, …, a_{N-1}]`` (int64, ``MultiDiscrete([H + 1, S, A_0 + 1, …,
    A_{N-1} + 1])``; ``a_i = A_i`` until player ``i`` has acted, ``h = H`` at the end),
    actions ``Discrete(A_i)``, infos ``{"action_mask": ones}``; each agent collects its realised
    reward from ``last()`` at its next turn; terminated after ``H`` steps, or truncated after
    ``max_cycles``.
    """

    metadata = {
        "render_modes": list(RENDER_MODES),
        "name": "stackelberg_rl_v0",
        "is_parallelizable": False,
    }

    def _spaces(self) -> tuple[dict, dict]:
        nvec = self._nvec(self.game.n_players - 1)
        observations = {agent: MultiDiscrete(nvec, dtype=np.int64) for agent in self.players}
        return observations, {agent: Discrete(n) for agent, n in self._n_actions.items()}

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        """Start an episode; a ``seed`` starts a new random stream, ``None`` goes on with it."""
        self._start(seed)
        self.rewards = dict.fromkeys(self.players, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.players, 0.0)
        self.terminations = dict.fromkeys(self.players, False)
        self.truncations = dict.fromkeys(self.players, False)
        self.infos = {
            agent: {"action_mask": np.ones(n, dtype=np.int8)}
            for agent, n in self._n_actions.items()
        }
        self.agent_selection = self.players[0]

    def observe(self, agent: str) -> np.ndarray:
        """``[h, x, a_0, …, a_{N-1}]`` (``a_i = A_i`` until player ``i`` has acted): int64."""
        self._known(agent)
        if not self._started:
            self._check_playing("observe()")
        return self._observe(self.game.n_players - 1)

    def last(self, observe: bool = True) -> tuple:
        """The selected agent's observation, cumulative reward, termination, truncation, info."""
        if not self.agents:  # before reset(), or once every agent has left
            self._check_playing("last()")
        return super().last(observe)

    def step(self, action: int | None) -> None:
        """Play the selected agent's action; the game steps once the last follower has acted."""
        if not self.agents:  # before reset(), or once every agent has left
            self._check_playing()
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        action = check_action(agent, action, self._n_actions[agent])
        self._cumulative_rewards[agent] = 0.0
        self._actions.append(action)
        if len(self._actions) < self.game.n_players:
            self._clear_rewards()  # part of a step: nobody is paid yet
        else:
            r = self._play(self._actions, self._rng)
            self.rewards = dict(zip(self.players, map(float, r), strict=True))
            if self._h >= self.game.horizon:
                self.terminations = dict.fromkeys(self.players, True)
            elif self._h >= self.max_cycles:
                self.truncations = dict.fromkeys(self.players, True)
                self._truncated = True
        self.agent_selection = self.players[len(self._actions)]
        self._accumulate_rewards()


raw_env = LeaderFollowerAECEnv
"""PettingZoo's name for the environment class without wrappers."""


def env(game: Any, **options: Any) -> AECEnv:
    """The AEC environment wrapped as PettingZoo's own are: actions checked, order enforced.

    Args:
        game: a :class:`~stackelberg_rl.games.FiniteGame`, or a registered game's name.
        **options: ``game_params`` (the registered game's parameters, only with a name),
            ``max_cycles`` (steps after which every agent is truncated; ``None`` plays all
            ``H``), ``render_mode`` (``"ansi"``, ``"human"`` or ``None``).
    """
    return _OrderEnforcing(wrappers.AssertOutOfBoundsWrapper(raw_env(game, **options)))


class _OrderEnforcing(wrappers.OrderEnforcingWrapper):
    def last(self, observe: bool = True) -> tuple:
        """The environment's own ``last()``: it says when no agent is left to select."""
        if not self.agents:
            return self.unwrapped.last(observe)
        return super().last(observe)


class LeaderFollowerParallelEnv(_Episode, ParallelEnv):
    """The game with simultaneous moves (:func:`env`'s arguments), observing ``[h, x]``.

    ``step`` takes ``{"leader": a_0, "follower_1": replies_1, …}``, ``replies_i (A_0, …,
    A_{i-1})`` in ``MultiDiscrete``, and plays ``a_i = replies_i[a_0, …, a_{i-1}]`` (``b =
    replies[a]`` for one follower); infos report the actions played.
    """

    metadata = {"render_modes": list(RENDER_MODES), "name": "stackelberg_rl_parallel_v0"}
    _called = "parallel_env"

    def _spaces(self) -> tuple[dict, dict]:
        counts = self.game.action_counts
        observations = {
            agent: MultiDiscrete(self._nvec(0), dtype=np.int64) for agent in self.players
        }
        actions = {self.players[0]: Discrete(counts[0])}
        for i, agent in enumerate(self.players[1:], start=1):
            actions[agent] = MultiDiscrete(np.full(counts[:i], counts[i]), dtype=np.int64)
        return observations, actions

    def _observations(self) -> dict[str, np.ndarray]:
        return {agent: self._observe(0) for agent in self.players}

    def _to_move(self) -> str:
        return "both players" if self.game.n_players == 2 else "all players"

    def reset(
        self, seed: int | None = None, options: dict | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
        """Start an episode; a ``seed`` starts a new random stream, ``None`` goes on with it."""
        self._start(seed)
        return self._observations(), {agent: {} for agent in self.players}

    def _reply(self, i: int, replies: Any, played: list[int]) -> int:
        agent, counts = self.players[i], self.game.action_counts
        array = np.asarray(replies)
        if array.shape != counts[:i] or array.dtype.kind not in "iu":
            before = "leader action" if i == 1 else f"({', '.join(self.players[:i])}) actions"
            raise ValueError(
                f"the {agent}'s action must be an integer array of shape {counts[:i]} (a reply "
                f"to each {before}), got {replies!r}"
            )
        if ((array < 0) | (array >= counts[i])).any():
            raise ValueError(
                f"the {agent}'s replies must be in [0, {counts[i]}), got {array.tolist()}"
            )
        return int(array[tuple(played)])

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """Play ``a_0 = actions["leader"]``, then each follower's reply to the actions before."""
        self._check_playing()
        agents = self.players
        unknown = [repr(agent) for agent in actions if agent not in agents]
        if unknown:
            raise ValueError(f"no agent {', '.join(unknown)}; the agents are {', '.join(agents)}")
        missing_agents = [agent for agent in agents if agent not in actions]
        if missing_agents:
            raise ValueError(f"no action for {', '.join(missing_agents)}")
        played = [check_action(agents[0], actions[agents[0]], self.game.action_counts[0])]
        for i, agent in enumerate(agents[1:], start=1):
            played.append(self._reply(i, actions[agent], played))
        r = self._play(played, self._rng)
        rewards = dict(zip(agents, map(float, r), strict=True))
        terminated = self._h >= self.game.horizon
        truncated = self._truncated = not terminated and self._h >= self.max_cycles
        info = {f"{agent}_action": a for agent, a in zip(agents, played, strict=True)}
        infos = {agent: dict(info) for agent in agents}
        if terminated or truncated:
            self.agents = []
        done = dict.fromkeys(agents, terminated), dict.fromkeys(agents, truncated)
        return self._observations(), rewards, *done, infos


parallel_env = LeaderFollowerParallelEnv
"""PettingZoo's name for the parallel environment."""
