"""The Gymnasium environments: Gymnasium's checker, registration, and each env's returns against
exact planning (Monte-Carlo within standard errors, and exactly on a deterministic game)."""

import itertools
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from stackelberg_rl import games, planning
from stackelberg_rl.agents import TableAgent
from stackelberg_rl.envs.gymnasium import (
    FOLLOWER_ENV_ID,
    LEADER_ENV_ID,
    FollowerEnv,
    LeaderEnv,
    PlayerEnv,
)


def small_game(reward_noise=0.3):
    return games.make("random-linear", n_states=4, horizon=3, reward_noise=reward_noise, seed=4)


def random_tables(game, seed):
    rng = np.random.default_rng(seed)
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    return rng.dirichlet(np.ones(A), size=(H, S)), rng.dirichlet(np.ones(B), size=(H, S, A))


@pytest.mark.parametrize(
    "env_id, kwargs",
    [
        (LEADER_ENV_ID, {"follower_policy": "uniform"}),
        (LEADER_ENV_ID, {"follower_policy": random_tables(small_game(), 0)[1]}),
        (FOLLOWER_ENV_ID, {"leader_policy": "stackelberg"}),
        (FOLLOWER_ENV_ID, {"leader_policy": random_tables(small_game(), 0)[0]}),
    ],
    ids=["leader-uniform", "leader-table", "follower-stackelberg", "follower-table"],
)
@pytest.mark.parametrize("render_mode", [None, "ansi"])
def test_check_env_without_a_warning(env_id, kwargs, render_mode):
    env = gymnasium.make(env_id, game=small_game(), render_mode=render_mode, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_made_by_id_with_the_module_named_and_a_registered_game():
    env = gymnasium.make(
        "stackelberg_rl.envs.gymnasium:stackelberg_rl/FollowerEnv-v0",
        game="security",
        game_params={"horizon": 2},
    )
    observation, info = env.reset(seed=3)
    assert observation.shape == (3,) and info == {}
    assert env.unwrapped.game.horizon == 2


def mean_return(env, episodes, seed):
    """Mean and standard error of the undiscounted return over ``episodes`` episodes."""
    returns = np.empty(episodes)
    env.reset(seed=seed)
    actions = np.random.default_rng(seed)
    for k in range(episodes):
        env.reset()
        total, done = 0.0, False
        while not done:
            _, reward, done, truncated, _ = env.step(int(actions.integers(env.action_space.n)))
            assert not truncated
            total += reward
        returns[k] = total
    return returns.mean(), returns.std(ddof=1) / np.sqrt(episodes)


def test_expected_returns_equal_the_planners_values():
    # The learner in each env plays uniformly (the actions drawn in mean_return); the other player
    # plays a random stochastic table; rewards are noisy. The returns' mean must be within 5
    # standard errors of the exact value E_{x_0}[V_{m,0}(x_0)]: a seed that fails has probability
    # below 1e-6 under the normal approximation (3000 returns in [-3, 3]).
    game = small_game()
    pi_l, pi_f = random_tables(game, 1)
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    uniform_l, uniform_f = np.full((H, S, A), 1 / A), np.full((H, S, A, B), 1 / B)
    x0 = game.initial_distribution
    leader_value = planning.evaluate(game, uniform_l, pi_f).V[0, 0] @ x0
    follower_value = planning.evaluate(game, pi_l, uniform_f).V[1, 0] @ x0
    mean, se = mean_return(LeaderEnv(game, pi_f), 3000, seed=5)
    assert abs(mean - leader_value) < 5 * se
    mean, se = mean_return(FollowerEnv(game, pi_l), 3000, seed=6)
    assert abs(mean - follower_value) < 5 * se


def deterministic_game(horizon, seed):
    """Two states, two actions each, one-hot transitions and a fixed x_0: one episode of
    deterministic policies gives the exact return."""
    rng = np.random.default_rng(seed)
    S, A, B = 2, 2, 2
    P = np.eye(S)[rng.integers(S, size=(horizon, S, A, B))]
    R = rng.uniform(-1, 1, size=(2, horizon, S, A, B))
    return games.tabular(P, R, initial_distribution=np.array([1.0, 0.0]))


def one_hot_tables(shape, n):
    """Every deterministic policy of ``shape + (n,)``, as one-hot tables."""
    for choice in itertools.product(range(n), repeat=int(np.prod(shape))):
        yield np.eye(n)[np.reshape(choice, shape)]


class Deterministic:
    """A player object that plays a one-hot table (the env asks it through ``act``)."""

    def __init__(self, table):
        self.table = table

    def act(self, h, x, a=None):
        row = self.table[h, x] if a is None else self.table[h, x, a]
        return int(row.argmax())


def play(env, table, role):
    """The return of one episode of the one-hot ``table`` in ``env``."""
    observation, _ = env.reset(seed=0)
    total, done = 0.0, False
    while not done:
        h, x = observation[:2]
        row = table[h, x] if role == "leader" else table[h, x, observation[2]]
        observation, reward, done, _, _ = env.step(int(row.argmax()))
        total += reward
    return total


def test_the_leaders_best_response_earns_the_most_in_the_leader_env():
    # Every deterministic leader policy (2^(H·S) = 64) against the strong Stackelberg follower:
    # the best return is the best-response value of eq. (8), and the planner's response earns it.
    game = deterministic_game(horizon=3, seed=7)
    _, pi_f, _ = planning.stackelberg_equilibrium(game)
    env = LeaderEnv(game, pi_f)
    shape = (game.horizon, game.n_states)
    returns = [play(env, table, "leader") for table in one_hot_tables(shape, 2)]
    best_l, values = planning.leader_best_response(game, pi_f)
    assert max(returns) == pytest.approx(values.V[0, 0, 0], abs=1e-12)
    assert play(env, best_l, "leader") == pytest.approx(max(returns), abs=1e-12)
    assert len(set(np.round(returns, 12))) > 1  # the policies differ in what they earn


def test_the_followers_best_response_earns_the_most_in_the_follower_env():
    # Every deterministic follower policy (2^(H·S·A) = 256) against a fixed leader object.
    game = deterministic_game(horizon=2, seed=8)
    pi_l, _, _ = planning.stackelberg_equilibrium(game)
    env = FollowerEnv(game, Deterministic(pi_l))
    shape = (game.horizon, game.n_states, game.n_leader_actions)
    returns = [play(env, table, "follower") for table in one_hot_tables(shape, 2)]
    best_f, values = planning.follower_best_response(game, pi_l)
    assert max(returns) == pytest.approx(values.V[1, 0, 0], abs=1e-12)
    assert play(env, best_f, "follower") == pytest.approx(max(returns), abs=1e-12)


def trajectory(env, seed, episodes=3):
    env.reset(seed=seed)
    actions = np.random.default_rng(0)
    steps = []
    for _ in range(episodes):
        observation, _ = env.reset()
        done = False
        while not done:
            action = int(actions.integers(env.action_space.n))
            next_observation, reward, done, _, info = env.step(action)
            steps.append((tuple(observation), action, reward, tuple(sorted(info.items()))))
            observation = next_observation
    return steps


@pytest.mark.parametrize("cls", [LeaderEnv, FollowerEnv])
def test_whole_trajectories_are_determined_by_the_seed(cls):
    game = small_game()
    first = trajectory(cls(game, "uniform"), seed=1)
    assert trajectory(cls(game, "uniform"), seed=1) == first
    assert trajectory(cls(game, "uniform"), seed=2) != first


def test_infos_final_observations_and_the_end_of_an_episode():
    game = small_game(reward_noise=0.0)
    env = FollowerEnv(game, "uniform")
    observation, _ = env.reset(seed=0)
    for h in range(game.horizon):
        h_seen, x, a = observation.tolist()
        assert h_seen == h and a < game.n_leader_actions
        observation, reward, terminated, truncated, info = env.step(0)
        assert info["leader_action"] == a
        np.testing.assert_allclose([info["leader_reward"], reward], game.reward_at(h, x, a, 0))
        assert terminated == (h == game.horizon - 1) and not truncated
    assert observation[0] == game.horizon and observation[2] == game.n_leader_actions
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)
    env = LeaderEnv(game, "stackelberg")
    env.reset(seed=0)
    _, _, _, _, info = env.step(1)
    assert set(info) == {"follower_action", "follower_reward"}


