"""The compiled pass against the plain formulas, in every loop variant."""

import math

import numpy as np
import pytest
from numba import njit

from stackelberg_rl.games import sampling
from stackelberg_rl.learners._kernels import plan as K
from stackelberg_rl.learners.functional import soft_policies


def reference(psi, quad_old, n_old, w, pending, Linv, A, beta, H, alpha_l, alpha_f, mode):
    """Plain numpy: forms (downdated by Woodbury or exact), Q, soft-max values."""
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


# |A||B| = 6: products over d per vector; 12, 16: across the vectors in SIMD registers; 9, 20: the
# same with columns left over (one by one; a group of sixteen then one of four); 4: the
# literal-stride path. |B| or |A| = 4: the one-pass soft-max; |B| = 1 or |A| = 1: none there.
SHAPES = [(3, 2), (3, 4), (4, 4), (3, 3), (5, 4), (2, 2), (4, 1), (1, 3)]
assert {A * B < K.SIMD_MIN_ACTIONS for A, B in SHAPES} == {True, False}


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
    U = pending @ Linv
    M_inv = np.linalg.inv(np.eye(m) - U @ pending.T) if m else np.zeros((0, 0))
    w = rng.normal(size=(2, d))
    V_ref, quad_ref = reference(
        psi.astype(np.float64), quad, n_old, w, pending, Linv, A, 0.7, 3.0, alpha, alpha, mode
    )
    tol = 1e-9 if dtype == np.float64 else 1e-5
    for _ in range(2):  # twice: the call must leave its inputs as it found them
        q = quad.copy()
        V = np.empty((n, 2))
        drift = K.next_state_values(
            psi, q, n, n_old, A, w, U, M_inv, Linv, 0.7, 3.0, alpha, alpha, mode, V
        )
        np.testing.assert_allclose(q[:n], quad_ref, atol=tol)
        np.testing.assert_allclose(V, V_ref, atol=tol)
        if mode == K.MODE_MEASURE and dtype == np.float64:
            assert 0 <= drift < 1e-12


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
        K.next_state_values(
            psi, quad, n, 0, A, w, np.zeros((0, d)), np.zeros((0, 0)), np.zeros((d, d)),
            0.0, 10.0, math.inf, math.inf, K.MODE_EXACT, V,
        )  # fmt: skip
        np.testing.assert_array_equal(V, np.tile([1.0, 2.0], (n, 1)))


def test_no_samples():
    d, A, B = 3, 2, 2
    psi, quad, V = np.full((4, d, A * B), np.nan), np.full((4, A * B), np.nan), np.empty((0, 2))
    for _ in range(2):
        drift = K.next_state_values(
            psi, quad, 0, 0, A, np.ones((2, d)), np.ones((1, d)), np.ones((1, 1)), np.eye(d),
            0.5, 1.0, 2.0, 2.0, K.MODE_MEASURE, V,
        )  # fmt: skip
        assert drift == 0.0 and np.isnan(quad).all()


@njit(**K.JIT)
def _dots_loop(psi, w, u, S):  # pragma: no cover - compiled
    for t in range(psi.shape[0]):
        K._dots(psi, t, w, u, S, t)


@pytest.mark.parametrize("AB", [1, 4, 7, 8, 9, 12, 16, 17, 20, 23, 32, 36])
@pytest.mark.parametrize("d", [1, 5, 16])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dots_every_lane_split(AB, d, dtype):
    """The three products of every column, in SIMD vectors and the columns left over."""
    rng = np.random.default_rng(AB * 100 + d)
    n = 5
    psi = rng.normal(size=(n, d, AB)).astype(dtype)
    w, u = rng.normal(size=(2, d)), rng.normal(size=d)
    S = np.full((3, n + 2, AB), np.nan)
    _dots_loop(psi, w, u, S)
    want = np.einsum("kd,ndv->knv", np.vstack([w, u[None]]), psi.astype(np.float64))
    np.testing.assert_allclose(S[:, :n], want, rtol=1e-13, atol=1e-13)
    assert np.isnan(S[:, n:]).all()  # nothing written outside the sample rows


