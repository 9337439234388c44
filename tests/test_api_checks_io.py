"""The Python API refuses what the command line refuses, in one line naming the argument.

Saving over a file of one's own kind needs ``overwrite=True``; sweep settings are named and told
apart by their resolved game parameters; ``GameSpec`` checks ranges and takes any path; the
OpenSpiel state's ``history()`` is OpenSpiel's; out-of-range arguments are named.
"""

import numpy as np
import pytest

from stackelberg_rl import games, report
from stackelberg_rl.agents import AgentConfig
from stackelberg_rl.equilibria import CCSE
from stackelberg_rl.equilibria import reward_free as rf
from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, run_seeds
from stackelberg_rl.experiments.plan_history import PlansFileError
from stackelberg_rl.learners import ReferenceLSVIUCB, SoftmaxLSVIUCB
from stackelberg_rl.sweep import name_settings, run_grid


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Two seeds of a short security game, with their plans."""
    path = tmp_path_factory.mktemp("tiny") / "run"
    config = RunConfig(
        game=GameSpec("security", {"horizon": 2, "n_targets": 2, "levels": 2}),
        episodes=6,
        seeds=2,
        agent=AgentConfig(beta=0.4),
        save_plans=True,
    )
    run_seeds(config, path, workers=1, progress=False)
    return path


# ---------------------------------------------------------------------- save: overwrite=True
def test_saving_over_a_file_of_its_own_kind_needs_overwrite(tiny_run, tmp_path):
    mix = tmp_path / "mix.npz"
    CCSE.from_run(tiny_run, seed=0).save(mix)
    with pytest.raises(PlansFileError, match=r"mix\.npz is already a mixture file: give overwrite"):
        CCSE.from_run(tiny_run, seed=1).save(mix)
    assert CCSE.load(mix).info["seed"] == 0  # seed 0's mixture is kept
    CCSE.from_run(tiny_run, seed=1).save(mix, overwrite=True)
    assert CCSE.load(mix).info["seed"] == 1

    game_file = tmp_path / "g.npz"
    games.save(games.make("matrix"), game_file)
    with pytest.raises(games.GameFileError, match=r"g\.npz is already a game file: give overwrite"):
        games.save(games.make("matrix", horizon=2), game_file)
    games.save(games.make("matrix", horizon=2), game_file, overwrite=True)
    assert games.load(game_file).horizon == 2

    data_file = tmp_path / "data.npz"
    data = rf.explore(games.make("matrix", horizon=2), 3, seed=0)
    data.save(data_file)
    with pytest.raises(rf.ExplorationDataError, match="already an exploration data set: give"):
        data.head(1).save(data_file)
    data.head(1).save(data_file, overwrite=True)
    assert rf.ExplorationData.load(data_file).episodes == 1
    for save in (
        lambda: CCSE.from_run(tiny_run).save(data_file, overwrite=True),
        lambda: games.save(games.make("matrix"), data_file, overwrite=True),
    ):  # a file of another kind is never replaced, even with overwrite
        with pytest.raises(ValueError, match="exists and is not a"):
            save()
    assert rf.ExplorationData.load(data_file).episodes == 1


# ---------------------------------------------------------------------- sweep setting names
def _security(**params):
    return RunConfig(game=GameSpec("security", {"horizon": 2, **params}), episodes=5)


def test_a_setting_leaving_a_parameter_to_its_default_is_named_by_the_default():
    settings = name_settings([_security(), _security(n_targets=3)])
    assert [s.name for s in settings] == ["param.n_targets=4", "param.n_targets=3"]


def test_settings_that_are_the_same_run_once_defaults_are_filled_in_are_refused():
    with pytest.raises(ValueError, match="settings 1 and 2 are the same run once the game's def"):
        name_settings([_security(), _security(n_targets=4)])  # 4 is n_targets' default


def test_names_that_were_already_distinct_are_kept():
    # n_targets given once (its default) and left out once: named as before, not resolved
    configs = [_security(n_targets=4, levels=2), _security(horizon=3)]
    names = [s.name for s in name_settings(configs)]
    assert names == ["param.horizon=2,param.levels=2,param.n_targets=4", "param.horizon=3"]
    configs = [_security(), _security(n_targets=3), _security(horizon=3)]
    names = [s.name for s in name_settings(configs)]
    assert names == ["param.horizon=2", "param.horizon=2,param.n_targets=3", "param.horizon=3"]


# ---------------------------------------------------------------------- GameSpec
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("security", {"n_targets": -2}),
        ("security", {"horizon": 0}),
        ("security", {"escalation": 5}),
        ("random-linear", {"concentration": 0.0}),
        ("random-linear", {"n_states": "0"}),  # as --param n_states=0
    ],
)
def test_a_game_spec_checks_ranges_on_construction_as_make_does(name, params):
    with pytest.raises(ValueError) as made:
        games.make(name, **params)
    with pytest.raises(ValueError) as spec:
        GameSpec(name, params)
    assert str(spec.value) == str(made.value)
    assert str(spec.value).startswith(next(iter(params)) + " must be")


def test_a_game_spec_takes_any_path_to_a_game_file(tmp_path):
    path = tmp_path / "e.npz"
    games.save(games.make("matrix"), path)
    given = GameSpec(file=path)
    assert given == GameSpec(file=str(path)) and isinstance(given.file, str)
    assert given.make().fingerprint() == games.make("matrix").fingerprint()
    config = RunConfig(game=given, episodes=2)
    assert RunConfig.from_dict(config.to_dict()) == config


# ---------------------------------------------------------------------- OpenSpiel
def test_the_openspiel_history_is_the_actions_applied_as_openspiel_tools_read_it():
    openspiel = pytest.importorskip("stackelberg_rl.envs.openspiel")
    playthrough = pytest.importorskip("open_spiel.python.algorithms.generate_playthrough")
    game = openspiel.make(games.make("security", horizon=2, n_targets=2, levels=2))
    state = game.new_initial_state()
    for action in (0, 1, 2, 0, 0, 1):  # x_0, a_0, b_0, x_1, a_1, b_1
        state.apply_action(action)
    assert state.history() == [0, 1, 2, 0, 0, 1]
    assert state.history_str() == "0, 1, 2, 0, 0, 1"
    assert state.clone().history() == state.history()
    assert state.steps() == [(0, 1, 2), (0, 0, 1)]  # (x_h, a, b) of each step
    text = playthrough.playthrough(str(game), action_sequence=None)
    assert "IsTerminal() = True" in text


# ---------------------------------------------------------------------- arguments named
def test_certificate_and_policy_name_a_bad_chunk_or_player(tiny_run):
    ccse = CCSE.from_run(tiny_run)
    with pytest.raises(ValueError, match="chunk must be an integer >= 1, got 0"):
        ccse.certificate(4, chunk=0)
    with pytest.raises(ValueError, match=r"player must be an integer in \[0, 2\), got 2"):
        ccse.policy(0).player_policy(2, 0, 0)
    np.testing.assert_array_equal(
        ccse.policy(0).player_policy(0, 0, 0), ccse.policy(0).leader_policy(0, 0)
    )


def test_report_tables_name_a_bad_bins_level_or_an_empty_table(tiny_run):
    df, _ = load_run(tiny_run)
    for bins in (0, -1, 2.5):
        with pytest.raises(ValueError, match=rf"bins must be an integer >= 1, got {bins}"):
            report.binned_regret(df, bins=bins)
    assert len(report.binned_regret(df, bins=3)) == 2 * 3  # two seeds, three windows of two
    values = np.arange(6.0).reshape(3, 2)
    for level in (2, 0, 1, float("nan")):
        with pytest.raises(ValueError, match=r"level must be"):
            report.mean_band(values, level=level)
    for table in (report.summary, report.learning_summary, report.binned_regret):
        with pytest.raises(ValueError, match="df has no episodes: the results table is empty"):
            table(df.iloc[:0])


# ---------------------------------------------------------------------- a learner's own state
@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_a_learner_refuses_the_state_of_another_games_learner(cls):
    """Another game's features of the same sizes had loaded: one table's statistics on another."""

    def learner(seed):
        game = games.make("random-linear", n_states=4, horizon=2, dim=3, seed=seed)
        return game, cls(game.features, game.action_counts, game.dim, game.horizon, beta=0.3,
                         alphas=(2.0, 2.0))  # fmt: skip

    game, la = learner(0)
    rng = np.random.default_rng(0)
    for _ in range(3):
        for h in range(2):
            actions = tuple(int(rng.integers(n)) for n in game.action_counts)
            la.record(h, int(rng.integers(4)), actions, rng.uniform(-1, 1, 2), int(rng.integers(4)))
        la.plan()
    _, lb = learner(7)
    with pytest.raises(ValueError, match=r"another feature table \(SHA-256 \w{12}…, this .*…\)"):
        lb.load_state_dict(la.state_dict())
    again = learner(0)[1]
    again.load_state_dict(la.state_dict())
    again.plan()
    assert again.w.tobytes() == la.w.tobytes()
    old = {k: v for k, v in la.state_dict().items() if k != "features_sha256"}
    learner(0)[1].load_state_dict(old)  # a state saved before the fingerprint is still read


def test_a_learners_state_names_its_kind_a_negative_count_and_a_capacity_out_of_bounds():
    """Had said 'the learner's state has no phi', 'n_quad must lie in [0, n]', or MemoryError."""
    game = games.make("random-linear", n_states=4, horizon=2, dim=3, seed=0)
    args, kw = (game.features, game.action_counts, 3, 2), {"beta": 0.3, "alphas": (2.0, 2.0)}
    fast, ref = (cls(*args, **kw) for cls in (SoftmaxLSVIUCB, ReferenceLSVIUCB))
    for to, of in ((ref, fast), (fast, ref)):
        with pytest.raises(ValueError) as err:
            to.load_state_dict(of.state_dict())
        mine, theirs = type(to).__name__, type(of).__name__
        assert str(err.value) == (
            f"the learner's state is of another kind of learner, {theirs}, not this {mine}"
        )
    rng = np.random.default_rng(0)
    for _ in range(20):  # 20 rows in use at each step
        for h in range(2):
            x, x_next = rng.integers(4, size=2).tolist()
            fast.record(h, x, (0, 1), rng.uniform(-1, 1, 2), x_next)
    for learner in (fast, ref):
        state = learner.state_dict()
        state["n"] = np.array([-1, 0])
        with pytest.raises(ValueError, match=r"^the learner's state: n has -1 < 0 at index \(0,"):
            learner.load_state_dict(state)
    for capacity in (10**12, 41, 19):
        state = dict(fast.state_dict(), capacity=capacity)
        with pytest.raises(ValueError) as err:
            fast.load_state_dict(state)
        assert str(err.value) == (
            f"the learner's state: capacity {capacity} must be in [20, 40] for its 20 rows in use"
        )
    fast.load_state_dict(fast.state_dict())  # its own capacity, 32, is taken
    assert fast.state_dict()["capacity"] == 32


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_a_learners_state_is_refused_by_a_learner_of_another_lambda(cls):
    """A λ = 1 state had been taken by a λ = 2 learner, which then said ``lam == 2.0`` and planned
    as a λ = 1 learner: its ``w`` equal to the λ = 1 learner's, 0.2 from a λ = 2 one's."""
    game = games.make("random-linear", n_states=4, horizon=2, dim=3, seed=0)
    args, kw = (game.features, game.action_counts, 3, 2), {"beta": 0.3, "alphas": (2.0, 2.0)}
    learned = cls(*args, lam=1.0, **kw)
    learned.record(0, 1, (0, 1), (0.5, -0.25), 2)
    learned.plan()
    with pytest.raises(ValueError, match=r"gathered with lam=1.0, this learner has lam=2.0"):
        cls(*args, lam=2.0, **kw).load_state_dict(learned.state_dict())
    same = cls(*args, lam=1.0, **kw)
    same.load_state_dict(learned.state_dict())
    np.testing.assert_array_equal(same.w, learned.w)


