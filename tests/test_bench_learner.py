"""The learner benchmark runs and reports what `stackelberg-rl bench` prints (never a timing)."""

import importlib.util
import json
import os
from pathlib import Path

import numpy as np

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.bench import learner as bench
from stackelberg_rl.games import random_linear


def test_streamed_bytes_counts_every_cached_vector_of_every_plan():
    game = random_linear(10, 3, 2, 5, 4, seed=0)
    K, itemsize = 7, 8
    # The plan of episode k reads, at each step h < H-1, k stored samples of A·B vectors of d.
    by_hand = sum(k * (4 - 1) * 3 * 2 * 5 * itemsize for k in range(K))
    assert bench.streamed_bytes(game, K, itemsize) == by_hand


def test_run_benchmarks_rows_and_ratios(tmp_path):
    peers = tmp_path / "results.json"  # what make bench-peers writes, reduced to what is read
    peers.write_text(
        json.dumps([{"variant": "rlberry-plain", "episodes": 400, "seconds_median": 30.0}])
    )
    rows = bench.run_benchmarks(episodes=4, repeats=2, peers=peers)
    by_name = {r["case"]: r for r in rows}
    ours = by_name["leader-follower shared learner float64"]
    scratch = by_name["leader-follower from scratch (numpy)"]
    assert len(ours["seconds_all"]) == 2 and ours["seconds_median"] > 0
    assert ours["speedup_vs_scratch"] == scratch["seconds_median"] / ours["seconds_median"]
    assert ours["x_floor"] == ours["seconds_median"] / ours["floor_seconds"]
    # Decentralised, each player's learner reads its own cache: twice the floor.
    decentralised = by_name["leader-follower decentralised (2 learners)"]
    assert decentralised["floor_seconds"] == 2 * ours["floor_seconds"]
    assert "x_floor" not in by_name["leader-follower doubling"]  # no floor for rare plans
    single = by_name["single-agent K=400 (rlberry problem)"]
    assert single["speedup_vs_rlberry-plain@K=400"] == 30.0 / single["seconds_median"]
    text = bench.format_rows(rows)
    assert "numpy read bandwidth" in text and "x floor" in text
    assert "leader-follower decentralised (2 learners)" in text
    assert "x faster than rlberry-plain@K=400 (make bench-peers)" in text


def test_a_long_case_runs_in_its_own_process():
    case = bench.Case(
        "tiny", random_linear(10, 2, 2, 4, 3, seed=0), AgentConfig(schedule="doubling"), 30
    )
    row = bench.time_case_isolated(case)
    assert row["pid"] != os.getpid()  # measured in a process of its own
    assert row["case"] == "tiny" and row["seconds_median"] > 0
    assert 0 < row["plans"] < 30 and row["peak_rss_gb"] > 0
    assert "peak RSS" in bench.format_rows([dict(row, bandwidth_gbs=1.0)])


def test_single_agent_game_is_the_problem_bench_peers_gives_rlberry():
    """The same MDP on both sides: the peers script's draw (importable without rlberry)."""
    path = Path(__file__).parents[1] / "benchmarks" / "peers" / "rlberry_lsvi.py"
    spec = importlib.util.spec_from_file_location("rlberry_lsvi", path)
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)
    P, R = peers.make_mdp(peers.SEED_DEFAULT, peers.S_DEFAULT, peers.A_DEFAULT)
    game = bench.single_agent_game(peers.SEED_DEFAULT)
    assert game.horizon == peers.H_DEFAULT and game.n_follower_actions == 1
    for h in range(game.horizon):
        np.testing.assert_array_equal(game.transition(h)[:, :, 0], P)
        np.testing.assert_array_equal(game.reward(h)[0, :, :, 0], R)
        np.testing.assert_array_equal(game.reward(h)[1, :, :, 0], R)
    np.testing.assert_array_equal(game.initial_distribution, np.eye(peers.S_DEFAULT)[0])
