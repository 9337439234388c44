"""The learner against a plain loop-by-loop Algorithm 1, and the theory as unit tests."""

import math

import numpy as np
import pytest

from stackelberg_rl.agents import AgentConfig, make_agents
from stackelberg_rl.games import random_linear, random_tabular, tabular
from stackelberg_rl.learners import (
    ReferenceLSVIUCB,
    SoftmaxLSVIUCB,
    alpha_value,
    optimistic_q,
    replay_inverse,
    soft_policies,
    theory_beta,
)
from stackelberg_rl.planning import evaluate


# ---------------------------------------------------------------------- a plain reference
def loop_softmax(z, alpha):
    if math.isinf(alpha):
        m = max(z)
        ties = [1.0 if v == m else 0.0 for v in z]
        return [t / sum(ties) for t in ties]
    m = max(z)
    e = [math.exp(alpha * (v - m)) for v in z]
    return [v / sum(e) for v in e]


def loop_algorithm_1(features, data, A, B, d, H, beta, lam, alpha_l, alpha_f):
    """Algorithm 1, lines 4–14, with Python loops; returns Q(h, x) -> [2][A][B] as a function.

    ``data[h]`` is a list of (x, a, b, r_l, r_f, x_next).
    """
    w = [None] * H
    Linv = [None] * H

    def Q_at(h, x):
        out = [[[0.0] * B for _ in range(A)] for _ in range(2)]
        for a in range(A):
            for b in range(B):
                phi = features[x, a, b]
                bonus = beta * math.sqrt(max(float(phi @ Linv[h] @ phi), 0.0))
                for m in range(2):
                    out[m][a][b] = min(float(w[h][m] @ phi) + bonus, H)
        return out

    def V_at(h, x):
        Q = Q_at(h, x)
        q = [[0.0] * A for _ in range(2)]
        for a in range(A):
            pf = loop_softmax(Q[1][a], alpha_f)
            for m in range(2):
                q[m][a] = sum(pf[b] * Q[m][a][b] for b in range(B))
        pl = loop_softmax(q[0], alpha_l)
        return [sum(pl[a] * q[m][a] for a in range(A)) for m in range(2)]

    for h in range(H - 1, -1, -1):
        Lam = lam * np.eye(d)
        for x, a, b, *_ in data[h]:
            phi = features[x, a, b]
            Lam = Lam + np.outer(phi, phi)
        Linv[h] = np.linalg.inv(Lam)
        target = [np.zeros(d), np.zeros(d)]
        for x, a, b, r_l, r_f, x_next in data[h]:
            V_next = V_at(h + 1, x_next) if h < H - 1 else [0.0, 0.0]
            phi = features[x, a, b]
            target[0] = target[0] + phi * (r_l + V_next[0])
            target[1] = target[1] + phi * (r_f + V_next[1])
        w[h] = [Linv[h] @ target[0], Linv[h] @ target[1]]
    return Q_at


def random_trajectories(game, episodes, rng):
    """Uniformly random play: per episode a list over h of (x, a, b, r_l, r_f, x')."""
    out = []
    for _ in range(episodes):
        x = game.sample_initial(rng)
        ep = []
        for h in range(game.horizon):
            a = int(rng.integers(game.n_leader_actions))
            b = int(rng.integers(game.n_follower_actions))
            r, x_next = game.step(h, x, a, b, rng)
            ep.append((x, a, b, float(r[0]), float(r[1]), x_next))
            x = x_next
        out.append(ep)
    return out


def feed(learners, episodes, plan_each_episode=True):
    """Record the same episodes into every learner; plan them after each episode (or once)."""
    for ep in episodes:
        for h, step in enumerate(ep):
            for learner in learners:
                record(learner, h, *step)
        if plan_each_episode:
            for learner in learners:
                learner.plan()
        yield ep
    if not plan_each_episode:
        for learner in learners:
            learner.plan()


def record(learner, h, x, a, b, r_l, r_f, x_next):
    """The two-player observation ``(x, a, b, r_l, r_f, x')`` on the player axis."""
    learner.record(h, x, (a, b), (r_l, r_f), x_next)


def make_learner(game, cls=SoftmaxLSVIUCB, **kw):
    defaults = dict(beta=0.7, lam=1.0, alpha_l=3.0, alpha_f=5.0)
    defaults.update(kw)
    return cls(
        game.feature_map,
        n_leader_actions=game.n_leader_actions,
        n_follower_actions=game.n_follower_actions,
        dim=game.dim,
        horizon=game.horizon,
        **defaults,
    )


