"""The one checkpointed episode loop (:func:`play_episodes`), and a run's seed on it.

An episode (:class:`SeedRun`): agents act → game steps → agents record → plan → regret of the
policies played every ``eval_every``-th episode (math.md §2; estimated on a continuous game, §6).
On a finite game the episodes between two plans are one compiled block (:mod:`.episodes`),
equal bit for bit to the Python loop; a resumed seed equals one never stopped.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import games as games_mod
from .._seeding import seed_sequence, stream
from .._signals import signals_held
from .._validate import instance, integer
from ..agents import make_agents, set_generator_state
from ..games.base import player_names
from ..learners import NonFiniteError
from ..montecarlo import sampled_regrets
from ..planning import player_regrets, regret_at, start_values
from . import checkpoint as ckpt
from .config import INT64_MAX, RunConfig, game_record
from .episodes import doubling_threshold, lazy_tables, play_block
from .plan_history import PlanRecorder, Plans

if TYPE_CHECKING:  # pandas is imported where a table is made: worker processes send columns
    import pandas as pd


def alpha_names(n_players: int) -> tuple[str, ...]:
    """The ``α`` columns: ``alpha_l, alpha_f`` (``alpha_f_i`` with N > 1)."""
    if n_players == 2:
        return ("alpha_l", "alpha_f")
    return ("alpha_l", *(f"alpha_f_{i}" for i in range(1, n_players)))


def columns(n_players: int = 2) -> tuple[str, ...]:
    """The columns of a run's table with ``n_players = 1 + N``, in order (:data:`COLUMNS`)."""
    players = player_names(n_players)
    return (
        "seed", "episode", *(f"regret_{p}" for p in players),
        *(f"regret_{p}_ci" for p in players), "eval_weight", *(f"return_{p}" for p in players),
        "x1", "a1", *(f"a1_{p}" for p in players[1:-1]), "replanned", "beta", "lam",
        *alpha_names(n_players), "wall_time",
    )  # fmt: skip


COLUMNS = columns(2)
"""Columns of a run's table with one follower (``N`` followers: :func:`columns`). ``regret_*``:
exact on a finite game, Monte-Carlo on a continuous one, ``regret_*_ci`` the half-widths of its
95% intervals (else NaN). ``x1``: the initial state (``-1`` when continuous); ``a1``: the
leader's first action, ``a1_follower_i`` (``i < N``) those follower ``N``'s regret follows.
``wall_time``: seconds played by the end of the episode (across sessions; spread evenly over a
compiled block)."""


def column_dtype(name: str) -> str:
    """The dtype of a column of :func:`columns`."""
    integer = name in ("seed", "episode", "x1", "a1", "eval_weight") or name.startswith("a1_")
    return "int64" if integer else "bool" if name == "replanned" else "float64"


DEFAULT_CHECKPOINT_EVERY = 60.0  # seconds

Result = tuple["pd.DataFrame", "Plans | None"]