def test_step_before_reset_is_refused():
    # gymnasium.make's order enforcing catches it; built directly, the environment must
    game = games.make("security", horizon=3)
    for env in (
        FollowerEnv(game, leader_policy="uniform"),  # an AttributeError before
        LeaderEnv(game),  # played from x = 0 without drawing x_0 before
        PlayerEnv(game, 1, "uniform"),
    ):
        with pytest.raises(RuntimeError, match=r"^reset\(\) has not been called: call reset"):
            env.step(0)


def test_player_objects_are_asked_and_told_of_each_episode():
    game = small_game()

    class Counting(TableAgent):
        episodes = []

        def begin_episode(self, k):
            self.episodes.append(k)

    pi_l, _ = random_tables(game, 2)
    leader = Counting(pi_l, np.random.default_rng(0), 0)
    env = FollowerEnv(game, leader)
    for _ in range(3):
        env.reset(seed=0)
        done = False
        while not done:
            _, _, done, _, _ = env.step(0)
    assert Counting.episodes == [0, 1, 2]

    class Wrong:
        def act(self, h, x, a):
            return 99

    env = LeaderEnv(game, Wrong())
    env.reset(seed=0)
    with pytest.raises(
        ValueError, match=r"follower's action must be an integer in \[0, 3\), got 99"
    ):
        env.step(0)