# ---------------------------------------------------------------------- cross-checks
@pytest.mark.parametrize(
    "alpha_l, alpha_f, refresh_every", [(3.0, 5.0, 1000), (0.5, 40.0, 3), (math.inf, math.inf, 7)]
)
def test_learner_equals_loop_algorithm_1(alpha_l, alpha_f, refresh_every):
    game = random_linear(7, 3, 2, 5, 4, seed=3, reward_noise=0.3)
    rng = np.random.default_rng(11)
    learner = make_learner(game, alpha_l=alpha_l, alpha_f=alpha_f, refresh_every=refresh_every)
    data = [[] for _ in range(game.horizon)]
    for i, ep in enumerate(random_trajectories(game, 25, rng)):
        for h, (x, a, b, r_l, r_f, x_next) in enumerate(ep):
            learner.record(h, x, (a, b), (r_l, r_f), x_next)
            data[h].append((x, a, b, r_l, r_f, x_next))
        learner.plan()  # every episode: one-row downdates, and refreshes every `refresh_every`
        if i % 6 == 5 or i == 0:
            Q_ref = loop_algorithm_1(game.features, data, 3, 2, 5, 4, 0.7, 1.0, alpha_l, alpha_f)
            for h in range(game.horizon):
                for x in range(game.n_states):
                    np.testing.assert_allclose(
                        learner.q_values(h, x), np.array(Q_ref(h, x)), rtol=0, atol=1e-9
                    )


def test_incremental_equals_from_scratch_across_refreshes():
    game = random_linear(30, 3, 3, 6, 5, seed=8)
    rng = np.random.default_rng(2)
    fast = make_learner(game, refresh_every=4)
    exact = make_learner(game, incremental=False)
    scratch = make_learner(game, cls=ReferenceLSVIUCB)
    for _ in feed((fast, exact, scratch), random_trajectories(game, 60, rng)):
        np.testing.assert_allclose(fast.w, exact.w, rtol=0, atol=1e-8)
        np.testing.assert_allclose(fast.w, scratch.w, rtol=0, atol=1e-8)
        # Λ⁻¹ kept by Sherman–Morrison between refreshes stays the inverse.
        np.testing.assert_allclose(fast.Lambda_inv, np.linalg.inv(fast.Lambda), atol=1e-12)
    for h in range(game.horizon):
        for x in range(game.n_states):
            np.testing.assert_allclose(fast.q_values(h, x), exact.q_values(h, x), atol=1e-8)
            np.testing.assert_allclose(fast.q_values(h, x), scratch.q_values(h, x), atol=1e-8)
    assert len(fast.drift) >= 10  # several refreshes measured their correction
    assert max(fast.drift) < 1e-10


def test_plans_of_several_new_rows_from_a_feature_table_equal_from_scratch():
    """Plans every third episode: three new rows per step, downdated row by row (2·3 < d)."""
    game = random_linear(25, 3, 2, 8, 4, seed=5, reward_noise=0.2)
    rng = np.random.default_rng(4)
    table = SoftmaxLSVIUCB(
        game.features, (3, 2), 8, 4, beta=0.7, alphas=(3.0, 5.0), refresh_every=4
    )
    scratch = make_learner(game, cls=ReferenceLSVIUCB)
    episodes = random_trajectories(game, 45, rng)
    for i, _ in enumerate(feed((table, scratch), episodes, plan_each_episode=False)):
        if i % 3 == 2:
            table.plan()
            scratch.plan()
            np.testing.assert_allclose(table.w, scratch.w, rtol=0, atol=1e-8)
    assert table.n_plans == 16 and 0 < max(table.drift) < 1e-10  # and one at the end
    for h in range(game.horizon):
        for x in range(game.n_states):
            np.testing.assert_allclose(table.q_values(h, x), scratch.q_values(h, x), atol=1e-8)


def test_continuous_states_through_a_feature_map_equal_from_scratch():
    """States that are not indices (points of the plane): the learner asks ``feature_map``."""
    A, B, d, H = 2, 3, 6, 3
    centres = np.random.default_rng(0).random((d, 2))

    def feature_map(states):  # (n, 2) -> (n, A, B, d): RBF of the state, shifted per action
        states = np.asarray(states, dtype=float).reshape(-1, 2)
        shift = 0.1 * np.arange(A * B).reshape(A, B, 1, 1)
        diff = states[:, None, None, None, :] + shift - centres  # (n, A, B, d, 2)
        phi = np.exp(-4.0 * (diff**2).sum(-1))
        return phi / np.linalg.norm(phi, axis=-1, keepdims=True)

    kw = dict(beta=0.5, alpha_l=2.0, alpha_f=3.0)
    fast = SoftmaxLSVIUCB(feature_map, (A, B), d, H, **kw, refresh_every=3)
    scratch = ReferenceLSVIUCB(feature_map, (A, B), d, H, **kw)
    rng = np.random.default_rng(1)
    for _ in range(12):
        x = rng.random(2)
        for h in range(H):
            a, b, x_next = int(rng.integers(A)), int(rng.integers(B)), rng.random(2)
            r_l, r_f = rng.random(2)
            for learner in (fast, scratch):
                learner.record(h, x, (a, b), (r_l, r_f), x_next)
            x = x_next
        fast.plan()
        scratch.plan()
        np.testing.assert_allclose(fast.w, scratch.w, rtol=0, atol=1e-8)
    for x in rng.random((5, 2)):
        for h in range(H):
            np.testing.assert_allclose(fast.q_values(h, x), scratch.q_values(h, x), atol=1e-8)


