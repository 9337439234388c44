"""The one run driver: every seed of every setting, on local processes or Ray, into run folders.

:func:`drive` plays the seeds not done of a list of :class:`Play`, longest first, for ``run``,
``sweep`` and ``demo``; only it writes (checkpoints, then finished folders). Interrupted, it keeps
what is finished, waits :data:`STOP_GRACE` seconds for the seeds' states and marks the unfinished
folders ``"interrupted"``. A play with a ``source`` takes its seeds from the source's first
episodes (:func:`prefix_result`).
"""

from __future__ import annotations

import ctypes
import logging
import math
import os
import pickle
import queue as _queue
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Future
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from .._board import Board
from .._signals import signals_held
from ..games import Game
from . import checkpoint as ckpt
from .config import RunConfig, dumps
from .loop import Result, as_table, finished, finished_result, play
from .plan_history import PLANS_FILE
from .store import Reservation, RunFolderError, now

if TYPE_CHECKING:
    import pandas as pd

RAY_SILENCE = 120.0  # seconds without an answer from a Ray cluster before it counts as lost
RAY_CONNECT = 60.0  # seconds to reach a Ray cluster at a given address before it counts as absent
STOP_GRACE = 5.0  # seconds to wait, after an interruption, for the seeds' states


class BackendUnavailableError(RuntimeError):
    """The backend cannot run here (Ray not installed, no cluster at the address, a dead worker)."""


@dataclass
class Play:
    """One setting as the driver plays it: its run folder and what it has so far."""

    name: str
    config: RunConfig
    game: Game
    reservation: Reservation
    manifest: dict  # the run folder's, as written with status "running"
    states: dict[int, bytes] = field(default_factory=dict)  # what unfinished seeds continue from
    done: dict[int, Result] = field(default_factory=dict)  # finished seeds (earlier sessions too)
    previous_seconds: float = 0.0  # played in earlier sessions
    failed: dict[int, str] = field(default_factory=dict)  # the last line of each seed's error
    status: str = "running"  # then "complete", "failed" or "interrupted"
    df: pd.DataFrame | None = None  # the results table, once complete
    written: dict[int, int] = field(default_factory=dict)  # episodes of each seed's checkpoint
    source: Play | None = None  # the longer run whose first episodes its seeds are: not played

    def __post_init__(self) -> None:
        self.written = {s: ckpt.peek(d)["episodes_done"] for s, d in self.states.items()}
        self.written.update(dict.fromkeys(self.done, self.config.episodes))

    @property
    def to_play(self) -> list[int]:
        """The seeds still to be played."""
        return [s for s in self.config.run_seeds if s not in self.done]


@dataclass(frozen=True)
class Task:
    """One seed of one setting (``play``: the setting's position in :func:`drive`'s list)."""

    index: int
    play: int
    name: str
    config: RunConfig
    seed: int
    fingerprint: str
    state: bytes | None = None

    def episodes_done(self) -> int:
        """The episodes its checkpoint ``state`` holds (0 without one)."""
        return ckpt.peek(self.state)["episodes_done"] if self.state is not None else 0


def prefix_result(result: Result, episodes: int) -> Result:
    """A seed's first ``episodes`` episodes as that run plays them (players not using ``K``)."""
    df, plans = result
    part = df.iloc[:episodes].copy()  # one seed's rows, in order; the last weights are cut
    part["eval_weight"] = np.minimum(part["eval_weight"], episodes - part["episode"])
    return part, None if plans is None else plans.prefix(episodes)


def _cost(task: Task, game: Game) -> float:
    """A task's rough cost, to start the longest first (re-planning every episode is ``O(K²)``)."""
    d, J, H = game.dim, math.prod(game.action_counts), game.horizon
    agent, K, done = task.config.agent, task.config.episodes, task.episodes_done()
    cost = (K - done) * H * (d * d + J * d)
    if agent.kind.endswith("lsvi-ucb") and agent.schedule == "every":
        cost += H * J * d * (K - done) * (K + done - 1) / 2  # Σ k over the episodes left
    return cost


