"""Gymnasium environments: one player's problem with the other player's policy fixed.

- :class:`LeaderEnv` ``(game, follower_policy)``: the leader's MDP when the follower answers every
  ``(h, x, a)`` from a fixed ``π_f``. Observation ``[h, x]`` in ``MultiDiscrete([H + 1, S])``,
  action ``a`` in ``Discrete(A)``, reward ``r_{l,h}``; the info of a step holds the follower's
  answer and reward (``follower_action``, ``follower_reward``). Its optimal policy is the leader's
  best response to ``π_f``, eq. (8), and its expected return from ``x_0`` is ``V_{l,0}(x_0)``
  (math.md §2).
- :class:`FollowerEnv` ``(game, leader_policy)``: the follower's MDP when the leader plays a fixed
  ``π_l``. Observation ``[h, x, a]`` in ``MultiDiscrete([H + 1, S, A + 1])`` with ``a`` the
  leader's action at step ``h`` (``A`` in the final observation, where there is none), action ``b``
  in ``Discrete(B)``, reward ``r_{f,h}``; the info holds ``leader_action`` and ``leader_reward``.
  Its optimal policy is the follower's best response to ``π_l``, eq. (7).

The fixed policy is a table (``pi_f (H, S, A, B)`` or ``pi_l (H, S, A)``), ``"uniform"``,
``"stackelberg"`` (that player's part of :func:`~stackelberg_rl.planning.stackelberg_equilibrium`)
or any player object with the agents' ``act`` (``act(h, x)`` for a leader, ``act(h, x, a)`` for a
follower; its ``begin_episode(k)`` is called at every reset when it has one). A table is drawn from
with the environment's own stream, so ``reset(seed=s)`` fixes whole episodes; a player object draws
from its own stream.

Episodes end (``terminated``) after ``H`` steps; nothing is truncated. ``render_mode="ansi"``
returns the last step as text. Both classes are registered with Gymnasium as
``stackelberg_rl/LeaderEnv-v0`` and ``stackelberg_rl/FollowerEnv-v0`` when this module is imported
(or named as ``"stackelberg_rl.envs.gymnasium:stackelberg_rl/LeaderEnv-v0"``, which imports it).

Example:
    >>> import gymnasium
    >>> from stackelberg_rl import games
    >>> import stackelberg_rl.envs.gymnasium
    >>> env = gymnasium.make("stackelberg_rl/LeaderEnv-v0", game=games.make("matrix"),
    ...                      follower_policy="stackelberg")
    >>> observation, info = env.reset(seed=0)
    >>> observation.tolist()
    [0, 0]
    >>> observation, reward, terminated, truncated, info = env.step(1)
    >>> round(reward * 4, 6), terminated, info["follower_action"]  # the commitment preset, scale 4
    (3.0, True, 1)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..games import FiniteGame, draw
from ..planning import check_policies, stackelberg_equilibrium
from ._common import Step, check_action, check_options, missing, play, render, resolve_game

try:
    import gymnasium
    from gymnasium.spaces import Discrete, MultiDiscrete
except ImportError as err:  # pragma: no cover - exercised by hiding the package
    raise missing("gymnasium", __name__) from err

LEADER_ENV_ID = "stackelberg_rl/LeaderEnv-v0"
FOLLOWER_ENV_ID = "stackelberg_rl/FollowerEnv-v0"
NAMED_POLICIES = ("uniform", "stackelberg")
ROLES = ("leader", "follower")
"""The players, in the order of the game's player axis."""


class FixedPolicy:
    """One player's fixed play: a policy table, a named policy, or a player object.

    Args:
        policy: ``pi_l (H, S, A)`` for a leader or ``pi_f (H, S, A, B)`` for a follower, one of
            :data:`NAMED_POLICIES`, or an object with ``act``.
        game: the game played.
        role: ``"leader"`` or ``"follower"``.

    Raises:
        ValueError: for a table of the wrong shape or not a distribution (naming the axis or the
            row), or an unknown name.
    """

    def __init__(self, policy: Any, game: FiniteGame, role: str) -> None:
        if role not in ROLES:
            raise ValueError(f"role must be 'leader' or 'follower', got {role!r}")
        self.game, self.role = game, role
        self.n_actions = game.action_counts[ROLES.index(role)]
        self.player = None
        self.table: np.ndarray | None = None
        if isinstance(policy, str):
            if policy not in NAMED_POLICIES:
                raise ValueError(
                    f"the {role}'s policy must be a table, a player or one of "
                    f"{', '.join(NAMED_POLICIES)}, got {policy!r}"
                )
            self.table = self._named(policy)
        elif hasattr(policy, "act"):
            self.player = policy
        else:
            self.table = np.asarray(policy, dtype=np.float64)
            check_policies(game, *((self.table, None) if role == "leader" else (None, self.table)))

    def _named(self, name: str) -> np.ndarray:
        if name == "uniform":
            H, S, A = self.game.horizon, self.game.n_states, self.game.n_leader_actions
            shape = (H, S) if self.role == "leader" else (H, S, A)
            return np.full((*shape, self.n_actions), 1.0 / self.n_actions)
        pi_l, pi_f, _ = stackelberg_equilibrium(self.game)
        return pi_l if self.role == "leader" else pi_f

    def begin_episode(self, k: int) -> None:
        """Tell a player object that episode ``k`` begins (a table needs nothing)."""
        if self.player is not None and hasattr(self.player, "begin_episode"):
            self.player.begin_episode(k)

    def act(self, h: int, x: int, a: int | None, rng: np.random.Generator) -> int:
        """The fixed player's action at ``(h, x)`` (a leader) or ``(h, x, a)`` (a follower).

        A table is drawn from with ``rng``; a player object uses its own stream.
        """
        if self.player is not None:
            action = self.player.act(h, x) if self.role == "leader" else self.player.act(h, x, a)
            return check_action(self.role, action, self.n_actions)
        row = self.table[h, x] if self.role == "leader" else self.table[h, x, a]
        return draw(row, rng)


