"""The compiled pass against the plain formulas, serial and multi-threaded builds alike."""

import math

import numpy as np
import pytest

from stackelberg_rl import _kernels as K
from stackelberg_rl.functional import soft_policies


def reference(psi, quad_old, n_old, w, pending, Linv, beta, H, alpha_l, alpha_f, mode):
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
    A = 3
    Q = Q.reshape(n, A, AB // A, 2).transpose(0, 3, 1, 2)  # (n, 2, A, B)
    V = soft_policies(Q, alpha_l, alpha_f)[4]
    return V, quad


@pytest.mark.parametrize("m", [0, 1, 3])
@pytest.mark.parametrize("mode", [K.MODE_DOWNDATE, K.MODE_EXACT, K.MODE_MEASURE])
@pytest.mark.parametrize("alpha", [2.5, math.inf, 1e6])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("B", [2, 4])  # |A||B| = 6 and 12: both loop orders of the kernel
def test_next_state_values_serial_and_parallel(m, mode, alpha, dtype, B):
    assert (3 * 2 < K.SIMD_MIN_ACTIONS) and (3 * 4 >= K.SIMD_MIN_ACTIONS)
    rng = np.random.default_rng(m * 100 + mode)
    n, n_old, d, A = 40, 33, 5, 3
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
        psi.astype(np.float64), quad, n_old, w, pending, Linv, 0.7, 3.0, alpha, alpha, mode
    )
    tol = 1e-9 if dtype == np.float64 else 1e-5
    for build, threads in [(K.next_state_values_serial, 1), (K.next_state_values_parallel, 2)]:
        q = quad.copy()
        V = np.empty((n, 2))
        drift = build(
            psi, q, n, n_old, A, w, U, M_inv, Linv, 0.7, 3.0, alpha, alpha, mode, V, threads
        )
        np.testing.assert_allclose(q[:n], quad_ref, atol=tol)
        np.testing.assert_allclose(V, V_ref, atol=tol)
        if mode == K.MODE_MEASURE and dtype == np.float64:
            assert 0 <= drift < 1e-12


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
