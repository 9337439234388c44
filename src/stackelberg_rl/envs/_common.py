"""What the environment modules share: the game they play, random streams, actions and text.

Nothing here imports an optional package, so the modules can raise their own clear
:class:`ImportError` before anything else happens.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

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


def generator(seed: int | None) -> np.random.Generator:
    """A fresh stream from ``SeedSequence(seed)`` (fresh entropy when ``seed`` is ``None``)."""
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
    ):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence(None if seed is None else int(seed)))


def check_action(role: str, action: Any, n: int) -> int:
    """``action`` as a Python int in ``[0, n)``, or a :class:`ValueError` naming the player.

    Any integer type is accepted (``np.int32``, a 0-d integer array); floats and booleans are not.
    """
    if isinstance(action, np.ndarray) and action.shape == () and action.dtype.kind in "iu":
        action = action.item()
    if isinstance(action, bool) or not isinstance(action, numbers.Integral):
        raise ValueError(f"the {role}'s action must be an integer in [0, {n}), got {action!r}")
    if not 0 <= action < n:
        raise ValueError(f"the {role}'s action must be in [0, {n}), got {action}")
    return int(action)


@dataclass(frozen=True)
class Step:
    """One completed step of an episode: ``r (2,)`` are the realised rewards (leader first)."""

    h: int
    x: int
    a: int
    b: int
    r: tuple[float, float]
    x_next: int


def describe(
    game: FiniteGame,
    h: int,
    x: int,
    last: Step | None,
    *,
    a: int | None = None,
    to_move: str = "the leader",
    truncated: bool = False,
) -> str:
    """A few lines of text for ``render_mode="ansi"``: the last step, then where play stands.

    Args:
        game: the game played.
        h: the current step (``H`` once the episode is over).
        x: the current state.
        last: the last completed step, if any.
        a: the leader's action at this step, once chosen.
        to_move: who acts next, as the text says it.
        truncated: whether the episode was cut short at step ``h``.
    """
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