class _FixedOtherEnv(gymnasium.Env):
    """One player's problem, the other's play fixed: the episode, spaces, seeding, rendering."""

    # Text needs no frame rate; one is declared because Gymnasium's checker asks for it.
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        game: FiniteGame | str,
        other_policy: Any,
        role: str,
        game_params: Mapping[str, Any] | None,
        render_mode: str | None,
    ) -> None:
        self.game = resolve_game(game, game_params)
        check_options(None, render_mode, self.game.horizon)
        self.render_mode = render_mode
        self.me = ROLES.index(role)
        self.other = FixedPolicy(other_policy, self.game, ROLES[1 - self.me])
        self._episode = -1
        self._h, self._x, self._a = 0, 0, None
        self._last: Step | None = None
        H, S, A = self.game.horizon, self.game.n_states, self.game.n_leader_actions
        # the follower also sees the leader's action at this step (A when there is none)
        self.observation_space = MultiDiscrete([H + 1, S] + [A + 1] * self.me)
        self.action_space = Discrete(self.game.action_counts[self.me])

    def _observation(self) -> np.ndarray:
        a = self.game.n_leader_actions if self._a is None else self._a
        return np.array([self._h, self._x, a][: 2 + self.me], dtype=np.int64)

    def _leader_moves(self) -> None:
        """A fixed leader acts at ``(h, x)`` unless the episode is over."""
        if self.me == 1 and self._h < self.game.horizon:
            self._a = self.other.act(self._h, self._x, None, self.np_random)

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        """Start an episode at ``x_0`` (with a fixed leader's first action drawn).

        A ``seed`` starts a new stream (Gymnasium's ``SeedSequence``-based one), ``None`` goes
        on with it.
        """
        super().reset(seed=seed)
        self._episode += 1
        self.other.begin_episode(self._episode)
        self._h, self._x, self._a = 0, self.game.sample_initial(self.np_random), None
        self._last = None
        self._leader_moves()
        return self._observation(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Play this player's action against the fixed one's; the game steps.

        The info holds the other player's action and reward (``follower_action``,
        ``follower_reward`` or ``leader_action``, ``leader_reward``).
        """
        role = ROLES[self.me]
        action = check_action(role, action, self.game.action_counts[self.me])
        if self._h >= self.game.horizon:
            raise RuntimeError("the episode is over: call reset()")
        if self.me == 0:
            a, b = action, self.other.act(self._h, self._x, action, self.np_random)
        else:
            a, b = self._a, action
        r = play(self, a, b, self.np_random)
        self._leader_moves()
        other = ROLES[1 - self.me]
        info = {f"{other}_action": (a, b)[1 - self.me], f"{other}_reward": float(r[1 - self.me])}
        return self._observation(), float(r[self.me]), self._h >= self.game.horizon, False, info

    def render(self) -> str | None:
        """The last step and where play stands (``"ansi"``); ``None`` without a render mode."""
        return render(self, a=self._a, to_move="the leader" if self._a is None else "the follower")


class LeaderEnv(_FixedOtherEnv):
    """The leader's single-agent problem against a fixed follower policy.

    See the module's docstring for the spaces and the info.

    Args:
        game: a :class:`~stackelberg_rl.games.FiniteGame`, or a registered game's name.
        follower_policy: ``pi_f (H, S, A, B)``, ``"uniform"``, ``"stackelberg"``, or a follower
            object with ``act(h, x, a)``.
        game_params: the registered game's parameters (only with a name).
        render_mode: ``"ansi"`` or ``None``.
    """

    def __init__(
        self,
        game: FiniteGame | str,
        follower_policy: Any = "stackelberg",
        *,
        game_params: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(game, follower_policy, "leader", game_params, render_mode)


class FollowerEnv(_FixedOtherEnv):
    """The follower's single-agent problem against a fixed leader policy.

    See the module's docstring for the spaces and the info.

    Args:
        game: a :class:`~stackelberg_rl.games.FiniteGame`, or a registered game's name.
        leader_policy: ``pi_l (H, S, A)``, ``"uniform"``, ``"stackelberg"``, or a leader object
            with ``act(h, x)``.
        game_params: the registered game's parameters (only with a name).
        render_mode: ``"ansi"`` or ``None``.
    """

    def __init__(
        self,
        game: FiniteGame | str,
        leader_policy: Any = "stackelberg",
        *,
        game_params: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(game, leader_policy, "follower", game_params, render_mode)


def _register() -> None:
    """Register both environments with Gymnasium (once per process)."""
    for env_id, cls in ((LEADER_ENV_ID, LeaderEnv), (FOLLOWER_ENV_ID, FollowerEnv)):
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=f"{__name__}:{cls.__name__}")


_register()
