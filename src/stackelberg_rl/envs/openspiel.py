"""The game as a Python OpenSpiel game: sequential, general-sum, rewards at every step.

:func:`make` turns any :class:`~stackelberg_rl.games.FiniteGame` into a ``pyspiel.Game``; the game
type is registered as ``python_stackelberg_rl``, so ``pyspiel.load_game`` builds registered games
by name: ``pyspiel.load_game("python_stackelberg_rl(game=security,params=horizon:3;seed:1)")``.

An episode (math.md §1): a chance node draws ``x_0`` (outcome ``x``); at every step a leader
node (player 0) picks ``a``, then a follower node (player 1), which has seen ``a``, picks ``b``,
which pays both players their mean rewards ``r_{m,h}(x, a, b)`` (``rewards()`` until the next
player's move; realised noise is not modelled); a chance node draws ``x_{h+1} ~ P_h(·|x, a, b)``.
Everything is public: observations hold ``h``, ``x`` and ``a`` once chosen, information states
the whole history (:class:`Observer`); :class:`TablePolicy` plays policy tables.

Game parameters: ``game``, a registered game's name (its parameters in ``params`` as
``key:value`` pairs separated by ``;``, values percent-encoded, so that a matrix ``2,4;1,3``
survives OpenSpiel's game strings), ``file:PATH`` for a game saved with
:func:`stackelberg_rl.games.save`, or ``sha256:FINGERPRINT`` for a game :func:`make` was given
earlier in this process.

Example:
    >>> from stackelberg_rl.envs.openspiel import make
    >>> game = make("matrix", preset="commitment")
    >>> str(game)
    'python_stackelberg_rl(game=matrix,params=preset:commitment)'
    >>> state = game.new_initial_state()
    >>> for action in (0, 1, 1):  # the chance node's one state, a = 1, b = 1
    ...     state.apply_action(action)
    >>> [round(4 * r, 6) for r in state.returns()], state.is_terminal()  # payoff scale 4
    ([3.0, 1.0], True)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from ..games import FiniteGame, info, load
from ..games import make as make_game
from ..planning import check_policies
from ._common import missing, resolve_game

try:
    import pyspiel
    from open_spiel.python import policy as spiel_policy
except ImportError as err:  # pragma: no cover - exercised by hiding the package
    raise missing("open_spiel", __name__) from err

SHORT_NAME = "python_stackelberg_rl"
DEFAULT_PARAMETERS = {"game": "matrix", "params": ""}
"""OpenSpiel parameters: the game's registered name (or ``file:`` / ``sha256:``) and its own."""

GAME_TYPE = pyspiel.GameType(
    short_name=SHORT_NAME,
    long_name="stackelberg-rl leader-follower Markov game",
    dynamics=pyspiel.GameType.Dynamics.SEQUENTIAL,
    chance_mode=pyspiel.GameType.ChanceMode.EXPLICIT_STOCHASTIC,
    information=pyspiel.GameType.Information.PERFECT_INFORMATION,
    utility=pyspiel.GameType.Utility.GENERAL_SUM,
    reward_model=pyspiel.GameType.RewardModel.REWARDS,
    max_num_players=2,
    min_num_players=2,
    provides_information_state_string=True,
    provides_information_state_tensor=True,
    provides_observation_string=True,
    provides_observation_tensor=True,
    parameter_specification=DEFAULT_PARAMETERS,
)

LEADER, FOLLOWER = 0, 1
"""OpenSpiel player ids."""

_MADE: dict[str, FiniteGame] = {}
"""Games given to :func:`make` without a registered name, by fingerprint (for ``load_game``)."""


