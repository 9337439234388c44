"""The vectorised planner (math.md §2) against independent loop-by-loop computations.

Everything the planner returns is recomputed here with plain Python loops over ``h, x, a, b, x'``
(the model itself is rebuilt by loops from ``features, mu, theta`` for factored games), and best
responses are checked against brute-force enumeration of *all* deterministic policies.
"""

import itertools
import math

import numpy as np
import pytest
from helpers import declared_linear, dense_model
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stackelberg_rl import planning
from stackelberg_rl.games import (
    FiniteGame,
    one_hot_features,
    random_linear,
    random_tabular,
    tabular,
)
from stackelberg_rl.planning import (
    evaluate,
    follower_best_response,
    leader_best_response,
    player_regrets,
    regret,
    stackelberg_equilibrium,
)

# derandomize: the same examples on every run (a flaky test is a broken test); deadline=None:
# these machines are noisy.
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


# ---------------------------------------------------------------------- independent references
def loop_model(game):
    """``P (H, S, A, B, S)`` and ``R (2, H, S, A, B)`` rebuilt by loops from what the game holds."""
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    if not game.is_factored:
        return dense_model(game)
    phi, mu, theta = game.features, game.mu, game.theta
    P = np.zeros((H, S, A, B, S))
    R = np.zeros((2, H, S, A, B))
    for h, x, a, b in itertools.product(range(H), range(S), range(A), range(B)):
        for i in range(game.dim):
            for y in range(S):
                P[h, x, a, b, y] += phi[x, a, b, i] * mu[h, i, y]
            for m in range(2):
                R[m, h, x, a, b] += phi[x, a, b, i] * theta[m, h, i]
    return P, R


def loop_evaluate(P, R, pi_l, pi_f):
    """math.md §2 by loops over ``h, x, a, b, x'``; vectorised only over a batch of policies.

    Args: ``pi_l (N, H, S, A)``, ``pi_f (N, H, S, A, B)``.
    Returns: ``Q (N, 2, H, S, A, B)``, ``q (N, 2, H, S, A)`` (q_l, vbar_f), ``V (N, 2, H, S)``.
    """
    H, S, A, B = P.shape[:4]
    N = pi_l.shape[0]
    Q = np.zeros((N, 2, H, S, A, B))
    q = np.zeros((N, 2, H, S, A))
    V = np.zeros((N, 2, H + 1, S))
    for h in reversed(range(H)):
        for x in range(S):
            for a in range(A):
                for b in range(B):
                    for m in range(2):
                        total = np.full(N, R[m, h, x, a, b])
                        for y in range(S):
                            total = total + P[h, x, a, b, y] * V[:, m, h + 1, y]
                        Q[:, m, h, x, a, b] = total
                for m in range(2):
                    for b in range(B):
                        q[:, m, h, x, a] += pi_f[:, h, x, a, b] * Q[:, m, h, x, a, b]
            for m in range(2):
                for a in range(A):
                    V[:, m, h, x] += pi_l[:, h, x, a] * q[:, m, h, x, a]
    return Q, q, V[:, :, :H]


def loop_values(P, R, pi_l, pi_f):
    """:func:`loop_evaluate` of one pair of policies, without the batch axis."""
    Q, q, V = loop_evaluate(P, R, pi_l[None], pi_f[None])
    return Q[0], q[0], V[0]


def all_deterministic(n_actions, n_slots):
    """All one-hot assignments of ``n_actions`` actions to ``n_slots`` slots: ``(N, n_slots, n)``"""
    # row i writes i in base n_actions: all n_actions ** n_slots choices, each once
    choices = (
        np.arange(n_actions**n_slots)[:, None] // n_actions ** np.arange(n_slots)
    ) % n_actions
    return np.eye(n_actions)[choices]


def brute_force_leader(P, R, pi_f):
    """``max`` over all ``A^(H·S)`` deterministic leader policies of ``V_{l,0}(x)``, per ``x``."""
    H, S, A, B = P.shape[:4]
    pols = all_deterministic(A, H * S).reshape(-1, H, S, A)
    _, _, V = loop_evaluate(P, R, pols, np.broadcast_to(pi_f, (len(pols), H, S, A, B)))
    return V[:, 0, 0].max(axis=0)


