"""The public API refuses bad arguments in one line naming them, the way its constructors do.

Each test here failed before its check was written: the learner's setters took anything (a
short ``alphas`` made the compiled kernel read past its end), a game's per-step accessors read
``h = -1`` from the end, the ``random`` players acted on anything, and the planners given the
other kind of game failed deep inside.
"""

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from helpers import call as command
from helpers import one_line_error, play_in_order

from stackelberg_rl import AgentConfig, GameSpec, RunConfig, _validate, games, montecarlo, planning
from stackelberg_rl.agents import TableAgent, make_agents
from stackelberg_rl.cli import explore as explore_cli
from stackelberg_rl.cli import main
from stackelberg_rl.equilibria import CCSE
from stackelberg_rl.experiments import loop
from stackelberg_rl.experiments.plan_history import PlanRecorder
from stackelberg_rl.learners import ReferenceLSVIUCB, SoftmaxLSVIUCB

GAME = games.make(
    "random-linear", n_states=5, n_leader_actions=2, n_follower_actions=2, dim=4, horizon=3, seed=1
)
CONTINUOUS = games.make("continuous", n_eval_states=5, n_replications=2)


def message(call) -> str:
    with pytest.raises(ValueError) as err:
        call()
    return str(err.value)


# ---------------------------------------------------------------------- 1. the learner's setters
def learner(cls, feature_map=1, **kw):
    kw = {"beta": 0.2, "alphas": (1.0, 1.0), **kw}
    phi = GAME.features * feature_map  # 1j: a complex table
    return cls(phi, action_counts=GAME.action_counts, dim=4, horizon=3, **kw)


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("alphas", (1.0,), "alphas must hold one value per player (2 players), got (1.0,)"),
        ("alphas", (1.0, 1.0, 1.0), "alphas must hold one value per player (2 players)"),
        ("alphas", (-5, -5), "alphas[0] must be in [0, inf), got -5"),
        ("alphas", [[1, 2], [3, 4]], "alphas[0] must be a number in [0, inf), got [1, 2]"),
        ("alphas", (1.0, math.nan), "alphas[1] must be a number in [0, inf), got nan"),
        ("alphas", "ab", "alphas must hold one value per player, got 'ab'"),
        ("beta", -1, "beta must be in [0, inf), got -1"),
        ("beta", math.inf, "beta must be a finite number in [0, inf), got inf"),
        ("beta", "0.5", "beta must be a finite number in [0, inf), got '0.5'"),
        ("alpha_l", math.nan, "alpha_l must be a number in [0, inf), got nan"),
        ("alpha_f", -1.0, "alpha_f must be in [0, inf), got -1.0"),
        ("alpha_f", True, "alpha_f must be a number in [0, inf), got True"),
    ],
)
def test_a_setter_makes_the_constructors_checks(cls, name, value, expected):
    L = learner(cls)
    before = (L.alphas.copy(), L.beta)
    got = message(lambda: setattr(L, name, value))
    assert got.startswith(expected) and "\n" not in got, got
    if name in ("alpha_l", "alpha_f"):  # the spelling the constructor takes too
        other = {"alpha_l": 1.0, "alpha_f": 1.0, name: value}
        assert message(lambda: learner(cls, alphas=None, **other)) == got
    else:
        assert message(lambda: learner(cls, **{name: value})) == got
    assert np.array_equal(L.alphas, before[0]) and L.beta == before[1]  # nothing changed
    L.plan()  # and the learner still plans with what it had


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_good_values_are_set_as_before(cls):
    L = learner(cls)
    L.alphas = np.array([2, np.inf], dtype=np.float32)
    L.alpha_l, L.beta = np.int64(3), 0
    assert L.alphas.tolist() == [3.0, math.inf] and L.beta == 0.0
    assert type(L.beta) is float and not L.alphas.flags.writeable
    game = games.make("random-linear", n_followers=2, n_states=5, dim=4, horizon=3, seed=0)
    three = cls(game.features, game.action_counts, 4, 3, beta=0.5, alphas=(1.0, 1.0, 1.0))
    with pytest.raises(ValueError, match=re.escape("alphas must hold one value per player (3")):
        three.alphas = (1.0, 1.0)
    three.alpha_f = 2.0
    assert three.alphas.tolist() == [1.0, 2.0, 1.0]
    with pytest.raises(ValueError, match="alphas must hold one value per player, got None"):
        three.alphas = None


