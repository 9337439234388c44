"""The finite game checks itself (math.md §1) and simulates what it holds.

Every validation error names the field and an offending index; the expected index is either put
there by hand or computed here independently of ``games.py``.
"""

import re

import numpy as np
import pytest
from helpers import declared_linear, dense_model

from stackelberg_rl import games
from stackelberg_rl.games import (
    FiniteGame,
    one_hot_features,
    random_linear,
    random_tabular,
    tabular,
)

S, A, B, D, H = 4, 2, 3, 3, 2


def dense_parts(seed=0):
    """A valid tabular game as keyword arguments of FiniteGame (all arrays fresh copies)."""
    rng = np.random.default_rng(seed)
    return {
        "features": one_hot_features(S, A, B),
        "initial_distribution": np.full(S, 1.0 / S),
        "transitions": rng.dirichlet(np.ones(S), size=(H, S, A, B)),
        "rewards": rng.uniform(-0.9, 0.9, size=(2, H, S, A, B)),
    }


def factored_parts(seed=0):
    """A valid factored linear game as keyword arguments of FiniteGame."""
    g = random_linear(S, A, B, D, H, seed=seed)
    return {
        "features": g.features.copy(),
        "initial_distribution": g.initial_distribution.copy(),
        "mu": g.mu.copy(),
        "theta": g.theta.copy(),
    }


def both_parts(seed=0):
    """A factored game together with its exact dense model (a declared-linear game)."""
    kw = factored_parts(seed)
    kw["transitions"], kw["rewards"] = dense_model(FiniteGame(**kw))
    return kw


def idx_re(*idx):
    """A regex matching the printed tuple ``idx``."""
    return re.escape(str(tuple(int(i) for i in idx)))


def test_valid_parts_are_accepted():
    for kw in (dense_parts(), factored_parts(), both_parts()):
        g = FiniteGame(**kw)
        assert (g.horizon, g.n_states, g.n_leader_actions, g.n_follower_actions) == (H, S, A, B)


# ---------------------------------------------------------------------- probabilities
def test_negative_transition_probability_dense():
    kw = dense_parts()
    P = kw["transitions"]
    P[1, 2, 1, 0, 0] += P[1, 2, 1, 0, 3] + 0.2  # keep the row summing to one
    P[1, 2, 1, 0, 3] = -0.2
    assert abs(P[1, 2, 1, 0].sum() - 1.0) < 1e-12
    with pytest.raises(
        ValueError, match=r"transitions has a negative probability.*" + idx_re(1, 2, 1, 0, 3)
    ):
        FiniteGame(**kw)


def test_negative_initial_probability():
    kw = dense_parts()
    kw["initial_distribution"] = np.array([0.5, -0.25, 0.5, 0.25])
    with pytest.raises(
        ValueError, match=r"initial_distribution has a negative probability.*" + idx_re(1)
    ):
        FiniteGame(**kw)


def test_initial_distribution_not_normalised():
    kw = dense_parts()
    kw["initial_distribution"] = np.array([0.5, 0.25, 0.25, 0.25])
    with pytest.raises(ValueError, match=r"initial_distribution does not sum to 1 \(sum 1\.25\)"):
        FiniteGame(**kw)


def test_dense_rows_not_normalised():
    kw = dense_parts()
    kw["transitions"][0, 3, 1, 2] *= 0.5
    with pytest.raises(
        ValueError, match=r"transitions does not sum to 1 at index " + idx_re(0, 3, 1, 2)
    ):
        FiniteGame(**kw)


def test_dense_rows_within_tolerance_are_accepted():
    kw = dense_parts()
    kw["transitions"][0, 3, 1, 2, 0] += 1e-11  # below TOL = 1e-9: round-off, not an error
    FiniteGame(**kw)


