"""Every seed of a :class:`~.config.RunConfig`, and its run folder.

:func:`run_seeds` (the older name :func:`run_sweep` stays as an alias; a sweep over settings is
:mod:`stackelberg_rl.sweep`) checks everything that can be checked before the first episode (the
configuration, the folder, the memory the game and the run need), reserves the run folder and
writes its manifest (status ``"running"``), plays every seed (:mod:`.executors`) of the loop in
:mod:`.loop`, and writes the results (status ``"complete"``), with ``save_plans`` every seed's
plans too (:mod:`.plans`), as :mod:`.store` describes. Every seed's state is checkpointed into
the folder as the seeds play (:mod:`.checkpoint`, :class:`~.executors.Checkpointing`), so that
an interrupted run continues (``resume=True``) to the results it would have had uninterrupted.
Cumulative regret is estimated from the rows as ``Σ eval_weight · regret`` over evaluated rows
(:func:`stackelberg_rl.report.cumulative_regret`).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..agents import resolve_beta
from ..games import Game
from ..learners import alpha_value
from . import checkpoint as ckpt
from .config import RunConfig, check_checkpoint_every, difference, dumps, jsonable
from .executors import Checkpointing, progress_bar, run_all
from .loop import COLUMNS, DEFAULT_CHECKPOINT_EVERY, finished, finished_result
from .plans import PLANS_FILE, Plans
from .resources import check_game_fits, check_run_fits
from .store import (
    FORMAT,
    FORMAT_VERSION,
    NewFolder,
    Reservation,
    RunFolderError,
    check_destination,
    git_state,
    host,
    load_run,
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
) -> pd.DataFrame:
    """Run every seed of ``config`` and write the run folder; or continue an interrupted one.

    Before the first episode: the configuration, the folder (see
    :func:`~.store.check_destination`) and the memory the game and the run need are checked, the
    folder is reserved and its manifest written. While the seeds play, each one's state is
    checkpointed into ``checkpoints/`` every ``checkpoint_every`` seconds, and a seed's table
    as soon as it is done. A run that is interrupted (``KeyboardInterrupt``, a signal turned into
    an exception) asks its seeds for their states, writes them, and keeps its folder with status
    ``"interrupted"``; so does a run whose checkpoints cannot be written (disk full, folder not
    writable: :class:`~.checkpoint.CheckpointWriteError`), its last checkpoints intact. The
    exception that stopped it carries ``run_dir``, the folder to resume. A run that fails
    otherwise removes what it wrote and deletes nothing else. The table is the same for any
    number of workers (rows sorted by seed, then episode), and for any interruptions.

    ``resume=True`` continues the unfinished run in ``out_dir`` with the configuration its
    manifest records: every seed from its last checkpoint (from the start if it has none; a
    finished seed is not played again), and finishes the folder as the run would have. The
    results are those of an uninterrupted run, bit for bit, ``wall_time`` aside. A complete run
    is left as it is (its table is returned).

    Args:
        config: the experiment. With ``resume``, ``None`` takes the manifest's; a configuration
            that differs from it is refused.
        out_dir: the run folder; ``None`` for a new ``runs/GAME-YYYYmmdd-HHMMSS``, or a
            :class:`~.store.NewFolder`. An existing folder must be empty, or hold a run of this
            program and nothing else with ``overwrite``. With ``resume``: the run's folder.
        workers: processes; default ``min(seeds, os.cpu_count())``. ``1`` runs in this process.
        overwrite: replace the run in ``out_dir`` (only once the new one is complete).
        progress: show a progress bar (rich) on the terminal.
        game: the game to play, if the caller has it (a large game takes seconds to build). It
            is the game every seed plays, whatever the number of workers, and the manifest
            records it (name, parameters, SHA-256 of its arrays). A game built by the registry
            must agree with ``config.game``; a resumed run's, with the game it played.
        on_start: called with the run folder and the workers' process ids once they run.
        resume: continue the interrupted run in ``out_dir``.
        checkpoint_every: seconds between a seed's checkpoints (``inf``: only when
            interrupted). It does not change the results.

    Returns:
        The results table; ``df.attrs["run_dir"]`` is the run folder, and with ``resume``
        ``df.attrs["resumed"]`` the seeds continued from a checkpoint (``[]`` if the run was
        already complete: ``df.attrs["already_complete"]`` is then true).

    Raises:
        ValueError: a bad configuration, a game that disagrees with ``config.game``; with
            ``resume``, a configuration or game that is not the run's.
        RunFolderError: (a ``ValueError``) a folder that cannot be used; with ``resume``, one
            that holds no unfinished run of this program.
        CheckpointError: (a ``ValueError``) with ``resume``, a checkpoint that is damaged or not
            of this run (named; delete it to play that seed from the start).
        MemoryError: the run would not fit in the available memory (with the estimate).
        CheckpointWriteError: a checkpoint could not be written; the run stopped, resumable.
        ResultsNotSavedError: the results could not be written where asked (the message says
            where they are).
    """
    checkpoint_every = check_checkpoint_every(checkpoint_every)
    if resume:
        return _resume(config, out_dir, workers, overwrite, progress, game, on_start,
                       float(checkpoint_every))  # fmt: skip
    if config is None:
        raise ValueError("config is needed, unless resume=True takes the run's own")
    config.validate()
    workers = _workers(config, workers)
    if out_dir is None:
        out_dir = NewFolder("runs", config.game.label)
    if not isinstance(out_dir, NewFolder):
        check_destination(Path(out_dir), overwrite)  # cheap: before the game is built
    given = game is not None
    if game is None:
        check_game_fits(config)
        game = config.game.make()
    manifest = run_manifest(config, game, game_record(config, game, given), workers)
    dumps(manifest)  # a value JSON cannot hold fails here, before anything is written
    reservation = Reservation.make(out_dir, overwrite)
    if reservation.mode == "replace":
        # Written beside the run it replaces: an interrupted run is resumed there, and still
        # replaces this folder once complete.
        manifest["replaces"] = str(reservation.target)
    try:
        reservation.start(dumps(manifest))
    except BaseException:
        reservation.abandon()
        raise
    return _execute(
        config, game, workers, progress, on_start, reservation, manifest, {}, {},
        checkpoint_every, previous_seconds=0.0,
    )  # fmt: skip


def _workers(config: RunConfig, workers: int | None) -> int:
    if workers is None:
        workers = min(config.seeds, os.cpu_count() or 1)
    if isinstance(workers, bool) or int(workers) != workers or workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    return min(int(workers), config.seeds)


def _resume(
    config: RunConfig | None,
    out_dir,
    workers: int | None,
    overwrite: bool,
    progress: bool,
    game: Game | None,
    on_start,
    checkpoint_every: float,
) -> pd.DataFrame:
    """:func:`run_seeds` with ``resume=True``."""
    if out_dir is None or isinstance(out_dir, NewFolder):
        raise ValueError("resume continues the run in a given folder: out_dir is needed")
    if overwrite:
        raise ValueError(
            "resume continues the run in its folder and overwrite replaces it: not both"
        )
    folder = Path(out_dir)
    reservation, manifest = Reservation.resume(folder)
    try:
        recorded = RunConfig.from_dict(manifest.get("config") or {})
    except (TypeError, ValueError) as err:
        raise RunFolderError(
            f"{folder}: the manifest's configuration is unreadable: {err}"
        ) from None
    if config is not None:
        config.validate()
        diff = difference(jsonable(recorded.to_dict()), jsonable(config.to_dict()))
        if diff is not None:
            where, theirs, ours = diff
            raise ValueError(
                f"the run in {folder} has {where} = {theirs!r}, the configuration given "
                f"{ours!r}: a resumed run keeps its configuration"
            )
    config = recorded
    if manifest.get("status") == "complete":
        df, _ = load_run(folder)
        df.attrs.update(run_dir=str(folder), resumed=[], already_complete=True)
        return df
    if manifest.get("status") not in ("running", "interrupted"):
        raise RunFolderError(
            f"{folder}: a run with status {manifest.get('status')!r} cannot be resumed"
        )
    workers = _workers(config, workers)
    given = game is not None
    if game is None:
        check_game_fits(config)
        game = config.game.make()
    sha256 = game.fingerprint()
    played = (manifest.get("game") or {}).get("sha256")
    if sha256 != played:
        raise ValueError(
            f"the game {'given' if given else 'built from the manifest'} (SHA-256 {sha256[:12]}…) "
            f"is not the game the run in {folder} played ({str(played)[:12]}…): the game or "
            "the package changed since; the run cannot continue"
        )
    game_record(config, game, given)
    check_run_fits(config, game, workers)
    states, done = _read_checkpoints(folder, config, sha256)
    previous = manifest.get("elapsed_seconds")
    previous = float(previous) if isinstance(previous, int | float) else 0.0
    manifest.update(
        status="running",
        workers=workers,
        versions=versions(),
        **git_state(),
        host=host(),
        pid=os.getpid(),
    )
    manifest["resumed"] = [*manifest.get("resumed", []), now()]
    for key in ("interrupted", "reason", "checkpoints"):
        manifest.pop(key, None)
    reservation.write_manifest(dumps(manifest))
    df = _execute(
        config, game, workers, progress, on_start, reservation, manifest, states, done,
        checkpoint_every, previous_seconds=previous,
    )  # fmt: skip
    df.attrs.update(resumed=sorted(states), already_complete=False)
    return df


def _read_checkpoints(
    folder: Path, config: RunConfig, sha256: str
) -> tuple[dict[int, bytes], dict[int, tuple[pd.DataFrame, Plans | None]]]:
    """The checkpoints of an unfinished run: states to continue from, and finished seeds.

    Raises:
        CheckpointError: a checkpoint is damaged or not of this run (its path named), or a
            file is not of a seed of this run.
        RunFolderError: a checkpoint cannot be read.
    """
    states: dict[int, bytes] = {}
    done: dict[int, tuple[pd.DataFrame, Plans | None]] = {}
    where = folder / ckpt.CHECKPOINTS_DIR
    if not where.is_dir():
        return states, done
    names = {ckpt.checkpoint_name(s): s for s in config.run_seeds}
    for path in sorted(where.iterdir()):
        if path.name.startswith(".tmp-"):
            continue  # a write cut short; the checkpoint under its name is whole
        if path.name not in names:
            raise ckpt.CheckpointError(
                f"{path} is not the checkpoint of a seed of this run (seeds {config.seed}.."
                f"{config.seed + config.seeds - 1}); remove it to resume"
            )
        seed = names[path.name]
        try:
            data = path.read_bytes()
        except OSError as err:
            raise RunFolderError(f"cannot read {path}: {err.strerror or err}") from None
        hint = f"{path} (remove it to play seed {seed} from the start)"
        try:
            header, tree = ckpt.read(data, config, sha256, seed, str(path))
            if header["finished"]:
                done[seed] = finished_result(tree, config, header["episodes_done"], str(path))
            else:
                states[seed] = data
        except ckpt.CheckpointError as err:
            raise ckpt.CheckpointError(f"{err}; {hint}") from None
    return states, done


def _execute(
    config: RunConfig,
    game: Game,
    workers: int,
    progress: bool,
    on_start,
    reservation: Reservation,
    manifest: dict,
    states: dict[int, bytes],
    done: dict[int, tuple[pd.DataFrame, Plans | None]],
    checkpoint_every: float,
    previous_seconds: float,
) -> pd.DataFrame:
    """Play the seeds not ``done`` (from ``states`` where given), checkpointing them; finish."""
    t0 = time.perf_counter()
    sha256 = manifest["game"]["sha256"]
    written = {s: ckpt.peek(data)["episodes_done"] for s, data in states.items()}
    written.update(dict.fromkeys(done, config.episodes))

    def on_checkpoint(seed: int, data: bytes) -> None:
        episodes = ckpt.peek(data)["episodes_done"]
        if episodes <= written.get(seed, 0):
            return  # a newer state of this seed is already written (messages may cross)
        reservation.write_checkpoint(seed, data)
        written[seed] = episodes

    def on_finished(seed: int, df: pd.DataFrame, plans: Plans | None) -> None:
        on_checkpoint(seed, finished(config, sha256, seed, df, plans))

    checkpointing = Checkpointing(
        states=states,
        every=checkpoint_every,
        on_checkpoint=on_checkpoint,
        on_finished=on_finished,
    )
    to_play = [s for s in config.run_seeds if s not in done]

    def started(pids: list[int]) -> None:
        if on_start is not None:
            on_start(reservation.target, pids)

    try:
        played = _play(config, game, workers, progress, started, to_play, checkpointing, written)
    except BaseException as err:
        if isinstance(err, Exception) and not isinstance(err, ckpt.CheckpointWriteError):
            if not reservation.resumed:
                reservation.abandon()
                raise
        _stopped(reservation, manifest, err, written, previous_seconds + time.perf_counter() - t0)
        raise
    results = {**done, **dict(zip(to_play, played, strict=True))}
    frames = [results[s][0] for s in config.run_seeds]
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values(["seed", "episode"], ignore_index=True)
    plans = None
    if config.save_plans:
        plans = {s: results[s][1] for s in config.run_seeds}
        manifest["plans"] = plans_record(plans, len(df))
    manifest.update(
        status="complete",
        finished=now(),
        elapsed_seconds=previous_seconds + time.perf_counter() - t0,
    )
    run_dir = reservation.finish(df, dumps(manifest), plans)
    df.attrs["run_dir"] = str(run_dir)
    return df


def _stopped(
    reservation: Reservation, manifest: dict, err: BaseException, written: dict, seconds: float
) -> None:
    """Mark a stopped run ``"interrupted"`` (if the folder can still be written); tell ``err``.

    The exception gets ``run_dir``: the folder that resumes the run.
    """
    signum = getattr(err, "signum", None)
    if isinstance(signum, int):
        reason = f"signal {signal.Signals(signum).name}"
    else:
        reason = type(err).__name__ if not str(err) else f"{type(err).__name__}: {err}"
    manifest.update(
        status="interrupted",
        interrupted=now(),
        reason=reason,
        checkpoints={str(s): n for s, n in sorted(written.items())},
        elapsed_seconds=seconds,
    )
    try:
        reservation.write_manifest(dumps(manifest))
    except OSError:
        pass  # a full disk: the manifest still says "running", which resumes as well
    try:
        err.run_dir = str(reservation.work)
    except AttributeError:  # pragma: no cover - an exception without a __dict__
        pass


run_sweep = run_seeds
"""The older name of :func:`run_seeds` (every seed of one configuration, one run folder)."""


def _play(
    config: RunConfig,
    game: Game,
    workers: int,
    progress: bool,
    on_start: Callable[[list[int]], None],
    seeds: list[int],
    checkpointing: Checkpointing,
    done: dict[int, int],
) -> list[tuple[pd.DataFrame, Plans | None]]:
    """The tables and plans of ``seeds``, under a progress bar if ``progress``.

    ``done``: the episodes each seed had played (a resumed run's), where the bar starts.
    """
    if not progress:
        return run_all(
            config, game, workers, None, on_start=on_start, seeds=seeds,
            checkpointing=checkpointing,
        )  # fmt: skip
    with progress_bar() as bar:
        done_by_seed = {s: done.get(s, 0) for s in config.run_seeds}
        total = bar.add_task(
            "[bold]episodes[/bold]",
            total=config.episodes * config.seeds,
            completed=sum(done_by_seed.values()),
        )

        def on_progress(s: int, n: int) -> None:
            done_by_seed[s] = n
            bar.update(total, completed=sum(done_by_seed.values()))

        return run_all(
            config, game, workers, on_progress, on_start=on_start, seeds=seeds,
            checkpointing=checkpointing,
        )  # fmt: skip