# ---------------------------------------------------------------------- 2. a game's steps
@pytest.mark.parametrize(
    "game",
    [
        GAME,  # factored
        games.make("random-tabular", n_states=4, horizon=2, seed=0),  # dense
        games.make("random-linear", n_followers=2, n_states=4, dim=3, horizon=2, seed=0),
    ],
    ids=["factored", "dense", "followers"],
)
@pytest.mark.parametrize("h", [-1, "H", True, 1.0, np.int64(-1)])
def test_every_per_step_accessor_refuses_a_bad_step_as_step_does(game, h):
    H, S = game.horizon, game.n_states
    h = H if h == "H" else h
    V = np.zeros((game.n_players, S))
    calls = [
        lambda: game.reward(h),
        lambda: game.transition(h),
        lambda: game.expected_next(h, V[0]),
        lambda: game.action_values(h, V),
        lambda: game.action_values(h),
        lambda: game.step(h, 0, *[0] * game.n_players, np.random.default_rng(0)),
    ]
    expected = f"h must be an integer in [0, {H}), got {h!r}"
    for call in calls:
        assert message(call) == expected


def test_the_continuous_games_steps_refuse_a_bad_step():
    rng = np.random.default_rng(0)
    expected = "h must be an integer in [0, 3), got -1"
    assert message(lambda: CONTINUOUS.step(-1, (0.5, 0.5), 0, 0, rng)) == expected
    assert message(lambda: CONTINUOUS.densities.draw(-1, 0, rng)) == expected
    assert message(lambda: CONTINUOUS.densities.draw(0, 4, rng)).startswith("i must be an integer")
    x = message(lambda: CONTINUOUS.step(0, "ab", 0, 0, rng))
    assert x == "x must be a finite point of the plane, shape (2,), got 'ab'"


@pytest.mark.parametrize("game", [GAME, CONTINUOUS], ids=["finite", "continuous"])
def test_step_names_a_bad_or_missing_rng(game):
    x = 0 if game is GAME else (0.5, 0.5)
    wrong = "rng must be a numpy.random.Generator, got 0"
    assert message(lambda: game.step(0, x, 1, 0, 0)) == wrong
    assert message(lambda: game.step(0, x, (1, 0), 0)) == wrong
    for call in (lambda: game.step(0, x, 1, 0), lambda: game.step(0, x, (1, 0))):
        got = message(call)
        assert got.startswith("rng is missing:") and "numpy.random.Generator" in got, got


# ---------------------------------------------------------------------- 3. the agents' act
KINDS = ["random", "oracle", "softmax-lsvi-ucb"]


def recorded_ccse(game, episodes=3):
    """The mixture of a few episodes of LSVI-UCB on ``game``, its plans recorded as played."""
    agents = make_agents(game, AgentConfig(beta=0.4), episodes, seed=0)
    recorder = PlanRecorder(*agents)
    play_in_order(game, agents, episodes, np.random.default_rng(0), recorder.after_plans)
    return CCSE(recorder.finish(), game)


def started(game, kind):
    if kind == "ccse":  # the players of a mixture act as the learners' agents do
        agents = recorded_ccse(game).players(seed=0)
    else:
        agents = make_agents(game, AgentConfig(kind=kind), episodes=5, seed=0)
    for agent in agents:
        agent.begin_episode(0)
    return agents