def drive(
    plays: list[Play], *, backend: str = "local", workers: int = 1, address: str | None = None,
    progress: bool = True, checkpoint_every: float = math.inf, fail_fast: bool = True,
    on_start: Callable[[list[int]], None] | None = None, log: Callable[..., None] | None = None,
    on_change: Callable[[], None] | None = None,
) -> None:  # fmt: skip
    """Play every seed of ``plays`` not done and finish each run folder (see the module)."""
    log = log or (lambda *args: None)
    t0 = time.perf_counter()
    tasks: list[Task] = []
    games: dict[str, Game] = {}
    prefixes: dict[int, list[Play]] = {id(p): [] for p in plays}
    for i, p in enumerate(plays):
        if p.source is not None:
            if id(p.source) not in prefixes or p.source.source is not None:
                raise ValueError(f"setting {p.name}: its source is not a play of this drive")
            prefixes[id(p.source)].append(p)
            continue
        fingerprint = p.manifest["game"]["sha256"]
        games[fingerprint] = p.game
        tasks += [Task(0, i, p.name, p.config, s, fingerprint, p.states.get(s)) for s in p.to_play]
    cost = dict.fromkeys(range(len(plays)), 0.0)  # the longest settings first; seeds in order
    for t in tasks:
        cost[t.play] = max(cost[t.play], _cost(t, games[t.fingerprint]))
    tasks.sort(key=lambda t: (-cost[t.play], t.play, t.seed))
    tasks = [replace(t, index=k) for k, t in enumerate(tasks)]

    def finish(p: Play) -> None:
        """Write a setting's results, plans and complete manifest; put its folder in place."""
        p.status = "finishing"
        try:
            with signals_held():  # a folder is finished whole, even as a signal arrives
                seeds = p.config.run_seeds
                import pandas as pd

                df = pd.concat([p.done[s][0] for s in seeds], ignore_index=True)
                df = df.sort_values(["seed", "episode"], ignore_index=True)
                plans = {s: p.done[s][1] for s in seeds} if p.config.save_plans else None
                if plans is not None:
                    total = sum(x.nbytes for x in plans.values())
                    per_seed = {str(s): x.n_plans for s, x in plans.items()}
                    p.manifest["plans"] = dict(file=PLANS_FILE, bytes=total,
                                               bytes_per_episode=total / len(df),
                                               plans_per_seed=per_seed)  # fmt: skip
                elapsed = p.previous_seconds + time.perf_counter() - t0
                p.manifest.update(status="complete", finished=now(), elapsed_seconds=elapsed)
                df.attrs["run_dir"] = str(p.reservation.finish(df, dumps(p.manifest), plans))
                p.df, p.status = df, "complete"
        except Exception as err:
            if fail_fast:
                raise
            p.status, p.failed[-1] = "failed", _last_line(err)
            log(f"setting {p.name}: its run folder could not be written", err)
            return
        log(f"setting {p.name}: complete")
        if len(plays) > 1:  # a grid's tables are on disk: memory holds the settings at play only
            p.done, p.df = {}, None

    def keep(p: Play, seed: int, data: bytes) -> None:
        episodes = ckpt.peek(data)["episodes_done"]
        if episodes <= p.written.get(seed, 0):
            return  # a newer state of this seed is written (messages may cross), or it is done
        with signals_held():  # a signal lands after the write, never inside it
            p.reservation.write_checkpoint(seed, data)
        p.written[seed] = episodes

    def to_prefixes(p: Play, seed: int, result: Result) -> None:
        for q in prefixes[id(p)]:
            if seed not in q.done and q.status == "running":
                seed_done(q, seed, prefix_result(result, q.config.episodes))

    def seed_done(p: Play, seed: int, result: Result) -> None:
        # Called again with the same result if an exception cut the first call short.
        p.done[seed] = result
        # Kept in the folder until the setting is finished: its other seeds may still play.
        keep(p, seed, finished(p.config, p.manifest["game"]["sha256"], seed, *result))
        to_prefixes(p, seed, result)
        if len(p.done) == p.config.seeds and not p.failed and p.status == "running":
            finish(p)

    def ended(index: int, result: Result | None = None, error: BaseException | None = None):
        task, p = tasks[index], plays[tasks[index].play]
        if error is None:
            seed_done(p, task.seed, result)
        else:
            p.status, p.failed[task.seed] = "failed", _last_line(error)
            log(f"setting {p.name} seed {task.seed}: failed", error)
            why = f"seed {task.seed} of setting {p.name}, its source, failed"
            for q in prefixes[id(p)]:
                if task.seed not in q.done and q.status in ("running", "failed"):
                    q.status, q.failed[task.seed] = "failed", why
        view.finish(index)
        if on_change is not None:
            on_change()

    def checkpoint(index: int, data: bytes) -> None:
        keep(plays[tasks[index].play], tasks[index].seed, data)

    view = _View(progress, tasks, len(plays) > 1)
    try:
        for p in plays:  # the seeds a source has from an earlier session go to its prefixes
            for seed, result in sorted(p.done.items()) if prefixes[id(p)] else ():
                to_prefixes(p, seed, result)
        for p in plays:
            if not p.to_play and p.status == "running":  # every seed kept from an earlier session
                finish(p)
        with view.bar or nullcontext():
            if tasks:  # nothing to play: no pool, no cluster
                where = (
                    _Local(games, min(workers, len(tasks)), checkpoint_every)
                    if backend == "local"
                    else _Ray(games, checkpoint_every, address, workers)
                )
                on_error = None if fail_fast else (lambda i, err: ended(i, error=err))
                _run(tasks, where, on_result=ended, on_error=on_error, on_progress=view.update,
                     on_checkpoint=checkpoint, on_start=on_start)  # fmt: skip
    except BaseException as err:
        plain_failure = isinstance(err, Exception) and not isinstance(
            err, ckpt.CheckpointWriteError | BackendUnavailableError
        )  # a full disk or a lost cluster stops a run that can go on later
        kept = []
        for p in plays:
            if p.status in ("complete", "finishing"):
                continue  # a folder that could not be finished was handled by its reservation
            if plain_failure and fail_fast and not p.reservation.resumed:
                p.reservation.abandon()  # a new run that failed leaves nothing behind
            else:
                _stopped(p, _reason(err), time.perf_counter() - t0)
                kept.append(p)
        if len(plays) == 1 and kept:
            with suppress(AttributeError):  # pragma: no cover - an exception without a __dict__
                err.run_dir = str(kept[0].reservation.work)
        raise
    for p in plays:
        if p.status != "complete":  # a seed failed: the folder stays, to be resumed
            p.status = "failed"
            why = "; ".join(f"seed {s}: {e}" for s, e in p.failed.items()) or "a seed failed"
            _stopped(p, why, time.perf_counter() - t0)