def test_policy_tables_of_the_own_states_are_kept_until_the_next_plan():
    game = random_linear(12, 3, 2, 5, 4, seed=1)
    learner = SoftmaxLSVIUCB(game.features, (3, 2), 5, 4, beta=0.7, alphas=(3.0, 5.0))
    episodes = random_trajectories(game, 6, np.random.default_rng(0))
    for _ in feed([learner], episodes):
        pass
    pi_l, pi_f = learner.policy_tables(game)
    assert learner.policy_tables() is not None and learner.policy_tables()[1] is pi_f
    assert not pi_f.flags.writeable  # shared by both players: nobody may change it
    np.testing.assert_allclose(pi_f.sum(-1), 1.0, atol=1e-12)
    learner.alpha_f = 6.0  # a schedule changed α: new tables
    assert learner.policy_tables()[1] is not pi_f
    pi_f = learner.policy_tables()[1]
    learner.plan()
    assert learner.policy_tables()[1] is not pi_f
    copy = game.features.copy()  # the same states in another array: the same tables
    np.testing.assert_array_equal(learner.policy_tables(copy)[0], learner.policy_tables()[0])


def test_float32_cache_is_close():
    game = random_linear(30, 3, 3, 6, 5, seed=8)
    rng = np.random.default_rng(2)
    f32 = make_learner(game, dtype="float32")
    f64 = make_learner(game)
    for _ in feed((f32, f64), random_trajectories(game, 40, rng)):
        pass
    # float32 features carry a relative error of at most 6e-8 into H-step backups: measured
    # max |w32 - w64| = 4.8e-9 over this run.
    np.testing.assert_allclose(f32.w, f64.w, rtol=0, atol=2e-8)


# ---------------------------------------------------------------------- theory as unit tests
def test_lambda_inverse_and_one_hot_bonus():
    game = random_tabular(3, 2, 2, 3, seed=0)
    rng = np.random.default_rng(0)
    learner = make_learner(game, beta=0.9, lam=1.0)
    counts = np.zeros((game.horizon, 3, 2, 2))
    for ep in random_trajectories(game, 40, rng):
        for h, (x, a, b, *rest) in enumerate(ep):
            record(learner, h, x, a, b, *rest)
            counts[h, x, a, b] += 1
    learner.plan()
    for h in range(game.horizon):
        np.testing.assert_allclose(
            learner.Lambda_inv[h], np.linalg.inv(learner.Lambda[h]), atol=1e-12
        )
    # One-hot features: Λ is diagonal with N(x,a,b) + λ, the bonus is β/√(N+λ). With w = 0 the
    # optimistic Q is exactly the bonus, capped at H.
    learner.w[:] = 0.0
    for h in range(game.horizon):
        for x in range(3):
            Q = learner.q_values(h, x)
            expected = np.minimum(0.9 / np.sqrt(counts[h, x] + 1.0), game.horizon)
            np.testing.assert_allclose(Q[0], expected, atol=1e-12)
            np.testing.assert_allclose(Q[1], expected, atol=1e-12)


def test_no_bonus_exhaustive_data_matches_planner():
    # A tabular game whose next-state probabilities are multiples of 1/4: recording each (x,a,b)
    # four times with next states in exact proportion makes the empirical model the true one, so
    # with β = 0 and λ → 0 the learner's Q is the exact Q of its own soft-max policies.
    rng = np.random.default_rng(5)
    S, A, B, H, N = 4, 2, 3, 3, 4
    nexts = rng.integers(S, size=(H, S, A, B, N))
    P = np.zeros((H, S, A, B, S))
    for idx in np.ndindex(H, S, A, B):
        for x_next in nexts[idx]:
            P[idx + (x_next,)] += 1.0 / N
    r = rng.uniform(-1, 1, size=(2, H, S, A, B))
    game = tabular(P, r, np.full(S, 1.0 / S))
    learner = make_learner(game, beta=0.0, lam=1e-9, alpha_l=2.0, alpha_f=4.0)
    for h, x, a, b in np.ndindex(H, S, A, B):
        for x_next in nexts[h, x, a, b]:
            learner.record(h, x, (a, b), r[:, h, x, a, b], x_next)
    learner.plan()
    pi_l, pi_f = learner.policy_tables(game)
    values = evaluate(game, pi_l, pi_f)
    for h in range(H):
        for x in range(S):
            np.testing.assert_allclose(learner.q_values(h, x), values.Q[:, h, x], atol=1e-7)


