"""The compiled episode loop against the Python one: the same table bit for bit, for every agent
kind, decentralised and shared, every schedule; the same after a resume in the middle; the regret
of every evaluated episode equal to the planner's on the policies played."""

import numpy as np
import pandas as pd
import pytest

from stackelberg_rl import games
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.experiments import RunConfig
from stackelberg_rl.experiments import loop as loop_mod
from stackelberg_rl.experiments.loop import COLUMNS, SeedRun, play
from stackelberg_rl.games import FiniteGame
from stackelberg_rl.games.sampling import compiled_step
from stackelberg_rl.learners import NonFiniteError, SoftmaxLSVIUCB
from stackelberg_rl.planning import player_regrets

SMALL = dict(n_states=6, n_leader_actions=3, n_follower_actions=2, dim=4, horizon=3)
LINEAR = games.make("random-linear", **SMALL, seed=3)
NOISY = games.make("random-linear", **SMALL, seed=4, reward_noise=0.4)
TABULAR = games.make("random-tabular", n_states=5, n_leader_actions=2, n_follower_actions=3,
                     horizon=4, seed=1, reward_noise=0.2)  # fmt: skip


def factored_off_simplex() -> FiniteGame:
    """A factored game whose transitions are made row by row (features off the simplex)."""
    S, A, B, H = 4, 2, 2, 3
    rng = np.random.default_rng(7)
    P = rng.dirichlet(np.ones(S), size=(H, S, A, B))
    r = rng.uniform(-1.0, 1.0, size=(2, H, S, A, B))
    phi = 0.5 * np.eye(S * A * B).reshape(S, A, B, S * A * B)  # ‖φ‖ = 1/2, rows sum to 1/2
    mu = 2.0 * P.reshape(H, S * A * B, S)  # (H, d, S): measures of mass 2
    theta = 2.0 * r.reshape(2, H, S * A * B)
    return FiniteGame(phi, np.full(S, 1.0 / S), mu=mu, theta=theta, reward_noise=0.3)


OFF_SIMPLEX = factored_off_simplex()