def _value_text(value: Any) -> str:
    """A parameter value as the registry parses it back (floats exactly, by ``repr``)."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        if value and isinstance(value[0], tuple | list):
            return ";".join(_value_text(row) for row in value)
        return ",".join(repr(float(v)) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def encode_params(params: Mapping[str, Any]) -> str:
    """``{"horizon": 3, "seed": 1}`` as ``"horizon:3;seed:1"``, values percent-encoded."""
    return ";".join(f"{key}:{quote(_value_text(value), safe='')}" for key, value in params.items())


def decode_params(text: str) -> dict[str, str]:
    """The inverse of :func:`encode_params`, values as strings (the registry converts them)."""
    params = {}
    for pair in filter(None, text.split(";")):
        key, sep, value = pair.partition(":")
        if not sep or not key:
            raise ValueError(
                f"game parameters must be key:value pairs separated by ';', got {text!r}"
            )
        params[key] = unquote(value)
    return params


def _game_from_parameters(name: str, params: str) -> FiniteGame:
    if params and name.startswith(("sha256:", "file:")):
        raise ValueError(f"params apply to registered games only, not to game={name}")
    if name.startswith("sha256:"):
        try:
            return _MADE[name.removeprefix("sha256:")]
        except KeyError:
            raise ValueError(
                f"no game with fingerprint {name} was given to make() in this process; only "
                "registered games (game=NAME) and files (game=file:PATH) load anywhere"
            ) from None
    if name.startswith("file:"):
        return load(name.removeprefix("file:"))
    return make_game(name, **decode_params(params))


def _parameters_of(game: FiniteGame) -> dict[str, str]:
    """``game``'s registered name and changed parameters, else its fingerprint (this process)."""
    if game.provenance is not None:
        name = game.provenance["name"]
        defaults = {field.name: field.default for field in info(name).fields()}
        changed = {
            key: value for key, value in game.provenance["params"].items() if defaults[key] != value
        }
        return {"game": name, "params": encode_params(changed)} if changed else {"game": name}
    fingerprint = game.fingerprint()
    _MADE[fingerprint] = game
    return {"game": f"sha256:{fingerprint}"}


class LeaderFollowerGame(pyspiel.Game):
    """A finite leader-follower Markov game as a Python OpenSpiel game.

    Args:
        params: the OpenSpiel parameters ``game`` and ``params`` (see the module's docstring).
        finite_game: the game itself, when it is at hand (then ``params`` only name it).
    """

    def __init__(
        self, params: Mapping[str, Any] | None = None, finite_game: FiniteGame | None = None
    ) -> None:
        # An empty value is left out of the game's string: OpenSpiel 1.5 cannot parse one back.
        params = {key: value for key, value in dict(params or {}).items() if value != ""}
        unknown = sorted(set(params) - set(DEFAULT_PARAMETERS))
        if unknown:
            raise ValueError(f"unknown parameters {unknown}; the parameters are game and params")
        if finite_game is None:
            given = {**DEFAULT_PARAMETERS, **params}
            finite_game = _game_from_parameters(str(given["game"]), str(given["params"]))
        finite_game.refuse_followers("the OpenSpiel game")
        self.finite_game = finite_game
        H = finite_game.horizon
        game_info = pyspiel.GameInfo(
            num_distinct_actions=max(finite_game.action_counts),
            max_chance_outcomes=finite_game.n_states,
            num_players=finite_game.n_players,
            min_utility=-float(H),  # rewards lie in [-1, 1] at each of the H steps
            max_utility=float(H),
            utility_sum=None,
            max_game_length=2 * H,  # decisions only: chance nodes are not counted
        )
        super().__init__(GAME_TYPE, game_info, params)

    def new_initial_state(self) -> LeaderFollowerState:
        """The chance node that draws ``x_0``."""
        return LeaderFollowerState(self)

    def make_py_observer(
        self, iig_obs_type: Any = None, params: Mapping[str, Any] | None = None
    ) -> Observer:
        """Observations (``perfect_recall=False``) or information states (``True``)."""
        return Observer(
            self.finite_game,
            iig_obs_type or pyspiel.IIGObservationType(perfect_recall=False),
            params,
        )


