"""The planner benchmark runs and returns what `stackelberg-rl bench` will print (not a timing)."""

import json

import pytest

from stackelberg_rl.bench import planning as bench


def test_run_returns_one_row_per_size_with_the_ratio():
    rows = bench.run(sizes=(20, 200), repeats=2)
    assert [r["n_states"] for r in rows] == [20, 200]
    for r in rows:
        assert len(r["seconds_all"]) == 2
        assert r["seconds_median"] > 0 and r["peak_mb"] > 0 and r["floor_seconds"] > 0
        assert min(r["evaluate_median"], r["leader_br_median"], r["follower_br_median"]) > 0
    assert "ratio_vs_previous" not in rows[0]
    assert rows[1]["size_ratio"] == 10
    assert rows[1]["ratio_vs_previous"] == pytest.approx(
        rows[1]["seconds_median"] / rows[0]["seconds_median"]
    )
    text = bench.format_rows(rows)
    assert "time(200) / time(20)" in text and "peak MB" in text


def test_floor_is_the_bytes_of_three_passes_over_the_given_bandwidth():
    rows = bench.run(sizes=(20,), repeats=1, bandwidth=1e9)
    game = bench.random_linear(n_states=20, seed=0, **bench.GAME)
    # Three passes, each reading features (S, A, B, d) and writing Q (2, S, A, B) at every step.
    by_hand = 3 * 10 * 20 * 4 * 4 * (10 + 2) * 8
    assert bench.streamed_bytes(game) == by_hand
    assert rows[0]["floor_seconds"] == by_hand / 1e9 and rows[0]["bandwidth_gbs"] == 1.0


def test_run_rejects_no_repeats():
    with pytest.raises(ValueError, match="repeats"):
        bench.run(sizes=(20,), repeats=0)


def test_main_writes_json(tmp_path, capsys):
    out = tmp_path / "rows.json"
    assert bench.main(["--sizes", "20", "--repeats", "1", "--json", str(out)]) == 0
    assert "evaluate + leader_best_response" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert [r["n_states"] for r in written] == [20] and written[0]["seconds_median"] > 0
