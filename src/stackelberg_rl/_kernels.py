"""Compiled inner loops of the learner (numba): one fused pass per step over the cache.

The numpy formulation of the same arithmetic lives in :mod:`stackelberg_rl.lsvi` and
:mod:`stackelberg_rl.functional`; the tests hold the two together. These loops exist because the
plan of SPEC §5 is bound by memory traffic: fused, every cached vector is read once and nothing
of size ``n·|A|·|B|`` is written but the quadratic forms themselves.
"""

from __future__ import annotations

import math

import numpy as np
from numba import get_num_threads, njit, prange

FASTMATH = {"reassoc", "contract"}
"""Let LLVM reorder sums (so the length-``d`` dot products vectorise); no flag that assumes away
infinities, which ``α = ∞`` (greedy play) relies on."""

SIMD_MIN_ACTIONS = 8
"""From this many action pairs ``|A||B|`` up, the products run across pairs (SIMD lanes); below,
each vector's products run over ``d`` in registers."""

MODE_DOWNDATE = 0
"""Downdate the forms of the first ``n_old`` samples, compute the others exactly."""
MODE_EXACT = 1
"""Compute every form exactly."""
MODE_MEASURE = 2
"""Downdate, then compute exactly and return the largest difference (the round-off drift)."""


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _softmax(z, lo, hi, alpha, out):  # pragma: no cover - compiled
    """``out[lo:hi] = SOFT-MAX_alpha(z[lo:hi])``, stable; ``alpha = inf``: uniform on maximisers."""
    zmax = z[lo]
    for i in range(lo + 1, hi):
        if z[i] > zmax:
            zmax = z[i]
    total = 0.0
    if math.isinf(alpha):
        for i in range(lo, hi):
            out[i] = 1.0 if z[i] == zmax else 0.0
            total += out[i]
    else:
        for i in range(lo, hi):
            out[i] = math.exp(alpha * (z[i] - zmax))
            total += out[i]
    inv = 1.0 / total
    for i in range(lo, hi):
        out[i] *= inv


@njit(cache=True, fastmath=FASTMATH, inline="always")
def _soft_state(Ql, Qf, A, alpha_l, alpha_f, pi_l, pi_f, q_l, vbar_f):  # pragma: no cover
    """Algorithm 1, lines 9–14 at one state, ``Q`` flat over ``(a, b)``: returns ``(V_l, V_f)``.

    Fills ``pi_f (A·B,)``, ``pi_l (A,)``, ``q_l (A,)`` and ``vbar_f (A,)``.
    """
    B = Ql.shape[0] // A
    for a in range(A):
        lo = a * B
        _softmax(Qf, lo, lo + B, alpha_f, pi_f)
        sl = 0.0
        sf = 0.0
        for v in range(lo, lo + B):
            sl += pi_f[v] * Ql[v]
            sf += pi_f[v] * Qf[v]
        q_l[a] = sl
        vbar_f[a] = sf
    _softmax(q_l, 0, A, alpha_l, pi_l)
    v_l = 0.0
    v_f = 0.0
    for a in range(A):
        v_l += pi_l[a] * q_l[a]
        v_f += pi_l[a] * vbar_f[a]
    return v_l, v_f


@njit(cache=True, fastmath=FASTMATH)
def _quadratic_form(x, Lambda_inv):  # pragma: no cover - compiled
    d = x.shape[0]
    s = 0.0
    for i in range(d):
        t = 0.0
        for j in range(d):
            t += Lambda_inv[i, j] * x[j]
        s += x[i] * t
    return s


