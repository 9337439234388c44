"""Compiled loops of the learner (numba): the plan and recording a sample.

The numpy formulation of the same arithmetic lives in :mod:`stackelberg_rl.learners.functional`
and :mod:`stackelberg_rl.learners.reference`; the tests hold them together. A plan (SPEC §5) reads
every cached next-state vector once, fused: the three products per vector (:func:`_dots_lanes`,
in explicit SIMD vectors), the downdated form, the bonus, both ``Q``, both soft-max policies and
``V``; nothing of size ``n·|A|·|B|`` is written but the forms themselves. The backward pass over
the steps (:func:`backward_pass`) and recording (:func:`record_sample`) are compiled too, so
that small runs are not dominated by Python.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

FASTMATH = {"reassoc", "contract"}
"""Let LLVM reorder sums (so the length-``d`` dot products vectorise); no flag that assumes away
infinities, which ``α = ∞`` (greedy play) relies on."""

JIT = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy"}
"""Compile options of every loop here: NumPy's error model, so that no division can raise (an
exit from a loop, which stops LLVM from vectorising it)."""

SIMD_MIN_ACTIONS = 8
"""From this many action pairs ``|A||B|`` up, the products run across pairs (SIMD lanes, see
:func:`_dots_lanes`); below, each vector's products run over ``d`` in registers."""

LANES = 4
"""Doubles per explicit SIMD vector in :func:`_dots_lanes` (one AVX register)."""

MAX_CHUNKS = 4
"""Vectors of :data:`LANES` columns that one :func:`_dots_lanes` holds at once: 3 × 4 accumulators
stay in registers."""

BLOCK = 64
"""Samples per block: each stage of the soft-max runs across a block's samples (SIMD lanes)."""

MODE_DOWNDATE = 0
"""Downdate the forms of the first ``n_old`` samples, compute the others exactly."""
MODE_EXACT = 1
"""Compute every form exactly."""
MODE_MEASURE = 2
"""Downdate, then compute exactly and return the largest difference (the round-off drift)."""


@njit(**JIT, inline="always")
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


@njit(**JIT, inline="always")
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


