"""The CCSE benchmark runs and reports the plans' bytes and its two ratios (never a timing)."""

from stackelberg_rl.bench import ccse as bench


def test_run_benchmarks_rows_and_ratios():
    rows = bench.run_benchmarks(episodes=4, repeats=1)
    saving, saving_dec, replay = rows
    for row in (saving, saving_dec):
        # H·d features per episode and, every episode a plan, 2·H·d + 3 numbers: 8 bytes each
        H, d = 10, 16
        assert row["plans_bytes_per_episode"] == 8 * (H * d + 2 * H * d + 3 + 1) + 8 / 4
    text = bench.format_rows(rows)
    assert "--save-plans / without" in text and "replay episode K-1" in text
