"""The episode-loop benchmark times the same runs with both loops (never a timing)."""

import json

import pytest

from stackelberg_rl.bench import episodes as bench
from stackelberg_rl.experiments.loop import play


def test_both_loops_are_timed_on_the_runs_the_python_loop_plays_here():
    rows = json.loads(json.dumps(bench.run_benchmarks(episodes=40, every_episodes=6, repeats=2,
                                                      memory=False)))  # fmt: skip
    for row, (game, config) in zip(rows, (bench.demo_case(40), bench.every_case(6)), strict=True):
        assert row["episodes"] == config.episodes
        for loop in bench.LOOPS:
            assert len(row[f"{loop}_seconds_all"]) == 2
        # Seeds 0 and 1 played here by the plain Python loop: the totals both timed loops report.
        mine = []
        for seed in range(2):
            table = play(game, config, seed, compiled=False)[0]
            mine.append([float(table[c].sum()) for c in ("regret_leader", "regret_follower")])
        assert row["compiled_regret_totals"] == mine
        assert row["python_regret_totals"] == mine
    text = bench.format_rows(rows)
    assert "demo, doubling" in text and "every" in text


def test_loops_that_play_differently_are_refused(monkeypatch):
    def play_off(game, config, seed, compiled=True):
        table, plans = play(game, config, seed, compiled=compiled)
        if compiled and seed == 1:
            table.loc[3, "regret_leader"] += 1e-12
        return table, plans

    monkeypatch.setattr(bench, "play", play_off)
    with pytest.raises(RuntimeError, match="played seed 1 differently"):
        bench.time_loops("demo", *bench.demo_case(10), repeats=2)


def test_the_cases_are_the_ones_the_issue_names():
    game, config = bench.demo_case(100)
    assert (game.n_states, *game.action_counts, game.dim, game.horizon) == (20, 3, 3, 8, 5)
    assert config.eval_every == 1 and config.agent.schedule == "doubling"
    game, config = bench.every_case(1000)
    assert (game.n_states, *game.action_counts, game.dim, game.horizon) == (200, 4, 4, 16, 10)
    assert config.agent.schedule == "every" and config.eval_every == 1000
