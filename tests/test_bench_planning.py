"""The planner benchmark runs and returns what `stackelberg-rl bench` will print (not a timing)."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from stackelberg_rl.bench import interleaved, table
from stackelberg_rl.bench import planning as bench


@pytest.fixture(autouse=True)
def no_bandwidth_stream(monkeypatch):
    """The real measurement streams hundreds of MB: not in CI."""
    monkeypatch.setattr(bench, "memory_bandwidth", lambda: 2e9)


def test_run_returns_one_row_per_size_with_the_ratio():
    rows = bench.run(sizes=(20, 200), repeats=2)
    assert [r["n_states"] for r in rows] == [20, 200]
    assert [len(r["seconds_all"]) for r in rows] == [2, 2]
    assert "ratio_vs_previous" not in rows[0]
    assert rows[1]["size_ratio"] == 10
    text = bench.format_rows(rows)
    assert "time(200) / time(20)" in text and "peak MB" in text


def test_floor_counts_the_arrays_the_three_passes_touch_at_every_step():
    rows = bench.run(sizes=(20,), repeats=1, bandwidth=1e9)
    game = bench.random_linear(n_states=20, seed=0, **bench.GAME)
    # What one pass reads and writes at one step: the features and one Q_h of both players, as
    # the planner allocates it (not the formula restated).
    V_next = np.zeros((2, game.n_states))
    touched = game.features.nbytes + game.action_values(0, V_next).nbytes
    assert bench.streamed_bytes(game) == 3 * game.horizon * touched
    assert rows[0]["floor_seconds"] == pytest.approx(3 * game.horizon * touched / 1e9)
    assert rows[0]["bandwidth_gbs"] == 1.0


def test_run_rejects_no_repeats():
    with pytest.raises(ValueError, match="repeats"):
        bench.run(sizes=(20,), repeats=0)


def test_the_script_writes_json(tmp_path, capsys):
    path = Path(__file__).parents[1] / "benchmarks" / "bench_planning.py"
    spec = importlib.util.spec_from_file_location("bench_planning", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    out = tmp_path / "rows.json"
    assert script.main(["--sizes", "20", "--repeats", "1", "--json", str(out)]) == 0
    assert "evaluate + leader_best_response" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert [r["n_states"] for r in written] == [20]


def test_variants_are_timed_in_turn_within_each_repeat():
    calls = []
    variants = {name: lambda i, name=name: calls.append((name, i)) for name in "ab"}
    times = interleaved(variants, 3)
    assert calls == [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
    assert list(times) == ["a", "b"] and [len(t) for t in times.values()] == [3, 3]


def test_table_aligns_headings_with_their_columns_and_shows_a_missing_value_as_a_dash():
    rows = [{"a": 1.5}, {"a": None}, {"a": float("nan")}, {}]
    lines = table(rows, [("a", ">6.2f", "a"), ("b", ">4", lambda r: "x")], indent="  ")
    assert lines == ["       a    b", "    1.50    x", *["       -    x"] * 3]
