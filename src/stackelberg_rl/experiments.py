"""The episode loop, exact per-episode regret, seeds run in parallel, results on disk.

One obvious path for data (STYLE): game → agents act → game steps → agents record → end of
episode → plan (``begin_episode``) → metrics. :func:`run` is that loop for one seed and returns one
row per episode; :func:`run_sweep` runs every seed of a :class:`RunConfig`, in parallel processes,
and writes a run folder::

    out_dir/results.parquet   one row per (seed, episode), the columns of :data:`COLUMNS`
    out_dir/manifest.json     the configuration, every resolved α, β, λ, the versions, git commit

Regret is exact (SPEC §2, eqs. (9) and (10)) on the policies the agents played in the episode.
On large games ``eval_every = n > 1`` evaluates only episodes ``0, n, 2n, …``; the others hold NaN
(never interpolated), and each evaluated row carries ``eval_weight``, the number of episodes it
stands for (``n``, or fewer for the last block). Cumulative regret is then estimated as
``Σ eval_weight · regret`` over evaluated rows (:func:`stackelberg_rl.report.cumulative_regret`).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import multiprocessing as mp
import os
import platform
import queue as _queue
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import games as games_mod
from .agents import AgentConfig, make_agents, resolve_beta
from .lsvi import alpha_value
from .planning import regret

COLUMNS = (
    "seed",
    "episode",
    "regret_leader",
    "regret_follower",
    "eval_weight",
    "return_leader",
    "return_follower",
    "x1",
    "a1",
    "replanned",
    "beta",
    "lam",
    "alpha_l",
    "alpha_f",
    "wall_time",
)
"""Columns of a run's table, in order. ``wall_time`` is seconds since the run started."""

RESULTS_FILE = "results.parquet"
MANIFEST_FILE = "manifest.json"


# ---------------------------------------------------------------------- configuration
@dataclass
class GameSpec:
    """Which game to play: a generator name and its arguments (the game is rebuilt from this)."""

    name: str = "random-linear"
    """A key of :data:`stackelberg_rl.games.GENERATORS`, e.g. ``random-linear``."""
    states: int = 20
    """``|S|``."""
    leader_actions: int = 3
    """``|A|``."""
    follower_actions: int = 3
    """``|B|``."""
    dim: int = 8
    """Feature dimension ``d`` (ignored by tabular games, where ``d = |S||A||B|``)."""
    horizon: int = 5
    """``H``."""
    seed: int = 0
    """Seed of the generated game (not of the agents or the environment's randomness)."""
    kwargs: dict = field(default_factory=dict)
    """Further keyword arguments of the generator (e.g. ``reward_noise``)."""

    def make(self) -> games_mod.FiniteGame:
        """Build the game.

        Raises:
            ValueError: for an unknown generator name or bad sizes.
        """
        if self.name == "random-linear":
            return games_mod.random_linear(
                self.states,
                self.leader_actions,
                self.follower_actions,
                self.dim,
                self.horizon,
                seed=self.seed,
                **self.kwargs,
            )
        if self.name == "random-tabular":
            return games_mod.random_tabular(
                self.states,
                self.leader_actions,
                self.follower_actions,
                self.horizon,
                seed=self.seed,
                **self.kwargs,
            )
        if self.name in games_mod.GENERATORS:
            # Generators with their own parameters take them from ``kwargs`` only.
            return games_mod.GENERATORS[self.name](**self.kwargs)
        known = ", ".join(sorted(games_mod.GENERATORS))
        raise ValueError(f"unknown game {self.name!r}; known games: {known}")


