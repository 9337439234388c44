"""``solve``: the Stackelberg solution of a game (exact, math.md §2; Monte Carlo, math.md §6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .. import games as games_mod
from ..experiments import GameSpec, RunConfig
from ..experiments.resources import available_bytes, gib, planning_bytes, sizes
from ..learners.base import player_name
from .errors import UsageError, checked
from .options import build, command, make_game, options


@dataclass
class SolveOptions:
    """What ``solve`` computes: the Stackelberg solution of a registered game or a game file."""

    game: GameSpec = field(default_factory=GameSpec)
    """The game."""
    tie_break: Literal["leader", "follower"] = "leader"
    """Follower ties broken in the leader's favour (strong Stackelberg) or against it (weak)."""


SOLVE_OPTIONS = options(SolveOptions())


@command(SOLVE_OPTIONS)
def solve(values: dict[str, Any]) -> int:
    """Stackelberg solution of a known game.

    Exact values and best-response gaps on a finite game (math.md §2), Monte-Carlo values with
    95% intervals on a continuous one (planned on its evaluation sample, math.md §6).
    """
    opts = checked(lambda: build(SolveOptions(), SOLVE_OPTIONS, values))
    game = make_game(RunConfig(game=opts.game))
    need, have = planning_bytes(game), available_bytes()
    if have is not None and need > have:
        raise UsageError(
            f"solving needs about {gib(need)} of memory ({sizes(game)}), but only {gib(have)} "
            "is available"
        )
    print(game)
    names = [player_name(m, game.n_players) for m in range(game.n_players)]
    if isinstance(game, games_mod.ContinuousGame):
        from ..montecarlo import sampled_stackelberg

        _, values_ = sampled_stackelberg(game, tie_break=opts.tie_break)
        sample = game.evaluation
        print(
            f"Stackelberg equilibrium ({opts.tie_break} tie-break) planned on {sample.n_points} "
            f"states per density in each of {sample.n_replications} replications (Monte Carlo, "
            "math.md §6); values at h=0, mean ± 95% interval over the replications:"
        )
        _print_values(names, values_.mean, values_.half_width)
        return 0
    from ..planning import player_regrets, stackelberg_equilibrium

    *policies, values_ = stackelberg_equilibrium(game, tie_break=opts.tie_break)
    p0 = game.initial_distribution
    print(f"Stackelberg equilibrium ({opts.tie_break} tie-break), values at h=0:")
    _print_values(names, values_.V[:, 0] @ p0)
    x0 = int(np.argmax(p0))
    first: list[int] = []  # each player's first action at x0, after those before it
    for pi in policies[:-1]:
        first.append(int(np.argmax(pi[(0, x0, *first)])))
    gaps = player_regrets(game, policies, x0, first)
    shown = ", ".join(f"{name} {gap:.2e}" for name, gap in zip(names, gaps, strict=True))
    print(f"  best-response gaps at x0={x0}: {shown}")
    return 0


def _print_values(names: list[str], means, half_widths=None) -> None:
    """``  leader   E[V_l(x0)] = ...`` per player (``V_0``, ``V_1``, ... with N followers)."""
    width = max(map(len, names))
    for m, name in enumerate(names):
        interval = "" if half_widths is None else f" ± {half_widths[m]:.2g}"
        sub = "lf"[m] if len(names) == 2 else m
        print(f"  {name:<{width}} E[V_{sub}(x0)] = {means[m]: .6f}{interval}")
