"""The ``stackelberg-rl`` command line: ``solve``, ``run``, ``report``, ``demo``, ``bench``.

Bad values get one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from .. import games as games_mod
from ..agents import AGENT_KINDS, DTYPES, AgentConfig
from ..experiments import GameSpec, RunConfig, load_run, run_sweep
from ..learners import SCHEDULES
from ..planning import regret, stackelberg_equilibrium
from ..report import learning_summary, plot_cumulative_regret, summary

PLOT_FILE = "regret.png"


class UsageError(Exception):
    """A bad command-line value: printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block) and exit code 2."""

    def error(self, message: str) -> None:  # noqa: D102 (argparse's hook)
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _int_at_least(minimum: int, what: str):
    """An argparse type: an integer ``>= minimum``, with ``what`` in its error."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    return parse


_positive_int = _int_at_least(1, "a positive integer")
_non_negative_int = _int_at_least(0, "an integer >= 0")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _beta(text: str) -> float | str:
    if text == "theory":
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"beta must be a number >= 0 or 'theory', got {text!r}"
        ) from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"beta must be a number >= 0 or 'theory', got {text!r}")
    return value


def _alpha(text: str) -> float | str:
    if text in ("fixed-K", "anytime"):
        return text
    try:
        value = float(text)  # accepts "inf"
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"alpha must be fixed-K, anytime, inf or a number >= 0, got {text!r}"
        ) from None
    if math.isnan(value) or value < 0:
        raise argparse.ArgumentTypeError(f"alpha must be >= 0, got {text!r}")
    return value


def _param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _add_game_args(p: argparse.ArgumentParser) -> None:
    """The game's options: its registered name and ``--param KEY=VALUE``."""
    known = ", ".join(games_mod.names())
    p.add_argument("--game", default=GameSpec.name, help=f"registered game: {known}")
    p.add_argument(
        "--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
        help="a game parameter (repeatable); `stackelberg-rl games` lists them",
    )  # fmt: skip


def game_spec(args: argparse.Namespace) -> GameSpec:
    """The game spec named on the command line."""
    return GameSpec(name=args.game, params=dict(args.param))


def make_game(args: argparse.Namespace) -> games_mod.FiniteGame:
    """Build the game named on the command line.

    Raises:
        UsageError: for an unknown game or sizes the generator refuses.
    """
    try:
        return game_spec(args).make()
    except ValueError as err:
        raise UsageError(str(err)) from None


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


# ---------------------------------------------------------------------- run, report, demo
def run_config(args: argparse.Namespace) -> RunConfig:
    """The experiment described by the ``run`` arguments.

    Raises:
        UsageError: for a configuration the agents or the game refuse.
    """
    agent = AgentConfig(
        kind=args.agent,
        beta=args.beta,
        c1=args.c1,
        p=args.p,
        lam=args.lam,
        alpha_l=args.alpha_l,
        alpha_f=args.alpha_f,
        schedule=args.schedule,
        schedule_n=args.schedule_n,
        decentralised=not args.centralised,
        dtype=args.dtype,
        refresh_every=args.refresh_every,
    )
    config = RunConfig(
        game=game_spec(args),
        episodes=args.episodes,
        agent=agent,
        eval_every=args.eval_every,
        seeds=args.seeds,
        seed=args.seed,
    )
    try:
        config.validate()
    except ValueError as err:
        raise UsageError(str(err)) from None
    return config


def _fmt(x: float, digits: int = 3) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.{digits}g}"