@dataclass
class RunConfig:
    """One experiment: a game, how the players learn, how long, how many seeds.

    Experiments are data (STYLE): a run folder's ``manifest.json`` holds this, field for field.
    """

    game: GameSpec = field(default_factory=GameSpec)
    """The game, rebuilt identically in every worker from its spec."""
    episodes: int = 1000
    """``K``, episodes per seed (also the ``K`` of ``α = "fixed-K"`` and ``β = "theory"``)."""
    agent: AgentConfig = field(default_factory=AgentConfig)
    """How the leader and the follower learn (kind, ``β``, ``λ``, ``α_l``, ``α_f``, schedule)."""
    eval_every: int = 1
    """Exact regret every ``eval_every`` episodes (``0, n, 2n, …``); NaN in the other rows, each
    evaluated row weighted by the number of episodes it stands for (column ``eval_weight``)."""
    seeds: int = 1
    """Number of independent runs."""
    seed: int = 0
    """Base seed: run ``i`` uses ``seed + i`` (the ``seed`` column of the results)."""

    def validate(self) -> None:
        """Raise :class:`ValueError` naming the first bad field (the game is checked on build)."""
        self.agent.validate()
        for name in ("episodes", "eval_every", "seeds"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    @property
    def run_seeds(self) -> list[int]:
        """The seed of every run: ``[seed, seed + 1, …]``."""
        return [self.seed + i for i in range(self.seeds)]

    def to_dict(self) -> dict:
        """Plain data for the manifest."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """Inverse of :meth:`to_dict` (reads a manifest's ``config``)."""
        data = dict(data)
        game = GameSpec(**data.pop("game", {}))
        agent = dict(data.pop("agent", {}))
        for name in ("alpha_l", "alpha_f"):
            if agent.get(name) == "inf":  # how a manifest writes ∞
                agent[name] = math.inf
        agent = AgentConfig(**agent)
        return cls(game=game, agent=agent, **data)


# ---------------------------------------------------------------------- one run
def run(
    game: games_mod.FiniteGame,
    config: RunConfig,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Play ``config.episodes`` episodes of ``game`` with fresh agents; one row per episode.

    Random streams: ``SeedSequence(seed)`` is spawned into the environment's stream and the agents'
    seed sequence (from which :func:`~stackelberg_rl.agents.make_agents` spawns the leader's and
    the follower's), so the same seed gives the same table (``wall_time`` aside).

    Args:
        game: the game (its features are the agents' known feature map).
        config: the experiment; ``config.game`` is not used here (``game`` is).
        seed: this run's seed.
        progress: called with the number of episodes done, every few episodes and at the end.

    Returns:
        A DataFrame with the columns of :data:`COLUMNS`.
    """
    config.validate()
    K, H, n_eval = config.episodes, game.horizon, config.eval_every
    env_ss, agents_ss = np.random.SeedSequence(seed).spawn(2)
    env_rng = np.random.default_rng(env_ss)
    leader, follower = make_agents(game, config.agent, K, agents_ss)
    cols: dict[str, list] = {name: [] for name in COLUMNS}
    nan = math.nan
    start = time.perf_counter()
    report_every = max(1, K // 100)
    for k in range(K):
        # The leader first: in centralised mode it plans for both players.
        leader.begin_episode(k)
        follower.begin_episode(k)
        evaluated = k % n_eval == 0
        if evaluated:
            # Policies are fixed within an episode: these are the ones played below.
            pi_l = leader.policy_table(game)
            pi_f = follower.policy_table(game)
        x = x1 = game.sample_initial(env_rng)
        a1 = None
        ret = np.zeros(2)
        for h in range(H):
            a = leader.act(h, x)
            b = follower.act(h, x, a)
            if a1 is None:
                a1 = a
            r, x_next = game.step(h, x, a, b, env_rng)
            leader.record(h, x, a, b, r, x_next)
            follower.record(h, x, a, b, r, x_next)
            ret += r
            x = x_next
        reg = regret(game, pi_l, pi_f, x1, a1) if evaluated else (nan, nan)
        params = leader.params()
        cols["seed"].append(seed)
        cols["episode"].append(k)
        cols["regret_leader"].append(reg[0])
        cols["regret_follower"].append(reg[1])
        cols["eval_weight"].append(min(n_eval, K - k) if evaluated else 0)
        cols["return_leader"].append(float(ret[0]))
        cols["return_follower"].append(float(ret[1]))
        cols["x1"].append(int(x1))
        cols["a1"].append(int(a1))
        cols["replanned"].append(leader.replanned or follower.replanned)
        for name in ("beta", "lam", "alpha_l", "alpha_f"):
            cols[name].append(float(params.get(name, nan)))
        cols["wall_time"].append(time.perf_counter() - start)
        if progress is not None and ((k + 1) % report_every == 0 or k + 1 == K):
            progress(k + 1)
    df = pd.DataFrame(cols, columns=list(COLUMNS))
    return df.astype(
        {"seed": "int64", "episode": "int64", "x1": "int64", "a1": "int64", "eval_weight": "int64"}
    )


# ---------------------------------------------------------------------- many runs
def _run_worker(config_dict: dict, seed: int, progress_queue=None) -> pd.DataFrame:
    """One seed in a worker process: rebuild the game from its spec and play."""
    config = RunConfig.from_dict(config_dict)
    game = config.game.make()
    report = None
    if progress_queue is not None:

        def report(done: int) -> None:
            progress_queue.put((seed, done))

    return run(game, config, seed, progress=report)


def _json_number(x: float) -> float | str:
    """JSON has no infinities: ``inf`` is written as the string ``"inf"``."""
    return "inf" if x == math.inf else x


def _jsonable(obj):
    """``obj`` with every infinite float written as ``"inf"`` (recursively)."""
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return _json_number(obj)
    return obj


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


def _git(*args: str) -> str | None:
    """Output of ``git ARGS`` in the repository holding this package, or ``None``."""
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _git_state() -> dict:
    """``commit`` (``git rev-parse HEAD``) and ``dirty`` (uncommitted changes), or ``None``s."""
    commit = _git("rev-parse", "HEAD") or None
    if commit is None:
        return {"git_commit": None, "git_dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def _versions() -> dict:
    import matplotlib
    import numba
    import pyarrow
    import scipy

    from . import __version__

    return {
        "stackelberg_rl": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "pandas": pd.__version__,
        "scipy": scipy.__version__,
        "pyarrow": pyarrow.__version__,
        "matplotlib": matplotlib.__version__,
    }


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise FileExistsError(f"{out_dir} exists and is not a directory")
        if any(out_dir.iterdir()) and not overwrite:
            raise FileExistsError(f"{out_dir} is not empty; pass overwrite=True (--overwrite)")


def _run_all(
    config: RunConfig,
    game: games_mod.FiniteGame,
    workers: int,
    on_progress: Callable[[int, int], None] | None,
) -> list[pd.DataFrame]:
    """Every seed's table, in seed order.

    Serial in this process, on ``game``, when ``workers == 1``; else each worker process
    rebuilds the game from ``config.game``.
    """
    seeds = config.run_seeds
    if workers == 1:
        out = []
        for s in seeds:
            cb = None if on_progress is None else (lambda done, s=s: on_progress(s, done))
            out.append(run(game, config, s, progress=cb))
        return out
    # "spawn": fresh interpreters, no fork of a process that holds threads (the progress bar).
    ctx = mp.get_context("spawn")
    config_dict = config.to_dict()
    with ctx.Manager() as manager, ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        q = manager.Queue() if on_progress is not None else None
        futures = [pool.submit(_run_worker, config_dict, s, q) for s in seeds]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.1)
            while q is not None:
                try:
                    s, done = q.get_nowait()
                except _queue.Empty:
                    break
                on_progress(s, done)
        return [f.result() for f in futures]  # re-raises a worker's exception


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

            frames = _run_all(config, game, workers, on_progress)
    else:
        frames = _run_all(config, game, workers, None)
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


def load_run(run_dir: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """The results table and the manifest of a run folder."""
    run_dir = Path(run_dir)
    results, manifest = run_dir / RESULTS_FILE, run_dir / MANIFEST_FILE
    if not results.is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder: no {RESULTS_FILE}")
    meta = json.loads(manifest.read_text()) if manifest.is_file() else {}
    return pd.read_parquet(results), meta