@njit(**K.JIT)
def _exp_loop(x, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):  # as in the kernel: a loop LLVM vectorises
        out[i] = K.exp_nonpositive(x[i])


def test_exp_nonpositive_matches_math_exp():
    rng = np.random.default_rng(0)
    ln2 = math.log(2.0)
    edges = [0.0, -0.0, -5e-324, -1e-300, -1e-17, -1e-8, -0.5, -1.0, -ln2 / 2, -ln2, -1.5 * ln2]
    edges += [-708.39, -708.3964185322641, -708.4, -709.0, -744.0, -745.13, -745.1332191019411]
    edges += [-745.14, -745.2, -746.0, -750.0, -1e4, -1e300, -math.inf]
    k = np.arange(-1076, 1)  # both sides of each point where the reduction's k changes
    steps = ((k + 0.5) * ln2)[:, None] + np.array([-1e-12, 0.0, 1e-12])
    x = np.concatenate([
        edges, -rng.random(200_000) * 746.0, -rng.random(100_000), -rng.random(50_000) * 1e-6,
        -np.exp(rng.uniform(-700, 6.6, 50_000)), steps.ravel()[steps.ravel() <= 0],
    ])  # fmt: skip
    got = np.empty_like(x)
    _exp_loop(x, got)
    want = np.array([math.exp(v) for v in x])
    normal = want >= np.finfo(np.float64).tiny
    rel = np.abs(got[normal] - want[normal]) / want[normal]
    assert rel.max() <= 4e-16
    assert np.abs(got[~normal] - want[~normal]).max() <= 5e-324  # subnormal: one unit at most
    assert got[0] == got[1] == 1.0
    assert (got[np.asarray(x) <= -745.2] == 0.0).all()
    for v in edges:  # the scalar build (a plain call) agrees with the loop
        assert K.exp_nonpositive(v) == got[edges.index(v)]


def test_state_policies_matches_numpy():
    rng = np.random.default_rng(3)
    A, B, d = 4, 3, 6
    phi = rng.random((A, B, d)) / d
    w = rng.normal(size=(2, d))
    M = rng.normal(size=(d, d))
    Linv = np.linalg.inv(np.eye(d) + M @ M.T)
    Q, pi_l, pi_f = K.state_policies(phi, w, Linv, 0.4, 2.0, 3.0, 7.0)
    bonus = 0.4 * np.sqrt(np.einsum("abd,de,abe->ab", phi, Linv, phi))
    Q_ref = np.minimum(np.moveaxis(phi @ w.T, -1, 0) + bonus, 2.0)
    np.testing.assert_allclose(Q, Q_ref, atol=1e-12)
    pl, pf = soft_policies(Q_ref, 3.0, 7.0)[:2]
    np.testing.assert_allclose(pi_l, pl, atol=1e-12)
    np.testing.assert_allclose(pi_f, pf, atol=1e-12)


def test_draws_are_the_inverse_cdf_of_numpy():
    """``draw_index`` and ``mixture_draw`` pick what cumsum + searchsorted pick, draw for draw."""
    rng = np.random.default_rng(5)
    for size in (1, 2, 4, 16, 65, 300):
        p = rng.random(size) * (rng.random(size) < 0.7)  # zeros among the weights
        p[rng.integers(size)] = -1e-13  # round-off: counts as zero
        c = np.cumsum(np.maximum(p, 0.0))
        for u in np.concatenate([rng.random(200), [0.0, 1.0 - 2**-53]]):
            want = min(int(np.searchsorted(c, u * c[-1], side="right")), size - 1)
            assert sampling.draw_index(p, u) == want
    mu = rng.dirichlet(np.ones(30), size=6)  # (d, S): six distributions over 30 states
    cdf = np.cumsum(mu, axis=1)
    weights = rng.dirichlet(np.ones(6))
    for u1, u2 in rng.random((300, 2)):
        i = sampling.draw_index(weights, u1)
        want = min(int(np.searchsorted(cdf[i], u2 * cdf[i, -1], side="right")), 29)
        assert sampling.mixture_draw(weights, cdf, u1, u2) == want
