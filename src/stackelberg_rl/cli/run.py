"""``run``, ``demo`` and ``report``: learn over seeds, write a run folder, summarise it.

``run`` and ``demo`` take the fields of :class:`~stackelberg_rl.experiments.RunConfig` (the
agent's flattened in) and of :class:`~stackelberg_rl.experiments.ExecutionOptions`; they differ
only in their defaults (:data:`RUN_DEFAULTS`, :data:`DEMO`) and in where they write by default.
With ``--resume DIR`` the configuration is the one DIR's manifest records: an option given with
it must agree.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer

from .. import games as games_mod
from ..agents import AgentConfig
from ..experiments import (
    PLOT_FILE,
    RESULTS_FILE,
    CheckpointError,
    CheckpointWriteError,
    ExecutionOptions,
    GameSpec,
    NewFolder,
    ResultsNotSavedError,
    RunConfig,
    RunFolderError,
    load_run,
    run_sweep,
)
from ..experiments.resources import check_game_fits
from ..experiments.store import read_manifest
from ..learners import alpha_value
from ..report import learning_summary, plot_cumulative_regret, summary
from .errors import INTERRUPTION, PROG, UsageError, checked
from .options import build, command_function, options

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

RUN_OPTIONS = options(RUN_DEFAULTS)
DEMO_OPTIONS = options(DEMO)
EXECUTION_OPTIONS = options(ExecutionOptions())


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
    note = _monte_carlo_note(df, manifest)
    if note:
        console.print(note, markup=False, highlight=False)


def _monte_carlo_note(df: pd.DataFrame, manifest: dict | None) -> str | None:
    """How precise a continuous game's Monte-Carlo regret is (None for exact regret)."""
    columns = [f"regret_{p}_ci" for p in ("leader", "follower")]
    if not set(columns) <= set(df.columns) or not np.isfinite(df[columns].to_numpy()).any():
        return None
    evaluation = ((manifest or {}).get("game") or {}).get("evaluation") or {}
    how = ", ".join(f"{k}={v}" for k, v in evaluation.items() if k != "method")
    widths = ", ".join(f"{c.split('_')[1]} ±{df[c].mean():.3g}" for c in columns)
    return (
        f"Regret estimated by planning on sampled states (math.md §6{'; ' + how if how else ''});"
        f" mean 95% half-width per episode: {widths}."
    )


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
    print(f"results: {run_dir / RESULTS_FILE}, plot: {run_dir / PLOT_FILE}")
    return df, manifest


def resumed_config(folder: str, values: dict[str, Any]) -> RunConfig:
    """The configuration of the run in ``folder``, checked against the options given.

    Raises:
        UsageError: ``folder`` holds no run of this program, or an option given disagrees with
            the run's configuration (naming both values).
    """
    try:
        recorded = RunConfig.from_dict(read_manifest(Path(folder)).get("config") or {})
    except (RunFolderError, TypeError, ValueError) as err:
        raise UsageError(f"cannot resume {folder}: {err}") from None
    opts = options(recorded)
    merged = checked(lambda: build(recorded, opts, values))
    for option in opts:
        if option.ident not in values:
            continue
        ours, theirs = merged, recorded
        for name in option.path:
            ours, theirs = getattr(ours, name), getattr(theirs, name)
        if ours != theirs:
            raise UsageError(
                f"{option.name} {_shown(ours)} disagrees with the run in {folder}, which has "
                f"{_shown(theirs)}: a resumed run keeps its configuration; leave {option.name} out"
            )
    return recorded


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "{}"
    return str(value)


def execute(
    values: dict[str, Any], defaults: RunConfig, default_folder: NewFolder | None = None
) -> pd.DataFrame:
    """Build the configuration from the options, check it, run it, write and report the folder.

    The run folder is ``--out``, else ``default_folder``, else a new ``runs/GAME-…`` named after
    the game (its registered name or its file's stem). With ``--resume DIR``, the interrupted
    run in DIR continues, with the configuration its manifest records.
    """
    execution = checked(lambda: build(ExecutionOptions(), EXECUTION_OPTIONS, values))
    if execution.resume is not None:
        config = resumed_config(execution.resume, values)
    else:
        opts = options(defaults)
        config = checked(lambda: build(defaults, opts, values))
    workers = execution.workers or min(config.seeds, os.cpu_count() or 1)

    def make_game() -> games_mod.Game:
        check_game_fits(config)
        return config.game.make()

    game = checked(make_game)

    def announce(run_dir: Path, pids: list[int]) -> None:
        print(f"run folder: {run_dir}", flush=True)

    resume = execution.resume is not None
    out = (
        execution.resume or execution.out or default_folder or NewFolder("runs", config.game.label)
    )
    INTERRUPTION["note"] = "no run folder was written"
    try:
        df = run_sweep(
            config,
            out,
            workers,
            overwrite=execution.overwrite,
            progress=not execution.quiet,
            game=game,
            on_start=announce,
            resume=resume,
            checkpoint_every=execution.checkpoint_every,
        )
    except CheckpointWriteError as err:
        raise UsageError(f"{err.strerror}; the run stopped: {_resume_hint(err)}") from None
    except (RunFolderError, CheckpointError, MemoryError, ResultsNotSavedError) as err:
        raise UsageError(str(err)) from None
    except BaseException as err:
        if getattr(err, "run_dir", None):
            INTERRUPTION["note"] = _resume_hint(err)
        raise
    INTERRUPTION["note"] = f"the finished run is in {df.attrs['run_dir']}"
    if df.attrs.get("already_complete"):
        print(f"nothing to resume: the run in {df.attrs['run_dir']} is complete", flush=True)
    report_run(Path(df.attrs["run_dir"]))
    return df


def _resume_hint(err: BaseException) -> str:
    """What an unfinished run left and how to continue it, from the exception that stopped it."""
    run_dir = getattr(err, "run_dir", None)
    if not run_dir:
        return "nothing was kept"
    return f"checkpoints kept, resume with {PROG} run --resume {run_dir}"


def cmd_run(values: dict[str, Any]) -> int:
    """Run every seed of an experiment, write the run folder, print the summary."""
    execute(values, RUN_DEFAULTS)
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


def register(app: typer.Typer) -> None:
    """Add ``run``, ``demo`` and ``report`` to ``app``."""
    app.command(
        "run",
        help="Learn for K episodes over several seeds (in parallel processes), measuring both "
        "players' regret in every episode (exact, or on a continuous game estimated with 95% "
        "intervals); write a run folder (results.parquet, manifest.json, regret.png) and print "
        "the summary.",
    )(command_function(RUN_OPTIONS + EXECUTION_OPTIONS, cmd_run))
    app.command("demo", help=demo_description())(
        command_function(DEMO_OPTIONS + EXECUTION_OPTIONS, cmd_demo)
    )

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
