"""What the environment modules share: the game, its players, a step of play, the text of one.

Nothing here imports an optional package, so each module raises its own :class:`ImportError`
(naming the extra) before anything else happens.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._validate import index, integer
from ..games import FiniteGame, make
from ..games.base import player_names


def missing(package: str, module: str) -> ImportError:
    """The error raised when ``module`` is imported without ``package`` installed."""
    return ImportError(
        f"{module} needs the {package!r} package, which is not installed; install the "
        'optional extra: pip install "stackelberg-rl[envs]"'
    )


def resolve_game(game: FiniteGame | str, game_params: Mapping[str, Any] | None) -> FiniteGame:
    """``game`` itself, or the registered game of that name made with ``game_params``."""
    if isinstance(game, FiniteGame):
        if game_params:
            raise ValueError("game_params can only be given with a registered game's name")
        return game
    if isinstance(game, str):
        return finite(make(game, **dict(game_params or {})), game)
    raise TypeError(f"game must be a FiniteGame or a registered game's name, got {game!r}")


def finite(game: Any, name: str) -> FiniteGame:
    """``game``, the registered game ``name``, if it is finite (the environments' states are)."""
    if not isinstance(game, FiniteGame):
        raise ValueError(f"game {name!r} has continuous states: the environments play finite games")
    return game


RENDER_MODES = ("ansi", "human")
"""The render modes: ``"ansi"`` returns :meth:`Episode.render`'s text, ``"human"`` prints it."""

EPISODE_OPTIONS = ("game_params", "max_cycles", "render_mode")
"""The keyword arguments of :class:`Episode` (and of :func:`.pettingzoo.env`)."""


def check_options(options: Mapping[str, Any], where: str, accepted: Sequence[str]) -> None:
    """A TypeError naming ``where`` (what the user called) and ``accepted`` for another option."""
    unknown = [name for name in options if name not in accepted]
    if unknown:
        raise TypeError(
            f"{where} got an unexpected keyword argument {unknown[0]!r}; it accepts "
            f"{', '.join(accepted)}"
        )


def action_symbols(n_players: int) -> tuple[str, ...]:
    """Each player's action in text: ``a, b, c, …`` (``x`` is the state), ``a23, …`` beyond."""
    return tuple(chr(ord("a") + i) if i < 23 else f"a{i}" for i in range(n_players))


def check_action(role: str, action: Any, n: int) -> int:
    """``action`` as an ``int`` in ``[0, n)``: any integer type, never a float or a bool."""
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        action = action.item()
    return index(action, n, f"the {role}'s action")


class Episode:
    """An episode played step by step, the players in order (math.md §9), and its text (``ansi``).

    The arguments are :func:`.pettingzoo.env`'s; ``max_cycles`` steps truncate the episode.
    """

    def __init__(
        self,
        game: FiniteGame | str,
        *,
        game_params: Mapping[str, Any] | None = None,
        max_cycles: int | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__()
        self.game = resolve_game(game, game_params)
        if render_mode not in (None, *RENDER_MODES):
            raise ValueError(f"render_mode must be 'ansi', 'human' or None, got {render_mode!r}")
        self.render_mode = render_mode
        H = self.game.horizon
        self.max_cycles = H if max_cycles is None else integer(max_cycles, "max_cycles", low=1)
        self.players = player_names(self.game.n_players)
        """The players' names in order of moves (the PettingZoo agents)."""
        self._h, self._x = 0, 0
        self._actions: list[int] = []  # the actions played so far at step h, in order
        self._last: tuple | None = None  # (h, x, actions, rewards, x') of the last step played
        self._truncated = False
        self._started = False  # set by the first reset

    def _begin(self, rng: np.random.Generator) -> None:
        self._h, self._x, self._actions = 0, self.game.sample_initial(rng), []
        self._last, self._truncated, self._started = None, False, True

    def _check_playing(self, call: str = "step()") -> None:
        """A RuntimeError unless an episode is under way: before any reset, or once it is over."""
        if not self._started:
            raise RuntimeError(f"reset() has not been called: call reset() before {call}")
        if self._h >= self.game.horizon or self._truncated:
            raise RuntimeError("the episode is over: call reset()")

    def _nvec(self, m: int) -> list[int]:
        """The sizes of :meth:`_observe` ``(m)``'s entries: ``[H + 1, S, A_0 + 1, …]``."""
        counts = self.game.action_counts[:m]
        return [self.game.horizon + 1, self.game.n_states, *(c + 1 for c in counts)]

    def _observe(self, m: int) -> np.ndarray:
        """``[h, x, a_0, …, a_{m-1}]`` (int64), ``a_i = A_i`` for a player yet to act."""
        seen = [*self._actions, *self.game.action_counts[len(self._actions) :]][:m]
        return np.array([self._h, self._x, *seen], dtype=np.int64)

    def _play(self, actions: Sequence[int], rng: np.random.Generator) -> np.ndarray:
        """Step the game with the joint action: every player's realised reward ``(1+N,)``."""
        r, x_next = self.game.step(self._h, self._x, tuple(actions), rng)
        self._last = (self._h, self._x, tuple(actions), tuple(map(float, r)), x_next)
        self._h, self._x, self._actions = self._h + 1, x_next, []
        return r

    def _to_move(self) -> str:
        name = self.players[len(self._actions)]  # "the leader", "the follower", "follower 2"
        return name.replace("_", " ") if "_" in name else f"the {name}"

    def render(self) -> str | None:
        """The last step and where play stands (``"ansi"``), printed (``"human"``: ``None``)."""
        if self.render_mode is None:
            warnings.warn(
                "render() was called without a render_mode (use 'ansi' or 'human')", stacklevel=2
            )
            return None
        H, h, x, n = self.game.horizon, self._h, self._x, self.game.n_players
        symbols = action_symbols(n)
        labels = ("r_l", "r_f") if n == 2 else tuple(f"r_{m}" for m in range(n))
        lines = []
        if self._last is not None:
            h0, x0, actions, rewards, x1 = self._last
            played = " ".join(f"{s}={a}" for s, a in zip(symbols, actions, strict=True))
            paid = " ".join(f"{s}={r:+.4f}" for s, r in zip(labels, rewards, strict=True))
            lines.append(f"step {h0}: x={x0} {played} -> {paid}, x'={x1}")
        if h >= H:
            lines.append(f"episode over after {H} steps, x={x}")
        elif self._truncated:
            lines.append(f"episode truncated after {h} of {H} steps, x={x}")
        else:
            played = "".join(f" {s}={a}" for s, a in zip(symbols, self._actions, strict=False))
            lines.append(f"step {h} (H={H}): x={x}{played}, {self._to_move()} to move")
        text = "\n".join(lines) + "\n"
        if self.render_mode == "human":
            print(text, end="")
            return None
        return text
