"""Timings of the learner: incremental vs from scratch vs the per-sample memory floor.

Ratios against rlberry-scool divide by the times ``make bench-peers`` wrote to its JSON. The cost
with ``N`` followers is the learner's alone (records and plans), against ``∏|A_i|``.
"""

from __future__ import annotations

import json
import math
import os
import resource
import tracemalloc
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from ..agents import AgentConfig
from ..experiments import RunConfig, run
from ..games import FiniteGame, random_linear, tabular
from ..learners import SoftmaxLSVIUCB
from . import in_fresh_process, interleaved, median, seconds, table

CASES = {
    "shared learner float64": {},
    "shared learner float32": {"dtype": "float32"},
    "from scratch (numpy)": {"reference": True},
    "exact forms (no downdates)": {"incremental": False},
    "decentralised (2 learners)": {"decentralised": True},
    "doubling": {"schedule": "doubling"},
    "every-10": {"schedule": "every-n", "schedule_n": 10},
    "greedy (alpha=inf: no exp)": {"kind": "greedy-lsvi-ucb"},
}
"""The leader-follower cases: changes to the shared learner of ``β = 0.2``."""

FOLLOWERS = (1, 2, 3)
SHARED = AgentConfig(beta=0.2, decentralised=False)
SINGLE = "single-agent K=400 (rlberry problem)"


@dataclass
class Case:
    """One benchmarked configuration."""

    name: str
    game: FiniteGame
    agent: AgentConfig
    episodes: int

    def play(self, seed: int, episodes: int | None = None):
        """A whole run's table, the exact regret at episode 0 only: the timing is the learner's."""
        K = self.episodes if episodes is None else episodes
        return run(self.game, RunConfig(episodes=K, agent=self.agent, eval_every=K), seed=seed)


def _row(case: str, episodes: int, times: list[float], **more) -> dict:
    times_ = {"seconds_median": median(times), "seconds_all": times}
    return {"case": case, "episodes": episodes, **times_, **more}