def test_only_a_finite_game_can_be_saved(tmp_path):
    """A continuous game (or None) had failed with 'object has no attribute arrays'."""
    for game, given in ((games.make("continuous"), "ContinuousGame"), (None, "None")):
        with pytest.raises(ValueError, match=f"only finite games can be saved, got {given}") as e:
            games.save(game, tmp_path / "c.npz")
        assert "\n" not in str(e.value)
    assert not (tmp_path / "c.npz").exists()


def test_run_names_a_seed_out_of_range():
    """seed=2**63 had raised OverflowError: run checks it as RunConfig checks its own."""
    from stackelberg_rl.experiments.loop import run

    game = games.make("matrix", horizon=2)
    config = RunConfig(game=GameSpec("matrix", {"horizon": 2}), episodes=2)
    for seed in (2**63, -1, 1.0, True):
        with pytest.raises(ValueError, match=rf"seed must be an integer in \[0, {2**63 - 1}\]"):
            run(game, config, seed=seed)
    assert len(run(game, config, seed=2**63 - 1)) == 2


def test_a_misspelt_environment_option_names_the_environment_and_its_options():
    """A misspelt keyword had named the internal Episode.__init__ or PlayerEnv.__init__."""
    gymnasium = pytest.importorskip("gymnasium")
    pz = pytest.importorskip("stackelberg_rl.envs.pettingzoo")
    pytest.importorskip("stackelberg_rl.envs.gymnasium")
    g = games.make("matrix", horizon=2)
    options = "it accepts game, game_params, max_cycles, render_mode"
    with pytest.raises(TypeError, match=rf"pettingzoo\.env\(\) got .* 'game_param'; {options}"):
        pz.env("security", game_param={"horizon": 2})
    with pytest.raises(TypeError, match=rf"parallel_env\(\) got .* 'max_cycle'; {options}"):
        pz.parallel_env(g, max_cycle=3)
    for env_id, typo, policy in (
        ("Leader", "folower_policy", "follower"),
        ("Follower", "leder_policy", "leader"),
    ):
        with pytest.raises(
            TypeError,
            match=rf"stackelberg_rl/{env_id}Env-v0 got an unexpected keyword argument '{typo}'; "
            rf"it accepts game, {policy}_policy, game_params, render_mode",
        ):
            gymnasium.make(f"stackelberg_rl/{env_id}Env-v0", game=g, **{typo: "uniform"})