def as_table(rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """A run's table from its columns (a worker's :func:`play` with ``table=False``)."""
    import pandas as pd

    return pd.DataFrame(rows)


def run(
    game: games_mod.Game,
    config: RunConfig,
    seed: int,
    progress: Callable[[int], None] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """:func:`play`'s table, once ``game`` is known to be ``config.game``'s (else ``ValueError``).

    An agent option that the other options leave without use is refused
    (:meth:`~..agents.AgentConfig.check_used`). ``options``: ``state``, ``checkpoint``,
    ``checkpoint_every``, ``stop``.
    """
    _check_arguments(game, config)
    config.agent.check_used()
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
    compiled: bool = True,
    table: bool = True,
) -> Result:
    """Play ``config.episodes`` episodes of ``game``: the table and (``save_plans``) the plans.

    Streams ``stream(seed, "game")`` and ``seed_sequence(seed, "agents")``; ``state``: a
    checkpoint to continue from; ``compiled=False`` plays one episode at a time in Python (the
    reference, :class:`SeedRun`); the rest as :func:`play_episodes`; ``table=False``: the columns
    as a dict of arrays, for :func:`as_table` (no pandas: a worker process's). No I/O.
    """
    _check_arguments(game, config)
    seed = integer(seed, "seed", low=0, high=INT64_MAX)  # as RunConfig's: an int64 column
    seed_run = SeedRun(game, config, seed, compiled=compiled) if state is None else (
        SeedRun.restore(game, config, seed, state, compiled=compiled)
    )  # fmt: skip
    play_episodes(seed_run, progress, checkpoint, checkpoint_every, stop)
    return seed_run.result(table)


def _check_arguments(game: games_mod.Game, config: RunConfig) -> None:
    """A ValueError naming ``game`` or ``config`` if it is not one (``config`` validated)."""
    instance(game, games_mod.Game, "game")
    instance(config, RunConfig, "config").validate()


MAX_BLOCK = 4096  # episodes at once at most: an interruption or a checkpoint waits for little


def play_episodes(
    seed_run,
    progress: Callable[[int], None] | None = None,
    checkpoint: Callable[[bytes], None] | None = None,
    checkpoint_every: float = DEFAULT_CHECKPOINT_EVERY,
    stop: Callable[[], bool] | None = None,
) -> None:
    """Play the episodes ``seed_run`` has left, reporting its progress and its checkpoints.

    ``seed_run`` (a :class:`SeedRun`, an exploration) has ``seed``, ``episodes``,
    ``episodes_done``, ``checkpoint()`` (its state as bytes) and ``play_episode()`` or
    ``play_block(limit)`` (1 to ``limit`` more episodes). ``progress(done)`` every ``K // 100``
    episodes (where blocks end) and after the last; ``checkpoint(state)`` every
    ``checkpoint_every`` seconds before the last and on an interruption (signals are held in a
    block); once ``stop()``, polled between blocks, is true: :class:`~.checkpoint.SeedStopped`.
    """
    K, start = seed_run.episodes, seed_run.episodes_done
    if start < K and stop is not None and stop():
        raise ckpt.SeedStopped(seed_run.seed, None)
    report_every = max(1, K // 100)
    play_block = getattr(seed_run, "play_block", None)
    hold = signals_held if checkpoint is not None else contextlib.nullcontext
    last = time.monotonic()
    try:
        while seed_run.episodes_done < K:
            k = seed_run.episodes_done
            with hold():
                if play_block is None:
                    seed_run.play_episode()
                else:
                    end = min(K, (k // report_every + 1) * report_every, k + MAX_BLOCK)
                    play_block(end - k)
            k = seed_run.episodes_done
            if progress is not None and (k % report_every == 0 or k == K):
                progress(k)
            if k == K:
                break
            if stop is not None and stop():
                raise ckpt.SeedStopped(seed_run.seed, seed_run.checkpoint())
            if checkpoint is not None and time.monotonic() - last >= checkpoint_every:
                with hold():  # a signal never lands inside a state being packed or written
                    checkpoint(seed_run.checkpoint())
                last = time.monotonic()
    except Exception:
        raise
    except BaseException:  # an interruption, between two episodes: its state is kept
        if checkpoint is not None and seed_run.episodes_done > start:
            checkpoint(seed_run.checkpoint())
        raise


class SeedRun:
    """One seed, played a block of episodes at a time, checkpointed between them.

    A finite game's episodes between two plans are compiled blocks (:mod:`.episodes`); a
    continuous game's, the reference learner's or ``compiled=False``'s are played one at a time in
    Python (:meth:`play_episode`): the same table.
    """

    def __init__(
        self, game: games_mod.Game, config: RunConfig, seed: int, *, compiled: bool = True
    ) -> None:
        self.game, self.config, self.seed = game, config, seed
        self.finite = isinstance(game, games_mod.FiniteGame)
        self.compiled = compiled and self.finite and not config.agent.reference
        self.env_rng = stream(seed, "game")
        agents = seed_sequence(seed, "agents")
        self.agents = tuple(make_agents(game, config.agent, config.episodes, agents))
        self.recorder = PlanRecorder(*self.agents) if config.save_plans else None
        self.rows = {
            name: np.zeros(config.episodes, column_dtype(name))
            for name in columns(len(self.agents))
        }
        self.episodes_done = 0
        self._finished: Result | None = None
        self._clock = time.perf_counter()  # wall_time = perf_counter() - _clock
        self._played: list | None = None  # the policy tables in force (policy_table's)
        self._lazy = None  # how the blocks compute the rows of _played not yet made (.episodes)
        self._start_values: tuple | None = None  # their values at step 0, for the regrets
        self._threshold: np.ndarray | None = None  # the plan's doubling_threshold

    episodes = property(lambda self: self.config.episodes, doc="``K``.")
    done = property(lambda self: self.episodes_done >= self.episodes, doc="Whether all are.")

    @functools.cached_property
    def game_sha256(self) -> str:
        """The game's fingerprint (hashed once)."""
        return self.game.fingerprint()

    @functools.cached_property
    def _step_arrays(self) -> tuple:
        return tuple(self.game.step_arrays())

    @functools.cached_property
    def _learners(self) -> tuple:  # those that record and plan (one when shared)
        owners = [a.learner for a in self.agents if getattr(a, "owner", False)]
        return tuple({id(L): L for L in owners}.values())

    def _begin(self, k: int) -> bool:
        """Every player's ``begin_episode(k)`` (plans as scheduled): whether one planned."""
        for agent in self.agents:  # the leader first: in centralised mode it plans for both
            agent.begin_episode(k)
        if self.recorder is not None:
            self.recorder.after_plans(k)
        replanned = any(agent.replanned for agent in self.agents)
        if replanned:
            self._played = self._start_values = self._threshold = None
        return replanned

    def play_episode(self) -> None:
        """Play episode ``episodes_done`` in Python and write its row."""
        k = self.episodes_done
        self._play_python(k, self._begin(k))

    def _play_python(self, k: int, replanned: bool) -> None:
        game, agents, env_rng = self.game, self.agents, self.env_rng
        evaluated = k % self.config.eval_every == 0
        if evaluated and self.finite:  # fixed within the episode: the policies played below
            tables = self._whole_tables(k)
        x = x1 = game.sample_initial(env_rng)
        first: list[int] = []
        ret = np.zeros(len(agents))
        for h in range(game.horizon):
            actions: list[int] = []
            for agent in agents:
                actions.append(agent.act(h, x, *actions))
            first = first or actions
            r, x_next = game.step(h, x, *actions, env_rng)
            for agent in agents:
                agent.record(h, x, tuple(actions), r, x_next)
            ret += r
            x = x_next
        reg = half = np.full((len(agents), 1), math.nan)
        if evaluated and self.finite:
            reg = player_regrets(game, tables, x1, first)[:, None]
        elif evaluated:  # plans are made in begin_episode: the agents hold those played
            leader, follower = agents
            estimate = sampled_regrets(game, leader.policies_at, follower.policies_at, x1, first[0])
            reg, half = (np.asarray(v)[:, None] for v in (estimate.mean, estimate.half_width))
        self._write_rows(
            k, (reg, half), np.array([evaluated]), ret[None], np.array([x1 if self.finite else -1]),
            np.array(first[:-1])[:, None], replanned, time.perf_counter() - self._clock,
        )  # fmt: skip

    def play_block(self, limit: int) -> None:
        """Play at least one and at most ``limit`` more episodes (up to the next plan)."""
        k = self.episodes_done
        t0 = time.perf_counter() - self._clock
        replanned = self._begin(k)
        if not self.compiled:
            self._play_python(k, replanned)
            return
        game, agents = self.game, self.agents
        n = min(limit, self.episodes - k, self._scheduled(k))
        evaluated = (np.arange(k, k + n) % self.config.eval_every) == 0
        if self._played is None or self._lazy is not None:  # rows made where visited, or none
            if evaluated[0]:  # its regret needs whole tables, made before it acts (as in Python)
                self._policy_tables(k, complete=True)
            else:  # the block ends before the first evaluated episode
                n = int(np.argmax(evaluated)) if evaluated.any() else n
                evaluated = evaluated[:n]
                if self._played is None:
                    self._policy_tables(k, complete=False)
        # player m's (H, S, A_0, …, A_m) as (H, S, A_0 ⋯ A_{m-1}, A_m): views
        blocks = tuple(t.reshape(*t.shape[:2], -1, t.shape[-1]) for t in self._played)
        states, actions, rewards, returns, failed = play_block(
            self._step_arrays, game.initial_distribution, blocks,
            tuple(agent.rng for agent in agents), self.env_rng, n, self._lazy, self._doubling(),
        )  # fmt: skip
        if failed is not None:
            self._not_finite(k, failed)
        for learner in self._learners:  # the block's arrays: valid, as record_episodes checks
            learner._store_episodes(states, actions, rewards)
        m = len(states)
        evaluated = evaluated[:m]
        reg = np.full((len(agents), m), math.nan)
        if evaluated.any():
            if self._start_values is None:
                self._start_values = start_values(game, self._played)[1:]
            first = [actions[evaluated, 0, i] for i in range(len(agents) - 1)]
            reg[:, evaluated] = regret_at(*self._start_values, states[evaluated, 0], first)
        t1 = time.perf_counter() - self._clock
        self._write_rows(
            k, (reg, np.full_like(reg, math.nan)), evaluated, returns, states[:, 0],
            actions[:, 0, :-1].T, replanned, t0 + (t1 - t0) * np.arange(1, m + 1) / m,
        )  # fmt: skip

    def _policy_tables(self, k: int, complete: bool) -> None:
        """The tables of the plan in force, with every row (to evaluate) or none yet.

        Without, the blocks write a learner's rows where they first visit them (:mod:`.episodes`).
        """
        game, agents, learners = self.game, self.agents, self._learners
        sources = [
            learners.index(agent.learner) if not complete and hasattr(agent, "learner") else -1
            for agent in agents
        ]
        H, S = game.horizon, game.n_states
        whole = self._whole_tables(k) if min(sources) < 0 else None
        self._played = [
            np.empty((H, S, *game.action_counts[: m + 1])) if source >= 0
            else np.array(whole[m], dtype=np.float64, order="C")  # writable
            for m, source in enumerate(sources)
        ]  # fmt: skip
        self._lazy = lazy_tables(learners, sources, H, S) if max(sources) >= 0 else None

    def _whole_tables(self, k: int) -> list[np.ndarray]:
        """Every player's whole policy table of the plan in force (errors name episode k)."""
        try:
            return [agent.policy_table(self.game) for agent in self.agents]
        except NonFiniteError as err:
            raise NonFiniteError(f"episode {k}: {err}") from None

    def _not_finite(self, k: int, failed: tuple[int, int, int, int]) -> None:
        """Raise the learner's own error for the non-finite row a block met (``failed``)."""
        i, h, x, m = failed
        try:
            self.agents[m].learner.policy(m, h, x, (0,) * m)
        except NonFiniteError as err:
            raise NonFiniteError(f"episode {k + i}: {err}") from None
        raise NonFiniteError(f"episode {k + i}: the policies at step {h}, state {x} are not finite")

    def _scheduled(self, k: int) -> int:  # episodes from k that surely play the plan in force
        if not self._learners:
            return self.episodes
        agent = self.config.agent
        if agent.schedule == "every":
            return 1
        if agent.schedule == "every-n":
            return agent.schedule_n - k % agent.schedule_n
        return self.episodes  # doubling: the block's own test ends it

    def _doubling(self) -> tuple | None:
        """``(Λ copy, threshold)`` for the block's doubling test, or ``None`` without one."""
        if not self._learners or self.config.agent.schedule != "doubling":
            return None
        learner = self._learners[0]
        if self._threshold is None:
            # The learner's own test reads this field: the block's test must start from it.
            self._threshold = doubling_threshold(learner.logdet_at_plan)
        return np.array(learner.Lambda, dtype=np.float64, order="C"), self._threshold

    def _write_rows(
        self, k, regrets, evaluated, returns, x1, a1, replanned: bool, wall_time
    ) -> None:
        # episodes k, …: regrets (means, half-widths), each (P, n); returns (n, P); a1 (P-1, n)
        regrets, halves = regrets
        n, K, n_eval, rows = len(evaluated), self.episodes, self.config.eval_every, self.rows
        at = slice(k, k + n)
        params = self.agents[0].params()
        rows["seed"][at] = self.seed
        rows["episode"][at] = np.arange(k, k + n)
        names = player_names(len(self.agents))
        for m, player in enumerate(names):
            rows[f"regret_{player}"][at], rows[f"regret_{player}_ci"][at] = regrets[m], halves[m]
            rows[f"return_{player}"][at] = returns[:, m]
        rows["eval_weight"][at] = np.where(
            evaluated, np.minimum(n_eval, K - np.arange(k, k + n)), 0
        )
        rows["x1"][at] = x1
        for name, first in zip(("a1", *(f"a1_{p}" for p in names[1:-1])), a1, strict=True):
            rows[name][at] = first
        rows["replanned"][at] = False
        rows["replanned"][k] = replanned
        for name in ("beta", "lam"):
            rows[name][at] = params.get(name, math.nan)
        alphas = self.agents[0].learner.alphas if "alpha_l" in params else None
        for m, name in enumerate(alpha_names(len(self.agents))):
            rows[name][at] = math.nan if alphas is None else alphas[m]
        rows["wall_time"][at] = wall_time
        self.episodes_done = k + n

    def result(self, table: bool = True) -> Result:
        """The table of the episodes played (its columns if not ``table``) and the plans.

        The plans with ``save_plans``, else ``None``.
        """
        if self._finished is not None:
            return self._finished
        n = self.episodes_done
        rows = {name: values[:n] for name, values in self.rows.items()}
        plans = None if self.recorder is None else self.recorder.finish()
        return (as_table(rows) if table else rows), plans

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict:
        """The seed's whole state: its stream, every agent (a shared learner once), rows, plans."""
        keys = player_names(len(self.agents))
        tree: dict[str, Any] = {
            "env_rng": self.env_rng.bit_generator.state,
            **{key: agent.state_dict() for key, agent in zip(keys, self.agents, strict=True)},
            "rows": {name: values[: self.episodes_done] for name, values in self.rows.items()},
        }
        if self.recorder is not None:
            tree["recorder"] = self.recorder.state_dict()
        return tree

    def load_state_dict(self, tree: dict, episodes_done: int) -> None:
        """Continue from :meth:`state_dict`'s ``tree`` (``ValueError`` naming a misfit)."""
        set_generator_state(self.env_rng, tree.get("env_rng"))
        for key, agent in zip(player_names(len(self.agents)), self.agents, strict=True):
            if not isinstance(tree.get(key), dict):
                raise ValueError(f"the state has no {key}")
            agent.load_state_dict(tree[key])
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
        elapsed, done = time.perf_counter() - self._clock, self.episodes_done
        header = ckpt.identity(self.config, self.game_sha256, self.seed, episodes_done=done,
                               finished=False, elapsed=elapsed)  # fmt: skip
        return ckpt.pack(self.state_dict(), header)

    @classmethod
    def restore(
        cls, game: games_mod.Game, config: RunConfig, seed: int, data: bytes, *, compiled=True
    ) -> SeedRun:
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
        seed_run = cls(game, config, seed, compiled=compiled)
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
    tree: dict[str, Any] = {"rows": {name: df[name].to_numpy() for name in df.columns}}
    if plans is not None:
        tree["plans"] = plans.to_arrays()
    elapsed = float(df["wall_time"].iloc[-1]) if len(df) else 0.0
    header = ckpt.identity(config, game_sha256, seed, episodes_done=config.episodes,
                           finished=True, elapsed=elapsed)  # fmt: skip
    return ckpt.pack(tree, header)


def finished_result(tree: dict, config: RunConfig, episodes: int, where: str) -> Result:
    """The table and plans of a finished seed's checkpoint (:func:`finished`), checked."""
    try:
        df = as_table(_rows(tree, episodes))
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
    followers = sum(f"regret_follower_{i}" in rows for i in range(1, len(rows) + 1))
    names = columns(1 + max(1, followers))
    for name in names:
        values = rows.get(name)
        if not isinstance(values, np.ndarray) or values.shape != (episodes,):
            raise ValueError(f"the rows' column {name} is missing or not {episodes} long")
        if values.dtype != np.dtype(column_dtype(name)):
            raise ValueError(f"the rows' column {name} has dtype {values.dtype}")
    return {name: rows[name] for name in names}