def test_large_alpha_becomes_greedy():
    game = random_linear(10, 4, 3, 5, 3, seed=4)
    rng = np.random.default_rng(1)
    soft = make_learner(game, alpha_l=1e6, alpha_f=1e6)
    greedy = make_learner(game, alpha_l=math.inf, alpha_f=math.inf)
    for _ in feed((soft, greedy), random_trajectories(game, 30, rng), plan_each_episode=False):
        pass
    pl_s, pf_s = soft.policy_tables(game)
    pl_g, pf_g = greedy.policy_tables(game)
    assert np.isfinite(pl_s).all() and np.isfinite(pf_s).all()
    np.testing.assert_allclose(pf_s, pf_g, atol=1e-6)
    np.testing.assert_allclose(pl_s, pl_g, atol=1e-6)
    # Greedy tables put all mass on maximisers of the learner's own Q and q_l.
    for h in range(game.horizon):
        for x in range(game.n_states):
            Q = greedy.q_values(h, x)
            assert np.all(pf_g[h, x][np.arange(4), Q[1].argmax(axis=1)] > 0)


def test_optimistic_q_matches_formula():
    rng = np.random.default_rng(0)
    phi = rng.normal(size=(3, 2, 4)) / 3
    w = rng.normal(size=(2, 4))
    M = rng.normal(size=(4, 4))
    Linv = np.linalg.inv(M @ M.T + np.eye(4))
    Q = optimistic_q(phi, w, Linv, 0.5, 1.0)
    for a in range(3):
        for b in range(2):
            bonus = 0.5 * math.sqrt(phi[a, b] @ Linv @ phi[a, b])
            for m in range(2):
                assert Q[m, a, b] == pytest.approx(min(w[m] @ phi[a, b] + bonus, 1.0), abs=1e-12)


@pytest.mark.parametrize("alpha_l, alpha_f", [(2.0, 3.0), (math.inf, 0.5)])
def test_soft_policies_returns_the_chain_of_algorithm_1_lines_9_to_14(alpha_l, alpha_f):
    """Every output of ``soft_policies``, ``q_l`` and ``V̄_f`` too, against the plain loop."""
    Q = np.random.default_rng(3).uniform(-1, 1, size=(4, 2, 3, 2))  # (n, 2, A, B)
    pi_l, pi_f, q_l, vbar_f, V = soft_policies(Q, alpha_l, alpha_f)
    for i in range(len(Q)):
        Ql, Qf = Q[i].tolist()
        pf = [loop_softmax(Qf[a], alpha_f) for a in range(3)]
        ql = [np.dot(pf[a], Ql[a]) for a in range(3)]  # q_l(a) = Σ_b π_f(b|a) Q_l(a, b)
        vf = [np.dot(pf[a], Qf[a]) for a in range(3)]  # V̄_f(a)
        pl = loop_softmax(ql, alpha_l)
        want = [pf, ql, vf, pl, [np.dot(pl, ql), np.dot(pl, vf)]]
        got = [pi_f[i], q_l[i], vbar_f[i], pi_l[i], V[i]]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=0, atol=1e-12)


def test_parameters_of_theorem_3():
    # β = C₁ d H √ι with ι = log((log|A||B| + 2 log|A| log|B|) 4dT/p), T = KH.
    iota = math.log((math.log(12) + 2 * math.log(3) * math.log(4)) * 4 * 8 * 500 * 5 / 0.1)
    assert theory_beta(8, 5, 500, 3, 4, c1=0.2, p=0.1) == pytest.approx(0.2 * 8 * 5 * iota**0.5)
    assert alpha_value("fixed-K", 3, 5, 400, 17) == pytest.approx(math.log(3) * 20 / 5)
    assert alpha_value("anytime", 3, 5, 400, 15) == pytest.approx(math.log(3) * 4 / 5)
    assert alpha_value("fixed-K", 1, 5, 400, 0) == 0.0
    with pytest.raises(ValueError, match="alpha"):
        alpha_value("sometimes", 3, 5, 400, 0)
    with pytest.raises(ValueError, match="alpha"):
        alpha_value(-1.0, 3, 5, 400, 0)


