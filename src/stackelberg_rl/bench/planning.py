"""Timings of the exact planner: ``evaluate`` and both best responses, linear in ``|S|``.

The ratio of the times at ``10·S`` and ``S`` should be close to 10. Memory is the planner's own
arrays and temporaries (``tracemalloc`` above the baseline), not the game or the policies.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Sequence
from functools import partial

import numpy as np

from ..games import FiniteGame, random_linear
from ..planning import evaluate, follower_best_response, leader_best_response, regret
from . import interleaved, median, table
from .learner import memory_bandwidth

GAME = {"n_leader_actions": 4, "n_follower_actions": 4, "dim": 10, "horizon": 10}
"""The benchmark game of the planner, apart from ``n_states``: A = B = 4, d = 10, H = 10."""

CALLS = ("evaluate", "leader_br", "follower_br", "regret")
COLUMNS = [
    ("S", ">8", "n_states"),
    ("total s", ">8.3f", "seconds_median"),
    ("eval", ">7.3f", "evaluate_median"),
    ("BR_l", ">7.3f", "leader_br_median"),
    ("BR_f", ">7.3f", "follower_br_median"),
    ("floor s", ">8.3f", "floor_seconds"),
    ("peak MB", ">8.1f", "peak_mb"),
    ("input MB", ">9.1f", "input_mb"),
    ("build s", ">8.2f", "build_seconds"),
    ("load", ">5.2f", "load_average"),
    ("regret s", ">9.3f", "regret_median"),
    ("its MB", ">7.1f", "regret_peak_mb"),
]
"""The columns of :func:`format_rows`: heading, format, key."""


def _calls(game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray) -> list:
    """The timed calls: ``CALLS``, ``regret`` being the three passes fused."""
    return [
        partial(evaluate, game, pi_l, pi_f),
        partial(leader_best_response, game, pi_f),
        partial(follower_best_response, game, pi_l),
        partial(regret, game, pi_l, pi_f, 0, 0),
    ]


def streamed_bytes(game: FiniteGame) -> int:
    """Bytes the three backward passes must at least move: a lower bound on their time.

    Each pass reads the features ``(S, A, B, d)`` and writes ``Q (2, S, A, B)`` once per step.
    """
    S, A, B = game.n_states, game.n_leader_actions, game.n_follower_actions
    return 3 * game.horizon * S * A * B * (game.dim + 2) * 8


def run(
    sizes: Sequence[int] = (10_000, 100_000),
    repeats: int = 5,
    seed: int = 0,
    bandwidth: float | None = None,
) -> list[dict]:
    """Time ``evaluate`` + both best responses on ``random_linear(S, 4, 4, 10, 10)`` per ``S``.

    A row per size: medians of the three calls and of each, tracemalloc peaks, the floor at
    ``bandwidth`` (measured if not given), the load; the ratio to the previous size's time.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    bandwidth = memory_bandwidth() if bandwidth is None else bandwidth
    cases = []
    for S in sizes:
        t0 = time.perf_counter()
        game = random_linear(n_states=S, seed=seed, **GAME)
        rng = np.random.default_rng(seed)
        H, A, B = game.horizon, game.n_leader_actions, game.n_follower_actions
        pi_l = rng.dirichlet(np.ones(A), size=(H, S))
        pi_f = rng.dirichlet(np.ones(B), size=(H, S, A))
        cases.append((game, pi_l, pi_f, time.perf_counter() - t0))
    variants = {}
    for i, (game, pi_l, pi_f, _) in enumerate(cases):
        for j, call in enumerate(_calls(game, pi_l, pi_f)):
            call()  # warm-up: first-touch page faults, BLAS threads
            variants[i, j] = lambda _, call=call: call()
    loads: list[float] = []
    variants["load"] = lambda _: loads.append(os.getloadavg()[0])  # after each repeat
    times = interleaved(variants, repeats)  # sizes interleaved: a busy spell hits them alike
    rows: list[dict] = []
    for i, (game, pi_l, pi_f, build) in enumerate(cases):
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        for call in _calls(game, pi_l, pi_f)[:3]:
            call()
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.reset_peak()
        regret(game, pi_l, pi_f, 0, 0)
        regret_peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        totals = np.sum([times[i, j] for j in range(3)], axis=0)
        rows.append(
            {
                "n_states": game.n_states,
                "seconds_median": median(totals),
                **{f"{name}_median": median(times[i, j]) for j, name in enumerate(CALLS)},
                "seconds_all": [float(t) for t in totals],
                "peak_mb": peak / 2**20,
                "regret_peak_mb": regret_peak / 2**20,
                "input_mb": (game.features.nbytes + pi_l.nbytes + pi_f.nbytes) / 2**20,
                "build_seconds": build,
                "floor_seconds": streamed_bytes(game) / bandwidth,
                "bandwidth_gbs": bandwidth / 1e9,
                "load_average": median(loads),
            }
        )
    for prev, row in zip(rows, rows[1:], strict=False):
        row["ratio_vs_previous"] = row["seconds_median"] / prev["seconds_median"]
        row["size_ratio"] = row["n_states"] / prev["n_states"]
    return rows


def format_rows(rows: list[dict]) -> str:
    """A plain-text table of :func:`run`'s rows."""
    lines = [
        f"evaluate + leader_best_response + follower_best_response on random_linear(S, 4, 4, 10, "
        f"10); medians of {len(rows[0]['seconds_all'])} runs; numpy read bandwidth "
        f"{rows[0]['bandwidth_gbs']:.1f} GB/s",
        *table(rows, COLUMNS),
    ]
    for r in rows[1:]:
        lines.append(
            f"time({r['n_states']}) / time({int(r['n_states'] / r['size_ratio'])}) = "
            f"{r['ratio_vs_previous']:.2f} for {r['size_ratio']:.0f}x the states "
            f"(linear: {r['size_ratio']:.0f})"
        )
    lines.append(
        "peak MB: tracemalloc peak of one evaluate + 2 best responses above the baseline "
        "(game and policies excluded); floor s: bytes the passes must move / read bandwidth; "
        "regret s, its MB: regret(), the same three passes fused"
    )
    return "\n".join(lines)