def _stopped(p: Play, reason: str, seconds: float) -> None:
    """Mark an unfinished run folder ``"interrupted"`` (if it can still be written)."""
    if p.status == "running":
        p.status = "interrupted"
    checkpoints = {str(s): n for s, n in sorted(p.written.items())}
    p.reservation.stop(p.manifest, reason, checkpoints=checkpoints,
                       elapsed_seconds=p.previous_seconds + seconds)  # fmt: skip


def _reason(err: BaseException) -> str:
    signum = getattr(err, "signum", None)
    if isinstance(signum, int):
        return f"signal {signal.Signals(signum).name}"
    return type(err).__name__ if not str(err) else f"{type(err).__name__}: {err}"


def _last_line(err: BaseException) -> str:
    return f"{type(err).__name__}: {str(err).strip().splitlines()[-1] if str(err) else ''}"


def read_checkpoints(
    folder, config: RunConfig, sha256: str, strict: bool = True
) -> tuple[dict[int, bytes], dict[int, Result], list[str]]:
    """An unfinished run folder's states and finished seeds; not ``strict``: refusals told."""
    states: dict[int, bytes] = {}
    done: dict[int, Result] = {}
    unusable: list[str] = []
    where, first, last = folder / ckpt.CHECKPOINTS_DIR, config.seed, config.seed + config.seeds - 1
    for path in sorted(where.iterdir()) if where.is_dir() else ():
        if path.name.startswith(".tmp-"):
            continue  # a write cut short; the checkpoint under its name is whole
        stem = path.name.removeprefix("seed-").removesuffix(".npz")
        seed = int(stem) if ckpt.checkpoint_name(stem) == path.name and stem.isdigit() else None
        ours = seed is not None and first <= seed <= last
        try:
            if not ours:
                raise ckpt.CheckpointError(
                    f"{path} is not the checkpoint of a seed of this run (seeds {first}..{last})"
                )
            data = path.read_bytes()
            header, tree = ckpt.read(data, config, sha256, seed, str(path))
            if header["finished"]:
                done[seed] = finished_result(tree, config, header["episodes_done"], str(path))
            else:
                states[seed] = data
        except (ckpt.CheckpointError, OSError) as err:
            why = str(err) if isinstance(err, ckpt.CheckpointError) else f"cannot read {path}"
            if not strict:  # the seed starts afresh: no advice to remove the file
                unusable.append(f"{why} (the seed starts from episode 0)")
            elif isinstance(err, OSError):
                raise RunFolderError(f"{why}: {err.strerror or err}") from None
            else:
                advice = f"play seed {seed} from the start" if ours else "resume"
                raise ckpt.CheckpointError(f"{why}; remove it to {advice}") from None
    return states, done, unusable


