"""A leader and N followers moving in order (SPEC §7): games and exact planning.

The planner is checked against loop-by-loop versions written here (one node at a time) and
against brute force over deterministic policies on tiny games; ``N = 1`` against today's calls.
"""

import itertools

import numpy as np
import pytest

from stackelberg_rl import games
from stackelberg_rl.games import FiniteGame, random_linear, random_tabular
from stackelberg_rl.planning import (
    best_response,
    evaluate,
    player_regrets,
    regret,
    stackelberg_equilibrium,
)


def tiny(n_followers, n_states=2, seed=0, linear=False):
    """2 actions each, ``H = 2``: tabular (dense) or random linear (factored)."""
    if linear:
        return random_linear(n_states, 2, 2, 3, 2, seed=seed, n_followers=n_followers)
    return random_tabular(n_states, 2, 2, 2, seed=seed, n_followers=n_followers)


def random_profile(game, seed):
    rng = np.random.default_rng(seed)
    H, S, counts = game.horizon, game.n_states, game.action_counts
    return [rng.dirichlet(np.ones(counts[i]), size=(H, S, *counts[:i])) for i in range(len(counts))]


def joint_actions(game):
    return list(itertools.product(*map(range, game.action_counts)))


def loop_q(game, h, V):
    """``Q_{m,h}(x, a) = r + Σ_x' P V_m(x')``, one ``(x, a)`` at a time: ``(1+N, S, *counts)``."""
    r, P = game.reward(h), game.transition(h)
    Q = np.zeros(r.shape)
    for x in range(game.n_states):
        for a in joint_actions(game):
            for m in range(game.n_players):
                Q[(m, x, *a)] = r[(m, x, *a)] + sum(
                    P[(x, *a, y)] * V[m, y] for y in range(game.n_states)
                )
    return Q


def loop_values(game, policies, best=None):
    """Every player's ``V (1+N, H+1, S)``, or with ``best = m`` player ``m``'s best response."""
    n, H, S = game.n_players, game.horizon, game.n_states
    V = np.zeros((n, H + 1, S))
    step0 = {}

    def node(Q, h, x, prefix):
        i = len(prefix)
        if i == n:
            return Q[(slice(None), x, *prefix)]
        children = [node(Q, h, x, (*prefix, a)) for a in range(game.action_counts[i])]
        if i == best:
            return children[int(np.argmax([c[best] for c in children]))]
        return sum(policies[i][(h, x, *prefix, a)] * c for a, c in enumerate(children))

    for h in range(H - 1, -1, -1):
        Q = loop_q(game, h, V[:, h + 1])
        for x in range(S):
            V[:, h, x] = node(Q, h, x, ())
        if h == 0:
            step0 = {"Q": Q, "node": node}
    return V, step0


def loop_node_values(game, policies, m, at, best):
    """Player ``m``'s step-0 values at the rows ``(x, a_0, …)`` of ``at`` (best response's if
    ``best``)."""
    _, step0 = loop_values(game, policies, m if best else None)
    return np.array([step0["node"](step0["Q"], 0, row[0], tuple(row[1 : 1 + m]))[m] for row in at])


def loop_stackelberg(game, tol=1e-9, sign=1.0):
    """Backward induction one node at a time; ties for the earlier players, then lowest index."""
    n, H, S, counts = game.n_players, game.horizon, game.n_states, game.action_counts
    pis = [np.zeros((H, S, *counts[: i + 1])) for i in range(n)]
    V = np.zeros((n, H + 1, S))

    def node(Q, h, x, prefix):
        i = len(prefix)
        if i == n:
            return Q[(slice(None), x, *prefix)]
        children = [node(Q, h, x, (*prefix, a)) for a in range(counts[i])]
        own = max(c[i] for c in children)
        keep = [a for a, c in enumerate(children) if c[i] >= own - tol]
        for j in range(i):
            top = max(sign * children[a][j] for a in keep)
            keep = [a for a in keep if sign * children[a][j] == top]
        pis[i][(h, x, *prefix, keep[0])] = 1.0
        return children[keep[0]]

    for h in range(H - 1, -1, -1):
        Q = loop_q(game, h, V[:, h + 1])
        for x in range(S):
            V[:, h, x] = node(Q, h, x, ())
    return pis, V[:, :H]