def test_factored_rows_not_normalised():
    kw = factored_parts()
    kw["mu"][1, 2] *= 0.9  # measure 2 at step 1 now has mass 0.9
    # The worst row is the (x, a, b) that leans most on feature 2.
    worst = np.unravel_index(np.argmax(kw["features"][..., 2]), (S, A, B))
    with pytest.raises(
        ValueError, match=r"transitions given by mu do not sum to 1 at index " + idx_re(1, *worst)
    ):
        FiniteGame(**kw)


def test_factored_negative_probability_with_nonnegative_features():
    kw = factored_parts()
    mu = kw["mu"]
    mu[0, 1, 3] -= 1.0  # mass moves from state 3 to state 0: rows still sum to one
    mu[0, 1, 0] += 1.0
    p = np.einsum("sabd,dt->sabt", kw["features"], mu[0])
    assert p.min() < -1e-9
    worst = np.unravel_index(np.argmin(p), p.shape)
    with pytest.raises(
        ValueError,
        match=r"transitions given by mu have a negative probability.*" + idx_re(0, *worst),
    ):
        FiniteGame(**kw)


def signed_game_parts(m2):
    """S = 3, A = B = 1, d = 2, H = 2 with signed features ``phi(x) = (0.8, 0.6 c_x)``.

    ``mu^1`` is uniform with mass 1/0.8 so rows sum to one (``mu^2`` has mass 0): then
    ``P_h(y|x) = 1/3 + 0.6 c_x mu_h^2(y)`` with ``c = (0, 0.5, 1)``.
    """
    c = np.array([0.0, 0.5, 1.0])
    features = np.stack([np.full(3, 0.8), 0.6 * c], axis=-1).reshape(3, 1, 1, 2)
    mu1 = np.full(3, 1.25 / 3)
    valid = np.array([0.5, -0.5, 0.0])  # P(1|x=2) = 1/3 - 0.3 > 0
    mu = np.stack([np.stack([mu1, valid]), np.stack([mu1, m2])])
    return {
        "features": features,
        "initial_distribution": np.full(3, 1 / 3),
        "mu": mu,
        "theta": np.zeros((2, 2, 2)),
    }


def test_signed_features_valid_game_is_accepted():
    g = FiniteGame(**signed_game_parts(np.array([0.5, -0.5, 0.0])))
    assert g.transition(1)[2, 0, 0, 1] == pytest.approx(1 / 3 - 0.3)


@pytest.mark.parametrize("chunk", [games.base._CHUNK, 1])
def test_signed_features_negative_probability_is_rejected(monkeypatch, chunk):
    # mu^2 at step 1 = (0.8, -0.8, 0): P_1(1|x=2) = 1/3 - 0.48 < 0, while x = 0, 1 are fine.
    # chunk = 1 checks one (x, a, b) row at a time, so the index must survive the blocking.
    monkeypatch.setattr(games.base, "_CHUNK", chunk)
    with pytest.raises(
        ValueError,
        match=r"transitions given by mu have a negative probability -0\.147 at index "
        + idx_re(1, 2, 0, 0, 1),
    ):
        FiniteGame(**signed_game_parts(np.array([0.8, -0.8, 0.0])))


def test_signed_features_step_draws_from_the_transition():
    """Signed features are not a mixture: ``step`` draws from the dense row ``P_h(·|x)``."""
    g = FiniteGame(**signed_game_parts(np.array([0.5, -0.5, 0.0])))
    rng = np.random.default_rng(0)
    draws = [g.step(0, 2, 0, 0, rng)[1] for _ in range(2000)]
    freq = np.bincount(draws, minlength=3) / len(draws)
    assert np.abs(freq - g.next_state_distribution(0, 2, 0, 0)).max() < 0.05