# ---------------------------------------------------------------------- the worker's side
_worker: dict = {}  # a local worker's games by fingerprint, channel and stop event


def _init_worker(parent_pid: int, games: str, channel, stop) -> None:
    """Die with the parent, leave signals to it, load the games (a pickle file's path)."""
    if sys.platform.startswith("linux"):
        with suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before this ran
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with open(games, "rb") as f:
        _worker.update(games=pickle.load(f), channel=channel, stop=stop)


def play_task(
    task: Task, game: Game | None = None, every: float = math.inf, *, send=None, stop=None
) -> Result:
    """Play one task: its columns (:func:`~.loop.play`'s ``table=False``) and plans.

    Its progress and checkpoints go to ``send`` as ``(kind, index, value)``.
    """
    send = _worker["channel"].put if send is None else send
    stop = _worker["stop"] if stop is None else stop
    game = _worker["games"][task.fingerprint] if game is None else game
    return play(
        game, task.config, task.seed, state=task.state, checkpoint_every=every,
        progress=lambda done: send(("progress", task.index, done)),
        checkpoint=lambda data: send(("checkpoint", task.index, data)),
        stop=stop.is_set, table=False,
    )  # fmt: skip


# ---------------------------------------------------------------------- the one loop
def _run(
    tasks: list[Task], backend: _Local | _Ray, *, on_result: Callable[[int, Result], None],
    on_error: Callable[[int, BaseException], None] | None,
    on_progress: Callable[[int, int], None], on_checkpoint: Callable[[int, bytes], None],
    on_start: Callable[[list[int]], None] | None = None,
) -> None:  # fmt: skip
    """Run ``tasks`` on ``backend``, outcomes to the callbacks (``on_error`` None: raise)."""
    futures: dict[Future, int] = {}
    finished: _queue.SimpleQueue[Future] = _queue.SimpleQueue()  # put as each task ends

    def drain(timeout: float = RAY_SILENCE) -> None:  # each task's newest progress, checkpoint
        for (kind, index), value in backend.news(timeout).items():
            (on_progress if kind == "progress" else on_checkpoint)(index, value)

    def collect(done, stopping: bool = False) -> None:  # each outcome once (stopping: no errors)
        for f in done:
            if f not in futures:
                continue
            index, err = futures[f], None if f.cancelled() else f.exception()
            if isinstance(err, ckpt.SeedStopped):
                if err.state is not None:
                    on_checkpoint(index, err.state)
            elif err is not None and not stopping:
                if isinstance(err, backend.crashed):  # killed (out of memory?), not its fault
                    codes = [line.strip() for line in str(err).splitlines() if "exit codes" in line]
                    err = BackendUnavailableError(
                        f"a {backend.worker} died ({(codes or [type(err).__name__])[0]}); the "
                        "seeds played and their checkpoints are kept, to be continued"
                    )
                if on_error is None:
                    raise err
                on_error(index, err)  # a RayTaskError carries the worker's traceback
            elif err is None and not f.cancelled():
                rows, plans = f.result()  # columns, made a table here: workers skip pandas
                on_result(index, (as_table(rows), plans))
            del futures[f]  # once handed over (a callback cut short is called again)

    def ended(timeout: float) -> list[Future]:  # the tasks that ended, waiting in a C wait
        try:
            done = [finished.get(timeout=timeout)]
        except _queue.Empty:
            return []
        while not finished.empty():
            done.append(finished.get())
        return done

    try:
        with signals_held():  # every worker gets its start-up data before a signal lands
            for t, f in zip(tasks, backend.submit(tasks), strict=True):
                futures[f] = t.index
                f.add_done_callback(finished.put)
        if on_start is not None:
            on_start(backend.pids)
        # A signal is raised only in the C wait of ``ended``: never inside ``threading`` or
        # ``concurrent.futures`` (a lock left taken there loses a result), nor mid hand-over.
        while futures:
            done = ended(0.1)
            with signals_held():
                drain()
                collect(done)
    except BaseException as err:
        deadline = time.monotonic() + STOP_GRACE
        try:
            with suppress(Exception):  # the states are a bonus: the stop goes on
                while True:  # an interruption: nothing finished is lost
                    backend.cancel(futures)  # every seed stops after its episode (Ray's at once)
                    drain(STOP_GRACE)
                    collect([f for f in futures if f.done()], stopping=True)
                    left = deadline - time.monotonic()
                    if isinstance(err, Exception) or not futures or left <= 0:
                        break
                    ended(min(0.1, left))
        finally:
            backend.close(None)
        raise
    backend.close(drain)