def brute_node_values(game, policies, m):
    """Player ``m``'s step-0 values at its nodes ``(K, S, A_0, …, A_{m-1})`` for every one of
    its ``K`` deterministic policies, the others' fixed, by joint probabilities (no collapse)."""
    n, H, S, counts = game.n_players, game.horizon, game.n_states, game.action_counts
    nodes = list(itertools.product(range(H), range(S), *map(range, counts[:m])))
    choices = np.array(list(itertools.product(range(counts[m]), repeat=len(nodes))))
    K = len(choices)
    mine = np.zeros((K, H, S, *counts[: m + 1]))
    for j, at in enumerate(nodes):
        mine[(np.arange(K), *at, choices[:, j])] = 1.0
    profile = [np.broadcast_to(p, (K, *p.shape)) for p in policies]
    profile[m] = mine
    V = np.zeros((K, n, S))
    for h in range(H - 1, -1, -1):
        P, r = game.transition(h), game.reward(h)
        Q = r[None] + np.einsum("x...y,kmy->kmx...", P, V)  # (K, n, S, *counts)
        joint = np.ones((K, S, *counts))
        later = np.ones((K, S, *counts))
        for i, p in enumerate(profile):
            pi = p[:, h].reshape(K, S, *counts[: i + 1], *(1,) * (n - 1 - i))
            joint = joint * pi
            later = later * pi if i >= m else later
        V = (joint[:, None] * Q).sum(axis=tuple(range(3, 3 + n)))
        if h == 0:
            return (later * Q[:, m]).sum(axis=tuple(range(2 + m, 2 + n)))
    raise AssertionError("unreachable")


def all_nodes(game, m):
    """Arrays ``x1`` and ``first_actions`` of every node where player ``m`` moves at step 0."""
    at = np.array(list(itertools.product(range(game.n_states), *map(range, game.action_counts))))
    return at[:, 0], [at[:, 1 + i] for i in range(game.n_followers)], at


# ---------------------------------------------------------------------- games
def test_random_games_take_n_followers_with_one_action_axis_per_player():
    g = games.make("random-linear", n_followers=2, n_states=6, seed=0)
    assert (g.n_followers, g.n_players, g.action_counts) == (2, 3, (3, 3, 3))
    assert g.features.shape == (6, 3, 3, 3, 8)
    assert g.transition(1).shape == (6, 3, 3, 3, 6)
    assert g.reward(0).shape == (3, 6, 3, 3, 3)
    assert g.theta.shape == (3, 5, 8) and g.mu.shape == (5, 8, 6)
    np.testing.assert_allclose(g.transition(0).sum(axis=-1), 1.0, atol=1e-12)
    t = games.make("random-tabular", n_followers=3, n_states=2, n_follower_actions=2, horizon=2)
    assert t.action_counts == (3, 2, 2, 2) and t.reward(1).shape == (4, 2, 3, 2, 2, 2)
    assert t.dim == 2 * 3 * 8
    with pytest.raises(ValueError, match="n_followers must be"):
        games.make("random-linear", n_followers=0)


def test_one_follower_draws_are_todays():
    S, A, B, d, H = 5, 2, 3, 4, 3
    g = random_linear(S, A, B, d, H, seed=7)
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(g.features, rng.dirichlet(np.ones(d), size=(S, A, B)))
    np.testing.assert_array_equal(g.mu, rng.dirichlet(np.full(S, 1 / np.sqrt(S)), size=(H, d)))
    np.testing.assert_array_equal(g.theta, rng.uniform(-1, 1, size=(2, H, d)))
    assert g.name == "random-linear(S=5,A=2,B=3,d=4,H=3)"
    t = random_tabular(S, A, B, H, seed=7)
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(t.transition(1), rng.dirichlet(np.ones(S), size=(H, S, A, B))[1])
    np.testing.assert_array_equal(t.reward(2), rng.uniform(-1, 1, size=(2, H, S, A, B))[:, 2])
    assert g.fingerprint() == games.make("random-linear", n_states=5, n_leader_actions=2,
                                         n_follower_actions=3, dim=4, horizon=3, seed=7,
                                         n_followers=1).fingerprint()  # fmt: skip