@intrinsic
def _bits_as_float64(typingctx, bits):  # pragma: no cover - compiled
    """Reinterpret an ``int64`` as the ``float64`` with the same bits (no conversion)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float64))

    return types.float64(types.int64), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 to 32 bits: k·_LN2_HI is exact for |k| < 2^20
_LN2_LO = 1.90821492927058770002e-10  # ln 2 − _LN2_HI
_E2, _E3, _E4, _E5, _E6, _E7 = (1.0 / math.factorial(i) for i in range(2, 8))
_E8, _E9, _E10, _E11, _E12, _E13 = (1.0 / math.factorial(i) for i in range(8, 14))


@njit(cache=True, fastmath={"contract"}, error_model="numpy")
def exp_nonpositive(x):  # pragma: no cover - compiled
    """``e^x`` for ``x ≤ 0`` in plain arithmetic, so that loops calling it vectorise.

    ``math.exp`` compiles to a call of the C library, one element at a time; this one inlines.
    ``x = k·ln 2 + r`` with ``|r| ≤ ln 2 / 2`` (Cody–Waite: ``ln 2`` in two parts), ``e^r`` by its
    Taylor polynomial of degree 13 (truncation below ``10^-17``), ``2^k`` built from its bits in
    two halves so that subnormal results round once. Within one unit in the last place of
    ``math.exp`` (relative ``2.3·10^-16``), ``1`` at ``0`` and ``0`` from ``−745.2`` down to
    ``−∞``. No reassociation (it would undo the two-part reduction); contraction to fused
    multiply-adds only helps.
    """
    x = x if not x < -746.0 else -746.0
    k = math.floor(x * _LOG2E + 0.5)
    kf = float(k)
    r = (x - kf * _LN2_HI) - kf * _LN2_LO
    p = _E13 * r + _E12
    p = p * r + _E11
    p = p * r + _E10
    p = p * r + _E9
    p = p * r + _E8
    p = p * r + _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + _E2
    p = 1.0 + (r + r * r * p)
    k_half = k >> 1
    return (p * _bits_as_float64((k_half + 1023) << 52)) * _bits_as_float64(
        (k - k_half + 1023) << 52
    )


@njit(**JIT, inline="always")
def _max4(z0, z1, z2, z3):  # pragma: no cover - compiled
    """The largest of four numbers, as a balanced tree of comparisons."""
    m01 = z1 if z1 > z0 else z0
    m23 = z3 if z3 > z2 else z2
    return m23 if m23 > m01 else m01


@njit(**JIT, inline="always")
def _mix4(e0, e1, e2, e3, Z, z_lo, Y, y_lo, i, out, o_z, o_y):  # pragma: no cover - compiled
    """Weighted means of four rows of ``Z`` and of ``Y`` in column ``i``, into ``out``.

    ``out[o_z, i]`` and ``out[o_y, i]``, the weights ``e`` normalised: a soft-max applied to both.
    """
    inv = 1.0 / ((e0 + e1) + (e2 + e3))
    z0, z1, z2, z3 = Z[z_lo, i], Z[z_lo + 1, i], Z[z_lo + 2, i], Z[z_lo + 3, i]
    y0, y1, y2, y3 = Y[y_lo, i], Y[y_lo + 1, i], Y[y_lo + 2, i], Y[y_lo + 3, i]
    out[o_z, i] = ((e0 * z0 + e1 * z1) + (e2 * z2 + e3 * z3)) * inv
    out[o_y, i] = ((e0 * y0 + e1 * y1) + (e2 * y2 + e3 * y3)) * inv


@njit(**JIT)
def _soft_rows(Z, z_lo, Y, y_lo, rows, nt, alpha, out, o_z, o_y, work):  # pragma: no cover
    """One soft-max in each of the first ``nt`` columns (samples) of a block.

    With ``p = SOFT-MAX_alpha(Z[z_lo : z_lo + rows, i])``: ``out[o_z, i] = p·Z[z_lo :, i]`` and
    ``out[o_y, i] = p·Y[y_lo :, i]`` (``rows`` terms). Every loop runs across the samples, so it
    vectorises across them. ``alpha = inf``: uniform on the maximisers. ``work``: ``(4, ≥ nt)``.
    """
    if rows == 1:  # one action: p = 1
        for i in range(nt):
            out[o_z, i] = Z[z_lo, i]
            out[o_y, i] = Y[y_lo, i]
        return
    if rows == 4:  # four actions: one pass, in registers
        if math.isinf(alpha):
            for i in range(nt):
                z0, z1, z2, z3 = Z[z_lo, i], Z[z_lo + 1, i], Z[z_lo + 2, i], Z[z_lo + 3, i]
                zmax = _max4(z0, z1, z2, z3)
                e0 = 1.0 if z0 == zmax else 0.0
                e1 = 1.0 if z1 == zmax else 0.0
                e2 = 1.0 if z2 == zmax else 0.0
                e3 = 1.0 if z3 == zmax else 0.0
                _mix4(e0, e1, e2, e3, Z, z_lo, Y, y_lo, i, out, o_z, o_y)
        else:
            for i in range(nt):
                z0, z1, z2, z3 = Z[z_lo, i], Z[z_lo + 1, i], Z[z_lo + 2, i], Z[z_lo + 3, i]
                zmax = _max4(z0, z1, z2, z3)
                e0 = exp_nonpositive(alpha * (z0 - zmax))
                e1 = exp_nonpositive(alpha * (z1 - zmax))
                e2 = exp_nonpositive(alpha * (z2 - zmax))
                e3 = exp_nonpositive(alpha * (z3 - zmax))
                _mix4(e0, e1, e2, e3, Z, z_lo, Y, y_lo, i, out, o_z, o_y)
        return
    for i in range(nt):
        work[0, i] = Z[z_lo, i]
    for r in range(1, rows):
        for i in range(nt):
            zi = Z[z_lo + r, i]
            work[0, i] = zi if zi > work[0, i] else work[0, i]
    for i in range(nt):
        work[1, i] = 0.0
        work[2, i] = 0.0
        work[3, i] = 0.0
    if math.isinf(alpha):
        for r in range(rows):
            for i in range(nt):
                zi = Z[z_lo + r, i]
                e = 1.0 if zi == work[0, i] else 0.0
                work[1, i] += e
                work[2, i] += e * zi
                work[3, i] += e * Y[y_lo + r, i]
    else:
        for r in range(rows):
            for i in range(nt):
                zi = Z[z_lo + r, i]
                e = exp_nonpositive(alpha * (zi - work[0, i]))
                work[1, i] += e
                work[2, i] += e * zi
                work[3, i] += e * Y[y_lo + r, i]
    for i in range(nt):
        inv = 1.0 / work[1, i]
        out[o_z, i] = work[2, i] * inv
        out[o_y, i] = work[3, i] * inv


@njit(**JIT)
def _quadratic_form(x, Lambda_inv):  # pragma: no cover - compiled
    d = x.shape[0]
    s = 0.0
    for i in range(d):
        t = 0.0
        for j in range(d):
            t += Lambda_inv[i, j] * x[j]
        s += x[i] * t
    return s


@njit(**JIT)
def _dots4(flat, t, w, u):  # pragma: no cover - compiled
    """:func:`_dots` for four columns, sample ``t`` of ``flat (cap, 4·d)``: a 12-tuple.

    ``(w_lᵀψ_v for v < 4, w_fᵀψ_v …, uᵀψ_v …)``. A literal stride: LLVM vectorises over ``d``,
    de-interleaving the loads; the sums stay in registers.
    """
    l0 = l1 = l2 = l3 = 0.0
    f0 = f1 = f2 = f3 = 0.0
    z0 = z1 = z2 = z3 = 0.0
    for j in range(flat.shape[1] // 4):
        a = w[0, j]
        b = w[1, j]
        c = u[j]
        x0 = flat[t, 4 * j]
        x1 = flat[t, 4 * j + 1]
        x2 = flat[t, 4 * j + 2]
        x3 = flat[t, 4 * j + 3]
        l0 += a * x0
        l1 += a * x1
        l2 += a * x2
        l3 += a * x3
        f0 += b * x0
        f1 += b * x1
        f2 += b * x2
        f3 += b * x3
        z0 += c * x0
        z1 += c * x1
        z2 += c * x2
        z3 += c * x3
    return l0, l1, l2, l3, f0, f1, f2, f3, z0, z1, z2, z3


@njit(**JIT)
def _q4(quad_run, mi, beta, H, S4, Qt):  # pragma: no cover - compiled
    """Forms downdated by one row and ``Q`` of a run of ``n`` samples of four columns.

    ``quad_run``: the run's forms, flat (``4·n``); ``S4 (9, ≥ 4·n)``: :func:`_dots4` of each
    sample, rows ``0 … 7`` one per product and column (samples along the row), row 8 the
    ``uᵀψ`` flat like ``quad_run``. ``Qt (8, ≥ n)``: ``Q_l`` then ``Q_f``, one row per action
    pair. Loops across samples, few arrays each (LLVM vectorises a loop only if it can check
    the arrays apart), so the square roots vectorise too; the bonuses go through ``S4[8]``.
    """
    n = quad_run.shape[0] // 4
    for k in range(4 * n):
        q = quad_run[k] - S4[8, k] * mi * S4[8, k]
        quad_run[k] = q
        S4[8, k] = beta * math.sqrt(max(q, 0.0))
    for v in range(4):
        for i in range(n):
            Qt[v, i] = min(S4[v, i] + S4[8, 4 * i + v], H)
            Qt[4 + v, i] = min(S4[4 + v, i] + S4[8, 4 * i + v], H)


@njit(**JIT)
def _q_flat(quad_run, S, Q, mi, beta, H):  # pragma: no cover - compiled
    """Forms downdated by one row and ``Q`` of a run of samples, flat: ``k < len(quad_run)``.

    ``quad_run``: the run's forms; ``S (3, ·)``: their products ``w_lᵀψ``, ``w_fᵀψ``, ``uᵀψ``;
    ``Q (2, ·)``: out. One loop over the run's ``n·A·B`` vectors.
    """
    for k in range(quad_run.shape[0]):
        q = quad_run[k] - S[2, k] * mi * S[2, k]
        quad_run[k] = q
        bonus = beta * math.sqrt(max(q, 0.0))
        Q[0, k] = min(S[0, k] + bonus, H)
        Q[1, k] = min(S[1, k] + bonus, H)


def _is_c_array(ty, ndim, dtypes) -> bool:
    """Whether the numba type ``ty`` is a C-contiguous ``ndim``-array of one of ``dtypes``."""
    return (
        isinstance(ty, types.Array) and ty.ndim == ndim and ty.layout == "C" and ty.dtype in dtypes
    )


@intrinsic
def _dots_lanes(typingctx, psi, t, w, u, S, i, lane0, chunks):  # pragma: no cover - compiled
    """``S[k, i, c] = (w[0], w[1], u)[k] · ψ_t[:, c]`` for the columns ``c`` of ``chunks`` vectors.

    Columns ``lane0 … lane0 + LANES·chunks − 1`` of sample ``t`` of ``psi (cap, d, A·B)``
    (float64 or float32); ``w (2, d)``, ``u (d,)``, ``S (3, ·, A·B)`` float64, all C-contiguous;
    ``chunks`` a literal ``≤`` :data:`MAX_CHUNKS`.

    Written as LLVM vector code because it is the innermost product of the plan: one loop over
    ``d`` with ``3·chunks`` accumulators in registers, each row a broadcast coefficient times a
    vector of columns (a fused multiply-add). Numba's loops leave the accumulators in memory,
    a store and a load per row, and run at a third of the rate.
    """
    if not (
        isinstance(chunks, types.IntegerLiteral)
        and 1 <= chunks.literal_value <= MAX_CHUNKS
        and _is_c_array(psi, 3, (types.float64, types.float32))
        and _is_c_array(w, 2, (types.float64,))
        and _is_c_array(u, 1, (types.float64,))
        and _is_c_array(S, 3, (types.float64,))
        and all(isinstance(x, types.Integer) for x in (t, i, lane0))
    ):
        return None
    n_chunks = chunks.literal_value
    sig = types.void(psi, t, w, u, S, i, lane0, chunks)

    def codegen(context, builder, signature, args):
        psi_a, w_a, u_a, S_a = (
            context.make_array(signature.args[k])(context, builder, args[k]) for k in (0, 2, 3, 4)
        )
        intp = context.get_value_type(types.intp)
        t_v, i_v, lane0_v = (
            context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 5, 6)
        )
        _, d, AB = cgutils.unpack_tuple(builder, psi_a.shape, 3)
        _, rows_S, AB_S = cgutils.unpack_tuple(builder, S_a.shape, 3)
        f64 = ir.DoubleType()
        item = context.get_value_type(signature.args[0].dtype)
        vec, vec_in = ir.VectorType(f64, LANES), ir.VectorType(item, LANES)
        fma = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fma.v{LANES}f64"
        )
        i32 = ir.IntType(32)
        undef = ir.Constant(vec, ir.Undefined)

        def splat(x):
            one = builder.insert_element(undef, x, ir.Constant(i32, 0))
            return builder.shuffle_vector(one, undef, ir.Constant(ir.VectorType(i32, LANES), 0))

        zero = ir.Constant(vec, [0.0] * LANES)
        acc = [[cgutils.alloca_once_value(builder, zero) for _ in range(n_chunks)] for _ in "lfz"]
        first = builder.add(builder.mul(builder.mul(t_v, d), AB), lane0_v)
        with cgutils.for_range(builder, d) as loop:
            j = loop.index
            coef = [
                splat(builder.load(builder.gep(w_a.data, [j]))),
                splat(builder.load(builder.gep(w_a.data, [builder.add(j, d)]))),
                splat(builder.load(builder.gep(u_a.data, [j]))),
            ]
            row = builder.add(first, builder.mul(j, AB))
            for g in range(n_chunks):
                ptr = builder.gep(psi_a.data, [builder.add(row, ir.Constant(intp, LANES * g))])
                x = builder.load(
                    builder.bitcast(ptr, vec_in.as_pointer()),
                    align=signature.args[0].dtype.bitwidth // 8,
                )
                if item != f64:
                    x = builder.fpext(x, vec)
                for k in range(3):
                    builder.store(
                        builder.call(fma, [coef[k], x, builder.load(acc[k][g])]), acc[k][g]
                    )
        for k in range(3):
            row = builder.mul(builder.add(builder.mul(ir.Constant(intp, k), rows_S), i_v), AB_S)
            for g in range(n_chunks):
                at = builder.add(row, builder.add(lane0_v, ir.Constant(intp, LANES * g)))
                ptr = builder.bitcast(builder.gep(S_a.data, [at]), vec.as_pointer())
                builder.store(builder.load(acc[k][g]), ptr, align=8)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def _dots(psi, t, w, u, S, i):  # pragma: no cover - compiled
    """``S[:, i, v] = (w[0], w[1], u) · ψ_t[:, v]`` for each column ``v`` of sample ``t``.

    Many columns: they are the SIMD lanes (:func:`_dots_lanes`, sixteen at a time), the last
    ``|A||B| mod 4`` one by one. Few: each column's products run over ``d``.
    """
    d, AB = psi.shape[1], psi.shape[2]
    v0 = 0
    if AB >= SIMD_MIN_ACTIONS:
        while v0 + LANES * MAX_CHUNKS <= AB:
            _dots_lanes(psi, t, w, u, S, i, v0, 4)
            v0 += LANES * MAX_CHUNKS
        left = (AB - v0) // LANES
        if left == 3:
            _dots_lanes(psi, t, w, u, S, i, v0, 3)
        elif left == 2:
            _dots_lanes(psi, t, w, u, S, i, v0, 2)
        elif left == 1:
            _dots_lanes(psi, t, w, u, S, i, v0, 1)
        v0 += LANES * left
    for v in range(v0, AB):
        acc_l = 0.0
        acc_f = 0.0
        acc_z = 0.0
        for j in range(d):
            x0 = psi[t, j, v]
            acc_l += w[0, j] * x0
            acc_f += w[1, j] * x0
            acc_z += u[j] * x0
        S[0, i, v] = acc_l
        S[1, i, v] = acc_f
        S[2, i, v] = acc_z


@njit(**JIT)
def _downdate(psi, flat, quad, t, U, M_inv, z, qv):  # pragma: no cover - compiled
    """``qv[v] = quad[t, v] − z_vᵀ M^{-1} z_v`` with ``z_v = U ψ_v``, for ``m ≠ 1`` new rows.

    ``z (≥ m, A·B)`` scratch; the loops run across the columns, four rows of ``U`` at a time
    (four columns: over ``d``, as in :func:`_dots4`). ``flat``: ``psi`` as ``(cap, d·A·B)``.
    """
    d, AB = psi.shape[1], psi.shape[2]
    m = U.shape[0]
    d4 = d - d % 4
    for r in range(m):
        if AB == 4:
            z0 = z1 = z2 = z3 = 0.0
            for j in range(d):
                c = U[r, j]
                z0 += c * flat[t, 4 * j]
                z1 += c * flat[t, 4 * j + 1]
                z2 += c * flat[t, 4 * j + 2]
                z3 += c * flat[t, 4 * j + 3]
            z[r, 0], z[r, 1], z[r, 2], z[r, 3] = z0, z1, z2, z3
            continue
        for v in range(AB):
            z[r, v] = 0.0
        for j in range(0, d4, 4):
            c0, c1, c2, c3 = U[r, j], U[r, j + 1], U[r, j + 2], U[r, j + 3]
            for v in range(AB):
                x0, x1 = psi[t, j, v], psi[t, j + 1, v]
                x2, x3 = psi[t, j + 2, v], psi[t, j + 3, v]
                z[r, v] += (c0 * x0 + c1 * x1) + (c2 * x2 + c3 * x3)
        for j in range(d4, d):
            c0 = U[r, j]
            for v in range(AB):
                z[r, v] += c0 * psi[t, j, v]
    for v in range(AB):
        qv[v] = quad[t, v]
    for r in range(m):
        for k in range(m):
            mrk = M_inv[r, k]
            for v in range(AB):
                qv[v] -= z[r, v] * mrk * z[k, v]


@njit(**JIT)
def _exact_forms(psi, t, Lambda_inv, Y, e):  # pragma: no cover - compiled
    """``e[v] = ψ_vᵀ Λ^{-1} ψ_v`` for each column of sample ``t``; ``Y (A·B, d)`` scratch.

    Rows ``Y[v] = ψ_vᵀΛ^{-1}`` accumulate four rows of ``Λ^{-1}`` at a time, in loops over ``d``
    (SIMD lanes, whatever ``|A||B|``); then ``e[v] = Y[v]·ψ_v``.
    """
    d, AB = psi.shape[1], psi.shape[2]
    L = Lambda_inv
    for v in range(AB):
        for r in range(d):
            Y[v, r] = 0.0
    d4 = d - d % 4
    for j in range(0, d4, 4):
        for v in range(AB):
            x0, x1, x2, x3 = psi[t, j, v], psi[t, j + 1, v], psi[t, j + 2, v], psi[t, j + 3, v]
            for r in range(d):
                Y[v, r] += (x0 * L[j, r] + x1 * L[j + 1, r]) + (x2 * L[j + 2, r] + x3 * L[j + 3, r])
    for j in range(d4, d):
        for v in range(AB):
            x0 = psi[t, j, v]
            for r in range(d):
                Y[v, r] += x0 * L[j, r]
    for v in range(AB):
        acc = 0.0
        for r in range(d):
            acc += psi[t, r, v] * Y[v, r]
        e[v] = acc


@njit(**JIT)
def next_state_values(
    psi, quad, n, n_old, A, w, U, M_inv, Lambda_inv, beta, H, alpha_l, alpha_f, mode, V
):  # pragma: no cover - compiled
    """Soft-max values ``V (n, 2)`` at the stored next states of one step, in one pass.

    Samples go by blocks of :data:`BLOCK`: each sample's products, form and ``Q``, then ``Q``
    transposed and the soft-max stages (:func:`_soft_rows`), each a loop across the block's
    samples. Downdates by one row (the common case): the products per sample, then forms and
    ``Q`` in one pass over the block's run of such samples (:func:`_q_flat`; four action pairs:
    :func:`_q4`, across the samples and already transposed).

    Args:
        psi: ``(cap, d, A·B)`` cached next-state features, each sample's ``|A||B|`` vectors side
            by side so that the products vectorise across actions (rows ``< n`` are used).
        quad: ``(cap, A·B)`` their forms ``ψᵀΛ^{-1}ψ``, updated in place. Both C-contiguous.
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

    Returns:
        The largest ``|downdated − exact|`` form in :data:`MODE_MEASURE`, else 0.
    """
    cap, d, AB = psi.shape
    B = AB // A
    m = U.shape[0]
    flat = psi.reshape(cap, d * AB)
    quad_flat = quad.reshape(cap * AB)
    drift = 0.0  # the largest correction a refresh made
    qv = np.empty(AB)
    ex = np.empty(AB)
    Y = np.empty((AB, d))
    u = U[0] if m >= 1 else np.zeros(d)
    z = np.empty((max(m, 1), AB))
    S = np.empty((3, BLOCK, AB))  # products w_lᵀψ, w_fᵀψ, uᵀψ of a run of samples
    S_flat = S.reshape(3, BLOCK * AB)
    Q = np.empty((2, BLOCK, AB))
    Q_flat = Q.reshape(2, BLOCK * AB)
    Qt = np.empty((2 * AB, BLOCK))  # Q_l then Q_f, samples along the rows
    S4 = np.empty((9, 4 * BLOCK))
    F = np.empty((2 * A, BLOCK))  # q_l then vbar_f
    out = np.empty((2, BLOCK))
    work = np.empty((4, BLOCK))
    for t0 in range(0, n, BLOCK):
        nt = min(BLOCK, n - t0)
        n_fused = 0  # the common case, downdates by one row: products, then a block pass
        if m == 1 and mode == MODE_DOWNDATE:
            n_fused = min(max(n_old - t0, 0), nt)
            if AB == 4:
                for i in range(n_fused):
                    p4 = _dots4(flat, t0 + i, w, u)
                    for k in range(8):
                        S4[k, i] = p4[k]
                    for k in range(4):
                        S4[8, 4 * i + k] = p4[8 + k]
            else:
                for i in range(n_fused):
                    _dots(psi, t0 + i, w, u, S, i)
                run = quad_flat[t0 * AB : (t0 + n_fused) * AB]
                _q_flat(run, S_flat, Q_flat, M_inv[0, 0], beta, H)
        for i in range(nt):  # (not range(n_fused, nt): an index LLVM can't prove ≥ 0 costs)
            if i < n_fused:
                continue
            t = t0 + i
            downdate = t < n_old and mode != MODE_EXACT
            if AB == 4:
                p4 = _dots4(flat, t, w, u)
                for k in range(3):
                    for v in range(4):
                        S[k, i, v] = p4[4 * k + v]
            else:
                _dots(psi, t, w, u, S, i)
            if downdate and m == 1:
                mi = M_inv[0, 0]
                for v in range(AB):
                    qv[v] = quad[t, v] - S[2, i, v] * mi * S[2, i, v]
            elif downdate:
                _downdate(psi, flat, quad, t, U, M_inv, z, qv)
            if not downdate or mode == MODE_MEASURE:
                _exact_forms(psi, t, Lambda_inv, Y, ex)
                for v in range(AB):
                    if downdate:
                        drift = max(drift, abs(ex[v] - qv[v]))
                    qv[v] = ex[v]
            for v in range(AB):
                quad[t, v] = qv[v]
                bonus = beta * math.sqrt(max(qv[v], 0.0))
                Q[0, i, v] = min(S[0, i, v] + bonus, H)
                Q[1, i, v] = min(S[1, i, v] + bonus, H)
        if n_fused < nt or AB != 4:  # transpose: the soft-max stages run across samples
            for v in range(AB):
                for i in range(nt):
                    Qt[v, i] = Q[0, i, v]
                for i in range(nt):
                    Qt[AB + v, i] = Q[1, i, v]
        if n_fused > 0 and AB == 4:  # after the transposition (these columns undefined)
            _q4(quad_flat[4 * t0 : 4 * (t0 + n_fused)], M_inv[0, 0], beta, H, S4, Qt)
        if B == 1:  # no follower's choice: the leader's soft-max straight from Q
            _soft_rows(Qt, 0, Qt, AB, A, nt, alpha_l, out, 0, 1, work)
        else:
            for a in range(A):  # the follower's soft-max over b at each a
                _soft_rows(Qt, AB + a * B, Qt, a * B, B, nt, alpha_f, F, A + a, a, work)
            _soft_rows(F, 0, F, A, A, nt, alpha_l, out, 0, 1, work)  # the leader's, over a
        for i in range(nt):
            V[t0 + i, 0] = out[0, i]
            V[t0 + i, 1] = out[1, i]
    return drift


@njit(**JIT)
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


@njit(**JIT)
def record_sample(phi, r, psi, Lambda, n, h, f, r_l, r_f, f_next):  # pragma: no cover - compiled
    """Store a transition of step ``h`` in row ``n[h]`` and add ``ffᵀ`` to ``Λ_h`` (line 5).

    ``phi (H, cap, d)``, ``r (H, cap, 2)``, ``psi (H-1, cap, d, A·B)``, ``Lambda (H, d, d)``;
    ``f (d,)`` the played features; ``f_next (A, B, d)`` the next state's (unused at the last
    step). Increments ``n[h]``; the caller makes room.
    """
    t = n[h]
    d = f.shape[0]
    for j in range(d):
        phi[h, t, j] = f[j]
    r[h, t, 0] = r_l
    r[h, t, 1] = r_f
    if h < psi.shape[0]:
        A, B = f_next.shape[0], f_next.shape[1]
        for a in range(A):
            for b in range(B):
                for j in range(d):
                    psi[h, t, j, a * B + b] = f_next[a, b, j]
    for i in range(d):
        for j in range(d):
            Lambda[h, i, j] += f[i] * f[j]
    n[h] = t + 1


@njit(**JIT)
def backward_pass(
    phi, r, psi, quad, n, n_quad, seen_next, Lambda_inv, w, A, beta, H, alpha_l, alpha_f,
    incremental, refresh, drift,
):  # fmt: skip  # pragma: no cover - compiled
    """Algorithm 1, lines 4–14, at every step from the last: ``w (2, H, d)`` in place.

    At each step ``h``: ``y = r + V_{h+1}(x_{h+1})`` (:func:`next_state_values`, with the forms
    downdated by the rows ``Λ_{h+1}`` gained since they were made: Sherman–Morrison for one,
    Woodbury for several, exact when that would cost more), then ``w_h = Λ_h^{-1} Φ_hᵀ y``.

    Args:
        phi, r, psi, quad: the stored samples, as in :func:`record_sample`; ``quad (H-1, cap,
            A·B)`` the cached forms, updated.
        n: ``(H,)`` samples per step. n_quad, seen_next: ``(H,)`` per step, the samples whose
            forms are made and the rows of ``Λ_{h+1}`` they reflect; updated.
        Lambda_inv: ``(H, d, d)`` the current inverses.
        incremental: downdate the forms (else compute them exactly).
        refresh: compute them exactly and measure the downdates' round-off.
        drift: ``(H,)`` out: the largest correction a refresh made at ``h``, NaN where none.
    """
    n_steps, d = phi.shape[0], phi.shape[2]
    wh = np.empty((2, d))
    for h in range(n_steps - 1, -1, -1):
        nh = n[h]
        y = r[h, :nh].copy()
        drift[h] = np.nan
        if h < n_steps - 1 and nh > 0:
            Linv = Lambda_inv[h + 1]
            pending = phi[h + 1, seen_next[h] : n[h + 1]]  # rows Λ_{h+1} gained since
            m = pending.shape[0]
            # Downdating costs O(m) per form, recomputing O(d): beyond m ~ d/2 recompute.
            if not incremental or n_quad[h] == 0 or 2 * m >= d:
                mode = MODE_EXACT
            else:
                mode = MODE_MEASURE if refresh else MODE_DOWNDATE
            if mode == MODE_EXACT:
                m = 0  # the downdate is not used
            U = np.zeros((m, d))  # rows of Φ_p Λ_new^{-1}
            for k in range(m):
                for i in range(d):
                    for j in range(d):
                        U[k, j] += pending[k, i] * Linv[i, j]
            M = np.eye(m)  # I − Φ_p Λ_new^{-1} Φ_pᵀ
            for k in range(m):
                for k2 in range(m):
                    for j in range(d):
                        M[k, k2] -= U[k, j] * pending[k2, j]
            if m == 1:  # Sherman–Morrison: a scalar
                M_inv = np.empty((1, 1))
                M_inv[0, 0] = 1.0 / M[0, 0]
            elif m > 1:
                M_inv = np.linalg.inv(M)
            else:
                M_inv = np.zeros((0, 0))
            wh[0] = w[0, h + 1]
            wh[1] = w[1, h + 1]
            V = np.empty((nh, 2))
            measured = next_state_values(
                psi[h], quad[h], nh, n_quad[h], A, wh, U, M_inv, Linv, beta, H, alpha_l,
                alpha_f, mode, V,
            )  # fmt: skip
            if mode == MODE_MEASURE:
                drift[h] = measured
            n_quad[h] = nh
            seen_next[h] = n[h + 1]
            y += V
        b = np.zeros((2, d))  # Φ_hᵀ y (zero with no samples)
        for t in range(nh):
            for j in range(d):
                b[0, j] += phi[h, t, j] * y[t, 0]
                b[1, j] += phi[h, t, j] * y[t, 1]
        for i in range(d):  # w_h = Λ_h^{-1} b
            s_l = 0.0
            s_f = 0.0
            for j in range(d):
                s_l += Lambda_inv[h, i, j] * b[0, j]
                s_f += Lambda_inv[h, i, j] * b[1, j]
            w[0, h, i] = s_l
            w[1, h, i] = s_f
