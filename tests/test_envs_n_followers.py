"""The environments with a leader and N > 1 followers moving in order (SPEC §7).

PettingZoo's, OpenSpiel's and Gymnasium's own tests for N = 2 and 3; what each player observes;
every step's rewards read from ``game.reward(h)`` here; returns against exact planning (OpenSpiel's
tree walk exactly, the environments' episodes by Monte-Carlo within standard errors); each
Gymnasium view's best return against ``planning.best_response`` by brute force.
"""

import functools
import itertools
import types
import warnings

import gymnasium
import numpy as np
import pyspiel
import pytest
from gymnasium.utils.env_checker import check_env
from helpers import unexpected_api_warnings
from open_spiel.python.algorithms import expected_game_score
from pettingzoo.test import (
    max_cycles_test,
    parallel_api_test,
    parallel_seed_test,
    seed_test,
)

from stackelberg_rl import games, planning
from stackelberg_rl.envs import openspiel as osp
from stackelberg_rl.envs import pettingzoo as pz
from stackelberg_rl.envs.gymnasium import PLAYER_ENV_ID, FollowerEnv, LeaderEnv, PlayerEnv


def noisy_game(n_followers, horizon=3, seed=2):
    return games.make(
        "random-linear",
        n_followers=n_followers,
        n_states=4,
        n_leader_actions=2,
        n_follower_actions=2,
        horizon=horizon,
        reward_noise=0.3,
        seed=seed,
    )


def random_profile(game, seed):
    """A stochastic ``pi_i (H, S, A_0, …, A_i)`` for every player."""
    rng = np.random.default_rng(seed)
    H, S, counts = game.horizon, game.n_states, game.action_counts
    return [rng.dirichlet(np.ones(counts[i]), size=(H, S, *counts[:i])) for i in range(len(counts))]


# ---------------------------------------------------------------------- PettingZoo
@pytest.mark.parametrize("n_followers", [2, 3])
def test_pettingzoos_api_seed_and_max_cycles_tests(n_followers):
    game = noisy_game(n_followers, horizon=6)
    assert unexpected_api_warnings(pz.env(game, render_mode="ansi")) == []
    seed_test(functools.partial(pz.env, game), num_cycles=50)
    # max_cycles=4 against a horizon of 6: the episodes end by truncation after exactly 4 steps.
    max_cycles_test(
        types.SimpleNamespace(
            env=functools.partial(pz.env, game),
            parallel_env=functools.partial(pz.parallel_env, game),
        )
    )
    parallel_api_test(pz.parallel_env(game), num_cycles=200)
    parallel_seed_test(functools.partial(pz.parallel_env, game), num_cycles=50)


def test_agents_act_in_order_each_seeing_the_actions_before_it_and_are_paid_the_games_rewards():
    # No noise: each step pays r_{m,h}(x, a_0, a_1, a_2) read from game.reward(h) here, credited
    # to each agent at its next turn (or its last one).
    game = games.make("random-tabular", n_followers=2, n_states=3, horizon=4, seed=5)
    counts = game.action_counts
    aec = pz.raw_env(game)
    assert aec.possible_agents == ["leader", "follower_1", "follower_2"]
    assert aec.observation_space("follower_2").nvec.tolist() == [5, 3, counts[0] + 1, counts[1] + 1]
    aec.reset(seed=3)
    actions = np.random.default_rng(4)
    paid = {agent: [] for agent in aec.possible_agents}
    expected, step, returns = [], [], np.zeros(3)
    for agent in aec.agent_iter():
        observation, reward, terminated, truncated, _ = aec.last()
        paid[agent].append(reward)
        h, x, *seen = observation.tolist()
        i = aec.possible_agents.index(agent)
        if terminated:
            assert h == game.horizon and seen == list(counts[:2])
            aec.step(None)
            continue
        assert seen == step + list(counts[len(step) : 2])  # the actions before it, A_j after
        action = int(actions.integers(counts[i]))
        step.append(action)
        if i == 2:
            r = game.reward(h)[(slice(None), x, *step)]
            expected.append(r)
            returns += r
            step = []
        aec.step(action)
    assert not truncated
    for i, agent in enumerate(aec.possible_agents):
        # each agent's first turn pays nothing; then the step before its turn, the last one at
        # its final turn
        np.testing.assert_allclose(paid[agent][1:], [r[i] for r in expected], rtol=0, atol=0)
        np.testing.assert_allclose(sum(paid[agent]), returns[i], atol=1e-12)