@pytest.mark.parametrize("linear", [False, True])
def test_a_game_with_followers_is_validated_and_saved(tmp_path, linear):
    g = tiny(2, linear=linear)
    path = tmp_path / "g.npz"
    games.save(g, path)
    back = games.load(path)
    assert back.fingerprint() == g.fingerprint() and back.action_counts == (2, 2, 2)
    plain = tmp_path / "plain.npz"
    np.savez(plain, **{k: v for k, v in g.arrays().items() if v is not None})
    assert games.load(plain).fingerprint() == g.fingerprint()
    arrays = {k: v for k, v in g.arrays().items() if v is not None}
    if linear:
        arrays["theta"] = arrays["theta"][:2]
        with pytest.raises(ValueError, match=r"theta has shape \(2, 2, 3\), expected \(3, 2, 3\)"):
            FiniteGame(**arrays)
    else:
        bad = arrays["transitions"].copy()
        bad[1, 0, 1, 0, 1] += 0.5
        arrays["transitions"] = bad
        with pytest.raises(
            ValueError, match=r"sum to 1 at index \(1, 0, 1, 0, 1\) \(H, S, A_0, A_1, A_2\)"
        ):
            FiniteGame(**arrays)


def test_a_step_takes_every_players_action():
    tiny(2).step(0, 0, 0, 0, 0, np.random.default_rng(0))


# ---------------------------------------------------------------------- planning
@pytest.mark.parametrize(("n_followers", "linear"), [(2, False), (3, False), (2, True)])
def test_evaluate_equals_the_loop_by_loop_collapse(n_followers, linear):
    game = tiny(n_followers, n_states=3, linear=linear)
    policies = random_profile(game, 1)
    values = evaluate(game, *policies)
    assert values.V.shape == (1 + n_followers, 2, 3)
    np.testing.assert_allclose(values.V, loop_values(game, policies)[0][:, :2], atol=1e-12)


@pytest.mark.parametrize("n_followers", [2, 3])
def test_best_responses_and_regrets_equal_brute_force_and_loops(n_followers):
    game = tiny(n_followers, seed=n_followers)
    policies = random_profile(game, 2)
    for m in range(game.n_players):
        x1, first, at = all_nodes(game, m)
        got = player_regrets(game, policies, x1, first)  # (1+N, nodes)
        nodes = tuple(at[:, : 1 + m].T)
        pi_m, _ = best_response(game, m, policies)
        with_best = [pi_m if i == m else p for i, p in enumerate(policies)]
        mine = loop_node_values(game, policies, m, at, best=False)
        best = loop_node_values(game, policies, m, at, best=True)
        np.testing.assert_allclose(got[m], best - mine, atol=1e-12)
        if m <= 2:  # brute force: at most 2^16 deterministic policies of player m
            brute = brute_node_values(game, policies, m).max(axis=0)[nodes]
            np.testing.assert_allclose(best, brute, atol=1e-12)
        played = loop_node_values(game, with_best, m, at, best=False)
        np.testing.assert_allclose(played, best, atol=1e-12)
        assert (got[m] >= -1e-12).all()
    one = player_regrets(game, policies, 1, [0] * n_followers)
    assert one.shape == (1 + n_followers,)
    np.testing.assert_array_equal(
        one, player_regrets(game, policies, [1], [[0]] * n_followers)[:, 0]
    )


