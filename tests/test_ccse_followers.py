"""The CCSE of N followers: plans replayed bit for bit, the certificate against brute force."""

import itertools
import re

import numpy as np
import pytest
from helpers import play_in_order

from stackelberg_rl.agents import AgentConfig, make_agents
from stackelberg_rl.equilibria import CCSE, certificate, episode_gaps, upper_bound_curve
from stackelberg_rl.equilibria.ccse import GameMismatchError
from stackelberg_rl.equilibria.curve import CurvePoint
from stackelberg_rl.experiments.plan_history import (
    PlanRecorder,
    Plans,
    PlansFileError,
    plans_bytes,
    read_plans,
    write_plans,
)
from stackelberg_rl.games import random_linear
from stackelberg_rl.planning import best_response, evaluate, policy_shapes


def followers_game(n_followers=2, S=5, d=4, H=3, seed=1):
    return random_linear(S, 2, 2, d, H, seed=seed, n_followers=n_followers)


def play_recorded(game, config, episodes, seed=3):
    """Play with the agents in order (a plain loop), record the plans, keep the tables played."""
    agents = make_agents(game, config, episodes, seed=seed)
    recorder = PlanRecorder(*agents)
    played = []

    def after_plans(k):
        recorder.after_plans(k)
        played.append(agents[0].learner.policy_tables(game))

    play_in_order(game, agents, episodes, np.random.default_rng(seed), after_plans)
    return recorder.finish(), played


@pytest.mark.parametrize("n_followers", [2, 3])
@pytest.mark.parametrize(
    "config",
    [
        AgentConfig(beta=0.4, alpha_l=2.0, alpha_f="fixed-K", schedule="every"),
        AgentConfig(beta=0.4, alpha_l=3.0, alpha_f=1.5, schedule="doubling", decentralised=False),
    ],
)
def test_replaying_any_episode_gives_the_tables_played(n_followers, config, tmp_path):
    game = followers_game(n_followers)
    plans, played = play_recorded(game, config, 12)
    n = game.n_players
    assert plans.n_players == n and plans.w.shape[1:] == (n, game.horizon, game.dim)
    assert plans.alpha.shape == (plans.n_plans, n)
    most = plans_bytes(12, game.horizon, game.dim, n) + 8  # and λ
    if config.schedule == "doubling":
        assert plans.n_plans < 12 and plans.nbytes < most
    else:
        assert plans.n_plans == 12 and plans.nbytes == most
    write_plans(tmp_path / "plans.npz", {0: plans})
    again = read_plans(tmp_path / "plans.npz", 0)
    for name in Plans.ARRAYS:
        assert np.array_equal(getattr(again, name), getattr(plans, name))
    ccse = CCSE(again, game)
    tables = ccse.tables()
    assert len(tables) == n
    for k in (0, 5, 11):
        for m in range(n):
            assert np.array_equal(tables[m][k], played[k][m])
            assert np.array_equal(ccse.policy(k).tables()[m], played[k][m])
    # one player's row, as acting draws from it, after the actions before it
    h, x, earlier = 1, 2, (1, 0)
    row = ccse.policy(7).player_policy(2, h, x, *earlier)
    assert np.array_equal(row, played[7][2][(h, x, *earlier)])
    players = ccse.players(seed=0)
    assert [p.role for p in players][:3] == ["leader", "follower 1", "follower 2"]
    with pytest.raises(
        ValueError, match=re.escape("follower 2 acts after 2 earlier actions, got (1,)")
    ):
        players[2].act(0, 0, 1)


def test_plans_of_another_number_of_players_are_refused():
    game = followers_game(2)
    plans, _ = play_recorded(game, AgentConfig(beta=0.4, alpha_l=2.0, alpha_f=2.0), 4)
    with pytest.raises(GameMismatchError, match="3 players; the game .* 4"):
        CCSE(plans, followers_game(3))
    bad = Plans(plans.phi, plans.plan_episode, plans.w, plans.alpha[:, :2], plans.beta, plans.lam)
    with pytest.raises(PlansFileError, match=r"alpha has shape \(4, 2\), expected \(4, 3\)"):
        bad.validate()


# ------------------------------------------------------------ the certificate, by brute force
def random_profiles(game, K, rng):
    """``K`` random soft profiles: each player's ``(K, H, S, A_0, …, A_i)``."""
    return [rng.dirichlet(np.ones(s[-1]), size=(K, *s[:-1])) for s in policy_shapes(game)]


