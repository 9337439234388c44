"""Every seed of a :class:`~.config.RunConfig`, and its run folder.

:func:`run_seeds` (the older name :func:`run_sweep` stays as an alias; a sweep over settings is
:mod:`stackelberg_rl.sweep`) checks everything that can be checked before the first episode (the
configuration, the folder, the memory the game and the run need), reserves the run folder and
writes its manifest (status ``"running"``), plays every seed (:mod:`.executors`) of the loop in
:mod:`.loop`, and writes the results (status ``"complete"``), with ``save_plans`` every seed's
plans too (:mod:`.plans`), as :mod:`.store` describes.
Cumulative regret is estimated from the rows as ``Σ eval_weight · regret`` over evaluated rows
(:func:`stackelberg_rl.report.cumulative_regret`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..agents import resolve_beta
from ..games import Game
from ..learners import alpha_value
from .config import RunConfig, dumps
from .executors import run_all
from .loop import COLUMNS
from .plans import PLANS_FILE, Plans
from .resources import check_game_fits, check_run_fits
from .store import (
    FORMAT,
    FORMAT_VERSION,
    NewFolder,
    Reservation,
    check_destination,
    git_state,
    host,
    now,
    versions,
)


def resolved_parameters(config: RunConfig, game: Game) -> dict:
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
            out[name] = first
        else:
            out[name] = {"schedule": spec, "first": first, "last": last}
    return out


def game_record(config: RunConfig, game: Game, given: bool) -> dict:
    """What the manifest says about the game played (:meth:`FiniteGame.describe`).

    A game from a file is recorded with the file's path; a registered one with its parameters.

    Raises:
        ValueError: ``game`` was built from the registry with other parameters than
            ``config.game``, or is not the game of ``config.game``'s file: the manifest could
            not say which one was played.
    """
    record = game.describe()
    if config.game.file is not None:
        if game.fingerprint() != config.game.sha256:
            raise ValueError(
                f"the game given ({game.name}, SHA-256 {game.fingerprint()[:12]}…) is not the "
                f"game of config.game's file {config.game.file} (SHA-256 "
                f"{str(config.game.sha256)[:12]}…); make them agree, or leave out game="
            )
        record["file"] = str(Path(config.game.file).resolve())
        record["source"] = "given by the caller" if given else f"read from {config.game.file}"
        return record
    prov = game.provenance
    if prov is None:
        record["source"] = "given by the caller (config.game was not used)"
        return record
    spec = {"name": config.game.name, "params": config.game.resolved()}
    if prov != spec:
        raise ValueError(
            f"the game given ({prov['name']} with {prov['params']}) is not config.game "
            f"({spec['name']} with {spec['params']}); make them agree, or leave out game="
        )
    record["source"] = "given by the caller" if given else "built from config.game"
    return record


def run_manifest(config: RunConfig, game: Game, game_info: dict, workers: int) -> dict:
    """A run folder's manifest as it starts (status ``"running"``; see :mod:`.store`).

    Raises:
        MemoryError: the run would not fit in the available memory (with the estimate).
    """
    estimate = check_run_fits(config, game, workers)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "status": "running",
        "config": config.to_dict(),
        "resolved": resolved_parameters(config, game),
        "game": game_info,
        "seeds": config.run_seeds,
        "episodes": config.episodes,
        "workers": workers,
        "memory_estimate_bytes": estimate["total"],
        "versions": versions(),
        **git_state(),
        "host": host(),
        "pid": os.getpid(),
        "started": now(),
        "columns": list(COLUMNS),
    }


def plans_record(plans: dict[int, Plans], rows: int) -> dict:
    """What the manifest says about ``plans.npz``: its size and every seed's number of plans."""
    return {
        "file": PLANS_FILE,
        "bytes": sum(p.nbytes for p in plans.values()),
        "bytes_per_episode": sum(p.nbytes for p in plans.values()) / rows,
        "plans_per_seed": {str(s): p.n_plans for s, p in plans.items()},
    }


