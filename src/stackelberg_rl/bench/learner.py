"""Timings of the learner: incremental vs from scratch vs the memory floor, and the ablation.

Ratios against rlberry-scool divide by the times ``make bench-peers`` wrote to its JSON (rlberry
lives in its own environment). The ablation turns each low-level trick of the plan off. The cost
with ``N`` followers is the learner's alone (records and plans), against ``∏|A_i|``.
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import resource
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..agents import AgentConfig
from ..experiments import RunConfig, run
from ..games import FiniteGame, random_linear, tabular
from ..learners import SoftmaxLSVIUCB
from . import interleaved, median, seconds

ABLATION = {
    "both tricks": None,
    "math.exp": (False, True),
    "plain products": (True, False),
    "plain numba": (False, False),
}
"""Variants of the plan: ``SoftmaxLSVIUCB.ablation`` (``poly_exp``, ``simd_products``)."""

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
"""The numbers of followers :func:`followers` times the learner at."""


@dataclass
class Case:
    """One benchmarked configuration."""

    name: str
    game: FiniteGame
    agent: AgentConfig
    episodes: int

    def config(self, episodes: int | None = None) -> RunConfig:
        """The run: exact regret only at episode 0, so that the timing is the learner's."""
        K = self.episodes if episodes is None else episodes
        return RunConfig(episodes=K, agent=self.agent, eval_every=K)