@pytest.mark.parametrize("kind", [*KINDS, "ccse"])
def test_every_agent_refuses_bad_arguments_to_act_alike(kind):
    game = games.make("security")  # H = 5, S = 3, A = 4, B = 5
    leader, follower = started(game, kind)
    cases = [
        (lambda: leader.act(99, 99), "h must be an integer in [0, 5), got 99"),
        (lambda: leader.act(0, 99), "x must be an integer in [0, 3), got 99"),
        (lambda: leader.act(0, 0.0), "x must be an integer in [0, 3), got 0.0"),
        (lambda: follower.act(0, 0, 999), "a must be an integer in [0, 4), got 999"),
        (lambda: follower.act(0, 0), "the follower acts after 1 earlier action, got ()"),
        (lambda: follower.act(0, 0, 1, 2), "the follower acts after 1 earlier action, got (1, 2)"),
        (lambda: leader.act(0, 0, 1), "the leader acts after no earlier action, got (1,)"),
    ]
    for call, expected in cases:
        assert message(call) == expected
    assert 0 <= follower.act(0, 0, leader.act(0, 0)) < 5


@pytest.mark.parametrize("kind", KINDS)
def test_agents_of_a_continuous_game_check_their_arguments_too(kind):
    leader, follower = started(CONTINUOUS, kind)
    x = np.array([0.5, 0.5])
    assert message(lambda: leader.act(3, x)) == "h must be an integer in [0, 3), got 3"
    assert message(lambda: leader.act(0, 1)).startswith("x must be a finite point of the plane")
    assert message(lambda: follower.act(0, x)).startswith("the follower acts after 1 earlier")
    assert message(lambda: follower.act(0, x, 2)) == "a must be an integer in [0, 2), got 2"
    assert 0 <= follower.act(0, x, leader.act(0, x)) < 2


def test_a_table_agent_refuses_more_earlier_actions_than_players_before_it():
    follower = TableAgent(np.full((3, 6, 2, 3), 1 / 3), np.random.default_rng(0), 1)
    with pytest.raises(ValueError, match=re.escape("acts after 1 earlier action, got (1, 0)")):
        follower.act(0, 0, 1, 0)


def test_make_agents_names_a_game_or_config_of_the_wrong_type():
    assert message(lambda: make_agents(GAME, None, 5, seed=0)) == (
        "config must be an AgentConfig, got None"
    )
    assert message(lambda: make_agents(None, AgentConfig(), 5, seed=0)) == (
        "game must be a FiniteGame or a ContinuousGame, got None"
    )


# ---------------------------------------------------------------------- 4. the kind of game
@pytest.mark.parametrize(
    "call",
    [
        lambda g: planning.stackelberg_equilibrium(g),
        lambda g: planning.evaluate(g, np.ones((3, 1, 2)) / 2, np.ones((3, 1, 2, 2)) / 2),
        lambda g: planning.follower_best_response(g, np.ones((3, 1, 2)) / 2),
        lambda g: planning.regret(g, np.ones((3, 1, 2)) / 2, np.ones((3, 1, 2, 2)) / 2, 0, 0),
        lambda g: planning.softmax_solution(g, 1.0, 1.0),
        lambda g: planning.softmax_bias(g, 1.0, 1.0),
        lambda g: planning.softmax_bias_bound(g, 1.0, 1.0),
        lambda g: planning.start_values(g, [np.ones((3, 1, 2))]),
        lambda g: planning.policy_shapes(g),
    ],
)
def test_the_finite_planners_refuse_a_continuous_game_by_name(call):
    for game in (CONTINUOUS, None):
        got = message(lambda game=game: call(game))
        assert got.startswith("game must be a FiniteGame") and "\n" not in got, got


def test_the_monte_carlo_planners_refuse_a_finite_game_by_name():
    security = games.make("security")
    calls = [
        lambda: montecarlo.sampled_stackelberg(security),
        lambda: montecarlo.sampled_stackelberg(security, CONTINUOUS.evaluation),
        lambda: montecarlo.sampled_regrets(security, None, None, np.zeros(2), 0),
    ]
    for call in calls:
        got = message(call)
        assert got.startswith("game must be a ContinuousGame") and "FiniteGame(" in got, got