# ---------------------------------------------------------------------- non-finite values
NON_FINITE = [
    ("features", "dense", (1, 0, 1, 2)),
    ("initial_distribution", "dense", (3,)),
    ("transitions", "dense", (1, 0, 1, 2, 3)),
    ("rewards", "dense", (1, 0, 3, 1, 2)),
    ("features", "factored", (2, 1, 0, 1)),
    ("mu", "factored", (1, 2, 3)),
    ("theta", "factored", (1, 0, 2)),
]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize(("field", "form", "index"), NON_FINITE)
def test_non_finite_entries(field, form, index, bad):
    kw = dense_parts() if form == "dense" else factored_parts()
    kw[field][index] = bad
    with pytest.raises(
        ValueError, match=rf"{field} has a non-finite entry -?(nan|inf) at index " + idx_re(*index)
    ):
        FiniteGame(**kw)


# ---------------------------------------------------------------------- rewards and features
def test_dense_reward_out_of_range():
    kw = dense_parts()
    kw["rewards"][1, 0, 2, 1, 0] = 1.5
    with pytest.raises(ValueError, match=r"rewards has 1\.5 > 1 at index " + idx_re(1, 0, 2, 1, 0)):
        FiniteGame(**kw)
    kw["rewards"][1, 0, 2, 1, 0] = -1.0 - 1e-6
    with pytest.raises(ValueError, match=r"rewards has -1 < -1 at index " + idx_re(1, 0, 2, 1, 0)):
        FiniteGame(**kw)


def test_dense_reward_at_the_bounds_is_accepted():
    kw = dense_parts()
    kw["rewards"][0, 1, 0, 0, 0], kw["rewards"][1, 1, 0, 0, 1] = 1.0, -1.0
    FiniteGame(**kw)


def test_reward_out_of_range_via_theta():
    kw = factored_parts()
    kw["theta"][1, 1, 2] = 5.0
    r = np.einsum("sabd,d->sab", kw["features"], kw["theta"][1, 1])
    first = np.argwhere(np.abs(r) > 1.0)[0]  # the first offending (x, a, b) in C order
    with pytest.raises(
        ValueError,
        match=r"rewards given by theta at step 1 has .* > 1 at index " + idx_re(1, *first),
    ):
        FiniteGame(**kw)


def test_feature_norm_above_one():
    kw = dense_parts()
    kw["features"][2, 1, 0] = 0.0
    kw["features"][2, 1, 0, :2] = 0.8  # norm 0.8·√2 ≈ 1.131
    with pytest.raises(
        ValueError, match=r"the norm of features has 1\.131.* > 1 at index " + idx_re(2, 1, 0)
    ):
        FiniteGame(**kw)


# ---------------------------------------------------------------------- shapes
def _resize(a, axis, n):
    """``a`` with axis ``axis`` cut or padded (by repeating the last slice) to length ``n``."""
    if a.shape[axis] >= n:
        return np.take(a, np.arange(n), axis=axis)
    extra = np.take(a, [-1] * (n - a.shape[axis]), axis=axis)
    return np.concatenate([a, extra], axis=axis)


SHAPES = [
    # (form, field, axis, new length, axis name as printed)
    ("dense", "initial_distribution", 0, S + 1, "S"),
    ("dense", "transitions", 1, S - 1, "S"),
    ("dense", "transitions", 2, A + 1, "A"),
    ("dense", "transitions", 3, B - 1, "B"),
    ("dense", "transitions", 4, S + 1, "S"),
    ("dense", "rewards", 0, 3, "player"),
    ("dense", "rewards", 1, H + 1, "H"),
    ("dense", "rewards", 2, S - 1, "S"),
    ("dense", "rewards", 4, B + 1, "B"),
    ("factored", "mu", 1, D + 1, "d"),
    ("factored", "mu", 2, S - 1, "S"),
    ("factored", "theta", 0, 1, "player"),
    ("factored", "theta", 1, H + 1, "H"),
    ("factored", "theta", 2, D - 1, "d"),
    ("both", "mu", 0, H + 1, "H"),  # the dense model has H steps, mu has H + 1
    ("both", "theta", 1, H - 1, "H"),
]


