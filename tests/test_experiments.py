"""The episode runner, run folders and the report (the run folders and the report)."""

import copy
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from stackelberg_rl import experiments, random_linear, regret
from stackelberg_rl.agents import AgentConfig, make_agents
from stackelberg_rl.experiments import GameSpec, RunConfig, load_run, run, run_seeds
from stackelberg_rl.experiments.loop import play
from stackelberg_rl.report import (
    binned_regret,
    cumulative_regret,
    learning_summary,
    summary,
)

TINY = GameSpec(params=dict(n_states=5, n_leader_actions=2, n_follower_actions=2, dim=3, horizon=2))


def tiny_config(**kw) -> RunConfig:
    agent = kw.pop("agent", AgentConfig(beta=0.3))
    return RunConfig(game=TINY, episodes=kw.pop("episodes", 30), agent=agent, **kw)


def without_time(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns="wall_time")


# ---------------------------------------------------------------------- run
def test_columns_and_types():
    df = run(TINY.make(), tiny_config(), seed=3)
    assert list(df.columns) == list(experiments.COLUMNS)
    assert len(df) == 30
    assert (df["seed"] == 3).all() and df["episode"].tolist() == list(range(30))
    assert df["replanned"].all()  # schedule "every"
    assert (df["eval_weight"] == 1).all()
    assert np.all(np.diff(df["wall_time"]) >= 0)
    # fixed-K: α = log|A| √K / H, the same in every episode; β and λ as configured.
    assert np.allclose(df["alpha_l"], math.log(2) * math.sqrt(30) / 2)
    assert (df["beta"] == 0.3).all() and (df["lam"] == 1.0).all()


def test_run_refuses_a_game_that_is_not_the_configurations_as_run_seeds_does(tmp_path):
    config = RunConfig(game=GameSpec("security"), episodes=2)
    with pytest.raises(ValueError, match="is not config.game") as from_run:
        run(experiments.GameSpec("electricity").make(), config, seed=0)
    with pytest.raises(ValueError, match="is not config.game") as from_run_seeds:
        run_seeds(
            config, tmp_path / "r", workers=1, progress=False, game=GameSpec("electricity").make()
        )
    assert str(from_run.value) == str(from_run_seeds.value)


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_run_names_a_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        run(TINY.make(), tiny_config(), seed=seed)