def deterministic_policies(shape):
    """Every deterministic policy of this shape (one-hot on the last axis)."""
    nodes, n = int(np.prod(shape[:-1])), shape[-1]
    for choice in itertools.product(range(n), repeat=nodes):
        yield np.eye(n)[list(choice)].reshape(shape)


def against_each(game, m, deviation, profiles):
    """``V_m^{deviation, others^k}`` at step 0 of every episode ``k``: ``(K, S)``."""
    K = len(profiles[0])
    out = []
    for k in range(K):
        profile = [p[k] for p in profiles]
        profile[m] = deviation
        out.append(evaluate(game, *profile).V[m, 0])
    return np.array(out)


@pytest.mark.parametrize(
    ("H", "players"), [(1, (0, 1, 2)), (2, (0, 1))]
)  # the true ε of player m by enumeration: |A_m| ** (H·S·∏_{i<m}|A_i|) policies
def test_the_bounds_bracket_the_true_epsilon_of_every_player(H, players):
    game = random_linear(2, 2, 2, 3, H, seed=4, n_followers=2)
    K = 4
    profiles = random_profiles(game, K, np.random.default_rng(H))
    cert = certificate(game, *profiles, single_episodes=2)
    own = np.array([evaluate(game, *(p[k] for p in profiles)).V[:, 0] for k in range(K)])
    np.testing.assert_allclose(cert.mixture_value, own.mean(axis=0), rtol=0, atol=1e-12)
    p0 = game.initial_distribution
    for m in players:
        values = np.array(
            [
                against_each(game, m, d, profiles)
                for d in deterministic_policies(profiles[m][0].shape)
            ]
        )  # (policies, K, S)
        per_episode_best = values.max(axis=0)  # a deviator that sees k: a best response per k
        np.testing.assert_allclose(
            cert.upper[m], (per_episode_best - own[:, m]).mean(axis=0), rtol=0, atol=1e-12
        )
        mixture = values.mean(axis=1)  # (policies, S): k-blind deviations against the mixture
        true = mixture.max(axis=0) - cert.mixture_value[m]
        true_initial = (mixture @ p0).max() - p0 @ cert.mixture_value[m]
        assert (cert.lower[m] <= true + 1e-12).all() and (true <= cert.upper[m] + 1e-12).all()
        assert cert.lower_initial[m] <= true_initial + 1e-12 <= cert.upper_initial[m] + 2e-12
        assert cert.lower[m].min() >= -1e-12  # the own policies of single episodes are tried


def test_every_players_gaps_and_curve_columns_with_two_followers():
    game = followers_game(2)
    plans, _ = play_recorded(game, AgentConfig(beta=0.4, alpha_l=2.0, alpha_f=2.0), 10)
    ccse = CCSE(plans, game)
    tables = ccse.tables()
    gaps = episode_gaps(game, *tables)
    assert gaps.shape == (10, 3, game.n_states)
    for k in (0, 9):
        profile = [t[k] for t in tables]
        for m in range(3):
            best = best_response(game, m, profile)[1].V[m, 0]
            own = evaluate(game, *profile).V[m, 0]
            np.testing.assert_allclose(gaps[k, m], best - own, rtol=0, atol=1e-12)
    cert = ccse.certificate()
    np.testing.assert_allclose(cert.upper, gaps.mean(axis=0), rtol=0, atol=1e-12)
    curve = upper_bound_curve(ccse, [5, 10])
    assert curve.shape == (2, 3, 2)
    np.testing.assert_allclose(curve[1, :, 0], cert.upper_initial, rtol=0, atol=1e-12)
    p0 = game.initial_distribution
    for j, K in enumerate((5, 10)):  # every prefix's running mean, at p0 and at the worst state
        mean = gaps[:K].mean(axis=0)
        np.testing.assert_allclose(curve[j, :, 0], mean @ p0, rtol=0, atol=1e-12)
        np.testing.assert_allclose(curve[j, :, 1], mean.max(axis=1), rtol=0, atol=1e-12)
    row = CurvePoint(10, cert, None).row()
    assert {"leader_upper_initial", "follower_1_lower_worst", "follower_2_upper_worst"} <= set(row)
    assert row["follower_2_upper_worst"] == cert.upper_worst[2]
    assert row["follower_1_lower_initial"] == cert.lower_initial[1]