def _next_state_values(
    psi, quad, n, n_old, A, w, U, M_inv, Lambda_inv, beta, H, alpha_l, alpha_f, mode, V, n_threads
):  # pragma: no cover - compiled
    """Soft-max values ``V (n, 2)`` at the stored next states of one step, in one pass.

    Args:
        psi: ``(cap, d, A·B)`` cached next-state features, each sample's ``|A||B|`` vectors side
            by side so that the products vectorise across actions (rows ``< n`` are used).
        quad: ``(cap, A·B)`` their forms ``ψᵀΛ^{-1}ψ``, updated in place.
        n: number of samples.
        n_old: samples whose forms are up to date with the previous ``Λ``.
        A: ``|A|`` (``|B| = A·B / A``).
        w: ``(2, d)`` ``w_{h+1}`` of both players.
        U: ``(m, d)`` the new rows ``Φ_p`` of ``Λ`` times ``Λ_new^{-1}``.
        M_inv: ``(m, m)`` ``(I − Φ_pΛ_new^{-1}Φ_pᵀ)^{-1}``.
        Lambda_inv: ``(d, d)`` ``Λ_new^{-1}``.
        beta, H, alpha_l, alpha_f: as in Algorithm 1.
        mode: :data:`MODE_DOWNDATE`, :data:`MODE_EXACT` or :data:`MODE_MEASURE`.
        V: ``(n, 2)`` output.
        n_threads: threads the multi-threaded build may use (sets the work split).

    Returns:
        The largest ``|downdated − exact|`` form in :data:`MODE_MEASURE`, else 0.
    """
    d, AB = psi.shape[1], psi.shape[2]
    m = U.shape[0]
    n_chunks = min(n, 4 * n_threads)
    drift = np.zeros(max(n_chunks, 1))
    for c in prange(n_chunks):
        lo = c * n // n_chunks
        hi = (c + 1) * n // n_chunks
        s_l = np.empty(AB)
        s_f = np.empty(AB)
        z = np.empty((max(m, 1), AB))
        qv = np.empty(AB)
        Ql = np.empty(AB)
        Qf = np.empty(AB)
        pi_f = np.empty(AB)
        pi_l = np.empty(A)
        q_l = np.empty(A)
        vbar_f = np.empty(A)
        for t in range(lo, hi):
            X = psi[t]  # (d, AB)
            downdate = t < n_old and mode != MODE_EXACT
            if downdate and m == 1 and AB < SIMD_MIN_ACTIONS:
                # Few action pairs: each vector's three dot products in registers, over d.
                for v in range(AB):
                    acc_l = 0.0
                    acc_f = 0.0
                    acc_z = 0.0
                    for j in range(d):
                        x = X[j, v]
                        acc_l += w[0, j] * x
                        acc_f += w[1, j] * x
                        acc_z += U[0, j] * x
                    s_l[v] = acc_l
                    s_f[v] = acc_f
                    qv[v] = quad[t, v] - acc_z * M_inv[0, 0] * acc_z
            elif downdate and m == 1:  # the every-episode case: one more product in the pass
                s_l[:] = 0.0
                s_f[:] = 0.0
                z[0, :] = 0.0
                for j in range(d):  # the inner loops run across the A·B vectors: SIMD lanes
                    wl = w[0, j]
                    wf = w[1, j]
                    u = U[0, j]
                    for v in range(AB):
                        x = X[j, v]
                        s_l[v] += wl * x
                        s_f[v] += wf * x
                        z[0, v] += u * x
                for v in range(AB):
                    qv[v] = quad[t, v] - z[0, v] * M_inv[0, 0] * z[0, v]
            else:
                s_l[:] = 0.0
                s_f[:] = 0.0
                for j in range(d):
                    wl = w[0, j]
                    wf = w[1, j]
                    for v in range(AB):
                        s_l[v] += wl * X[j, v]
                        s_f[v] += wf * X[j, v]
                if downdate:
                    z[:m] = 0.0
                    for i in range(m):
                        for j in range(d):
                            u = U[i, j]
                            for v in range(AB):
                                z[i, v] += u * X[j, v]
                    for v in range(AB):
                        corr = 0.0
                        for i in range(m):
                            for k in range(m):
                                corr += z[i, v] * M_inv[i, k] * z[k, v]
                        qv[v] = quad[t, v] - corr
            if not downdate or mode == MODE_MEASURE:
                for v in range(AB):
                    e = 0.0
                    for i in range(d):
                        r = 0.0
                        for j in range(d):
                            r += Lambda_inv[i, j] * X[j, v]
                        e += X[i, v] * r
                    if downdate:
                        drift[c] = max(drift[c], abs(e - qv[v]))
                    qv[v] = e
            for v in range(AB):
                quad[t, v] = qv[v]
                bonus = beta * math.sqrt(max(qv[v], 0.0))
                Ql[v] = min(s_l[v] + bonus, H)
                Qf[v] = min(s_f[v] + bonus, H)
            v_l, v_f = _soft_state(Ql, Qf, A, alpha_l, alpha_f, pi_l, pi_f, q_l, vbar_f)
            V[t, 0] = v_l
            V[t, 1] = v_f
    return drift.max()


next_state_values_serial = njit(cache=True, fastmath=FASTMATH)(_next_state_values)
next_state_values_parallel = njit(cache=True, parallel=True, fastmath=FASTMATH)(_next_state_values)
PARALLEL_MIN_VECTORS = 1 << 13
"""Below this many cached vectors a step runs on one thread: starting threads costs more."""


def next_state_values(psi, quad, n, *args):
    """Dispatch :func:`_next_state_values` to the serial or the multi-threaded build."""
    if n * psi.shape[2] >= PARALLEL_MIN_VECTORS:
        return next_state_values_parallel(psi, quad, n, *args, get_num_threads())
    return next_state_values_serial(psi, quad, n, *args, 1)


@njit(cache=True, fastmath=FASTMATH)
def state_policies(phi, w, Lambda_inv, beta, H, alpha_l, alpha_f):  # pragma: no cover
    """Optimistic ``Q (2, A, B)``, ``pi_l (A,)`` and ``pi_f (A, B)`` at one state (lines 16–20)."""
    A, B, d = phi.shape
    Q = np.empty((2, A * B))
    for a in range(A):
        for b in range(B):
            x = phi[a, b]
            s_l = 0.0
            s_f = 0.0
            for j in range(d):
                s_l += w[0, j] * x[j]
                s_f += w[1, j] * x[j]
            bonus = beta * math.sqrt(max(_quadratic_form(x, Lambda_inv), 0.0))
            Q[0, a * B + b] = min(s_l + bonus, H)
            Q[1, a * B + b] = min(s_f + bonus, H)
    pi_l = np.empty(A)
    pi_f = np.empty(A * B)
    _soft_state(Q[0], Q[1], A, alpha_l, alpha_f, pi_l, pi_f, np.empty(A), np.empty(A))
    return Q.reshape(2, A, B), pi_l, pi_f.reshape(A, B)
