"""The CCSE certificate: batched passes against the planner, bounds against brute force."""

import itertools

import numpy as np
import pytest

from stackelberg_rl import games
from stackelberg_rl.agents import AgentConfig, make_agents
from stackelberg_rl.equilibria import certificate, zero_sum_gap
from stackelberg_rl.planning import (
    evaluate,
    follower_best_response,
    leader_best_response,
    stackelberg_equilibrium,
    start_values,
)


def random_pairs(game, K, seed):
    """``K`` random stochastic policy pairs ``(K, H, S, A)`` and ``(K, H, S, A, B)``."""
    rng = np.random.default_rng(seed)
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    return (
        rng.dirichlet(np.ones(A), size=(K, H, S)),
        rng.dirichlet(np.ones(B), size=(K, H, S, A)),
    )


def tiny(seed=0):
    return games.make("random-linear", n_states=2, n_leader_actions=2, n_follower_actions=2,
                      dim=3, horizon=2, seed=seed)  # fmt: skip


def test_batched_passes_equal_the_planner_episode_by_episode():
    game = games.make("random-linear", n_states=6, dim=4, horizon=3, seed=1)
    pi_l, pi_f = random_pairs(game, 5, seed=2)
    V = start_values(game, [pi_l, pi_f])[0]  # (rows: the pairs', the best responses'; 2, K, S)
    for k in range(5):
        np.testing.assert_allclose(V[0, :, k], evaluate(game, pi_l[k], pi_f[k]).V[:, 0],
                                   atol=1e-13)  # fmt: skip
        np.testing.assert_allclose(V[1, 0, k], leader_best_response(game, pi_f[k])[1].V[0, 0],
                                   atol=1e-13)  # fmt: skip
        np.testing.assert_allclose(V[1, 1, k], follower_best_response(game, pi_l[k])[1].V[1, 0],
                                   atol=1e-13)  # fmt: skip


def deterministic_policies(H, S, A):
    """Every deterministic Markov policy ``(H, S, A)`` as one-hot tables."""
    for choice in itertools.product(range(A), repeat=H * S):
        pi = np.zeros((H * S, A))
        pi[np.arange(H * S), choice] = 1.0
        yield pi.reshape(H, S, A)


def brute_force_epsilon(game, pi_l, pi_f):
    """Each player's best gain over every deterministic ``k``-blind deviation: ``(2, S)``.

    Every deviation is evaluated against every episode's opponent policy with the planner's own
    ``evaluate``, one pair at a time, and averaged: the definition, by enumeration.
    """
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    K = len(pi_l)
    mixture = np.mean([evaluate(game, pi_l[k], pi_f[k]).V[:, 0] for k in range(K)], axis=0)
    best_l = np.full(S, -np.inf)
    best_l_p0 = -np.inf
    for dev in deterministic_policies(H, S, A):
        v = np.mean([evaluate(game, dev, pi_f[k]).V[0, 0] for k in range(K)], axis=0)
        best_l = np.maximum(best_l, v)
        best_l_p0 = max(best_l_p0, game.initial_distribution @ v)
    best_f = np.full(S, -np.inf)
    best_f_p0 = -np.inf
    for dev in deterministic_policies(H, S * A, B):
        dev = dev.reshape(H, S, A, B)
        v = np.mean([evaluate(game, pi_l[k], dev).V[1, 0] for k in range(K)], axis=0)
        best_f = np.maximum(best_f, v)
        best_f_p0 = max(best_f_p0, game.initial_distribution @ v)
    p0 = game.initial_distribution
    per_state = np.stack([best_l - mixture[0], best_f - mixture[1]])
    initial = np.array([best_l_p0 - p0 @ mixture[0], best_f_p0 - p0 @ mixture[1]])
    return per_state, initial


@pytest.mark.parametrize("seed", range(4))
def test_the_bounds_bracket_the_best_deterministic_deviation(seed):
    game = tiny(seed)
    pi_l, pi_f = random_pairs(game, 3, seed=10 + seed)
    cert = certificate(game, pi_l, pi_f)
    brute, brute_initial = brute_force_epsilon(game, pi_l, pi_f)
    tol = 1e-12
    assert (cert.lower <= brute + tol).all() and (brute <= cert.upper + tol).all()
    assert (cert.lower_initial <= brute_initial + tol).all()
    assert (brute_initial <= cert.upper_initial + tol).all()


