"""Gymnasium environments: one player's problem with the other player's policy fixed.

- :class:`LeaderEnv` ``(game, follower_policy)``: observation ``[h, x]`` in
  ``MultiDiscrete([H + 1, S])``, action ``a`` in ``Discrete(A)``, reward ``r_{l,h}``, info
  ``follower_action`` and ``follower_reward``. Its optimal policy is the leader's best response to
  ``π_f``, eq. (8), its expected return ``V_{l,0}(x_0)`` (math.md §2).
- :class:`FollowerEnv` ``(game, leader_policy)``: observation ``[h, x, a]`` in
  ``MultiDiscrete([H + 1, S, A + 1])`` (``a = A`` in the final observation), action ``b`` in
  ``Discrete(B)``, reward ``r_{f,h}``, info ``leader_action`` and ``leader_reward``. Its optimal
  policy is the follower's best response to ``π_l``, eq. (7).

The fixed policy is a table (``pi_f (H, S, A, B)`` or ``pi_l (H, S, A)``, drawn from with the
environment's stream, so ``reset(seed=s)`` fixes whole episodes), ``"uniform"``, ``"stackelberg"``
(that player's part of :func:`~stackelberg_rl.planning.stackelberg_equilibrium`), or a player
object with the agents' ``act`` (and ``begin_episode(k)``, called at every reset). Episodes
terminate after ``H`` steps. Importing this module registers ``stackelberg_rl/LeaderEnv-v0`` and
``stackelberg_rl/FollowerEnv-v0`` with Gymnasium.

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
from ..planning import check_policies, policy_shapes, stackelberg_equilibrium
from ._common import Episode, check_action, missing

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


class _FixedOtherEnv(Episode, gymnasium.Env):
    """Player ``me``'s problem, the other's play fixed: the episode, spaces, seeding, rendering."""

    # Text needs no frame rate; one is declared because Gymnasium's checker asks for it.
    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        game: FiniteGame | str,
        policy: Any,
        me: int,
        *,
        game_params: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(game, game_params=game_params, render_mode=render_mode)
        self.me, other, role = me, 1 - me, ROLES[1 - me]
        self._episode = -1
        self._player, self._table = None, None
        if isinstance(policy, str):
            if policy not in NAMED_POLICIES:
                raise ValueError(
                    f"the {role}'s policy must be a table, a player or one of "
                    f"{', '.join(NAMED_POLICIES)}, got {policy!r}"
                )
            if policy == "uniform":
                n = self.game.action_counts[other]
                self._table = np.full(policy_shapes(self.game)[other], 1.0 / n)
            else:
                self._table = stackelberg_equilibrium(self.game)[other]
        elif hasattr(policy, "act"):
            self._player = policy
        else:
            policies = [None, None]
            policies[other] = policy
            self._table = check_policies(self.game, *policies)[other]
        H, S, A = self.game.horizon, self.game.n_states, self.game.n_leader_actions
        # the follower also sees the leader's action at this step (A when there is none)
        self.observation_space = MultiDiscrete([H + 1, S] + [A + 1] * me)
        self.action_space = Discrete(self.game.action_counts[me])

    def _observation(self) -> np.ndarray:
        a = self.game.n_leader_actions if self._a is None else self._a
        return np.array([self._h, self._x, a][: 2 + self.me], dtype=np.int64)

    def _other_acts(self, *a: int) -> int:
        """The fixed player's action at ``(h, x)`` or ``(h, x, a)`` (a table's, from our stream)."""
        at = (self._h, self._x, *a)
        if self._table is not None:
            return draw(self._table[at], self.np_random)
        other = 1 - self.me
        return check_action(ROLES[other], self._player.act(*at), self.game.action_counts[other])

    def _leader_moves(self) -> None:
        """A fixed leader acts at ``(h, x)`` unless the episode is over."""
        if self.me == 1 and self._h < self.game.horizon:
            self._a = self._other_acts()

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        """Start an episode at ``x_0`` (with a fixed leader's first action drawn).

        A ``seed`` starts a new stream (Gymnasium's ``SeedSequence``-based one), ``None`` goes
        on with it. A fixed player object's ``begin_episode(k)`` is called, if it has one.
        """
        super().reset(seed=seed)
        self._episode += 1
        if hasattr(self._player, "begin_episode"):
            self._player.begin_episode(self._episode)
        self._begin(self.np_random)
        self._leader_moves()
        return self._observation(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Play this player's action against the fixed one's; the game steps.

        The info holds the other player's action and reward (``follower_action``,
        ``follower_reward`` or ``leader_action``, ``leader_reward``).
        """
        action = check_action(ROLES[self.me], action, self.game.action_counts[self.me])
        if self._h >= self.game.horizon:
            raise RuntimeError("the episode is over: call reset()")
        a, b = (action, self._other_acts(action)) if self.me == 0 else (self._a, action)
        r = self._play(a, b, self.np_random)
        self._leader_moves()
        other = ROLES[1 - self.me]
        info = {f"{other}_action": (a, b)[1 - self.me], f"{other}_reward": float(r[1 - self.me])}
        return self._observation(), float(r[self.me]), self._h >= self.game.horizon, False, info


class LeaderEnv(_FixedOtherEnv):
    """The leader's problem against a fixed ``follower_policy`` (see the module's docstring).

    ``game`` is a :class:`~stackelberg_rl.games.FiniteGame` or a registered game's name (with
    its ``game_params``); ``render_mode`` is ``"ansi"`` or ``None``.
    """

    def __init__(self, game: FiniteGame | str, follower_policy: Any = "stackelberg", **options):
        super().__init__(game, follower_policy, 0, **options)


class FollowerEnv(_FixedOtherEnv):
    """The follower's problem against a fixed ``leader_policy`` (as :class:`LeaderEnv`)."""

    def __init__(self, game: FiniteGame | str, leader_policy: Any = "stackelberg", **options):
        super().__init__(game, leader_policy, 1, **options)


for _id, _cls in ((LEADER_ENV_ID, LeaderEnv), (FOLLOWER_ENV_ID, FollowerEnv)):
    if _id not in gymnasium.registry:  # once per process
        gymnasium.register(id=_id, entry_point=f"{__name__}:{_cls.__name__}")
