"""Every seed of a :class:`~.config.RunConfig`, and its run folder written atomically.

:func:`run_sweep` plays every seed (:mod:`.executors`) of the loop in :mod:`.loop` and writes the
folder described in :mod:`.store`. Cumulative regret is estimated from the rows as
``Σ eval_weight · regret`` over evaluated rows (:func:`stackelberg_rl.report.cumulative_regret`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd

from .. import games as games_mod
from ..agents import resolve_beta
from ..learners import alpha_value
from .config import RunConfig
from .executors import run_all
from .loop import COLUMNS
from .store import (
    MANIFEST_FILE,
    RESULTS_FILE,
    _check_out_dir,
    _git_state,
    _json_number,
    _jsonable,
    _now,
    _versions,
)


def resolved_parameters(config: RunConfig, game: games_mod.FiniteGame) -> dict:
    """The numbers behind ``config.agent``: ``β``, ``λ``, ``α_l``, ``α_f`` as the agents use them.

    A schedule that changes with the episode (``"anytime"``) is given by its first and last value.
    Baselines that do not learn (``random``, ``oracle``) have none.
    """
    agent = config.agent
    if agent.kind in ("random", "oracle"):
        return {"beta": None, "lam": None, "alpha_l": None, "alpha_f": None}
    K, H = config.episodes, game.horizon
    out = {"beta": resolve_beta(agent, game, K), "lam": float(agent.lam)}
    specs = agent.alpha_specs()
    for name, n, spec in (
        ("alpha_l", game.n_leader_actions, specs[0]),
        ("alpha_f", game.n_follower_actions, specs[1]),
    ):
        first, last = alpha_value(spec, n, H, K, 0), alpha_value(spec, n, H, K, K - 1)
        if first == last:
            out[name] = _json_number(first)
        else:
            out[name] = {"schedule": spec, "first": first, "last": last}
    return out


def run_sweep(
    config: RunConfig,
    out_dir: str | os.PathLike,
    workers: int | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    game: games_mod.FiniteGame | None = None,
) -> pd.DataFrame:
    """Run every seed of ``config`` and write the run folder atomically.

    The results are written into a temporary folder next to ``out_dir`` that is renamed to
    ``out_dir`` only when everything is written: a failed run leaves nothing behind. The table is
    the same for any number of workers (rows sorted by seed, then episode).

    Args:
        config: the experiment.
        out_dir: the run folder to create (``results.parquet`` and ``manifest.json``).
        workers: processes; default ``min(seeds, os.cpu_count())``. ``1`` runs in this process.
        overwrite: replace an existing non-empty ``out_dir``.
        progress: show a progress bar (rich) on the terminal.
        game: ``config.game.make()`` when the caller has already built it (a large game takes
            seconds to build).

    Returns:
        The results table (also in ``out_dir/results.parquet``).

    Raises:
        ValueError: for a bad configuration (before anything is run or written).
        FileExistsError: if ``out_dir`` is not empty and ``overwrite`` is false.
    """
    config.validate()
    if game is None:
        game = config.game.make()  # a bad game fails here, before anything is written
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    if workers is None:
        workers = min(config.seeds, os.cpu_count() or 1)
    if int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    workers = min(int(workers), config.seeds)

    started = _now()
    t0 = time.perf_counter()
    if progress:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, transient=False) as bar:
            total = bar.add_task("episodes", total=config.episodes * config.seeds)
            done_by_seed = dict.fromkeys(config.run_seeds, 0)

            def on_progress(s: int, done: int) -> None:
                done_by_seed[s] = done
                bar.update(total, completed=sum(done_by_seed.values()))

            frames = run_all(config, game, workers, on_progress)
    else:
        frames = run_all(config, game, workers, None)
    df = pd.concat(frames, ignore_index=True).sort_values(["seed", "episode"], ignore_index=True)

    manifest = {
        "config": _jsonable(config.to_dict()),
        "resolved": resolved_parameters(config, game),
        "game": repr(game),
        "seeds": config.run_seeds,
        "episodes": config.episodes,
        "workers": workers,
        "versions": _versions(),
        **_git_state(),
        "started": started,
        "finished": _now(),
        "elapsed_seconds": time.perf_counter() - t0,
        "columns": list(COLUMNS),
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp's 0o700 would otherwise become the run folder's mode
        df.to_parquet(tmp / RESULTS_FILE, index=False)
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, allow_nan=False) + "\n")
        _check_out_dir(out_dir, overwrite)  # someone may have written there meanwhile
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return df