def test_a_run_whose_results_cannot_fit_advises_fewer_seeds_before_the_game_is_built(
    tmp_path, monkeypatch
):
    def no_game(self):
        raise AssertionError("the game is not built")

    monkeypatch.setattr(GameSpec, "make", no_game)
    with pytest.raises(MemoryError, match=r"needs about .* GiB.*100000000 seeds.*use fewer seeds"):
        run_seeds(tiny_config(seeds=10**8), tmp_path / "r", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_same_seed_gives_identical_results_and_another_seed_does_not():
    game, config = TINY.make(), tiny_config()
    a, b = run(game, config, seed=7), run(game, config, seed=7)
    pd.testing.assert_frame_equal(without_time(a), without_time(b))
    c = run(game, config, seed=8)
    assert not without_time(a).drop(columns="seed").equals(without_time(c).drop(columns="seed"))


@pytest.mark.parametrize("kind", ["softmax-lsvi-ucb", "greedy-lsvi-ucb", "random"])
def test_regret_is_never_negative(kind):
    beta = {} if kind == "random" else {"beta": 0.3}  # a random player has no β: refused
    df = run(TINY.make(), tiny_config(agent=AgentConfig(kind=kind, **beta)), seed=0)
    assert (df[["regret_leader", "regret_follower"]].to_numpy() >= -1e-9).all()


def test_oracle_has_zero_regret():
    df = run(TINY.make(), tiny_config(agent=AgentConfig(kind="oracle")), seed=0)
    assert np.abs(df[["regret_leader", "regret_follower"]].to_numpy()).max() <= 1e-9
    assert df["beta"].isna().all()  # an oracle has no learning parameters


def test_regret_is_that_of_the_policies_played_in_the_episode():
    """Episode 0 is played with the plan made on no data: recompute its regret independently."""
    game, config = TINY.make(), tiny_config()
    df = run(game, config, seed=5)
    _, agents_ss = np.random.SeedSequence(5).spawn(2)
    leader, follower = make_agents(game, config.agent, config.episodes, agents_ss)
    leader.begin_episode(0)
    follower.begin_episode(0)
    expected = regret(
        game,
        leader.policy_table(game),
        follower.policy_table(game),
        int(df["x1"][0]),
        int(df["a1"][0]),
    )
    assert df[["regret_leader", "regret_follower"]].iloc[0].tolist() == pytest.approx(expected)


def test_centralised_and_decentralised_runs_agree():
    """math.md §3: the shared fast path must agree exactly with the two-copy form."""
    game = TINY.make()
    dec = run(game, tiny_config(agent=AgentConfig(beta=0.3, decentralised=True)), seed=1)
    cen = run(game, tiny_config(agent=AgentConfig(beta=0.3, decentralised=False)), seed=1)
    pd.testing.assert_frame_equal(without_time(dec), without_time(cen))


def test_eval_every_thins_the_regret_and_weights_what_is_evaluated():
    game = TINY.make()
    full = run(game, tiny_config(episodes=10), seed=2)
    thin = run(game, tiny_config(episodes=10, eval_every=4), seed=2)
    evaluated = thin["episode"] % 4 == 0
    assert thin["eval_weight"].tolist() == [4, 0, 0, 0, 4, 0, 0, 0, 2, 0]
    assert thin.loc[~evaluated, "regret_leader"].isna().all()
    # Thinning only skips the evaluation: play and the evaluated rows are unchanged.
    cols = ["regret_leader", "regret_follower"]
    pd.testing.assert_frame_equal(thin.loc[evaluated, cols], full.loc[evaluated, cols])
    same = ["x1", "a1", "return_leader", "return_follower"]
    pd.testing.assert_frame_equal(thin[same], full[same])
    cum = cumulative_regret(thin)
    assert cum["episodes"].tolist() == [4, 8, 10]
    w = np.array([4, 4, 2])
    assert cum["leader"].iloc[-1] == pytest.approx(w @ full["regret_leader"][[0, 4, 8]])


@pytest.mark.parametrize(
    "change",
    [
        {"episodes": 0},
        {"episodes": -3},
        {"episodes": 2.5},
        {"eval_every": 0},
        {"seeds": 0},
        {"seed": -1},
        {"seed": 2**63 - 1, "seeds": 2},  # seed + seeds - 1 does not fit int64
        {"agent_kw": {"beta": "lots"}},
        {"agent_kw": {"kind": "psychic"}},
        {"agent_kw": {"alpha_l": "hot"}},
        {"agent_kw": {"extra": {"note": object()}}},  # a value JSON cannot hold
        {"agent_kw": {"extra": {"note": math.nan}}},
    ],
)
def test_bad_config_raises_before_anything_is_written(tmp_path, change):
    change = dict(change)
    agent_kw = change.pop("agent_kw", None)
    with pytest.raises(ValueError):
        if agent_kw is not None:
            change["agent"] = AgentConfig(**agent_kw)
        run_seeds(tiny_config(**change), tmp_path / "run", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_config_mutated_into_a_bad_one_is_refused_before_anything_is_written(tmp_path):
    config = tiny_config()
    config.seed = 2**63 - 1
    config.seeds = 3
    with pytest.raises(ValueError, match="64-bit"):
        run_seeds(config, tmp_path / "run", workers=1, progress=False)
    config = tiny_config()
    config.agent.extra["when"] = object()
    with pytest.raises(ValueError, match="agent.extra.when"):
        run_seeds(config, tmp_path / "run", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_unknown_game_or_parameter_raises_on_construction():
    with pytest.raises(ValueError, match="unknown game"):
        GameSpec(name="no-such-game")
    with pytest.raises(ValueError, match="no parameter 'dim'"):
        GameSpec("random-tabular", {"dim": 3})  # d = |S||A||B| for a tabular game
    with pytest.raises(ValueError, match="n_states must be an integer"):
        GameSpec("random-linear", {"n_states": "many"})


def test_game_spec_takes_any_parameter_of_the_game():
    spec = GameSpec("random-linear", {"reward_noise": 0.1})
    game = spec.make()
    assert game.reward_noise == 0.1
    assert game.provenance["params"]["reward_noise"] == 0.1
    assert spec.resolved() == game.provenance["params"]


def test_unknown_game_raises_before_anything_is_written(tmp_path):
    config = tiny_config()
    config.game = copy.copy(TINY)
    config.game.name = "no-such-game"  # mutated after construction: run_seeds checks again
    with pytest.raises(ValueError, match="unknown game"):
        run_seeds(config, tmp_path / "run", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------- run folders
def test_manifest_records_configuration_parameters_and_versions(tmp_path):
    agent = AgentConfig(beta="theory", c1=0.01, alpha_l="fixed-K", alpha_f=math.inf, lam=2.0)
    config = tiny_config(agent=agent, episodes=16, seeds=2, seed=4)
    run_seeds(config, tmp_path / "run", workers=1, progress=False)
    df, m = load_run(tmp_path / "run")
    assert m["config"]["episodes"] == 16 and m["episodes"] == 16
    assert m["config"]["seed"] == 4 and m["seeds"] == [4, 5]
    assert m["config"]["game"] == {
        "name": "random-linear",
        "file": None,
        "sha256": None,
        "params": {
            "n_states": 5,
            "n_leader_actions": 2,
            "n_follower_actions": 2,
            "dim": 3,
            "horizon": 2,
        },
    }
    assert m["config"]["agent"]["beta"] == "theory" and m["config"]["agent"]["c1"] == 0.01
    r = m["resolved"]
    # The resolved numbers are the ones the agents used (the table's columns).
    assert r["beta"] == pytest.approx(df["beta"].iloc[0]) and r["beta"] > 0
    assert r["lam"] == 2.0 == df["lam"].iloc[0]
    assert r["alpha_l"] == pytest.approx(math.log(2) * math.sqrt(16) / 2)
    assert r["alpha_l"] == pytest.approx(df["alpha_l"].iloc[0])
    assert r["alpha_f"] == "inf" and m["config"]["agent"]["alpha_f"] == "inf"
    assert np.isinf(df["alpha_f"]).all()
    assert set(m["versions"]) >= {"stackelberg_rl", "python", "numpy", "pandas"}
    assert m["versions"]["numpy"] == np.__version__
    assert "git_commit" in m and (m["git_commit"] is None or len(m["git_commit"]) == 40)
    assert m["started"] <= m["finished"]
    assert m["format"] == "stackelberg-rl/run" and m["format_version"] == 1
    assert m["status"] == "complete"
    # The game played: its registry name, every parameter and the hash of its arrays.
    game = TINY.make()
    assert m["game"]["sha256"] == game.fingerprint()
    assert m["game"]["registered"] == {"name": "random-linear", "params": TINY.resolved()}
    # The manifest is enough to re-create the configuration.
    again = RunConfig.from_dict(m["config"])
    assert again.agent.alpha_f == math.inf and again.episodes == 16 and again.game == TINY


def test_anytime_alpha_is_recorded_by_its_first_and_last_value(tmp_path):
    config = tiny_config(agent=AgentConfig(alpha_l="anytime"), episodes=9)
    df = run_seeds(config, tmp_path / "run", workers=1, progress=False)
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["resolved"]["alpha_l"]["schedule"] == "anytime"
    assert m["resolved"]["alpha_l"]["last"] == pytest.approx(math.log(2) * 3 / 2)
    assert df["alpha_l"].iloc[-1] == pytest.approx(math.log(2) * 3 / 2)


def test_a_failing_run_leaves_nothing_half_written(tmp_path, monkeypatch):
    calls = []

    def failing_run(game, config, seed, progress=None, **checkpoints):
        calls.append(seed)
        if len(calls) == 2:
            raise RuntimeError("worker died")
        return play(game, config, seed, progress, **checkpoints)

    monkeypatch.setattr(experiments.driver, "play", failing_run)
    with pytest.raises(RuntimeError, match="worker died"):
        run_seeds(tiny_config(seeds=3), tmp_path / "runs" / "run", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []  # the run folder and the parent it made are gone


# ---------------------------------------------------------------------- report
def synthetic(regrets: dict[int, list[float]]) -> pd.DataFrame:
    rows = []
    for seed, values in regrets.items():
        for k, v in enumerate(values):
            rows.append(
                {
                    "seed": seed,
                    "episode": k,
                    "regret_leader": v,
                    "regret_follower": 2 * v,
                    "eval_weight": 1,
                }
            )
    return pd.DataFrame(rows)


def test_summary_is_the_t_interval_of_the_cumulative_regret():
    df = synthetic({0: [1.0, 1.0, 0.0, 0.0], 1: [2.0, 1.0, 1.0, 0.0], 2: [3.0, 0.0, 0.0, 0.0]})
    s = summary(df).set_index("player")
    totals = np.array([2.0, 4.0, 3.0])
    hw = stats.t.ppf(0.975, 2) * totals.std(ddof=1) / math.sqrt(3)
    assert s.loc["leader", "mean"] == pytest.approx(3.0)
    assert s.loc["leader", "half_width"] == pytest.approx(hw)
    assert s.loc["leader", "low"] == pytest.approx(3.0 - hw)
    assert s.loc["follower", "mean"] == pytest.approx(6.0)
    assert s.loc["leader", "K"] == 4 and s.loc["leader", "seeds"] == 3
    learn = learning_summary(df).set_index("player")
    assert learn.loc["leader", "first_quarter"] == pytest.approx(2.0)
    assert learn.loc["leader", "last_quarter"] == pytest.approx(0.0)


def test_learning_summary_weighs_an_evaluated_episode_by_the_episodes_it_stands_for():
    # Evaluated every 5 of K = 12 (weights 5, 5, 2): the quarters are episodes 0-2 and 9-11; row 5
    # stands for 5-9 (one episode in the last quarter), row 10 for 10-11 (two).
    nan = float("nan")
    df = synthetic({0: [3.0, nan, nan, nan, nan, 2.0, nan, nan, nan, nan, 1.0, nan]})
    df["eval_weight"] = [5, 0, 0, 0, 0, 5, 0, 0, 0, 0, 2, 0]
    learn = learning_summary(df).set_index("player")
    assert learn.loc["leader", "first_quarter"] == pytest.approx(3.0)
    assert learn.loc["leader", "last_quarter"] == pytest.approx((2.0 * 1 + 1.0 * 2) / 3)
    # Evaluated every 4 of K = 8: no evaluated row in the last quarter (6-7), row 4 stands for it.
    df = synthetic({0: [2.0, nan, nan, nan, 0.5, nan, nan, nan]})
    df["eval_weight"] = [4, 0, 0, 0, 4, 0, 0, 0]
    learn = learning_summary(df).set_index("player")
    assert learn.loc["follower", "last_quarter"] == pytest.approx(1.0)
    assert learn.loc["leader", "ratio"] == pytest.approx(0.25)


def test_summary_of_one_seed_has_no_interval():
    s = summary(synthetic({0: [1.0, 0.5]}))
    assert s["mean"].tolist() == [1.5, 3.0] and s["half_width"].isna().all()


def test_binned_regret_averages_windows_of_episodes():
    df = synthetic({0: [4.0, 2.0, 1.0, 1.0, 0.0, 0.0]})
    b = binned_regret(df, bins=3)
    assert b["leader"].tolist() == [3.0, 1.0, 0.0]
    assert b["episode"].tolist() == [0.5, 2.5, 4.5]


# ---------------------------------------------------------------------- does it learn
def test_random_linear_game_spec_builds_the_same_game():
    a, b = TINY.make(), random_linear(5, 2, 2, 3, 2, seed=0)
    assert np.array_equal(a.features, b.features)