@pytest.mark.parametrize(("form", "field", "axis", "n", "name"), SHAPES)
def test_inconsistent_shapes(form, field, axis, n, name):
    kw = {"dense": dense_parts, "factored": factored_parts, "both": both_parts}[form]()
    expected = kw[field].shape[axis]
    kw[field] = _resize(kw[field], axis, n)
    match = rf"{field} has shape .*axis {axis} \({name}\) is {n}, expected {expected}"
    if name == "S":  # no array is taken to be right: every one's S is given
        match = rf"^the arrays disagree on the number of states S: features has S = {S} .*{field} "
        match += rf"({n} and {S}|{S} and {n}|{n}) \(ax"
    with pytest.raises(ValueError, match=match):
        FiniteGame(**kw)


@pytest.mark.parametrize(
    ("parts", "field", "match"),
    [
        (dense_parts, "features", r"features has shape .*\(S, A, B, d\): 3 axes instead of 4"),
        (dense_parts, "transitions", r"transitions has shape .*\(H, S, A, B, S\): 4 axes"),
        (factored_parts, "mu", r"mu has shape .*\(H, d, S\): 2 axes instead of 3"),
        (factored_parts, "theta", r"theta has shape \(2, 3\), expected \(2, 2, 3\).*2 axes"),
    ],
)
def test_wrong_number_of_axes(parts, field, match):
    kw = parts()
    kw[field] = kw[field][0]
    with pytest.raises(ValueError, match=match):
        FiniteGame(**kw)


def test_incomplete_forms():
    kw = dense_parts()
    del kw["rewards"]
    with pytest.raises(ValueError, match="needs both transitions and rewards"):
        FiniteGame(**kw)
    kw = factored_parts()
    del kw["theta"]
    with pytest.raises(ValueError, match="needs both mu and theta"):
        FiniteGame(**kw)
    kw = dense_parts()
    del kw["rewards"], kw["transitions"]
    with pytest.raises(ValueError, match="give transitions and rewards, or mu and theta"):
        FiniteGame(**kw)


def test_reward_noise_out_of_range():
    with pytest.raises(ValueError, match="reward_noise"):
        FiniteGame(**dense_parts(), reward_noise=1.5)


# ---------------------------------------------------------------------- declared-linear games
def test_declared_linear_transitions_disagree():
    kw = both_parts()
    row = kw["transitions"][1, 2, 0, 1]
    hi = int(np.argmax(row))
    others = [i for i in range(S) if i != hi]
    assert row[hi] >= 0.25
    row[hi] -= 0.02  # still a distribution, but no longer features·mu; hi moves most
    row[others[:2]] += 0.01
    with pytest.raises(
        ValueError,
        match=r"transitions disagree with features·mu at index "
        + idx_re(1, 2, 0, 1, hi)
        + r" \(h, x, a, b, x'\) by 0\.02: the game is not linear",
    ):
        FiniteGame(**kw)


def test_declared_linear_rewards_disagree():
    kw = both_parts()
    r = kw["rewards"]
    r[1, 0, 3, 1, 0] += -0.01 if r[1, 0, 3, 1, 0] > 0 else 0.01  # stays inside [-1, 1]
    with pytest.raises(
        ValueError,
        match=r"rewards disagree with features·theta at index "
        + idx_re(1, 0, 3, 1, 0)
        + r".*by 0\.01",
    ):
        FiniteGame(**kw)


def test_declared_linear_within_tolerance_is_accepted():
    kw = both_parts()
    kw["rewards"][0, 1, 0, 0, 0] += 1e-10
    FiniteGame(**kw)


