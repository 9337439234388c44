"""What the environment modules share: the game they play, random streams, actions and text.

Nothing here imports an optional package, so the modules can raise their own clear
:class:`ImportError` before anything else happens.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validate import index, integer
from ..games import FiniteGame, make

EXTRA = "envs"
"""The optional extra that installs PettingZoo, Gymnasium and OpenSpiel."""


def missing(package: str, module: str) -> ImportError:
    """The error raised when ``module`` is imported without ``package`` installed."""
    return ImportError(
        f"{module} needs the {package!r} package, which is not installed; install the "
        f'optional extra: pip install "stackelberg-rl[{EXTRA}]"'
    )


def resolve_game(game: FiniteGame | str, game_params: Mapping[str, Any] | None) -> FiniteGame:
    """The game to play: ``game`` itself, or the registered game of that name.

    Args:
        game: a :class:`FiniteGame`, or a name of :func:`stackelberg_rl.games.names`.
        game_params: the registered game's parameters (only with a name).

    Raises:
        TypeError: when ``game`` is neither.
        ValueError: for parameters given with a game object, or refused by the registry.
    """
    if isinstance(game, FiniteGame):
        if game_params:
            raise ValueError("game_params can only be given with a registered game's name")
        return game
    if isinstance(game, str):
        return make(game, **dict(game_params or {}))
    raise TypeError(f"game must be a FiniteGame or a registered game's name, got {game!r}")


def check_action(role: str, action: Any, n: int) -> int:
    """``action`` as a Python int in ``[0, n)``, or a :class:`ValueError` naming the player.

    Any integer type is accepted (``np.int32``, a 0-d integer array); floats and booleans are not.
    """
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        action = action.item()
    return index(action, n, f"the {role}'s action")


def check_options(max_cycles: int | None, render_mode: str | None, horizon: int) -> int:
    """Steps before truncation (``H`` for ``None``), after checking both options."""
    if render_mode not in (None, "ansi"):
        raise ValueError(f"render_mode must be 'ansi' or None, got {render_mode!r}")
    return horizon if max_cycles is None else integer(max_cycles, "max_cycles", low=1)


@dataclass(frozen=True)
class Step:
    """One completed step: ``r (n_players,)`` are the realised rewards (leader first)."""

    h: int
    x: int
    a: int
    b: int
    r: tuple[float, ...]
    x_next: int


def play(env: Any, a: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """Step ``env.game`` with ``(a, b)`` at ``(env._h, env._x)``, recording it: rewards ``(2,)``."""
    r, x_next = env.game.step(env._h, env._x, a, b, rng)
    env._last = Step(env._h, env._x, a, b, tuple(map(float, r)), int(x_next))
    env._h, env._x, env._a = env._h + 1, int(x_next), None
    return r


def render(
    env: Any, *, a: int | None = None, to_move: str = "the leader", truncated: bool = False
) -> str | None:
    """``env``'s last step and where play stands, as text (``render_mode="ansi"``).

    ``None``, with a warning, without a render mode.

    Args:
        env: an environment with ``game``, ``render_mode``, the step ``_h`` (``H`` once the
            episode is over), the state ``_x`` and the last completed :class:`Step` ``_last``.
        a: the leader's action at this step, once chosen.
        to_move: who acts next, as the text says it.
        truncated: whether the episode was cut short at step ``h``.
    """
    if env.render_mode is None:
        warnings.warn("render() was called without a render_mode (use 'ansi')", stacklevel=3)
        return None
    game, h, x, last = env.game, env._h, env._x, env._last
    lines = []
    if last is not None:
        lines.append(
            f"step {last.h}: x={last.x} a={last.a} b={last.b} -> "
            f"r_l={last.r[0]:+.4f} r_f={last.r[1]:+.4f}, x'={last.x_next}"
        )
    if h >= game.horizon:
        lines.append(f"episode over after {game.horizon} steps, x={x}")
    elif truncated:
        lines.append(f"episode truncated after {h} of {game.horizon} steps, x={x}")
    else:
        played = "" if a is None else f" a={a}"
        lines.append(f"step {h} (H={game.horizon}): x={x}{played}, {to_move} to move")
    return "\n".join(lines) + "\n"
