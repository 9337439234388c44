"""What the environment modules share: the game, its options, a step of play, the text of one.

Nothing here imports an optional package, so each module raises its own :class:`ImportError`
(naming the extra) before anything else happens.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._validate import index, integer
from ..games import FiniteGame, make


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
    elif isinstance(game, str):
        game = make(game, **dict(game_params or {}))
    else:
        raise TypeError(f"game must be a FiniteGame or a registered game's name, got {game!r}")
    game.refuse_followers("the environments")
    return game


def check_action(role: str, action: Any, n: int) -> int:
    """``action`` as an ``int`` in ``[0, n)``: any integer type, never a float or a bool."""
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        action = action.item()
    return index(action, n, f"the {role}'s action")


class Episode:
    """An episode of a finite game played step by step, and its text (``render_mode="ansi"``).

    Args:
        game: a :class:`~stackelberg_rl.games.FiniteGame`, or a registered game's name.
        game_params: the registered game's parameters (only with a name).
        max_cycles: steps after which the episode is truncated; ``None`` plays all ``H``.
        render_mode: ``"ansi"`` or ``None``.
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
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be 'ansi' or None, got {render_mode!r}")
        self.render_mode = render_mode
        H = self.game.horizon
        self.max_cycles = H if max_cycles is None else integer(max_cycles, "max_cycles", low=1)
        self._h, self._x, self._a = 0, 0, None  # the step, the state, the leader's action
        self._last: tuple | None = None  # (h, x, a, b, r_l, r_f, x') of the last step played
        self._truncated = False

    def _begin(self, rng: np.random.Generator) -> None:
        self._h, self._x, self._a = 0, self.game.sample_initial(rng), None
        self._last, self._truncated = None, False

    def _play(self, a: int, b: int, rng: np.random.Generator) -> np.ndarray:
        """Step the game with ``(a, b)``: both players' realised rewards ``(2,)``."""
        r, x_next = self.game.step(self._h, self._x, a, b, rng)
        self._last = (self._h, self._x, a, b, float(r[0]), float(r[1]), int(x_next))
        self._h, self._x, self._a = self._h + 1, int(x_next), None
        return r

    def _to_move(self) -> str:
        return "the leader" if self._a is None else "the follower"

    def render(self) -> str | None:
        """The last step and where play stands (``"ansi"``); ``None`` without a render mode."""
        if self.render_mode is None:
            warnings.warn("render() was called without a render_mode (use 'ansi')", stacklevel=2)
            return None
        H, h, x = self.game.horizon, self._h, self._x
        lines = []
        if self._last is not None:
            h0, x0, a, b, r_l, r_f, x1 = self._last
            lines.append(f"step {h0}: x={x0} a={a} b={b} -> r_l={r_l:+.4f} r_f={r_f:+.4f}, x'={x1}")
        if h >= H:
            lines.append(f"episode over after {H} steps, x={x}")
        elif self._truncated:
            lines.append(f"episode truncated after {h} of {H} steps, x={x}")
        else:
            played = "" if self._a is None else f" a={self._a}"
            lines.append(f"step {h} (H={H}): x={x}{played}, {self._to_move()} to move")
        return "\n".join(lines) + "\n"