# ---------------------------------------------------------------------- model
@pytest.mark.parametrize("make", [dense_parts, factored_parts, both_parts])
def test_expected_next_shapes_and_values(make):
    g = FiniteGame(**make())
    rng = np.random.default_rng(1)
    V1 = rng.standard_normal(S)
    V2 = rng.standard_normal((2, S))
    for h in range(H):
        P = g.transition(h)
        assert P.shape == (S, A, B, S)
        e1, e2 = g.expected_next(h, V1), g.expected_next(h, V2)
        assert e1.shape == (S, A, B)
        assert e2.shape == (2, S, A, B)
        np.testing.assert_allclose(e1, np.einsum("sabt,t->sab", P, V1), rtol=0, atol=1e-13)
        np.testing.assert_allclose(e2, np.einsum("sabt,mt->msab", P, V2), rtol=0, atol=1e-13)
        # the Bellman backup is reward + expected next value, also when written into `out`
        out = np.empty((2, H, S, A, B))
        Q = g.action_values(h, V2, out=out[:, h])
        assert np.shares_memory(Q, out)
        np.testing.assert_allclose(out[:, h], g.reward(h) + e2, rtol=0, atol=1e-13)
        np.testing.assert_allclose(g.action_values(h), g.reward(h), rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="V has shape"):
        g.expected_next(0, np.zeros(S + 1))
    with pytest.raises(ValueError, match="V has shape"):
        g.action_values(0, np.zeros(S))
    with pytest.raises(ValueError, match="V has shape"):
        g.action_values(0, np.zeros((3, S)))  # three players' values for a two-player game
    with pytest.raises(ValueError, match=r"out has shape .*: axis 1 \(S\) is"):
        g.action_values(0, V2, out=np.empty((2, S + 1, A, B)))


def test_transition_too_large_raises():
    g = random_linear(2000, 4, 4, 2, 1, seed=0)  # 2000·4·4·2000 = 64M entries > 50M
    with pytest.raises(ValueError, match=r"transition\(0\) would build 64,000,000 entries"):
        g.transition(0)
    # the planner's backup never needs it
    assert g.expected_next(0, np.ones(2000)).shape == (2000, 4, 4)


def test_reward_at_and_step_without_noise_return_the_mean():
    for kw in (dense_parts(), factored_parts()):
        g = FiniteGame(**kw)
        rng = np.random.default_rng(0)
        for h, x, a, b in [(0, 0, 0, 0), (1, 3, 1, 2), (0, 2, 1, 1)]:
            np.testing.assert_allclose(g.reward_at(h, x, a, b), g.reward(h)[:, x, a, b], atol=1e-15)
            r, _ = g.step(h, x, a, b, rng)
            np.testing.assert_allclose(r, g.reward(h)[:, x, a, b], atol=1e-15)


@pytest.mark.parametrize("make", [dense_parts, factored_parts])
def test_sample_initial_and_step_are_deterministic(make):
    g = FiniteGame(**make(), reward_noise=0.3)

    def trajectory(seed):
        rng = np.random.default_rng(seed)
        out, x = [], g.sample_initial(rng)
        for h in range(H):
            r, x = g.step(h, x, h % A, (h + 1) % B, rng)
            out.append((r.copy(), x))
        return out

    t1, t2, t3 = trajectory(7), trajectory(7), trajectory(8)
    assert all(
        np.array_equal(r1, r2) and x1 == x2 for (r1, x1), (r2, x2) in zip(t1, t2, strict=True)
    )
    assert any(not np.array_equal(r1, r3) for (r1, _), (r3, _) in zip(t1, t3, strict=True))


@pytest.mark.parametrize("make", [dense_parts, factored_parts])
def test_step_frequencies_match_the_transition(make):
    g = FiniteGame(**make())
    rng = np.random.default_rng(2024)
    n = 20_000
    h, x, a, b = 1, 2, 1, 2
    p = g.next_state_distribution(h, x, a, b)
    np.testing.assert_allclose(p, g.transition(h)[x, a, b], atol=1e-15)
    draws = np.array([g.step(h, x, a, b, rng)[1] for _ in range(n)])
    freq = np.bincount(draws, minlength=S) / n
    # Tolerance: 5 binomial standard deviations per state (a false alarm has probability < 1e-5
    # per state, and the seed is fixed anyway).
    tol = 5 * np.sqrt(p * (1 - p) / n) + 1e-12
    assert np.all(np.abs(freq - p) <= tol), (freq, p)


