"""Reward-free exploration and Stackelberg planning on the learned model (math.md §7)."""

import itertools
import json

import numpy as np
import pytest

from stackelberg_rl import _files, games
from stackelberg_rl._seeding import stream
from stackelberg_rl.equilibria import reward_free as rf
from stackelberg_rl.games import FiniteGame, tabular
from stackelberg_rl.learners import optimistic_q, soft_policies
from stackelberg_rl.planning import (
    evaluate,
    follower_best_response,
    stackelberg_equilibrium,
)


def small_security(**params):
    return games.make("security", n_targets=2, levels=2, horizon=3, **params)


def dyadic_tabular(seed, S=3, A=2, B=2, H=3, quarters=4, grid=None):
    """A tabular game whose transitions are multiples of ``1/quarters``; rewards on ``grid``."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(quarters, np.ones(S) / S, size=(H, S, A, B))
    rewards = rng.uniform(-1, 1, size=(2, H, S, A, B))
    if grid is not None:
        rewards = np.round(rewards * grid) / grid  # coarse values: ties for the follower
    return tabular(counts / quarters, rewards, np.full(S, 1 / S))


def exhaustive_data(game, replicates):
    """Every ``(h, x, a, b)`` ``replicates`` times, next states in the exact proportions of ``P_h``.

    Each transition probability must be a multiple of ``1/replicates``; the rewards are the
    means. This is the exact model given as data (math.md §7).
    """
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    xs, as_, bs = (g.reshape(-1) for g in np.meshgrid(range(S), range(A), range(B), indexing="ij"))
    n = len(xs) * replicates
    states = np.empty((n, H), dtype=np.int64)
    actions = np.empty((n, H, 2), dtype=np.int64)
    next_states = np.empty((n, H), dtype=np.int64)
    rewards = np.empty((n, H, 2))
    for h in range(H):
        P = game.transition(h)
        rows = []
        for x, a, b in zip(xs, as_, bs, strict=True):
            counts = np.rint(P[x, a, b] * replicates).astype(int)
            assert counts.sum() == replicates and np.allclose(counts / replicates, P[x, a, b])
            rows.extend((x, a, b, x_next) for x_next in np.repeat(np.arange(S), counts))
        rows = np.array(rows)
        states[:, h], actions[:, h, 0], actions[:, h, 1], next_states[:, h] = rows.T
        rewards[:, h] = game.reward(h)[:, rows[:, 0], rows[:, 1], rows[:, 2]].T
    return rf.ExplorationData(
        phi=game.features[states, actions[..., 0], actions[..., 1]],
        rewards=rewards,
        states=states,
        actions=actions,
        next_states=next_states,
        features=game.features,
        initial_distribution=game.initial_distribution,
        transitions=np.stack([game.transition(h) for h in range(H)]),
    )


# ---------------------------------------------------------------------- phase 1
def exploration_q(phi, w, Lambda_inv, beta, H):
    """``Q = min(wᵀφ + u + β‖φ‖_{Λ⁻¹}, H)`` with ``u = min(β‖φ‖_{Λ⁻¹}, H)/H`` (SPEC §4), per player.

    The bonus is :func:`optimistic_q`'s with ``w = 0`` and no cap.
    """
    bonus = optimistic_q(phi, np.zeros_like(w[:1]), Lambda_inv, beta, np.inf)
    return np.minimum(optimistic_q(phi, w, Lambda_inv, beta, np.inf) + np.minimum(bonus, H) / H, H)


def reference_explore(game, K, beta, lam, alpha, seed):
    """The exploration written loop by loop, from scratch at every plan: actions and states.

    ``Λ_h`` and its inverse are formed anew, every ``V_{h+1}(x')`` is computed sample by sample:
    nothing is shared with :func:`rf.explore` but ``optimistic_q``, ``soft_policies`` and the
    seeds' streams.
    """
    H, d = game.horizon, game.dim
    env, rng_l, rng_f = stream(seed, "game"), stream(seed, "player", 0), stream(seed, "player", 1)
    samples = [[] for _ in range(H)]  # (phi, x_next) per step
    played = []
    for k in range(K):
        A, B = game.n_leader_actions, game.n_follower_actions
        al = np.log(A) * np.sqrt(k + 1) / H if alpha == "anytime" else alpha
        af = np.log(B) * np.sqrt(k + 1) / H if alpha == "anytime" else alpha
        w = np.zeros((H, 2, d))
        Lambda_inv = np.empty((H, d, d))
        for h in range(H):
            Lambda = lam * np.eye(d) + sum(
                (np.outer(f, f) for f, _ in samples[h]), np.zeros((d, d))
            )
            Lambda_inv[h] = np.linalg.inv(Lambda)
        for h in range(H - 2, -1, -1):
            total = np.zeros((2, d))
            for f, x_next in samples[h]:
                Q = exploration_q(game.features[x_next], w[h + 1], Lambda_inv[h + 1], beta, H)
                total += np.outer(soft_policies(Q, al, af)[4], f)  # V_{h+1}(x') φ, both players
            w[h] = total @ Lambda_inv[h]
        x = game.sample_initial(env)
        for h in range(H):
            Q = exploration_q(game.features[x], w[h], Lambda_inv[h], beta, H)
            p_l, p_f = soft_policies(Q, al, af)[:2]
            a = games.draw(p_l, rng_l)
            b = games.draw(p_f[a], rng_f)
            _, x_next = game.step(h, x, a, b, env)
            samples[h].append((game.features[x, a, b], x_next))
            played.append((x, a, b, x_next))
            x = x_next
    return np.array(played)


@pytest.mark.parametrize("alpha", ["anytime", 5.0])
def test_exploration_equals_a_from_scratch_loop_by_loop_one(alpha):
    game = small_security()
    K = 40
    # refresh_every > K: the plan's inverses come from Sherman-Morrison updates (SPEC §5).
    data = rf.explore(game, K, beta=0.8, lam=0.5, alpha_l=alpha, alpha_f=alpha, seed=3,
                      refresh_every=1000)  # fmt: skip
    ref = reference_explore(game, K, beta=0.8, lam=0.5, alpha=alpha, seed=3)
    fast = np.stack(
        [data.states, data.actions[..., 0], data.actions[..., 1], data.next_states], axis=-1
    ).reshape(-1, 4)
    np.testing.assert_array_equal(fast, ref)


def test_the_same_seed_gives_the_same_data_and_another_seed_other_data():
    game = small_security()
    a, b = rf.explore(game, 30, seed=1), rf.explore(game, 30, seed=1)
    for name in ("phi", "rewards", "states", "actions", "next_states"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.actions, rf.explore(game, 30, seed=2).actions)


def test_with_anytime_alpha_the_first_k_episodes_are_an_exploration_of_k():
    game = games.make("electricity", hours=3)
    long, short = rf.explore(game, 25, seed=4), rf.explore(game, 10, seed=4)
    head = long.head(10)
    for name in ("phi", "rewards", "states", "actions", "next_states"):
        np.testing.assert_array_equal(getattr(head, name), getattr(short, name))


def test_exploration_records_the_trajectories_and_the_game():
    game = small_security()
    data = rf.explore(game, 15, seed=0)
    np.testing.assert_array_equal(data.next_states[:, :-1], data.states[:, 1:])
    np.testing.assert_array_equal(
        data.phi, game.features[data.states, data.actions[..., 0], data.actions[..., 1]]
    )
    assert data.meta["game_sha256"] == game.fingerprint()
    assert data.meta["exploration"]["beta"] == 1.0 and data.episodes == 15
    assert (np.abs(data.rewards) <= 1).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"episodes": 0}, "episodes must be an integer >= 1"),
        ({"beta": -1.0}, r"beta must be in \[0, inf\)"),
        ({"beta": float("nan")}, "beta must be"),
        ({"lam": 0.0}, r"lam must be in \(0, inf\)"),
        ({"alpha_l": "hot"}, "alpha_l: alpha must be"),
        ({"alpha_f": -1.0}, "alpha_f: alpha must be >= 0"),
        ({"seed": -1}, "seed must be an integer >= 0"),
        ({"refresh_every": 0}, "refresh_every must be an integer >= 1"),
    ],
)
def test_bad_exploration_arguments_are_refused_naming_them(kwargs, match):
    args = {"episodes": 3, **kwargs}
    with pytest.raises(ValueError, match=match):
        rf.explore(small_security(), **args)


# ---------------------------------------------------------------------- phase 2 on exact data
@pytest.mark.parametrize("seed", range(3))
def test_exhaustive_data_and_small_lambda_give_the_exact_stackelberg_solution(seed):
    game = dyadic_tabular(seed)
    data = exhaustive_data(game, replicates=4)
    pi_l, pi_f = rf.solve(data, lam=1e-9)
    se_l, se_f, values = stackelberg_equilibrium(game)
    np.testing.assert_array_equal(pi_l, se_l)
    np.testing.assert_array_equal(pi_f, se_f)
    np.testing.assert_allclose(evaluate(game, pi_l, pi_f).V, values.V, atol=1e-9)
    gaps = rf.gaps(game, pi_l, pi_f)
    for key in ("gap/leader/initial", "gap/leader/worst", "gap/follower/worst"):
        assert abs(gaps[key]) < 1e-9, key


def test_exhaustive_data_of_a_linear_game_give_its_solution_for_several_rewards():
    # security with escalation 1/2: the exact model as data with two replicates per (x, a, b).
    game = small_security()
    data = exhaustive_data(game, replicates=2)
    for rewards in (None, game, small_security(zero_sum=True), small_security(seed=5)):
        target = game if rewards is None else rewards
        pi_l, pi_f = rf.solve(data, rewards, lam=1e-9)
        _, _, values = stackelberg_equilibrium(target)
        np.testing.assert_allclose(evaluate(target, pi_l, pi_f).V, values.V, atol=1e-7)
        gaps = rf.gaps(target, pi_l, pi_f)
        assert abs(gaps["gap/leader/worst"]) < 1e-7 and gaps["gap/follower/worst"] < 1e-7


def test_a_reward_table_and_its_theta_give_the_same_plan():
    game = small_security(zero_sum=True)
    data = rf.explore(small_security(), 60, seed=2)
    table = np.stack([game.reward(h) for h in range(game.horizon)], axis=1)
    by_game, by_table, by_theta = (rf.solve(data, r) for r in (game, table, game.theta))
    for a, b in ((by_game, by_table), (by_game, by_theta)):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
    # solve's tables come from fit's own backups: the plan's tables, bit for bit
    for rewards, solved in ((game, by_game), (None, rf.solve(data))):
        for a, b in zip(solved, rf.fit(data, rewards).tables(data.features), strict=True):
            np.testing.assert_array_equal(a, b)
        # fit_with_tables: fit's plan and solve's tables, from one backward pass
        learned, tables = rf.fit_with_tables(data, rewards)
        np.testing.assert_array_equal(learned.w, rf.fit(data, rewards).w)
        assert len(tables) == len(solved)
        for a, b in zip(solved, tables, strict=True):
            np.testing.assert_array_equal(a, b)


def test_the_stackelberg_choice_breaks_the_followers_ties_for_the_leader():
    Q = np.zeros((2, 2, 2))  # (m, a, b): the follower is indifferent everywhere
    Q[0] = [[0.0, 1.0], [0.5, 0.2]]
    pi_l, pi_f, V = rf._stackelberg(Q, rf.TIE_TOL)
    assert pi_f.tolist() == [[0.0, 1.0], [1.0, 0.0]] and pi_l.tolist() == [1.0, 0.0]
    assert V.tolist() == [1.0, 0.0]
    # Q̂ is clipped to [-(H-h), H-h]: here H - h = 2.
    assert rf.LearnedPlan(np.full((2, 2, 1), 9.0)).q(0, np.ones((1, 1, 1))).max() == 2.0


# ---------------------------------------------------------------------- BR_f^- and the gaps
def deterministic_follower_policies(H, S, A, B):
    for choice in itertools.product(range(B), repeat=H * S * A):
        pi = np.zeros((H * S * A, B))
        pi[np.arange(H * S * A), choice] = 1.0
        yield pi.reshape(H, S, A, B)


def test_the_tie_breaking_best_responses_are_the_extremes_over_all_best_responses():
    # Brute force: every deterministic follower policy is evaluated; those that are best from
    # every initial state are the best responses; the leader's worst and best value over them.
    # Rewards in {-1, -1/2, 0, 1/2, 1} and transitions in halves: the follower has exact ties.
    differ = 0
    for seed in range(6):
        game = dyadic_tabular(seed, S=2, A=2, B=2, H=2, quarters=2, grid=2)
        rng = np.random.default_rng(seed)
        pi_l = rng.dirichlet(np.ones(2), size=(2, 2))
        values = np.array(
            [
                evaluate(game, pi_l, pi_f).V[:, 0]
                for pi_f in deterministic_follower_policies(2, 2, 2, 2)
            ]
        )  # (n, 2, S)
        best_f = values[:, 1].max(axis=0)
        best = np.all(values[:, 1] >= best_f - 1e-9, axis=1)
        _, against = follower_best_response(game, pi_l, tie_break="follower")
        _, towards = follower_best_response(game, pi_l, tie_break="leader")
        np.testing.assert_allclose(against.V[0, 0], values[best, 0].min(axis=0), atol=1e-12)
        np.testing.assert_allclose(towards.V[0, 0], values[best, 0].max(axis=0), atol=1e-12)
        np.testing.assert_allclose(against.V[1, 0], best_f, atol=1e-12)
        np.testing.assert_allclose(towards.V[1, 0], best_f, atol=1e-12)
        differ += bool(np.any(towards.V[0, 0] > against.V[0, 0] + 1e-9))
    assert differ >= 2  # ties that matter to the leader were exercised


def test_the_leaders_output_value_is_its_worst_over_all_follower_best_responses():
    # gaps' BR_f^- against brute force: every deterministic follower policy that is best from
    # every initial state, the leader's lowest value over them (exact ties, as above).
    for seed in range(4):
        game = dyadic_tabular(seed, S=2, A=2, B=2, H=2, quarters=2, grid=2)
        pi_l = np.random.default_rng(seed).dirichlet(np.ones(2), size=(2, 2))
        values = np.array(
            [evaluate(game, pi_l, pi).V[:, 0] for pi in deterministic_follower_policies(2, 2, 2, 2)]
        )  # (n, 2, S)
        best = np.all(values[:, 1] >= values[:, 1].max(axis=0) - 1e-9, axis=1)
        worst = values[best, 0].min(axis=0)
        p0, se = game.initial_distribution, stackelberg_equilibrium(game)[-1].V[0, 0]
        gaps = rf.gaps(game, pi_l, follower_best_response(game, pi_l)[0])
        assert gaps["value/leader/output"] == pytest.approx(p0 @ worst, rel=0, abs=1e-12)
        assert gaps["gap/leader/initial"] == pytest.approx(p0 @ (se - worst), rel=0, abs=1e-12)
        assert gaps["gap/leader/worst"] == pytest.approx((se - worst).max(), rel=0, abs=1e-12)


def test_a_threat_makes_the_leaders_gap_negative():
    # math.md §7: the follower moves to X or Y at step 0; at Y the leader can punish it.
    S, A, B, H = 3, 2, 2, 2  # states: 0 start, 1 X, 2 Y
    P = np.zeros((H, S, A, B, S))
    P[0, :, :, 0, 1] = 1.0  # b = 0: to X
    P[0, :, :, 1, 2] = 1.0  # b = 1: to Y
    P[1, :, :, :, 0] = 1.0
    R = np.zeros((2, H, S, A, B))
    R[:, 0, 0, :, 0] = [[1.0], [0.0]]  # (m, a): both leader actions alike
    R[:, 0, 0, :, 1] = [[0.0], [0.5]]
    R[:, 1, 2, 0, :] = [[0.1], [0.0]]  # (m, b)
    R[:, 1, 2, 1, :] = [[0.0], [-1.0]]
    game = tabular(P, R)
    pi_l = np.zeros((H, S, A))
    pi_l[:, :, 0] = 1.0
    pi_l[1, 2] = [0.0, 1.0]  # the threat at Y
    pi_f = follower_best_response(game, pi_l)[0]
    gaps = rf.gaps(game, pi_l, pi_f)
    assert gaps["value/leader/stackelberg"] == pytest.approx(0.1)
    assert gaps["gap/leader/initial"] == pytest.approx(-0.9)
    assert gaps["gap/follower/initial"] == pytest.approx(0.0, abs=1e-12)


def random_policies(game, rng):
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    return rng.dirichlet(np.ones(A), size=(H, S)), rng.dirichlet(np.ones(B), size=(H, S, A))


@pytest.mark.parametrize("seed", range(5))
def test_gaps_are_never_negative_where_they_cannot_be(seed):
    rng = np.random.default_rng(seed)
    zero_sum = small_security(zero_sum=True, seed=seed)
    one_step = games.make("random-linear", n_states=4, dim=3, horizon=1, seed=seed)
    general = games.make("random-linear", n_states=4, dim=3, horizon=3, seed=seed)
    for game in (zero_sum, one_step, general):
        gaps = rf.gaps(game, *random_policies(game, rng))
        assert gaps["gap/follower/initial"] >= -1e-9 and gaps["gap/follower/worst"] >= -1e-9
        if game is not general:
            assert gaps["gap/leader/initial"] >= -1e-9 and gaps["gap/leader/worst"] >= -1e-9
    # The exact solution of a game without follower ties has no gap at all.
    pi_l, pi_f, _ = stackelberg_equilibrium(general)
    assert all(abs(v) < 1e-12 for k, v in rf.gaps(general, pi_l, pi_f).items() if "gap" in k)


def test_the_gaps_shrink_with_more_exploration():
    # Over 6 seeds, the mean gaps after 400 episodes are below those after 15 (SPEC §4). The
    # leader's gap may be negative (a threat, see above): its distance from 0 is what shrinks.
    game = small_security()
    totals = np.zeros((2, 2))
    for seed in range(6):
        data = rf.explore(game, 400, beta=0.5, seed=seed)
        for i, K in enumerate((15, 400)):
            g = rf.gaps(game, *rf.solve(data.head(K)))
            leader = abs(g["gap/leader/initial"]) + abs(g["gap/leader/worst"])
            totals[i] += leader, g["gap/follower/worst"]
    assert (totals[1] < totals[0]).all(), totals
    assert totals[1].sum() < 0.25 * totals[0].sum(), totals


# ---------------------------------------------------------------------- files and bad input
def test_a_saved_data_set_loads_back_identical_and_plans_the_same(tmp_path):
    game = small_security()
    data = rf.explore(game, 20, seed=1)
    path = tmp_path / "data.npz"
    data.save(path)
    back = rf.ExplorationData.load(path)
    for name in ("phi", "rewards", "states", "actions", "next_states", "features",
                 "initial_distribution", "transitions"):  # fmt: skip
        np.testing.assert_array_equal(getattr(back, name), getattr(data, name))
        assert getattr(back, name).dtype == getattr(data, name).dtype
    assert back.meta["game_sha256"] == game.fingerprint()
    for a, b in zip(rf.solve(back), rf.solve(data), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not list(tmp_path.glob(".tmp-*"))  # nothing left of the atomic write


def test_a_continuous_game_is_explored_and_planned_at_any_state(tmp_path):
    game = games.make("continuous", n_eval_states=10)
    data = rf.explore(game, 12, seed=0)
    assert data.next_features.shape == (12, game.horizon - 1, 2, 2, game.dim)
    data.save(tmp_path / "c.npz")
    back = rf.ExplorationData.load(tmp_path / "c.npz")
    learned = rf.fit(back, game)  # its own rewards, theta added exactly
    with_tables = rf.fit_with_tables(back, game)
    assert with_tables[1] is None  # a continuous game has no policy tables
    np.testing.assert_array_equal(with_tables[0].w, learned.w)
    phi = game.feature_map(np.array([[0.2, 0.7], [0.9, 0.1]]))
    pi_l, pi_f = learned.policies(0, phi)
    assert pi_l.shape == (2, 2) and pi_f.shape == (2, 2, 2)
    np.testing.assert_array_equal(pi_l.sum(-1), 1.0)
    # One-hot Stackelberg choices on Q̂_0: the follower best-responds to each a (within the tie
    # tolerance), the leader takes the best a given those responses.
    Q = learned.q(0, phi)  # (n, 2, A, B)
    assert set(np.unique(np.concatenate([pi_l.ravel(), pi_f.ravel()]))) <= {0.0, 1.0}
    b = pi_f.argmax(-1)  # (n, A)
    n, A = np.indices(b.shape)
    assert (Q[n, 1, A, b] >= Q[:, 1].max(-1) - rf.TIE_TOL).all()
    leader = Q[n, 0, A, b]  # (n, A): the leader's value of a against its response
    np.testing.assert_array_equal(leader[np.arange(len(b)), pi_l.argmax(-1)], leader.max(-1))
    with pytest.raises(ValueError, match="continuous game: it has no policy tables"):
        rf.solve(back)
    with pytest.raises(rf.ExplorationDataError, match="data come from a continuous game"):
        back.check_game(small_security())


def write_npz(path, **arrays):
    """``np.savez`` to ``path`` as given (a file object: no ``.npz`` added)."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.fixture
def saved(tmp_path):
    data = rf.explore(small_security(), 8, seed=0)
    path = tmp_path / "data.npz"
    data.save(path)
    head, arrays = _files.load(path, rf.FORMAT, rf.FORMAT_VERSION)
    return path, head, arrays


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        ("missing", "no such file"),
        ("text", "damaged, truncated or not an exploration data set"),
        ("truncated", "damaged, truncated or not an exploration data set"),
        ("game file", "not an exploration data set of stackelberg-rl"),
        ("no phi", "missing array 'phi'"),
        ("unknown", "unknown arrays extra"),
        ("float actions", "array 'actions' has dtype float64, expected integers"),
        ("state out of range", r"states has 7 > 1 at index \(0, 0\) \(k, h\)"),
        ("phi not played", r"phi at index \(0, 1\) \(k, h\) is not features\[x, a, b\]"),
        ("reward too large", r"rewards has 3 > 1 at index \(0, 0, 1\) \(k, h, player\)"),
        (
            "newer format",
            "format version 99; this version of stackelberg-rl reads format version 2",
        ),
        ("version 1", r"format version '1 \(stackelberg-rl 0.1\)'"),
        ("short rewards", r"rewards has shape \(8, 3, 1\), expected \(8, 3, 2\): axis 2"),
    ],
)
def test_a_damaged_or_foreign_data_file_is_refused_naming_the_problem(saved, damage, match):
    path, head, arrays = saved
    version = rf.FORMAT_VERSION
    target = path.with_name("bad.npz")
    if damage == "missing":
        target = path.with_name("nothing.npz")
    elif damage == "text":
        target.write_text("hello")
    elif damage == "truncated":
        target.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "game file":
        games.save(small_security(), target)
    else:
        if damage == "no phi":
            del arrays["phi"]
        elif damage == "unknown":
            arrays["extra"] = np.zeros(1)
        elif damage == "float actions":
            arrays["actions"] = arrays["actions"].astype(float)
        elif damage == "state out of range":
            arrays["states"][0, 0] = 7
        elif damage == "phi not played":
            arrays["phi"][0, 1] = 0.0
        elif damage == "reward too large":
            arrays["rewards"][0, 0, 1] = 3.0
        elif damage == "newer format":
            version = 99
        elif damage == "short rewards":
            arrays["rewards"] = arrays["rewards"][..., :1]
        if damage == "version 1":  # as stackelberg-rl wrote it before the one container
            meta = {**head["meta"], "format": rf.FORMAT, "format_version": 1}
            write_npz(target, **arrays, meta=np.str_(json.dumps(meta)))
        else:
            target.write_bytes(_files.pack(rf.FORMAT, version, arrays, {"meta": head["meta"]}))
    with pytest.raises(rf.ExplorationDataError, match=match) as info:
        rf.ExplorationData.load(target)
    assert str(target) in str(info.value)


