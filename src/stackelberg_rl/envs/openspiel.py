"""The game as a Python OpenSpiel game: sequential, general-sum, rewards at every step.

:func:`make` turns a :class:`~stackelberg_rl.games.FiniteGame` into a ``pyspiel.Game``
(``python_stackelberg_rl``, so ``pyspiel.load_game("python_stackelberg_rl(game=security,
params=horizon:3;seed:1)")`` builds registered games). A chance node draws ``x_0``, players ``0
… N`` move in order, the last move pays every player its mean reward ``r_{m,h}`` (noise is not
modelled), a chance node draws ``x_{h+1}``. ``game`` is a registered name (its ``params``
``key:value;…``, values percent-encoded), ``file:PATH`` (:func:`stackelberg_rl.games.save`) or
``sha256:FINGERPRINT`` (a game given to :func:`make` in this process).

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

from .._validate import index, is_integer
from ..games import FiniteGame, info, load
from ..games import make as make_game
from ..games.base import player_names
from ..planning import check_policies
from ._common import action_symbols, finite, missing, resolve_game

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
    max_num_players=64,  # a bound far beyond any game whose ∏|A_i| can be held
    min_num_players=2,
    provides_information_state_string=True,
    provides_information_state_tensor=True,
    provides_observation_string=True,
    provides_observation_tensor=True,
    parameter_specification=DEFAULT_PARAMETERS,
)

LEADER, FOLLOWER = 0, 1
"""OpenSpiel player ids of the leader and the (first) follower; follower ``i`` is player ``i``."""

_MADE: dict[str, FiniteGame] = {}  # games given to make() without a name, by fingerprint


def _value_text(value: Any) -> str:
    """A parameter value as the registry parses it back (floats exactly, by ``repr``)."""
    if value is None or isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple | list):
        if value and isinstance(value[0], tuple | list):
            return ";".join(map(_value_text, value))
        return ",".join(repr(float(v)) for v in value)
    return repr(value) if isinstance(value, float) else str(value)


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
    return finite(make_game(name, **decode_params(params)), name)


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
        self.finite_game = finite_game
        H = finite_game.horizon
        game_info = pyspiel.GameInfo(
            num_distinct_actions=max(finite_game.action_counts),
            max_chance_outcomes=finite_game.n_states,
            num_players=finite_game.n_players,
            min_utility=-float(H),  # rewards lie in [-1, 1] at each of the H steps
            max_utility=float(H),
            utility_sum=None,
            max_game_length=finite_game.n_players * H,  # decisions only, not chance nodes
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
    """A position in one episode: ``h``, ``x`` (``None`` before ``x_0``), ``actions`` so far."""

    def __init__(self, game: LeaderFollowerGame) -> None:
        super().__init__(game)
        self.h, self.x, self.actions = 0, None, []
        self._played: list[tuple[int, ...]] = []  # (x_h, a_0, …, a_N) of the steps played
        self._rewards = [0.0] * game.finite_game.n_players
        self._returns = list(self._rewards)

    def _model(self) -> FiniteGame:
        return self.get_game().finite_game

    def steps(self) -> list[tuple[int | None, ...]]:
        """Each step played ``(x_t, a_0, …, a_N)``, then the current one (``None``: to come).

        ``history()`` is OpenSpiel's own: every action applied, chance outcomes included, as
        ``history_str()`` spells it (what OpenSpiel's tools replay).
        """
        pending = self._model().n_players - len(self.actions)
        in_step = self.x is not None and pending > 0 and not self.is_terminal()
        return self._played + [(self.x, *self.actions, *(None,) * pending)] * in_step

    def current_player(self) -> int:
        """Chance (``x_0`` and transitions), the player to move at step ``h``, or terminal."""
        model = self._model()
        if self.h >= model.horizon:
            return pyspiel.PlayerId.TERMINAL
        if self.x is None or len(self.actions) == model.n_players:
            return pyspiel.PlayerId.CHANCE
        return len(self.actions)

    def _legal_actions(self, player: int) -> list[int]:
        mine = player == self.current_player()
        return list(range(self._model().action_counts[player])) if mine else []

    def _chance(self) -> np.ndarray:
        """``x_0``'s distribution, or ``P_h(·|x, a_0, …, a_N)``: ``(S,)``."""
        model = self._model()
        if self.x is None:
            return model.initial_distribution
        return model.next_state_distribution(self.h, self.x, self.actions)

    def chance_outcomes(self) -> list[tuple[int, float]]:
        """``(x, p)`` for every ``p > 0`` of the chance node's distribution."""
        p = self._chance()
        return [(int(x), float(p[x])) for x in np.flatnonzero(p > 0.0)]

    def _apply_action(self, action: int) -> None:
        # rewards() reports what the last player's move paid, until the next player moves:
        # OpenSpiel reads rewards at decision nodes, after any chance node in between.
        model = self._model()
        player = self.current_player()
        if player == pyspiel.PlayerId.TERMINAL:
            raise ValueError(f"the episode is over: no action can be applied, got {action!r}")
        if player == pyspiel.PlayerId.CHANCE:
            p = self._chance()
            if not (is_integer(action) and 0 <= action < len(p) and p[action] > 0.0):
                raise ValueError(
                    f"chance outcome {action!r} is not a state of positive probability here "
                    f"(those are {np.flatnonzero(p > 0.0).tolist()})"
                )
        else:
            index(action, model.action_counts[player], f"a_{player}")
        if self.x is None:
            self.x = int(action)
        elif len(self.actions) == model.n_players:  # the transition after the joint action
            self.h, self.x, self.actions = self.h + 1, int(action), []
        else:
            self.actions.append(int(action))
            if len(self.actions) < model.n_players:
                self._rewards = [0.0] * model.n_players
                return
            self._rewards = [float(r) for r in model.reward_at(self.h, self.x, self.actions)]
            self._returns = [t + r for t, r in zip(self._returns, self._rewards, strict=True)]
            self._played.append((self.x, *self.actions))
            if self.h == model.horizon - 1:
                self.h += 1  # no transition after the last step

    def _action_to_string(self, player: int, action: int) -> str:
        chance = player == pyspiel.PlayerId.CHANCE
        return f"{'x' if chance else action_symbols(self._model().n_players)[player]}={action}"

    def is_terminal(self) -> bool:
        """Whether all ``H`` steps have been played."""
        return self.h >= self._model().horizon

    def rewards(self) -> list[float]:
        """Every player's rewards from the last player's move (non-zero after the last one's)."""
        return list(self._rewards)

    def returns(self) -> list[float]:
        """Every player's rewards summed so far."""
        return list(self._returns)

    def __str__(self) -> str:
        """The episode so far: ``"x0=2 a0=1 b0=0 x1=3 a1=2"`` (``c``, ``d``, … for more)."""
        names = ("x", *action_symbols(self._model().n_players))
        text = " ".join(
            f"{name}{h}={value}"
            for h, step in enumerate(self.steps())
            for name, value in zip(names, step, strict=True)
            if value is not None
        )
        return text or "x0=?"


class Observer:
    """OpenSpiel's Python observer: one-hot tensors and strings of a position.

    Observations are ``step (H+1)``, ``state (S)`` and the actions of the step of every player
    but the last, ``{name}_action (A_i)``: ``leader_action (A)`` for one follower. Information
    states are ``states (H, S)`` and every player's ``{name}_actions (H, A_i)``:
    ``leader_actions (H, A)``, ``follower_actions (H, B)`` for one follower. The names are
    ``leader, follower`` or ``leader, follower_1, …, follower_N``.

    Args:
        game: the finite game.
        iig_obs_type: ``perfect_recall=True`` for information states, else observations.
        params: none are accepted.
    """

    def __init__(self, game: FiniteGame, iig_obs_type: Any, params: Any) -> None:
        if params:
            raise ValueError(f"observation parameters are not supported, got {params}")
        H, S, counts = game.horizon, game.n_states, game.action_counts
        names = player_names(game.n_players)
        self.symbols = action_symbols(game.n_players)
        self.perfect_recall = bool(iig_obs_type.perfect_recall)
        if self.perfect_recall:
            pieces = [("states", (H, S))]
            pieces += [(f"{m}_actions", (H, n)) for m, n in zip(names, counts, strict=True)]
        else:
            pieces = [("step", (H + 1,)), ("state", (S,))]
            pieces += [(f"{m}_action", (n,)) for m, n in zip(names, counts[:-1], strict=False)]
        sizes = [int(np.prod(shape)) for _, shape in pieces]
        self.tensor = np.zeros(sum(sizes), np.float32)
        views = np.split(self.tensor, np.cumsum(sizes)[:-1])  # views into the one tensor
        self.dict = {name: v.reshape(shape) for (name, shape), v in zip(pieces, views, strict=True)}

    def set_from(self, state: LeaderFollowerState, player: int) -> None:
        """Fill :attr:`tensor` from ``state`` (the same for every player: all is public)."""
        self.tensor.fill(0.0)
        pieces = list(self.dict)
        if self.perfect_recall:
            steps = state.steps()
        else:
            steps = [(state.h, state.x, *state.actions[: len(pieces) - 2])]
        for h, step in enumerate(steps):
            for name, i in zip(pieces, step, strict=False):
                if i is not None:
                    self.dict[name][(h, i) if self.perfect_recall else i] = 1.0

    def string_from(self, state: LeaderFollowerState, player: int) -> str:
        """The history (information states) or ``"h=1 x=3 a=2"`` (observations)."""
        if self.perfect_recall:
            return str(state)
        names = ("h", "x", *self.symbols[: len(self.dict) - 2])
        now = (state.h, state.x, *state.actions[: len(self.dict) - 2])
        return " ".join(
            f"{name}={value}" for name, value in zip(names, now, strict=False) if value is not None
        )


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
    """Policy tables as an OpenSpiel policy: player ``i``'s table at its nodes.

    Args:
        game: a game from :func:`make`.
        *policies: one table per player in order of moves, ``pi_l (H, S, A)`` and ``pi_f (H, S,
            A, B)``, or with ``N`` followers ``pi_i (H, S, A_0, …, A_i)``.
    """

    def __init__(self, game: LeaderFollowerGame, *policies: np.ndarray) -> None:
        super().__init__(game, list(range(game.finite_game.n_players)))
        self.policies = check_policies(game.finite_game, *policies)
        """Each player's table, checked, as float64."""

    def action_probabilities(
        self, state: LeaderFollowerState, player_id: int | None = None
    ) -> dict[int, float]:
        """``{action: probability}`` at a player's node."""
        player = state.current_player() if player_id is None else player_id
        if not 0 <= player < len(self.policies):
            raise ValueError(
                f"no policy for player {player} (only the players 0 … {len(self.policies) - 1})"
            )
        row = self.policies[player][(state.h, state.x, *state.actions[:player])]
        return {action: float(p) for action, p in enumerate(row)}


pyspiel.register_game(GAME_TYPE, LeaderFollowerGame)