def memory_bandwidth(megabytes: int = 256, repeats: int = 7) -> float:
    """Read bandwidth numpy reaches here, bytes per second: median of ``sum`` over an array.

    ``megabytes`` must exceed the caches for the figure to be the memory's.
    """
    a = np.ones(megabytes * 2**20 // 8)
    return a.nbytes / median([seconds(a.sum) for _ in range(repeats)])


def streamed_bytes(game: FiniteGame, episodes: int, itemsize: int) -> float:
    """Bytes of next-state features one every-episode run must read (SPEC §5).

    At the plan of episode ``k`` each step ``h < H-1`` holds ``k`` stored next states with
    ``|A||B|`` feature vectors of ``d`` numbers; each is read at least once (from the feature
    table, by the state's index, whose rows may then stay in the caches: the floor is that of a
    feature map's learner, which keeps every sample's copy).
    """
    A, B, d, H = game.n_leader_actions, game.n_follower_actions, game.dim, game.horizon
    return episodes * (episodes - 1) / 2 * (H - 1) * A * B * d * itemsize


def timed_runs(case: Case, repeats: int) -> tuple[list[float], pd.DataFrame]:
    """Seconds of ``repeats`` whole runs (seeds ``0, 1, …``) and the last run's table."""
    run(case.game, case.config(3), seed=0)  # untimed: loads numba's cached code
    tables = []
    times = interleaved(
        {0: lambda i: tables.append(run(case.game, case.config(), seed=i))}, repeats
    )
    return times[0], tables[-1]


def time_case(case: Case, repeats: int) -> dict:
    """Median wall time of whole runs, and the tracemalloc peak of a quarter run."""
    times, _ = timed_runs(case, repeats)
    tracemalloc.start()
    run(case.game, case.config(max(1, case.episodes // 4)), seed=0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "case": case.name,
        "episodes": case.episodes,
        "seconds_median": median(times),
        "seconds_all": times,
        "peak_mb_quarter_run": peak / 2**20,
    }


def _one_run_here(case: Case) -> dict:
    (elapsed,), df = timed_runs(case, 1)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    return {
        "case": case.name,
        "episodes": case.episodes,
        "seconds_median": elapsed,
        "seconds_all": [elapsed],
        "peak_rss_gb": rss / 2**30,
        "plans": int(df["replanned"].sum()),
        "pid": os.getpid(),
    }


def time_case_isolated(case: Case) -> dict:
    """One run of a long case in a fresh process, so that its peak RSS is its own."""
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(_one_run_here, case).result()


def leader_follower_game() -> FiniteGame:
    """The benchmarks' leader-follower problem: random-linear S=200, A=B=4, d=16, H=10."""
    return random_linear(200, 4, 4, 16, 10, seed=0)


def single_agent_game(seed: int = 20240404) -> FiniteGame:
    """The single-agent problem (S=10, A=4, one-hot d=40, H=5), as ``bench-peers`` draws it.

    ``|B| = 1``; the follower's reward equals the leader's, transitions are the same at every
    step and rewards are in ``[0, 1]``; the game starts in state 0.
    """
    S, A, H = 10, 4, 5
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.ones(S), size=(S, A))
    P /= P.sum(axis=-1, keepdims=True)
    R = rng.uniform(0.0, 1.0, size=(S, A))
    transitions = np.broadcast_to(P[None, :, :, None, :], (H, S, A, 1, S))
    rewards = np.broadcast_to(R[None, None, :, :, None], (2, H, S, A, 1))
    return tabular(transitions, rewards, np.eye(S)[0], name="rlberry-problem(S=10,A=4,H=5)")


def peers_results(path: Path) -> dict[str, float]:
    """Median seconds per ``variant@K=episodes`` from ``make bench-peers``'s JSON, if any."""
    if not path.exists():
        return {}
    records = json.loads(path.read_text())
    return {f"{r['variant']}@K={r['episodes']}": r["seconds_median"] for r in records}


def ablation(episodes: int = 1000, repeats: int = 3) -> list[dict]:
    """Whole runs with each trick of the plan off, on A = B = 4 (K) and A = B = 8 (K/2).

    Each row has the median seconds and ``x_trick``, the median of the variant over that of both
    tricks (what the trick it lacks saves).
    """
    rows = []
    for A, K in ((4, episodes), (8, max(1, episodes // 2))):
        game = random_linear(200, A, A, 16, 10, seed=0)
        case = Case(f"A=B={A}", game, AgentConfig(beta=0.2, decentralised=False), K)

        def play(flags, i: int, K: int | None = None, case: Case = case) -> None:
            SoftmaxLSVIUCB.ablation = flags
            run(case.game, case.config(K), seed=i)

        try:
            for flags in ABLATION.values():  # untimed: load or compile each variant
                play(flags, 0, 3)
            variants = {name: lambda i, f=flags: play(f, i) for name, flags in ABLATION.items()}
            times = interleaved(variants, repeats)
        finally:
            SoftmaxLSVIUCB.ablation = None
        base = median(times["both tricks"])
        for name, values in times.items():
            rows.append(
                {
                    "case": f"ablation {case.name} shared learner: {name}",
                    "episodes": K,
                    "seconds_median": median(values),
                    "seconds_all": values,
                    "x_trick": median(values) / base,
                }
            )
    return rows


def followers_game(n_followers: int) -> FiniteGame:
    """The demo's sizes with ``N`` followers: random-linear S=20, 3 actions each, d=8, H=5."""
    return random_linear(20, 3, 3, 8, 5, seed=0, n_followers=n_followers)


def learn(game: FiniteGame, episodes: int, seed: int) -> SoftmaxLSVIUCB:
    """The learner's work in ``episodes`` episodes of uniform play, seeded by ``seed``.

    A plan before each episode (β = 0.2, every ``α = 2``), then the episode recorded; the
    states are drawn uniformly (the cost does not depend on them).
    """
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
    """The learner's seconds with 1, 2, 3 followers (:func:`followers_game`), interleaved.

    Each row: ``joint_actions`` ``∏|A_i|``, the median, its share per joint action and
    ``x_one_follower``, the median over that of one follower (the two-player figure).
    """
    games = {n: followers_game(n) for n in FOLLOWERS}
    for game in games.values():
        learn(game, 3, 0)  # untimed: loads the compiled code
    times = interleaved(
        {n: lambda i, game=game: learn(game, episodes, i) for n, game in games.items()}, repeats
    )
    one = median(times[FOLLOWERS[0]])
    rows = []
    for n, values in times.items():
        joint = math.prod(games[n].action_counts)
        rows.append(
            {
                "case": f"learner with {n} follower{'s' if n > 1 else ''} (random-linear "
                "S=20, 3 actions each, d=8, H=5)",
                "episodes": episodes,
                "joint_actions": joint,
                "seconds_median": median(values),
                "seconds_all": values,
                "seconds_per_joint_action": median(values) / joint,
                "x_one_follower": median(values) / one,
            }
        )
    return rows


def run_benchmarks(
    episodes: int = 1000,
    repeats: int = 3,
    peers: Path | None = None,
    scale: bool = False,
    bandwidth: float | None = None,
    with_ablation: bool = True,
    with_followers: bool = True,
) -> list[dict]:
    """Time every configuration and return rows with their ratios, then the ablation's rows.

    Then the rows of :func:`followers` (``episodes // 3`` episodes). ``bandwidth`` (bytes per
    second) is measured here unless given.
    """
    bandwidth = memory_bandwidth() if bandwidth is None else bandwidth
    lf = leader_follower_game()
    base = AgentConfig(beta=0.2, decentralised=False)
    cases = [
        Case(f"leader-follower {name}", lf, replace(base, **changes), episodes)
        for name, changes in CASES.items()
    ]
    greedy = AgentConfig(kind="greedy-lsvi-ucb", beta=1.0, decentralised=False)
    cases.append(Case("single-agent K=400 (rlberry problem)", single_agent_game(), greedy, 400))
    if scale:
        cases.append(Case("scale K=20000 every episode", lf, base, 20000))
        doubling = replace(base, schedule="doubling")
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
    single = by_name["single-agent K=400 (rlberry problem)"]
    for key, peer in peers_results(peers or Path("benchmarks/peers/results.json")).items():
        if key.endswith("@K=400"):
            single[f"speedup_vs_{key}"] = peer / single["seconds_median"]
    if with_ablation:
        rows.extend(ablation(episodes, repeats))
    if with_followers:
        rows.extend(followers(max(1, episodes // 3), repeats))
    for r in rows:
        r["bandwidth_gbs"] = bandwidth / 1e9
    return rows


def format_rows(rows: list[dict]) -> str:
    """A plain-text table of the rows, then the single-agent case's ratios against rlberry."""

    def num(r: dict, key: str, fmt: str) -> str:
        value = r.get(key)
        return format(value, fmt) if isinstance(value, float) and math.isfinite(value) else "-"

    bandwidth = next((r["bandwidth_gbs"] for r in rows if "bandwidth_gbs" in r), math.nan)
    lines = [
        f"numpy read bandwidth here: {bandwidth:.1f} GB/s (median of 7); "
        "x faster: than the from-scratch learner, same K",
        f"{'case':<42} {'K':>6} {'median s':>9} {'floor s':>8} {'x floor':>8} "
        f"{'x faster':>9}  memory",
    ]
    ablated = [r for r in rows if "x_trick" in r]
    chains = [r for r in rows if "joint_actions" in r]
    rows = [r for r in rows if "x_trick" not in r and "joint_actions" not in r]
    for r in rows:
        if "peak_rss_gb" in r:
            memory = f"peak RSS {r['peak_rss_gb']:.2f} GB (own process), {r['plans']} plans"
        else:
            memory = f"peak {r['peak_mb_quarter_run']:.1f} MB (tracemalloc, K/4 run)"
        lines.append(
            f"{r['case']:<42} {r['episodes']:>6} {r['seconds_median']:>9.3f} "
            f"{num(r, 'floor_seconds', '.3f'):>8} {num(r, 'x_floor', '.2f'):>8} "
            f"{num(r, 'speedup_vs_scratch', '.1f'):>9}  {memory}"
        )
    prefix = "speedup_vs_"
    peers = [
        (r, k[len(prefix) :], v) for r in rows for k, v in r.items() if k.startswith(prefix + "rl")
    ]
    for r, name, ratio in peers:
        lines.append(f"{r['case']}: {ratio:.1f}x faster than {name} (make bench-peers)")
    if peers:
        lines.append(
            "rlberry's agent pools the H steps (one Λ, every step's samples): each of its plans "
            "visits H·kH stored samples where ours visits k(H-1)"
        )
    if ablated:
        lines.append(
            "ablation (whole runs, variants interleaved; x: median over that of both tricks, "
            "a trick stays if it saves >= 1.3x):"
        )
    for r in ablated:
        lines.append(
            f"  {r['case']:<56} {r['episodes']:>6} {r['seconds_median']:>9.3f} "
            f"{r['x_trick']:>6.2f}x"
        )
    if chains:
        lines.append(
            "N followers (the learner alone: a plan every episode, then its records; medians, "
            "interleaved; x: over one follower's):"
        )
        lines.append(
            f"  {'case':<72} {'K':>5} {'prod |A_i|':>10} {'median s':>9} {'ms per joint':>12}"
            f" {'x':>6}"
        )
    for r in chains:
        lines.append(
            f"  {r['case']:<72} {r['episodes']:>5} {r['joint_actions']:>10} "
            f"{r['seconds_median']:>9.3f} {1000 * r['seconds_per_joint_action']:>12.2f} "
            f"{r['x_one_follower']:>5.2f}x"
        )
    return "\n".join(lines)