def test_step_never_draws_a_zero_probability_state_and_noise_keeps_the_mean():
    kw = dense_parts()
    P = kw["transitions"]
    P[0, 1, 0, 2] = [0.0, 0.7, 0.0, 0.3]
    kw["rewards"][:, 0, 1, 0, 2] = [0.9, -0.5]
    g = FiniteGame(**kw, reward_noise=0.5)
    rng = np.random.default_rng(3)
    draws = [g.step(0, 1, 0, 2, rng) for _ in range(20_000)]
    xs = np.array([x for _, x in draws])
    rs = np.array([r for r, _ in draws])
    assert set(np.unique(xs)) == {1, 3}
    assert abs(np.mean(xs == 1) - 0.7) < 5 * np.sqrt(0.21 / 20_000)
    assert np.all(np.abs(rs) <= 1.0)
    # noise half-widths are 0.5·(1-0.9) = 0.05 and 0.5·(1-0.5) = 0.25; 5 std of the mean
    half = np.array([0.05, 0.25])
    assert np.all(np.abs(rs.mean(axis=0) - [0.9, -0.5]) < 5 * half / np.sqrt(3 * 20_000))
    assert np.all(rs.max(axis=0) - rs.min(axis=0) <= 2 * half + 1e-12)


def test_sample_initial_frequencies():
    kw = dense_parts()
    kw["initial_distribution"] = np.array([0.1, 0.0, 0.6, 0.3])
    g = FiniteGame(**kw)
    rng = np.random.default_rng(11)
    n = 20_000
    freq = np.bincount([g.sample_initial(rng) for _ in range(n)], minlength=S) / n
    p = kw["initial_distribution"]
    assert freq[1] == 0.0
    assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-12)


# ---------------------------------------------------------------------- generators
@pytest.mark.parametrize(
    ("n_states", "n_a", "n_b", "dim", "horizon", "seed"),
    [(1, 1, 1, 1, 1, 0), (5, 2, 3, 4, 3, 1), (30, 3, 2, 6, 4, 2), (200, 2, 2, 10, 2, 3)],
)
def test_random_linear_is_a_valid_linear_game(n_states, n_a, n_b, dim, horizon, seed):
    g = random_linear(n_states, n_a, n_b, dim, horizon, seed=seed)
    assert g.is_factored
    assert g.features.shape == (n_states, n_a, n_b, dim)
    assert g.mu.shape == (horizon, dim, n_states) and g.theta.shape == (2, horizon, dim)
    # simplex features: non-negative, summing to one, so ‖phi‖₂ ≤ 1
    assert g.features.min() >= 0.0
    np.testing.assert_allclose(g.features.sum(-1), 1.0, atol=1e-12)
    for h in range(horizon):
        P = g.transition(h)
        assert P.min() >= 0.0
        np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)
        assert np.abs(g.reward(h)).max() <= 1.0
    # and its dense model passes validation as a declared-linear game
    declared_linear(g)


def test_random_linear_is_seeded():
    g1, g2, g3 = (random_linear(6, 2, 2, 3, 2, seed=s) for s in (5, 5, 6))
    for name in ("features", "mu", "theta"):
        assert np.array_equal(getattr(g1, name), getattr(g2, name))
        assert not np.array_equal(getattr(g1, name), getattr(g3, name))
    ss = np.random.SeedSequence(42)
    assert np.array_equal(
        random_linear(6, 2, 2, 3, 2, seed=ss).mu, random_linear(6, 2, 2, 3, 2, seed=ss).mu
    )