def test_an_environment_names_a_policy_that_is_not_one_and_a_step_before_reset():
    """A function had been read as a table ('pi_f has shape ()'); a parallel step before any
    reset had said the episode was over."""
    gymnasium = pytest.importorskip("gymnasium")
    pz = pytest.importorskip("stackelberg_rl.envs.pettingzoo")
    pytest.importorskip("stackelberg_rl.envs.gymnasium")
    g = games.make("matrix", horizon=2)
    expected = (
        r"the follower's policy must be a table, 'uniform', 'stackelberg', or an object with "
        r"act\(h, x, \*earlier\), got "
    )
    for policy, given in ((lambda h, x, a: 0, "function"), (0.5, "float"), ("nash", "'nash'")):
        with pytest.raises(ValueError, match=expected + given):
            gymnasium.make("stackelberg_rl/LeaderEnv-v0", game=g, follower_policy=policy).reset()
    env = pz.parallel_env(g)
    with pytest.raises(RuntimeError, match=r"reset\(\) has not been called"):
        env.step({"leader": 0, "follower": np.zeros(2, dtype=np.int64)})
    env.reset(seed=0)
    for _ in range(2):
        env.step({"leader": 0, "follower": np.zeros(2, dtype=np.int64)})
    with pytest.raises(RuntimeError, match=r"the episode is over: call reset\(\)"):
        env.step({"leader": 0, "follower": np.zeros(2, dtype=np.int64)})