def print_summary(df: pd.DataFrame, manifest: dict | None = None) -> None:
    """A rich table: cumulative regret at ``K`` (mean ± 95% interval) and per-episode regret."""
    from rich.console import Console
    from rich.table import Table

    s, learn = summary(df), learning_summary(df)
    K, n = int(s["K"].iloc[0]), int(s["seeds"].iloc[0])
    title = f"Regret after K={K} episodes, {n} seed{'s' if n > 1 else ''}"
    table = Table(title=title)
    table.add_column("player")
    table.add_column("cumulative regret (mean ± 95% CI)", justify="right")
    table.add_column("per-episode, first quarter", justify="right")
    table.add_column("per-episode, last quarter", justify="right")
    for (_, row), (_, lrow) in zip(s.iterrows(), learn.iterrows(), strict=True):
        ci = "" if not np.isfinite(row["half_width"]) else f" ± {row['half_width']:.3g}"
        table.add_row(
            row["player"],
            f"{row['mean']:.4g}{ci}",
            _fmt(lrow["first_quarter"], 4),
            _fmt(lrow["last_quarter"], 4),
        )
    console = Console()
    if manifest and manifest.get("resolved"):
        r = manifest["resolved"]
        console.print(
            f"{manifest.get('game', '')}  agent={manifest['config']['agent']['kind']}  "
            f"beta={r['beta']}  lam={r['lam']}  alpha_l={r['alpha_l']}  alpha_f={r['alpha_f']}"
        )
    console.print(table)


