"""Bimatrix games: the repeated ``matrix`` game, and mixed against pure commitment."""

import itertools
import json

import numpy as np
import pytest
import scipy.optimize
from scipy.optimize import OptimizeResult

from stackelberg_rl import games
from stackelberg_rl.planning import mixed_commitment, pure_commitment, stackelberg_equilibrium

# Conitzer & Sandholm (2006), "Computing the optimal strategy to commit to", EC'06, §1.
CS_LEADER, CS_FOLLOWER = [[2, 4], [1, 3]], [[1, 0], [0, 1]]


def test_the_conitzer_sandholm_example_by_hand():
    # Rows U, D (leader), columns L, R (follower); U strictly dominates D for the leader.
    # Pure commitment: U → the follower plays L (1 > 0), leader 2; D → R (1 > 0), leader 3.
    # Mixed: U with probability p; the follower gets p from L and 1 − p from R, so it plays R
    # when p <= 1/2 (ties to the leader). Under R the leader gets 4p + 3(1 − p) = 3 + p, best at
    # p = 1/2: 3.5; under L (p >= 1/2) it gets 2p + (1 − p) = 1 + p <= 2. So (1/2, 1/2), R, 3.5.
    x, b, v = mixed_commitment(CS_LEADER, CS_FOLLOWER)
    np.testing.assert_allclose(x, [0.5, 0.5], atol=1e-9)
    assert b == 1 and v == pytest.approx(3.5)
    assert pure_commitment(CS_LEADER, CS_FOLLOWER) == (1, 1, 3.0)


def test_strong_tie_breaking_by_hand():
    # The second example of OpenSpiel's stackelberg_lp_test (after Conitzer & Sandholm 2006).
    # Leader rows (2, 0, 0), (1, 0, 0); follower rows (0, 2, 5), (0, −1, −4). With p on row 0
    # the follower gets 0, 3p − 1, 9p − 4 from its columns; column 0 is a best response iff
    # p <= 1/3, and only column 0 pays the leader: 2p + (1 − p) = 1 + p, best at p = 1/3 where
    # the follower is indifferent between columns 0 and 1 and breaks the tie for the leader:
    # value 4/3. Pure: row 0 → column 2 (5), leader 0; row 1 → column 0 (0 > −1, −4), leader 1.
    L, F = [[2, 0, 0], [1, 0, 0]], [[0, 2, 5], [0, -1, -4]]
    x, b, v = mixed_commitment(L, F)
    np.testing.assert_allclose(x, [1 / 3, 2 / 3], atol=1e-9)
    assert b == 0 and v == pytest.approx(4 / 3)
    assert pure_commitment(L, F) == (1, 0, 1.0)


def _strong_value(x, L, F, tol=1e-9):
    """The leader's value of the mix ``x`` when the follower best-responds, ties to the leader."""
    follower = x @ F
    best = follower >= follower.max() - tol
    return (x @ L)[best].max()


def _vertex_enumeration(L, F):
    """The optimal commitment value by brute force: every vertex of every best-response region.

    The optimum of each LP is at a vertex of the simplex cut by the follower's indifference
    hyperplanes: a point where A − 1 of the constraints ``x_a = 0`` and
    ``x·F[:, b] = x·F[:, b']`` hold with ``Σ x = 1``. Solve every such system, keep the
    feasible points, and take the best strong value among them.
    """
    A, B = L.shape
    rows = [np.eye(A)[a] for a in range(A)]
    rows += [F[:, b] - F[:, c] for b, c in itertools.combinations(range(B), 2)]
    best = -np.inf
    for chosen in itertools.combinations(rows, A - 1):
        system = np.vstack([*chosen, np.ones(A)])
        if abs(np.linalg.det(system)) < 1e-12:
            continue
        x = np.linalg.solve(system, np.eye(A)[-1])
        if (x < -1e-12).any():
            continue
        x = np.clip(x, 0, None) / np.clip(x, 0, None).sum()
        best = max(best, _strong_value(x, L, F))
    return best


def test_mixed_commitment_equals_brute_force_on_random_games():
    rng = np.random.default_rng(0)
    for A, B in [(2, 2), (2, 3), (3, 2), (3, 3), (2, 4), (3, 4)]:
        for _ in range(8):
            L, F = rng.uniform(-1, 1, (A, B)), rng.uniform(-1, 1, (A, B))
            x, b, v = mixed_commitment(L, F)
            assert v == pytest.approx(_vertex_enumeration(L, F), abs=1e-7)
            assert x.min() >= 0 and x.sum() == pytest.approx(1.0)
            assert v == pytest.approx(x @ L[:, b]) and (x @ F)[b] >= (x @ F).max() - 1e-7
            # A grid of mixes can only do as well, and observing the action never helps.
            grid = [np.array([p, 1 - p]) for p in np.linspace(0, 1, 1001)] if A == 2 else []
            if grid:
                assert max(_strong_value(g, L, F) for g in grid) <= v + 1e-9
                assert max(_strong_value(g, L, F) for g in grid) >= v - 1e-2
            assert pure_commitment(L, F)[2] <= v + 1e-9


def test_the_value_does_not_depend_on_units():
    x, b, v = mixed_commitment(np.array(CS_LEADER) * 1e3, np.array(CS_FOLLOWER) * 1e-3 + 7)
    np.testing.assert_allclose(x, [0.5, 0.5], atol=1e-9)
    assert (b, v) == (1, pytest.approx(3500.0))