def test_parallel_play_equals_aec_play_with_the_same_seed():
    game = noisy_game(2, horizon=5)
    aec, par = pz.raw_env(game), pz.parallel_env(game)
    aec.reset(seed=11)
    observations, _ = par.reset(seed=11)
    actions = np.random.default_rng(5)
    A0, A1, A2 = game.action_counts
    assert par.action_space("follower_2").shape == (A0, A1)
    for _ in range(game.horizon):
        assert observations["follower_2"].tolist() == aec.observe("leader")[:2].tolist()
        a = [int(actions.integers(n)) for n in game.action_counts]
        for action in a:
            aec.step(action)
        replies_1 = actions.integers(A1, size=A0)
        replies_2 = actions.integers(A2, size=(A0, A1))
        replies_1[a[0]], replies_2[a[0], a[1]] = a[1], a[2]
        observations, rewards, terminated, truncated, infos = par.step(
            {"leader": a[0], "follower_1": replies_1, "follower_2": replies_2}
        )
        assert rewards == aec.rewards
        assert infos["leader"] == {
            "leader_action": a[0],
            "follower_1_action": a[1],
            "follower_2_action": a[2],
        }
    assert all(terminated.values()) and not any(truncated.values()) and par.agents == []


def test_the_stackelberg_policies_earn_their_planned_values_in_the_aec_environment():
    # Every agent plays its part of the Stackelberg solution (deterministic) and, for a second
    # profile, a random stochastic table, drawn here; rewards are noisy. Each player's mean
    # return over 2000 seeded episodes must be within 5 standard errors of planning.evaluate's
    # E_{x_0}[V_{m,0}(x_0)]: a failure has probability below 1e-6 per player (normal
    # approximation of returns in [-3, 3]). Actions are drawn as Generator.choice(n, p=row)
    # draws them (its normalised cumulative sums searched for one uniform), the same actions
    # without choice's checks of p at each of the 36,000 moves.
    game = games.make("random-tabular", n_followers=2, n_states=3, reward_noise=0.3, seed=6)
    *stackelberg, _ = planning.stackelberg_equilibrium(game)
    for profile in (stackelberg, random_profile(game, 7)):
        expected = planning.evaluate(game, *profile).V[:, 0] @ game.initial_distribution
        cdfs = [np.cumsum(pi, axis=-1) for pi in profile]
        cdfs = [cdf / cdf[..., -1:] for cdf in cdfs]
        aec = pz.env(game)
        draws = np.random.default_rng(8)
        episodes = 2000
        returns = np.zeros((episodes, 3))
        for k in range(episodes):
            aec.reset(seed=100 + k)
            for agent in aec.agent_iter():
                observation, reward, terminated, truncated, _ = aec.last()
                i = aec.possible_agents.index(agent)
                returns[k, i] += reward
                if terminated or truncated:
                    aec.step(None)
                    continue
                h, x, *seen = observation.tolist()
                cdf = cdfs[i][(h, x, *seen[:i])]
                aec.step(int(cdf.searchsorted(draws.random(), side="right")))
        mean, se = returns.mean(axis=0), returns.std(axis=0, ddof=1) / np.sqrt(episodes)
        assert (np.abs(mean - expected) < 5 * se).all(), (mean, expected, se)


def test_rendering_names_every_players_action_and_reward():
    game = games.make("random-tabular", n_followers=2, n_states=2, horizon=2, seed=0)
    aec = pz.env(game, render_mode="ansi")
    aec.reset(seed=0)
    x = aec.unwrapped._x
    assert aec.render() == f"step 0 (H=2): x={x}, the leader to move\n"
    aec.step(1)
    aec.step(0)
    assert aec.render() == f"step 0 (H=2): x={x} a=1 b=0, follower 2 to move\n"
    aec.step(2)
    r = game.reward(0)[:, x, 1, 0, 2]
    first, second = aec.render().splitlines()
    assert first.startswith(
        f"step 0: x={x} a=1 b=0 c=2 -> r_0={r[0]:+.4f} r_1={r[1]:+.4f} r_2={r[2]:+.4f}, x'="
    )
    assert second.endswith("the leader to move")
    par = pz.parallel_env(game, render_mode="ansi")
    par.reset(seed=0)
    assert "all players to move" in par.render()