# ---------------------------------------------------------------------- agents
def play_one(game, leader, follower, k, rng):
    """Episode ``k``: plan, then act and record step by step; returns the ``(a, b)`` played."""
    leader.begin_episode(k)
    follower.begin_episode(k)
    x = game.sample_initial(rng)
    played = []
    for h in range(game.horizon):
        a = leader.act(h, x)
        b = follower.act(h, x, a)
        played.append((a, b))
        r, x_next = game.step(h, x, a, b, rng)
        leader.record(h, x, (a, b), r, x_next)
        follower.record(h, x, (a, b), r, x_next)
        x = x_next
    return played


def play(game, leader, follower, episodes, rng):
    for k in range(episodes):
        play_one(game, leader, follower, k, rng)
        yield k


def test_decentralised_copies_agree_with_each_other_and_the_shared_one():
    game = random_linear(12, 3, 3, 6, 4, seed=1)
    K = 40
    cfg = AgentConfig(beta=0.3)
    L, F = make_agents(game, cfg, K, seed=7)
    Lc, Fc = make_agents(game, AgentConfig(beta=0.3, decentralised=False), K, seed=7)
    assert L.learner is not F.learner and Lc.learner is Fc.learner
    run_d = play(game, L, F, K, np.random.default_rng(3))
    run_c = play(game, Lc, Fc, K, np.random.default_rng(3))
    for _ in zip(run_d, run_c, strict=True):
        np.testing.assert_array_equal(L.learner.w, F.learner.w)
        np.testing.assert_array_equal(L.learner.Lambda_inv, F.learner.Lambda_inv)
        np.testing.assert_array_equal(L.learner.w, Lc.learner.w)
    assert L.learner.n_samples.tolist() == [K] * game.horizon


def test_doubling_schedule_replans_only_when_a_determinant_doubles():
    game = random_linear(15, 3, 3, 6, 4, seed=2)
    K = 120
    L, F = make_agents(game, AgentConfig(beta=0.3, schedule="doubling"), K, seed=0)
    rng = np.random.default_rng(0)
    det_at_plan = None
    replans = 0
    for k in range(K):
        # Independent check: det Λ_h from the recorded features, against the last plan's.
        Lam = np.array(
            [
                np.eye(6) + L.learner.observations(h)[0].T @ L.learner.observations(h)[0]
                for h in range(game.horizon)
            ]
        )
        det = np.linalg.det(Lam)
        expected = det_at_plan is None or bool((det > 2 * det_at_plan).any())
        play_one(game, L, F, k, rng)
        assert L.replanned == expected, k
        if expected:
            det_at_plan = det
            replans += 1
    assert 3 < replans < K // 2


def test_every_n_schedule():
    game = random_linear(10, 2, 2, 4, 3, seed=2)
    L, F = make_agents(game, AgentConfig(beta=0.3, schedule="every-n", schedule_n=5), 20, seed=0)
    rng = np.random.default_rng(0)
    flags = []
    for k in range(20):
        play_one(game, L, F, k, rng)
        flags.append(L.replanned)
    assert flags == [k % 5 == 0 for k in range(20)]


def test_same_seed_same_actions():
    game = random_linear(10, 3, 3, 5, 4, seed=0)

    def actions(seed):
        L, F = make_agents(game, AgentConfig(beta=0.3), 30, seed=seed)
        rng = np.random.default_rng(seed)
        return [ab for k in range(30) for ab in play_one(game, L, F, k, rng)]

    assert actions(4) == actions(4)
    assert actions(4) != actions(5)


@pytest.mark.parametrize(
    "field, value",
    [
        ("beta", "lots"),
        ("beta", -1.0),
        ("alpha_l", "hot"),
        ("kind", "nope"),
        ("lam", math.inf),
        ("c1", math.inf),
    ],
)
def test_bad_config_is_rejected(field, value):
    game = random_linear(5, 2, 2, 3, 2, seed=0)
    with pytest.raises(ValueError, match=field.split("_")[0]):
        make_agents(game, AgentConfig(**{field: value}), 10, seed=0)


def test_single_agent_special_case_matches_loop_algorithm_1():
    # |B| = 1: the follower has nothing to choose and the learner is single-agent LSVI-UCB.
    game = random_linear(6, 4, 1, 5, 3, seed=9)
    rng = np.random.default_rng(4)
    learner = make_learner(game, alpha_l=math.inf, alpha_f=math.inf)
    data = [[] for _ in range(game.horizon)]
    for ep in random_trajectories(game, 20, rng):
        for h, step in enumerate(ep):
            record(learner, h, *step)
            data[h].append(step)
        learner.plan()
    Q_ref = loop_algorithm_1(game.features, data, 4, 1, 5, 3, 0.7, 1.0, math.inf, math.inf)
    for h in range(game.horizon):
        for x in range(game.n_states):
            np.testing.assert_allclose(learner.q_values(h, x), Q_ref(h, x), atol=1e-9)
            assert learner.follower_policy(h, x, 0).tolist() == [1.0]