def test_only_a_game_with_the_explored_transitions_is_accepted():
    data = rf.explore(small_security(), 5, seed=0)
    data.check_game(small_security(zero_sum=True, seed=9))  # other rewards: fine
    with pytest.raises(rf.ExplorationDataError, match=r"transitions differ .* index \(0, "):
        data.check_game(small_security(escalation=0.3))
    with pytest.raises(rf.ExplorationDataError, match=r"features differ"):
        data.check_game(small_security(impact_exponent=1.0))
    with pytest.raises(rf.ExplorationDataError, match=r"\(H, A, B, d\)"):
        data.check_game(games.make("electricity"))
    with pytest.raises(rf.ExplorationDataError, match=r"transitions differ"):
        rf.solve(data, small_security(escalation=0.3))


@pytest.mark.parametrize(
    ("rewards", "match"),
    [
        (np.zeros((2, 3, 12)), r"theta has shape \(2, 3, 12\), expected \(2, 3, 7\)"),
        (np.full((2, 3, 7), 5.0), "theta gives rewards up to"),
        (np.zeros((2, 3, 2, 2, 2)), r"rewards has shape .* axis 4 \(b\) is 2, expected 3"),
        (np.full((2, 3, 2, 2, 3), 2.0), r"rewards has 2 > 1 at index \(0, 0, 0, 0, 0\)"),
        (np.full((2, 3, 2, 2, 3), np.nan), "rewards has a non-finite entry"),
        (np.zeros((2, 3)), "rewards must be a table"),
        (np.array(["a"]), "rewards must be numbers"),
    ],
)
def test_bad_rewards_are_refused_naming_them(rewards, match):
    data = rf.explore(small_security(), 5, seed=0)
    with pytest.raises(ValueError, match=match):
        rf.solve(data, rewards)