# ---------------------------------------------------------------------- 5. the rest
def test_regret_takes_arrays_as_player_regrets_does():
    pi_l = np.full((3, 5, 2), 0.5)
    pi_f = np.full((3, 5, 2, 2), 0.5)
    x1, a1 = np.array([0, 1, 4]), np.array([1, 0, 1])
    r_l, r_f = planning.regret(GAME, pi_l, pi_f, x1=x1, a1=a1)
    assert r_l.shape == r_f.shape == (3,) and r_l.min() > 0 and r_f.min() > 0  # uniform play
    for i in range(3):
        assert planning.regret(GAME, pi_l, pi_f, int(x1[i]), int(a1[i])) == (r_l[i], r_f[i])
    assert np.array_equal(planning.player_regrets(GAME, [pi_l, pi_f], x1, [a1]), [r_l, r_f])
    assert type(planning.regret(GAME, pi_l, pi_f, np.int64(0), 1)[0]) is float


def test_a_missing_policy_is_named():
    pi_f = np.full((3, 5, 2, 2), 0.5)
    expected = "pi_l is required: evaluate plays every player's policy"
    assert message(lambda: planning.evaluate(GAME, None, pi_f)) == expected
    assert message(lambda: planning.regret(GAME, None, pi_f, 0, 0)).startswith("pi_l is required")


def test_run_names_a_game_or_config_of_the_wrong_type():
    assert message(lambda: loop.run(GAME, None, seed=0)) == "config must be a RunConfig, got None"
    config = RunConfig(GameSpec("random-linear", {"n_states": 5}), episodes=2)
    assert message(lambda: loop.run(None, config, seed=0)).startswith("game must be a FiniteGame")


def test_a_mixtures_player_policy_takes_exactly_the_earlier_players_actions():
    ccse = recorded_ccse(games.make("security"))  # A = 4, B = 5
    policy = ccse.policy(0)
    assert policy.player_policy(1, 0, 0, 2).shape == (5,)  # π_f(·|x, a), not the whole table
    cases = [
        (
            lambda: policy.player_policy(1, 0, 0),
            "the follower acts after 1 earlier action, got ()",
        ),
        (
            lambda: policy.player_policy(0, 0, 0, 1),
            "the leader acts after no earlier action, got (1,)",
        ),
        (lambda: policy.player_policy(1, 0, 0, 1, 2), "the follower acts after 1 earlier action,"),
    ]
    for call, expected in cases:
        got = message(call)
        assert got.startswith(expected) and "\n" not in got, got


def test_explore_overwrite_keeps_both_when_plans_appear_while_it_plays(
    tmp_path, capsys, monkeypatch
):
    folder = tmp_path / "ex"
    small = ["explore", "--game", "security", "--param", "n_targets=2", "--param",
             "levels=2", "--param", "horizon=3", "--episodes", "5", "--quiet", "--out",
             str(folder)]  # fmt: skip
    assert command(small, capsys)[0] == 0
    planned = explore_cli._planned

    def plan_meanwhile(data, rewards, *args):  # the old folder gets a plan as the new one plays
        if rewards is None:  # explore's own plan, not the one of plan below
            assert main(["plan", str(folder), "--param", "zero_sum=true"]) == 0
        return planned(data, rewards, *args)

    monkeypatch.setattr(explore_cli, "_planned", plan_meanwhile)
    code, _, err = command([*small, "--seed", "1", "--overwrite"], capsys)
    line = one_line_error(code, err)
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(".ex.new-")]
    assert len(kept) == 1 and f"the finished exploration is in {kept[0]}" in line, line
    plans = sorted(p.name for p in folder.iterdir() if p.name.startswith("plan-"))
    assert (
        f"could not replace {folder} (it now holds plans ({', '.join(plans)}); both are kept)"
        in line
    )
    assert len(plans) == 2  # the old exploration, with its plan (.npz, .json)
    assert json.loads((folder / "manifest.json").read_text())["options"]["seed"] == 0
    assert json.loads((kept[0] / "manifest.json").read_text())["status"] == "complete"