def run_seeds(
    config: RunConfig,
    out_dir: str | os.PathLike | NewFolder | None = None,
    workers: int | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    game: Game | None = None,
    on_start: Callable[[Path, list[int]], None] | None = None,
) -> pd.DataFrame:
    """Run every seed of ``config`` and write the run folder.

    Before the first episode: the configuration, the folder (see
    :func:`~.store.check_destination`) and the memory the game and the run need are checked, the
    folder is reserved and its manifest written. A run that fails or is interrupted removes what
    it wrote and deletes nothing else. The table is the same for any number of workers (rows
    sorted by seed, then episode).

    Args:
        config: the experiment.
        out_dir: the run folder; ``None`` for a new ``runs/GAME-YYYYmmdd-HHMMSS``, or a
            :class:`~.store.NewFolder`. An existing folder must be empty, or hold a run of this
            program and nothing else with ``overwrite``.
        workers: processes; default ``min(seeds, os.cpu_count())``. ``1`` runs in this process.
        overwrite: replace the run in ``out_dir`` (only once the new one is complete).
        progress: show a progress bar (rich) on the terminal.
        game: the game to play, if the caller has it (a large game takes seconds to build). It
            is the game every seed plays, whatever the number of workers, and the manifest
            records it (name, parameters, SHA-256 of its arrays). A game built by the registry
            must agree with ``config.game``.
        on_start: called with the run folder and the workers' process ids once they run.

    Returns:
        The results table; ``df.attrs["run_dir"]`` is the run folder.

    Raises:
        ValueError: a bad configuration, or a game that disagrees with ``config.game``.
        RunFolderError: (a ``ValueError``) a folder that cannot be used.
        MemoryError: the run would not fit in the available memory (with the estimate).
        ResultsNotSavedError: the results could not be written where asked (the message says
            where they are).
    """
    config.validate()
    if workers is None:
        workers = min(config.seeds, os.cpu_count() or 1)
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    workers = min(int(workers), config.seeds)
    if out_dir is None:
        out_dir = NewFolder("runs", config.game.label)
    if not isinstance(out_dir, NewFolder):
        check_destination(Path(out_dir), overwrite)  # cheap: before the game is built
    given = game is not None
    if game is None:
        check_game_fits(config)
        game = config.game.make()
    manifest = run_manifest(config, game, game_record(config, game, given), workers)
    text = dumps(manifest)  # a value JSON cannot hold fails here, before anything is written
    reservation = Reservation.make(out_dir, overwrite)
    t0 = time.perf_counter()

    def started(pids: list[int]) -> None:
        if on_start is not None:
            on_start(reservation.target, pids)

    try:
        reservation.start(text)
        results = _play(config, game, workers, progress, started)
        df = pd.concat([frame for frame, _ in results], ignore_index=True)
        df = df.sort_values(["seed", "episode"], ignore_index=True)
    except BaseException:
        reservation.abandon()
        raise
    plans = None
    if config.save_plans:
        plans = {s: p for s, (_, p) in zip(config.run_seeds, results, strict=True)}
        manifest["plans"] = plans_record(plans, len(df))
    manifest.update(status="complete", finished=now(), elapsed_seconds=time.perf_counter() - t0)
    run_dir = reservation.finish(df, dumps(manifest), plans)
    df.attrs["run_dir"] = str(run_dir)
    return df


run_sweep = run_seeds
"""The older name of :func:`run_seeds` (every seed of one configuration, one run folder)."""


def _play(
    config: RunConfig,
    game: Game,
    workers: int,
    progress: bool,
    on_start: Callable[[list[int]], None],
) -> list[tuple[pd.DataFrame, Plans | None]]:
    """Every seed's table and plans, under a progress bar if ``progress``."""
    if not progress:
        if workers == 1:
            on_start([])
        return run_all(config, game, workers, None, on_start=on_start)
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

        if workers == 1:
            on_start([])
        return run_all(config, game, workers, on_progress, on_start=on_start)
