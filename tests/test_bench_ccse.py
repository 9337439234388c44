"""The CCSE benchmark runs and reports its two ratios (never a timing)."""

import pytest

from stackelberg_rl.bench import ccse as bench


def test_run_benchmarks_rows_and_ratios():
    rows = bench.run_benchmarks(episodes=4, repeats=1)
    saving, saving_dec, replay = rows
    for row in (saving, saving_dec):
        assert row["ratio"] == pytest.approx(row["seconds_with"] / row["seconds_without"])
        # H·d features per episode and, every episode a plan, 2·H·d + 3 numbers: 8 bytes each
        H, d = 10, 16
        assert row["plans_bytes_per_episode"] == 8 * (H * d + 2 * H * d + 3 + 1) + 8 / 4
    assert replay["ratio"] == pytest.approx(replay["seconds_replay"] / replay["seconds_plan"])
    text = bench.format_rows(rows)
    assert "--save-plans / without" in text and "replay episode K-1" in text
