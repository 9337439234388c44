"""``bench``: medians and ratios of the planner's, the learner's and the CCSE's timings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import _validate
from .._files import write_atomic
from .errors import check_writable_file, checked
from .options import build, command, options


@dataclass
class BenchOptions:
    """What ``bench`` times: the exact planner, whole learning runs, saving and replaying plans."""

    episodes: int = 1000
    """K of the timed learning runs."""
    repeats: int = 3
    """Timed runs per case (the median is reported)."""
    scale: bool = False
    """Add the K=20000 and K=100000 cases (minutes)."""
    loop_episodes: int = 100_000
    """K of the episode loop's doubling case on the demo game (the Python loop it is timed
    against takes about half a minute a run at K = 100000)."""
    sweep: bool = False
    """Time sweeps instead (minutes): one core against all local cores, and a local Ray against
    the local processes, on four runs of about 5 s (K = 4000 unless --episodes is given)."""
    json: str | None = field(default=None, metadata={"metavar": "FILE"})
    """Also write every figure to this JSON file (checked to be writable before anything runs)."""

    def __post_init__(self) -> None:
        """Raise :class:`ValueError` naming the first bad field (an unwritable ``json`` too)."""
        for name in ("episodes", "repeats", "loop_episodes"):
            _validate.integer(getattr(self, name), name, low=1)
        if self.json is not None:
            check_writable_file(Path(self.json), "--json", "benchmark JSON", is_bench_json)


def is_bench_json(path: Path) -> bool:
    """Whether ``path`` holds figures written by ``bench --json`` (and may be replaced)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    figures = {"planner", "learner", "episodes", "ccse", "sweep"}  # the keys bench --json writes
    return isinstance(data, dict) and bool(data) and set(data) <= figures


BENCH_OPTIONS = options(BenchOptions())


@command(BENCH_OPTIONS)
def bench(values: dict[str, Any]) -> int:
    """Time the exact planner, learning runs, and saving and replaying a run's plans (the CCSE).

    Medians and ratios. With --sweep: sweeps on one core, all local cores and a local Ray
    instead.
    """
    opts = checked(lambda: build(BenchOptions(), BENCH_OPTIONS, values))
    if opts.sweep:
        from ..bench import sweep

        episodes = opts.episodes if "episodes" in values else 4000
        print(f"== sweeps: medians of {opts.repeats} runs of each variant, interleaved")
        rows = sweep.run_benchmarks(episodes=episodes, repeats=opts.repeats)
        print(sweep.format_rows(rows))
        return _write_json(opts.json, {"sweep": rows})
    from ..bench import ccse, episodes, learner, planning

    bandwidth = learner.memory_bandwidth()  # one figure for both tables
    print("== exact planner: evaluate + both best responses, random_linear(S, 4, 4, 10, 10)")
    plan_rows = planning.run(repeats=opts.repeats, bandwidth=bandwidth)
    print(planning.format_rows(plan_rows))
    print("\n== learner: whole learning runs")
    rows = learner.run_benchmarks(
        episodes=opts.episodes, repeats=opts.repeats, scale=opts.scale, bandwidth=bandwidth
    )
    print(learner.format_rows(rows))
    print("\n== the episode loop: compiled blocks against the Python loop, interleaved medians")
    loop_rows = episodes.run_benchmarks(episodes=opts.loop_episodes, repeats=opts.repeats)
    print(episodes.format_rows(loop_rows))
    print("\n== the CCSE: saving a run's plans, replaying one episode (medians)")
    ccse_rows = ccse.run_benchmarks(episodes=opts.episodes, repeats=opts.repeats)
    print(ccse.format_rows(ccse_rows))
    figures = {"planner": plan_rows, "learner": rows, "episodes": loop_rows, "ccse": ccse_rows}
    return _write_json(opts.json, figures)


def _write_json(where: str | None, figures: dict) -> int:
    """Write ``figures`` to the ``--json`` file, if one was given (atomically); 0."""
    if where is not None:
        data = json.dumps(figures, indent=1).encode()
        checked(lambda: write_atomic(Path(where), data), writing=f"--json {where}")
    return 0