@pytest.mark.parametrize("n_followers", [2, 3])
def test_stackelberg_equals_loops_and_no_player_gains_by_deviating(n_followers):
    game = tiny(n_followers, seed=10 + n_followers)
    *pis, values = stackelberg_equilibrium(game)
    want, V = loop_stackelberg(game)
    for got, expected in zip(pis, want, strict=True):
        np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(values.V, V, atol=1e-12)
    np.testing.assert_allclose(evaluate(game, *pis).V, values.V, atol=0)
    for m in range(min(game.n_players, 3)):  # brute force: subgame perfect at every node
        x1, first, at = all_nodes(game, m)
        np.testing.assert_allclose(player_regrets(game, pis, x1, first)[m], 0.0, atol=1e-12)
        brute = brute_node_values(game, pis, m).max(axis=0)[tuple(at[:, : 1 + m].T)]
        own = loop_node_values(game, pis, m, at, best=False)
        np.testing.assert_allclose(own, brute, atol=1e-12)


def tie_game(r):
    """One step, one state, two actions each: rewards ``r (3, 2, 2, 2)``."""
    P = np.ones((1, 1, 2, 2, 2, 1))
    return games.tabular(P, np.asarray(r, dtype=float)[:, None, None], name="ties")


def test_ties_go_to_the_earlier_players_then_the_lowest_index():
    rng = np.random.default_rng(3)
    r0 = rng.uniform(-1, 1, size=(2, 2, 2))
    zero = np.zeros((2, 2, 2))
    # The followers are indifferent: they help the leader (strong), or hurt it (weak).
    *_, strong = stackelberg_equilibrium(tie_game([r0, zero, zero]))
    assert strong.V[0, 0, 0] == r0.max()
    *_, weak = stackelberg_equilibrium(tie_game([r0, zero, zero]), tie_break="follower")
    assert weak.V[0, 0, 0] == r0.reshape(2, 4).min(axis=1).max()
    # The leader and the last follower indifferent: the last follower helps follower 1.
    r1 = rng.uniform(-1, 1, size=(2, 2, 2))
    pi_0, pi_1, pi_2, values = stackelberg_equilibrium(tie_game([zero, r1, zero]))
    np.testing.assert_array_equal(pi_2[0, 0].argmax(axis=-1), r1.argmax(axis=-1))
    assert pi_0[0, 0].tolist() == [1.0, 0.0] and values.V[1, 0, 0] == r1[0].max()
    # Everyone indifferent: the lowest index everywhere.
    pis = stackelberg_equilibrium(tie_game([zero, zero, zero]))[:3]
    assert all((pi[..., 0] == 1).all() for pi in pis)
    for r, tie_break in [([r0, zero, zero], "leader"), ([zero, r1, zero], "follower")]:
        game = tie_game(r)
        sign = 1.0 if tie_break == "leader" else -1.0
        want, _ = loop_stackelberg(game, sign=sign)
        got = stackelberg_equilibrium(game, tie_break=tie_break)[:3]
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)


def test_one_follower_is_todays_call():
    game = tiny(1, n_states=3)
    pi_l, pi_f = random_profile(game, 4)
    for x1, a1 in itertools.product(range(3), range(2)):
        assert tuple(player_regrets(game, [pi_l, pi_f], x1, [a1])) == regret(
            game, pi_l, pi_f, x1, a1
        )
    # regret() is player_regrets() underneath: eqs. (9) and (10) against the loops too.
    for m in range(2):
        x1, first, at = all_nodes(game, m)
        mine = loop_node_values(game, [pi_l, pi_f], m, at, best=False)
        best = loop_node_values(game, [pi_l, pi_f], m, at, best=True)
        got = [
            regret(game, pi_l, pi_f, int(x), int(a))[m] for x, a in zip(x1, first[0], strict=True)
        ]
        np.testing.assert_allclose(got, best - mine, atol=1e-12)
    pi_l, pi_f, values = stackelberg_equilibrium(game)
    assert values.V.shape == (2, 2, 3)