def test_the_unwrapped_aec_environment_says_when_no_episode_is_under_way():
    """PettingZoo's raw_env had raised AttributeError ('agent_selection') before any reset, and
    KeyError ('leader') on step() or last() once every agent had left; so had env()'s last()."""
    pz = pytest.importorskip("stackelberg_rl.envs.pettingzoo")
    g = games.make("matrix", horizon=2)
    raw = pz.raw_env(g)
    for call, name in ((lambda: raw.step(0), "step"), (raw.last, "last")):
        with pytest.raises(RuntimeError, match=rf"call reset\(\) before {name}\(\)"):
            call()
    with pytest.raises(RuntimeError, match=r"call reset\(\) before observe\(\)"):
        raw.observe("leader")
    for env in (raw, pz.env(g)):
        env.reset(seed=0)
        for _ in env.agent_iter():
            _, _, terminated, truncated, _ = env.last()
            env.step(None if terminated or truncated else 0)
        with pytest.raises(RuntimeError, match=r"the episode is over: call reset\(\)"):
            env.last()
    for action in (0, None):
        with pytest.raises(RuntimeError, match=r"the episode is over: call reset\(\)"):
            raw.step(action)
    raw.reset(seed=0)  # and a new episode plays
    raw.step(1)
    assert raw.agent_selection == "follower"


def test_solve_and_name_settings_name_an_argument_of_another_type():
    """solve(None) had failed on 'is_finite', name_settings(["x"]) on 'str' has no 'game'."""
    for call in (rf.solve, rf.fit):
        with pytest.raises(ValueError, match="data must be an ExplorationData, got None"):
            call(None)
    config = RunConfig(game=GameSpec("matrix", {"horizon": 2}), episodes=2)
    with pytest.raises(ValueError, match="configs\\[1\\] must be a RunConfig, got 'x'"):
        name_settings([config, "x"])
    assert [s.name for s in name_settings([config])] == ["run"]


def test_run_grid_names_settings_that_are_not_named_settings(tmp_path):
    # a RunConfig had failed deep inside: 'RunConfig' object has no attribute 'name'
    named = "the named settings from name_settings(configs)"
    for settings, expected in [
        ([RunConfig()], f"settings[0] must be one of {named}, got RunConfig("),
        ({"a": 1}, f"settings must be a list of {named}, got {{'a': 1}}"),
    ]:
        with pytest.raises(ValueError) as err:
            run_grid(settings, tmp_path / "out", workers=1, progress=False)
        assert str(err.value).startswith(expected) and "\n" not in str(err.value), err.value
    assert list(tmp_path.iterdir()) == []  # nothing written
