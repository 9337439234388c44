"""The PettingZoo environments: PettingZoo's own tests, whole-trajectory determinism, and the
rewards of every step checked against the game."""

import functools
import types

import numpy as np
import pytest
from helpers import unexpected_api_warnings
from pettingzoo.test import (
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    render_test,
    seed_test,
)

from stackelberg_rl import games
from stackelberg_rl.envs import pettingzoo as pz


def noisy_game(horizon=3):
    return games.make("random-linear", n_states=4, horizon=horizon, reward_noise=0.3, seed=2)


GAMES = {
    "random-linear-noisy": lambda: noisy_game(),
    "matrix": lambda: games.make("matrix", preset="battle-of-the-sexes", horizon=2),
    "security": lambda: games.make("security", horizon=3),
}


@pytest.mark.parametrize("name", sorted(GAMES))
def test_api_test(name):
    assert unexpected_api_warnings(pz.env(GAMES[name](), render_mode="ansi")) == []


def test_seed_test():
    seed_test(functools.partial(pz.env, noisy_game()), num_cycles=50)


def test_max_cycles_test_truncates_before_the_horizon():
    # max_cycles_test builds both environments with max_cycles=4: the horizon is longer, so the
    # episodes end by truncation after exactly 4 steps.
    game = noisy_game(horizon=6)
    module = types.SimpleNamespace(
        env=functools.partial(pz.env, game), parallel_env=functools.partial(pz.parallel_env, game)
    )
    max_cycles_test(module)


def test_parallel_api_and_seed_tests():
    game = noisy_game()
    parallel_api_test(pz.parallel_env(game), num_cycles=200)
    parallel_seed_test(functools.partial(pz.parallel_env, game), num_cycles=50)


def play_aec(aec, seed, action_seed, episodes=4):
    """Whole trajectories: every (agent, observation, reward, terminated, truncated, action)."""
    actions = np.random.default_rng(action_seed)
    trajectory = []
    for episode in range(episodes):
        aec.reset(seed=seed if episode == 0 else None)  # later episodes go on with the stream
        for agent in aec.agent_iter():
            observation, reward, terminated, truncated, info = aec.last()
            if terminated or truncated:
                action = None
            else:
                action = int(actions.integers(len(info["action_mask"])))
            trajectory.append((agent, tuple(observation), reward, terminated, truncated, action))
            aec.step(action)
    return trajectory


def test_whole_trajectories_are_determined_by_the_seed():
    game = noisy_game(horizon=5)
    first = play_aec(pz.env(game), seed=7, action_seed=0)
    assert len(first) == 4 * 2 * (5 + 1)  # two turns per step and one last turn each
    assert play_aec(pz.env(game), seed=7, action_seed=0) == first
    assert play_aec(pz.env(game), seed=8, action_seed=0) != first
    # The environment's stream alone changes the trajectory (same actions, other seed).
    rewards = [step[2] for step in first]
    assert [step[2] for step in play_aec(pz.env(game), seed=8, action_seed=0)] != rewards


def test_each_step_pays_the_games_rewards_when_the_follower_has_acted():
    game = games.make("random-linear", n_states=5, horizon=4, seed=3)  # no noise: mean rewards
    aec = pz.raw_env(game)
    aec.reset(seed=1)
    actions = np.random.default_rng(2)
    returns = {"leader": 0.0, "follower": 0.0}
    expected = np.zeros(2)
    position = continue_from = None
    for agent in aec.agent_iter():
        observation, reward, terminated, truncated, _ = aec.last()
        returns[agent] += reward
        h, x, a = observation.tolist()
        if agent == "leader":
            assert a == game.n_leader_actions  # not chosen yet
            if position is not None:  # the step just completed: (h-1, x, a, b) paid both
                assert h == position[0] + 1
                np.testing.assert_allclose(reward, game.reward_at(*position)[0], rtol=0, atol=0)
            action = None if terminated else int(actions.integers(game.n_leader_actions))
            leader_action = action
            continue_from = position
        elif terminated:
            action = None
        else:
            assert a == leader_action  # the follower sees the leader's action
            action = int(actions.integers(game.n_follower_actions))
            position = (h, x, a, action)
            expected += game.reward_at(*position)
        if agent == "follower" and continue_from is not None:  # paid at its previous turn
            np.testing.assert_allclose(reward, game.reward_at(*continue_from)[1], rtol=0, atol=0)
        aec.step(action)
    assert h == game.horizon and terminated and not truncated
    np.testing.assert_allclose([returns["leader"], returns["follower"]], expected, atol=1e-12)


