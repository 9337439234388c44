"""What the learners reach on ``supply-chain``, against double (multiple) marginalisation.

On one step and one demand level (``a = 1``, no cost), the textbook markups of a producer and
``N`` intermediaries pricing in turn are ``1/2^(i+1)``. For ``N = 1, 2, 3`` on a grid of 9
markups (steps of 1/8) this prints the formula, the planner's Stackelberg markups (ties in
favour of the earlier firms, so upstream firms profit from the grid's rounding), and the markups
each seed's learners play after ``K`` episodes (their most likely actions along the chain), with
each player's mean per-episode regret over the last quarter of the run. Run from the project
root::

    .venv/bin/python examples/supply_chain_learners.py --episodes 3000 --seeds 4
"""

from __future__ import annotations

import argparse

import numpy as np

from stackelberg_rl import games, planning
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import GameSpec, RunConfig
from stackelberg_rl.experiments.loop import SeedRun, play_episodes

N_PRICES = 9


def markups(tables: list[np.ndarray]) -> list[float]:
    """The markups of the chain of most likely actions at step 0 in the one demand level."""
    actions: list[int] = []
    for pi in tables:
        actions.append(int(pi[(0, 0, *actions)].argmax()))
    return [round(a / (N_PRICES - 1), 3) for a in actions]


def main() -> None:
    """Print, for N = 1, 2, 3, the formula, the planner and every seed's learners."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=3000, help="K of each run")
    parser.add_argument("--seeds", type=int, default=4, help="seeds per setting")
    args = parser.parse_args()
    for n in (1, 2, 3):
        params = {"n_followers": n, "n_prices": N_PRICES, "n_demand_levels": 1, "horizon": 1}
        game = games.make("supply-chain", **params)
        *policies, _ = planning.stackelberg_equilibrium(game)
        print(f"N = {n}: formula {[0.5 ** (i + 1) for i in range(n + 1)]}, "
              f"planner {markups(policies)}")  # fmt: skip
        for alpha in ("inf", "fixed-K"):
            agent = AgentConfig(beta=0.2, alpha_l=alpha, alpha_f=alpha, schedule="doubling")
            config = RunConfig(GameSpec("supply-chain", params), args.episodes, agent=agent)
            for seed in range(args.seeds):
                seed_run = SeedRun(game, config, seed)
                play_episodes(seed_run)
                df = seed_run.result()[0]
                columns = [c for c in df.columns if c.startswith("regret_") and "_ci" not in c]
                last = df[columns].iloc[-max(1, args.episodes // 4) :].mean().to_numpy()
                learned = markups([agent.policy_table(game) for agent in seed_run.agents])
                print(f"  α = {alpha:<7} seed {seed}: markups {learned}, "
                      f"last-quarter regret {np.round(last, 4).tolist()}")  # fmt: skip


if __name__ == "__main__":
    main()