def test_parallel_refusals_name_the_follower_and_the_shape():
    game = noisy_game(2)
    par = pz.parallel_env(game)
    par.reset(seed=0)
    with pytest.raises(
        ValueError,
        match=r"follower_2's action must be an integer array of shape \(2, 2\) \(a reply to each "
        r"\(leader, follower_1\) actions\)",
    ):
        par.step({"leader": 0, "follower_1": [0, 1], "follower_2": [0, 1]})
    with pytest.raises(ValueError, match=r"follower_1's replies must be in \[0, 2\), got \[0, 2\]"):
        par.step({"leader": 0, "follower_1": [0, 2], "follower_2": [[0, 1], [1, 0]]})
    with pytest.raises(ValueError, match="no action for follower_2"):
        par.step({"leader": 0, "follower_1": [0, 1]})


# ---------------------------------------------------------------------- OpenSpiel
def test_openspiels_random_sim_test_and_game_strings():
    for n_followers in (2, 3):
        game = noisy_game(n_followers)
        spiel_game = osp.make(game)
        assert spiel_game.num_players() == 1 + n_followers
        assert spiel_game.max_game_length() == (1 + n_followers) * game.horizon
        pyspiel.random_sim_test(spiel_game, num_sims=5, serialize=True, verbose=False)
        loaded = pyspiel.load_game(str(spiel_game))  # by registered name and parameters
        assert "n_followers" in str(spiel_game)
        assert loaded.finite_game.fingerprint() == game.fingerprint()
    unregistered = games.random_tabular(2, 2, 3, 2, seed=1, n_followers=2)
    pyspiel.random_sim_test(osp.make(unregistered), num_sims=5, serialize=True, verbose=False)


def tree_values(state, best=None, tol=1e-9):
    """Every player's values from ``state``, a plain walk of OpenSpiel's tree: player ``i`` at
    its node takes the action best for itself (ties to the lowest index) when ``best`` is
    ``None``, else follows ``best``'s table."""
    if state.is_terminal():
        return np.array(state.returns())
    if state.is_chance_node():
        return sum(p * tree_values(state.child(x), best, tol) for x, p in state.chance_outcomes())
    player = state.current_player()
    children = [tree_values(state.child(a), best, tol) for a in state.legal_actions()]
    if best is None:
        top = max(v[player] for v in children)
        return next(v for v in children if v[player] >= top - tol)
    row = best.action_probabilities(state)
    return sum(row[a] * v for a, v in enumerate(children))


@pytest.mark.parametrize("n_followers", [2, 3])
def test_openspiels_tree_walk_gives_the_planners_values(n_followers):
    # The chance nodes' P_h(·|x, a_0, …, a_N) and the last move's rewards against planning's
    # backward induction: OpenSpiel's expected_game_score under random tables, and our tree walk
    # of each player answering the actions it has seen (SPEC §7's Stackelberg solution, whose
    # random game has no ties). Exact sums of the same products: 1e-12.
    game = games.make(
        "random-linear", n_followers=n_followers, n_states=3, n_leader_actions=2,
        n_follower_actions=2, horizon=2, seed=3,
    )  # fmt: skip
    spiel_game = osp.make(game)
    profile = random_profile(game, 0)
    policy = osp.TablePolicy(spiel_game, *profile)
    values = expected_game_score.policy_value(
        spiel_game.new_initial_state(), [policy] * game.n_players
    )
    expected = planning.evaluate(game, *profile).V[:, 0] @ game.initial_distribution
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tree_values(spiel_game.new_initial_state(), policy), expected)
    *_, solution = planning.stackelberg_equilibrium(game)
    np.testing.assert_allclose(
        tree_values(spiel_game.new_initial_state()),
        solution.V[:, 0] @ game.initial_distribution,
        rtol=0,
        atol=1e-12,
    )


