"""Every seed of a :class:`~.config.RunConfig` into one run folder: a sweep of one setting.

The front end of :func:`~.driver.drive` for ``run`` and each setting of a sweep: :func:`playable`
builds a game, :func:`new_play` reserves a run folder, :func:`continued` takes one back.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .._files import jsonable
from ..agents import resolve_beta
from ..games import Game
from ..learners import alpha_value
from .config import ExecutionOptions, RunConfig, check_checkpoint_every, difference, game_record
from .driver import Play, check_backend, drive, read_checkpoints, release_backend
from .loop import DEFAULT_CHECKPOINT_EVERY, alpha_names, columns
from .resources import check_game_fits, check_results_fit, check_run_fits
from .store import (
    FORMAT,
    FORMAT_VERSION,
    NewFolder,
    Reservation,
    RunFolderError,
    check_destination,
    check_plans_whole,
    known_status,
    load_run,
    now,
    provenance,
    recorded_config,
    refuse_sweep_setting,
)

if TYPE_CHECKING:
    import pandas as pd


def resolved_parameters(config: RunConfig, game: Game) -> dict:
    """``β``, ``λ``, ``α_l``, ``α_f`` as the agents use them (a schedule: first and last value)."""
    agent = config.agent
    if agent.kind in ("random", "oracle"):
        return dict.fromkeys(("beta", "lam", *alpha_names(game.n_players)))
    K, H = config.episodes, game.horizon
    out = {"beta": resolve_beta(agent, game, K), "lam": float(agent.lam)}
    specs = agent.alpha_specs(game.n_players)
    for name, n, spec in zip(alpha_names(game.n_players), game.action_counts, specs, strict=True):
        first, last = alpha_value(spec, n, H, K, 0), alpha_value(spec, n, H, K, K - 1)
        out[name] = first if first == last else {"schedule": spec, "first": first, "last": last}
    return out


def playable(config: RunConfig, game: Game | None, workers: int) -> Game:
    """``game``, or ``config``'s built, once ``workers`` can play ``config`` on it (else raise)."""
    if game is None:
        check_game_fits(config)
        game = config.game.make()
    config.agent.alpha_specs(game.n_players)  # one α_f per follower, when a list
    check_run_fits(config, game, workers)
    return game