@pytest.mark.parametrize("size", [4, 200])  # the Python loop and the numpy path
def test_draw_frequencies_and_round_off(size):
    from stackelberg_rl.games import draw

    rng = np.random.default_rng(size)
    p = rng.dirichlet(np.ones(size))
    p[0] = -1e-13  # a signed-feature round-off "probability": never drawn
    p[1] += 1e-13
    n = 60_000
    draws = np.array([draw(p, rng) for _ in range(n)])
    assert not (draws == 0).any()
    q = np.maximum(p, 0) / np.maximum(p, 0).sum()
    freq = np.bincount(draws, minlength=size) / n
    assert np.all(np.abs(freq - q) <= 5 * np.sqrt(q * (1 - q) / n) + 1e-12)  # 5 std. devs
    assert draw(p, np.random.default_rng(3)) == draw(p, np.random.default_rng(3))


@pytest.mark.parametrize("p", [np.ones((2, 2)) / 4, np.array([]), 0.5])
def test_draw_rejects_what_is_not_a_distribution_vector(p):
    from stackelberg_rl.games import draw

    with pytest.raises(ValueError, match="non-empty 1-d distribution"):
        draw(p, np.random.default_rng(0))


# ---------------------------------------------------------------------- small ridge λ
@pytest.mark.slow
# The smallest and the largest tiny λ; λ = 1 across refreshes is
# test_incremental_equals_from_scratch_across_refreshes's and the feature table test's.
@pytest.mark.parametrize("lam", [1e-6, 1e-3])
def test_small_lambda_equals_from_scratch_over_many_refreshes(lam):
    """K = 400 plans with ``refresh_every = 16``: 25 refresh windows of rank-one updates.

    Measured max |fast − from scratch| over the run (Q at every state, w, both policy tables):
    λ = 1e-6: Q 8.7e-12, w 4.2e-9, π 1.3e-12; λ = 1e-4: 4.1e-13, 7.0e-11, 2.4e-13; λ = 1e-3:
    1.8e-13, 4.3e-12, 2.2e-13; λ = 1: 3e-15. Before (the forms downdated with the new inverse,
    ``1 − φᵀΛ'^{-1}φ``): Q 1.8, w 3.1, π 0.89 at λ = 1e-6; 2.9e-7 at 1e-4; 1.2e-9 at 1e-3. Against
    Algorithm 1 in long double, the from-scratch learner's own w is off by 4.2e-9 at λ = 1e-6 (the
    ridge problem's conditioning), the fast one's by 5.7e-10: the tolerance below is that of the
    problem, not of the updates.
    """
    game = random_linear(30, 3, 3, 6, 5, seed=8)
    rng = np.random.default_rng(2)
    fast = make_learner(game, lam=lam, refresh_every=16)
    scratch = make_learner(game, cls=ReferenceLSVIUCB, lam=lam)
    for k, _ in enumerate(feed((fast, scratch), random_trajectories(game, 400, rng))):
        np.testing.assert_allclose(fast.w, scratch.w, rtol=0, atol=1e-8)
        if k % 20 == 19 or k < 20:
            for pf, ps in zip(fast.policy_tables(game), scratch.policy_tables(game), strict=True):
                np.testing.assert_allclose(pf, ps, rtol=0, atol=1e-10)
            Qf = np.array([[fast.q_values(h, x) for x in range(30)] for h in range(5)])
            Qs = np.array([[scratch.q_values(h, x) for x in range(30)] for h in range(5)])
            np.testing.assert_allclose(Qf, Qs, rtol=0, atol=1e-10)
    assert fast.n_plans == 400 and len(fast.drift) >= 80  # 24 refreshes × 4 steps, some exact
    # The refreshes' own correction of the cached forms stays at round-off.
    assert max(fast.drift) < 1e-9


