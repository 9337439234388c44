"""Reward-free Stackelberg gaps against exploration episodes, and the CCSE route on the same budget.

For each seed, one reward-free exploration of ``max(budgets)`` episodes (``α = anytime``, so its
first ``K`` episodes are an exploration of ``K``: math.md §7); at each budget ``K`` the plan on
those ``K`` episodes and its exact gaps (:func:`~stackelberg_rl.equilibria.reward_free.gaps`):
the leader's ``V_l^SE − V_l^{π̂_l, BR_f^-(π̂_l)}`` and the follower's best-response gap, at the
initial distribution and the worst initial state. The CCSE route: for each budget ``K``, a run
of ``K`` episodes of soft-max LSVI-UCB (the paper's fixed-K ``α``) whose uniform mixture of
policies is certified by :func:`~stackelberg_rl.equilibria.certificate` (the bounds on each
player's ``ε``), with the mixture's leader value against the Stackelberg value.

Every (game, seed) is one job, run in parallel processes; the table is written, then plotted from
what was written. The log-log slope of each mean gap against ``K`` is fitted by least squares on
the budgets where the mean over seeds is positive, and its 95% interval is the percentile
interval of the slopes of 2,000 bootstrap resamples of the seeds. Run from the project root::

    .venv/bin/python examples/reward_free_gaps.py --out runs/reward-free
"""

from __future__ import annotations

import argparse
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from stackelberg_rl import games
from stackelberg_rl.agents import AgentConfig, make_agents
from stackelberg_rl.equilibria import certificate
from stackelberg_rl.equilibria import reward_free as rf
from stackelberg_rl.planning import stackelberg_equilibrium