def test_parallel_play_equals_aec_play_with_the_same_seed():
    # The follower's replies hold the AEC follower's action at the leader's action: the same
    # draws from the same stream give the same states and rewards.
    game = noisy_game(horizon=5)
    aec, par = pz.raw_env(game), pz.parallel_env(game)
    aec.reset(seed=11)
    observations, _ = par.reset(seed=11)
    actions = np.random.default_rng(5)
    A, B = game.n_leader_actions, game.n_follower_actions
    for h in range(game.horizon):
        assert observations["leader"].tolist() == aec.observe("leader")[:2].tolist()
        assert observations["leader"][0] == h
        a, b = int(actions.integers(A)), int(actions.integers(B))
        aec.step(a)
        aec.step(b)
        replies = actions.integers(B, size=A)
        replies[a] = b
        observations, rewards, terminated, truncated, infos = par.step(
            {"leader": a, "follower": replies}
        )
        assert rewards == aec.rewards
        assert infos["follower"] == {"leader_action": a, "follower_action": b}
    assert all(terminated.values()) and not any(truncated.values()) and par.agents == []
    assert all(aec.terminations.values())


def test_rendering():
    game = games.make("matrix", horizon=2)
    aec = pz.env(game, render_mode="ansi")
    aec.reset(seed=0)
    assert aec.render() == "step 0 (H=2): x=0, the leader to move\n"
    aec.step(1)
    assert aec.render() == "step 0 (H=2): x=0 a=1, the follower to move\n"
    aec.step(1)
    assert aec.render().splitlines() == [
        "step 0: x=0 a=1 b=1 -> r_l=+0.7500 r_f=+0.2500, x'=0",
        "step 1 (H=2): x=0, the leader to move",
    ]
    silent = pz.raw_env(game)
    silent.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert silent.render() is None
    par = pz.parallel_env(noisy_game(horizon=3), render_mode="ansi", max_cycles=1)
    par.reset(seed=0)
    assert "both players to move" in par.render()
    par.step({"leader": 0, "follower": np.zeros(3, dtype=np.int64)})
    assert par.render().splitlines()[-1].startswith("episode truncated after 1 of 3 steps")


def test_render_test_and_the_human_mode_printing_the_ansi_text(capsys):
    game = games.make("security", horizon=3)
    render_test(lambda render_mode=None: pz.env(game, render_mode=render_mode))  # refused human
    for make in (pz.env, pz.parallel_env):
        assert "human" in make(game).metadata["render_modes"]
        shown, printed = make(game, render_mode="ansi"), make(game, render_mode="human")
        shown.reset(seed=0)
        printed.reset(seed=0)
        capsys.readouterr()
        assert printed.render() is None
        assert capsys.readouterr().out == shown.render()


def test_a_registered_game_by_name():
    aec = pz.raw_env("security", game_params={"horizon": 2, "n_targets": 3})
    assert aec.game.horizon == 2 and aec.action_space("follower").n == 4  # 3 targets or wait
    assert aec.observation_space("leader") == aec.observation_space("follower")


def test_refusals_name_the_problem():
    game = games.make("matrix")
    aec = pz.raw_env(game)
    aec.reset(seed=0)
    with pytest.raises(ValueError, match="leader's action must be an integer in \\[0, 2\\), got 2"):
        aec.step(2)
    with pytest.raises(ValueError, match="leader's action must be an integer"):
        aec.step(0.5)
    aec.step(np.int32(1))  # any integer type
    aec.step(np.array(0))
    for query in (aec.observe, aec.action_space, aec.observation_space):  # a KeyError before
        with pytest.raises(ValueError, match="unknown agent 'nobody'; the agents are leader, fo"):
            query("nobody")
    with pytest.raises(ValueError, match="max_cycles must be an integer >= 1, got 0"):
        pz.raw_env(game, max_cycles=0)
    with pytest.raises(ValueError, match="render_mode must be 'ansi', 'human' or None, got 'rgb"):
        pz.env(game, render_mode="rgb_array")
    with pytest.raises(ValueError, match="game_params can only be given with a registered"):
        pz.raw_env(game, game_params={"horizon": 2})
    par = pz.parallel_env(game)
    par.reset(seed=0)
    with pytest.raises(ValueError, match="a reply to each leader action"):
        par.step({"leader": 0, "follower": 1})
    with pytest.raises(ValueError, match="no action for follower"):
        par.step({"leader": 0})
    with pytest.raises(ValueError, match="no agent 'folower'; the agents are leader, follower"):
        par.step({"leader": 0, "follower": [1, 0], "folower": [0, 0]})
    par.step({"leader": 0, "follower": [1, 0]})
    with pytest.raises(RuntimeError, match="call reset"):
        par.step({"leader": 0, "follower": [1, 0]})
