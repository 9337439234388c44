"""Timings of the episode loop: compiled blocks against one episode at a time in Python.

Both loops timed in the same run, interleaved, on two cases: the demo game with the doubling
schedule and the exact regret of every episode (the per-step Python and the regret dominate),
and the learner benchmark's every-episode case (the plans dominate); with the peak memory of the
doubling run.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path

from .. import games
from ..agents import AgentConfig
from ..experiments import RunConfig
from ..experiments.loop import play
from ..games.base import player_names
from . import in_fresh_process, interleaved, median, table
from .learner import leader_follower_game

LOOPS = {"compiled": True, "python": False}
"""The loops timed: ``play(..., compiled=...)``."""


def demo_case(episodes: int) -> tuple[games.FiniteGame, RunConfig]:
    """The demo game, doubling, shared learner, the exact regret of every episode."""
    agent = AgentConfig(beta=0.2, schedule="doubling", decentralised=False)
    return games.make("random-linear"), RunConfig(episodes=episodes, agent=agent)


def every_case(episodes: int) -> tuple[games.FiniteGame, RunConfig]:
    """``random_linear(200, 4, 4, 16, 10)``, a plan every episode, the regret at episode 0."""
    agent = AgentConfig(beta=0.2, decentralised=False)
    return leader_follower_game(), RunConfig(episodes=episodes, agent=agent, eval_every=episodes)


def time_loops(name: str, game, config: RunConfig, repeats: int) -> dict:
    """Median seconds of whole runs (seeds ``0, 1, …``) with each loop, and their ratio.

    Also each run's total regret per player (``{loop}_regret_totals``, one list per seed): the
    loops' tables must be the same but for ``wall_time``, or the ratio is of different work.

    Raises:
        RuntimeError: the two loops' tables of a seed differ.
    """
    for compiled in LOOPS.values():  # untimed: loads numba's cached code
        play(game, RunConfig(episodes=3, agent=config.agent), 0, compiled=compiled)
    tables: dict[str, list] = {loop: [] for loop in LOOPS}

    def one_run(loop: str, seed: int) -> None:
        tables[loop].append(play(game, config, seed, compiled=LOOPS[loop])[0])

    times = interleaved({loop: partial(one_run, loop) for loop in LOOPS}, repeats)
    for seed, (mine, reference) in enumerate(
        zip(tables["compiled"], tables["python"], strict=True)
    ):
        if not mine.drop(columns="wall_time").equals(reference.drop(columns="wall_time")):
            raise RuntimeError(
                f"{name}: the compiled and the Python loop played seed {seed} differently; "
                "their times are not of the same work"
            )
    regrets = [f"regret_{p}" for p in player_names(game.n_players)]
    row = {"case": name, "episodes": config.episodes}
    for loop, values in times.items():
        row[f"{loop}_seconds_median"], row[f"{loop}_seconds_all"] = median(values), values
        row[f"{loop}_regret_totals"] = [[float(t[c].sum()) for c in regrets] for t in tables[loop]]
    return row | {"speedup": row["python_seconds_median"] / row["compiled_seconds_median"]}


def _memory(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` of this process in GB (``getrusage``'s peak survives ``exec``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / 2**30  # kB
    return math.nan


def _peak_here(episodes: int) -> dict:
    game, config = demo_case(episodes)
    play(game, RunConfig(episodes=3, agent=config.agent), 0)  # imports and compiled code
    before = _memory("VmRSS")
    play(game, config, 0)
    return {"peak_rss_gb": _memory("VmHWM"), "rss_before_run_gb": before}


def run_benchmarks(
    episodes: int = 100_000, every_episodes: int = 1000, repeats: int = 3, memory: bool = True
) -> list[dict]:
    """Both cases (``episodes``: K of the doubling case), with its peak memory if ``memory``."""
    doubling = time_loops("demo, doubling, regret every episode", *demo_case(episodes), repeats)
    if memory:
        doubling.update(in_fresh_process(_peak_here, episodes))  # the demo's peak RSS
    every = time_loops("random_linear(200,4,4,16,10), every", *every_case(every_episodes), repeats)
    return [doubling, every]


def format_rows(rows: list[dict]) -> str:
    """A table: each case's medians, the ratio, and the peak memory where measured."""

    def peak(r: dict) -> str | None:
        if "peak_rss_gb" in r:
            return f"{r['peak_rss_gb']:.2f} ({r['rss_before_run_gb']:.2f})"

    columns = [
        ("case", "<42", "case"),
        ("K", ">7", "episodes"),
        ("compiled s", ">11.3f", "compiled_seconds_median"),
        ("python s", ">9.3f", "python_seconds_median"),
        ("speedup", ">8", lambda r: f"{r['speedup']:.1f}x"),
        ("peak GB (before run)", ">21", peak),
    ]
    return "\n".join(table(rows, columns))
