"""The sweep benchmark plays every variant and reports it (never a timing)."""

from stackelberg_rl.bench import sweep as bench


def test_the_benchmark_grid_names_its_settings_by_alpha_then_seed():
    names = [s.name for s in bench.grid(10, 5)]
    assert names[:2] == ["seed=0,alpha-l=fixed-K", "seed=0,alpha-l=anytime"]
    assert names[4] == "seed=1,alpha-l=fixed-K"


def test_run_benchmarks_plays_each_variant_once_per_repeat():
    rows = bench.run_benchmarks(episodes=4, settings=2, repeats=1, use_ray=False, cores=1)
    assert [r["case"] for r in rows] == [
        "local, 1 worker (2 settings × 1 seed, K = 4)",
        "local, 1 workers",
    ]
    assert [len(r["runs_s"]) for r in rows] == [1, 1] and rows[0]["ratio"] is None
    assert "slowdown" in rows[1]  # read from the seeds' own wall_time in the played folders
    text = bench.format_rows(rows)
    assert "local, 1 worker" in text and "speed-up over 1 worker" in text
    # Runs of K = 4 take milliseconds: not read as the cores sharing caches and memory.
    assert "too short to measure it" in rows[1]["note"] and "caches" not in rows[1]["note"]
