"""``solve``: the exact Stackelberg solution of a registered game (math.md §2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import typer

from .. import games as games_mod
from ..experiments import GameSpec, RunConfig
from ..experiments.resources import PLANNING_TABLES, available_bytes, check_game_fits, gib
from .errors import UsageError, checked
from .options import build, command_function, options


@dataclass
class SolveOptions:
    """What ``solve`` computes: the exact Stackelberg solution of a registered game."""

    game: GameSpec = field(default_factory=GameSpec)
    """The game."""
    tie_break: Literal["leader", "follower"] = "leader"
    """Follower ties broken in the leader's favour (strong Stackelberg) or against it (weak)."""


SOLVE_OPTIONS = options(SolveOptions())


def cmd_solve(values: dict[str, Any]) -> int:
    """Print the Stackelberg solution's values at the initial states."""
    from ..planning import regret, stackelberg_equilibrium

    opts = checked(lambda: build(SolveOptions(), SOLVE_OPTIONS, values))

    def make_game() -> games_mod.FiniteGame:
        check_game_fits(RunConfig(game=opts.game))
        return opts.game.make()

    game = checked(make_game)
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    need, have = PLANNING_TABLES * H * S * A * B * 8, available_bytes()
    if have is not None and need > have:
        raise UsageError(
            f"solving needs about {gib(need)} of memory (H={H}, |S|={S}, |A|={A}, |B|={B}), "
            f"but only {gib(have)} is available"
        )
    pi_l, pi_f, values_ = stackelberg_equilibrium(game, tie_break=opts.tie_break)
    p0 = game.initial_distribution
    print(game)
    print(f"Stackelberg equilibrium ({opts.tie_break} tie-break), values at h=0:")
    print(f"  leader   E[V_l(x0)] = {p0 @ values_.V[0, 0]: .6f}")
    print(f"  follower E[V_f(x0)] = {p0 @ values_.V[1, 0]: .6f}")
    x0 = int(np.argmax(p0))
    a0 = int(np.argmax(pi_l[0, x0]))
    r_l, r_f = regret(game, pi_l, pi_f, x0, a0)
    print(f"  best-response gaps at x0={x0}: leader {r_l:.2e}, follower {r_f:.2e}")
    return 0


def register(app: typer.Typer) -> None:
    """Add ``solve`` to ``app``."""
    app.command(
        "solve", help="Exact Stackelberg solution of a known game: values and best-response gaps."
    )(command_function(SOLVE_OPTIONS, cmd_solve))
