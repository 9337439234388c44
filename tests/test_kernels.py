"""The compiled pass against the plain formulas, in every loop variant."""

import math

import numpy as np
import pytest
from numba import njit

from stackelberg_rl.games import sampling
from stackelberg_rl.learners import SoftmaxLSVIUCB
from stackelberg_rl.learners._kernels import plan as K
from stackelberg_rl.learners.functional import optimistic_q, soft_policies
from stackelberg_rl.learners.lsvi_ucb import compiled_policies, parameters


def reference(psi, quad_old, n_old, w, pending, Linv, A, beta, H, alpha_l, alpha_f, mode):
    """Plain numpy: the forms against the new inverse directly, Q, soft-max values."""
    n, d, AB = psi.shape
    vecs = psi.transpose(0, 2, 1)  # (n, AB, d)
    exact = np.einsum("nvd,de,nve->nv", vecs, Linv, vecs)
    quad = exact.copy()
    if mode != K.MODE_EXACT and len(pending):
        # Λ_old = Λ_new − ΦᵀΦ: the forms against Λ_old, then the new ones directly.
        Lold_inv = np.linalg.inv(np.linalg.inv(Linv) - pending.T @ pending)
        old = np.einsum("nvd,de,nve->nv", vecs[:n_old], Lold_inv, vecs[:n_old])
        np.testing.assert_allclose(old, quad_old[:n_old], atol=1e-9)  # the fixture is consistent
    Q = np.minimum(vecs @ w.T + beta * np.sqrt(np.maximum(quad, 0))[..., None], H)  # (n, AB, 2)
    Q = Q.reshape(n, A, AB // A, 2).transpose(0, 3, 1, 2)  # (n, 2, A, B)
    V = soft_policies(Q, alpha_l, alpha_f)[4]
    return V, quad


# |A||B| = 6, 4: products over d per pair; 12, 16, 9, 20: across the pairs; |B| = 1 or |A| = 1:
# a soft-max over one action.
SHAPES = [(3, 2), (3, 4), (4, 4), (3, 3), (5, 4), (2, 2), (4, 1), (1, 3)]
assert {A * B < K.ACROSS_PAIRS for A, B in SHAPES} == {True, False}


def values(psi, forms, n_current, w, updates, Linv, A, alphas, mode, bonus_reward=False):
    """:func:`K.next_state_values` of ``psi (n, d, A·B)`` with ``β = 0.7``, ``H = 3``; V, drift."""
    n = psi.shape[0]
    V = np.empty((n, 2))
    # K.NextStates, as a plain tuple: sample t's ψ at row n-1-t of a table (the indices are read).
    rows = np.arange(n)[::-1].copy()
    step = (psi[::-1].copy(), rows, forms, n, n_current, updates, Linv)
    params = parameters(0.7, 3.0, alphas, bonus_reward, (A, psi.shape[2] // A))
    return V, K.next_state_values(step, w, params, mode, V)


def sherman_morrison_rows(Linv_old, pending):
    """The scaled vectors ``U_r = u/√(1 + φᵀu)``, ``u = Λ^{-1}φ``, row after row, in numpy."""
    Linv = Linv_old.copy()
    U = np.empty_like(pending)
    for r, phi in enumerate(pending):
        u = Linv @ phi
        U[r] = u / np.sqrt(1.0 + phi @ u)
        Linv -= np.outer(U[r], U[r])
    return U, Linv


@pytest.mark.parametrize("m", [0, 1, 3])
@pytest.mark.parametrize("mode", [K.MODE_DOWNDATE, K.MODE_EXACT, K.MODE_MEASURE])
@pytest.mark.parametrize("alpha", [2.5, math.inf, 1e6, 0.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("A, B", SHAPES)
def test_next_state_values_matches_numpy(m, mode, alpha, dtype, A, B):
    rng = np.random.default_rng(m * 100 + mode)
    n, n_old, d = 150, 133, 5  # blocks of 64: the last one has old and new samples
    psi = (rng.random((n, d, A * B)) / d).astype(dtype)
    Phi_old = rng.random((20, d)) / d
    pending = rng.random((m, d)) / d
    Lold = np.eye(d) + Phi_old.T @ Phi_old
    Lnew = Lold + pending.T @ pending
    Linv = np.linalg.inv(Lnew)
    vecs = psi.astype(np.float64).transpose(0, 2, 1)
    quad = np.einsum("nvd,de,nve->nv", vecs, np.linalg.inv(Lold), vecs)
    quad[n_old:] = np.nan  # never computed yet: the kernel must not read them
    U, Linv_sm = sherman_morrison_rows(np.linalg.inv(Lold), pending)
    np.testing.assert_allclose(Linv_sm, Linv, atol=1e-15)  # the vectors are the update's
    w = rng.normal(size=(2, d))
    V_ref, quad_ref = reference(
        psi.astype(np.float64), quad, n_old, w, pending, Linv, A, 0.7, 3.0, alpha, alpha, mode
    )
    # float64: downdated and direct forms differ by round-off (measured below 2e-16 here);
    # float32 features: the kernel widens them exactly, the reference is given the same values.
    for _ in range(2):  # twice: the call must leave its inputs as it found them
        q = quad.copy()
        V, drift = values(psi, q, n_old, w, U, Linv, A, (alpha, alpha), mode)
        np.testing.assert_allclose(q[:n], quad_ref, rtol=0, atol=1e-14)
        np.testing.assert_allclose(V, V_ref, rtol=0, atol=1e-13)
        if mode == K.MODE_MEASURE:
            assert 0 <= drift < 1e-14


def test_the_number_of_players_is_no_part_of_a_kernels_types():
    """Two, three and four players plan and act through the same compiled code (compiled once)."""
    rng = np.random.default_rng(0)
    kernels = (K.backward_pass, K.policies, K.record_sample)
    seen = None
    for counts in [(2, 3), (2, 3, 2), (3, 2, 2, 2)]:
        table = rng.random((4, *counts, 3)) / 3
        one = SoftmaxLSVIUCB(table, counts, 3, 2, beta=0.5, lam=1.0, alphas=[2.0] * len(counts))
        for h in range(2):
            one.record(h, 1, [0] * len(counts), [0.5] * len(counts), 2)
        one.plan(0)
        one.q_values(0, 1)
        if seen is None:
            seen = [len(kernel.signatures) for kernel in kernels]
        assert [len(kernel.signatures) for kernel in kernels] == seen, counts


def test_greedy_ties_are_uniform_and_exact():
    """``α = ∞`` with exact ties: the values average the tied actions, in every loop variant."""
    for A, B in SHAPES:
        n, d = 70, 3
        psi = np.zeros((n, d, A * B))
        psi[:, 0, :] = 1.0  # every action pair the same features: all tied
        w = np.array([[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
        w[0, 0] = 1.0
        V = np.empty((n, 2))
        quad = np.zeros((n, A * B))
        step = (psi, np.arange(n), quad, n, 0, np.zeros((0, d)), np.zeros((d, d)))
        params = parameters(0.0, 10.0, (math.inf, math.inf), False, (A, B))
        K.next_state_values(step, w, params, K.MODE_EXACT, V)
        np.testing.assert_array_equal(V, np.tile([1.0, 2.0], (n, 1)))


def test_no_samples():
    d, A, B = 3, 2, 2
    psi, quad, V = np.full((4, d, A * B), np.nan), np.full((4, A * B), np.nan), np.empty((0, 2))
    params = parameters(0.5, 1.0, (2.0, 2.0), False, (A, B))
    for _ in range(2):
        step = (psi, np.arange(4), quad, 0, 0, np.ones((1, d)), np.eye(d))
        drift = K.next_state_values(step, np.ones((2, d)), params, K.MODE_MEASURE, V)
        assert drift == 0.0 and np.isnan(quad).all()


@njit(**K.JIT)
def _products_loop(psi, coef, out):  # pragma: no cover - compiled
    for t in range(psi.shape[0]):
        K._products(psi, t, coef, out, t)


@pytest.mark.parametrize("AB", [1, 4, 7, 8, 9, 12, 16, 17, 20, 23, 32, 36])
@pytest.mark.parametrize("d", [1, 5, 16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_products_of_every_joint_action(AB, d, dtype):
    """The three products of every column, pair by pair (``J < 8``) or across the pairs."""
    rng = np.random.default_rng(AB * 100 + d)
    n = 5
    psi = rng.normal(size=(n, d, AB)).astype(dtype)
    coef = rng.normal(size=(K.COEFFICIENTS, d))
    out = np.full((3, n + 2, AB), np.nan)
    _products_loop(psi, coef, out)
    want = np.einsum("kd,ndv->knv", coef, psi.astype(np.float64))
    np.testing.assert_allclose(out[:, :n], want, rtol=1e-13, atol=1e-13)
    assert np.isnan(out[:, n:]).all()  # nothing written outside the sample rows


def test_add_rows_is_sherman_morrison_with_the_old_inverse():
    """Exact at λ = 1e-6, where the new-inverse form ``1 − φᵀΛ'^{-1}φ`` loses every digit."""
    rng = np.random.default_rng(1)
    d = 6
    Phi = rng.dirichlet(np.ones(d), size=3)  # three rows: Λ is λ in three directions
    Lambda = 1e-6 * np.eye(d) + Phi.T @ Phi
    Linv = np.linalg.inv(Lambda)
    rows = rng.dirichlet(np.ones(d), size=2)
    U = np.empty((2, d))
    growth = K._sherman_morrison(Linv, rows, U)
    new = Lambda + rows.T @ rows
    np.testing.assert_allclose(Linv, np.linalg.inv(new), rtol=1e-9)
    # The determinant lemma: the log growth is log det Λ' − log det Λ.
    want = np.linalg.slogdet(new)[1] - np.linalg.slogdet(Lambda)[1]
    assert growth == pytest.approx(want, rel=1e-9)
    U_ref, _ = sherman_morrison_rows(np.linalg.inv(Lambda), rows)
    np.testing.assert_allclose(U, U_ref, rtol=1e-9)


def random_fit(seed, A, B, d, n, ridge):
    """Features ``φ`` of n states, both players' ``w`` and ``Λ⁻¹ = (ridge·I + MMᵀ)⁻¹``."""
    rng = np.random.default_rng(seed)
    phi = rng.random((n, A, B, d)) / d
    w = rng.normal(size=(2, d))
    M = rng.normal(size=(d, d))
    return phi, w, np.linalg.inv(ridge * np.eye(d) + M @ M.T)


def policies(phi, w, Linv, h, params):
    """:func:`K.policies` at ``phi (n, A, B, d)``: ``Q (n, 2, A, B)``, pi_l, pi_f, finite?"""
    Q, pis, finite = compiled_policies(phi, w, Linv, h, params)
    return (Q, *pis, finite)


def test_policies_matches_numpy():
    A, B, d, n = 4, 3, 6, 5
    phi, w, Linv = random_fit(3, A, B, d, n, 1.0)
    for alpha_l, alpha_f in ((3.0, 7.0), (math.inf, math.inf), (0.0, 1e6)):
        params = parameters(0.4, 2.0, (alpha_l, alpha_f), False, (A, B))
        Q, pi_l, pi_f, finite = policies(phi, w[:, None], Linv[None], 0, params)
        assert finite
        Q_ref = optimistic_q(phi, w, Linv, 0.4, 2.0)
        np.testing.assert_allclose(Q, Q_ref, rtol=0, atol=1e-15)
        pl, pf = soft_policies(Q_ref, alpha_l, alpha_f)[:2]
        np.testing.assert_allclose(pi_l, pl, rtol=0, atol=1e-14)
        np.testing.assert_allclose(pi_f, pf, rtol=0, atol=1e-14)
        for i in range(n):  # one state at a time: the same bits (acting asks for one)
            one = policies(phi[i : i + 1], w[:, None], Linv[None], 0, params)
            for got, want in zip(one[:3], (Q, pi_l, pi_f), strict=True):
                np.testing.assert_array_equal(got[0], want[i])


def exploration_q(phi, w, Linv, beta, H):
    """The exploration's ``Q = min(wᵀφ + u + β‖φ‖, H)``, ``u = min(β‖φ‖, H)/H`` (SPEC §4), numpy.

    The bonus is :func:`optimistic_q`'s with ``w = 0`` and no cap.
    """
    bonus = optimistic_q(phi, np.zeros_like(w[:1]), Linv, beta, math.inf)
    return np.minimum(optimistic_q(phi, w, Linv, beta, math.inf) + np.minimum(bonus, H) / H, H)


def test_the_exploration_reward_is_the_capped_bonus_on_every_players_q():
    A, B, d, n = 3, 2, 5, 6
    phi, w, Linv = random_fit(4, A, B, d, n, 0.01)  # large bonuses: the cap min(·, H) acts
    for beta in (0.0, 0.3, 50.0):
        params = parameters(beta, 2.0, (3.0, 5.0), True, (A, B))
        Q, pi_l, pi_f, _ = policies(phi, w[:, None], Linv[None], 0, params)
        Q_ref = exploration_q(phi, w, Linv, beta, 2.0)
        np.testing.assert_allclose(Q, Q_ref, rtol=0, atol=1e-14)
        pl, pf = soft_policies(Q_ref, 3.0, 5.0)[:2]
        np.testing.assert_allclose(pi_l, pl, rtol=0, atol=1e-14)
        np.testing.assert_allclose(pi_f, pf, rtol=0, atol=1e-14)
        # The plan's next-state values add the same reward.
        psi = phi.reshape(n, A * B, d).transpose(0, 2, 1).copy()
        forms = np.zeros((n, A * B))
        V = np.empty((n, 2))
        step = (psi, np.arange(n), forms, n, 0, np.zeros((0, d)), Linv)
        K.next_state_values(step, w, params, K.MODE_EXACT, V)
        np.testing.assert_allclose(V, soft_policies(Q_ref, 3.0, 5.0)[4], rtol=0, atol=1e-13)


def test_policies_reports_non_finite_values():
    phi = np.full((1, 2, 2, 3), 0.5)
    w = np.array([[[np.nan, 0.0, 0.0]], [[0.0, 0.0, 0.0]]])  # (2, H = 1, d)
    params = parameters(0.1, 2.0, (1.0, 1.0), False, (2, 2))
    assert not policies(phi, w, np.eye(3)[None], 0, params)[3]
    assert policies(phi, np.zeros((2, 1, 3)), np.eye(3)[None], 0, params)[3]


def test_draws_are_the_inverse_cdf_of_numpy():
    """``draw_index`` and ``mixture_draw`` pick what cumsum + searchsorted pick, draw for draw."""
    rng = np.random.default_rng(5)
    for size in (1, 2, 4, 16, 65, 300):
        p = rng.random(size) * (rng.random(size) < 0.7)  # zeros among the weights
        p[rng.integers(size)] = -1e-13  # round-off: counts as zero
        if not (p > 0).any():
            p[0] = 0.5
        c = np.cumsum(np.maximum(p, 0.0))
        last_positive = int(np.flatnonzero(p > 0)[-1])  # never a zero weight, even at u ≈ 1
        for u in np.concatenate([rng.random(200), [0.0, 1.0 - 2**-53]]):
            want = min(int(np.searchsorted(c, u * c[-1], side="right")), last_positive)
            assert sampling.draw_index(p, u) == want
    mu = rng.dirichlet(np.ones(30), size=6)  # (d, S): six distributions over 30 states
    cdf = np.cumsum(mu, axis=1)
    weights = rng.dirichlet(np.ones(6))
    for u1, u2 in rng.random((300, 2)):
        i = sampling.draw_index(weights, u1)
        want = min(int(np.searchsorted(cdf[i], u2 * cdf[i, -1], side="right")), 29)
        assert sampling.mixture_draw(weights, cdf, u1, u2) == want