def test_wrong_profiles_are_refused_in_one_line():
    game = tiny(2)
    pis = random_profile(game, 0)
    with pytest.raises(ValueError, match="the game has 3 players: give 3 policies, got 2"):
        evaluate(game, *pis[:2])
    with pytest.raises(ValueError, match=r"pi_2 has shape \(2, 2, 2, 2\), expected"):
        evaluate(game, pis[0], pis[1], pis[1])
    with pytest.raises(ValueError, match="pi_0 is required: player 1 best responds to it"):
        best_response(game, 1, [None, None, pis[2]])  # had been a TypeError inside the pass
    with pytest.raises(ValueError, match="first_actions must hold the first actions of players 0"):
        player_regrets(game, pis, 0, [0])
    with pytest.raises(ValueError, match=r"first_actions\[1\] must hold integers in \[0, 2\)"):
        player_regrets(game, pis, 0, [0, 2])
    with pytest.raises(ValueError, match=r"first_actions\[2\] must hold integers in \[0, 2\)"):
        player_regrets(game, pis, 0, [0, 0, 99])  # the last player's, unused, is checked too
    with pytest.raises(ValueError, match="the game has 3 players: give 3 values of α, got 2"):
        from stackelberg_rl.planning import softmax_solution

        softmax_solution(game, 1.0, 1.0)


def test_solve_prints_every_players_value_and_gap(capsys):
    from helpers import call

    argv = "solve --game random-linear --param n_followers=2 --param n_states=6".split()
    code, out, _ = call(argv, capsys)
    game = games.make("random-linear", n_followers=2, n_states=6)
    *_, values = stackelberg_equilibrium(game)
    want = values.V[:, 0] @ game.initial_distribution
    assert code == 0
    for m, name in enumerate(["leader    ", "follower 1", "follower 2"]):
        assert f"  {name} E[V_{m}(x0)] = {want[m]: .6f}" in out
    assert "best-response gaps at x0=" in out and "follower 2 0.00e+00" in out


# ---------------------------------------------------------------------- supply chain
@pytest.mark.parametrize(
    ("n_followers", "grids"), [(1, (5, 9, 17, 33)), (2, (9, 17, 33)), (3, (17, 33))]
)
def test_the_supply_chain_approaches_multiple_marginalisation(n_followers, grids):
    """Markups ``a/2^(i+1)``, quantity ``a/2^(N+1)`` (``a = 1``) as the grid is refined."""
    want = 0.5 ** np.arange(1, n_followers + 2)
    errors = []
    for n in grids:
        game = games.make("supply-chain", n_followers=n_followers, n_prices=n,
                          n_demand_levels=1, horizon=1)  # fmt: skip
        *pis, values = stackelberg_equilibrium(game)
        actions = []
        for pi in pis:
            actions.append(int(pi[(0, 0, *actions)].argmax()))
        markups = np.linspace(0.0, 1.0, n)[actions]
        step = 1.0 / (n - 1)
        assert abs(max(1.0 - markups.sum(), 0.0) - 0.5 ** (n_followers + 1)) <= step + 1e-12
        assert values.V[0, 0, 0] == pytest.approx(4 * markups[0] * (1 - markups.sum()))
        errors.append(np.abs(markups - want).max())
        assert errors[-1] <= 2 ** (n_followers + 1) * step
    assert all(b < a for a, b in zip(errors, errors[1:], strict=False))


def test_the_supply_chain_is_a_linear_markov_game():
    game = games.make("supply-chain", n_followers=2, n_prices=4, horizon=3)
    assert game.action_counts == (4, 4, 4) and game.dim == 3 * 4 and game.is_factored
    np.testing.assert_allclose(game.transition(0)[1, 2, 0, 3], [0.1, 0.8, 0.1])
    r = game.reward(2)[:, 0, 1, 1, 0]  # a = 0.5: markups 1/3, 1/3, 0 sell nothing
    np.testing.assert_array_equal(r, 0.0)
    r = game.reward(2)[:, 2, 1, 0, 0]  # a = 1: markup 1/3 sells 2/3
    np.testing.assert_allclose(r, [4 / 3 * 2 / 3, 0, 0])