class LeaderFollowerState(pyspiel.State):
    """A position in one episode: step ``h``, state ``x``, the leader's action ``a`` if chosen."""

    def __init__(self, game: LeaderFollowerGame) -> None:
        super().__init__(game)
        self.h = 0
        """The step ``h`` (``H`` once the episode is over)."""
        self.x: int | None = None
        """The state ``x_h`` (``None`` until the first chance node has drawn ``x_0``)."""
        self.a: int | None = None
        """The leader's action at step ``h``, once chosen."""
        self._b: int | None = None  # set between the follower's move and the transition
        self._played: list[tuple[int, int, int]] = []  # (x_h, a_h, b_h) of the steps played
        self._rewards = [0.0] * game.finite_game.n_players
        self._returns = list(self._rewards)

    def _model(self) -> FiniteGame:
        return self.get_game().finite_game

    @property
    def played(self) -> list[tuple[int, int, int]]:
        """``(x_t, a_t, b_t)`` of every step completed, in order."""
        return list(self._played)

    def in_step(self) -> bool:
        """Whether a player is to move at step ``h`` (not a chance node, not the end)."""
        return self.x is not None and self._b is None and not self.is_terminal()

    def history(self) -> list[tuple[int | None, ...]]:
        """:attr:`played`, then ``(x_h, a_h or None, None)`` while a player is to move."""
        return self.played + [(self.x, self.a, None)] * self.in_step()

    def current_player(self) -> int:
        """Chance (``x_0`` and transitions), the leader, the follower, or terminal."""
        if self.h >= self._model().horizon:
            return pyspiel.PlayerId.TERMINAL
        if self.x is None or self._b is not None:
            return pyspiel.PlayerId.CHANCE
        return LEADER if self.a is None else FOLLOWER

    def _legal_actions(self, player: int) -> list[int]:
        if player != self.current_player():
            return []
        return list(range(self._model().action_counts[player]))

    def chance_outcomes(self) -> list[tuple[int, float]]:
        """``x_0``'s distribution, or ``P_h(·|x, a, b)``: ``(x, p)`` for every ``p > 0``."""
        model = self._model()
        if self.x is None:
            p = model.initial_distribution
        else:
            p = model.next_state_distribution(self.h, self.x, self.a, self._b)
        return [(int(x), float(p[x])) for x in np.flatnonzero(p > 0.0)]

    def _apply_action(self, action: int) -> None:
        # rewards() reports what the last player's move paid, until the next player moves:
        # OpenSpiel reads rewards at decision nodes, after any chance node in between.
        model = self._model()
        if self.x is None:
            self.x = int(action)
        elif self._b is not None:  # the transition after (x, a, b)
            self.h, self.x, self.a, self._b = self.h + 1, int(action), None, None
        elif self.a is None:
            self.a = int(action)
            self._rewards = [0.0] * model.n_players
        else:
            b = int(action)
            self._rewards = [float(r) for r in model.reward_at(self.h, self.x, self.a, b)]
            self._returns = [t + r for t, r in zip(self._returns, self._rewards, strict=True)]
            self._played.append((self.x, self.a, b))
            if self.h == model.horizon - 1:
                self.h += 1  # no transition after the last step
            else:
                self._b = b

    def _action_to_string(self, player: int, action: int) -> str:
        if player == pyspiel.PlayerId.CHANCE:
            return f"x={action}"
        return f"a={action}" if player == LEADER else f"b={action}"

    def is_terminal(self) -> bool:
        """Whether all ``H`` steps have been played."""
        return self.h >= self._model().horizon

    def rewards(self) -> list[float]:
        """Both players' rewards from the last player's move (non-zero after the follower's)."""
        return list(self._rewards)

    def returns(self) -> list[float]:
        """Both players' rewards summed so far."""
        return list(self._returns)

    def history_text(self) -> str:
        """The episode so far: ``"x0=2 a0=1 b0=0 x1=3 a1=2"``."""
        return " ".join(
            f"{name}{h}={value}"
            for h, step in enumerate(self.history())
            for name, value in zip("xab", step, strict=True)
            if value is not None
        )

    def __str__(self) -> str:
        return self.history_text() or "x0=?"


