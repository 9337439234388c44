"""Compile the learner's kernels into numba's cache: ``python tests/_compile_kernels.py DTYPE``.

The suite runs this once per cache dtype, in parallel, before its workers start (conftest.py):
otherwise the dozen tests that start runs in processes at the start of the suite compile the
same kernels each, concurrently, on a cold cache. The loop of episodes is compiled once per
number of players: the two share those of two and three followers.
"""

import sys

from stackelberg_rl import AgentConfig, GameSpec, RunConfig, run

TINY = {"n_states": 5, "n_leader_actions": 2, "n_follower_actions": 2, "dim": 3, "horizon": 2}

if __name__ == "__main__":
    dtype = sys.argv[1]
    followers = 2 if dtype == "float64" else 3
    for schedule, game in (("every", TINY), ("doubling", {**TINY, "n_followers": followers})):
        spec = GameSpec("random-linear", game)
        agent = AgentConfig(dtype=dtype, schedule=schedule)
        run(spec.make(), RunConfig(spec, episodes=3, agent=agent), seed=0)