class _Local:
    """Tasks in ``workers`` loky processes (``1``: a thread of this one); their news on a queue."""

    worker, crashed = "worker process", BrokenExecutor

    def __init__(self, games: dict[str, Game], workers: int, every: float) -> None:
        self.games, self.workers, self.every, self.pool, self.pids = games, workers, every, None, []
        if workers == 1:
            self.channel, self.stop = _queue.Queue(), threading.Event()
            return
        from loky.backend.context import get_context

        # loky's resource tracker warns after an interruption of a semaphore the workers
        # removed: harmless, and it would break the one-line answer to a signal. Set before the
        # queue's semaphores start the tracker, whose environment is this one at that moment.
        os.environ.setdefault("PYTHONWARNINGS", "ignore::UserWarning:loky.backend.resource_tracker")
        context = get_context("loky")
        self.channel, self.stop = context.Queue(), context.Event()

    def submit(self, tasks: list[Task]) -> list[Future]:
        if self.workers == 1:  # in turn in a daemon thread, never holding up the exit
            futures = [Future() for _ in tasks]
            thread = threading.Thread(target=self._in_turn, args=(tasks, futures), daemon=True)
            thread.name = "stackelberg-rl seeds"
            thread.start()
            return futures
        from loky import ProcessPoolExecutor

        # The games go in a file, not in the start-up data: loky writes those on a pipe it also
        # holds open, so a worker killed before reading them (a Ctrl-C reaches the whole
        # process group) would leave this process blocked on more than the pipe's 64 KiB.
        self.folder = tempfile.TemporaryDirectory(prefix="stackelberg-rl-games-")
        path = os.path.join(self.folder.name, "games.pickle")
        with open(path, "wb") as f:
            pickle.dump(self.games, f, protocol=pickle.HIGHEST_PROTOCOL)
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers,
            initializer=_init_worker,
            initargs=(os.getpid(), path, self.channel, self.stop),
        )
        futures = [self.pool.submit(play_task, t, None, self.every) for t in tasks]
        self.pids = sorted(p.pid for p in self.pool._processes.values())
        return futures

    def _in_turn(self, tasks: list[Task], futures: list[Future]) -> None:
        for task, future in zip(tasks, futures, strict=True):
            if self.stop.is_set():
                future.cancel()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                game = self.games[task.fingerprint]
                future.set_result(play_task(task, game, self.every, send=self.channel.put,
                                            stop=self.stop))  # fmt: skip
            except BaseException as err:  # handed to the driver, which decides
                future.set_exception(err)

    def news(self, timeout: float) -> dict[tuple[str, int], object]:
        newest = {}
        while True:
            try:
                kind, index, value = self.channel.get_nowait()
            except _queue.Empty:
                return newest
            newest[kind, index] = value  # a task's messages arrive in the order it sent them

    def cancel(self, futures) -> None:
        self.stop.set()
        for f in futures:
            f.cancel()  # those not started never start; the others hand in their states

    def close(self, drain: Callable[[], None] | None) -> None:
        if self.pool is None:
            return
        try:
            if drain is None:
                self.pool.shutdown(wait=True, kill_workers=True)
                return
            # A worker exits only once what it put on the queue is in the pipe: read while
            # it closes (late checkpoints, which the driver finds stale, and progress).
            closer = threading.Thread(target=self.pool.shutdown, kwargs={"wait": True}, daemon=True)
            closer.start()
            while closer.is_alive():
                drain()
                closer.join(0.05)
            drain()
        finally:
            self.folder.cleanup()