def test_one_episode_makes_both_bounds_the_best_response_gap():
    game = games.make("random-linear", n_states=5, dim=4, horizon=3, seed=3)
    pi_l, pi_f = random_pairs(game, 1, seed=4)
    cert = certificate(game, pi_l, pi_f)
    gap_l = (
        leader_best_response(game, pi_f[0])[1].V[0, 0] - evaluate(game, pi_l[0], pi_f[0]).V[0, 0]
    )
    gap_f = (
        follower_best_response(game, pi_l[0])[1].V[1, 0] - evaluate(game, pi_l[0], pi_f[0]).V[1, 0]
    )
    np.testing.assert_allclose(cert.upper, np.stack([gap_l, gap_f]), atol=1e-13)
    np.testing.assert_allclose(cert.lower, cert.upper, atol=1e-13)


def test_lower_is_never_above_upper_on_the_policies_of_a_learning_run():
    game = games.make("security", zero_sum=False)
    K = 60
    leader, follower = make_agents(game, AgentConfig(beta=0.3), episodes=K, seed=5)
    env = np.random.default_rng(6)
    tables_l, tables_f = [], []
    for k in range(K):
        leader.begin_episode(k)
        follower.begin_episode(k)
        tables_l.append(leader.policy_table(game).copy())
        tables_f.append(follower.policy_table(game).copy())
        x = game.sample_initial(env)
        for h in range(game.horizon):
            a = leader.act(h, x)
            b = follower.act(h, x, a)
            r, x_next = game.step(h, x, a, b, env)
            leader.record(h, x, a, b, r, x_next)
            follower.record(h, x, a, b, r, x_next)
            x = x_next
    for K_prefix in (1, 10, 60):
        cert = certificate(game, np.stack(tables_l[:K_prefix]), np.stack(tables_f[:K_prefix]),
                           chunk=7)  # fmt: skip
        assert (cert.lower <= cert.upper + 1e-12).all(), K_prefix
        assert (cert.lower_initial <= cert.upper_initial + 1e-12).all()
        assert (cert.lower_worst <= cert.upper_worst + 1e-12).all()
        assert (cert.upper >= -1e-12).all()
        assert cert.deviations == 2 * min(K_prefix, 8) + 1


def test_chunks_do_not_change_the_certificate():
    game = games.make("random-linear", n_states=4, dim=3, horizon=2, seed=7)
    pi_l, pi_f = random_pairs(game, 9, seed=8)
    a = certificate(game, pi_l, pi_f, chunk=256)
    b = certificate(game, pi_l, pi_f, chunk=2)
    for field in ("upper", "lower", "upper_initial", "lower_initial", "mixture_value"):
        np.testing.assert_allclose(getattr(a, field), getattr(b, field), atol=1e-14)


def test_the_stackelberg_solution_of_a_zero_sum_game_is_its_own_certificate():
    game = games.make("security", zero_sum=True)
    pi_l, pi_f, _ = stackelberg_equilibrium(game)
    cert = certificate(game, np.stack([pi_l] * 3), np.stack([pi_f] * 3))
    np.testing.assert_allclose(cert.upper, 0.0, atol=1e-12)
    np.testing.assert_allclose(cert.lower, 0.0, atol=1e-12)
    gaps = zero_sum_gap(game, cert)
    assert gaps["value_gap_initial"] < 1e-12 and gaps["value_gap_worst"] < 1e-12
    assert abs(gaps["exploitability_upper"]) < 1e-12


def test_a_uniform_mixture_of_two_policies_is_bracketed_not_averaged():
    # Two episodes whose follower policies are opposite one-hot tables: the averaged follower
    # policy is not what the leader faces, yet the certificate's bounds still hold.
    game = games.make("matrix", preset="matching-pennies")
    pi_l = np.full((2, 1, 1, 2), 0.5)
    pi_f = np.zeros((2, 1, 1, 2, 2))
    pi_f[0, ..., 0] = 1.0
    pi_f[1, ..., 1] = 1.0
    cert = certificate(game, pi_l, pi_f)
    brute, _ = brute_force_epsilon(game, pi_l, pi_f)
    assert (cert.lower <= brute + 1e-12).all() and (brute <= cert.upper + 1e-12).all()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda pl, pf: (pl[:0], pf[:0]), r"same K >= 1"),
        (lambda pl, pf: (pl, pf[:1]), r"same K >= 1"),
        (lambda pl, pf: (pl[..., :1], pf), r"pi_l has shape"),
        (lambda pl, pf: (pl * 2, pf), r"episode 0: pi_l does not sum to 1"),
    ],
)
def test_bad_policies_are_refused_naming_the_episode(change, match):
    game = tiny()
    pi_l, pi_f = change(*random_pairs(game, 2, seed=0))
    with pytest.raises(ValueError, match=match):
        certificate(game, pi_l, pi_f)


def test_single_episodes_out_of_range_are_refused():
    game = tiny()
    with pytest.raises(ValueError, match=r"single_episodes must be an integer in \[0, 2\)"):
        certificate(game, *random_pairs(game, 2, seed=0), single_episodes=[5])