def test_openspiel_observations_and_information_states():
    game = games.make("random-tabular", n_followers=2, n_states=3, horizon=2, seed=1)
    spiel_game = osp.make(game)
    state = spiel_game.new_initial_state()
    assert state.observation_string(0) == "h=0" and str(state) == "x0=?"
    state.apply_action(state.chance_outcomes()[0][0])
    x = state.x
    state.apply_action(2)  # the leader
    state.apply_action(1)  # follower 1
    assert state.current_player() == 2
    assert state.observation_string(2) == f"h=0 x={x} a=2 b=1"
    assert state.information_state_string(0) == f"x0={x} a0=2 b0=1"
    observer = spiel_game.make_py_observer()
    assert list(observer.dict) == ["step", "state", "leader_action", "follower_1_action"]
    observer.set_from(state, 2)
    assert observer.dict["leader_action"].argmax() == 2
    assert observer.dict["follower_1_action"].tolist() == [0, 1, 0]
    state.apply_action(0)  # follower 2: every player paid
    np.testing.assert_allclose(state.rewards(), game.reward(0)[:, x, 2, 1, 0], rtol=0, atol=0)
    assert state.is_chance_node() and str(state) == f"x0={x} a0=2 b0=1 c0=0"
    info_state = spiel_game.make_py_observer(pyspiel.IIGObservationType(perfect_recall=True))
    info_state.set_from(state, 0)
    assert info_state.dict["follower_2_actions"][0].tolist() == [1, 0, 0]
    with pytest.raises(ValueError, match="the game has 3 players: give 3 policies, got 2"):
        osp.TablePolicy(spiel_game, *random_profile(game, 0)[:2])


