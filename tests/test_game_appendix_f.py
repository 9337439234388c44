"""Appendix F: between ε-close tables a greedy follower's q_l jumps by M, a soft-max one's not."""

import numpy as np
import pytest

from stackelberg_rl import games
from stackelberg_rl.games.appendix_f import marginal_bound, tables
from stackelberg_rl.planning import appendix_f_marginal as leader_marginal
from stackelberg_rl.planning import stackelberg_equilibrium


@pytest.mark.parametrize("table", [1, 2])
def test_each_table_is_a_linear_one_state_game(table):
    M, eps = 3.0, 0.2
    game = games.make("appendix-f", M=M, eps=eps, table=table, horizon=2)
    # The tables of Appendix F typed in from the paper (rows a₁, a₂; columns b₁, b₂).
    paper = {
        1: [[(M - eps, 1 - eps / 2), (0, 1 + eps / 2)], [(0, 1), (0, 1 - eps / 2)]],
        2: [[(M, 1 + eps / 2), (0, 1 - eps / 2)], [(0, 1 + eps / 2), (0, 1 - eps / 2)]],
    }[table]
    scale = max(M, 1 + eps / 2)
    assert game.payoff_scale == scale and game.dim == 4
    for h in range(2):
        for a in range(2):
            for b in range(2):
                phi = game.features[0, a, b]
                assert phi @ game.mu[h] == pytest.approx([1.0])  # one state: P = 1
                np.testing.assert_allclose(
                    game.theta[:, h] @ phi, np.array(paper[a][b]) / scale, atol=1e-15
                )
    assert game._transitions is not None  # dense and factored: linearity checked


def test_stackelberg_solutions_of_the_two_tables_by_hand():
    # Table 1: at a₁ the follower compares 1 − ε/2 (b₁) with 1 + ε/2 (b₂) and plays b₂, so
    # q_l(a₁) = 0; at a₂ it compares 1 with 1 − ε/2 and plays b₁, q_l(a₂) = 0: V_l = 0.
    # Table 2: at a₁, 1 + ε/2 (b₁) against 1 − ε/2 (b₂): b₁, q_l(a₁) = M; at a₂, b₁ again and
    # q_l(a₂) = 0: the leader plays a₁, V_l = M and V_f = 1 + ε/2 (over the scale max(M, 1+ε/2)).
    M, eps = 4.0, 0.1
    _, pi_f, values = stackelberg_equilibrium(games.make("appendix-f", M=M, eps=eps, table=1))
    assert pi_f[0, 0].argmax(-1).tolist() == [1, 0]
    assert values.q_l[0, 0].tolist() == [0.0, 0.0] and values.V[0, 0, 0] == 0.0
    pi_l, pi_f, values = stackelberg_equilibrium(games.make("appendix-f", M=M, eps=eps, table=2))
    assert pi_f[0, 0].argmax(-1).tolist() == [0, 0] and pi_l[0, 0].tolist() == [1, 0]
    assert values.q_l[0, 0] * M == pytest.approx([M, 0.0])
    assert values.V[:, 0, 0] * M == pytest.approx([M, 1 + eps / 2])


@pytest.mark.parametrize("eps", [0.5, 1e-3])
def test_greedy_marginal_jumps_by_m_however_small_eps(eps):
    M = 10.0
    t = np.linspace(0, 1, 201)
    q = leader_marginal(t, np.inf, M, eps)
    assert q[0].tolist() == [0.0, 0.0] and q[-1].tolist() == [M, 0.0]  # the tables' q_l
    before, after = q[t < 0.5, 0], q[t > 0.5, 0]
    assert (before == 0).all() and (after >= M - eps / 2).all()  # a jump of M at t = 1/2
    assert np.abs(tables(M, eps)[1] - tables(M, eps)[0]).max() == pytest.approx(eps)


def test_softmax_marginal_stays_within_the_lipschitz_bound():
    M, eps = 10.0, 0.1
    t = np.linspace(0, 1, 101)
    for alpha in [0.0, 0.1, 1.0, 10.0, 100.0, 1e4]:
        q = leader_marginal(t, alpha, M, eps)  # (101, 2)
        moved = np.abs(q[:, None] - q[None, :]).max(axis=-1)  # every pair (t, t')
        allowed = np.abs(t[:, None] - t[None, :]) * marginal_bound(alpha, M, eps)
        assert (moved <= allowed + 1e-12).all(), alpha
    # From one table to the other, soft-max q_l moves by much less than M while α M ε is small,
    # and tends to greedy play as α grows.
    soft = leader_marginal(np.array([0.0, 1.0]), 1.0, M, eps)
    assert abs(soft[1, 0] - soft[0, 0]) <= marginal_bound(1.0, M, eps) < M
    sharp = leader_marginal(np.array([0.0, 1.0]), 1e5, M, eps)
    np.testing.assert_allclose(sharp, leader_marginal(np.array([0.0, 1.0]), np.inf, M, eps))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"M": 0}, r"M must be in \(0, inf\), got 0"),
        ({"M": -2.0}, r"M must be in \(0, inf\), got -2.0"),
        ({"M": "inf"}, r"M must be a finite number in \(0, inf\), got inf"),
        ({"eps": 0}, r"eps must be in \(0, 1\], got 0"),
        ({"eps": 1.5}, r"eps must be in \(0, 1\], got 1.5"),
        ({"table": 3}, r"appendix-f parameter table must be one of 1, 2, got 3"),
        ({"table": "x"}, r"table must be one of 1, 2, got 'x'"),
        ({"horizon": 0}, r"horizon must be an integer >= 1, got 0"),
    ],
)
def test_bad_parameters_are_refused_by_name(params, match):
    with pytest.raises(ValueError, match=match):
        games.make("appendix-f", **params)


def test_the_builder_and_the_marginal_check_their_own_arguments():
    assert games.make("appendix-f", table="2").fingerprint() == (
        games.appendix_f_game(table=2).fingerprint()
    )
    with pytest.raises(ValueError, match=r"table must be an integer in \[1, 2\], got 0"):
        games.appendix_f_game(table=0)
    with pytest.raises(ValueError, match=r"t has 1\.5 > 1"):
        leader_marginal(1.5, 1.0, 1.0, 0.1)
    with pytest.raises(ValueError, match=r"alpha_f must be a number in \[0, inf\)"):
        leader_marginal(0.5, float("nan"), 1.0, 0.1)
