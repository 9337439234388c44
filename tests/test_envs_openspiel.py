"""The OpenSpiel game: OpenSpiel's random simulation test, game strings that load the same game,
returns under fixed policies against planning, and OpenSpiel's Stackelberg solver against ours."""

import numpy as np
import pyspiel
import pytest
from open_spiel.python.algorithms import expected_game_score
from open_spiel.python.algorithms.stackelberg_lp import solve_stackelberg

from stackelberg_rl import games, planning
from stackelberg_rl.envs import openspiel as osp
from stackelberg_rl.envs.openspiel import TablePolicy, decode_params, encode_params, make

SMALL = {
    "matrix": lambda: games.make("matrix", preset="prisoners-dilemma", horizon=2),
    "security": lambda: games.make("security", horizon=2),
    "electricity": lambda: games.make("electricity", hours=2),
    "random-linear": lambda: games.make(
        "random-linear", n_states=4, n_leader_actions=2, n_follower_actions=2, horizon=3, seed=1
    ),
    "unregistered": lambda: games.random_tabular(3, 2, 3, 3, seed=2),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_random_sim_test_with_serialisation(name):
    pyspiel.random_sim_test(make(SMALL[name]()), num_sims=5, serialize=True, verbose=False)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_the_game_string_loads_the_same_game(name):
    game = SMALL[name]()
    spiel_game = make(game)
    loaded = pyspiel.load_game(str(spiel_game))
    assert loaded.finite_game.fingerprint() == game.fingerprint()
    assert str(loaded) == str(spiel_game)


def test_game_strings_of_payoff_matrices_files_and_registered_names(tmp_path):
    game = games.make(
        "matrix", leader_payoffs=[[0.1, 1 / 3], [-2.5, 7.0]], follower_payoffs="1,0;0,1", horizon=2
    )
    spiel_game = make(game)
    assert "," not in str(spiel_game).split("params=")[1].rstrip(")")  # encoded, or unparseable
    assert pyspiel.load_game(str(spiel_game)).finite_game.fingerprint() == game.fingerprint()
    path = tmp_path / "game.npz"
    games.save(games.random_tabular(2, 2, 2, 2, seed=3), path)
    from_file = pyspiel.load_game(osp.SHORT_NAME, {"game": f"file:{path}"})
    assert from_file.finite_game.fingerprint() == games.load(path).fingerprint()
    by_name = pyspiel.load_game("python_stackelberg_rl(game=security,params=horizon:3;seed:1)")
    assert (
        by_name.finite_game.fingerprint() == games.make("security", horizon=3, seed=1).fingerprint()
    )
    assert make("security", horizon=3, seed=1).finite_game.fingerprint() == (
        by_name.finite_game.fingerprint()
    )


def test_parameters_are_encoded_and_decoded_exactly():
    params = {"a": "2,4;1,3", "b": 0.1, "c": None, "d": True, "e": ((1.0, 0.5), (2.0, 1 / 3))}
    assert decode_params(encode_params(params)) == {
        "a": "2,4;1,3",
        "b": "0.1",
        "c": "none",
        "d": "true",
        "e": f"1.0,0.5;2.0,{1 / 3!r}",
    }
    for text in ["horizon", ":3"]:
        with pytest.raises(ValueError, match="key:value pairs"):
            decode_params(text)


def test_refusals_name_the_problem():
    with pytest.raises(ValueError, match="unknown game 'nope'"):
        pyspiel.load_game("python_stackelberg_rl(game=nope)")
    with pytest.raises(ValueError, match="no game with fingerprint sha256:abc"):
        pyspiel.load_game("python_stackelberg_rl(game=sha256:abc)")
    with pytest.raises(ValueError, match="game 'matrix' has no parameter 'hours'"):
        pyspiel.load_game("python_stackelberg_rl(game=matrix,params=hours:3)")
    with pytest.raises(ValueError, match="params apply to registered games only"):
        pyspiel.load_game("python_stackelberg_rl(game=file:/nowhere.npz,params=horizon:2)")
    with pytest.raises(ValueError, match="params apply to registered games only"):
        osp.LeaderFollowerGame({"game": "sha256:abc", "params": "horizon:2"})
    spiel_game = make("matrix")
    with pytest.raises(ValueError, match="axis 2 \\(a\\) is 3, expected 2"):
        TablePolicy(spiel_game, np.full((1, 1, 3), 1 / 3), np.full((1, 1, 2, 2), 0.5))


def random_policies(game, seed):
    rng = np.random.default_rng(seed)
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    return rng.dirichlet(np.ones(A), size=(H, S)), rng.dirichlet(np.ones(B), size=(H, S, A))


@pytest.mark.parametrize("name", ["random-linear", "security", "unregistered"])
def test_expected_returns_under_fixed_policies_equal_planning(name):
    # OpenSpiel's exact tree walk over chance, leader and follower nodes against the backward
    # induction of math.md §2: both sum the same finitely many products, so 1e-12.
    game = SMALL[name]()
    pi_l, pi_f = random_policies(game, 0)
    spiel_game = make(game)
    policy = TablePolicy(spiel_game, pi_l, pi_f)
    values = expected_game_score.policy_value(spiel_game.new_initial_state(), [policy, policy])
    expected = planning.evaluate(game, pi_l, pi_f).V[:, 0] @ game.initial_distribution
    np.testing.assert_allclose(values, expected, rtol=0, atol=1e-12)


def strong_stackelberg(state, tol=1e-9):
    """Both players' values from ``state`` when the follower best-responds to what it sees and
    breaks ties for the leader, and the leader best-responds to that: a plain tree walk."""
    if state.is_terminal():
        return np.array(state.returns())
    if state.is_chance_node():
        return sum(p * strong_stackelberg(state.child(x), tol) for x, p in state.chance_outcomes())
    children = [strong_stackelberg(state.child(action), tol) for action in state.legal_actions()]
    if state.current_player() == osp.LEADER:
        return max(children, key=lambda v: v[0])
    best_f = max(v[1] for v in children)
    return max((v for v in children if v[1] >= best_f - tol), key=lambda v: v[0])


@pytest.mark.parametrize("name", ["random-linear", "security", "unregistered"])
def test_the_follower_node_sees_the_leaders_action(name):
    # The subgame-perfect values on OpenSpiel's tree are those of stackelberg_equilibrium, which
    # lets the follower answer every (h, x, a): the follower's node knows a.
    game = SMALL[name]()
    values = strong_stackelberg(make(game).new_initial_state())
    _, _, expected = planning.stackelberg_equilibrium(game)
    np.testing.assert_allclose(values, expected.V[:, 0] @ game.initial_distribution, atol=1e-12)


def payoffs_through_openspiel(spiel_game):
    """The one-step game's payoff matrices, read by playing every (a, b) in OpenSpiel."""
    finite_game = spiel_game.finite_game
    assert finite_game.horizon == 1 and finite_game.n_states == 1
    A, B = finite_game.n_leader_actions, finite_game.n_follower_actions
    payoffs = np.empty((2, A, B))
    for a in range(A):
        for b in range(B):
            state = spiel_game.new_initial_state()
            for action in (0, a, b):  # x_0 = 0, the leader's a, the follower's b
                state.apply_action(action)
            assert state.is_terminal()
            payoffs[:, a, b] = state.returns()
    return payoffs


def bimatrix_games():
    yield "commitment", *(np.array(m, dtype=float) for m in games.matrix.PRESETS["commitment"])
    rng = np.random.default_rng(12)
    for A, B in [(2, 2), (3, 2), (2, 3), (3, 4)]:
        yield f"random-{A}x{B}", rng.uniform(-5, 5, (A, B)), rng.uniform(-5, 5, (A, B))


@pytest.mark.parametrize(
    "name, L, F", list(bimatrix_games()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_openspiels_stackelberg_solver_agrees_with_mixed_commitment(name, L, F):
    # OpenSpiel's solver (Conitzer & Sandholm's LPs through cvxpy) on the payoffs our OpenSpiel
    # game pays, against our mixed_commitment (the same LPs through HiGHS) on the raw matrices,
    # rescaled. 1e-6: the conic solver's default accuracy; HiGHS's is far finer.
    game = games.make("matrix", leader_payoffs=L, follower_payoffs=F)
    spiel_game = make(game)
    read = payoffs_through_openspiel(spiel_game)
    np.testing.assert_allclose(read * game.payoff_scale, [L, F], atol=1e-12)
    leader_mix, follower_pure, leader_value, _ = solve_stackelberg(
        pyspiel.create_matrix_game(read[0].tolist(), read[1].tolist())
    )
    mix, b, value = planning.mixed_commitment(L, F)
    assert leader_value == pytest.approx(value / game.payoff_scale, abs=1e-6)
    np.testing.assert_allclose(leader_mix, mix, atol=1e-5)
    assert int(np.argmax(follower_pure)) == b
    # Seeing the action, as our OpenSpiel game's follower does, is worth at most the commitment.
    observed = strong_stackelberg(spiel_game.new_initial_state())[0]
    assert observed == pytest.approx(planning.pure_commitment(L, F)[2] / game.payoff_scale)
    assert observed <= leader_value + 1e-6


def test_observations_and_information_states():
    spiel_game = make(games.make("security", horizon=2))
    state = spiel_game.new_initial_state()
    state.apply_action(state.chance_outcomes()[0][0])
    state.apply_action(2)  # the leader
    assert state.current_player() == osp.FOLLOWER
    x = state.x
    assert state.observation_string(1) == f"h=0 x={x} a=2"
    assert state.information_state_string(0) == f"x0={x} a0=2"
    observer = spiel_game.make_py_observer()
    observer.set_from(state, 1)
    assert observer.dict["step"].tolist() == [1, 0, 0]
    assert observer.dict["state"].argmax() == x and observer.dict["leader_action"].argmax() == 2
    state.apply_action(1)  # the follower: both paid
    r = spiel_game.finite_game.reward_at(0, x, 2, 1)
    np.testing.assert_allclose(state.rewards(), r)
    np.testing.assert_allclose(state.returns(), r)
    assert state.is_chance_node()
    info_state = spiel_game.make_py_observer(pyspiel.IIGObservationType(perfect_recall=True))
    info_state.set_from(state, 0)
    assert info_state.dict["follower_actions"][0].tolist() == [0, 1, 0, 0, 0]


def test_a_state_refuses_an_action_that_is_not_legal_there():
    game = games.make("security", horizon=2)  # one state, x_0 = 0; four leader actions
    state = make(game).new_initial_state()
    with pytest.raises(ValueError, match=r"chance outcome 7 is not a state of positive prob"):
        state.apply_action(7)
    state.apply_action(0)
    with pytest.raises(ValueError, match=r"a_0 must be an integer in \[0, 4\), got 99"):
        state.apply_action(99)
    while not state.is_terminal():  # the refusals changed nothing: the episode plays on
        outcomes = state.chance_outcomes() if state.is_chance_node() else None
        state.apply_action(outcomes[0][0] if outcomes else state.legal_actions()[0])
    assert state.steps() == [(0, 0, 0), (0, 0, 0)]  # (x_h, a, b) of both steps
    assert state.history() == [0] * 6  # the refused actions were not recorded either
    with pytest.raises(ValueError, match="the episode is over"):
        state.apply_action(0)


def test_every_environment_refuses_the_continuous_game_in_one_line():
    import gymnasium as gym

    from stackelberg_rl.envs import gymnasium as _registered  # noqa: F401
    from stackelberg_rl.envs import pettingzoo as pz

    message = "game 'continuous' has continuous states: the environments play finite games"
    with pytest.raises(ValueError, match=message):
        pyspiel.load_game("python_stackelberg_rl(game=continuous)")
    with pytest.raises(ValueError, match=message):
        pz.env(game="continuous")
    with pytest.raises(ValueError, match=message):
        gym.make("stackelberg_rl/LeaderEnv-v0", game="continuous")