# ---------------------------------------------------------------------- Gymnasium
@pytest.mark.parametrize("player", [0, 1, 2])
@pytest.mark.parametrize("render_mode", [None, "ansi"])
def test_check_env_for_every_player_without_a_warning(player, render_mode):
    game = noisy_game(2)
    policies = random_profile(game, 0)
    policies[player] = None
    env = gymnasium.make(
        PLAYER_ENV_ID, game=game, player=player, policies=policies, render_mode=render_mode
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (2 + player,)  # [h, x, a_0, …, a_{m-1}]


def deterministic_game(n_followers, horizon, seed):
    """Two states, two actions each, one-hot transitions and a fixed ``x_0``: against
    deterministic policies an episode's return is exact."""
    rng = np.random.default_rng(seed)
    counts = (2,) * (1 + n_followers)
    P = np.eye(2)[rng.integers(2, size=(horizon, 2, *counts))]
    R = rng.uniform(-1, 1, size=(1 + n_followers, horizon, 2, *counts))
    return games.tabular(P, R, initial_distribution=np.array([1.0, 0.0]))


class Deterministic:
    """A player object playing a one-hot table, asked through ``act(h, x, *earlier)``."""

    def __init__(self, table):
        self.table = table

    def act(self, h, x, *earlier):
        return int(self.table[(h, x, *earlier)].argmax())


def walk(game, tables, player, sequence):
    """The return of ``player`` playing ``sequence`` against one-hot ``tables``, step by step
    through the game's arrays (one-hot ``P``, a fixed ``x_0 = 0``)."""
    P = np.stack([game.transition(h) for h in range(game.horizon)])
    x, total = 0, 0.0
    for h, mine in enumerate(sequence):
        played = []
        for i, table in enumerate(tables):
            played.append(mine if i == player else int(table[(h, x, *played)].argmax()))
        total += game.reward(h)[(player, x, *played)]
        x = int(P[(h, x, *played)].argmax())
    return total


@pytest.mark.parametrize("player", [0, 1, 2])
def test_each_players_best_return_in_its_view_is_its_best_response_value(player):
    # Everything is deterministic (game, x_0 and the others' Stackelberg tables, one of them a
    # player object), so an episode is fixed by player m's actions at its H turns: every one of
    # the A_m^H sequences earns in the env what a walk through the arrays gives, and the best
    # of them, the best return of any policy, is best_response's value.
    game = deterministic_game(2, horizon=3, seed=player)
    *others, _ = planning.stackelberg_equilibrium(game)
    fixed = list(others)
    fixed[player] = None
    fixed[(player + 1) % 3] = Deterministic(others[(player + 1) % 3])
    env = PlayerEnv(game, player, fixed)
    returns = []
    for sequence in itertools.product(range(2), repeat=game.horizon):
        env.reset(seed=0)
        returns.append(sum(env.step(a)[1] for a in sequence))
        assert returns[-1] == pytest.approx(walk(game, others, player, sequence), abs=1e-12)
    best, values = planning.best_response(game, player, others)
    assert max(returns) == pytest.approx(values.V[player, 0, 0], abs=1e-12)
    assert len(set(np.round(returns, 12))) > 1  # the sequences differ in what they earn
    # and the planner's response earns it in the environment
    observation, _ = env.reset(seed=0)
    total, done = 0.0, False
    while not done:
        h, x, *seen = observation.tolist()
        observation, reward, done, _, _ = env.step(int(best[(h, x, *seen)].argmax()))
        total += reward
    assert total == pytest.approx(max(returns), abs=1e-12)


def test_best_responses_to_stochastic_players_earn_their_values_in_each_view():
    # The others play random stochastic tables, rewards are noisy: the best response's mean
    # return over 3000 episodes within 5 standard errors of its value E_{x_0}[V_{m,0}(x_0)]
    # (a failure has probability below 1e-6 per player, as above).
    game = games.make("random-tabular", n_followers=2, n_states=3, reward_noise=0.3, seed=9)
    profile = random_profile(game, 10)
    for player in range(game.n_players):
        best, values = planning.best_response(game, player, profile)
        env = PlayerEnv(game, player, profile)
        env.reset(seed=player)
        returns = np.empty(3000)
        for k in range(len(returns)):
            observation, _ = env.reset()
            total, done = 0.0, False
            while not done:
                h, x, *seen = observation.tolist()
                observation, reward, done, _, info = env.step(int(best[(h, x, *seen)].argmax()))
                total += reward
            returns[k] = total
        expected = values.V[player, 0] @ game.initial_distribution
        se = returns.std(ddof=1) / np.sqrt(len(returns))
        assert abs(returns.mean() - expected) < 5 * se
        others = set(env.players) - {env.players[player]}
        assert set(info) == {f"{o}_{what}" for o in others for what in ("action", "reward")}


def test_the_views_are_determined_by_the_seed_and_a_name_stands_for_every_other_player():
    game = noisy_game(2)

    def trajectory(env, seed):
        env.reset(seed=seed)
        steps, actions = [], np.random.default_rng(0)
        for _ in range(3):
            observation, _ = env.reset()
            done = False
            while not done:
                action = int(actions.integers(env.action_space.n))
                observation, reward, done, _, info = env.step(action)
                steps.append((tuple(observation), reward, tuple(sorted(info.items()))))
        return steps

    first = trajectory(PlayerEnv(game, 1, "uniform"), 1)
    assert trajectory(PlayerEnv(game, 1, "uniform"), 1) == first
    assert trajectory(PlayerEnv(game, 1, "uniform"), 2) != first
    *solution, _ = planning.stackelberg_equilibrium(game)
    named = PlayerEnv(game, 2, "stackelberg")
    assert all(np.array_equal(t, s) for t, s in zip(named._tables[:2], solution[:2], strict=True))
    leader = LeaderEnv(game, "uniform")  # a name alone: both followers uniform
    assert leader.observation_space.nvec.tolist() == [4, 4]


def test_policies_of_the_wrong_number_of_players_or_axes_are_refused_in_one_line():
    game = noisy_game(2)
    profile = random_profile(game, 0)
    refusals = [
        (lambda: PlayerEnv(game, 0, profile[:2]), "one policy per player \\(3 in this game"),
        (lambda: LeaderEnv(game, profile[1]), "for a game of two players, this one has 3: "),
        (lambda: FollowerEnv(game, profile[0]), "use stackelberg_rl/PlayerEnv-v0 with policies"),
        (lambda: PlayerEnv(game, 0, profile[2]), "a list of one policy per player"),
        (lambda: PlayerEnv(game, 3), "player must be an integer in \\[0, 3\\), got 3"),
        (
            lambda: PlayerEnv(game, 0, [None, profile[1], profile[1]]),
            "pi_2 has shape \\(3, 4, 2, 2\\), expected \\(3, 4, 2, 2, 2\\)",
        ),
        (lambda: PlayerEnv(game, 1, [profile[0], None, "greedy"]), "follower_2's policy must"),
        (lambda: osp.TablePolicy(osp.make(game), profile[0], profile[1]), "give 3 policies"),
    ]
    for attempt, message in refusals:
        with pytest.raises(ValueError, match=message) as caught:
            attempt()
        assert "\n" not in str(caught.value)
    env = PlayerEnv(game, 2, "uniform")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"follower_2's action must be an integer in \[0, 2\)"):
        env.step(2)
