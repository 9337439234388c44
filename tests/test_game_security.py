"""The security game: SSG payoffs, exactly linear with d = 2T + L + 1, a hand-solved instance."""

import numpy as np
import pytest

from stackelberg_rl import games
from stackelberg_rl.planning import stackelberg_equilibrium

# Two targets, two threat levels, two steps, waiting always escalates, impact ((ℓ+1)/2)².
HAND = dict(
    n_targets=2, levels=2, horizon=2, escalation=1.0, impact_exponent=2.0,
    defender_covered="1,0.5", defender_uncovered="-1,-0.5",
    attacker_covered="-0.5,-0.5", attacker_uncovered="1,0.8",
)  # fmt: skip


def ssg_by_hand(game, T, L, escalation, kappa, payoffs):
    """``P (H, L, T, T+1, L)`` and ``r (2, H, L, T, T+1)`` from the rules, entry by entry."""
    H = game.horizon
    scale = max(np.abs(v).max() for v in payoffs.values())
    P = np.zeros((H, L, T, T + 1, L))
    r = np.zeros((2, H, L, T, T + 1))
    for h in range(H):
        for level in range(L):
            impact = ((level + 1) / L) ** kappa
            for a in range(T):
                for b in range(T + 1):
                    if b == T:  # wait: no payoff, the threat may rise
                        P[h, level, a, b, min(level + 1, L - 1)] += escalation
                        P[h, level, a, b, level] += 1 - escalation
                        continue
                    covered = a == b
                    d = payoffs["defender_covered" if covered else "defender_uncovered"][b]
                    u = payoffs["attacker_covered" if covered else "attacker_uncovered"][b]
                    r[:, h, level, a, b] = impact * np.array([d, u]) / scale
                    P[h, level, a, b, 0] = 1.0  # the attack spends the preparation
    return P, r


@pytest.mark.parametrize("zero_sum", [False, True])
def test_the_game_is_linear_in_2t_plus_l_plus_1_features(zero_sum):
    T, L = 4, 3
    game = games.make("security", n_targets=T, levels=L, horizon=3, seed=5, zero_sum=zero_sum)
    P, r = ssg_by_hand(game, T, L, 0.5, 2.0, game.payoffs)
    assert game.dim == 2 * T + L + 1 == 12 < L * T * (T + 1)
    assert np.linalg.norm(game.features, axis=-1).max() <= 1 + 1e-12
    for h in range(game.horizon):
        for x in range(L):
            for a in range(T):
                for b in range(T + 1):
                    phi = game.features[x, a, b]
                    np.testing.assert_allclose(phi @ game.mu[h], P[h, x, a, b], atol=1e-12)
                    np.testing.assert_allclose(game.theta[:, h] @ phi, r[:, h, x, a, b], atol=1e-12)
    assert game._transitions is not None  # both forms given: the game checked its linearity
    if zero_sum:
        assert np.array_equal(game._rewards[1], -game._rewards[0])


def test_random_payoffs_have_the_ssg_form_and_the_seed():
    game = games.make("security", seed=3)
    p = game.payoffs
    assert (p["defender_covered"] >= 0).all() and (p["defender_uncovered"] <= 0).all()
    assert (p["attacker_uncovered"] >= p["attacker_covered"]).all()
    assert game.initial_distribution.tolist() == [1, 0, 0]  # the threat starts low
    assert game.fingerprint() == games.make("security", seed=3).fingerprint()
    assert game.fingerprint() != games.make("security", seed=4).fingerprint()
    # A given array leaves the other (random) ones as they were.
    given = games.make("security", seed=3, defender_covered="1,1,1,1")
    assert np.array_equal(given.payoffs["attacker_covered"], p["attacker_covered"])


