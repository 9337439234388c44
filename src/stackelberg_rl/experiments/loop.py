"""The one checkpointed episode loop (:func:`play_episodes`), and a run's seed on it.

A run's episode (:class:`SeedRun`): agents act → game steps → agents record → plan → regret of
the policies played (math.md §2, eqs. (9), (10); estimated with a 95% interval on a continuous
game, math.md §6; with ``eval_every = n`` only episodes ``0, n, 2n, …``, each row's
``eval_weight`` the episodes it stands for). Continued from a checkpoint, a seed gives the table
and plans of one never stopped, bit for bit (``wall_time`` aside).
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .. import games as games_mod
from .._seeding import seed_sequence, stream
from .._signals import signals_held
from ..agents import make_agents, set_generator_state
from ..montecarlo import sampled_regrets
from ..planning import regret
from . import checkpoint as ckpt
from .config import RunConfig, game_record
from .plan_history import PlanRecorder, Plans

COLUMNS = (
    "seed", "episode", "regret_leader", "regret_follower", "regret_leader_ci",
    "regret_follower_ci", "eval_weight", "return_leader", "return_follower", "x1", "a1",
    "replanned", "beta", "lam", "alpha_l", "alpha_f", "wall_time",
)  # fmt: skip
"""Columns of a run's table, in order. ``regret_*``: exact on a finite game, Monte-Carlo on a
continuous one with ``regret_*_ci`` the half-widths of their 95% intervals (else NaN). ``x1``:
the initial state's index (``-1`` on a continuous game). ``wall_time``: the seconds the seed had
played at the end of the episode (across its sessions)."""

INTEGER_COLUMNS = ("seed", "episode", "x1", "a1", "eval_weight")
COLUMN_DTYPES = {
    name: "int64" if name in INTEGER_COLUMNS else "bool" if name == "replanned" else "float64"
    for name in COLUMNS
}
"""The dtype of every column of :data:`COLUMNS`."""

DEFAULT_CHECKPOINT_EVERY = 60.0  # seconds

Result = tuple[pd.DataFrame, Plans | None]


def run(
    game: games_mod.Game,
    config: RunConfig,
    seed: int,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """:func:`play`'s table; ``options``: ``state``, ``checkpoint``, ``checkpoint_every``, ``stop``.

    Raises:
        ValueError: ``game`` is not the game of ``config.game`` (as :func:`~.runs.run_seeds`).
    """
    game_record(config, game, given=True)
    return play(game, config, seed, progress, **options)[0]


def play(
    game: games_mod.Game,
    config: RunConfig,
    seed: int,
    progress: Callable[[int], None] | None = None,
    *,
    state: bytes | None = None,
    checkpoint: Callable[[bytes], None] | None = None,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
    stop: Callable[[], bool] | None = None,
) -> Result:
    """Play ``config.episodes`` episodes of ``game``: the table and (``save_plans``) the plans.

    Streams ``stream(seed, "game")`` and ``seed_sequence(seed, "agents")``; ``state``: a
    checkpoint to continue from; the rest as :func:`play_episodes`. No I/O.
    """
    config.validate()
    seed_run = SeedRun(game, config, seed) if state is None else SeedRun.restore(
        game, config, seed, state
    )  # fmt: skip
    play_episodes(seed_run, progress, checkpoint, checkpoint_every, stop)
    return seed_run.result()


class Episodes(Protocol):
    """One seed played an episode at a time (a run's :class:`SeedRun`, an exploration)."""

    seed: int
    episodes: int
    episodes_done: int

    def play_episode(self) -> None:
        """Play episode ``episodes_done``, then count it."""

    def checkpoint(self) -> bytes:
        """The whole state, between two episodes."""


def play_episodes(
    seed_run: Episodes,
    progress: Callable[[int], None] | None = None,
    checkpoint: Callable[[bytes], None] | None = None,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Play the episodes ``seed_run`` has left, reporting its progress and its checkpoints.

    ``progress`` is called with the episodes done (every ``K // 100`` and after the last);
    ``checkpoint`` with a state every ``checkpoint_every`` seconds (never after the last
    episode) and when a ``KeyboardInterrupt`` (SIGINT and SIGTERM are held during an episode)
    stops a seed that has played; ``stop`` is polled before the first episode and after every
    one, and once true the seed raises :class:`~.checkpoint.SeedStopped` with its state.
    """
    K, start = seed_run.episodes, seed_run.episodes_done
    if start < K and stop is not None and stop():
        raise ckpt.SeedStopped(seed_run.seed, None)
    report_every = max(1, K // 100)
    hold = signals_held if checkpoint is not None else contextlib.nullcontext
    last = time.monotonic()
    try:
        while seed_run.episodes_done < K:
            with hold():
                seed_run.play_episode()
            k = seed_run.episodes_done
            if progress is not None and (k % report_every == 0 or k == K):
                progress(k)
            if k == K:
                break
            if stop is not None and stop():
                raise ckpt.SeedStopped(seed_run.seed, seed_run.checkpoint())
            if checkpoint is not None and time.monotonic() - last >= checkpoint_every:
                checkpoint(seed_run.checkpoint())
                last = time.monotonic()
    except Exception:
        raise
    except BaseException:  # an interruption, between two episodes: its state is kept
        if checkpoint is not None and seed_run.episodes_done > start:
            checkpoint(seed_run.checkpoint())
        raise


class SeedRun:
    """One seed played an episode at a time; its whole state checkpointed between episodes."""

    def __init__(self, game: games_mod.Game, config: RunConfig, seed: int) -> None:
        self.game, self.config, self.seed = game, config, seed
        self.finite = isinstance(game, games_mod.FiniteGame)
        self.env_rng = stream(seed, "game")
        agents = seed_sequence(seed, "agents")
        self.leader, self.follower = make_agents(game, config.agent, config.episodes, agents)
        self.recorder = PlanRecorder(self.leader, self.follower) if config.save_plans else None
        self.rows = {
            name: np.zeros(config.episodes, dtype) for name, dtype in COLUMN_DTYPES.items()
        }
        self.episodes_done = 0
        self._finished: Result | None = None
        self._clock = time.perf_counter()  # wall_time = perf_counter() - _clock

    episodes = property(lambda self: self.config.episodes, doc="``K``.")
    done = property(lambda self: self.episodes_done >= self.episodes, doc="Whether all are.")

    @functools.cached_property
    def game_sha256(self) -> str:
        """The game's fingerprint (computed once: hashing a large game takes a while)."""
        return self.game.fingerprint()

    def play_episode(self) -> None:
        """Play episode ``episodes_done`` and write its row: the path of the module docstring."""
        game, leader, follower, env_rng = self.game, self.leader, self.follower, self.env_rng
        k, K, n_eval = self.episodes_done, self.config.episodes, self.config.eval_every
        nan = math.nan
        leader.begin_episode(k)  # the leader first: in centralised mode it plans for both
        follower.begin_episode(k)
        if self.recorder is not None:
            self.recorder.after_plans(k)
        evaluated = k % n_eval == 0
        if evaluated and self.finite:  # fixed within the episode: the policies played below
            pi_l, pi_f = leader.policy_table(game), follower.policy_table(game)
        x = x1 = game.sample_initial(env_rng)
        a1 = None
        ret = np.zeros(2)
        for h in range(game.horizon):
            a = leader.act(h, x)
            b = follower.act(h, x, a)
            a1 = a if a1 is None else a1
            r, x_next = game.step(h, x, a, b, env_rng)
            leader.record(h, x, a, b, r, x_next)
            follower.record(h, x, a, b, r, x_next)
            ret += r
            x = x_next
        reg, half = (nan, nan), (nan, nan)
        if evaluated and self.finite:
            reg = regret(game, pi_l, pi_f, x1, a1)
        elif evaluated:  # plans are made in begin_episode: the agents hold those played
            estimate = sampled_regrets(game, leader.policies_at, follower.policies_at, x1, a1)
            reg, half = estimate.mean, estimate.half_width
        params = leader.params()
        row = (
            self.seed, k, reg[0], reg[1], half[0], half[1], min(n_eval, K - k) if evaluated else 0,
            ret[0], ret[1], int(x1) if self.finite else -1, int(a1),
            leader.replanned or follower.replanned,
            *(params.get(name, nan) for name in ("beta", "lam", "alpha_l", "alpha_f")),
            time.perf_counter() - self._clock,
        )  # fmt: skip
        for name, value in zip(COLUMNS, row, strict=True):
            self.rows[name][k] = value
        self.episodes_done = k + 1

    def result(self) -> Result:
        """The table of the episodes played and, with ``save_plans``, the plans."""
        if self._finished is not None:
            return self._finished
        n = self.episodes_done
        df = pd.DataFrame({name: values[:n] for name, values in self.rows.items()})
        return df, None if self.recorder is None else self.recorder.finish()

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """The seed's whole state: its stream, both agents (a shared learner once), rows, plans."""
        tree: dict[str, Any] = {
            "env_rng": self.env_rng.bit_generator.state,
            "leader": self.leader.state_dict(),
            "follower": self.follower.state_dict(),
            "rows": {name: values[: self.episodes_done] for name, values in self.rows.items()},
        }
        if self.recorder is not None:
            tree["recorder"] = self.recorder.state_dict()
        return tree

    def load_state_dict(self, tree: dict, episodes_done: int) -> None:
        """Continue from :meth:`state_dict`'s ``tree`` (``ValueError`` naming a misfit)."""
        set_generator_state(self.env_rng, tree.get("env_rng"))
        for role in ("leader", "follower"):
            if not isinstance(tree.get(role), dict):
                raise ValueError(f"the state has no {role}")
            getattr(self, role).load_state_dict(tree[role])
        if self.recorder is not None:
            if not isinstance(tree.get("recorder"), dict):
                raise ValueError("the state has no plans (save_plans)")
            self.recorder.load_state_dict(tree["recorder"])
        for name, values in _rows(tree, episodes_done).items():
            self.rows[name][:episodes_done] = values
        self.episodes_done = episodes_done

    def checkpoint(self) -> bytes:
        """The seed's state as bytes between two episodes (once done: :func:`finished`'s)."""
        if self.done:
            return finished(self.config, self.game_sha256, self.seed, *self.result())
        header = {
            **ckpt.identity(self.config, self.game_sha256, self.seed),
            "episodes_done": self.episodes_done,
            "finished": False,
            "elapsed": time.perf_counter() - self._clock,
        }
        return ckpt.pack(self.state_dict(), header)

    @classmethod
    def restore(cls, game: games_mod.Game, config: RunConfig, seed: int, data: bytes) -> SeedRun:
        """The seed as ``data`` (a checkpoint) left it (``CheckpointError`` if not of this run)."""
        where = f"the checkpoint of seed {seed}"
        header, tree = ckpt.read(data, config, game.fingerprint(), seed, where)
        done = header["episodes_done"]
        if header["finished"]:
            seed_run = cls.__new__(cls)
            seed_run.game, seed_run.config, seed_run.seed = game, config, seed
            seed_run.episodes_done, seed_run.game_sha256 = done, header["game_sha256"]
            seed_run._finished = finished_result(tree, config, done, where)
            return seed_run
        seed_run = cls(game, config, seed)
        seed_run.game_sha256 = header["game_sha256"]
        try:
            seed_run.load_state_dict(tree, done)
        except ValueError as err:
            raise ckpt.CheckpointError(f"{where} does not fit this run: {err}") from None
        seed_run._clock = time.perf_counter() - float(header["elapsed"])
        return seed_run


def finished(
    config: RunConfig, game_sha256: str, seed: int, df: pd.DataFrame, plans: Plans | None
) -> bytes:
    """A finished seed's checkpoint: its table and plans (a run folder keeps it until done)."""
    tree: dict[str, Any] = {"rows": {name: df[name].to_numpy() for name in COLUMNS}}
    if plans is not None:
        tree["plans"] = plans.to_arrays()
    header = {
        **ckpt.identity(config, game_sha256, seed),
        "episodes_done": config.episodes,
        "finished": True,
        "elapsed": float(df["wall_time"].iloc[-1]) if len(df) else 0.0,
    }
    return ckpt.pack(tree, header)


def finished_result(tree: dict, config: RunConfig, episodes: int, where: str) -> Result:
    """The table and plans of a finished seed's checkpoint (:func:`finished`), checked."""
    try:
        df = pd.DataFrame(_rows(tree, episodes))
    except ValueError as err:
        raise ckpt.CheckpointError(f"{where}: {err}") from None
    if not config.save_plans:
        return df, None
    if not isinstance(tree.get("plans"), dict):
        raise ckpt.CheckpointError(f"{where} has no plans (save_plans)")
    try:
        return df, Plans.from_arrays(tree["plans"], where=where)
    except ValueError as err:
        raise ckpt.CheckpointError(str(err)) from None


def _rows(tree: dict, episodes: int) -> dict[str, np.ndarray]:
    """The rows of a state by column, checked: every column, ``episodes`` long, its dtype."""
    rows = tree.get("rows")
    if not isinstance(rows, dict):
        raise ValueError("the state has no rows")
    for name in COLUMNS:
        values = rows.get(name)
        if not isinstance(values, np.ndarray) or values.shape != (episodes,):
            raise ValueError(f"the rows' column {name} is missing or not {episodes} long")
        if values.dtype != np.dtype(COLUMN_DTYPES[name]):
            raise ValueError(f"the rows' column {name} has dtype {values.dtype}")
    return {name: rows[name] for name in COLUMNS}