def test_numpy_scalars_in_a_config_are_stored_as_plain_values_and_a_run_completes(tmp_path):
    from stackelberg_rl import run_seeds

    game = GameSpec("random-linear", {"n_states": np.int64(4), "horizon": np.int64(2)})
    agent = AgentConfig(beta=np.float32(0.25), alpha_f=[np.float64(2.0)], decentralised=np.True_)
    config = RunConfig(game, episodes=np.int64(3), seeds=np.int64(2), agent=agent)
    assert type(config.episodes) is type(config.seeds) is int and type(agent.beta) is float
    assert type(agent.alpha_f[0]) is float and type(agent.decentralised) is bool
    assert type(game.params["n_states"]) is int
    run_seeds(config, tmp_path / "r1", workers=1, progress=False)
    manifest = json.loads((tmp_path / "r1" / "manifest.json").read_text())
    assert manifest["config"]["episodes"] == 3 and manifest["config"]["seeds"] == 2
    assert manifest["config"]["agent"]["beta"] == 0.25
    assert manifest["config"]["game"]["params"]["n_states"] == 4


def test_float32_probabilities_are_held_to_float32_accuracy():
    g = games.make("random-linear", n_states=4, horizon=3, dim=4, seed=0)
    pi_l, pi_f = np.full((3, 4, 3), 1 / 3, np.float32), np.full((3, 4, 3, 3), 1 / 3, np.float32)
    assert planning.evaluate(g, pi_l, pi_f).q.dtype == np.float64  # sum 1.0000000298 is 1
    dense = games.make("random-tabular", n_states=4, horizon=2, seed=0)
    P, R = dense.transition(0)[None], dense.reward(0)[:, None]
    P32 = (P.astype(np.float32) + np.float32(1 / 3)) / np.float32(1 + P.shape[-1] / 3)
    assert abs(P32.sum(-1, dtype=np.float64) - 1).max() > 1e-9  # float32 round-off

    def made(P):
        return games.FiniteGame(dense.features, [1, 0, 0, 0], transitions=P, rewards=R)

    assert made(P32).n_states == 4
    assert games.tabular(P32, R).n_states == 4  # the builder keeps the dtype for the check
    off = P32.copy()
    off[0, 0, 0, 0, 0] += 1e-4  # far beyond float32's round-off: still refused
    assert message(lambda: made(off)).startswith("transitions does not sum to 1 at index")
    off64 = np.full((3, 4, 3), 1 / 3)
    off64[0, 0, 0] += 1e-7  # a float64 array is held to 1e-9
    assert message(lambda: planning.evaluate(g, off64, pi_f)).startswith("pi_l does not sum to 1")


@pytest.mark.parametrize(
    "alpha, expected",
    [
        (math.nan, "alpha must be a number in [0, inf), got nan"),
        (-1.0, "alpha must be in [0, inf), got -1.0"),
        (-math.inf, "alpha must be in [0, inf), got -inf"),
        ("2", "alpha must be a number in [0, inf), got '2'"),
    ],
)
def test_softmax_refuses_a_bad_alpha_as_softmax_solution_does(alpha, expected):
    assert message(lambda: planning.softmax(np.array([0.0, 1.0]), alpha)) == expected
    got = message(lambda: planning.softmax_solution(GAME, alpha, 1.0))
    assert got == expected.replace("alpha", "alpha_l")
    assert planning.softmax(np.array([0.0, 1.0]), np.float32(0)).tolist() == [0.5, 0.5]


def test_softmax_refuses_values_that_are_not_finite():
    # [nan, 1] had given [nan, nan] silently; only alpha may be inf (its docstring says so)
    for z, bad in (
        ([np.nan, 1.0], "nan at index (0,)"),
        ([[0.0, 1.0], [-np.inf, 0]], "-inf at index (1, 0)"),
    ):
        assert (
            message(lambda z=z: planning.softmax(np.array(z), 1.0))
            == f"z has a non-finite entry {bad}"
        )
    assert planning.softmax(np.array([[0.0, 0.0]]), math.inf).tolist() == [[0.5, 0.5]]


def test_a_confidence_level_outside_0_1_is_refused():
    from stackelberg_rl import report

    x = np.arange(5.0)
    rows = [(K, s, K**0.5 * (1 + s / 10)) for K in (10, 100) for s in range(3)]
    table = pd.DataFrame(rows, columns=["K", "seed", "total"])
    for level in (1.5, -1, 0, 1):
        expected = f"level must be in (0, 1), got {level}"
        assert message(lambda level=level: montecarlo.t_half_width(x, level=level)) == expected
        assert message(lambda level=level: report.loglog_fit(table, "total", level=level)) == (
            expected
        )
        one = table[table.seed == 0]  # one slope: no interval, the level refused all the same
        got = message(lambda level=level, one=one: report.loglog_fit(one, "total", level=level))
        assert got == expected
        assert message(lambda level=level: report.mean_band(x[:, None], level=level)) == expected
    assert message(lambda: montecarlo.t_half_width(x[:1], level=math.nan)).startswith("level must")
    assert 0 < report.loglog_fit(table, "total", level=0.9).half_width < math.inf


