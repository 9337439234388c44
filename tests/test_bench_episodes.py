"""The episode-loop benchmark runs and reports both loops on both cases (never a timing)."""

from stackelberg_rl.bench import episodes as bench


def test_run_benchmarks_times_both_loops_of_both_cases():
    rows = bench.run_benchmarks(episodes=40, every_episodes=6, repeats=2, memory=False)
    assert [row["episodes"] for row in rows] == [40, 6]
    for row in rows:
        assert len(row["compiled_seconds_all"]) == len(row["python_seconds_all"]) == 2
    text = bench.format_rows(rows)
    assert "demo, doubling" in text and "every" in text


def test_the_cases_are_the_ones_the_issue_names():
    game, config = bench.demo_case(100)
    assert (game.n_states, *game.action_counts, game.dim, game.horizon) == (20, 3, 3, 8, 5)
    assert config.eval_every == 1 and config.agent.schedule == "doubling"
    game, config = bench.every_case(1000)
    assert (game.n_states, *game.action_counts, game.dim, game.horizon) == (200, 4, 4, 16, 10)
    assert config.agent.schedule == "every" and config.eval_every == 1000