# ---------------------------------------------------------------------- Ray
def check_backend(backend: str, address: str | None, workers: int | None = None) -> None:
    """Start or reach the backend before anything is written: a bad address writes nothing.

    A Ray started here (no ``address``) has ``workers`` CPUs; the driver shuts it down at the end.
    """
    global _ray_started_here
    if backend != "ray":
        return
    ray = _ray()
    host, _, port = (address or "").rpartition(":")
    if host and port.isdigit():  # a plain address fails at once when nothing answers there
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except OSError as err:
            raise BackendUnavailableError(
                f"no Ray cluster answers at {address}: {err.strerror or err}"
            ) from None
    if ray.is_initialized():  # the caller's Ray, or one started by this check: used as it is
        return
    # "local": a Ray of its own, even beside a cluster that `ray start` left on this machine
    local = dict(address="local", num_cpus=workers, include_dashboard=False)
    how = {"address": address} if address else local
    main = threading.current_thread() is threading.main_thread()
    on_sigterm = signal.getsignal(signal.SIGTERM) if main else None
    try:
        _ray_init(ray, how)
    except BackendUnavailableError:
        raise
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = f"at {address}" if address else "on this machine"
        token = " (Ray 2.59 and later ask for the cluster's token: docs/sweeps.md, Backends)"
        raise BackendUnavailableError(
            f"cannot start or reach Ray {where}: {err}{token * isinstance(err, ConnectionError)}"
        ) from None
    finally:  # Ray's driver exits at SIGTERM; the run stops as at any other signal
        if on_sigterm is not None:
            signal.signal(signal.SIGTERM, on_sigterm)
    _ray_started_here = True


def _ray_init(ray, how: dict) -> None:
    """``ray.init(**how)``; reaching a cluster at an address takes :data:`RAY_CONNECT` at most.

    Ray waits for ever on a port where something else than a Ray cluster answers: it is asked in
    a daemon thread, which the command leaves behind when it gives up.
    """
    address = how["address"]
    if address == "local":
        ray.init(**how, log_to_driver=False, logging_level=logging.ERROR)
        return
    outcome: list[BaseException | None] = []

    def connect() -> None:
        try:
            ray.init(**how, log_to_driver=False, logging_level=logging.ERROR)
            outcome.append(None)
        except BaseException as err:  # handed to the caller
            outcome.append(err)

    thread = threading.Thread(target=connect, name="stackelberg-rl Ray connection", daemon=True)
    thread.start()
    thread.join(RAY_CONNECT)
    if not outcome:
        raise BackendUnavailableError(
            f"no Ray cluster answers at {address} within {RAY_CONNECT:g} s: something listens "
            "there, but not a Ray cluster this Ray can reach"
        )
    if outcome[0] is not None:
        raise outcome[0]


_ray_started_here = False  # this process started the Ray it is connected to: shut at the end


def release_backend() -> None:
    """Shut down the Ray :func:`check_backend` started here, if it still runs."""
    global _ray_started_here
    if _ray_started_here:
        _ray_started_here = False
        _ray().shutdown()


def _ray():
    try:
        import ray
    except ImportError:
        raise BackendUnavailableError(
            "the ray backend needs Ray: pip install 'stackelberg-rl[ray]' (on the driver and "
            "on every worker of the cluster)"
        ) from None
    return ray


