"""The commands of ``stackelberg-rl``, their options generated from dataclasses (:mod:`.options`).

``run`` and ``demo`` take the fields of :class:`~stackelberg_rl.experiments.RunConfig` (the
agent's flattened in) and of :class:`~stackelberg_rl.experiments.ExecutionOptions`; they differ
only in their defaults (:data:`RUN_DEFAULTS`, :data:`DEMO`) and in where they write by default.
``solve`` takes :class:`SolveOptions`, ``bench`` :class:`BenchOptions`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
import typer

from .. import games as games_mod
from ..agents import AgentConfig
from ..experiments import (
    PLOT_FILE,
    ExecutionOptions,
    GameSpec,
    NewFolder,
    ResultsNotSavedError,
    RunConfig,
    RunFolderError,
    load_run,
    run_sweep,
)
from ..experiments.resources import PLANNING_TABLES, available_bytes, check_game_fits, gib
from ..learners import alpha_value
from ..report import learning_summary, plot_cumulative_regret, summary
from .options import Option, build, command_function, options


class UsageError(Exception):
    """Something the user can fix: printed as one line, exit code 2."""


PROGRESS = {"note": ""}
"""What an interruption now leaves behind, for the one line printed after Ctrl-C or SIGTERM."""


def _checked(make):
    """``make()``, with a :class:`ValueError` (a dataclass refusing a value) as a usage error."""
    try:
        return make()
    except (ValueError, MemoryError) as err:
        raise UsageError(str(err)) from None


# ---------------------------------------------------------------------- configurations
RUN_DEFAULTS = RunConfig(seeds=4)
"""``run``'s defaults: :class:`RunConfig`'s, with four seeds (for an interval over seeds)."""

DEMO = RunConfig(
    game=GameSpec("random-linear", {}),
    episodes=3000,
    seeds=4,
    agent=AgentConfig(beta=0.2),
)
"""``make demo``: four seeds of 3,000 episodes on the default ``random-linear`` game with
``β = 0.2``: under a minute on two cores; the per-episode regret of both players falls."""

DEMO_FOLDER = NewFolder("runs", "demo")
"""The demo writes a new folder each time (``runs/demo-YYYYmmdd-HHMMSS``): it never replaces one."""


@dataclass
class SolveOptions:
    """What ``solve`` computes: the exact Stackelberg solution of a registered game."""

    game: GameSpec = field(default_factory=GameSpec)
    """The game."""
    tie_break: Literal["leader", "follower"] = "leader"
    """Follower ties broken in the leader's favour (strong Stackelberg) or against it (weak)."""


