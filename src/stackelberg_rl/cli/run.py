"""``run`` and ``report``: learn over seeds and write a run folder; report on a folder.

``run`` takes the fields of :class:`~stackelberg_rl.experiments.RunConfig` and of
:class:`~stackelberg_rl.experiments.ExecutionOptions`; with ``--resume DIR`` the configuration is
the one DIR's manifest records. ``report`` writes the page of a run, sweep or exploration folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from .. import experiments
from ..equilibria.reward_free import EXPLORATION_FOLDER, GAPS_FILE, PLAN_PREFIX
from ..experiments import ExecutionOptions, run_seeds, store
from ..report import learning_summary, page, plot_cumulative_regret, summary
from ..report.analysis import slope_lines
from ..sweep import is_sweep_folder
from ..sweep.grid import lost_sweep_file
from .errors import INTERRUPTION, PROG, UsageError, checked, print_table, resume_hint, say
from .options import (
    EXECUTION_OPTIONS,
    RUN_DEFAULTS,
    RUN_OPTIONS,
    argument,
    build,
    check_unchanged,
    command,
    make_game,
    unused_agent_option,
)


def _describe_run(manifest: dict) -> str:
    config = manifest.get("config") or {}
    words = [str((manifest.get("game") or {}).get("name", "?"))]
    words.append(f"agent={(config.get('agent') or {}).get('kind', '?')}")
    for key, value in (manifest.get("resolved") or {}).items():
        if isinstance(value, dict):
            value = f"{value.get('schedule')} {value.get('first'):.3g}..{value.get('last'):.3g}"
        elif isinstance(value, float):
            value = f"{value:.4g}"
        if value is not None:
            words.append(f"{key}={value}")
    return "  ".join(words)


FOLDER_HELP = "A run folder (run), a sweep folder (demo) or an exploration folder (explore)."


def report_run(run_dir: Path) -> None:
    """Print a run folder's regret at ``K`` (mean ± 95% interval, per episode), write regret.png."""
    df, manifest = checked(lambda: experiments.load_run(run_dir))
    s, learn = summary(df), learning_summary(df)
    K, n = int(s["K"].iloc[0]), int(s["seeds"].iloc[0])
    rows = [
        [row["player"],
         f"{row['mean']:.4g}" + (f" ± {h:.3g}" if np.isfinite(h := row["half_width"]) else "")]
        + [f"{x:.4g}" if np.isfinite(x) else "nan" for x in lrow[["first_quarter", "last_quarter"]]]
        for (_, row), (_, lrow) in zip(s.iterrows(), learn.iterrows(), strict=True)
    ]  # fmt: skip
    described = _describe_run(manifest)
    say(described)
    print_table(
        f"Regret after K={K} episodes, {n} seed{'s' if n > 1 else ''}",
        ["player", "cumulative regret (mean ± 95% CI)", "per-episode, first quarter",
         "per-episode, last quarter"],
        rows,
    )  # fmt: skip
    columns = [f"regret_{p}_ci" for p in ("leader", "follower")]
    if set(columns) <= set(df.columns) and np.isfinite(df[columns].to_numpy()).any():
        # a continuous game: regret estimated by Monte Carlo, with its precision
        evaluation = (manifest.get("game") or {}).get("evaluation") or {}
        how = ", ".join(f"{k}={v}" for k, v in evaluation.items() if k != "method")
        widths = ", ".join(f"{c.split('_')[1]} ±{df[c].mean():.3g}" for c in columns)
        say(
            f"Regret estimated by planning on sampled states (math.md §6{'; ' + how if how else ''}"
            f"); mean 95% half-width per episode: {widths}."
        )
    plot, title = run_dir / experiments.PLOT_FILE, described.replace("  ", ", ", 1)
    checked(lambda: plot_cumulative_regret(df, plot, title=title), writing=str(plot))
    print(f"results: {run_dir / experiments.RESULTS_FILE}, plot: {plot}")


def read_exploration(folder: Path) -> tuple[dict, dict | None, dict[str, dict]]:
    """An exploration folder's manifest, ``gaps.json`` and ``plan-*.json`` (else RunFolderError)."""
    hint = f"; continue it with {PROG} explore --resume {folder}"
    manifest = store.read_complete(folder, EXPLORATION_FOLDER, hint=hint)
    gaps_path = folder / GAPS_FILE
    gaps = store.read_record(gaps_path, "a record of gaps") if gaps_path.is_file() else None
    plans = {
        p.stem[len(PLAN_PREFIX) :]: store.read_record(p, "a record of a plan's gaps")
        for p in sorted(folder.glob(PLAN_PREFIX + "*.json"))
    }
    return manifest, gaps, plans


