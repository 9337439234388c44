"""Reward-free exploration and planning with a leader and N followers (SPEC §4 with §7)."""

import itertools

import numpy as np
import pytest

from stackelberg_rl import games
from stackelberg_rl.equilibria import reward_free as rf
from stackelberg_rl.planning import stackelberg_equilibrium

TOL = rf.TIE_TOL


def tabular(seed=0):
    return games.make(
        "random-tabular", n_followers=2, n_states=3, n_leader_actions=2, n_follower_actions=2,
        horizon=3, seed=seed,
    )  # fmt: skip


def linear(seed=1):
    return games.make(
        "random-linear", n_followers=2, n_states=4, n_leader_actions=2, n_follower_actions=2,
        dim=4, horizon=3, seed=seed,
    )  # fmt: skip


# ---------------------------------------------------------------------- phase 2, by loops
def loop_choice(Q, counts, tol):
    """The Stackelberg chain at one state by recursion: ``Q[joint] = [Q_0, …, Q_N]``.

    Returns each node's choice ``{prefix: a_i}`` and ``V`` (every player's). Player ``i`` keeps the
    actions within ``tol`` of its best (the leader: exactly its best), then those best for player
    0 among them, then for player 1, …; then the lowest index.
    """
    choices = {}

    def node(prefix):
        i = len(prefix)
        if i == len(counts):
            return Q[prefix]
        below = [node((*prefix, a)) for a in range(counts[i])]
        top = max(b[i] for b in below)
        keep = [a for a in range(counts[i]) if below[a][i] >= top - (tol if i else 0.0)]
        for before in range(i):
            best = max(below[a][before] for a in keep)
            keep = [a for a in keep if below[a][before] == best]
        choices[prefix] = keep[0]
        return below[keep[0]]

    return choices, node(())


def loop_fit(data, lam, tol):
    """Phase 2 on the observed rewards by loops: ``w (1+N, H, d)`` and each node's choice."""
    K, H, d = data.phi.shape
    counts, P = data.n_actions, data.n_players
    S = data.features.shape[0]
    w, V_next, choices = np.zeros((P, H, d)), np.zeros((K, P)), {}
    for h in range(H - 1, -1, -1):
        Lam = lam * np.eye(d)
        for k in range(K):
            Lam += np.outer(data.phi[k, h], data.phi[k, h])
        for m in range(P):
            target = sum(data.phi[k, h] * (data.rewards[k, h, m] + V_next[k, m]) for k in range(K))
            w[m, h] = np.linalg.solve(Lam, target)
        V = {}
        for x in range(S):
            Q = {
                a: [
                    float(np.clip(w[m, h] @ data.features[(x, *a)], h - H, H - h)) for m in range(P)
                ]
                for a in itertools.product(*map(range, counts))
            }
            chosen, V[x] = loop_choice(Q, counts, tol)
            choices.update({(h, x, *prefix): a for prefix, a in chosen.items()})
        if h > 0:
            V_next = np.array([V[x] for x in data.next_states[:, h - 1]])
    return w, choices


def test_the_plan_equals_backward_induction_by_loops_with_two_followers():
    data = rf.explore(linear(), 25, beta=0.5, seed=2)
    assert data.rewards.shape == (25, 3, 3) and data.actions.shape == (25, 3, 3)
    w, choices = loop_fit(data, 1.0, TOL)
    learned = rf.fit(data)
    np.testing.assert_allclose(learned.w, w, rtol=0, atol=1e-10)
    tables = rf.solve(data)
    assert [t.shape for t in tables] == [(3, 4, 2), (3, 4, 2, 2), (3, 4, 2, 2, 2)]
    for (h, x, *prefix), a in choices.items():
        row = tables[len(prefix)][(h, x, *prefix)]
        assert row.tolist() == np.eye(len(row))[a].tolist(), (h, x, prefix)


# ---------------------------------------------------------------------- the gaps go to zero
def simulation_bound(game, data, lam=1.0):
    """``2 Σ_h (H-h-1) δ_h + 2H·tol``, ``δ_h = max_z ‖P̂_h(·|z) − P_h(·|z)‖₁``: a follower's gap.

    On one-hot features and known rewards the plan's ``Q̂_h = clip(r + P̂_h V̂_{h+1})`` with
    ``P̂_h(x'|z) = n_h(z, x')/(n_h(z) + λ)``; clipping to the range of the true values never moves
    away from them, so every policy's model value is within ``e_h ≤ e_{h+1} + (H-h-1) δ_h`` of its
    true value. Each planned follower best-responds within the model (up to ``tol`` per step):
    its true gap is at most twice that error plus the ties.
    """
    H, S = game.horizon, game.n_states
    z_of = game.features.argmax(axis=-1)  # one-hot: the index of (x, a_0, …, a_N)
    bound = 2 * H * TOL
    for h in range(H - 1):
        counts = np.zeros((game.dim, S))
        z = data.phi[:, h].argmax(axis=-1)
        np.add.at(counts, (z, data.next_states[:, h]), 1.0)
        P_hat = counts / (counts.sum(axis=1, keepdims=True) + lam)
        P_true = np.zeros((game.dim, S))
        P_true[z_of.reshape(-1)] = game.transition(h).reshape(-1, S)
        bound += 2 * (H - h - 1) * np.abs(P_hat - P_true).sum(axis=1).max()
    return bound


