"""What the CCSE costs: saving a run's plans (at most 1.10x), replaying one episode's policies.

Replaying the last episode's tables from a freshly opened run folder must cost about one of the
learner's own plans in the same run.
"""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path

from ..agents import AgentConfig
from ..equilibria import CCSE
from ..experiments import GameSpec, RunConfig, run_seeds
from ..experiments.plan_history import bytes_per_episode, read_plans
from ..learners import SoftmaxLSVIUCB
from . import interleaved, median, seconds

GAME = GameSpec(
    "random-linear",
    {"n_states": 200, "n_leader_actions": 4, "n_follower_actions": 4, "dim": 16, "horizon": 10},
)
"""The learner benchmark's problem (:func:`~.learner.leader_follower_game`), as a spec."""


def _run(folder: Path, game, episodes: int, decentralised: bool, save: bool, seed=0) -> None:
    agent = AgentConfig(beta=0.2, decentralised=decentralised)
    options = {"eval_every": episodes, "agent": agent, "save_plans": save}
    config = RunConfig(game=GAME, episodes=episodes, seed=seed, **options)
    run_seeds(config, folder, 1, progress=False, game=game)


def save_plans_overhead(
    episodes: int = 1000, repeats: int = 3, decentralised: bool = False
) -> dict:
    """Median seconds of whole runs written to a run folder, without and with ``save_plans``."""
    game = GAME.make()
    with tempfile.TemporaryDirectory(prefix="stackelberg-rl-bench-") as tmp:
        root = Path(tmp)
        _run(root / "warm", game, 3, decentralised, True)

        def play(save: bool, i: int) -> None:
            _run(root / f"{save}-{i}", game, episodes, decentralised, save, seed=i)

        times = interleaved({save: partial(play, save) for save in (False, True)}, repeats)
        plans = read_plans(root / f"True-{repeats - 1}" / "plans.npz", repeats - 1)
    without, with_ = median(times[False]), median(times[True])
    who = "decentralised" if decentralised else "shared learner"
    return {
        "case": f"run K={episodes}, {who}: --save-plans / without",
        "episodes": episodes,
        "seconds_without": without,
        "seconds_with": with_,
        "seconds_all_without": times[False],
        "seconds_all_with": times[True],
        "ratio": with_ / without,
        "plans_bytes_per_episode": bytes_per_episode(plans),
    }


def replay_cost(episodes: int = 1000, repeats: int = 3) -> dict:
    """Median seconds to replay the last episode's tables, and of the learner's last plans."""
    game = GAME.make()
    plan_seconds: list[float] = []
    real_plan = SoftmaxLSVIUCB._plan
    replay, warm, tables = [], [], []
    with tempfile.TemporaryDirectory(prefix="stackelberg-rl-bench-") as tmp:
        folder = Path(tmp) / "run"
        SoftmaxLSVIUCB._plan = lambda self: plan_seconds.append(seconds(lambda: real_plan(self)))
        try:
            _run(folder, game, episodes, False, True)
        finally:
            SoftmaxLSVIUCB._plan = real_plan
        CCSE.from_run(folder, game=game).policy(0).tables()  # load the compiled code
        for _ in range(repeats):
            ccse = CCSE.from_run(folder, game=game)
            replay.append(seconds(lambda c=ccse: c.policy(episodes - 1).tables()))
            # another episode of the same mixture: from a checkpoint
            warm.append(seconds(lambda c=ccse: c.policy(episodes - 2).tables()))
            policy = ccse.policy(episodes - 2)  # replayed already: the policies at every state
            tables.append(seconds(policy.tables))
    plan = median(plan_seconds[-max(3, repeats) :])
    return {
        "case": f"replay episode K-1 of K={episodes} / the learner's plan at K",
        "episodes": episodes,
        "seconds_replay": median(replay),
        "seconds_replay_from_checkpoint": median(warm),
        "seconds_plan": plan,
        "seconds_tables_alone": median(tables),
        "seconds_all_replay": replay,
        "ratio": median(replay) / plan,
        "ratio_from_checkpoint": median(warm) / plan,
    }


def run_benchmarks(episodes: int = 1000, repeats: int = 3) -> list[dict]:
    """Saving plans (shared and decentralised learners), then replaying an episode."""
    saving = [save_plans_overhead(episodes, repeats, d) for d in (False, True)]
    return [*saving, replay_cost(episodes, repeats)]


def format_rows(rows: list[dict]) -> str:
    """A plain-text table of :func:`run_benchmarks`'s rows."""
    saving, replay = rows[:-1], rows[-1]
    lines = [
        f"{r['case']:<58} {r['seconds_with']:7.3f} s / {r['seconds_without']:7.3f} s = "
        f"{r['ratio']:.3f}x  (plans: {r['plans_bytes_per_episode']:.0f} bytes/episode)"
        for r in saving
    ]

    def ms(key: str) -> float:
        return 1e3 * replay[key]

    lines.append(
        f"{replay['case']:<58} {ms('seconds_replay'):7.2f} ms / {ms('seconds_plan'):7.2f} ms = "
        f"{replay['ratio']:.2f}x  (from a checkpoint: {ms('seconds_replay_from_checkpoint'):.2f}"
        f" ms, {replay['ratio_from_checkpoint']:.2f}x; of which the policies at every state, as "
        f"the learner's own tables cost: {ms('seconds_tables_alone'):.2f} ms)"
    )
    return "\n".join(lines)