@command([], argument("folder", FOLDER_HELP, "FOLDER"))
def report(values: dict[str, Any]) -> int:
    """Write FOLDER/report.html: one self-contained page (figures inline, nothing fetched).

    The page holds each setting's regret and its soft-max bias, regret against K with log-log
    slopes (a sweep over K), the dependence on the sizes and beta a sweep varies, the CCSE
    certificate of runs saved with their plans, reward-free gaps (an exploration folder) and the
    manifest; the figures also as report-*.png. For a run folder it also prints the summary and
    rewrites regret.png; for a sweep over K, each curve's slope with its 95% interval.
    """
    folder = values["folder"]

    def write():
        if is_sweep_folder(folder):
            return page.write_sweep_report(folder)
        try:
            kind = json.loads((folder / experiments.MANIFEST_FILE).read_text())["format"]
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError):
            kind = None
        if kind == EXPLORATION_FOLDER.format:
            return page.write_exploration_report(folder, *read_exploration(folder))
        if lost_sweep_file(folder):
            raise experiments.RunFolderError(
                f"{folder} looks like a sweep folder without its {store.SWEEP_FILE} (only run "
                f"folders of a sweep's settings inside): rebuild it with {PROG} sweep FILE --out "
                f"{folder} (FILE the sweep's file; the settings played are kept), then report it"
            )
        if not (folder / experiments.MANIFEST_FILE).is_file():
            why = "it is a file" if folder.is_file() else "no such folder"
            why = f"no {experiments.MANIFEST_FILE}" if folder.is_dir() else why
            raise experiments.RunFolderError(
                f"{folder} is not a run, sweep or exploration folder of {PROG}: {why}"
            )
        report_run(folder)
        return page.write_run_report(folder)

    written = checked(write, writing=f"the report in {folder}")
    for line in slope_lines(getattr(written, "k_curves", [])):  # a sweep over K
        print(line)
    print(f"report: {written if isinstance(written, Path) else written.path}")
    left_out = getattr(written, "left_out", [])
    for name, reason, _ in left_out:
        print(f"{PROG} report: setting {name} left out: {reason}", file=sys.stderr)
    missing = getattr(written, "missing", [])  # a part that could not be computed: a damaged
    for line in missing:  # plans file, a game file moved away; the rest of the page is written
        print(f"{PROG} report: {line}", file=sys.stderr)
    # A setting left out, damaged or not finished, is a part missing from the page alike.
    return 2 if missing or left_out else 0


@command(RUN_OPTIONS + EXECUTION_OPTIONS)
def run(values: dict[str, Any]) -> int:
    """Learn for K episodes over several seeds (in parallel processes), measuring regret.

    Both players' regret is measured in every episode (exact, or on a continuous game estimated
    with 95% intervals). It writes a run folder (results.parquet, manifest.json, regret.png) and
    prints the summary.
    """
    execution = checked(lambda: build(ExecutionOptions(), EXECUTION_OPTIONS, values))
    if execution.resume is not None:  # the recorded configuration; an option may not change it
        folder = execution.resume
        try:
            config = store.recorded_config(Path(folder), store.read_manifest(Path(folder)))
        except ValueError as err:
            raise UsageError(f"cannot resume {folder}: {err}") from None
        # the game first: its recorded --param values need not be another game's parameters
        names = [o for o in RUN_OPTIONS if o.path == ("game", "name") and o.ident in values]
        for o in names:
            given = SimpleNamespace(game=SimpleNamespace(name=o.value(values[o.ident])))
            check_unchanged(given, config, [o], values, f"run in {folder}")
        merged = checked(lambda: build(config, RUN_OPTIONS, values))
        check_unchanged(merged, config, RUN_OPTIONS, values, f"run in {folder}")
    else:
        config = checked(lambda: build(RUN_DEFAULTS, RUN_OPTIONS, values))
        given = [o.path[-1] for o in RUN_OPTIONS if o.ident in values and o.path[0] == "agent"]
        amiss = unused_agent_option(config.agent, given)
        if amiss:
            raise UsageError(f"{amiss}: leave it out")
    game = make_game(config)
    checked(lambda: config.agent.alpha_specs(game.n_players))  # one α_f per follower
    INTERRUPTION["note"] = "no run folder was written"
    try:
        df = run_seeds(
            config, execution.resume or execution.out, execution.workers,
            overwrite=execution.overwrite, progress=not execution.quiet,
            game=game, on_start=_started,
            resume=execution.resume is not None, checkpoint_every=execution.checkpoint_every,
            backend=execution.backend, address=execution.address,
        )  # fmt: skip
    except experiments.CheckpointWriteError as err:
        raise UsageError(f"{err.strerror}; the run stopped: {_resume_hint(err)}") from None
    except (
        experiments.RunFolderError, experiments.CheckpointError, MemoryError,
        experiments.ResultsNotSavedError, experiments.BackendUnavailableError,
    ) as err:  # fmt: skip
        raise UsageError(str(err)) from None
    except BaseException as err:
        if getattr(err, "run_dir", None):
            INTERRUPTION["note"] = _resume_hint(err)
        raise
    INTERRUPTION["note"] = f"the finished run is in {df.attrs['run_dir']}"
    folder = Path(df.attrs["run_dir"])
    if df.attrs.get("already_complete"):
        print(f"nothing to resume: the run in {folder} is complete", flush=True)
        for work, current in store.pending_replacements(folder):  # --overwrite, then kill -9
            how = f"continue it with {PROG} run --resume {work}" if current else (
                f"{folder} was replaced since, so it never will be: remove it")  # fmt: skip
            print(f"an unfinished run that was to replace it is in {work}: {how}", flush=True)
    report_run(folder)
    return 0


def _started(run_dir, pids) -> None:
    print(f"run folder: {run_dir}", flush=True)
    INTERRUPTION["note"] = f"the run folder is kept: continue it with {PROG} run --resume {run_dir}"


def _resume_hint(err: BaseException) -> str:
    run_dir = getattr(err, "run_dir", None)
    if not run_dir:
        return "nothing was kept"
    return resume_hint(run_dir, "run")