def tables_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Every column but ``wall_time`` equal, bit for bit (NaN where NaN)."""
    assert list(a.columns) == list(COLUMNS) == list(b.columns)
    for name in COLUMNS:
        if name != "wall_time":
            np.testing.assert_array_equal(a[name].to_numpy(), b[name].to_numpy(), err_msg=name)


@pytest.fixture
def counted(monkeypatch):
    """The episodes the compiled blocks played, per call."""
    played = []
    real = loop_mod.play_block

    def counted(*args, **kwargs):
        out = real(*args, **kwargs)
        played.append(len(out[0]))
        return out

    monkeypatch.setattr(loop_mod, "play_block", counted)
    return played


# ---------------------------------------------------------------------- the game's step
@pytest.mark.parametrize("game", [LINEAR, NOISY, TABULAR, OFF_SIMPLEX], ids=lambda g: g.name)
def test_the_compiled_step_is_the_games_step(game):
    arrays = tuple(game.step_arrays())
    picks = np.random.default_rng(0)
    rng, again = np.random.default_rng(11), np.random.default_rng(11)
    rewards = np.empty(game.n_players)
    A, B = game.action_counts
    for _ in range(300):
        h, x = int(picks.integers(game.horizon)), int(picks.integers(game.n_states))
        a, b = int(picks.integers(A)), int(picks.integers(B))
        r, x_next = game.step(h, x, a, b, rng)
        assert compiled_step(arrays, h, x, a * B + b, again, rewards) == x_next
        np.testing.assert_array_equal(rewards, r)
    assert rng.bit_generator.state == again.bit_generator.state


def test_the_games_forms_are_the_ones_step_uses():
    assert len(LINEAR.step_arrays().cdf) and not len(LINEAR.step_arrays().transitions)
    assert len(TABULAR.step_arrays().transitions) and len(TABULAR.step_arrays().rewards)
    arrays = OFF_SIMPLEX.step_arrays()
    assert len(arrays.mu) and len(arrays.theta) and not len(arrays.cdf)


# ---------------------------------------------------------------------- the same table
CASES = {
    "softmax decentralised every": (LINEAR, dict(beta=0.3), dict(episodes=40)),
    "softmax shared every-n, eval 3": (
        LINEAR, dict(beta=0.3, decentralised=False, schedule="every-n", schedule_n=7),
        dict(episodes=90, eval_every=3),
    ),
    "softmax shared doubling, noise": (
        NOISY, dict(beta=0.2, decentralised=False, schedule="doubling"), dict(episodes=400),
    ),
    "softmax decentralised doubling, anytime, eval 5": (
        NOISY, dict(beta=0.2, schedule="doubling", alpha_l="anytime", alpha_f="anytime"),
        dict(episodes=300, eval_every=5),
    ),
    "greedy decentralised doubling": (
        LINEAR, dict(kind="greedy-lsvi-ucb", beta=0.2, schedule="doubling"), dict(episodes=300),
    ),
    "greedy shared every, tabular": (
        TABULAR, dict(kind="greedy-lsvi-ucb", beta=0.2, decentralised=False), dict(episodes=30),
    ),
    "softmax shared every-n, off the simplex": (
        OFF_SIMPLEX, dict(beta=0.2, decentralised=False, schedule="every-n", schedule_n=4),
        dict(episodes=60, eval_every=2),
    ),
    "random, eval 4": (NOISY, dict(kind="random"), dict(episodes=250, eval_every=4)),
    "oracle": (TABULAR, dict(kind="oracle"), dict(episodes=250)),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_blocks_give_the_python_loops_table(case, counted):
    game, agent, run = CASES[case]
    config = RunConfig(agent=AgentConfig(**agent), **run)
    compiled, _ = play(game, config, seed=5)
    assert sum(counted) == config.episodes  # every episode was played in a block
    tables_equal(compiled, play(game, config, seed=5, compiled=False)[0])


@pytest.mark.parametrize("schedule", ["every", "doubling"])
def test_plans_serving_few_episodes_compute_the_rows_visited_alone(schedule, counted, monkeypatch):
    # S = 200 states, few episodes per plan, rarely evaluated: whole tables would cost more.
    game = games.make("random-linear", n_states=200, dim=4, horizon=3, seed=2)
    config = RunConfig(episodes=40, eval_every=20, agent=AgentConfig(beta=0.3, schedule=schedule))
    whole_tables = []
    real = SoftmaxLSVIUCB.policy_tables
    monkeypatch.setattr(SoftmaxLSVIUCB, "policy_tables",
                        lambda self, *a: whole_tables.append(1) or real(self, *a))  # fmt: skip
    compiled, _ = play(game, config, seed=1)
    assert sum(counted) == 40  # every episode in a compiled block
    assert len(whole_tables) == 2 * 2  # two learners, at the evaluated episodes 0 and 20 alone
    tables_equal(compiled, play(game, config, seed=1, compiled=False)[0])


def test_saved_plans_are_the_python_loops():
    config = RunConfig(
        episodes=200, save_plans=True,
        agent=AgentConfig(beta=0.2, schedule="doubling", decentralised=True),
    )  # fmt: skip
    df, plans = play(NOISY, config, seed=2)
    df_py, plans_py = play(NOISY, config, seed=2, compiled=False)
    tables_equal(df, df_py)
    for name, value in plans.to_arrays().items():
        np.testing.assert_array_equal(value, plans_py.to_arrays()[name], err_msg=name)


def test_progress_is_reported_as_the_python_loop_reports_it():
    config = RunConfig(episodes=250, agent=AgentConfig(beta=0.2, schedule="doubling"))
    seen, seen_py = [], []
    play(LINEAR, config, seed=0, progress=seen.append)
    play(LINEAR, config, seed=0, progress=seen_py.append, compiled=False)
    assert seen == seen_py == list(range(2, 251, 2))


# ---------------------------------------------------------------------- resumed
@pytest.mark.parametrize("first_compiled", [True, False])
@pytest.mark.parametrize("schedule", ["doubling", "every"])
def test_a_resume_in_the_middle_gives_the_whole_runs_table(schedule, first_compiled):
    config = RunConfig(
        episodes=300 if schedule == "doubling" else 60, eval_every=2, save_plans=True,
        agent=AgentConfig(beta=0.2, schedule=schedule, decentralised=False),
    )  # fmt: skip
    whole, plans = play(NOISY, config, seed=3)
    states: list[bytes] = []
    play(NOISY, config, seed=3, checkpoint=states.append, checkpoint_every=0,
         compiled=first_compiled)  # fmt: skip
    middle = states[len(states) // 2]
    resumed, resumed_plans = play(NOISY, config, seed=3, state=middle)
    tables_equal(resumed, whole)
    for name, value in plans.to_arrays().items():
        np.testing.assert_array_equal(value, resumed_plans.to_arrays()[name], err_msg=name)


# ---------------------------------------------------------------------- the regret recorded
@pytest.mark.parametrize(
    "agent",
    [
        dict(beta=0.2, schedule="doubling"),
        dict(beta=0.3, decentralised=False, schedule="every-n", schedule_n=3),
        dict(kind="greedy-lsvi-ucb", beta=0.2, decentralised=False),
        dict(kind="random"),
        dict(kind="oracle"),
    ],
    ids=["softmax", "every-n", "greedy", "random", "oracle"],
)
def test_the_recorded_regret_is_the_planners_on_the_policies_played(agent):
    config = RunConfig(episodes=120, eval_every=2, agent=AgentConfig(**agent))
    seed_run = SeedRun(NOISY, config, 4)
    limits = iter([1, 5, 17, 2, 40, 3] * 20)
    while not seed_run.done:
        k = seed_run.episodes_done
        seed_run.play_block(next(limits))
        played = [a.policy_table(NOISY) for a in seed_run.agents]  # no plan since the block began
        rows = {name: values[k : seed_run.episodes_done] for name, values in seed_run.rows.items()}
        for i in range(len(rows["episode"])):
            if rows["episode"][i] % 2:
                assert np.isnan(rows["regret_leader"][i]) and rows["eval_weight"][i] == 0
                continue
            expected = player_regrets(NOISY, played, rows["x1"][i], [rows["a1"][i]])
            got = [rows["regret_leader"][i], rows["regret_follower"][i]]
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
        assert not rows["replanned"][1:].any()  # a block never plays past a plan


# ---------------------------------------------------------------------- a non-finite plan
@pytest.mark.parametrize("decentralised", [False, True])
@pytest.mark.parametrize(
    ("schedule", "eval_every", "where"),
    [
        ("every", 4, "policy and Q at step 1, state "),  # met acting, where a block visits it
        ("every-n", 5, "policy at step 1, state 0 "),  # episode 10 evaluated: its whole tables
        ("every-n", 4, "policy and Q at step 1, state "),  # 12 evaluated, 10 and 11 act first
    ],
)
def test_a_non_finite_policy_met_in_a_block_is_the_python_loops_error(
    decentralised, schedule, eval_every, where, monkeypatch
):
    real_plan = SoftmaxLSVIUCB.plan

    def plan(self, episode=None):  # what a bug in the plan would leave behind, at episode 10
        real_plan(self, episode)
        if episode == 10:
            self.w[1, 1, :] = np.nan

    monkeypatch.setattr(SoftmaxLSVIUCB, "plan", plan)
    agent = AgentConfig(beta=0.3, decentralised=decentralised, schedule=schedule, schedule_n=10)
    config = RunConfig(episodes=1000, eval_every=eval_every, agent=agent)  # blocks of 10
    errors = []
    for compiled in (True, False):
        with pytest.raises(NonFiniteError) as caught:
            play(LINEAR, config, seed=0, compiled=compiled)
        errors.append(str(caught.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith(f"episode 10: the leader's {where}")