class Observer:
    """OpenSpiel's Python observer: one-hot tensors and strings of a position.

    Observations are ``step (H+1)``, ``state (S)``, ``leader_action (A)``; information states
    ``states (H, S)``, ``leader_actions (H, A)``, ``follower_actions (H, B)``.

    Args:
        game: the finite game.
        iig_obs_type: ``perfect_recall=True`` for information states, else observations.
        params: none are accepted.
    """

    def __init__(self, game: FiniteGame, iig_obs_type: Any, params: Any) -> None:
        if params:
            raise ValueError(f"observation parameters are not supported, got {params}")
        H, S, (A, B) = game.horizon, game.n_states, game.action_counts
        self.perfect_recall = bool(iig_obs_type.perfect_recall)
        if self.perfect_recall:
            pieces = [("states", (H, S)), ("leader_actions", (H, A)), ("follower_actions", (H, B))]
        else:
            pieces = [("step", (H + 1,)), ("state", (S,)), ("leader_action", (A,))]
        sizes = [int(np.prod(shape)) for _, shape in pieces]
        self.tensor = np.zeros(sum(sizes), np.float32)
        views = np.split(self.tensor, np.cumsum(sizes)[:-1])  # views into the one tensor
        self.dict = {name: v.reshape(shape) for (name, shape), v in zip(pieces, views, strict=True)}

    def set_from(self, state: LeaderFollowerState, player: int) -> None:
        """Fill :attr:`tensor` from ``state`` (the same for both players: all is public)."""
        self.tensor.fill(0.0)
        if self.perfect_recall:
            pieces, steps = ("states", "leader_actions", "follower_actions"), state.history()
        else:
            pieces, steps = ("step", "state", "leader_action"), [(state.h, state.x, state.a)]
        for h, step in enumerate(steps):
            for name, i in zip(pieces, step, strict=True):
                if i is not None:
                    self.dict[name][(h, i) if self.perfect_recall else i] = 1.0

    def string_from(self, state: LeaderFollowerState, player: int) -> str:
        """The history (information states) or ``"h=1 x=3 a=2"`` (observations)."""
        if self.perfect_recall:
            return str(state)
        now = zip("hxa", (state.h, state.x, state.a), strict=True)
        return " ".join(f"{name}={value}" for name, value in now if value is not None)


def make(game: FiniteGame | str, **game_params: Any) -> LeaderFollowerGame:
    """The game as an OpenSpiel game.

    Args:
        game: a :class:`~stackelberg_rl.games.FiniteGame`, or a registered game's name.
        **game_params: the registered game's parameters (only with a name).

    Returns:
        A ``pyspiel.Game`` whose string ``pyspiel.load_game`` turns back into the same game: by
        registered name and parameters when the game has them, else (in this process) by its
        fingerprint.
    """
    finite_game = resolve_game(game, game_params)
    return LeaderFollowerGame(_parameters_of(finite_game), finite_game=finite_game)


class TablePolicy(spiel_policy.Policy):
    """Policy tables as an OpenSpiel policy: ``pi_l`` at leader nodes, ``pi_f`` at the follower's.

    Args:
        game: a game from :func:`make`.
        pi_l: ``(H, S, A)`` the leader's policy.
        pi_f: ``(H, S, A, B)`` the follower's policy.
    """

    def __init__(self, game: LeaderFollowerGame, pi_l: np.ndarray, pi_f: np.ndarray) -> None:
        super().__init__(game, [LEADER, FOLLOWER])
        self.pi_l = np.asarray(pi_l, dtype=np.float64)
        self.pi_f = np.asarray(pi_f, dtype=np.float64)
        check_policies(game.finite_game, self.pi_l, self.pi_f)

    def action_probabilities(
        self, state: LeaderFollowerState, player_id: int | None = None
    ) -> dict[int, float]:
        """``{action: probability}`` at a leader or follower node."""
        player = state.current_player() if player_id is None else player_id
        if player == LEADER:
            row = self.pi_l[state.h, state.x]
        elif player == FOLLOWER:
            row = self.pi_f[state.h, state.x, state.a]
        else:
            raise ValueError(f"no policy for player {player} (only the leader 0 and follower 1)")
        return {action: float(p) for action, p in enumerate(row)}


pyspiel.register_game(GAME_TYPE, LeaderFollowerGame)