def brute_force_follower(P, R, pi_l, max_policies=2**12):
    """``max`` over all ``B^(H·S·A)`` deterministic follower policies of ``V̄_{f,0}(x, a)``.

    Up to ``max_policies`` policies every one is evaluated. Beyond that (``H = 3, S = 3, A = B = 2``
    has 2^18) the step-0 part is enumerated through ``Q_{f,0}``: ``V̄_{f,0}(x, a)`` depends on the
    step-0 policy only through its choice at ``(x, a)`` itself, so the maximum over all policies
    is the maximum over the policies of steps ``1..H-1`` and over ``b`` of ``Q_{f,0}(x, a, b)``.
    """
    H, S, A, B = P.shape[:4]
    if B ** (H * S * A) <= max_policies:
        pols = all_deterministic(B, H * S * A).reshape(-1, H, S, A, B)
        _, q, _ = loop_evaluate(P, R, np.broadcast_to(pi_l, (len(pols), H, S, A)), pols)
        return q[:, 1, 0].max(axis=0)
    later = all_deterministic(B, (H - 1) * S * A).reshape(-1, H - 1, S, A, B)
    step0 = np.broadcast_to(np.eye(B)[0], (len(later), 1, S, A, B))  # irrelevant to Q_{f,0}
    pols = np.concatenate([step0, later], axis=1)
    Q, _, _ = loop_evaluate(P, R, np.broadcast_to(pi_l, (len(pols), H, S, A)), pols)
    return Q[:, 1, 0].max(axis=(0, -1))


def test_brute_force_follower_shortcut_equals_full_enumeration():
    # the test's own helper: the step-0 shortcut and the 4096-policy enumeration agree
    game = random_tabular(3, 2, 2, 2, seed=9)
    P, R = loop_model(game)
    pi_l, _ = random_policies(game, 9)
    full = brute_force_follower(P, R, pi_l)
    np.testing.assert_allclose(brute_force_follower(P, R, pi_l, max_policies=1), full, atol=1e-15)


def loop_best_responses(P, R, pi_l, pi_f):
    """Best-response values by loop backward induction: ``V_l* (H, S)``, ``vbar_f* (H, S, A)``."""
    H, S, A, B = P.shape[:4]
    Vl = np.zeros((H + 1, S))  # leader's value, best-responding to pi_f
    Vf = np.zeros((H + 1, S))  # follower's value, best-responding to pi_l
    vbar = np.zeros((H, S, A))
    for h in reversed(range(H)):
        for x in range(S):
            best_l = -np.inf
            for a in range(A):
                q_l, best_f = 0.0, -np.inf
                for b in range(B):
                    Ql, Qf = R[0, h, x, a, b], R[1, h, x, a, b]
                    for y in range(S):
                        Ql += P[h, x, a, b, y] * Vl[h + 1, y]
                        Qf += P[h, x, a, b, y] * Vf[h + 1, y]
                    q_l += pi_f[h, x, a, b] * Ql
                    best_f = max(best_f, Qf)
                best_l = max(best_l, q_l)
                vbar[h, x, a] = best_f
                Vf[h, x] += pi_l[h, x, a] * best_f
            Vl[h, x] = best_l
    return Vl[:H], vbar


def loop_stackelberg(P, R, tie_break, tol=1e-9, eps=1e-12):
    """Subgame-perfect Stackelberg solution by plain backward induction (math.md §2).

    At each ``(h, x)`` and every ``a``, the follower takes the ``b`` maximising ``Q_f`` (within
    ``tol``), ties broken for the leader ("leader") or against it ("follower"), first index on
    exact ties; the leader takes the first ``a`` maximising ``Q_l(x, a, b*(x, a))``.

    Returns:
        ``pi_l, pi_f, V (2, H, S)`` and masks ``ok_l (H, S, A)``, ``ok_f (H, S, A, B)`` of the
        choices that are as good as the chosen one up to round-off ``eps`` (in degenerate games,
        e.g. ``d = 1``, every action ties exactly and round-off alone picks the first).
    """
    H, S, A, B = P.shape[:4]
    sign = 1.0 if tie_break == "leader" else -1.0
    V = np.zeros((2, H + 1, S))
    pi_l, ok_l = np.zeros((H, S, A)), np.zeros((H, S, A), dtype=bool)
    pi_f, ok_f = np.zeros((H, S, A, B)), np.zeros((H, S, A, B), dtype=bool)
    for h in reversed(range(H)):
        for x in range(S):
            outcome = np.zeros((A, 2))  # (Q_l, Q_f) at (a, b*(x, a))
            for a in range(A):
                Q = np.zeros((2, B))
                for b in range(B):
                    for m in range(2):
                        Q[m, b] = R[m, h, x, a, b]
                        for y in range(S):
                            Q[m, b] += P[h, x, a, b, y] * V[m, h + 1, y]
                top = max(Q[1, b] for b in range(B))
                candidates = [b for b in range(B) if Q[1, b] >= top - tol]
                b_star = candidates[0]
                for b in candidates:
                    if sign * Q[0, b] > sign * Q[0, b_star]:
                        b_star = b
                pi_f[h, x, a, b_star] = 1.0
                for b in candidates:
                    ok_f[h, x, a, b] = abs(Q[0, b] - Q[0, b_star]) <= eps
                outcome[a] = Q[:, b_star]
            best_a = 0
            for a in range(A):
                if outcome[a, 0] > outcome[best_a, 0]:
                    best_a = a
            pi_l[h, x, best_a] = 1.0
            for a in range(A):
                ok_l[h, x, a] = outcome[a, 0] >= outcome[best_a, 0] - eps
            V[:, h, x] = outcome[best_a]
    return pi_l, pi_f, V[:, :H], ok_l, ok_f