def report_run(run_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Print a run folder's summary and (re)write its ``regret.png``."""
    df, manifest = load_run(run_dir)
    print_summary(df, manifest)
    title = manifest.get("game")
    if title and "config" in manifest:
        title += f"\n{manifest['config']['agent']['kind']}"
        beta = manifest.get("resolved", {}).get("beta")
        if beta is not None:
            title += f", β = {beta:.3g}"
    plot_cumulative_regret(df, run_dir / PLOT_FILE, title=title)
    print(f"results: {run_dir}/results.parquet, plot: {run_dir / PLOT_FILE}")
    return df, manifest


def _run_and_report(args: argparse.Namespace) -> pd.DataFrame:
    """Run every seed of the experiment on the command line, write the folder, print the summary."""
    config = run_config(args)
    game = make_game(args)  # an unknown game is a usage error, found before anything runs
    out = args.out
    if out is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = Path("runs") / f"{config.game.name}-{stamp}"
    out = Path(out)
    try:
        run_sweep(
            config,
            out,
            workers=args.workers,
            overwrite=args.overwrite,
            progress=not args.quiet,
            game=game,
        )
    except FileExistsError as err:
        raise UsageError(str(err)) from None
    return report_run(out)[0]


def cmd_run(args: argparse.Namespace) -> int:
    """Run every seed of an experiment, write the run folder, print the summary."""
    _run_and_report(args)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """``run`` with the demo's defaults, then whether the per-episode regret falls."""
    learn = learning_summary(_run_and_report(args))
    falling = bool((learn["last_quarter"] < learn["first_quarter"]).all())
    words = ", ".join(
        f"{r.player} {r.first_quarter:.3f} -> {r.last_quarter:.3f}" for r in learn.itertuples()
    )
    verdict = "falling: the players learn" if falling else "NOT falling"
    print(f"mean per-episode regret, first -> last quarter: {words} ({verdict})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Re-make the summary and the plot of a run folder."""
    run_dir = Path(args.run_dir)
    try:
        report_run(run_dir)
    except FileNotFoundError as err:
        raise UsageError(str(err)) from None
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Time the learner's configurations (:mod:`stackelberg_rl.bench`): medians and ratios."""
    import json

    from ..bench import learner, planning

    bandwidth = learner.memory_bandwidth()  # one figure for both tables
    print("== exact planner (issue 2): evaluate + both best responses, random_linear(S,4,4,10,10)")
    plan_rows = planning.run(repeats=args.repeats, bandwidth=bandwidth)
    print(planning.format_rows(plan_rows))
    print("\n== learner (issue 4)")
    rows = learner.run_benchmarks(
        episodes=args.episodes, repeats=args.repeats, scale=args.scale, bandwidth=bandwidth
    )
    print(learner.format_rows(rows))
    if args.json is not None:
        args.json.write_text(json.dumps({"planner": plan_rows, "learner": rows}, indent=1))
    return 0


DEMO_DEFAULTS = {
    "episodes": 3000,
    "seeds": 4,
    "beta": 0.2,
    "out": Path("runs/demo"),
    "overwrite": True,
}
"""``make demo``: 4 seeds of 3,000 episodes on ``random_linear(20, 3, 3, 8, 5)`` with ``β = 0.2``:
under a minute on two cores; the per-episode regret of both players falls by about a third."""


def _add_run_args(p: argparse.ArgumentParser, **defaults) -> None:
    """A run's options, then ``defaults`` (the demo's).

    The defaults are :class:`RunConfig`'s and :class:`AgentConfig`'s, but four seeds, not one.
    """
    _add_game_args(p)
    r, a = RunConfig, AgentConfig
    p.add_argument(
        "--episodes", type=_positive_int, default=r.episodes, help="K, episodes per seed"
    )
    p.add_argument("--seeds", type=_positive_int, default=4, help="independent runs")
    p.add_argument(
        "--seed", type=_non_negative_int, default=r.seed, help="base seed (run i: seed+i)"
    )
    p.add_argument(
        "--out", type=Path, default=None, help="run folder (default runs/GAME-TIMESTAMP)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty run folder")
    p.add_argument("--agent", choices=AGENT_KINDS, default=a.kind, help="the players' algorithm")
    p.add_argument("--beta", type=_beta, default=a.beta, help="bonus scale: a number or 'theory'")
    p.add_argument("--c1", type=_positive_float, default=a.c1, help="C1 of beta=theory")
    p.add_argument("--p", type=_positive_float, default=a.p, help="failure probability p")
    p.add_argument("--lam", type=_positive_float, default=a.lam, help="ridge lambda")
    for who, default in (("l", a.alpha_l), ("f", a.alpha_f)):
        p.add_argument(
            f"--alpha-{who}",
            type=_alpha,
            default=default,
            help=f"{'leader' if who == 'l' else 'follower'} soft-max: fixed-K, anytime, inf, "
            "or a number",
        )
    p.add_argument("--schedule", choices=SCHEDULES, default=a.schedule, help="when to re-plan")
    p.add_argument("--schedule-n", type=_positive_int, default=a.schedule_n, help="n of every-n")
    p.add_argument(
        "--centralised", action="store_true", help="one shared learner (default: decentralised)"
    )
    p.add_argument(
        "--dtype", choices=DTYPES, default=a.dtype,
        help="storage of the cached next-state features",
    )  # fmt: skip
    p.add_argument(
        "--refresh-every", type=_positive_int, default=a.refresh_every,
        help="plans between exact refreshes of the cached forms",
    )  # fmt: skip
    p.add_argument(
        "--eval-every",
        type=_positive_int,
        default=r.eval_every,
        help="exact regret every n episodes",
    )
    p.add_argument("--workers", type=_positive_int, default=None, help="processes (default: auto)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_run, **defaults)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    parser = _Parser(
        prog="stackelberg-rl",
        description="Learning in leader-follower Markov games with linear function approximation.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("solve", help="exact Stackelberg solution of a known game")
    _add_game_args(p)
    p.add_argument("--tie-break", choices=["leader", "follower"], default="leader")
    p.set_defaults(func=cmd_solve)
    p = sub.add_parser("run", help="learn for K episodes over several seeds, write a run folder")
    _add_run_args(p)
    p = sub.add_parser("report", help="summary table and regret.png of a run folder")
    p.add_argument("run_dir", type=Path, help="a folder written by `run`")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("demo", help="the default job of `make demo` (a small `run`)")
    _add_run_args(p, **DEMO_DEFAULTS)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("bench", help="time the learner (medians and ratios; `make bench`)")
    p.add_argument("--episodes", type=_positive_int, default=1000, help="K of the timed runs")
    p.add_argument("--repeats", type=_positive_int, default=3, help="timed runs per case")
    p.add_argument("--scale", action="store_true", help="add the K=20000 and K=100000 cases")
    p.add_argument("--json", type=Path, default=None, help="also write every figure here")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stackelberg-rl`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UsageError as err:
        print(f"stackelberg-rl {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