def test_the_planned_gaps_go_to_zero_on_a_tabular_game_with_two_followers():
    game = tabular()
    assert np.isin(game.features, (0.0, 1.0)).all() and (game.features.sum(axis=-1) == 1).all()
    found = {}
    for K in (10, 640):
        data = rf.explore(game, K, beta=0.5, seed=1)
        gaps = rf.gaps(game, *rf.solve(data, game))
        bound = simulation_bound(game, data)
        for m in ("follower_1", "follower_2"):
            assert gaps[f"gap/{m}/worst"] <= bound
        found[K] = max(abs(v) for key, v in gaps.items() if key.startswith("gap/"))
    # Once the model is this close, the plan is the game's Stackelberg solution at every state
    # that starts an episode (this game has no ties): no gap at all.
    assert found[10] > 0.1 and found[640] <= 1e-12
    se = stackelberg_equilibrium(game)
    planned = rf.solve(rf.explore(game, 640, beta=0.5, seed=1), game)
    assert np.array_equal(planned[0][0], se[0][0])


def test_gaps_of_the_stackelberg_solution_are_zero_and_named_per_player():
    game = tabular(seed=3)
    *policies, values = stackelberg_equilibrium(game)
    gaps = rf.gaps(game, *policies)
    assert set(gaps) == {
        "gap/leader/initial", "gap/leader/worst", "gap/follower_1/initial",
        "gap/follower_1/worst", "gap/follower_2/initial", "gap/follower_2/worst",
        "value/leader/stackelberg", "value/leader/output", "value/follower_1/output",
        "value/follower_2/output",
    }  # fmt: skip
    assert all(abs(v) <= 1e-12 for k, v in gaps.items() if k.startswith("gap/"))
    p0 = game.initial_distribution
    assert gaps["value/follower_2/output"] == pytest.approx(p0 @ values.V[2, 0], abs=1e-12)
    with pytest.raises(ValueError, match="the game has 3 players: give 3 policies, got 2"):
        rf.gaps(game, *policies[:2])


# ---------------------------------------------------------------------- files and checkpoints
def test_exploration_data_round_trip_and_resume_with_two_followers(tmp_path):
    game = tabular()
    states = []
    data = rf.explore(game, 12, beta=0.5, seed=4, checkpoint=states.append, checkpoint_every=0)
    assert data.n_players == 3 and data.n_actions == (2, 2, 2)
    assert data.transitions.shape == (3, 3, 2, 2, 2, 3)
    data.save(tmp_path / "data.npz")
    again = rf.ExplorationData.load(tmp_path / "data.npz")
    for name in ("phi", "rewards", "states", "actions", "next_states", "features", "transitions"):
        assert np.array_equal(getattr(again, name), getattr(data, name)), name
    resumed = rf.explore(game, 12, beta=0.5, seed=4, state=states[5])
    for name in ("phi", "rewards", "states", "actions", "next_states"):
        assert np.array_equal(getattr(resumed, name), getattr(data, name)), name
    head = data.head(6)
    assert np.array_equal(rf.solve(head)[2], rf.solve(again.head(6))[2])
    one_follower = games.make("random-tabular", n_states=3, n_leader_actions=2,
                              n_follower_actions=2, horizon=3, seed=0)  # fmt: skip
    with pytest.raises(
        rf.ExplorationDataError,
        match=r"\(H, A, B, d\) = \(3, 2, 2, 12\), the data .* "
        r"\(H, A_0, A_1, A_2, d\) = \(3, 2, 2, 2, 24\)",
    ):
        data.check_game(one_follower)
    with pytest.raises(
        ValueError,
        match=r"rewards must be a table \(3, H, S, A_0, A_1, A_2\) = \(3, 3, 3, 2, 2, 2\)",
    ):
        rf.fit(data, np.zeros((2, 3, 3, 2, 2)))
    table = np.stack([game.reward(h) for h in range(3)], axis=1)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(rf.solve(data, table), rf.solve(data, game), strict=True)
    )