@pytest.mark.parametrize("lam", [1e-6, 1.0])
def test_a_feature_table_values_each_next_state_once_and_equals_from_scratch(lam):
    """With a table, ``V_{h+1}`` is made once per distinct next state (its place, in order of first
    visit, with its cached form) and the regression reads running sums by place; with a feature
    map, once per sample. Over 150 plans, refreshes every 16, both equal the from-scratch learner
    (measured max |w − from scratch|: 4.2e-9 for both at λ = 1e-6, the ridge problem's
    conditioning; 4.8e-15 and 6.0e-15 at λ = 1), with about 26 values per step where there are
    150 samples."""
    game = random_linear(30, 3, 3, 6, 5, seed=8)
    rng = np.random.default_rng(2)
    kw = dict(beta=0.7, lam=lam, alphas=(3.0, 5.0))
    table = SoftmaxLSVIUCB(game.features, (3, 3), 6, 5, refresh_every=16, **kw)
    per_sample = SoftmaxLSVIUCB(game.feature_map, (3, 3), 6, 5, refresh_every=16, **kw)
    scratch = ReferenceLSVIUCB(game.feature_map, (3, 3), 6, 5, **kw)
    learners = (table, per_sample, scratch)
    for k, _ in enumerate(feed(learners, random_trajectories(game, 150, rng))):
        np.testing.assert_allclose(table.w, scratch.w, rtol=0, atol=1e-8)
        np.testing.assert_allclose(per_sample.w, scratch.w, rtol=0, atol=1e-8)
        if k % 30 == 29:
            for pt, ps in zip(table.policy_tables(), scratch.policy_tables(game), strict=True):
                np.testing.assert_allclose(pt, ps, rtol=0, atol=1e-10)
    assert len(table.drift) >= 30 and max(table.drift) < 1e-9
    cache, n = table._cache, table.n_samples
    for h in range(game.horizon - 1):
        seen = list(dict.fromkeys(table._data.next_rows[h, : n[h]].tolist()))
        assert cache.n_forms[h] == len(seen) < n[h]  # fewer values than samples
        assert cache.place_states[h, : len(seen)].tolist() == seen
        assert (cache.place_of[h, seen] == np.arange(len(seen))).all()
        assert (np.delete(cache.place_of[h], seen) == -1).all()
        # Σ_τ φ_h^τ by place and Σ_τ φ_h^τ r^τ, kept as samples come, against plain sums.
        phi, rewards = table._data.features[h, : n[h]], table._data.rewards[h, : n[h]]
        for place, x in enumerate(seen):
            reached = table._data.next_rows[h, : n[h]] == x
            np.testing.assert_allclose(cache.place_sums[h, place], phi[reached].sum(axis=0))
        np.testing.assert_allclose(cache.reward_sums[h], phi.T @ rewards, rtol=1e-12)
    # The forms by place are the states' own: ψᵀΛ_{h+1}^{-1}ψ up to round-off.
    psi = game.features.reshape(30, 9, 6)
    for h in range(game.horizon - 1):
        places = cache.place_states[h, : cache.n_forms[h]]
        exact = np.einsum("sjd,de,sje->sj", psi[places], cache.inverse[h + 1], psi[places])
        np.testing.assert_allclose(cache.forms[h, : len(places)], exact, rtol=1e-9, atol=1e-12)


def test_lambda_inverse_stays_the_inverse_at_small_lambda():
    """Λ⁻¹ kept by Sherman–Morrison, against the long-double inverse of Λ, relative to its size.

    Measured before (the same updates, no recomputation when det Λ grows): 5.3e-7 relative in
    the first plans at λ = 1e-6; now at most 1.1e-11 (what ``np.linalg.inv`` itself reaches).
    """
    game = random_linear(30, 3, 3, 6, 5, seed=8)
    rng = np.random.default_rng(2)
    fast = make_learner(game, lam=1e-6, refresh_every=128)
    for _ in feed([fast], random_trajectories(game, 60, rng)):
        for h in range(game.horizon):
            exact = long_double_inverse(np.array(fast.Lambda[h]))
            scale = float(np.abs(exact).max())
            # The plan's inverse (Sherman–Morrison) and the one played with (Cholesky, afresh).
            assert np.abs(fast._cache.inverse[h] - exact).max() / scale < 1e-10
            assert np.abs(fast.Lambda_inv[h] - exact).max() / scale < 1e-10


def test_lambda_is_exact_ieee_sums_and_the_played_inverse_a_function_of_it():
    """What makes a plan replayable bit for bit: ``Λ_h`` equals numpy's ``Λ += outer(φ, φ)``
    row by row (no fused multiply-add), and ``Lambda_inv`` is ``replay_inverse(Λ)``, exactly
    symmetric."""
    game = random_linear(30, 3, 3, 6, 5, seed=8)
    rng = np.random.default_rng(5)
    fast = make_learner(game, lam=0.3, refresh_every=3)
    Lambda = np.broadcast_to(0.3 * np.eye(6), (5, 6, 6)).copy()
    for ep in random_trajectories(game, 30, rng):
        for h, (x, a, b, r_l, r_f, x_next) in enumerate(ep):
            fast.record(h, x, (a, b), (r_l, r_f), x_next)
            phi = game.features[x, a, b]
            Lambda[h] += np.outer(phi, phi)
        fast.plan()
        np.testing.assert_array_equal(fast.Lambda, Lambda)
        np.testing.assert_array_equal(fast.Lambda_inv, replay_inverse(Lambda))
        np.testing.assert_array_equal(fast.Lambda_inv, fast.Lambda_inv.transpose(0, 2, 1))
    assert not fast.Lambda.flags.writeable  # a view the caller cannot write into


