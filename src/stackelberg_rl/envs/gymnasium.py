"""Gymnasium environments: one player's problem, every other player's policy fixed (math.md §9).

:class:`PlayerEnv` is player ``m``'s problem (its optimal policy: ``m``'s best response,
:func:`~stackelberg_rl.planning.best_response`); :class:`LeaderEnv` and :class:`FollowerEnv` are
the best responses of eqs. (8) and (7). Spaces and policies: :class:`PlayerEnv`'s docstring
(the README's "Environments" table shows two players only).
Importing this module registers ``stackelberg_rl/PlayerEnv-v0``, ``…/LeaderEnv-v0`` and
``…/FollowerEnv-v0``.

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
    >>> game = games.make("random-tabular", n_followers=2, n_states=3, seed=0)
    >>> env = gymnasium.make("stackelberg_rl/PlayerEnv-v0", game=game, player=2)
    >>> observation, info = env.reset(seed=0)  # [h, x, a_0, a_1]: the leader and follower 1 acted
    >>> len(observation), env.action_space
    (4, Discrete(3))
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validate import index
from ..games import FiniteGame, draw
from ..planning import check_policies, policy_shapes, stackelberg_equilibrium
from ._common import RENDER_MODES, Episode, check_action, check_options, missing, resolve_game

try:
    import gymnasium
    from gymnasium.spaces import Discrete, MultiDiscrete
except ImportError as err:  # pragma: no cover - exercised by hiding the package
    raise missing("gymnasium", __name__) from err

PLAYER_ENV_ID = "stackelberg_rl/PlayerEnv-v0"
LEADER_ENV_ID = "stackelberg_rl/LeaderEnv-v0"
FOLLOWER_ENV_ID = "stackelberg_rl/FollowerEnv-v0"
NAMED_POLICIES = ("uniform", "stackelberg")


class PlayerEnv(Episode, gymnasium.Env):
    """Player ``m = player``'s problem, every other player's play fixed.

    Observation ``[h, x, a_0, …, a_{m-1}]`` in ``MultiDiscrete([H + 1, S, A_0 + 1, …, A_{m-1} +
    1])`` (the actions played before ``m`` at step ``h``; ``a_i = A_i`` in the final one), action
    ``Discrete(A_m)``, reward ``r_{m,h}``, infos ``{name}_action`` and ``{name}_reward`` of every
    other player; episodes terminate after ``H`` steps.

    Args:
        game: a :class:`~stackelberg_rl.games.FiniteGame`, or a registered game's name.
        player: ``0`` the leader, ``1 … N`` the followers.
        policies: ``"uniform"``, ``"stackelberg"`` (for all), or one entry per player
            (``player``'s ignored): a table ``pi_i (H, S, A_0, …, A_i)`` (drawn from with the
            environment's stream), one of those names (``"stackelberg"``: that player's part of
            :func:`~stackelberg_rl.planning.stackelberg_equilibrium`), or an object with
            ``act(h, x, *earlier)`` (and ``begin_episode(k)``, called at every reset).
        game_params: the registered game's parameters (only with a name).
        render_mode: ``"ansi"``, ``"human"`` or ``None``.
    """

    # Text needs no frame rate; one is declared because Gymnasium's checker asks for it.
    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(
        self,
        game: FiniteGame | str,
        player: int,
        policies: str | Sequence[Any] = "stackelberg",
        *,
        game_params: Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(game, game_params=game_params, render_mode=render_mode)
        n = self.game.n_players
        self.me = index(player, n, "player")
        self._episode = -1
        self._tables, self._objects = self._fixed(policies)
        # the player also sees the actions of those before it at this step (A_i when none)
        self.observation_space = MultiDiscrete(self._nvec(self.me))
        self.action_space = Discrete(self.game.action_counts[self.me])

    def _fixed(self, policies: str | Sequence[Any]) -> tuple[list, list]:
        # each other player's table or object (None where it has the other, and for us)
        n = self.game.n_players
        if isinstance(policies, str):
            policies = [policies] * n
        elif not isinstance(policies, list | tuple):
            raise ValueError(
                f"policies must be 'uniform', 'stackelberg' or a list of one policy per player "
                f"({n} in this game), got {type(policies).__name__}"
            )
        elif len(policies) != n:
            raise ValueError(
                f"policies must hold one policy per player ({n} in this game, "
                f"{self.players[self.me]}'s ignored), got {len(policies)}"
            )
        tables, objects, solution = [None] * n, [None] * n, None
        for i, policy in enumerate(policies):
            if i == self.me:
                continue
            if hasattr(policy, "act"):
                objects[i] = policy
            elif isinstance(policy, list | tuple) or (
                not isinstance(policy, str) and np.ndim(policy)
            ):
                tables[i] = policy
            elif policy == "uniform":
                shape = policy_shapes(self.game)[i]
                tables[i] = np.full(shape, 1.0 / shape[-1])
            elif policy == "stackelberg":
                solution = solution or stackelberg_equilibrium(self.game)
                tables[i] = solution[i]
            else:  # a name we do not know, a number, a function
                given = repr(policy) if isinstance(policy, str) else type(policy).__name__
                raise ValueError(
                    f"the {self.players[i]}'s policy must be a table, "
                    f"{', '.join(map(repr, NAMED_POLICIES))}, or an object with "
                    f"act(h, x, *earlier), got {given}"
                )
        return check_policies(self.game, *tables), objects

    def _others_move(self, until: int) -> None:
        """The fixed players act in order up to ``until`` (excluded), unless the episode is over."""
        while (i := len(self._actions)) < until and self._h < self.game.horizon:
            at = (self._h, self._x, *self._actions)
            if self._tables[i] is not None:  # drawn from our stream
                action = draw(self._tables[i][at], self.np_random)
            else:
                action = check_action(
                    self.players[i], self._objects[i].act(*at), self.game.action_counts[i]
                )
            self._actions.append(action)

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        """Start an episode at ``x_0``, the fixed players before this one having acted.

        A ``seed`` starts a new stream (Gymnasium's), ``None`` goes on with it; each fixed player
        object's ``begin_episode(k)`` is called, if it has one.
        """
        super().reset(seed=seed)
        self._episode += 1
        for player in self._objects:
            if hasattr(player, "begin_episode"):
                player.begin_episode(self._episode)
        self._begin(self.np_random)
        self._others_move(self.me)
        return self._observe(self.me), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        """Play this player's action, the fixed players after it theirs; the game steps.

        The info holds every other player's ``{name}_action`` and ``{name}_reward``.
        """
        self._check_playing()
        action = check_action(self.players[self.me], action, self.game.action_counts[self.me])
        self._actions.append(action)
        self._others_move(self.game.n_players)
        played = list(self._actions)
        r = self._play(played, self.np_random)
        self._others_move(self.me)
        info = {}
        for i, name in enumerate(self.players):
            if i != self.me:
                info[f"{name}_action"], info[f"{name}_reward"] = played[i], float(r[i])
        return self._observe(self.me), float(r[self.me]), self._h >= self.game.horizon, False, info


class LeaderEnv(PlayerEnv):
    """The leader's problem against a fixed ``follower_policy`` (as :class:`PlayerEnv`).

    ``game`` is a :class:`~stackelberg_rl.games.FiniteGame` or a registered game's name (with
    its ``game_params``); ``render_mode`` is ``"ansi"``, ``"human"`` or ``None``. With ``N > 1``
    followers ``follower_policy`` is a name for all of them (else use :class:`PlayerEnv`).
    """

    def __init__(self, game: FiniteGame | str, follower_policy: Any = "stackelberg", **options):
        super().__init__(*_two_players(game, options, follower_policy, 0), **options)


class FollowerEnv(PlayerEnv):
    """The (first) follower's problem against a fixed ``leader_policy`` (as :class:`LeaderEnv`)."""

    def __init__(self, game: FiniteGame | str, leader_policy: Any = "stackelberg", **options):
        super().__init__(*_two_players(game, options, leader_policy, 1), **options)


def _two_players(game: FiniteGame | str, options: dict, policy: Any, me: int) -> tuple:
    """``(game, me, policies)``: the game built once, the other player's ``policy`` placed."""
    accepted = ("game", f"{('follower', 'leader')[me]}_policy", "game_params", "render_mode")
    check_options(options, (LEADER_ENV_ID, FOLLOWER_ENV_ID)[me], accepted)
    game = resolve_game(game, options.pop("game_params", None))
    if isinstance(policy, str):
        return game, me, policy
    if game.n_players > 2:
        raise ValueError(
            f"{('follower', 'leader')[me]}_policy as one policy is for a game of two players, "
            f"this one has {game.n_players}: give a name for all ('uniform', 'stackelberg'), or "
            f"use {PLAYER_ENV_ID} with policies=[...] (one per player)"
        )
    return game, me, [policy, None] if me else [None, policy]


for _id, _cls in (
    (PLAYER_ENV_ID, PlayerEnv),
    (LEADER_ENV_ID, LeaderEnv),
    (FOLLOWER_ENV_ID, FollowerEnv),
):
    if _id not in gymnasium.registry:  # once per process
        gymnasium.register(id=_id, entry_point=f"{__name__}:{_cls.__name__}")
