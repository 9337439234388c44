"""Exact planner benchmark: ``.venv/bin/python benchmarks/bench_planning.py``.

Times evaluate + leader_best_response + follower_best_response on random_linear(S, 4, 4, 10, 10)
for S = 10^4 and 10^5 (medians of 5 runs), reports the tracemalloc peak and the ratio
time(10^5) / time(10^4), which should be close to 10. The code lives in
``stackelberg_rl.bench.planning`` so that ``stackelberg-rl bench`` can call it.
Options: --sizes 10000 100000 --repeats 5 --json rows.json
"""

from stackelberg_rl.bench.planning import main

if __name__ == "__main__":
    raise SystemExit(main())