# ---------------------------------------------------------------------- random tiny games
def make_game(kind, S, A, B, H, seed):
    if kind == "linear":
        return random_linear(S, A, B, 1 + seed % 3, H, seed=seed)
    return random_tabular(S, A, B, H, seed=seed)


def random_policies(game, seed):
    rng = np.random.default_rng(np.random.SeedSequence([seed, 12345]))
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    # Dirichlet(0.5) mixes near-deterministic and spread-out rows
    return rng.dirichlet(np.full(A, 0.5), size=(H, S)), rng.dirichlet(
        np.full(B, 0.5), size=(H, S, A)
    )


tiny_games = st.tuples(
    st.sampled_from(["linear", "tabular"]),
    st.integers(1, 3),  # S
    st.integers(1, 2),  # A
    st.integers(1, 2),  # B
    st.integers(1, 3),  # H
    st.integers(0, 2**32 - 1),  # seed
)


def largest_too(test):
    """Always include the largest tiny games: hypothesis favours small sizes."""
    for kind in ("linear", "tabular"):
        for seed in (1, 2**31 + 7):
            test = example((kind, 3, 2, 2, 3, seed))(test)
    return test


def on_tiny_games(test):
    """A property over :data:`tiny_games`, the largest ones always among the examples."""
    return SETTINGS(given(tiny_games)(largest_too(test)))


def is_deterministic(pi):
    return np.all((pi == 0) | (pi == 1)) and np.all(pi.sum(-1) == 1)