def test_stackelberg_actions_refuses_q_without_its_player_axis():
    rng = np.random.default_rng(0)
    for Q in (rng.random((4, 2, 2)), rng.random((2, 3)), rng.random((3, 5, 4, 2))):
        expected = "Q must have shape (2, ..., A, B), the leader's and the follower's, got "
        expected += str(Q.shape)
        assert message(lambda Q=Q: montecarlo.stackelberg_actions(Q)) == expected
    a, b = montecarlo.stackelberg_actions(rng.random((2, 5, 4, 2)))
    assert a.shape == (5,) and b.shape == (5, 4)


def test_regret_refuses_x1_and_a1_of_different_lengths():
    pi_l, pi_f = np.full((3, 5, 2), 0.5), np.full((3, 5, 2, 2), 0.5)
    got = message(lambda: planning.regret(GAME, pi_l, pi_f, np.array([0, 1, 4]), np.array([1, 0])))
    assert got == "x1 and a1 must have the same length, got shapes (3,) and (2,)"
    r_l, _ = planning.regret(GAME, pi_l, pi_f, np.array([0, 1, 4]), 1)  # one a1 for every x1
    assert r_l.shape == (3,)


def test_sample_initial_names_a_bad_rng_as_step_does():
    continuous = games.make("continuous", n_eval_states=4)
    for rng in (0, None):
        expected = f"rng must be a numpy.random.Generator, got {rng!r}"
        assert message(lambda rng=rng: GAME.sample_initial(rng)) == expected
        assert message(lambda rng=rng: continuous.sample_initial(rng)) == expected
    assert 0 <= GAME.sample_initial(np.random.default_rng(0)) < 5


def test_an_index_without_a_real_bound_says_it_must_be_at_least_zero():
    game = games.make("security")
    leader, _ = make_agents(game, AgentConfig(), 10, np.random.SeedSequence(0))
    assert message(lambda: leader.begin_episode(-1)) == "k must be an integer >= 0, got -1"
    assert message(lambda: _validate.index(5, 3, "h")) == "h must be an integer in [0, 3), got 5"


def test_a_finite_games_feature_map_refuses_what_is_not_a_state_index():
    game = games.make("security")  # 3 states
    assert (
        message(lambda: game.feature_map([-1])) == "states must be in [0, 3), got -1 at index (0,)"
    )
    assert (
        message(lambda: game.feature_map([0, 3])) == "states must be in [0, 3), got 3 at index (1,)"
    )
    expected = "states must be state indices (integers), got dtype float64"
    assert message(lambda: game.feature_map([1.5])) == expected  # had been read as state 1
    assert game.feature_map([]).shape == (0, *game.features.shape[1:])
    np.testing.assert_array_equal(game.feature_map(np.array([[2, 0]])), game.features[[[2, 0]]])


