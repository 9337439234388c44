"""Total regret against K on the demo game, and how much of it is the soft-max bias.

For each K, every agent plays K episodes (several seeds, in parallel processes) and its total
exact regret is summed (eqs. (9) and (10)). The log-log slope of total regret against K is
fitted per seed (its mean and 95% t-interval over seeds are printed). The soft-max bias is the
regret of the soft-max policies planned on the TRUE model with the same α (β = 0, exact Q:
:func:`stackelberg_rl.planning.softmax_bias`): what soft-max play would lose even with nothing
left to learn (Lemma 2 bounds it by ``H·log|A|/α`` per episode and player).
Run from the project root::

    .venv/bin/python examples/regret_vs_K.py --episodes 2000 4000 8000 --seeds 4
"""

from __future__ import annotations

import argparse
import math
import os
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

from stackelberg_rl import games
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import RunConfig, run
from stackelberg_rl.learners import alpha_value, theory_beta
from stackelberg_rl.planning import softmax_bias

AGENTS = {
    "fixed-K": AgentConfig(beta=0.2),
    "anytime": AgentConfig(beta=0.2, alpha_l="anytime", alpha_f="anytime"),
    "greedy": AgentConfig(beta=0.2, kind="greedy-lsvi-ucb"),
    "theory": AgentConfig(beta="theory"),
}
"""The agents compared: soft-max with the paper's fixed-K α, with the anytime α, greedy play
(α = ∞), and soft-max with β = theory (Theorem 3, C₁ = 1)."""


def total_regret(job: tuple[str, int, int]) -> tuple[str, int, int, float, float]:
    """One run's total regret of each player."""
    name, K, seed = job
    game = games.make("random-linear")
    df = run(game, RunConfig(episodes=K, agent=AGENTS[name]), seed=seed)
    return name, K, seed, float(df["regret_leader"].sum()), float(df["regret_follower"].sum())


def slope(Ks: list[int], totals: np.ndarray) -> tuple[float, float]:
    """Mean log-log slope over seeds (rows) and its 95% t half-width."""
    x = np.log(Ks)
    per_seed = np.array([np.polyfit(x, np.log(row), 1)[0] for row in totals])
    n = len(per_seed)
    half = stats.t.ppf(0.975, n - 1) * per_seed.std(ddof=1) / math.sqrt(n) if n > 1 else math.nan
    return float(per_seed.mean()), float(half)


def main() -> None:
    """Run the grid and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--episodes", type=int, nargs="+", default=[2000, 4000, 8000], help="the K of each run"
    )
    parser.add_argument("--seeds", type=int, default=4, help="seeds per agent and K")
    parser.add_argument(
        "--agents",
        nargs="+",
        default=list(AGENTS),
        choices=list(AGENTS),
        help="soft-max with fixed-K or anytime alpha, greedy, or beta = theory",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes")
    args = parser.parse_args()
    Ks, seeds = sorted(args.episodes), range(args.seeds)
    game = games.make("random-linear")
    print(game, "(the demo game)")
    A, B, H, K_max = game.n_leader_actions, game.n_follower_actions, game.horizon, Ks[-1]
    beta = theory_beta(game.dim, H, K_max, A, B)
    print(f"beta = theory at K = {K_max}: {beta:.1f}")
    jobs = [(name, K, s) for name in args.agents for K in Ks for s in seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(total_regret, jobs))
    table = {(name, K, s): (rl, rf) for name, K, s, rl, rf in results}
    print(f"\n{'agent':<26} {'K':>6} {'leader':>16} {'follower':>16} {'bias l':>8} {'bias f':>8}")
    for name in args.agents:
        totals = np.array([[table[name, K, s] for K in Ks] for s in seeds])  # (seeds, K, 2)
        for j, K in enumerate(Ks):
            spec = AGENTS[name].alpha_specs()
            if all(isinstance(a, str) and a == "fixed-K" for a in spec):
                bias = K * softmax_bias(
                    game, alpha_value("fixed-K", A, H, K, 0), alpha_value("fixed-K", B, H, K, 0)
                )
                bias_text = f"{bias[0]:>8.1f} {bias[1]:>8.1f}"
            else:
                bias_text = f"{'-':>8} {'-':>8}"
            cells = []
            for m in range(2):
                v = totals[:, j, m]
                hw = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
                cells.append(f"{v.mean():>8.1f} ± {hw:<5.1f}")
            print(f"{name:<26} {K:>6} {cells[0]:>16} {cells[1]:>16} {bias_text}")
        if len(Ks) > 1:
            sl = [slope(Ks, totals[:, :, m]) for m in range(2)]
            print(
                f"{'':<26} slope  leader {sl[0][0]:.2f} ± {sl[0][1]:.2f}, "
                f"follower {sl[1][0]:.2f} ± {sl[1][1]:.2f}"
            )


if __name__ == "__main__":
    main()