# ---------------------------------------------------------------------- (a) brute-force checks
@on_tiny_games
def test_evaluate_equals_the_loop_evaluator(params):
    game = make_game(*params)
    pi_l, pi_f = random_policies(game, params[-1])
    P, R = loop_model(game)
    Q, q, V = loop_values(P, R, pi_l, pi_f)
    values = evaluate(game, pi_l, pi_f)
    np.testing.assert_allclose(values.Q, Q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(values.q_l, q[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(values.vbar_f, q[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(values.V, V, rtol=0, atol=1e-12)


@on_tiny_games
def test_leader_best_response_is_the_best_deterministic_policy(params):
    game = make_game(*params)
    _, pi_f = random_policies(game, params[-1])
    P, R = loop_model(game)
    pi_l, values = leader_best_response(game, pi_f)
    assert is_deterministic(pi_l)
    # the returned values are those of the returned policy
    _, _, V = loop_values(P, R, pi_l, pi_f)
    np.testing.assert_allclose(values.V, V, rtol=0, atol=1e-12)
    # and no deterministic leader policy does better at any initial state
    np.testing.assert_allclose(values.V[0, 0], brute_force_leader(P, R, pi_f), rtol=0, atol=1e-12)


@on_tiny_games
def test_follower_best_response_is_the_best_deterministic_policy(params):
    game = make_game(*params)
    pi_l, _ = random_policies(game, params[-1])
    P, R = loop_model(game)
    pi_f, values = follower_best_response(game, pi_l)
    assert is_deterministic(pi_f)
    _, q, V = loop_values(P, R, pi_l, pi_f)
    np.testing.assert_allclose(values.vbar_f, q[1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(values.V, V, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        values.vbar_f[0], brute_force_follower(P, R, pi_l), rtol=0, atol=1e-12
    )


@SETTINGS
@given(tiny_games, st.sampled_from(["leader", "follower"]))
@example(("linear", 3, 2, 2, 3, 5), "leader")
@example(("tabular", 3, 2, 2, 3, 6), "follower")
def test_stackelberg_equilibrium_equals_the_loop_solution(params, tie_break):
    game = make_game(*params)
    P, R = loop_model(game)
    pi_l, pi_f, values = stackelberg_equilibrium(game, tie_break)
    ref_l, ref_f, ref_V, ok_l, ok_f = loop_stackelberg(P, R, tie_break)
    np.testing.assert_allclose(values.V, ref_V, rtol=0, atol=1e-12)
    assert is_deterministic(pi_l) and is_deterministic(pi_f)
    # the same choices, except where two are equally good up to round-off
    assert np.all(ok_l[pi_l == 1]) and np.all(ok_f[pi_f == 1])
    if ok_l.sum() == ok_l[..., 0].size and ok_f.sum() == ok_f[..., 0].size:
        np.testing.assert_array_equal(pi_l, ref_l)
        np.testing.assert_array_equal(pi_f, ref_f)
    # its values are those of its policies, and it is subgame perfect: each player best-responds
    _, _, V = loop_values(P, R, pi_l, pi_f)
    np.testing.assert_allclose(values.V, V, rtol=0, atol=1e-12)
    x1, a1 = np.indices((game.n_states, game.n_leader_actions)).reshape(2, -1)
    r = player_regrets(game, [pi_l, pi_f], x1, [a1])
    assert np.abs(r).max() < 1e-9


def tie_game():
    """H = 2, S = 2, A = B = 2; the follower is indifferent where it matters.

    Step 1, state 0 (all transitions return to state 0; only rewards matter at the last step):
        a = 0: r_f(0, 0) = r_f(0, 1) = 0.5 (a tie), r_l(0, 0) = 1, r_l(0, 1) = -1
        a = 1: r_f(1, 0) = 1 > r_f(1, 1) = 0 (b = 0), r_l(1, 0) = 0.5, r_l(1, 1) = 0
      strong (ties for the leader): b*(0) = 0 → 1, b*(1) = 0 → 0.5; a = 0: V(1, 0) = (1, 0.5)
      weak (ties against it):       b*(0) = 1 → -1, b*(1) = 0 → 0.5; a = 1: V(1, 0) = (0.5, 1)
    Step 1, state 1: every (a, b) pays (0.8, 0.2): V(1, 1) = (0.8, 0.2) under both rules.
    Step 0, state 0: rewards 0; a = 0 leads to state 0, a = 1 to state 1, whatever b.
      strong: Q_l(a=0) = 1 > Q_l(a=1) = 0.8 → a = 0, V(0, 0) = (1, 0.5)
      weak:   Q_l(a=0) = 0.5 < Q_l(a=1) = 0.8 → a = 1, V(0, 0) = (0.8, 0.2)
    (Step 0, state 1 mirrors state 0 with the actions' destinations swapped.)
    """
    H, S, A, B = 2, 2, 2, 2
    P = np.zeros((H, S, A, B, S))
    R = np.zeros((2, H, S, A, B))
    P[0, 0, 0, :, 0] = P[0, 0, 1, :, 1] = 1.0
    P[0, 1, 0, :, 1] = P[0, 1, 1, :, 0] = 1.0
    P[1, :, :, :, 0] = 1.0
    R[0, 1, 0] = [[1.0, -1.0], [0.5, 0.0]]
    R[1, 1, 0] = [[0.5, 0.5], [1.0, 0.0]]
    R[0, 1, 1], R[1, 1, 1] = 0.8, 0.2
    return tabular(P, R)


def test_strong_and_weak_stackelberg_differ_on_follower_ties():
    game = tie_game()
    P, R = loop_model(game)
    pi_l, pi_f, values = stackelberg_equilibrium(game, "leader")
    np.testing.assert_allclose(values.V[:, 0, 0], [1.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(values.V[:, 1, 0], [1.0, 0.5], atol=1e-15)
    np.testing.assert_allclose(values.V[:, 1, 1], [0.8, 0.2], atol=1e-15)
    np.testing.assert_allclose(values.V[:, 0, 1], [1.0, 0.5], atol=1e-15)  # a = 1 → state 0
    assert pi_l[0, 0, 0] == 1 and pi_l[1, 0, 0] == 1 and pi_f[1, 0, 0, 0] == 1
    pi_l_w, pi_f_w, weak = stackelberg_equilibrium(game, "follower")
    np.testing.assert_allclose(weak.V[:, 0, 0], [0.8, 0.2], atol=1e-15)
    np.testing.assert_allclose(weak.V[:, 1, 0], [0.5, 1.0], atol=1e-15)
    np.testing.assert_allclose(weak.V[:, 0, 1], [0.8, 0.2], atol=1e-15)  # a = 0 → state 1
    assert pi_l_w[0, 0, 1] == 1 and pi_l_w[1, 0, 1] == 1 and pi_f_w[1, 0, 0, 1] == 1
    for tie_break, (ref_l, ref_f, ref_V) in [
        ("leader", (pi_l, pi_f, values.V)),
        ("follower", (pi_l_w, pi_f_w, weak.V)),
    ]:
        loop_l, loop_f, loop_V, _, _ = loop_stackelberg(P, R, tie_break)
        np.testing.assert_array_equal(loop_l, ref_l)
        np.testing.assert_array_equal(loop_f, ref_f)
        np.testing.assert_allclose(loop_V, ref_V, atol=1e-15)


def test_stackelberg_ties_within_tolerance_count_as_ties():
    game = tie_game()
    P, R = dense_model(game)
    R[1, 1, 0, 0, 1] += 1e-12  # b = 1 now "better" for the follower by round-off only
    strong = stackelberg_equilibrium(tabular(P, R), "leader")[2]
    np.testing.assert_allclose(strong.V[:, 0, 0], [1.0, 0.5], atol=1e-11)
    R[1, 1, 0, 0, 1] += 1e-6  # a real preference: the follower plays b = 1 after a = 0
    strong = stackelberg_equilibrium(tabular(P, R), "leader")[2]
    np.testing.assert_allclose(strong.V[:, 0, 0], [0.8, 0.2], atol=1e-11)


def test_stackelberg_rejects_unknown_tie_break():
    with pytest.raises(ValueError, match="tie_break must be 'leader' or 'follower'"):
        stackelberg_equilibrium(tie_game(), "strong")


@pytest.mark.parametrize("tol", [math.nan, -1e-3, math.inf, "0"])
def test_stackelberg_rejects_a_tolerance_that_is_not_a_finite_non_negative_number(tol):
    # With tol = NaN no b passes the maximiser test, so the follower's rule used to fall back to
    # the leader's favourite b: not a best response (a positive follower gap), yet returned.
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        stackelberg_equilibrium(random_linear(4, 2, 3, 3, 2, seed=0), tol=tol)


# ---------------------------------------------------------------------- (b) dense vs factored
def dense_twins(game):
    """The same game as dense only and as both forms (declared linear)."""
    P, R = dense_model(game)
    dense = FiniteGame(game.features, game.initial_distribution, transitions=P, rewards=R)
    return dense, declared_linear(game)


def assert_same_values(v1, v2, tol=1e-10):
    for name in ("Q", "q_l", "vbar_f", "V"):
        np.testing.assert_allclose(
            getattr(v1, name), getattr(v2, name), rtol=0, atol=tol, err_msg=name
        )


def assert_same_plans(g1, g2, pi_l, pi_f):
    assert_same_values(evaluate(g1, pi_l, pi_f), evaluate(g2, pi_l, pi_f))
    for br in (lambda g: leader_best_response(g, pi_f), lambda g: follower_best_response(g, pi_l)):
        (p1, v1), (p2, v2) = br(g1), br(g2)
        np.testing.assert_array_equal(p1, p2)
        assert_same_values(v1, v2)
    for tie_break in ("leader", "follower"):
        l1, f1, v1 = stackelberg_equilibrium(g1, tie_break)
        l2, f2, v2 = stackelberg_equilibrium(g2, tie_break)
        np.testing.assert_array_equal(l1, l2)
        np.testing.assert_array_equal(f1, f2)
        assert_same_values(v1, v2)


@pytest.mark.parametrize("seed", range(6))
def test_dense_and_factored_forms_agree(seed):
    game = random_linear(8, 3, 2, 4, 4, seed=seed)
    pi_l, pi_f = random_policies(game, seed)
    dense, both = dense_twins(game)
    assert not dense.is_factored and both.is_factored
    assert_same_plans(game, dense, pi_l, pi_f)
    assert_same_plans(game, both, pi_l, pi_f)


@pytest.mark.parametrize("seed", range(3))
def test_tabular_game_as_a_factored_one_hot_game_agrees(seed):
    dense = random_tabular(4, 2, 3, 3, seed=seed)
    H, S, A, B = 3, 4, 2, 3
    P, R = dense_model(dense)
    factored = FiniteGame(
        one_hot_features(S, A, B),
        dense.initial_distribution,
        mu=P.reshape(H, S * A * B, S),
        theta=R.reshape(2, H, S * A * B),
    )
    pi_l, pi_f = random_policies(dense, seed)
    assert_same_plans(dense, factored, pi_l, pi_f)


# ---------------------------------------------------------------------- (c) regret
@on_tiny_games
def test_regret_is_nonnegative_and_matches_the_loop_computation(params):
    game = make_game(*params)
    pi_l, pi_f = random_policies(game, params[-1])
    P, R = loop_model(game)
    _, q, V = loop_values(P, R, pi_l, pi_f)
    Vl_star, vbar_star = loop_best_responses(P, R, pi_l, pi_f)
    for x1, a1 in itertools.product(range(game.n_states), range(game.n_leader_actions)):
        r_l, r_f = regret(game, pi_l, pi_f, x1, a1)
        assert r_l >= -1e-9 and r_f >= -1e-9
        # eq. (9): V_l^{BR_l(pi_f), pi_f}(x1) − V_l^{pi_l, pi_f}(x1)
        assert r_l == pytest.approx(Vl_star[0, x1] - V[0, 0, x1], abs=1e-12)
        # eq. (10): V̄_f^{pi_l, BR_f(pi_l)}(x1, a1) − V̄_f^{pi_l, pi_f}(x1, a1)
        assert r_f == pytest.approx(vbar_star[0, x1, a1] - q[1, 0, x1, a1], abs=1e-12)


@on_tiny_games
def test_regret_is_zero_for_a_best_responding_player(params):
    game = make_game(*params)
    pi_l, pi_f = random_policies(game, params[-1])
    xs, as_ = np.indices((game.n_states, game.n_leader_actions)).reshape(2, -1)
    best_l, _ = leader_best_response(game, pi_f)
    assert np.abs(player_regrets(game, [best_l, pi_f], xs, [as_])[0]).max() < 1e-9
    best_f, _ = follower_best_response(game, pi_l)
    assert np.abs(player_regrets(game, [pi_l, best_f], xs, [as_])[1]).max() < 1e-9


@on_tiny_games
def test_fused_regrets_equal_the_three_separate_passes(params):
    # player_regrets() runs the three backward passes together; it must equal evaluate and the two
    # best responses run one by one.
    game = make_game(*params)
    pi_l, pi_f = random_policies(game, params[-1])
    xs, as_ = np.indices((game.n_states, game.n_leader_actions)).reshape(2, -1)
    values = evaluate(game, pi_l, pi_f)
    best_l = leader_best_response(game, pi_f)[1]
    best_f = follower_best_response(game, pi_l)[1]
    expected = np.stack(
        [
            best_l.V[0, 0, xs] - values.V[0, 0, xs],
            best_f.vbar_f[0, xs, as_] - values.vbar_f[0, xs, as_],
        ]
    )
    np.testing.assert_allclose(
        player_regrets(game, [pi_l, pi_f], xs, [as_]), expected, rtol=0, atol=1e-12
    )


@pytest.mark.parametrize(
    ("x1", "a1", "match"),
    [(3, 0, r"x1 must hold integers in \[0, 3\)"), (-1, 0, "x1"), (0, 2, "a1"), (0.5, 0, "x1")],
)
def test_regret_rejects_bad_initial_state_or_action(x1, a1, match):
    game = random_linear(3, 2, 2, 2, 2, seed=0)
    pi_l, pi_f = random_policies(game, 0)
    with pytest.raises(ValueError, match=match):
        regret(game, pi_l, pi_f, x1, a1)


def test_regret_is_positive_for_a_bad_player():
    # The regrets must not be zero by accident: in the hand-made game, the leader who plays
    # a = 1 at step 1 in state 0 against the strong follower loses 1 - 0.5 = 0.5.
    game = tie_game()
    pi_l, pi_f, _ = stackelberg_equilibrium(game, "leader")
    bad_l = pi_l.copy()
    bad_l[1, 0] = [0.0, 1.0]
    r_l, r_f = regret(game, bad_l, pi_f, 0, 0)
    assert r_l == pytest.approx(0.5, abs=1e-12) and r_f == pytest.approx(0.0, abs=1e-12)
    # the follower playing b = 1 after a = 1 at step 1 in state 0 loses 1 - 0 = 1
    bad_f = pi_f.copy()
    bad_f[1, 0, 1] = [0.0, 1.0]
    assert bad_l[0, 0, 0] == 1.0
    r = player_regrets(game, [bad_l, bad_f], np.array([0, 0]), [np.array([0, 1])])
    assert r[1, 0] == pytest.approx(1.0, abs=1e-12)  # a1 = 0 leads to (1, 0), where a = 1
    assert r[1, 1] == pytest.approx(0.0, abs=1e-12)  # a1 = 1 leads to state 1: no loss


# ---------------------------------------------------------------------- (d) policy validation
H0, S0, A0, B0 = 2, 3, 2, 2


@pytest.fixture
def small():
    game = random_linear(S0, A0, B0, 2, H0, seed=0)
    return game, np.full((H0, S0, A0), 1 / A0), np.full((H0, S0, A0, B0), 1 / B0)


@pytest.mark.parametrize(
    ("player", "mutate", "match"),
    [
        ("pi_l", lambda p: p[:, :, :1], r"pi_l has shape \(2, 3, 1\), expected \(2, 3, 2\)"),
        ("pi_l", lambda p: p[None], r"pi_l has shape \(1, 2, 3, 2\), expected \(2, 3, 2\)"),
        ("pi_f", lambda p: p[:, :2], r"pi_f has shape \(2, 2, 2, 2\), expected \(2, 3, 2, 2\)"),
        ("pi_l", "sum", r"pi_l does not sum to 1 at index \(1, 2\) \(h, x\)"),
        ("pi_f", "sum", r"pi_f does not sum to 1 at index \(1, 2, 1\) \(h, x, a\)"),
        ("pi_l", "neg", r"pi_l has a negative probability -0\.5 at index \(1, 2, 0\)"),
        ("pi_f", "neg", r"pi_f has a negative probability -0\.5 at index \(1, 2, 1, 0\)"),
        ("pi_l", "nan", r"pi_l has a non-finite entry \S+ at index \(1, 2, 0\)"),
        ("pi_f", "nan", r"pi_f has a non-finite entry \S+ at index \(1, 2, 1, 0\)"),
        ("pi_l", "inf", r"pi_l has a non-finite entry \S+ at index \(1, 2, 0\)"),
        ("pi_f", "inf", r"pi_f has a non-finite entry \S+ at index \(1, 2, 1, 0\)"),
        ("pi_l", "huge", r"pi_l does not sum to 1 at index \(1, 2\) \(h, x\) \(sum inf\)"),
        (
            "pi_f",
            lambda p: p.astype(str),
            r"pi_f must hold probabilities \(numbers\), got dtype <U",
        ),
    ],
)
def test_policy_validation(small, player, mutate, match):
    game, pi_l, pi_f = small
    pi = {"pi_l": pi_l, "pi_f": pi_f}[player].copy()
    last = (1, 2) if player == "pi_l" else (1, 2, 1)
    if mutate == "sum":
        pi[last] *= 0.9
    elif mutate == "neg":
        pi[last] = 0.0
        pi[(*last, 0)], pi[(*last, 1)] = -0.5, 1.5
    elif mutate == "nan":
        pi[(*last, 0)] = np.nan
    elif mutate == "inf":
        pi[(*last, 0)], pi[(*last, 1)] = np.inf, -np.inf  # inf - inf: the row sum is NaN
    elif mutate == "huge":  # finite entries whose row sum overflows: not a non-finite entry
        pi[(*last, 0)], pi[(*last, 1)] = 1e308, 1e308
    else:
        pi = mutate(pi)
    args = {"pi_l": pi_l, "pi_f": pi_f, player: pi}
    with pytest.raises(ValueError, match=match):
        evaluate(game, args["pi_l"], args["pi_f"])
    with pytest.raises(ValueError, match=match):
        regret(game, args["pi_l"], args["pi_f"], 0, 0)
    with pytest.raises(ValueError, match=match):
        if player == "pi_f":
            leader_best_response(game, pi)
        else:
            follower_best_response(game, pi)


def test_policies_within_tolerance_and_lists_are_accepted(small):
    game, pi_l, pi_f = small
    pi_l = pi_l.copy()
    pi_l[0, 0, 0] += 1e-11
    evaluate(game, pi_l.tolist(), pi_f.tolist())
    planning.check_policies(game, pi_l.tolist(), None)


def test_a_rule_is_a_policy_only_where_a_backward_pass_fills_it_in(small):
    """``evaluate`` and the best responses take a :data:`Rule`; a regret needs the tables."""
    game, pi_l, pi_f = small
    rule = planning.stackelberg_rules()[1]
    assert evaluate(game, pi_l, rule).V.shape == (2, game.horizon, game.n_states)
    with pytest.raises(ValueError, match="pi_f has shape"):
        regret(game, pi_l, rule, 0, 0)


# ---------------------------------------------------------------------- (f) the soft-max bias
def loop_softmax_policies(P, R, alpha_l, alpha_f):
    """Algorithm 1, lines 9–14, on the true model, by loops with ``math.exp``."""
    H, S, A, B = P.shape[:4]
    V = np.zeros((2, H + 1, S))
    pi_l, pi_f = np.zeros((H, S, A)), np.zeros((H, S, A, B))
    for h in reversed(range(H)):
        for x in range(S):
            q = np.zeros((2, A))
            for a in range(A):
                Q = np.zeros((2, B))
                for b in range(B):
                    for m in range(2):
                        Q[m, b] = R[m, h, x, a, b]
                        for y in range(S):
                            Q[m, b] += P[h, x, a, b, y] * V[m, h + 1, y]
                top = max(Q[1])
                weights = [math.exp(alpha_f * (Q[1, b] - top)) for b in range(B)]
                for b in range(B):
                    pi_f[h, x, a, b] = weights[b] / sum(weights)
                    for m in range(2):
                        q[m, a] += pi_f[h, x, a, b] * Q[m, b]
            top = max(q[0])
            weights = [math.exp(alpha_l * (q[0, a] - top)) for a in range(A)]
            for a in range(A):
                pi_l[h, x, a] = weights[a] / sum(weights)
                for m in range(2):
                    V[m, h, x] += pi_l[h, x, a] * q[m, a]
    return pi_l, pi_f


def loop_softmax_bias(game, alpha_l, alpha_f):
    """The expected regret of loop soft-max play: eqs. (9), (10) by loops, averaged by loops."""
    P, R = loop_model(game)
    pi_l, pi_f = loop_softmax_policies(P, R, alpha_l, alpha_f)
    _, q, V = loop_values(P, R, pi_l, pi_f)
    Vl_star, vbar_star = loop_best_responses(P, R, pi_l, pi_f)
    bias = np.zeros(2)
    for x in range(game.n_states):
        p = game.initial_distribution[x]
        bias[0] += p * (Vl_star[0, x] - V[0, 0, x])
        for a in range(game.n_leader_actions):
            bias[1] += p * pi_l[0, x, a] * (vbar_star[0, x, a] - q[1, 0, x, a])
    return pi_l, pi_f, bias


alphas = st.sampled_from([0.0, 0.3, 2.0, 25.0])


@SETTINGS
@given(tiny_games, alphas, alphas)
@example(("linear", 3, 2, 2, 3, 1), 2.0, 0.3)
@example(("tabular", 3, 2, 2, 3, 2**31 + 7), 25.0, 2.0)
def test_softmax_bias_equals_the_loop_computation_and_lemma_2_bounds_it(params, alpha_l, alpha_f):
    game = make_game(*params)
    pi_l, pi_f, values = planning.softmax_solution(game, alpha_l, alpha_f)
    ref_l, ref_f, ref_bias = loop_softmax_bias(game, alpha_l, alpha_f)
    np.testing.assert_allclose(pi_l, ref_l, atol=1e-12)
    np.testing.assert_allclose(pi_f, ref_f, atol=1e-12)
    np.testing.assert_allclose(values.V, evaluate(game, pi_l, pi_f).V, atol=1e-12)
    bias = planning.softmax_bias(game, alpha_l, alpha_f)
    np.testing.assert_allclose(bias, ref_bias, atol=1e-12)
    assert (bias >= -1e-12).all()
    # Lemmas 2 and 4: at most H·log(n)/α per episode (infinite at α = 0, where play is uniform).
    assert (bias <= planning.softmax_bias_bound(game, alpha_l, alpha_f) + 1e-12).all()


def test_softmax_bias_vanishes_as_alpha_grows_and_the_bound_is_lemma_2s():
    game = random_linear(12, 3, 2, 4, 4, seed=3)
    biases = [planning.softmax_bias(game, a, a) for a in (1.0, 10.0, 100.0, 1e4)]
    assert all((b1 >= b2 - 1e-12).all() for b1, b2 in zip(biases, biases[1:], strict=False))
    np.testing.assert_allclose(biases[-1], 0.0, atol=1e-6)
    np.testing.assert_array_equal(planning.softmax_bias(game, np.inf, np.inf), [0.0, 0.0])
    bound = planning.softmax_bias_bound(game, 2.0, 4.0)
    np.testing.assert_allclose(bound, [4 * math.log(3) / 2.0, 4 * math.log(2) / 4.0])
    np.testing.assert_array_equal(planning.softmax_bias_bound(game, np.inf, 0.0), [0.0, np.inf])
    with pytest.raises(ValueError, match="alpha"):
        planning.softmax_bias_bound(game, -1.0, 1.0)


# ---------------------------------------------------------------------- (g) one step, any players
def test_collapse_is_the_chain_of_math_md_7_for_three_players():
    """Two followers in order (math.md §7): the step is a change of shapes, checked by loops."""
    rng = np.random.default_rng(0)
    S, sizes = 3, (2, 3, 2)
    W = rng.normal(size=(3, S, *sizes))  # every player's values of (x, a_0, a_1, a_2)
    pis = [rng.dirichlet(np.ones(n), size=(S, *sizes[:i])) for i, n in enumerate(sizes)]
    _, nodes = planning.collapse(W, pis)
    V = np.zeros((3, S))
    best_1 = np.zeros((S, 2))  # player 1's best response at its node (x, a_0)
    for x, a0 in itertools.product(range(S), range(2)):
        for a1 in range(3):
            w2 = W[:, x, a0, a1] @ pis[2][x, a0, a1]  # (3,) after the last follower
            V[:, x] += pis[0][x, a0] * pis[1][x, a0, a1] * w2
            best_1[x, a0] = max(best_1[x, a0], w2[1]) if a1 else w2[1]
    np.testing.assert_allclose(nodes[0], V, rtol=0, atol=1e-12)
    _, best = planning.collapse(W[1:2], pis, best_rows=[[], [0]])
    np.testing.assert_allclose(best[1][0], best_1, rtol=0, atol=1e-12)
    # greedy rules give one-hot policies whose values are the maxima
    chosen, greedy_nodes = planning.collapse(W[1:2], [pis[0], planning.greedy(0), pis[2]])
    np.testing.assert_allclose(greedy_nodes[1][0], best_1, rtol=0, atol=1e-12)
    assert set(np.unique(chosen[1])) == {0.0, 1.0}


@pytest.mark.parametrize("n_followers", [1, 2])
def test_evaluate_takes_rules_for_some_players_and_fills_them_in_as_the_solvers_do(n_followers):
    """The weak Stackelberg solution's leader policy against the followers' tie-breaking rules
    has the solution's values: its followers' tables were made by the same rules."""
    drawn = random_tabular(3, 2, 2, 2, seed=4, n_followers=n_followers)
    H = drawn.horizon
    rewards = np.round(np.stack([drawn.reward(h) for h in range(H)], axis=1) * 2) / 2  # ties
    game = tabular(np.stack([drawn.transition(h) for h in range(H)]), rewards)
    pi_0, *followers, values = stackelberg_equilibrium(game, tie_break="follower")
    rules = planning.stackelberg_rules("follower", n_players=game.n_players)
    answered = evaluate(game, pi_0, *rules[1:])
    np.testing.assert_array_equal(answered.V, values.V)
    np.testing.assert_array_equal(answered.Q, evaluate(game, pi_0, *followers).Q)
