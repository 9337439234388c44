r"""The CCSE certificate against K, from one run saved with --save-plans: the README's figures.

For every seed of the run, the mixture of its first K episodes (K geometric from K_total/16 to
K_total) is replayed and bracketed (math.md §4): each player's upper bound (the mean
best-response gap, what Corollary 1 bounds) and lower bound (k-blind deviations), at the
initial state and the worst state; in a zero-sum game also |V_l^mix - V_l^SE| and the
exploitability. The log-log slope of each upper bound against K is fitted per seed, and its mean
and 95% t-interval over the seeds are printed and written to the JSON file (independent runs;
the nested prefixes of one run give no interval of their own). Run from the project root::

    .venv/bin/stackelberg-rl run --game security --episodes 16000 --seeds 4 --beta 0.2 \
        --alpha-l anytime --alpha-f anytime --centralised --save-plans --out runs/ccse-security
    .venv/bin/python examples/ccse_vs_K.py runs/ccse-security   # runs/ccse-security/ccse-vs-K.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from stackelberg_rl.equilibria import curve_table, loglog_slope, prefix_sizes, slope_interval
from stackelberg_rl.experiments import load_run
from stackelberg_rl.report import plot_certificate_curve, plot_zero_sum_gap

RATES = (
    "leader_upper_initial",
    "follower_upper_initial",
    "leader_upper_worst",
    "follower_upper_worst",
)
ZERO_SUM_RATES = ("value_gap_initial", "exploitability_upper")


def main() -> None:
    """Compute every seed's curve, print the slopes, write the figure and its numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path, help="a run folder written with --save-plans")
    parser.add_argument(
        "--out", type=Path, help="the figure (PNG); RUN_DIR/ccse-vs-K.png if omitted"
    )
    parser.add_argument("--points", type=int, default=5, help="prefixes of the run")
    parser.add_argument("--ratio", type=float, default=16.0, help="the smallest is K/ratio")
    parser.add_argument("--single-episodes", type=int, default=8, help="for the lower bound")
    args = parser.parse_args()

    _, manifest = load_run(args.run_dir)
    args.out = args.out or args.run_dir / "ccse-vs-K.png"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sizes = prefix_sizes(manifest["episodes"], args.points, args.ratio)
    table = curve_table(args.run_dir, sizes, single_episodes=args.single_episodes)
    zero_sum = "value_gap_initial" in table.columns
    columns = RATES + (ZERO_SUM_RATES if zero_sum else ())

    print(table.groupby("episodes").mean().drop(columns="seed").T.to_string(float_format="%.4f"))
    slopes = {}
    for column in columns:
        per_seed = [
            loglog_slope(sizes, group.sort_values("episodes")[column])
            for _, group in table.groupby("seed")
        ]
        mean, half = slope_interval(per_seed)
        slopes[column] = {"per_seed": per_seed, "mean": mean, "half_width_95": half}
        print(f"log-log slope of {column}: {mean:+.3f} ± {half:.3f} (95%, {len(per_seed)} seeds)")

    game = manifest["game"]["name"]
    resolved = manifest["resolved"]
    agent = manifest["config"]["agent"]
    what = (
        f"{game}, beta={resolved['beta']:g}, alpha={agent['alpha_l']}, "
        f"{len(manifest['seeds'])} seeds"
    )
    if zero_sum:
        s = slopes["value_gap_initial"]
        e = slopes["exploitability_upper"]
        title = (
            f"{what}\nlog-log slope of the gap {s['mean']:+.2f} ± {s['half_width_95']:.2f}, "
            f"of the exploitability {e['mean']:+.2f} ± {e['half_width_95']:.2f} (95%)"
        )
        plot_zero_sum_gap(table, args.out, title)
    else:
        lead, follow = slopes["leader_upper_initial"], slopes["follower_upper_initial"]
        title = (
            f"{what}\nlog-log slope of the upper bound: leader {lead['mean']:+.2f} ± "
            f"{lead['half_width_95']:.2f}, follower {follow['mean']:+.2f} ± "
            f"{follow['half_width_95']:.2f} (95% over seeds)"
        )
        plot_certificate_curve(table, args.out, title)
    data = {
        "run": str(args.run_dir),
        "game": manifest["game"],
        "config": manifest["config"],
        "resolved": resolved,
        "sizes": sizes,
        "slopes": slopes,
        "rows": json.loads(table.to_json(orient="records")),
    }
    args.out.with_suffix(".json").write_text(json.dumps(data, indent=1, default=float))
    print(f"figure: {args.out}, numbers: {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