def test_a_failed_solve_raises_and_never_returns_a_value(monkeypatch):
    def numerical_trouble(*args, **kwargs):
        return OptimizeResult(status=4, message="numerical difficulties", x=None)

    monkeypatch.setattr(scipy.optimize, "linprog", numerical_trouble)
    with pytest.raises(RuntimeError, match=r"follower action 0 failed \(status 4"):
        mixed_commitment(CS_LEADER, CS_FOLLOWER)

    def all_infeasible(*args, **kwargs):
        return OptimizeResult(status=2, message="infeasible", x=None)

    monkeypatch.setattr(scipy.optimize, "linprog", all_infeasible)
    with pytest.raises(RuntimeError, match="no commitment LP was feasible"):
        mixed_commitment(CS_LEADER, CS_FOLLOWER)

    def wrong_point(c, *args, **kwargs):  # "optimal", but b = 1 is no best response to (1, 0)
        return OptimizeResult(status=0, message="", x=np.array([1.0, 0.0]))

    monkeypatch.setattr(scipy.optimize, "linprog", wrong_point)
    with pytest.raises(RuntimeError, match="short of a best response"):
        mixed_commitment([[0, 1], [0, 0]], CS_FOLLOWER)


@pytest.mark.parametrize(
    ("L", "F", "match"),
    [
        ([1, 2], [1, 2], r"leader_payoffs must be a non-empty matrix \(A, B\), got shape \(2,\)"),
        ([[1, np.nan]], [[1, 2]], r"leader_payoffs has a non-finite entry nan at index \(0, 1\)"),
        ([[1, 2]], [[1], [2]], r"follower_payoffs has shape \(2, 1\), leader_payoffs has \(1, 2\)"),
        ("1,2;x,4", [[1, 2], [3, 4]], r"leader_payoffs has 'x' at index \(1, 0\), not a number"),
    ],
)
def test_bad_matrices_are_refused(L, F, match):
    with pytest.raises(ValueError, match=match):
        mixed_commitment(L, F)


def test_the_repeated_game_is_linear_and_solved_by_hand():
    # Repeated H = 3 times, one state: each step the follower sees the action (pure
    # commitment): the leader plays D, the follower R, the leader gets 3 and the follower 1 per
    # step, over the scale 4: V_l = 3 · 3/4, V_f = 3 · 1/4.
    game = games.make("matrix", horizon=3)
    assert (game.n_states, game.n_leader_actions, game.n_follower_actions, game.dim) == (1, 2, 2, 4)
    for h in range(3):
        for a in range(2):
            for b in range(2):
                phi = game.features[0, a, b]
                assert phi @ game.mu[h] == pytest.approx([1.0])
                expected = np.array([CS_LEADER[a][b], CS_FOLLOWER[a][b]]) / 4
                np.testing.assert_allclose(game.theta[:, h] @ phi, expected, atol=1e-15)
    _, _, values = stackelberg_equilibrium(game)
    assert values.V[:, 0, 0] == pytest.approx([2.25, 0.75])


def test_payoffs_from_strings_arrays_and_presets():
    from_string = games.make("matrix", leader_payoffs="2,4;1,3", follower_payoffs=" 1, 0 ; 0, 1")
    from_array = games.make(
        "matrix", leader_payoffs=np.array(CS_LEADER), follower_payoffs=CS_FOLLOWER
    )
    preset = games.make("matrix", preset="commitment")
    assert from_string.fingerprint() == from_array.fingerprint() == preset.fingerprint()
    json.dumps(from_array.provenance)  # arrays are recorded as plain tuples
    assert from_array.provenance["params"]["leader_payoffs"] == ((2.0, 4.0), (1.0, 3.0))
    pennies = games.make("matrix", preset="matching-pennies")
    L, F = pennies._rewards[:, 0, 0] * pennies.payoff_scale
    assert mixed_commitment(L, F)[2] == pytest.approx(0.0) and pure_commitment(L, F)[2] == -1.0
    wide = games.make("matrix", leader_payoffs=[[100, -50, 0]], follower_payoffs=[[0, 1, 2]])
    assert wide.payoff_scale == 100 and (wide.n_leader_actions, wide.n_follower_actions) == (1, 3)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"preset": "chess"}, r"preset must be one of commitment, .*, got 'chess'"),
        ({"preset": "commitment", "leader_payoffs": "1", "follower_payoffs": "1"}, r"not both"),
        ({"leader_payoffs": "1,2;3,4"}, r"follower_payoffs is missing"),
        ({"leader_payoffs": "1,2;3", "follower_payoffs": "1"}, r"leader_payoffs row 1 has 1 ent"),
        ({"leader_payoffs": "1,x", "follower_payoffs": "1,2"}, r"has 'x' at index \(0, 1\)"),
        ({"leader_payoffs": "1,2", "follower_payoffs": "1;2"}, r"follower_payoffs has shape"),
        ({"leader_payoffs": [[1, np.inf]], "follower_payoffs": "1,2"}, r"non-finite entry"),
        ({"leader_payoffs": [1, 2], "follower_payoffs": "1,2"}, r"non-empty matrix \(A, B\)"),
        ({"horizon": 0}, r"horizon must be an integer >= 1, got 0"),
    ],
)
def test_bad_parameters_are_refused_by_name(params, match):
    with pytest.raises(ValueError, match=match):
        games.make("matrix", **params)
