"""The episode loop of one seed, with the per-episode regret of the policies played.

One obvious path for data (STYLE): game → agents act → game steps → agents record → end of
episode → plan (``begin_episode``) → metrics. Regret (math.md §2, eqs. (9) and (10)) is of the
policies the agents played in the episode: exact on a finite game, and on a continuous game
estimated by planning on the game's evaluation sample, with a 95% interval (math.md §6). On large
games ``eval_every = n > 1`` evaluates only episodes ``0, n, 2n, …``; the others hold NaN (never
interpolated), and each evaluated row carries ``eval_weight``, the number of episodes it stands
for (``n``, or fewer for the last block). With ``save_plans`` the plans are kept as they are
made (:class:`~.plans.PlanRecorder`), so that every episode's policies can be replayed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from .. import games as games_mod
from ..agents import make_agents
from ..montecarlo import sampled_regrets
from ..planning import regret
from .config import RunConfig
from .plans import PlanRecorder, Plans

COLUMNS = (
    "seed",
    "episode",
    "regret_leader",
    "regret_follower",
    "regret_leader_ci",
    "regret_follower_ci",
    "eval_weight",
    "return_leader",
    "return_follower",
    "x1",
    "a1",
    "replanned",
    "beta",
    "lam",
    "alpha_l",
    "alpha_f",
    "wall_time",
)
"""Columns of a run's table, in order. ``regret_*`` are exact on a finite game and Monte-Carlo
estimates on a continuous one, where ``regret_*_ci`` are the half-widths of their 95% intervals
(NaN for exact regret). ``x1`` is the index of the initial state of a finite game, ``-1`` on a
continuous one (its state is a point). ``wall_time`` is seconds since the run started."""


def run(
    game: games_mod.Game,
    config: RunConfig,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Play ``config.episodes`` episodes of ``game`` with fresh agents; one row per episode.

    :func:`play` with its table only; see there.
    """
    return play(game, config, seed, progress)[0]


def play(
    game: games_mod.Game,
    config: RunConfig,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, Plans | None]:
    """Play ``config.episodes`` episodes of ``game`` with fresh agents; one row per episode.

    Random streams: ``SeedSequence(seed)`` is spawned into the environment's stream and the agents'
    seed sequence (from which :func:`~stackelberg_rl.agents.make_agents` spawns the leader's and
    the follower's), so the same seed gives the same table (``wall_time`` aside).

    Args:
        game: the game (its features, or feature map, are the agents' known feature map).
        config: the experiment; ``config.game`` is not used here (``game`` is).
        seed: this run's seed.
        progress: called with the number of episodes done, every few episodes and at the end.

    Returns:
        A DataFrame with the columns of :data:`COLUMNS`, and with ``config.save_plans`` the
        :class:`~.plans.Plans` that replay every episode's policies (else ``None``).
    """
    config.validate()
    K, H, n_eval = config.episodes, game.horizon, config.eval_every
    finite = isinstance(game, games_mod.FiniteGame)
    env_ss, agents_ss = np.random.SeedSequence(seed).spawn(2)
    env_rng = np.random.default_rng(env_ss)
    leader, follower = make_agents(game, config.agent, K, agents_ss)
    recorder = PlanRecorder(leader, follower) if config.save_plans else None
    cols: dict[str, list] = {name: [] for name in COLUMNS}
    nan = math.nan
    start = time.perf_counter()
    report_every = max(1, K // 100)
    for k in range(K):
        # The leader first: in centralised mode it plans for both players.
        leader.begin_episode(k)
        follower.begin_episode(k)
        if recorder is not None:
            recorder.after_plans(k)
        evaluated = k % n_eval == 0
        if evaluated and finite:
            # Policies are fixed within an episode: these are the ones played below.
            pi_l = leader.policy_table(game)
            pi_f = follower.policy_table(game)
        x = x1 = game.sample_initial(env_rng)
        a1 = None
        ret = np.zeros(2)
        for h in range(H):
            a = leader.act(h, x)
            b = follower.act(h, x, a)
            if a1 is None:
                a1 = a
            r, x_next = game.step(h, x, a, b, env_rng)
            leader.record(h, x, a, b, r, x_next)
            follower.record(h, x, a, b, r, x_next)
            ret += r
            x = x_next
        reg, half = (nan, nan), (nan, nan)
        if evaluated and finite:
            reg = regret(game, pi_l, pi_f, x1, a1)
        elif evaluated:
            # Plans are made in begin_episode only, so after the episode the agents still hold
            # the policies they played in it.
            estimate = sampled_regrets(game, leader.policies_at, follower.policies_at, x1, a1)
            reg, half = estimate.mean, estimate.half_width
        params = leader.params()
        cols["seed"].append(seed)
        cols["episode"].append(k)
        cols["regret_leader"].append(float(reg[0]))
        cols["regret_follower"].append(float(reg[1]))
        cols["regret_leader_ci"].append(float(half[0]))
        cols["regret_follower_ci"].append(float(half[1]))
        cols["eval_weight"].append(min(n_eval, K - k) if evaluated else 0)
        cols["return_leader"].append(float(ret[0]))
        cols["return_follower"].append(float(ret[1]))
        cols["x1"].append(int(x1) if finite else -1)
        cols["a1"].append(int(a1))
        cols["replanned"].append(leader.replanned or follower.replanned)
        for name in ("beta", "lam", "alpha_l", "alpha_f"):
            cols[name].append(float(params.get(name, nan)))
        cols["wall_time"].append(time.perf_counter() - start)
        if progress is not None and ((k + 1) % report_every == 0 or k + 1 == K):
            progress(k + 1)
    df = pd.DataFrame(cols, columns=list(COLUMNS))
    df = df.astype(
        {"seed": "int64", "episode": "int64", "x1": "int64", "a1": "int64", "eval_weight": "int64"}
    )
    return df, None if recorder is None else recorder.finish()