@pytest.mark.parametrize(
    "arg", ["n_states", "n_leader_actions", "n_follower_actions", "dim", "horizon"]
)
@pytest.mark.parametrize("value", [0, -1, 2.5])
def test_random_linear_rejects_bad_sizes(arg, value):
    kw = {"n_states": 3, "n_leader_actions": 2, "n_follower_actions": 2, "dim": 2, "horizon": 2}
    kw[arg] = value
    with pytest.raises(ValueError, match=rf"{arg} must be an integer >= 1"):
        random_linear(**kw)


def test_tabular_is_linear_in_one_hot_features():
    kw = dense_parts(seed=4)
    P, r = kw["transitions"], kw["rewards"]
    g = tabular(P, r)
    assert not g.is_factored
    assert g.dim == S * A * B
    np.testing.assert_array_equal(g.initial_distribution, np.eye(S)[0])  # default: state 0
    # phi(x, a, b) is the indicator of (x, a, b)
    flat = g.features.reshape(S * A * B, S * A * B)
    np.testing.assert_array_equal(flat, np.eye(S * A * B))
    for h in range(H):
        np.testing.assert_array_equal(g.transition(h), P[h])
        np.testing.assert_array_equal(g.reward(h), r[:, h])
    # with mu_h(x') = P_h(x'|·) and theta = r, the tabular game is a declared-linear game
    mu = P.reshape(H, S * A * B, S)
    theta = r.reshape(2, H, S * A * B)
    FiniteGame(g.features, g.initial_distribution, transitions=P, rewards=r, mu=mu, theta=theta)
    # tabular validates like any game
    P_bad = P.copy()
    P_bad[1, 0, 0, 0] *= 2
    with pytest.raises(
        ValueError, match=r"transitions does not sum to 1 at index " + idx_re(1, 0, 0, 0)
    ):
        tabular(P_bad, r)
    with pytest.raises(ValueError, match=r"transitions has shape .*: 4 axes instead of 5"):
        tabular(P[0], r)


@pytest.mark.parametrize("seed", range(3))
def test_random_tabular_is_valid_and_seeded(seed):
    g = random_tabular(5, 2, 3, 3, seed=seed)
    assert (g.horizon, g.n_states, g.n_leader_actions, g.n_follower_actions) == (3, 5, 2, 3)
    for h in range(3):
        P = g.transition(h)
        assert P.min() >= 0.0
        np.testing.assert_allclose(P.sum(-1), 1.0, atol=1e-12)
        assert np.abs(g.reward(h)).max() <= 1.0
    np.testing.assert_allclose(g.initial_distribution, np.full(5, 0.2))
    again = random_tabular(5, 2, 3, 3, seed=seed)
    assert np.array_equal(again.transition(2), g.transition(2))
    assert np.array_equal(again.reward(1), g.reward(1))


def test_declared_linear_horizons_must_agree():
    # mu and theta agree with each other (H + 1 steps) but not with the dense model (H steps):
    # the extra step must not be silently ignored.
    kw = both_parts()
    kw["mu"] = _resize(kw["mu"], 0, H + 1)
    kw["theta"] = _resize(kw["theta"], 0 + 1, H + 1)
    with pytest.raises(ValueError, match=rf"mu has shape .*axis 0 \(H\) is {H + 1}, expected {H}"):
        FiniteGame(**kw)


def test_mixture_sampling_of_random_linear_games_matches_the_transition():
    # Simplex features and distributions μ_h^i: step draws the component, then the state.
    g = random_linear(12, 2, 3, 4, 2, seed=5)
    rng = np.random.default_rng(99)
    h, x, a, b = 1, 7, 1, 2
    n = 40_000
    draws = np.array([g.step(h, x, a, b, rng)[1] for _ in range(n)])
    assert g._mixture_cdf is not None  # the mixture path was taken
    p = g.next_state_distribution(h, x, a, b)
    freq = np.bincount(draws, minlength=12) / n
    tol = 5 * np.sqrt(p * (1 - p) / n) + 1e-12  # 5 binomial standard deviations per state
    assert np.all(np.abs(freq - p) <= tol), (freq, p)