@dataclass(frozen=True)
class Experiment:
    """One figure's configuration."""

    games: tuple[str, ...] = ("security", "electricity")
    """Registered games, at their default (general-sum) parameters."""
    budgets: tuple[int, ...] = (10, 20, 40, 80, 160, 320, 640, 1280, 2560)
    """Exploration episodes K (and the CCSE runs' K)."""
    seeds: int = 16
    """Independent seeds 0 … seeds-1 per game."""
    beta: float = 1.0
    """β of the exploration (bonus and reward)."""
    ccse_beta: float = 0.2
    """β of the CCSE route's soft-max LSVI-UCB runs."""
    lam: float = 1.0
    """λ of both routes' regressions."""
    ccse: bool = True
    """Also run the CCSE route."""
    also: tuple[tuple[str, str], ...] = ()
    """Other rewards planned from the same explorations: the game with these parameters changed
    (its transitions must stay those explored), e.g. (("zero_sum", "true"),); metrics
    ``also/gap/...``."""
    bootstrap: int = 2000
    """Bootstrap resamples of the seeds for the slopes' intervals."""
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Processes."""


def reward_free_rows(game_name: str, seed: int, exp: Experiment) -> list[dict]:
    """The gaps of the plan after each budget of one exploration."""
    game = games.make(game_name)
    data = rf.explore(game, max(exp.budgets), beta=exp.beta, lam=exp.lam, seed=seed)
    # The leader's gap of the exact Stackelberg policy: positive where the follower has exact
    # ties in the true game, which the gap breaks against the leader (math.md §7).
    floor = rf.gaps(game, *stackelberg_equilibrium(game)[:2])["gap/leader/initial"]
    other = games.make(game_name, **dict(exp.also)) if exp.also else None
    rows = []
    for K in exp.budgets:
        gaps = rf.gaps(game, *rf.solve(data.head(K), lam=exp.lam))
        gaps["floor/leader/initial"] = floor
        if other is not None:  # the same data, other rewards: known exactly (math.md §7)
            also = rf.gaps(other, *rf.solve(data.head(K), other, lam=exp.lam))
            gaps.update({f"also/{k}": v for k, v in also.items()})
        for key, value in gaps.items():
            rows.append(dict(game=game_name, seed=seed, K=K, route="reward-free", metric=key,
                             value=value))  # fmt: skip
    return rows


def ccse_rows(game_name: str, seed: int, exp: Experiment) -> list[dict]:
    """The certificate of the mixture of a soft-max LSVI-UCB run of each budget."""
    game = games.make(game_name)
    _, _, se = stackelberg_equilibrium(game)
    p0 = game.initial_distribution
    starts = p0 > 0
    rows = []
    for K in exp.budgets:
        env_ss, agents_ss = np.random.SeedSequence([seed, K]).spawn(2)
        env = np.random.default_rng(env_ss)
        config = AgentConfig(beta=exp.ccse_beta, lam=exp.lam)
        leader, follower = make_agents(game, config, episodes=K, seed=agents_ss)
        tables_l, tables_f = [], []
        for k in range(K):
            leader.begin_episode(k)
            follower.begin_episode(k)
            tables_l.append(leader.policy_table(game).copy())
            tables_f.append(follower.policy_table(game).copy())
            x = game.sample_initial(env)
            for h in range(game.horizon):
                a = leader.act(h, x)
                b = follower.act(h, x, a)
                r, x_next = game.step(h, x, a, b, env)
                leader.record(h, x, a, b, r, x_next)
                follower.record(h, x, a, b, r, x_next)
                x = x_next
        cert = certificate(game, np.stack(tables_l), np.stack(tables_f))
        metrics = {
            "ccse/leader/upper": cert.upper_initial[0],
            "ccse/leader/lower": cert.lower_initial[0],
            "ccse/follower/upper": cert.upper_initial[1],
            "ccse/follower/lower": cert.lower_initial[1],
            "ccse/leader/upper_worst": cert.upper[0, starts].max(),
            "ccse/follower/upper_worst": cert.upper[1, starts].max(),
            "ccse/leader/value_shortfall": p0 @ se.V[0, 0] - p0 @ cert.mixture_value[0],
        }
        for key, value in metrics.items():
            rows.append(dict(game=game_name, seed=seed, K=K, route="ccse", metric=key,
                             value=float(value)))  # fmt: skip
    return rows


def job(args: tuple[str, int, Experiment]) -> list[dict]:
    """One (game, seed): both routes."""
    game_name, seed, exp = args
    rows = reward_free_rows(game_name, seed, exp)
    if exp.ccse:
        rows += ccse_rows(game_name, seed, exp)
    return rows


# ---------------------------------------------------------------------- summary, from the table
def slope(table: pd.DataFrame, n_boot: int, seed: int = 0) -> tuple[float, float, float, int]:
    """Log-log slope of the mean over seeds against K, and its bootstrap 95% interval.

    Args:
        table: rows of one (game, route, metric): columns ``seed``, ``K``, ``value``.
        n_boot: bootstrap resamples of the seeds.
        seed: of the bootstrap.

    Returns:
        ``(slope, low, high, budgets used)``; NaN when fewer than 3 budgets have a positive mean.
    """
    wide = table.pivot(index="seed", columns="K", values="value")
    mean = wide.mean(axis=0)
    used = mean.index[mean > 1e-12]
    if len(used) < 3:
        return np.nan, np.nan, np.nan, len(used)
    x = np.log(np.asarray(used, dtype=float))
    values = wide[used].to_numpy()
    fit = np.polyfit(x, np.log(mean[used].to_numpy()), 1)[0]
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    draws = []
    for _ in range(n_boot):
        m = values[rng.integers(0, len(values), len(values))].mean(axis=0)
        if (m > 1e-12).all():  # a resample with a zero mean has no logarithm: left out
            draws.append(np.polyfit(x, np.log(m), 1)[0])
    low, high = np.percentile(draws, [2.5, 97.5]) if draws else (np.nan, np.nan)
    return float(fit), float(low), float(high), len(used)


def summarise(df: pd.DataFrame, n_boot: int) -> pd.DataFrame:
    """Mean and 95% t-interval over seeds per budget, and the slopes: one row per curve."""
    from scipy import stats

    rows = []
    for (game, route, metric), table in df.groupby(["game", "route", "metric"], sort=False):
        if metric.startswith(("value/", "floor/", "also/value/")):
            continue
        s, low, high, n_used = slope(table, n_boot)
        by_k = table.groupby("K")["value"]
        n = by_k.count()
        half = stats.t.ppf(0.975, n - 1) * by_k.std(ddof=1) / np.sqrt(n)
        rows.append(dict(game=game, route=route, metric=metric, slope=s, slope_low=low,
                         slope_high=high, budgets_in_fit=n_used,
                         mean=by_k.mean().to_dict(), half_width=half.to_dict()))  # fmt: skip
    return pd.DataFrame(rows)


CURVES = {
    "leader": [
        ("reward-free", "gap/leader/initial", "reward-free: $V_l^{SE} - V_l(\\hat\\pi_l, BR_f^-)$"),
        ("ccse", "ccse/leader/upper", "CCSE mixture: leader $\\epsilon$, upper bound"),
        ("ccse", "ccse/leader/lower", "CCSE mixture: leader $\\epsilon$, lower bound"),
    ],
    "follower": [
        ("reward-free", "gap/follower/initial", "reward-free: follower best-response gap"),
        ("ccse", "ccse/follower/upper", "CCSE mixture: follower $\\epsilon$, upper bound"),
        ("ccse", "ccse/follower/lower", "CCSE mixture: follower $\\epsilon$, lower bound"),
    ],
}


def plot(df: pd.DataFrame, summary: pd.DataFrame, path: Path) -> None:
    """One row per game, leader and follower panels: means over seeds with 95% bands."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    game_names = list(dict.fromkeys(df["game"]))
    fig, axes = plt.subplots(len(game_names), 2, figsize=(11, 5.4 * len(game_names)),
                             squeeze=False)  # fmt: skip
    for row, game in enumerate(game_names):
        for col, player in enumerate(("leader", "follower")):
            ax = axes[row, col]
            for route, metric, label in CURVES[player]:
                s = summary[(summary.game == game) & (summary.metric == metric)]
                if s.empty:
                    continue
                s = s.iloc[0]
                K = np.array(sorted(s["mean"]))
                mean = np.array([s["mean"][k] for k in K])
                half = np.nan_to_num(np.array([s["half_width"][k] for k in K]))
                shown = mean > 1e-12
                if np.isfinite(s["slope"]):
                    label += (
                        f" (slope {s['slope']:.2f} [{s['slope_low']:.2f}, {s['slope_high']:.2f}])"
                    )
                style = "-o" if route == "reward-free" else "--s"
                (line,) = ax.plot(K[shown], mean[shown], style, ms=3, label=label)
                low = np.maximum(mean - half, mean * 0.05)
                ax.fill_between(K[shown], low[shown], (mean + half)[shown], alpha=0.15,
                                color=line.get_color())  # fmt: skip
            floor = df[(df.game == game) & (df.metric == f"floor/{player}/initial")]["value"]
            if len(floor) and floor.max() > 1e-12:
                label = f"floor: the exact Stackelberg policy's gap ({floor.max():.4f})"
                ax.axhline(floor.max(), color="gray", ls=":", lw=1, label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("episodes K")
            ax.set_title(f"{game} (general-sum): {player}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    """Run, write ``results.parquet`` and ``summary.json``, plot ``--figure``."""
    defaults = Experiment()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out",
        default="runs/reward-free-gaps",
        help="folder for results.parquet, summary.json and the figure",
    )
    parser.add_argument(
        "--games",
        nargs="+",
        default=list(defaults.games),
        help="registered games, at their default parameters",
    )
    parser.add_argument(
        "--budgets",
        nargs="+",
        type=int,
        default=list(defaults.budgets),
        help="exploration episodes K (and the CCSE runs' K)",
    )
    parser.add_argument("--seeds", type=int, default=defaults.seeds, help="seeds per game")
    parser.add_argument("--beta", type=float, default=defaults.beta, help="exploration's beta")
    parser.add_argument(
        "--ccse-beta",
        type=float,
        default=defaults.ccse_beta,
        help="beta of the CCSE route's soft-max LSVI-UCB runs",
    )
    parser.add_argument("--no-ccse", action="store_true", help="only the reward-free route")
    also = "plan also for the game with these parameters, from the same data"
    parser.add_argument("--also", nargs="*", default=[], metavar="KEY=VALUE", help=also)
    parser.add_argument("--workers", type=int, default=defaults.workers, help="processes")
    parser.add_argument("--plot-only", action="store_true", help="replot results.parquet")
    parser.add_argument("--figure", default="gaps.png", help="the plot's file name in --out")
    args = parser.parse_args()
    exp = Experiment(games=tuple(args.games), budgets=tuple(sorted(args.budgets)),
                     seeds=args.seeds, beta=args.beta, ccse_beta=args.ccse_beta,
                     ccse=not args.no_ccse, workers=max(1, args.workers),
                     also=tuple(tuple(a.split("=", 1)) for a in args.also))  # fmt: skip
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.plot_only:
        jobs = [(g, s, exp) for g in exp.games for s in range(exp.seeds)]
        with ProcessPoolExecutor(exp.workers) as pool:
            rows = [r for part in pool.map(job, jobs) for r in part]
        pd.DataFrame(rows).to_parquet(out / "results.parquet", index=False)
        (out / "experiment.json").write_text(pd.Series(asdict(exp)).to_json(indent=2))
    df = pd.read_parquet(out / "results.parquet")
    summary = summarise(df, exp.bootstrap)
    summary.to_json(out / "summary.json", orient="records", indent=2)
    plot(df, summary, out / args.figure)
    with pd.option_context("display.width", 200, "display.max_colwidth", 200):
        for rec in summary.itertuples():
            means = ", ".join(f"{k}: {v:.3g}" for k, v in rec.mean.items())
            print(f"{rec.game:12s} {rec.metric:32s} slope {rec.slope:6.2f} "
                  f"[{rec.slope_low:.2f}, {rec.slope_high:.2f}] ({rec.budgets_in_fit} budgets) "
                  f"means {means}")  # fmt: skip


if __name__ == "__main__":
    main()