def memory_bandwidth(megabytes: int = 256, repeats: int = 7) -> float:
    """Read bandwidth (bytes/s) of numpy's ``sum`` over an array larger than the caches."""
    a = np.ones(megabytes * 2**20 // 8)
    return a.nbytes / median([seconds(a.sum) for _ in range(repeats)])


def streamed_bytes(game: FiniteGame, episodes: int, itemsize: int) -> float:
    """Bytes of next-state features an every-episode run's plans read per sample (math.md §5).

    The plan of episode ``k`` reads, at each step ``h < H-1``, ``k`` stored next states'
    ``|A||B|`` feature vectors of ``d`` numbers: the floor of a feature map's learner. A feature
    table's learner values each distinct next state once and reads less.
    """
    A, B, d, H = game.n_leader_actions, game.n_follower_actions, game.dim, game.horizon
    return episodes * (episodes - 1) / 2 * (H - 1) * A * B * d * itemsize


def time_case(case: Case, repeats: int) -> dict:
    """Median wall time of whole runs (seeds ``0, 1, …``), and the tracemalloc peak of K/4."""
    case.play(0, 3)  # untimed: loads numba's cached code
    times = [seconds(partial(case.play, i)) for i in range(repeats)]
    tracemalloc.start()
    case.play(0, max(1, case.episodes // 4))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return _row(case.name, case.episodes, times, peak_mb_quarter_run=peak / 2**20)


def _one_run_here(case: Case) -> dict:
    case.play(0, 3)
    tables = []
    elapsed = seconds(lambda: tables.append(case.play(0)))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    plans = int(tables[0]["replanned"].sum())
    more = {"peak_rss_gb": rss / 2**30, "plans": plans, "pid": os.getpid()}
    return _row(case.name, case.episodes, [elapsed], **more)


def time_case_isolated(case: Case) -> dict:
    """One run of a long case in a fresh process, so that its peak RSS is its own."""
    return in_fresh_process(_one_run_here, case)


def leader_follower_game() -> FiniteGame:
    """The benchmarks' leader-follower problem: random-linear S=200, A=B=4, d=16, H=10."""
    return random_linear(200, 4, 4, 16, 10, seed=0)


def single_agent_game(seed: int = 20240404) -> FiniteGame:
    """The single-agent problem (S=10, A=4, |B|=1, one-hot d=40, H=5) of ``bench-peers``."""
    S, A, H = 10, 4, 5
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    P /= P.sum(axis=-1, keepdims=True)
    R = rng.uniform(0.0, 1.0, size=(S, A))
    transitions = np.broadcast_to(P[None, :, :, None, :], (H, S, A, 1, S))
    rewards = np.broadcast_to(R[None, None, :, :, None], (2, H, S, A, 1))
    return tabular(transitions, rewards, np.eye(S)[0], name="rlberry-problem(S=10,A=4,H=5)")


def followers_game(n_followers: int) -> FiniteGame:
    """The demo's sizes with ``N`` followers: random-linear S=20, 3 actions each, d=8, H=5."""
    return random_linear(20, 3, 3, 8, 5, seed=0, n_followers=n_followers)


def learn(game: FiniteGame, episodes: int, seed: int) -> SoftmaxLSVIUCB:
    """The learner alone: a plan (β = 0.2, α = 2) then an episode of uniform play, K times."""
    rng = np.random.default_rng(seed)
    H, P = game.horizon, game.n_players
    states = rng.integers(game.n_states, size=(episodes, H + 1))
    actions = np.stack([rng.integers(n, size=(episodes, H)) for n in game.action_counts], -1)
    rewards = rng.uniform(-1.0, 1.0, size=(episodes, H, P))
    learner = SoftmaxLSVIUCB(
        game.features, game.action_counts, game.dim, H, beta=0.2, alphas=(2.0,) * P
    )
    for k in range(episodes):
        learner.plan(k)
        learner.record_episodes(states[k : k + 1], actions[k : k + 1], rewards[k : k + 1])
    return learner


def followers(episodes: int = 300, repeats: int = 3) -> list[dict]:
    """The learner's seconds with 1, 2, 3 followers, per joint action and over one follower's."""
    games = {n: followers_game(n) for n in FOLLOWERS}
    for game in games.values():
        learn(game, 3, 0)  # untimed: loads the compiled code
    times = interleaved({n: partial(learn, g, episodes) for n, g in games.items()}, repeats)
    one = median(times[FOLLOWERS[0]])
    rows = []
    for n, values in times.items():
        joint = math.prod(games[n].action_counts)
        plural = "s" * (n > 1)
        name = f"learner with {n} follower{plural} (random-linear S=20, 3 actions each, d=8, H=5)"
        more = {"joint_actions": joint, "seconds_per_joint_action": median(values) / joint}
        rows.append(_row(name, episodes, values, **more, x_one_follower=median(values) / one))
    return rows


def run_benchmarks(
    episodes: int = 1000,
    repeats: int = 3,
    peers: Path | None = None,
    scale: bool = False,
    bandwidth: float | None = None,
) -> list[dict]:
    """Every case's row with its ratios, then the followers' (K/3) rows."""
    bandwidth = memory_bandwidth() if bandwidth is None else bandwidth
    lf = leader_follower_game()
    cases = [
        Case(f"leader-follower {name}", lf, replace(SHARED, **changes), episodes)
        for name, changes in CASES.items()
    ]
    greedy = AgentConfig(kind="greedy-lsvi-ucb", beta=1.0, decentralised=False)
    cases.append(Case(SINGLE, single_agent_game(), greedy, 400))
    if scale:
        cases.append(Case("scale K=20000 every episode", lf, SHARED, 20000))
        doubling = replace(SHARED, schedule="doubling")
        cases.append(Case("scale K=100000 doubling", lf, doubling, 100000))
    rows = []
    for case in cases:
        row = time_case_isolated(case) if case.episodes > 5000 else time_case(case, repeats)
        if case.game is lf and case.agent.schedule == "every":
            # Decentralised, each player's learner streams its own copy of the cache.
            copies = 2 if case.agent.decentralised else 1
            itemsize = 4 if case.agent.dtype == "float32" else 8
            row["floor_seconds"] = copies * streamed_bytes(lf, case.episodes, itemsize) / bandwidth
            row["x_floor"] = row["seconds_median"] / row["floor_seconds"]
        rows.append(row)
    by_name = {r["case"]: r for r in rows}
    scratch = by_name["leader-follower from scratch (numpy)"]["seconds_median"]
    for r in rows:
        if r["case"].startswith("leader-follower") and r["episodes"] == episodes:
            r["speedup_vs_scratch"] = scratch / r["seconds_median"]
    path = peers or Path("benchmarks/peers/results.json")
    # make bench-peers's JSON: the median seconds of each variant at each K
    for peer in json.loads(path.read_text()) if path.exists() else []:
        if peer["episodes"] == 400:
            key = f"speedup_vs_{peer['variant']}@K=400"
            by_name[SINGLE][key] = peer["seconds_median"] / by_name[SINGLE]["seconds_median"]
    rows.extend(followers(max(1, episodes // 3), repeats))
    return [r | {"bandwidth_gbs": bandwidth / 1e9} for r in rows]


def format_rows(rows: list[dict]) -> str:
    """A plain-text table of the rows, then the single-agent case's ratios against rlberry."""
    bandwidth = next((r["bandwidth_gbs"] for r in rows if "bandwidth_gbs" in r), math.nan)
    chains = [r for r in rows if "joint_actions" in r]
    rows = [r for r in rows if "joint_actions" not in r]

    def memory(r: dict) -> str:
        if "peak_rss_gb" in r:
            return f" peak RSS {r['peak_rss_gb']:.2f} GB (own process), {r['plans']} plans"
        return f" peak {r['peak_mb_quarter_run']:.1f} MB (tracemalloc, K/4 run)"

    median_s = ("median s", ">9.3f", "seconds_median")
    lines = [
        f"numpy read bandwidth here: {bandwidth:.1f} GB/s (median of 7); "
        "x faster: than the from-scratch learner, same K",
        *table(
            rows,
            [("case", "<42", "case"), ("K", ">6", "episodes"), median_s]
            + [("floor s", ">8.3f", "floor_seconds"), ("x floor", ">8.2f", "x_floor")]
            + [("x faster", ">9.1f", "speedup_vs_scratch"), (" memory", "", memory)],
        ),
    ]
    peers = [
        f"{r['case']}: {x:.1f}x faster than {k.removeprefix('speedup_vs_')} (make bench-peers)"
        for r in rows
        for k, x in r.items()
        if k.startswith("speedup_vs_rl")
    ]
    lines += peers
    if peers:
        lines.append(
            "rlberry's agent pools the H steps (one Λ, every step's samples): each of its plans "
            "values H·kH stored samples where ours values at most S next states per step"
        )
    if chains:
        lines.append(
            "N followers (the learner alone: a plan every episode, then its records; medians, "
            "interleaved; x: over one follower's):"
        )
        columns = [("case", "<72", "case"), ("K", ">5", "episodes")]
        columns += [("prod |A_i|", ">10", "joint_actions"), median_s]
        columns += [("ms per joint", ">12.2f", lambda r: 1000 * r["seconds_per_joint_action"])]
        lines += table(chains, [*columns, ("x", ">6.2f", "x_one_follower")], indent="  ")
    return "\n".join(lines)
