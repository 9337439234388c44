"""The sweep benchmark runs and reports its ratios (never a timing)."""

import pytest

from stackelberg_rl.bench import sweep as bench


def test_the_benchmark_grid_names_its_settings_by_alpha_then_seed():
    names = [s.name for s in bench.grid(10, 5)]
    assert names[:2] == ["seed=0,alpha-l=fixed-K", "seed=0,alpha-l=anytime"]
    assert names[4] == "seed=1,alpha-l=fixed-K"


def test_run_benchmarks_rows_and_ratios():
    rows = bench.run_benchmarks(episodes=4, settings=2, repeats=1, use_ray=False, cores=1)
    one, every = rows
    assert every["ratio"] == pytest.approx(one["median_s"] / every["median_s"])
    text = bench.format_rows(rows)
    assert "local, 1 worker" in text and "speed-up over 1 worker" in text
