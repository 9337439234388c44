"""Exact planner benchmark: ``.venv/bin/python benchmarks/bench_planning.py``.

Times evaluate + leader_best_response + follower_best_response on random_linear(S, 4, 4, 10, 10)
for S = 10^4 and 10^5 (medians of 5 runs), reports the tracemalloc peak and the ratio
time(10^5) / time(10^4), which should be close to 10 (``stackelberg_rl.bench.planning``, which
``stackelberg-rl bench`` also calls). Options: --sizes 10000 100000 --repeats 5 --json rows.json
"""

import argparse
import json
from collections.abc import Sequence

from stackelberg_rl.bench.planning import format_rows, run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", help="also write the rows to this file")
    args = parser.parse_args(argv)
    rows = run(args.sizes, args.repeats)
    print(format_rows(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