def test_rendering():
    env = LeaderEnv(games.make("matrix", horizon=2), "stackelberg", render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "step 0 (H=2): x=0, the leader to move\n"
    env.step(1)
    assert env.render().splitlines() == [
        "step 0: x=0 a=1 b=1 -> r_l=+0.7500 r_f=+0.2500, x'=0",
        "step 1 (H=2): x=0, the leader to move",
    ]
    env = FollowerEnv(games.make("matrix"), "stackelberg", render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "step 0 (H=1): x=0 a=1, the follower to move\n"
    env = FollowerEnv(games.make("matrix"), "stackelberg")
    env.reset(seed=0)
    with pytest.warns(UserWarning, match="render_mode"):
        assert env.render() is None


def test_the_human_mode_prints_the_ansi_text(capsys):
    game = games.make("matrix", horizon=2)
    shown, printed = LeaderEnv(game, render_mode="ansi"), LeaderEnv(game, render_mode="human")
    assert "human" in printed.metadata["render_modes"]  # refused before
    for env in (shown, printed):
        env.reset(seed=0)
        env.step(1)
    capsys.readouterr()
    assert printed.render() is None
    assert capsys.readouterr().out == shown.render()


def test_refusals_name_the_problem():
    game = small_game()
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    with pytest.raises(ValueError, match="axis 3 \\(b\\) is 2, expected 3"):
        LeaderEnv(game, np.full((H, S, A, 2), 0.5))
    with pytest.raises(ValueError, match="pi_l does not sum to 1"):
        FollowerEnv(game, np.full((H, S, A), 0.5))
    with pytest.raises(ValueError, match="'uniform', 'stackelberg', or an object with act"):
        LeaderEnv(game, "greedy")
    with pytest.raises(ValueError, match="render_mode must be 'ansi', 'human' or None, got 'rgb"):
        LeaderEnv(game, render_mode="rgb_array")
    with pytest.raises(TypeError, match="FiniteGame or a registered game's name"):
        LeaderEnv(42)
    env = LeaderEnv(game, "uniform")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"leader's action must be an integer in \[0, 3\), got -1"):
        env.step(-1)
    env.step(np.int64(B - 1))