def new_play(
    name: str, config: RunConfig, game: Game, out, workers: int, overwrite: bool = False,
    given: bool = False, **extra,
) -> Play:  # fmt: skip
    """A new run folder reserved at ``out`` for ``config``, its manifest written (``"running"``)."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "status": "running",
        "config": config.to_dict(),
        "resolved": resolved_parameters(config, game),
        "game": game_record(config, game, given),
        "seeds": config.run_seeds,
        "episodes": config.episodes,
        "workers": workers,
        "memory_estimate_bytes": check_run_fits(config, game, workers)["total"],
        **provenance(),
        "started": now(),
        "columns": list(columns(game.n_players)),
        **extra,
    }
    return Play(name, config, game, Reservation.begin(out, manifest, overwrite), manifest)


def run_seeds(
    config: RunConfig | None,
    out_dir: str | os.PathLike | NewFolder | None = None,
    workers: int | None = None,
    *,
    overwrite: bool = False,
    progress: bool = True,
    game: Game | None = None,
    on_start: Callable[[Path, list[int]], None] | None = None,
    resume: bool = False,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
    backend: str = "local",
    address: str | None = None,
) -> pd.DataFrame:
    """Run every seed of ``config`` and write the run folder; or continue an interrupted one.

    The configuration, the folder and the memory needed are checked before the first episode.
    Each seed's state is checkpointed into ``checkpoints/`` every ``checkpoint_every`` seconds.
    An interrupted run (``KeyboardInterrupt``, a signal, ``CheckpointWriteError``) keeps its
    folder, ``"interrupted"``, and the exception carries ``run_dir``; one that fails otherwise
    removes what it wrote. The table (rows by seed, then episode) is the same for any number of
    workers and interruptions, bit for bit (``wall_time`` aside). A folder being played is
    refused to a second process.

    Args:
        config: the experiment. With ``resume``, ``None`` takes the manifest's; one that
            differs from it is refused.
        out_dir: the run folder; ``None`` for a new ``runs/GAME-YYYYmmdd-HHMMSS``, or a
            :class:`~.store.NewFolder`. An existing folder must be empty, or hold a run of this
            program and nothing else with ``overwrite``. With ``resume``: the run's folder.
        workers: processes; default ``min(seeds, os.cpu_count())``. ``1`` runs in this process.
        overwrite: replace the run in ``out_dir`` (only once the new one is complete).
        progress: show a progress bar (rich) on the terminal.
        game: the game to play, if the caller has it (it must agree with ``config.game``; a
            resumed run's, with the game it played).
        on_start: called with the run folder and the workers' process ids once they run.
        resume: continue the unfinished run in ``out_dir`` (a complete one is left as it is).
        checkpoint_every: seconds between a seed's checkpoints (``inf``: on the local backend,
            only when interrupted). It does not change the results.
        backend: ``"local"`` (processes on this machine) or ``"ray"`` (:mod:`.driver`).
        address: the Ray cluster's address (``HOST:6379``); default: the one this process is
            connected to, or a new local one.

    Returns:
        The results table; ``df.attrs["run_dir"]`` is the run folder; with ``resume``,
        ``df.attrs["resumed"]`` the seeds continued from a checkpoint and
        ``df.attrs["already_complete"]``.

    Raises:
        ValueError: a bad configuration (an agent option its other options leave without use
            among them: :meth:`~..agents.AgentConfig.check_used`), or a game that disagrees with
            it; with ``resume``, a configuration or game that is not the run's.
        RunFolderError: (a ``ValueError``) a folder that cannot be used or is being played.
        CheckpointError: (a ``ValueError``) with ``resume``, a damaged or foreign checkpoint.
        MemoryError: the run would not fit in the available memory (with the estimate).
        CheckpointWriteError: a checkpoint could not be written; the run stopped, resumable.
        ResultsNotSavedError: the results could not be written where asked (the message says
            where they are).
    """
    every = check_execution(backend, workers, checkpoint_every)
    given, p = game is not None, None
    if resume:
        if out_dir is None or isinstance(out_dir, NewFolder):
            raise ValueError("resume continues the run in a given folder: out_dir is needed")
        if overwrite:
            raise ValueError(
                "resume continues the run in its folder and overwrite replaces it: not both"
            )
        reservation, manifest = Reservation.resume(out_dir)
        folder = reservation.work
        try:
            recorded = recorded_config(folder, manifest)
            if config is not None:
                config.validate()
                diff = difference(jsonable(recorded.to_dict()), jsonable(config.to_dict()))
                if diff is not None:
                    raise ValueError(
                        f"the run in {folder} has {diff[0]} = {diff[1]!r}, the configuration "
                        f"given {diff[2]!r}: a resumed run keeps its configuration"
                    )
            config = recorded
            if manifest.get("status") == "complete":
                df, _ = load_run(folder)
                check_plans_whole(folder, manifest)
                df.attrs.update(run_dir=str(folder), resumed=[], already_complete=True)
                return df
            if known_status(folder, manifest) not in ("running", "interrupted"):
                raise RunFolderError(
                    f"{folder}: a run with status {manifest.get('status')!r} cannot be resumed"
                )
            workers = _workers(config, workers)
            game = playable(config, game, workers)
            check_backend(backend, address, workers)
            p = continued(config.game.label, config, game, reservation, manifest, workers, given)[0]
        finally:
            if p is None:  # complete, or refused: nothing to play here
                reservation.release()
                release_backend()
    else:
        if config is None:
            raise ValueError("config is needed, unless resume=True takes the run's own")
        config.validate()
        config.agent.check_used()
        check_results_fit(config)
        workers = _workers(config, workers)
        out_dir = NewFolder("runs", config.game.label) if out_dir is None else out_dir
        if not isinstance(out_dir, NewFolder):
            refuse_sweep_setting(Path(out_dir))
            check_destination(Path(out_dir), overwrite)  # cheap: before the game is built
        game = playable(config, game, workers)
        check_backend(backend, address, workers)
        try:
            p = new_play(config.game.label, config, game, out_dir, workers, overwrite, given)
        except BaseException:
            release_backend()
            raise
    started = None if on_start is None else lambda pids: on_start(p.reservation.target, pids)
    try:
        p.reservation.hold()
        drive([p], backend=backend, workers=p.manifest["workers"], address=address,
              progress=progress, checkpoint_every=every, on_start=started)  # fmt: skip
    finally:
        p.reservation.release()
    if resume:
        p.df.attrs.update(resumed=sorted(p.states), already_complete=False)
    return p.df


def check_execution(backend: str, workers: int | None, checkpoint_every: float) -> float:
    """Refuse a bad backend, number of workers or checkpoint interval; the interval."""
    ExecutionOptions(workers=workers, checkpoint_every=checkpoint_every, backend=backend)
    return check_checkpoint_every(checkpoint_every)


def _workers(config: RunConfig, workers: int | None) -> int:
    return min(workers or os.cpu_count() or 1, config.seeds)


def continued(
    name: str, config: RunConfig, game: Game, reservation: Reservation, manifest: dict,
    workers: int, given: bool = False, strict: bool = True,
) -> tuple[Play | None, list[str]]:  # fmt: skip
    """An unfinished run folder taken back as a :class:`Play`, and its unusable checkpoints.

    ``strict``: refuse another game or a damaged checkpoint; else ``None`` for another game, and
    a seed starts afresh.
    """
    folder, sha256 = reservation.work, game.fingerprint()
    played = (manifest.get("game") or {}).get("sha256")
    if sha256 != played:
        if not strict:
            return None, []
        raise ValueError(
            f"the game {'given' if given else 'built from the manifest'} (SHA-256 {sha256[:12]}…) "
            f"is not the game the run in {folder} played ({str(played)[:12]}…): the game or "
            "the package changed since; the run cannot continue"
        )
    game_record(config, game, given)
    states, done, notes = read_checkpoints(folder, config, sha256, strict)
    p = Play(name, config, game, reservation, manifest, states, done)
    previous = manifest.get("elapsed_seconds")
    reservation.restart(manifest, workers=workers)
    p.previous_seconds = float(previous) if isinstance(previous, int | float) else 0.0
    return p, notes
