"""The electricity market: exactly linear with d = 7, its economics, a hand-solved hour."""

import math

import numpy as np
import pytest

from stackelberg_rl import games
from stackelberg_rl.games.electricity import regime_distributions
from stackelberg_rl.planning import stackelberg_equilibrium

SMALL = dict(hours=3, levels=2, n_prices=3, n_consumption=3, start_hour=17, seed=4)


def market_by_hand(p: dict) -> tuple[np.ndarray, np.ndarray, float]:
    """``P (H, S, A, B, S)``, ``r (2, H, S, A, B)`` and the scale ``R``, one entry at a time.

    Written from the module's docstring, not from its code: utility, payment, generation cost
    with the peak factor, the regime weights, and the next state as a product of the demand and
    the store distributions (the weather is the module's seeded noise).
    """
    H, L, A, B = p["hours"], p["levels"], p["n_prices"], p["n_consumption"]
    v, c1, c2 = p["utility"], p["cost_linear"], p["cost_quadratic"]
    nu_demand, nu_storage = regime_distributions(H, p["start_hour"], L, p["seed"])
    S = L * L
    P = np.zeros((H, S, A, B, S))
    raw = np.zeros((2, H, S, A, B))
    for h in range(H):
        clock = (p["start_hour"] + h) % 24
        kappa = 1 + p["peak_cost"] * max(0.0, math.cos(2 * math.pi * (clock - 19) / 24))
        for D in range(L):
            for s in range(L):
                x = D * L + s
                for a in range(A):
                    for b in range(B):
                        demand = (D + 1) / L
                        stored = p["storage"] * s / (L - 1) if L > 1 else 0.0
                        q = b / (B - 1)
                        price = p["price_max"] * (a + 1) / A
                        m = min(q, demand)
                        U = v * (m - m * m / (2 * demand))
                        g = max(q - stored, 0.0)
                        cost = c1 * g + c2 * g * g
                        raw[0, h, x, a, b] = U - kappa * cost
                        raw[1, h, x, a, b] = U - price * q
                        w_high = (1 + demand - q) / 2
                        left = stored - min(q, stored)
                        w_charged = 0.25 + left / (2 * p["storage"]) if p["storage"] else 0.25
                        for D2 in range(L):
                            for s2 in range(L):
                                p_demand = (
                                    w_high * nu_demand[h, 0, D2]
                                    + (1 - w_high) * nu_demand[h, 1, D2]
                                )
                                p_store = (
                                    w_charged * nu_storage[h, 0, s2]
                                    + (1 - w_charged) * nu_storage[h, 1, s2]
                                )
                                P[h, x, a, b, D2 * L + s2] = p_demand * p_store
    R = np.abs(raw).max()
    return P, raw / R, R


def test_the_market_is_linear_in_seven_features_exactly():
    p = {f.name: f.default for f in games.info("electricity").fields()} | SMALL
    game = games.make("electricity", **SMALL)
    P, r, R = market_by_hand(p)
    S, A, B = 4, 3, 3
    assert (game.n_states, game.n_leader_actions, game.n_follower_actions) == (S, A, B)
    assert game.dim == 7 < S * A * B
    assert np.linalg.norm(game.features, axis=-1).max() <= 1 + 1e-12
    for h in range(game.horizon):
        for x in range(S):
            for a in range(A):
                for b in range(B):
                    phi = game.features[x, a, b]
                    np.testing.assert_allclose(phi @ game.mu[h], P[h, x, a, b], atol=1e-12)
                    np.testing.assert_allclose(game.theta[:, h] @ phi, r[:, h, x, a, b], atol=1e-12)
    # The dense model is held as well: the game checked P = Φμ and r = Φθ itself.
    np.testing.assert_allclose(np.stack([game.transition(h) for h in range(3)]), P, atol=1e-12)
    np.testing.assert_allclose(game._rewards, r, atol=1e-12)
    assert game.payoff_scale == pytest.approx(R)


def test_defaults_are_a_small_general_sum_market():
    game = games.make("electricity")
    assert (game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions) == (
        6,
        9,
        3,
        3,
    )
    assert game.dim == 7 and game.is_factored and game._transitions is not None
    r = np.stack([game.reward(h) for h in range(game.horizon)], axis=1)
    assert np.abs(r).max() == pytest.approx(1.0)  # scaled into [-1, 1], using the range
    assert not np.allclose(r[1], -r[0])  # general-sum
    # The price is a transfer: it moves the consumers' reward, never the welfare.
    assert np.ptp(r[0], axis=2).max() == 0 and np.ptp(r[1], axis=2).max() > 0