# ------------------------------------------- an agent option without use; another game's table
@pytest.mark.parametrize(
    "agent, message",
    [(dict(kind="greedy-lsvi-ucb", alpha_l=2.0), "alpha_l=2.0 has no effect with kind='greedy"),
     (dict(beta=0.2, c1=5.0), "c1=5.0 has no effect with beta=0.2"),
     (dict(schedule_n=5), "schedule_n=5 has no effect with schedule='every'"),
     (dict(incremental=False, refresh_every=5), "refresh_every=5 has no effect with incremental"),
     (dict(kind="random", beta=0.3), "beta=0.3 has no effect with kind='random'")],
)  # fmt: skip
def test_run_and_run_seeds_refuse_an_agent_option_that_shapes_nothing(tmp_path, agent, message):
    """``AgentConfig(kind="greedy-lsvi-ucb", alpha_l=2.0)`` had been played greedily while its
    manifest said ``α_l = 2``: the Python API now refuses what ``run`` on the command line does."""
    from stackelberg_rl.experiments import run_seeds

    spec = GameSpec("security", {"horizon": 2})
    config = RunConfig(game=spec, episodes=3, seeds=1, agent=AgentConfig(**agent))
    with pytest.raises(ValueError, match=re.escape(message)):
        loop.run(spec.make(), config, seed=0)
    with pytest.raises(ValueError, match=re.escape(message)):
        run_seeds(config, tmp_path / "r", workers=1, progress=False)
    assert not (tmp_path / "r").exists()
    assert AgentConfig(**agent).unused()  # a sweep may cross kinds with a shared option
    assert not AgentConfig(kind=agent.get("kind", "softmax-lsvi-ucb")).unused()


@pytest.mark.parametrize("kind", ["softmax-lsvi-ucb", "oracle", "random"])
def test_policy_table_refuses_a_game_the_agent_does_not_play(kind):
    """An H = 3 leader had returned its H = 3 table for an H = 4 game, and a learner its policy
    computed on another game's features of the same shape."""
    game = games.make("security", horizon=3)
    leader, follower = make_agents(game, AgentConfig(kind=kind), episodes=10, seed=0)
    leader.begin_episode(0)
    assert leader.policy_table(game).shape == (3, 3, 4)
    assert follower.policy_table(game).shape == (3, 3, 4, 5)
    with pytest.raises(ValueError, match=re.escape("are (4, 3, 4), the leader's (3, 3, 4)")):
        leader.policy_table(games.make("security", horizon=4))
    if kind == "softmax-lsvi-ucb":  # the same sizes, other features
        with pytest.raises(ValueError, match="features are not those the follower learns on"):
            follower.policy_table(games.random_linear(3, 4, 5, 12, 3))


def test_complex_arrays_are_refused_not_cut_to_their_real_part():
    # numpy casts complex to float with only a ComplexWarning: rewards 0.1+3j had been read as 0.1
    phi, P = np.eye(2).reshape(2, 1, 1, 2), np.full((1, 2, 1, 1, 2), 0.5)
    R = np.array([0.1, 0.2]).reshape(1, 1, 2, 1, 1) * np.ones((2, 1, 2, 1, 1))

    def game(features=phi, transitions=P, rewards=R):
        return games.FiniteGame(features, [0.5, 0.5], transitions=transitions, rewards=rewards)

    for name, call in [
        ("rewards", lambda: game(rewards=R + 3j)),
        ("features", lambda: game(features=phi + 0j)),
        ("transitions", lambda: game(transitions=P + 0j)),
        ("the feature table (S, A, B, d)", lambda: learner(SoftmaxLSVIUCB, feature_map=1j)),
    ]:
        assert message(call) == f"{name} must be real, got complex dtype complex128"
    assert game(rewards=R.astype(object)).reward(0)[0, 1].tolist() == [[0.2]]  # numbers as before


def test_arrays_that_disagree_on_the_number_of_states_are_named_together():
    # 2 states in features had blamed the right initial_distribution: 'expected (2,)'
    P = np.stack([GAME.transition(h) for h in range(3)])
    R = np.stack([GAME.reward(h) for h in range(3)], axis=1)
    p0 = np.ones(5) / 5

    def game(phi=GAME.features, p=p0, transitions=P):
        return games.FiniteGame(phi, p, transitions=transitions, rewards=R)

    for call, S, S_0, S_P in [
        (lambda: game(phi=GAME.features[:2]), 2, 5, "5"),
        (lambda: game(p=p0[:4] * 1.25), 5, 4, "5"),
        (lambda: game(transitions=P[..., :4]), 5, 5, "5 and 4"),
    ]:
        assert message(call) == (
            f"the arrays disagree on the number of states S: features has S = {S} (axis 0), "
            f"initial_distribution {S_0} (axis 0), transitions {S_P} (axes 1, 4), "
            "rewards 5 (axis 2)"
        )
    assert game().n_states == 5