def test_bad_planning_arguments_are_refused():
    data = rf.explore(small_security(), 5, seed=0)
    with pytest.raises(ValueError, match=r"lam must be in \(0, inf\)"):
        rf.solve(data, lam=0.0)
    with pytest.raises(ValueError, match="tol must be"):
        rf.solve(data, tol=-1.0)
    with pytest.raises(ValueError, match=r"k must be an integer in \[1, 5\]"):
        data.head(6)
    with pytest.raises(ValueError, match="gaps are exact on finite games only"):
        rf.gaps(games.make("continuous", n_eval_states=5), None, None)
    assert isinstance(small_security(), FiniteGame)


def test_saving_never_replaces_a_file_that_is_not_a_data_set(tmp_path):
    data = rf.explore(small_security(), 3, seed=0)
    mine = tmp_path / "notes.npz"
    mine.write_text("a user's file")
    with pytest.raises(rf.ExplorationDataError, match="exists and is not an exploration data set"):
        data.save(mine)
    assert mine.read_text() == "a user's file"
    with pytest.raises(rf.ExplorationDataError, match="exists and is not an exploration data set"):
        data.save(mine, overwrite=True)  # never, even with overwrite
    data.save(tmp_path / "data.npz")
    with pytest.raises(rf.ExplorationDataError, match="is already an exploration data set: give "):
        data.head(2).save(tmp_path / "data.npz")  # a data set is kept without overwrite
    assert rf.ExplorationData.load(tmp_path / "data.npz").episodes == 3
    data.head(2).save(tmp_path / "data.npz", overwrite=True)  # and replaced with it
    assert rf.ExplorationData.load(tmp_path / "data.npz").episodes == 2