def test_one_hour_solved_by_hand():
    # One hour, one demand level (desired δ = 1), no storage, prices p ∈ {0.4, 0.8}, consumption
    # q ∈ {0, 1}, v = 1, cost C(g) = 0.1 g + 0.1 g², no peak. Consuming one unit: utility
    # U = v(1 − 1/2) = 0.5, cost C(1) = 0.2, welfare 0.3; the consumers get 0.5 − 0.4 = 0.1 at the
    # low price and 0.5 − 0.8 = −0.3 at the high one; not consuming gives both 0. The largest raw
    # reward is R = 0.3. At p = 0.4 the consumers consume (0.1 > 0): welfare 0.3; at p = 0.8 they
    # do not (0 > −0.3): welfare 0. The utility posts the low price: V_l = 0.3/R = 1,
    # V_f = 0.1/R = 1/3.
    one_hour = dict(
        hours=1, levels=1, n_prices=2, n_consumption=2, price_max=0.8, utility=1.0,
        cost_linear=0.1, cost_quadratic=0.1, peak_cost=0.0, storage=0.0,
    )  # fmt: skip
    game = games.make("electricity", **one_hour)
    assert game.payoff_scale == pytest.approx(0.3)
    pi_l, pi_f, values = stackelberg_equilibrium(game)
    assert pi_l[0, 0].tolist() == [1, 0] and pi_f[0, 0].argmax(-1).tolist() == [1, 0]
    assert values.V[:, 0, 0] == pytest.approx([1.0, 1 / 3])
    # Dearer generation, C(1) = 0.5 + 0.2 = 0.7 > U: consuming destroys welfare (0.5 − 0.7 =
    # −0.2), so the utility posts the high price, which the consumers refuse (R is still 0.3):
    # V_l = V_f = 0.
    game = games.make("electricity", **one_hour | dict(cost_linear=0.5, cost_quadratic=0.2))
    pi_l, pi_f, values = stackelberg_equilibrium(game)
    assert pi_l[0, 0].tolist() == [0, 1] and pi_f[0, 0, 1].argmax() == 0
    assert values.V[:, 0, 0] == pytest.approx([0.0, 0.0])


def test_the_weather_seed_changes_only_the_dynamics():
    a, b = games.make("electricity", seed=1), games.make("electricity", seed=2)
    assert a.fingerprint() == games.make("electricity", seed=1).fingerprint()
    assert a.fingerprint() != b.fingerprint()
    assert np.array_equal(a.theta, b.theta) and not np.array_equal(a.mu, b.mu)


def test_large_markets_skip_the_dense_model():
    params = dict(levels=20, hours=4, n_prices=5, n_consumption=5)
    game = games.make("electricity", **params)
    assert game._transitions is None and game.n_states == 400
    estimate = games.info("electricity").estimate_bytes(params)
    assert estimate >= game.features.nbytes + game.mu.nbytes


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"utility": -1.0}, r"utility must be in \(0, inf\), got -1.0"),
        ({"utility": 0}, r"utility must be in \(0, inf\), got 0"),
        ({"cost_quadratic": -0.1}, r"cost_quadratic must be in \[0, inf\), got -0.1"),
        ({"cost_linear": "nan"}, r"cost_linear must be a number, not nan \(got 'nan'\)"),
        ({"price_max": 0}, r"price_max must be in \(0, inf\)"),
        ({"peak_cost": -1}, r"peak_cost must be in \[0, inf\)"),
        ({"storage": 1.5}, r"storage must be in \[0, 1\], got 1.5"),
        ({"levels": 0}, r"levels must be an integer >= 1, got 0"),
        ({"n_consumption": 1}, r"n_consumption must be an integer >= 2"),
        ({"start_hour": 24}, r"start_hour must be an integer in \[0, 23\], got 24"),
        ({"hours": "two"}, r"hours must be an integer, got 'two'"),
    ],
)
def test_bad_parameters_are_refused_by_name(params, match):
    with pytest.raises(ValueError, match=match):
        games.make("electricity", **params)
