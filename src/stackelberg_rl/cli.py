"""The ``stackelberg-rl`` command line: ``solve``, ``run``, ``bench``, ``demo``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from . import games as games_mod
from .planning import regret, stackelberg_equilibrium


class UsageError(Exception):
    """A bad command-line value: printed as one line, exit code 2."""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _add_game_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--game", default="random-linear", help="game generator name")
    p.add_argument("--states", type=_positive_int, default=20, help="|S|")
    p.add_argument("--leader-actions", type=_positive_int, default=3, help="|A|")
    p.add_argument("--follower-actions", type=_positive_int, default=3, help="|B|")
    p.add_argument("--dim", type=_positive_int, default=8, help="feature dimension d")
    p.add_argument("--horizon", type=_positive_int, default=5, help="H")
    p.add_argument("--game-seed", type=int, default=0, help="seed of the generated game")


def make_game(args: argparse.Namespace) -> games_mod.FiniteGame:
    """Build the game named on the command line."""
    if args.game == "random-linear":
        return games_mod.random_linear(
            args.states,
            args.leader_actions,
            args.follower_actions,
            args.dim,
            args.horizon,
            seed=args.game_seed,
        )
    if args.game == "random-tabular":
        return games_mod.random_tabular(
            args.states,
            args.leader_actions,
            args.follower_actions,
            args.horizon,
            seed=args.game_seed,
        )
    known = ", ".join(sorted(games_mod.GENERATORS))
    raise UsageError(f"unknown game {args.game!r}; known games: {known}")


def cmd_solve(args: argparse.Namespace) -> int:
    """Print the Stackelberg solution's values at the initial states."""
    game = make_game(args)
    pi_l, pi_f, values = stackelberg_equilibrium(game, tie_break=args.tie_break)
    p0 = game.initial_distribution
    print(game)
    print(f"Stackelberg equilibrium ({args.tie_break} tie-break), values at h=0:")
    print(f"  leader   E[V_l(x0)] = {p0 @ values.V[0, 0]: .6f}")
    print(f"  follower E[V_f(x0)] = {p0 @ values.V[1, 0]: .6f}")
    x0 = int(np.argmax(p0))
    a0 = int(np.argmax(pi_l[0, x0]))
    r_l, r_f = regret(game, pi_l, pi_f, x0, a0)
    print(f"  best-response gaps at x0={x0}: leader {r_l:.2e}, follower {r_f:.2e}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = argparse.ArgumentParser(
        prog="stackelberg-rl",
        description="Learning in leader-follower Markov games with linear function approximation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("solve", help="exact Stackelberg solution of a known game")
    _add_game_args(p)
    p.add_argument("--tie-break", choices=["leader", "follower"], default="leader")
    p.set_defaults(func=cmd_solve)
    p = sub.add_parser("demo", help="the default job of `make demo`")
    _add_game_args(p)
    p.add_argument("--tie-break", choices=["leader", "follower"], default="leader")
    p.set_defaults(func=cmd_solve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stackelberg-rl`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UsageError, ValueError) as err:
        print(f"stackelberg-rl {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