def long_double_inverse(M):
    """Gauss–Jordan with partial pivoting in ``np.longdouble`` (64-bit mantissa on x86)."""
    d = M.shape[0]
    a = np.concatenate([M.astype(np.longdouble), np.eye(d, dtype=np.longdouble)], axis=1)
    for c in range(d):
        p = c + int(np.argmax(np.abs(a[c:, c])))
        a[[c, p]] = a[[p, c]]
        a[c] /= a[c, c]
        for r in range(d):
            if r != c:
                a[r] -= a[r, c] * a[c]
    return a[:, d:].astype(np.float64)


# ---------------------------------------------------------------------- the two learners
def test_the_reference_learner_shares_no_fast_machinery():
    import inspect

    import stackelberg_rl.learners.reference as reference

    source = inspect.getsource(reference)
    assert "_kernels" not in source and "numba" not in source and "lsvi_ucb" not in source
    assert not issubclass(ReferenceLSVIUCB, SoftmaxLSVIUCB)
    game = random_linear(8, 2, 2, 4, 3, seed=0)
    scratch = make_learner(game, cls=ReferenceLSVIUCB)
    assert not any(name.startswith(("_data", "_cache")) for name in vars(scratch))


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_one_name_for_each_size(cls):
    game = random_linear(8, 3, 2, 4, 5, seed=0)
    learner = make_learner(game, cls=cls)
    sizes = (learner.n_leader_actions, learner.n_follower_actions, learner.dim, learner.horizon)
    assert sizes == (3, 2, 4, 5)
    for old in ("A", "B", "d", "H"):
        assert not hasattr(learner, old)


# ---------------------------------------------------------------------- the player axis
@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_alphas_are_required_and_the_two_player_spellings_forward(cls):
    """No silent greedy default (issue 16); ``alpha_l``/``alpha_f`` are ``alphas`` spelled out."""
    game = random_linear(6, 3, 2, 4, 3, seed=0)
    args = (game.features, (3, 2), 4, 3)
    with pytest.raises(ValueError, match="alphas is required"):
        cls(*args, beta=0.5)
    with pytest.raises(ValueError, match="give alphas or alpha_l and alpha_f, not both"):
        cls(*args, beta=0.5, alphas=(1.0, 2.0), alpha_l=1.0)
    with pytest.raises(ValueError, match="one value per player"):
        cls(*args, beta=0.5, alphas=(1.0, 2.0, 3.0))
    general = cls(*args, beta=0.5, alphas=(1.0, 2.0))
    spelled = cls(game.features, n_leader_actions=3, n_follower_actions=2, dim=4, horizon=3,
                  beta=0.5, alpha_l=1.0, alpha_f=2.0)  # fmt: skip
    assert general.action_counts == spelled.action_counts == (3, 2)
    np.testing.assert_array_equal(general.alphas, spelled.alphas)
    assert (spelled.n_leader_actions, spelled.alpha_f) == (3, 2.0)
    spelled.alpha_l = 5.0  # the setter writes the player axis
    assert spelled.alphas.tolist() == [5.0, 2.0]


@pytest.mark.parametrize("cls", [SoftmaxLSVIUCB, ReferenceLSVIUCB])
def test_queries_on_the_player_axis(cls):
    game = random_linear(6, 3, 2, 4, 3, seed=1)
    learner = cls(game.features, (3, 2), 4, 3, beta=0.5, alphas=(2.0, 3.0))
    rng = np.random.default_rng(0)
    for ep in random_trajectories(game, 5, rng):
        for h, step in enumerate(ep):
            record(learner, h, *step)
    learner.plan()
    assert learner.q_values(1, 2).shape == (learner.n_players, 3, 2)
    pi_l, pi_f = learner.policy_tables()
    np.testing.assert_array_equal(learner.policy(0, 1, 2), pi_l[1, 2])
    np.testing.assert_array_equal(learner.policy(1, 1, 2, (2,)), pi_f[1, 2, 2])
    with pytest.raises(ValueError, match="earlier must hold 1 actions"):
        learner.policy(1, 1, 2)
    with pytest.raises(ValueError, match="actions must hold 2 actions"):
        learner.record(0, 1, 1, (0.0, 0.0), 2)
