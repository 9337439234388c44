"""Runs, sweeps and reports of a leader and N followers (SPEC §7), and the game's step for any N."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from helpers import call, one_line_error

from stackelberg_rl import games
from stackelberg_rl._seeding import seed_sequence, stream
from stackelberg_rl.agents import AgentConfig, make_agents
from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, run_seeds
from stackelberg_rl.experiments import checkpoint as ckpt
from stackelberg_rl.experiments.loop import COLUMNS, columns, finished, finished_result, play
from stackelberg_rl.experiments.plan_history import plans_bytes
from stackelberg_rl.experiments.resources import learner_bytes, run_bytes
from stackelberg_rl.experiments.runs import resolved_parameters
from stackelberg_rl.games.sampling import draw
from stackelberg_rl.planning import player_regrets
from stackelberg_rl.report import learning_summary, page
from stackelberg_rl.sweep import name_settings, run_grid

SMALL = {"n_states": 4, "n_leader_actions": 2, "n_follower_actions": 2, "dim": 3, "horizon": 3}


def spec(n_followers, **more):
    return GameSpec("random-linear", {**SMALL, "n_followers": n_followers, **more})


def config_of(n_followers=2, episodes=12, game=None, **agent):
    agent = {"beta": 0.3, **agent}
    return RunConfig(game=game or spec(n_followers), episodes=episodes, agent=AgentConfig(**agent))


def without_time(df):
    return df.drop(columns="wall_time")


# ---------------------------------------------------------------------- the game's step
@pytest.mark.parametrize("form", ["dense", "mixture"])
def test_step_reward_and_next_states_of_a_joint_action_read_the_arrays(form):
    if form == "dense":
        game = games.make("random-tabular", n_followers=2, n_states=3, horizon=2, seed=1)
    else:
        game = games.make("random-linear", n_followers=2, n_states=5, seed=2)
    P, R = game.transition(1), game.reward(1)
    for at in [(0, 1, 2, 0), (game.n_states - 1, 2, 0, 1)]:
        x, actions = at[0], at[1:]
        mean = R[(slice(None), *at)]  # a factored game's: another order of the same sums
        np.testing.assert_allclose(game.reward_at(1, x, actions), mean, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(game.reward_at(1, x, *actions), game.reward_at(1, x, actions))
        np.testing.assert_allclose(game.next_state_distribution(1, x, actions), P[at], atol=1e-15)
        # The draws: the next state by one inverse-CDF uniform (two from a mixture).
        rng, mine = np.random.default_rng(7), np.random.default_rng(7)
        if game.reward_noise > 0:
            mine.random(game.n_players)  # the reward noise's uniforms come first
        r, x_next = game.step(1, x, actions, rng)
        np.testing.assert_array_equal(r, game.reward_at(1, x, actions))
        if form == "mixture":
            phi = game.features[at]
            i = draw(phi, mine)
            cdf = np.cumsum(game.mu[1, i])
            expected = min(int(np.searchsorted(cdf, mine.random() * cdf[-1], "right")), 4)
        else:
            expected = draw(P[at], mine)
        assert x_next == expected
        assert game.step(1, x, *actions, np.random.default_rng(7))[1] == x_next


def test_one_follower_steps_as_before_whichever_way_the_actions_come():
    game = games.make("random-linear", n_states=6, reward_noise=0.3, seed=4)
    for a, b in [(0, 1), (2, 2)]:
        one = game.step(1, 3, a, b, np.random.default_rng(5))
        other = game.step(1, 3, (a, b), np.random.default_rng(5))
        assert one[1] == other[1]
        np.testing.assert_array_equal(one[0], other[0])
        expected = game.reward(1)[:, 3, a, b]
        np.testing.assert_allclose(game.reward_at(1, 3, a, b), expected, rtol=0, atol=1e-15)


def test_a_joint_action_of_the_wrong_length_is_refused_in_one_line():
    game = games.make("random-linear", n_followers=2, n_states=4, seed=0)
    with pytest.raises(ValueError, match=r"one action per player, 3; got 2: \(0, 1\)"):
        game.step(0, 0, 0, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="one action per player, 3; got 4"):
        game.reward_at(0, 0, (0, 1, 0, 0))


@pytest.mark.parametrize(
    "h, x, actions, message",
    [
        (0, 1, (0, 2, -1), r"a_2 must be an integer in \[0, 3\), got -1"),  # not read from the end
        (0, 1, (0, 2, 3), r"a_2 must be an integer in \[0, 3\), got 3"),
        (0, 1, (0, 2, 1.0), r"a_2 must be an integer in \[0, 3\), got 1.0"),
        (0, 1, (True, 2, 1), r"a_0 must be an integer in \[0, 3\), got True"),
        (0, -1, (0, 1, 0), r"x must be an integer in \[0, 4\), got -1"),
        (0, 9, (0, 1, 0), r"x must be an integer in \[0, 4\), got 9"),
        (-1, 1, (0, 1, 0), r"h must be an integer in \[0, 5\), got -1"),
    ],
)
def test_a_step_outside_the_game_names_the_index_and_its_range(h, x, actions, message):
    game = games.make("random-tabular", n_followers=2, n_states=4, seed=0)
    for looked_up in (
        lambda: game.step(h, x, actions, np.random.default_rng(0)),
        lambda: game.reward_at(h, x, *actions),
        lambda: game.next_state_distribution(h, x, actions),
    ):
        with pytest.raises(ValueError, match=message):
            looked_up()


# ---------------------------------------------------------------------- runs
def test_columns_name_every_player_and_one_follower_keeps_todays():
    assert columns(2) == COLUMNS
    assert "regret_follower" in COLUMNS and "alpha_f" in COLUMNS
    three = columns(4)
    for p in ("leader", "follower_1", "follower_2", "follower_3"):
        assert {f"regret_{p}", f"regret_{p}_ci", f"return_{p}"} <= set(three)
    assert {"alpha_l", "alpha_f_1", "alpha_f_3"} <= set(three)
    assert "regret_follower" not in three and "alpha_f" not in three


@pytest.mark.parametrize(("n_followers", "decentralised"), [(2, False), (3, True)])
def test_blocks_that_compute_the_rows_they_visit_give_the_python_loops_table(
    n_followers, decentralised
):
    """Unevaluated episodes of a plan every episode: each player's rows, ``(a_0, …, a_{m-1})``
    by ``a_m``, computed where visited (player 2's from columns past ``A_0 + A_0·A_1``)."""
    config = config_of(n_followers, episodes=30, decentralised=decentralised)
    config = dataclasses.replace(config, eval_every=4)
    game = config.game.make()
    compiled, _ = play(game, config, 5)
    python, _ = play(game, config, 5, compiled=False)
    pd.testing.assert_frame_equal(without_time(compiled), without_time(python))
    assert compiled[f"regret_follower_{n_followers}"].isna().sum() == 30 - 8


@pytest.mark.parametrize(
    ("n_followers", "schedule"), [(2, "every"), (2, "doubling"), (3, "every-n")]
)
def test_compiled_and_python_loops_agree_and_regrets_are_those_of_the_policies_played(
    n_followers, schedule
):
    """The loop's table against a plain loop written here: the agents, the game, the regrets."""
    config = config_of(n_followers, episodes=14, schedule=schedule, schedule_n=3)
    game = config.game.make()
    compiled, _ = play(game, config, 3)
    python, _ = play(game, config, 3, compiled=False)
    pd.testing.assert_frame_equal(without_time(compiled), without_time(python))
    assert list(compiled.columns) == list(columns(1 + n_followers))

    agents = make_agents(game, config.agent, config.episodes, seed_sequence(3, "agents"))
    env = stream(3, "game")
    P = game.n_players
    for k in range(config.episodes):
        for agent in agents:
            agent.begin_episode(k)
        tables = [agent.policy_table(game) for agent in agents]
        x = x1 = game.sample_initial(env)
        ret, first = np.zeros(P), None
        for h in range(game.horizon):
            actions = []
            for agent in agents:
                actions.append(agent.act(h, x, *actions))
            first = first or actions
            r, x_next = game.step(h, x, actions, env)
            for agent in agents:
                agent.record(h, x, tuple(actions), r, x_next)
            ret, x = ret + r, x_next
        row = compiled.iloc[k]
        regrets = player_regrets(game, tables, x1, first[:-1])
        names = ["leader", *(f"follower_{i}" for i in range(1, P))]
        np.testing.assert_array_equal(row[[f"regret_{p}" for p in names]].to_numpy(float), regrets)
        np.testing.assert_array_equal(row[[f"return_{p}" for p in names]].to_numpy(float), ret)
        assert (row["x1"], row["a1"]) == (x1, first[0])
    regrets = [c for c in compiled if c.startswith("regret_") and not c.endswith("_ci")]
    assert (compiled[regrets].min() > -1e-9).all()


def test_alpha_f_sets_every_follower_or_one_each_and_a_wrong_count_is_named():
    game = spec(3).make()
    df, _ = play(game, config_of(3, episodes=2, alpha_l=0.5, alpha_f=2.0), 0)
    assert (df[["alpha_l", "alpha_f_1", "alpha_f_2", "alpha_f_3"]].iloc[0] == [0.5, 2, 2, 2]).all()
    each = config_of(3, episodes=2, alpha_f=[1.0, "inf", 3.0])
    assert each.agent.alpha_f == [1.0, math.inf, 3.0]
    df, _ = play(game, each, 0)
    assert df[["alpha_f_1", "alpha_f_2", "alpha_f_3"]].iloc[1].tolist() == [1.0, math.inf, 3.0]
    # The command line's spelling: one value per follower, separated by spaces.
    assert AgentConfig(alpha_f="inf power: 1, 0.50").alpha_f == [math.inf, "power:1,0.5"]
    with pytest.raises(ValueError, match="^alpha_f gives 2 values, one per follower, but the game"):
        play(game, config_of(3, episodes=2, alpha_f=[1.0, 2.0]), 0)
    with pytest.raises(ValueError, match=r"^alpha_f\[1\] must be fixed-K, anytime"):
        AgentConfig(alpha_f=[1.0, "often"])


def test_a_run_stopped_and_continued_from_its_checkpoint_equals_one_never_stopped():
    config = config_of(2, episodes=40, schedule="doubling")
    game = config.game.make()
    whole, _ = play(game, config, 1)
    polls = iter(range(1000))
    with pytest.raises(ckpt.SeedStopped) as stopped:
        play(game, config, 1, stop=lambda: next(polls) == 3)
    assert stopped.value.state is not None
    continued, _ = play(game, config, 1, state=stopped.value.state)
    pd.testing.assert_frame_equal(without_time(whole), without_time(continued))


def test_a_finished_seeds_checkpoint_of_two_followers_reads_back_its_table():
    config = config_of(2, episodes=5)
    game = config.game.make()
    df, _ = play(game, config, 2)
    data = finished(config, game.fingerprint(), 2, df, None)
    header, tree = ckpt.read(data, config, game.fingerprint(), 2, "here")
    back, plans = finished_result(tree, config, header["episodes_done"], "here")
    pd.testing.assert_frame_equal(back, df)
    assert plans is None
    del tree["rows"]["return_follower_2"]
    with pytest.raises(ckpt.CheckpointError, match="column return_follower_2 is missing"):
        finished_result(tree, config, 5, "here")


def test_run_folder_manifest_and_report_of_two_followers(tmp_path):
    config = RunConfig(
        game=spec(2), episodes=16, seeds=2, agent=AgentConfig(beta=0.3, alpha_f=["inf", 4.0])
    )
    df = run_seeds(config, tmp_path / "run", workers=1, progress=False)
    loaded, manifest = load_run(tmp_path / "run")
    assert manifest["columns"] == list(columns(3)) == list(loaded.columns)
    assert manifest["config"]["agent"]["alpha_f"] == ["inf", 4.0]
    assert manifest["resolved"]["alpha_f_1"] == "inf" and manifest["resolved"]["alpha_f_2"] == 4.0
    pd.testing.assert_frame_equal(df.reset_index(drop=True), loaded)
    assert learning_summary(loaded)["player"].tolist() == ["leader", "follower_1", "follower_2"]
    page.write_report(tmp_path / "run")
    text = (tmp_path / "run" / "report.html").read_text()
    for words in ("Leader: total regret", "Follower 1: total regret", "Follower 2: total regret"):
        assert words in text


def test_a_run_of_two_followers_saves_plans_whose_replay_has_the_recorded_regrets(tmp_path):
    from stackelberg_rl.equilibria import CCSE

    config = RunConfig(game=spec(2), episodes=12, seeds=1, save_plans=True,
                       agent=AgentConfig(beta=0.2, alpha_l=3.0, alpha_f=3.0))  # fmt: skip
    df = run_seeds(config, tmp_path / "run", workers=1, progress=False)
    ccse = CCSE.from_run(tmp_path / "run", seed=0)
    tables = ccse.tables()  # pi_i (K, H, S, A_0, …, A_i), replayed from the saved plans
    assert [t.shape[0] for t in tables] == [12, 12, 12]
    game = config.game.make()
    for k, row in df.iterrows():
        x1, a1 = int(row["x1"]), int(row["a1"])
        got = player_regrets(game, [t[k] for t in tables], x1, [a1, 0])
        # The leader's regret depends on x1, follower 1's on (x1, a1): both are in the table.
        assert got[0] == pytest.approx(row["regret_leader"], abs=1e-12)
        assert got[1] == pytest.approx(row["regret_follower_1"], abs=1e-12)


def test_the_learners_memory_estimate_bounds_what_it_holds():
    """After K episodes the samples' buffers hold between K and 2K rows: the estimate takes 2K."""
    for n_followers, episodes in [(1, 40), (2, 40), (3, 17)]:
        config = config_of(n_followers, episodes=episodes)
        game = config.game.make()
        learner = make_agents(game, config.agent, episodes, 0)[0].learner
        rng = np.random.default_rng(0)
        for _ in range(episodes):
            x = game.sample_initial(rng)
            for h in range(game.horizon):
                actions = tuple(int(rng.integers(c)) for c in game.action_counts)
                r, x_next = game.step(h, x, actions, rng)
                learner.record(h, x, actions, r, x_next)
                x = x_next
        learner.plan(episodes)
        held = sum(a.nbytes for a in (*learner._data, *learner._cache) if hasattr(a, "nbytes"))
        estimate = learner_bytes(config, game)
        assert estimate / 4 <= held <= estimate, (n_followers, held, estimate)


@pytest.mark.parametrize("kind", ["softmax-lsvi-ucb", "random"])
def test_the_resolved_parameters_name_every_followers_alpha(kind):
    config = config_of(2, kind=kind)
    keys = list(resolved_parameters(config, config.game.make()))
    assert keys == ["beta", "lam", "alpha_l", "alpha_f_1", "alpha_f_2"]


def test_the_run_memory_estimate_counts_every_players_plans():
    """With save_plans the main process holds each seed's plans and a worker's checkpoint too:
    each plan's ``w`` and ``α`` have a row per player."""
    config = config_of(3, episodes=50)
    game = config.game.make()
    plain = run_bytes(config, game, workers=1)["main"]
    config.save_plans = True
    saved = run_bytes(config, game, workers=1)["main"]
    assert saved - plain == 2 * plans_bytes(50, game.horizon, game.dim, game.n_players)


# ---------------------------------------------------------------------- "Done when"
@pytest.mark.slow
def test_every_players_regret_falls_with_two_followers_greedy():
    """Issue 17's run, with 2 seeds of K = 1000 for 4 of 1500: ``--param n_followers=2 --param
    n_states=6 --beta 0.2 --alpha-l inf --alpha-f inf``. Each player's per-episode regret in
    the last quarter over the first: measured 0.10, 0.16, 0.19 here (0.12, 0.13, 0.18 for the
    issue's run); the test asks for less than 0.4, about twice the largest.

    Centralised: one shared learner plans for the three players, which gives the decentralised
    players' table row for row on these seeds (the copies agree:
    test_decentralised_copies_agree_with_the_shared_learner_with_two_followers) in half the
    time."""
    config = RunConfig(
        game=GameSpec("random-linear", {"n_followers": 2, "n_states": 6}),
        episodes=1000,
        agent=AgentConfig(beta=0.2, alpha_l="inf", alpha_f="inf", decentralised=False),
    )
    game = config.game.make()
    df = pd.concat([play(game, config, seed)[0] for seed in (0, 1)])
    learn = learning_summary(df).set_index("player")
    assert learn.index.tolist() == ["leader", "follower_1", "follower_2"]
    assert (learn["ratio"] < 0.4).all(), learn


# ---------------------------------------------------------------------- sweeps and the CLI
def test_a_sweep_over_followers_and_their_alphas_reports_every_player(tmp_path):
    configs = [
        config_of(n, episodes=K, alpha_f=alpha, game=spec(n))
        for n, alpha in [(1, "inf"), (2, "inf 2")]
        for K in (8, 16)
    ]
    outcome = run_grid(name_settings(configs), tmp_path / "sweep", workers=1, progress=False)
    assert not getattr(outcome, "failed", [])
    names = sorted(p.name for p in (tmp_path / "sweep").iterdir() if p.is_dir())
    assert any("n_followers=2" in n and "alpha-f=inf-2" in n for n in names), names
    report = page.write_sweep_report(tmp_path / "sweep")
    html = (tmp_path / "sweep" / "report.html").read_text()
    assert "follower 1 regret" in html and "follower 2 regret" in html
    assert report is not None


def test_a_sweep_with_a_wrong_count_of_alphas_is_refused_before_anything_is_written(tmp_path):
    configs = [config_of(2, alpha_f="1 2"), config_of(2, alpha_f="1 2 3")]
    with pytest.raises(ValueError, match="alpha_f gives 3 values, one per follower"):
        run_grid(name_settings(configs), tmp_path / "sweep", workers=1, progress=False)
    assert not (tmp_path / "sweep").exists()


def test_the_command_line_runs_two_followers_with_one_alpha_each(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["run", "--game", "random-linear", "--param", "n_followers=2", "--param",
            "n_states=4", "--episodes", "6", "--seeds", "1", "--beta", "0.2", "--alpha-f",
            "inf 3", "--out", str(out), "--quiet"]  # fmt: skip
    code, text, err = call(argv, capsys)
    assert code == 0, err
    assert "follower_2" in text and (out / "regret.png").is_file()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["agent"]["alpha_f"] == ["inf", 3.0]
    argv = [*argv[:-3], "--alpha-f", "1 2 3", "--out", str(tmp_path / "other"), "--quiet"]
    code, _, err = call(argv, capsys)
    assert "alpha_f gives 3 values, one per follower, but the game has 2 followers" in (
        one_line_error(code, err)
    )


@pytest.mark.parametrize(
    "h, x, a, b, message",
    [
        (0, (0.5, 0.5), 0, -1, r"b must be an integer in \[0, 2\), got -1"),
        (0, (0.5, 0.5), 2, 0, r"a must be an integer in \[0, 2\), got 2"),
        (3, (0.5, 0.5), 0, 0, r"h must be an integer in \[0, 3\), got 3"),
        (0, (0.5, np.nan), 0, 0, r"x must be a finite point of the plane"),
        (0, 0.5, 0, 0, r"x must be a finite point of the plane, shape \(2,\), got"),
    ],
)
def test_a_continuous_step_outside_the_game_names_what_is_wrong(h, x, a, b, message):
    game = games.make("continuous", horizon=3)
    with pytest.raises(ValueError, match=message):
        game.step(h, x, a, b, np.random.default_rng(0))
    with pytest.raises(ValueError, match=message):
        game.reward_at(h, x, a, b)


@pytest.mark.parametrize("actions", [(0,), (0, 1, 1), ((0, 1, 1),)])
def test_a_continuous_step_with_a_wrong_number_of_actions_says_how_many(actions):
    game, x = games.make("continuous", horizon=3), (0.5, 0.5)
    with pytest.raises(ValueError, match="one action per player, 2; got"):
        game.step(0, x, *actions, np.random.default_rng(0))
    with pytest.raises(ValueError, match="one action per player, 2; got"):
        game.reward_at(0, x, *actions)


@pytest.mark.parametrize("compiled", [True, False])
def test_the_table_holds_the_first_actions_every_followers_regret_is_measured_after(compiled):
    game = games.make("random-tabular", n_followers=3, n_states=4, n_leader_actions=2,
                      n_follower_actions=3, horizon=3, seed=3)  # fmt: skip
    config = RunConfig(GameSpec("random-tabular", dict(
        n_followers=3, n_states=4, n_leader_actions=2, n_follower_actions=3, horizon=3, seed=3,
    )), episodes=12, agent=AgentConfig(kind="random"))  # fmt: skip
    df, _ = play(game, config, 0, compiled=compiled)
    assert [c for c in df.columns if c.startswith("a1")] == ["a1", "a1_follower_1", "a1_follower_2"]
    counts = game.action_counts
    uniform = [np.full((3, 4, *counts[: m + 1]), 1 / counts[m]) for m in range(4)]
    for row in df.itertuples():  # each regret, at its node (x1, a_0 … a_{m-1}), by the planner
        first = [row.a1, row.a1_follower_1, row.a1_follower_2]
        expected = player_regrets(game, uniform, row.x1, first)
        got = [
            row.regret_leader,
            row.regret_follower_1,
            row.regret_follower_2,
            row.regret_follower_3,
        ]
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert df["a1_follower_2"].nunique() > 1  # the followers' first actions vary