def test_two_targets_two_steps_solved_by_hand():
    # f(0) = 1/4, f(1) = 1; payoffs already in [-1, 1] (scale 1).
    # Last step (h = 1) at threat ℓ, impact f. Patrol target 0: the attacker gets −0.5f (hit the
    # patrol), 0.8f (target 1) or 0 (wait) → attacks 1, the defender gets −0.5f. Patrol target
    # 1: the attacker gets 1·f at target 0 → attacks it, the defender gets −f. So the defender
    # patrols 0: V_1(0) = (−0.125, 0.2), V_1(1) = (−0.5, 0.8) (defender, attacker).
    # First step (h = 0) at ℓ = 0 (f = 1/4); an attack resets to ℓ = 0, waiting moves to ℓ = 1.
    # Patrol 0: attack 0 → attacker −0.125 + 0.2 = 0.075; attack 1 → 0.2 + 0.2 = 0.4;
    # wait → 0 + 0.8 = 0.8: the attacker waits, the defender gets 0 + (−0.5) = −0.5.
    # Patrol 1: attack 0 → 0.25 + 0.2 = 0.45; attack 1 → −0.125 + 0.2 = 0.075; wait → 0.8:
    # the attacker waits again, the defender gets −0.5. V_0(0) = (−0.5, 0.8): the patient
    # attacker strikes once, at full impact, at the end.
    game = games.make("security", **HAND)
    pi_l, pi_f, values = stackelberg_equilibrium(game)
    assert values.V[:, 0, 0] == pytest.approx([-0.5, 0.8])
    np.testing.assert_allclose(values.V[:, 1], [[-0.125, -0.5], [0.2, 0.8]], atol=1e-12)
    WAIT = 2
    assert pi_f[0, 0].argmax(-1).tolist() == [WAIT, WAIT]
    assert pi_f[1, :].argmax(-1).tolist() == [[1, 0], [1, 0]]
    assert pi_l[1].argmax(-1).tolist() == [0, 0]


def test_zero_sum_gives_the_attacker_minus_the_defender():
    game = games.make("security", zero_sum=True, horizon=3)
    _, _, values = stackelberg_equilibrium(game)
    np.testing.assert_allclose(values.V[1], -values.V[0], atol=1e-12)
    p = game.payoffs
    assert np.array_equal(p["attacker_covered"], -p["defender_covered"])


def test_payoffs_on_any_scale_are_rescaled():
    game = games.make(
        "security", **HAND | dict(defender_covered="10,5", defender_uncovered="-10,-5")
    )
    assert game.payoff_scale == 10.0
    assert np.abs(game._rewards).max() == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"defender_covered": "1,-2,0,0", "defender_uncovered": "0,-1,-1,-1"},
            r"defender_covered\[1\] = -2 is below defender_uncovered\[1\] = -1: an SSG defender",
        ),
        (
            {"attacker_covered": "0.5,0,0,0", "attacker_uncovered": "0.2,1,1,1"},
            r"attacker_uncovered\[0\] = 0.2 is below attacker_covered\[0\] = 0.5",
        ),
        ({"defender_covered": "1,2"}, r"defender_covered has 2 values, expected n_targets=4"),
        ({"defender_covered": "1,x,2,3"}, r"defender_covered has 'x' at index \(1,\), not a num"),
        ({"attacker_covered": [0, 0, np.inf, 0]}, r"attacker_covered has a non-finite entry"),
        ({"zero_sum": True, "attacker_covered": "0,0,0,0"}, r"attacker_covered is given but zero"),
        ({"escalation": 1.5}, r"escalation must be in \[0, 1\], got 1.5"),
        ({"impact_exponent": -1}, r"impact_exponent must be in \[0, inf\), got -1"),
        ({"n_targets": 0}, r"n_targets must be an integer >= 1, got 0"),
        ({"zero_sum": "maybe"}, r"zero_sum must be true or false"),
    ],
)
def test_bad_parameters_are_refused_by_name(params, match):
    with pytest.raises(ValueError, match=match):
        games.make("security", **params)