@dataclass
class BenchOptions:
    """What ``bench`` times: the exact planner and whole learning runs."""

    episodes: int = 1000
    """K of the timed learning runs."""
    repeats: int = 3
    """Timed runs per case (the median is reported)."""
    scale: bool = False
    """Add the K=20000 and K=100000 cases (minutes)."""
    json: str | None = field(default=None, metadata={"metavar": "FILE"})
    """Also write every figure to this JSON file (checked to be writable before anything runs)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field (an unwritable ``json`` too)."""
        for name in ("episodes", "repeats"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.json is not None:
            check_writable_file(Path(self.json), "--json")


def check_writable_file(path: Path, what: str) -> None:
    """Raise :class:`ValueError` unless ``path`` can be written (a file left as it was found)."""
    if path.is_dir():
        raise ValueError(f"{what} {path} is a folder, not a file")
    parent = path.absolute().parent
    if not parent.is_dir():
        raise ValueError(f"cannot write {what} {path}: {parent} is not a folder")
    existed = path.exists()
    try:
        with open(path, "a"):
            pass
    except OSError as err:
        raise ValueError(f"cannot write {what} {path}: {err.strerror or err}") from None
    if not existed:
        path.unlink()


RUN_OPTIONS = options(RUN_DEFAULTS)
DEMO_OPTIONS = options(DEMO)
EXECUTION_OPTIONS = options(ExecutionOptions())
SOLVE_OPTIONS = options(SolveOptions())
BENCH_OPTIONS = options(BenchOptions())


def _game_help(opts: list[Option]) -> list[Option]:
    """The ``--game`` option's help with the registered games' names."""
    out = []
    for o in opts:
        if o.path[-1:] == ("name",) and o.path[:-1] in ((), ("game",)):
            o = Option(o.path, o.flags, o.kind, o.default, f"{o.help} One of: "
                       f"{', '.join(games_mod.names())}.", o.metavar)  # fmt: skip
        out.append(o)
    return out


# ---------------------------------------------------------------------- run, demo, report
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
    if manifest:
        console.print(_describe_run(manifest), markup=False, highlight=False)
    console.print(table)


def _describe_run(manifest: dict) -> str:
    game = manifest.get("game") or {}
    words = [str(game.get("name", "?"))]
    config = manifest.get("config") or {}
    words.append(f"agent={(config.get('agent') or {}).get('kind', '?')}")
    for key, value in (manifest.get("resolved") or {}).items():
        if value is not None:
            if isinstance(value, dict):
                value = f"{value.get('schedule')} {value.get('first'):.3g}..{value.get('last'):.3g}"
            elif isinstance(value, float):
                value = f"{value:.4g}"
            words.append(f"{key}={value}")
    return "  ".join(words)


def report_run(run_dir: Path) -> tuple[pd.DataFrame, dict]:
    """Print a run folder's summary and (re)write its ``regret.png``.

    Raises:
        UsageError: the folder does not hold a complete, readable run, or the plot cannot be
            written.
    """
    try:
        df, manifest = load_run(run_dir)
    except RunFolderError as err:
        raise UsageError(str(err)) from None
    print_summary(df, manifest)
    title = _describe_run(manifest).replace("  ", ", ", 1)
    try:
        plot_cumulative_regret(df, run_dir / PLOT_FILE, title=title)
    except OSError as err:
        raise UsageError(f"cannot write {run_dir / PLOT_FILE}: {err.strerror or err}") from None
    print(f"results: {run_dir / 'results.parquet'}, plot: {run_dir / PLOT_FILE}")
    return df, manifest


def execute(values: dict[str, Any], defaults: RunConfig, default_folder: NewFolder) -> pd.DataFrame:
    """Build the configuration from the options, check it, run it, write and report the folder."""
    opts = options(defaults)
    config = _checked(lambda: build(defaults, opts, values))
    execution = _checked(lambda: build(ExecutionOptions(), EXECUTION_OPTIONS, values))
    workers = execution.workers or min(config.seeds, os.cpu_count() or 1)

    def make_game() -> games_mod.FiniteGame:
        check_game_fits(config)
        return config.game.make()

    game = _checked(make_game)

    def announce(run_dir: Path, pids: list[int]) -> None:
        print(f"run folder: {run_dir}", flush=True)

    out = default_folder if execution.out is None else execution.out
    PROGRESS["note"] = "workers stopped, the unfinished run removed"
    try:
        df = run_sweep(
            config,
            out,
            workers,
            overwrite=execution.overwrite,
            progress=not execution.quiet,
            game=game,
            on_start=announce,
        )
    except (RunFolderError, MemoryError, ResultsNotSavedError) as err:
        raise UsageError(str(err)) from None
    PROGRESS["note"] = f"the finished run is in {df.attrs['run_dir']}"
    report_run(Path(df.attrs["run_dir"]))
    return df


def cmd_run(values: dict[str, Any]) -> int:
    """Run every seed of an experiment, write the run folder, print the summary."""
    execute(values, RUN_DEFAULTS, NewFolder("runs", values.get("game__name") or "run"))
    return 0


def cmd_demo(values: dict[str, Any]) -> int:
    """``run`` with the demo's defaults, then whether the per-episode regret falls."""
    learn = learning_summary(execute(values, DEMO, DEMO_FOLDER))
    falling = bool((learn["last_quarter"] < learn["first_quarter"]).all())
    words = ", ".join(
        f"{r.player} {r.first_quarter:.3f} -> {r.last_quarter:.3f}" for r in learn.itertuples()
    )
    verdict = "falling: the players learn" if falling else "NOT falling"
    print(f"mean per-episode regret, first -> last quarter: {words} ({verdict})")
    return 0


def demo_description() -> str:
    """What ``demo`` runs, from :data:`DEMO` (its ``--help``)."""
    params = DEMO.game.resolved()
    sizes = ", ".join(f"{k}={v}" for k, v in params.items())
    A, B = params.get("n_leader_actions"), params.get("n_follower_actions")
    H, K, agent = params.get("horizon"), DEMO.episodes, DEMO.agent
    alphas = []
    for who, n, spec in (("alpha_l", A, agent.alpha_l), ("alpha_f", B, agent.alpha_f)):
        if spec == "fixed-K" and n and H:
            alphas.append(
                f"{who} = fixed-K = log {n}·√{K}/{H} = {alpha_value(spec, n, H, K, 0):.4g}"
            )
        else:
            alphas.append(f"{who} = {spec}")
    return (
        f"The demo (make demo): {agent.kind} for the leader and the follower on "
        f"{DEMO.game.name} ({sizes}); K = {K} episodes × {DEMO.seeds} seeds "
        f"(seeds {DEMO.seed}..{DEMO.seed + DEMO.seeds - 1}) in parallel processes; "
        f"beta = {agent.beta}, lambda = {agent.lam}, {', '.join(alphas)}. "
        f"It writes a new folder {DEMO_FOLDER.parent}/{DEMO_FOLDER.stem}-YYYYmmdd-HHMMSS "
        "(never an existing one unless --out and --overwrite say so), prints each player's "
        "regret and whether the per-episode regret falls. Every option of run applies."
    )


# ---------------------------------------------------------------------- solve, games, bench
def cmd_solve(values: dict[str, Any]) -> int:
    """Print the Stackelberg solution's values at the initial states."""
    from ..planning import regret, stackelberg_equilibrium

    opts = _checked(lambda: build(SolveOptions(), SOLVE_OPTIONS, values))

    def make_game() -> games_mod.FiniteGame:
        check_game_fits(RunConfig(game=opts.game))
        return opts.game.make()

    game = _checked(make_game)
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


def _type_name(kind: Any) -> str:
    import typing

    if typing.get_origin(kind) is Literal:
        return "|".join(map(str, typing.get_args(kind)))
    return getattr(kind, "__name__", str(kind))


def games_listing() -> str:
    """Every registered game with its parameters' types, defaults and help."""
    lines = []
    for name in games_mod.names():
        info = games_mod.info(name)
        lines.append(f"{name}: {info.summary.replace('``', '')}")
        fields = info.fields()
        width = max((len(f"{f.name}={_type_name(f.type).upper()}") for f in fields), default=0)
        for f in fields:
            usage = f"{f.name}={_type_name(f.type).upper()}"
            lines.append(f"  --param {usage:<{width}}  {f.help} (default {f.default})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def cmd_games() -> int:
    """List the registered games and their parameters."""
    print(games_listing(), end="")
    return 0


def cmd_bench(values: dict[str, Any]) -> int:
    """Time the planner and the learner (:mod:`stackelberg_rl.bench`): medians and ratios."""
    opts = _checked(lambda: build(BenchOptions(), BENCH_OPTIONS, values))
    from ..bench import learner, planning

    bandwidth = learner.memory_bandwidth()  # one figure for both tables
    print("== exact planner: evaluate + both best responses, random_linear(S, 4, 4, 10, 10)")
    plan_rows = planning.run(repeats=opts.repeats, bandwidth=bandwidth)
    print(planning.format_rows(plan_rows))
    print("\n== learner: whole learning runs")
    rows = learner.run_benchmarks(
        episodes=opts.episodes, repeats=opts.repeats, scale=opts.scale, bandwidth=bandwidth
    )
    print(learner.format_rows(rows))
    if opts.json is not None:
        path = Path(opts.json)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            tmp.write_text(json.dumps({"planner": plan_rows, "learner": rows}, indent=1))
            os.replace(tmp, path)
        except OSError as err:
            tmp.unlink(missing_ok=True)
            raise UsageError(f"cannot write --json {path}: {err.strerror or err}") from None
    return 0


# ---------------------------------------------------------------------- registration
def register(app: typer.Typer) -> None:
    """Add every command to ``app``."""
    run_opts = _game_help(RUN_OPTIONS) + EXECUTION_OPTIONS
    app.command(
        "run",
        help="Learn for K episodes over several seeds (in parallel processes), measuring both "
        "players' exact regret in every episode; write a run folder (results.parquet, "
        "manifest.json, regret.png) and print the summary.",
    )(command_function(run_opts, cmd_run))
    demo_opts = _game_help(DEMO_OPTIONS) + EXECUTION_OPTIONS
    app.command("demo", help=demo_description())(command_function(demo_opts, cmd_demo))
    app.command(
        "solve", help="Exact Stackelberg solution of a known game: values and best-response gaps."
    )(command_function(_game_help(SOLVE_OPTIONS), cmd_solve))

    def report(
        run_dir: Annotated[
            Path, typer.Argument(help="A run folder written by run or demo.", show_default=False)
        ],
    ) -> int:
        report_run(run_dir)
        return 0

    app.command("report", help="Print the summary of a run folder and (re)write its regret.png.")(
        report
    )
    app.command("games", help="List the registered games and their parameters (--param).")(
        cmd_games
    )
    app.command(
        "bench", help="Time the exact planner and whole learning runs: medians and ratios."
    )(command_function(BENCH_OPTIONS, cmd_bench))


__all__ = [
    "DEMO",
    "RUN_DEFAULTS",
    "BenchOptions",
    "SolveOptions",
    "UsageError",
    "demo_description",
    "games_listing",
    "register",
]