def _ray_task(task: Task, game: Game, board, every: float) -> Result:
    """A task on a Ray worker: its game from the object store, its news sent to ``board``."""
    if game.fingerprint() != task.fingerprint:
        raise RuntimeError(f"task {task.name} seed {task.seed}: the game shipped is not its game")
    K = task.config.episodes

    def send(message: tuple) -> None:  # progress 20 times a task
        if message[0] == "checkpoint":
            _ray().get(board.put.remote(*message))  # all in once the task ends
        elif message[2] % max(1, K // 20) == 0 or message[2] == K:
            board.put.remote(*message)

    return play_task(task, game, every, send=send, stop=threading.Event())  # cancelled


class _Ray:
    """Tasks on a Ray cluster as futures of their object refs; their news on a :class:`.Board`."""

    worker = "Ray worker"

    def __init__(self, games: dict[str, Game], every: float, address=None, workers=None) -> None:
        ray = self.ray = _ray()
        if not ray.is_initialized():  # its callers have reached it already, before any write
            check_backend("ray", address, workers)
        self.games, self.every, self.address = games, every, address
        self.refs, self.live, self.pids = [], [], []
        self.crashed = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)

    def submit(self, tasks: list[Task]) -> list[Future]:
        # A task whose worker dies (its node lost, or a worker force-cancelled a moment before
        # and handed this task as it went) plays once more, from its start; a task that raises
        # is not played again, nor is a cancelled one.
        remote = self.ray.remote(num_cpus=1, max_retries=1)(_ray_task)
        self.board = self.ray.remote(num_cpus=0)(Board).remote()
        games = {fp: self.ray.put(game) for fp, game in self.games.items()}
        self.refs = [remote.remote(t, games[t.fingerprint], self.board, self.every) for t in tasks]
        self.live = list(self.refs)
        return [ref.future() for ref in self.refs]

    def news(self, timeout: float) -> dict[tuple[str, int], object]:
        try:
            return self.ray.get(self.board.take.remote(), timeout=timeout)
        except self.ray.exceptions.GetTimeoutError:
            where = f"at {self.address}" if self.address else "started here"
            raise BackendUnavailableError(
                f"the Ray cluster {where} stopped answering (nothing for {timeout:g} s); the "
                "seeds played and their checkpoints are kept: run it again to go on"
            ) from None

    def cancel(self, futures) -> None:
        while self.live:  # each task once; one that just finished cannot be cancelled
            with suppress(Exception):
                self.ray.cancel(self.live.pop(), force=True)

    def close(self, drain: Callable[[], None] | None) -> None:
        with suppress(Exception):  # the cancelled tasks end before the cluster plays again
            self.ray.wait(self.refs, num_returns=len(self.refs), timeout=10.0)
        release_backend()


# ---------------------------------------------------------------------- progress
def progress_bar():
    """The package's one rich progress bar: description, bar, done/total, elapsed, remaining."""
    from rich import progress as rich

    return rich.Progress(
        rich.TextColumn("{task.description}"), rich.BarColumn(), rich.MofNCompleteColumn(),
        rich.TimeElapsedColumn(), rich.TimeRemainingColumn(),
    )  # fmt: skip


class _View:
    """The progress bar: episodes of every task, and a line per playing seed of a sweep."""

    def __init__(self, enabled: bool, tasks: list[Task], lines: bool) -> None:
        self.tasks, self.lines, self.rows, self.finished = tasks, lines, {}, 0
        self.done = {t.index: t.episodes_done() for t in tasks}
        self.bar = progress_bar() if enabled and tasks else None
        if self.bar is not None:
            self.total = self.bar.add_task("", total=sum(t.config.episodes for t in tasks))
            self.show()

    def update(self, index: int, done: int) -> None:
        self.done[index] = done
        if self.bar is not None and self.lines:
            task = self.tasks[index]
            if index not in self.rows:
                name = f"  {task.name} seed {task.seed}"
                self.rows[index] = self.bar.add_task(name, total=task.config.episodes)
            self.bar.update(self.rows[index], completed=done)
        self.show()

    def finish(self, index: int) -> None:
        self.finished += 1
        self.done[index] = self.tasks[index].config.episodes
        if index in self.rows:
            self.bar.remove_task(self.rows.pop(index))
        self.show()

    def show(self) -> None:
        if self.bar is not None:
            title = f"[bold]sweep[/bold] {self.finished}/{len(self.tasks)} seeds, episodes"
            title = title if self.lines else "[bold]episodes[/bold]"
            self.bar.update(self.total, completed=sum(self.done.values()), description=title)
