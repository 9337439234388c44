"""The learner benchmark runs and reports what `stackelberg-rl bench` prints (never a timing)."""

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest

from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.bench import learner as bench
from stackelberg_rl.games import random_linear
from stackelberg_rl.learners import SoftmaxLSVIUCB


@pytest.mark.parametrize("dtype, itemsize", [("float64", 8), ("float32", 4)])
def test_streamed_bytes_counts_every_cached_vector_of_every_plan(dtype, itemsize):
    """Against a feature map's learner, which keeps each next state's features: what plans read."""
    game = random_linear(10, 3, 2, 5, 4, seed=0)
    K = 7
    learner = SoftmaxLSVIUCB(
        game.feature_map, (3, 2), 5, 4, beta=0.5, alphas=(1.0, 1.0), dtype=dtype
    )
    held = 0
    rng = np.random.default_rng(0)
    for _ in range(K):
        learner.plan()  # the plan of episode k reads what the cache holds now
        held += sum(learner._data.next_features[h, : learner.n_samples[h]].nbytes for h in range(3))
        x = game.sample_initial(rng)
        for h in range(4):
            a, b = int(rng.integers(3)), int(rng.integers(2))
            r, x_next = game.step(h, x, a, b, rng)
            learner.record(h, x, (a, b), r, x_next)
            x = x_next
    assert bench.streamed_bytes(game, K, itemsize) == held


def test_run_benchmarks_rows_and_ratios(tmp_path):
    peers = tmp_path / "results.json"  # what make bench-peers writes, reduced to what is read
    peers.write_text(
        json.dumps([{"variant": "rlberry-plain", "episodes": 400, "seconds_median": 30.0}])
    )
    rows = bench.run_benchmarks(episodes=4, repeats=2, peers=peers, bandwidth=1e9)
    by_name = {r["case"]: r for r in rows}
    ours = by_name["leader-follower shared learner float64"]
    assert len(ours["seconds_all"]) == 2  # two repeats: a median as of three
    # 4 episodes of random_linear(200, 4, 4, 16, 10): plans read 0+1+2+3 samples per step h < 9,
    # 16 vectors of 16 float64 each: 6·9·16·16·8 bytes, at the 1 GB/s given.
    assert ours["floor_seconds"] == pytest.approx(6 * 9 * 16 * 16 * 8 / 1e9, rel=1e-12)
    decentralised = by_name["leader-follower decentralised (2 learners)"]
    assert decentralised["floor_seconds"] == pytest.approx(2 * ours["floor_seconds"])
    assert "x_floor" not in by_name["leader-follower doubling"]  # no floor for rare plans
    single = by_name["single-agent K=400 (rlberry problem)"]
    assert single["speedup_vs_rlberry-plain@K=400"] == pytest.approx(
        30.0 / single["seconds_median"]
    )
    text = bench.format_rows(rows)
    assert "numpy read bandwidth here: 1.0 GB/s" in text and "x floor" in text
    assert "leader-follower decentralised (2 learners)" in text
    assert "x faster than rlberry-plain@K=400 (make bench-peers)" in text


def test_a_long_case_runs_in_its_own_process():
    case = bench.Case(
        "tiny", random_linear(10, 2, 2, 4, 3, seed=0), AgentConfig(schedule="doubling"), 30
    )
    row = bench.time_case_isolated(case)
    assert row["pid"] != os.getpid()  # measured in a process of its own
    assert row["case"] == "tiny" and 0 < row["plans"] < 30
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


def test_the_followers_rows_time_the_learner_at_each_number_of_followers():
    rows = bench.followers(episodes=2, repeats=2)
    assert [r["joint_actions"] for r in rows] == [3**2, 3**3, 3**4]
    assert [len(r["seconds_all"]) for r in rows] == [2, 2, 2]
    assert rows[0]["x_one_follower"] == 1.0  # each over one follower's median
    text = bench.format_rows([dict(r, bandwidth_gbs=1.0) for r in rows])
    assert "learner with 3 followers (random-linear S=20, 3 actions each, d=8, H=5)" in text
    learner = bench.learn(bench.followers_game(2), 5, seed=0)
    assert learner.n_players == 3 and learner.n_plans == 5
    assert learner.n_samples.tolist() == [5] * 5
