"""Compiled loops of the learner (numba): planning, recording a sample, and the policies.

The numpy formulation of the same arithmetic lives in :mod:`stackelberg_rl.learners.functional`
and :mod:`stackelberg_rl.learners.reference`; the tests hold them together.

- :func:`backward_pass` is Algorithm 1, lines 4–14, at every step. It brings each ``Λ_h^{-1}`` up
  to date by Sherman–Morrison with the *old* inverse, one new row at a time, and downdates the
  cached next-state forms ``ψᵀΛ^{-1}ψ`` by the same rows (math.md §5). The next-state values
  (:func:`next_state_values`) read every cached vector once, fused: the three products per
  vector, the downdated form, the bonus, both ``Q``, both soft-max policies and ``V``.
- :func:`policies` is the one place that turns ``w``, ``Λ^{-1}`` and features into the policies
  that are played: acting calls it for one state, the policy tables of a finite game for all of
  them, with the same arithmetic per state.
- :func:`record_sample` stores a transition and adds ``φφᵀ`` to ``Λ_h`` (:func:`add_outer`);
  :func:`spd_inverses` makes the ``Λ_h^{-1}`` the policies are played with, afresh from ``Λ_h``
  after every plan. Both are exact IEEE arithmetic (no fast-math flag), so a replay of a run
  (:func:`add_rows`, then :func:`spd_inverses` and :func:`policies`) gives the policies played,
  bit for bit (:mod:`stackelberg_rl.equilibria.plans`).

Two low-level tricks make the plan fast, and each is kept because whole learning runs measure
it (``stackelberg-rl bench`` prints the ablation, variants interleaved in one process): the
soft-max's exponential is a polynomial that vectorises (:func:`exp_nonpositive`) where
``math.exp`` is a call per element, and the products run as explicit SIMD vectors
(:func:`_products_simd`, LLVM vector code). Measured on ``random_linear(200, 4, 4, 16, 10)``,
shared learner, K = 1000 (medians of 3): both 0.53 s, ``math.exp`` 1.06 s (2.0×), plain products
0.99 s (1.9×), both plain 1.47 s; with A = B = 8 (K = 500): 1.02 s, 1.37 s (1.35×), 1.09 s
(1.07×: with 64 action pairs numba's own loop vectorises nearly as well), 1.44 s. The plain
versions are compiled from the same source, selected by two literal flags (``poly_exp``,
``simd_products``) that numba resolves at compile time. The special cases of four action pairs
(:func:`_products_4`, :func:`_downdate_and_q_4`) and of four actions in a soft-max (in
:func:`_soft_rows`) are plain numba and pay too: without them, A = B = 2 runs 1.36× and
A = B = 4 1.09× slower (same measurement).
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import literally, njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from ..._jit import ensure_cache_dir

ensure_cache_dir(__file__)  # before the first cache=True kernel

FASTMATH = {"reassoc", "contract"}
"""Let LLVM reorder sums (so the length-``d`` dot products vectorise); no flag that assumes away
infinities, which ``α = ∞`` (greedy play) relies on."""

JIT = {"cache": True, "fastmath": FASTMATH, "error_model": "numpy"}
"""Compile options of the plan's loops: NumPy's error model, so that no division can raise (an
exit from a loop, which stops LLVM from vectorising it)."""

EXACT_JIT = {"cache": True, "error_model": "numpy"}
"""Compile options of :func:`policies`: no fast-math flag, so each state's arithmetic is the
order the source writes, whatever the batch around it (acting and the policy tables agree to
the bit)."""

SIMD_MIN_ACTIONS = 8
"""From this many action pairs ``|A||B|`` up, the products run across pairs (SIMD lanes, see
:func:`_products_simd`); below, each vector's products run over ``d`` in registers."""

LANES = 4
"""Doubles per explicit SIMD vector in :func:`_products_simd` (one AVX register)."""

MAX_CHUNKS = 4
"""Vectors of :data:`LANES` columns that one :func:`_products_simd` holds at once: 3 × 4
accumulators stay in registers."""

BLOCK = 64
"""Samples per block: each stage of the soft-max runs across a block's samples (SIMD lanes)."""

LOG_MAX_GROWTH = math.log(1024.0)
"""``Λ_h^{-1}`` and the forms made from it are computed afresh once ``det Λ_h`` has grown by more
than this factor (its log) since they last were: a downdate's relative round-off grows at most
by that factor. With ``λ = 1`` and ``‖φ‖ ≤ 1`` a row grows ``det Λ`` at most twofold, so this
only acts early in a run; with a small ``λ`` it catches the first rows in each direction, whose
downdates would cancel catastrophically."""

MODE_DOWNDATE = 0
"""Downdate the forms of the first ``n_old`` samples, compute the others exactly."""
MODE_EXACT = 1
"""Compute every form exactly."""
MODE_MEASURE = 2
"""Downdate, then compute exactly and return the largest difference (the round-off drift)."""


# ---------------------------------------------------------------------- the policies played
@njit(**EXACT_JIT)
def _softmax_into(z, alpha, out):  # pragma: no cover - compiled
    """``out = SOFT-MAX_alpha(z)`` (eq. 12), stable; ``alpha = inf``: uniform on the maximisers."""
    zmax = z[0]
    for i in range(1, z.shape[0]):
        if z[i] > zmax:
            zmax = z[i]
    total = 0.0
    for i in range(z.shape[0]):
        if math.isinf(alpha):
            out[i] = 1.0 if z[i] == zmax else 0.0
        else:
            out[i] = math.exp(alpha * (z[i] - zmax))
        total += out[i]
    for i in range(z.shape[0]):
        out[i] /= total


@njit(**EXACT_JIT)
def policies(phi, w, Lambda_inv, h, beta, H, alpha_l, alpha_f):  # pragma: no cover - compiled
    """Optimistic ``Q`` and both soft-max policies at ``n`` states (Algorithm 1, lines 7–20).

    Args:
        phi: ``(n, A, B, d)`` the states' features.
        w: ``(2, H, d)`` both players' ``w``.
        Lambda_inv: ``(H, d, d)`` the ``Λ^{-1}``.
        h: the step.
        beta, H, alpha_l, alpha_f: as in Algorithm 1.

    Returns:
        ``Q (n, 2, A, B)``, ``pi_l (n, A)``, ``pi_f (n, A, B)``, and whether all are finite.
    """
    n, A, B, d = phi.shape
    Q = np.empty((n, 2, A, B))
    pi_l = np.empty((n, A))
    pi_f = np.empty((n, A, B))
    q_l = np.empty(A)
    y = np.empty(d)  # Λ^{-1}φ
    finite = True
    for s in range(n):
        for a in range(A):
            for b in range(B):
                x = phi[s, a, b]
                # y = Λ^{-1}x by rows of Λ^{-1} (symmetric): each y[i] its own sum, so the loop
                # over i runs in SIMD lanes without reordering any sum.
                for i in range(d):
                    y[i] = 0.0
                for j in range(d):
                    xj = x[j]
                    for i in range(d):
                        y[i] += Lambda_inv[h, j, i] * xj
                value_l = 0.0
                value_f = 0.0
                form = 0.0
                for i in range(d):
                    value_l += w[0, h, i] * x[i]
                    value_f += w[1, h, i] * x[i]
                    form += x[i] * y[i]
                bonus = beta * math.sqrt(max(form, 0.0))
                Q[s, 0, a, b] = min(value_l + bonus, H)
                Q[s, 1, a, b] = min(value_f + bonus, H)
                finite &= math.isfinite(Q[s, 0, a, b]) and math.isfinite(Q[s, 1, a, b])
            _softmax_into(Q[s, 1, a], alpha_f, pi_f[s, a])
            total = 0.0
            for b in range(B):
                total += pi_f[s, a, b] * Q[s, 0, a, b]
                finite &= math.isfinite(pi_f[s, a, b])
            q_l[a] = total
        _softmax_into(q_l, alpha_l, pi_l[s])
        for a in range(A):
            finite &= math.isfinite(pi_l[s, a])
    return Q, pi_l, pi_f, finite


# ---------------------------------------------------------------------- the soft-max of a plan
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
def _exp(x, poly_exp):  # pragma: no cover - compiled
    """``e^x`` for ``x ≤ 0``: :func:`exp_nonpositive` or, for the ablation, ``math.exp``."""
    if poly_exp:
        return exp_nonpositive(x)
    return math.exp(x)


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
def _soft_rows(
    Z, z_lo, Y, y_lo, rows, nt, alpha, out, o_z, o_y, sums, poly_exp
):  # pragma: no cover - compiled
    """One soft-max in each of the first ``nt`` columns (samples) of a block.

    With ``p = SOFT-MAX_alpha(Z[z_lo : z_lo + rows, i])``: ``out[o_z, i] = p·Z[z_lo :, i]`` and
    ``out[o_y, i] = p·Y[y_lo :, i]`` (``rows`` terms). Every loop runs across the samples, so it
    vectorises across them. ``alpha = inf``: uniform on the maximisers. ``sums (4, ≥ nt)``:
    scratch for the running maximum, the normaliser and the two weighted sums.
    """
    literally(poly_exp)
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
                e0 = _exp(alpha * (z0 - zmax), poly_exp)
                e1 = _exp(alpha * (z1 - zmax), poly_exp)
                e2 = _exp(alpha * (z2 - zmax), poly_exp)
                e3 = _exp(alpha * (z3 - zmax), poly_exp)
                _mix4(e0, e1, e2, e3, Z, z_lo, Y, y_lo, i, out, o_z, o_y)
        return
    zmax, norm, sum_z, sum_y = sums[0], sums[1], sums[2], sums[3]
    for i in range(nt):
        zmax[i] = Z[z_lo, i]
    for r in range(1, rows):
        for i in range(nt):
            zi = Z[z_lo + r, i]
            zmax[i] = zi if zi > zmax[i] else zmax[i]
    for i in range(nt):
        norm[i] = 0.0
        sum_z[i] = 0.0
        sum_y[i] = 0.0
    if math.isinf(alpha):
        for r in range(rows):
            for i in range(nt):
                zi = Z[z_lo + r, i]
                e = 1.0 if zi == zmax[i] else 0.0
                norm[i] += e
                sum_z[i] += e * zi
                sum_y[i] += e * Y[y_lo + r, i]
    else:
        for r in range(rows):
            for i in range(nt):
                zi = Z[z_lo + r, i]
                e = _exp(alpha * (zi - zmax[i]), poly_exp)
                norm[i] += e
                sum_z[i] += e * zi
                sum_y[i] += e * Y[y_lo + r, i]
    for i in range(nt):
        inv = 1.0 / norm[i]
        out[o_z, i] = sum_z[i] * inv
        out[o_y, i] = sum_y[i] * inv


# ---------------------------------------------------------------------- products and forms
@njit(**JIT)
def _products_4(flat, t, w, u):  # pragma: no cover - compiled
    """:func:`_products` for four columns, sample ``t`` of ``flat (cap, 4·d)``: a 12-tuple.

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
def _downdate_and_q_4(quad_run, beta, H, products, Q_rows):  # pragma: no cover - compiled
    """Forms downdated by one row and ``Q`` of a run of ``n`` samples of four columns.

    ``quad_run``: the run's forms, flat (``4·n``); ``products (9, ≥ 4·n)``: :func:`_products_4`
    of each sample, rows ``0 … 7`` one per product and column (samples along the row), row 8 the
    ``uᵀψ`` flat like ``quad_run``. ``Q_rows (8, ≥ n)``: ``Q_l`` then ``Q_f``, one row per action
    pair. Loops across samples, few arrays each (LLVM vectorises a loop only if it can check the
    arrays apart), so the square roots vectorise too; the bonuses go through ``products[8]``.
    """
    n = quad_run.shape[0] // 4
    for k in range(4 * n):
        q = quad_run[k] - products[8, k] * products[8, k]
        quad_run[k] = q
        products[8, k] = beta * math.sqrt(max(q, 0.0))
    for v in range(4):
        for i in range(n):
            Q_rows[v, i] = min(products[v, i] + products[8, 4 * i + v], H)
            Q_rows[4 + v, i] = min(products[4 + v, i] + products[8, 4 * i + v], H)


@njit(**JIT)
def _downdate_and_q(quad_run, products, Q, beta, H):  # pragma: no cover - compiled
    """Forms downdated by one row and ``Q`` of a run of samples, flat: ``k < len(quad_run)``.

    ``quad_run``: the run's forms; ``products (3, ·)``: their ``w_lᵀψ``, ``w_fᵀψ``, ``uᵀψ``;
    ``Q (2, ·)``: out. One loop over the run's ``n·A·B`` vectors.
    """
    for k in range(quad_run.shape[0]):
        q = quad_run[k] - products[2, k] * products[2, k]
        quad_run[k] = q
        bonus = beta * math.sqrt(max(q, 0.0))
        Q[0, k] = min(products[0, k] + bonus, H)
        Q[1, k] = min(products[1, k] + bonus, H)


def _is_c_array(ty, ndim, dtypes) -> bool:
    """Whether the numba type ``ty`` is a C-contiguous ``ndim``-array of one of ``dtypes``."""
    return (
        isinstance(ty, types.Array) and ty.ndim == ndim and ty.layout == "C" and ty.dtype in dtypes
    )


@intrinsic
def _products_simd(typingctx, psi, t, w, u, out, i, lane0, chunks):  # pragma: no cover - compiled
    """``out[k, i, c] = (w[0], w[1], u)[k] · ψ_t[:, c]`` for ``chunks`` vectors of columns ``c``.

    Columns ``lane0 … lane0 + LANES·chunks − 1`` of sample ``t`` of ``psi (cap, d, A·B)``
    (float64 or float32); ``w (2, d)``, ``u (d,)``, ``out (3, ·, A·B)`` float64, all C-contiguous;
    ``chunks`` a literal ``≤`` :data:`MAX_CHUNKS`.

    Written as LLVM vector code because it is the innermost product of the plan: one loop over
    ``d`` with ``3·chunks`` accumulators in registers, each row a broadcast coefficient times a
    vector of columns (a fused multiply-add). Numba's loops leave the accumulators in memory,
    a store and a load per row (the ablation of ``stackelberg-rl bench`` measures what that
    costs a whole run).
    """
    if not (
        isinstance(chunks, types.IntegerLiteral)
        and 1 <= chunks.literal_value <= MAX_CHUNKS
        and _is_c_array(psi, 3, (types.float64, types.float32))
        and _is_c_array(w, 2, (types.float64,))
        and _is_c_array(u, 1, (types.float64,))
        and _is_c_array(out, 3, (types.float64,))
        and all(isinstance(x, types.Integer) for x in (t, i, lane0))
    ):
        return None
    n_chunks = chunks.literal_value
    sig = types.void(psi, t, w, u, out, i, lane0, chunks)

    def codegen(context, builder, signature, args):
        psi_a, w_a, u_a, out_a = (
            context.make_array(signature.args[k])(context, builder, args[k]) for k in (0, 2, 3, 4)
        )
        intp = context.get_value_type(types.intp)
        t_v, i_v, lane0_v = (
            context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 5, 6)
        )
        _, d, AB = cgutils.unpack_tuple(builder, psi_a.shape, 3)
        _, rows_out, AB_out = cgutils.unpack_tuple(builder, out_a.shape, 3)
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
            row = builder.mul(builder.add(builder.mul(ir.Constant(intp, k), rows_out), i_v), AB_out)
            for g in range(n_chunks):
                at = builder.add(row, builder.add(lane0_v, ir.Constant(intp, LANES * g)))
                ptr = builder.bitcast(builder.gep(out_a.data, [at]), vec.as_pointer())
                builder.store(builder.load(acc[k][g]), ptr, align=8)
        return context.get_dummy_value()

    return sig, codegen


@njit(**JIT)
def _products(psi, t, w, u, out, i, simd_products):  # pragma: no cover - compiled
    """``out[:, i, v] = (w[0], w[1], u) · ψ_t[:, v]`` for each column ``v`` of sample ``t``.

    Many columns: they are the SIMD lanes (:func:`_products_simd`, sixteen at a time, the last
    ``|A||B| mod 4`` one by one), or for the ablation (``simd_products`` false) a plain loop
    across them. Few: each column's products run over ``d``.
    """
    literally(simd_products)
    d, AB = psi.shape[1], psi.shape[2]
    v0 = 0
    if AB >= SIMD_MIN_ACTIONS:
        if simd_products:
            while v0 + LANES * MAX_CHUNKS <= AB:
                _products_simd(psi, t, w, u, out, i, v0, 4)
                v0 += LANES * MAX_CHUNKS
            left = (AB - v0) // LANES
            if left == 3:
                _products_simd(psi, t, w, u, out, i, v0, 3)
            elif left == 2:
                _products_simd(psi, t, w, u, out, i, v0, 2)
            elif left == 1:
                _products_simd(psi, t, w, u, out, i, v0, 1)
            v0 += LANES * left
        else:
            for v in range(AB):
                out[0, i, v] = 0.0
                out[1, i, v] = 0.0
                out[2, i, v] = 0.0
            for j in range(d):
                c_l = w[0, j]
                c_f = w[1, j]
                c_u = u[j]
                for v in range(AB):
                    x = psi[t, j, v]
                    out[0, i, v] += c_l * x
                    out[1, i, v] += c_f * x
                    out[2, i, v] += c_u * x
            return
    for v in range(v0, AB):
        acc_l = 0.0
        acc_f = 0.0
        acc_u = 0.0
        for j in range(d):
            x = psi[t, j, v]
            acc_l += w[0, j] * x
            acc_f += w[1, j] * x
            acc_u += u[j] * x
        out[0, i, v] = acc_l
        out[1, i, v] = acc_f
        out[2, i, v] = acc_u


@njit(**JIT)
def _downdate_rows(psi, flat, quad, t, U, z, qv):  # pragma: no cover - compiled
    """``qv[v] = quad[t, v] − Σ_r (U_r·ψ_v)²``: the forms downdated by ``m ≠ 1`` rows.

    ``U (m, d)``: the scaled Sherman–Morrison vectors of :func:`_add_rows`. ``z (≥ m, A·B)``
    scratch; the loops run across the columns, four entries of ``U_r`` at a time (four columns:
    over ``d``, as in :func:`_products_4`). ``flat``: ``psi`` as ``(cap, d·A·B)``.
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
        for v in range(AB):
            qv[v] -= z[r, v] * z[r, v]


@njit(**JIT)
def _exact_forms(psi, t, Lambda_inv, rows, e):  # pragma: no cover - compiled
    """``e[v] = ψ_vᵀ Λ^{-1} ψ_v`` for each column of sample ``t``; ``rows (A·B, d)`` scratch.

    Rows ``rows[v] = ψ_vᵀΛ^{-1}`` accumulate four rows of ``Λ^{-1}`` at a time, in loops over
    ``d`` (SIMD lanes, whatever ``|A||B|``); then ``e[v] = rows[v]·ψ_v``.
    """
    d, AB = psi.shape[1], psi.shape[2]
    L = Lambda_inv
    for v in range(AB):
        for r in range(d):
            rows[v, r] = 0.0
    d4 = d - d % 4
    for j in range(0, d4, 4):
        for v in range(AB):
            x0, x1, x2, x3 = psi[t, j, v], psi[t, j + 1, v], psi[t, j + 2, v], psi[t, j + 3, v]
            for r in range(d):
                rows[v, r] += (x0 * L[j, r] + x1 * L[j + 1, r]) + (
                    x2 * L[j + 2, r] + x3 * L[j + 3, r]
                )
    for j in range(d4, d):
        for v in range(AB):
            x0 = psi[t, j, v]
            for r in range(d):
                rows[v, r] += x0 * L[j, r]
    for v in range(AB):
        acc = 0.0
        for r in range(d):
            acc += psi[t, r, v] * rows[v, r]
        e[v] = acc


# ---------------------------------------------------------------------- the plan
@njit(**JIT)
def _next_state_values(
    psi, quad, n, n_old, A, w, U, Lambda_inv, beta, H, alpha_l, alpha_f, mode, V,
    poly_exp, simd_products,
):  # fmt: skip  # pragma: no cover - compiled
    """Soft-max values ``V (n, 2)`` at the stored next states of one step, in one pass.

    Samples go by blocks of :data:`BLOCK`: each sample's products, form and ``Q``, then ``Q``
    transposed and the soft-max stages (:func:`_soft_rows`), each a loop across the block's
    samples. Downdates by one row (the common case): the products per sample, then forms and
    ``Q`` in one pass over the block's run of such samples (:func:`_downdate_and_q`; four action
    pairs: :func:`_downdate_and_q_4`, across the samples and already transposed).

    Args:
        psi: ``(cap, d, A·B)`` cached next-state features, each sample's ``|A||B|`` vectors side
            by side so that the products vectorise across actions (rows ``< n`` are used).
        quad: ``(cap, A·B)`` their forms ``ψᵀΛ^{-1}ψ``, updated in place. Both C-contiguous.
        n: number of samples.
        n_old: samples whose forms are up to date with the previous ``Λ``.
        A: ``|A|`` (``|B| = A·B / A``).
        w: ``(2, d)`` ``w_{h+1}`` of both players.
        U: ``(m, d)`` the rows ``Λ`` gained as scaled Sherman–Morrison vectors
            (:func:`_add_rows`): the downdated form is ``ψᵀΛ^{-1}ψ − Σ_r (U_r·ψ)²``.
        Lambda_inv: ``(d, d)`` the current ``Λ^{-1}``, for the forms computed exactly.
        beta, H, alpha_l, alpha_f: as in Algorithm 1.
        mode: :data:`MODE_DOWNDATE`, :data:`MODE_EXACT` or :data:`MODE_MEASURE`.
        V: ``(n, 2)`` output.
        poly_exp, simd_products: literal flags: the two tricks of the module docstring.

    Returns:
        The largest ``|downdated − exact|`` form in :data:`MODE_MEASURE`, else 0.
    """
    literally(poly_exp)
    literally(simd_products)
    cap, d, AB = psi.shape
    B = AB // A
    m = U.shape[0]
    flat = psi.reshape(cap, d * AB)
    quad_flat = quad.reshape(cap * AB)
    drift = 0.0  # the largest correction a refresh made
    qv = np.empty(AB)
    exact = np.empty(AB)
    form_rows = np.empty((AB, d))
    u = U[0] if m >= 1 else np.zeros(d)
    z = np.empty((max(m, 1), AB))
    products = np.empty((3, BLOCK, AB))  # w_lᵀψ, w_fᵀψ, uᵀψ of a block's samples
    products_flat = products.reshape(3, BLOCK * AB)
    Q = np.empty((2, BLOCK, AB))
    Q_flat = Q.reshape(2, BLOCK * AB)
    Q_rows = np.empty((2 * AB, BLOCK))  # Q_l then Q_f, one row per action pair
    products_4 = np.empty((9, 4 * BLOCK))
    marginals = np.empty((2 * A, BLOCK))  # q_l then vbar_f, one row per leader action
    values = np.empty((2, BLOCK))
    sums = np.empty((4, BLOCK))
    for t0 in range(0, n, BLOCK):
        nt = min(BLOCK, n - t0)
        n_fused = 0  # the common case, downdates by one row: products, then a block pass
        if m == 1 and mode == MODE_DOWNDATE:
            n_fused = min(max(n_old - t0, 0), nt)
            if AB == 4:
                for i in range(n_fused):
                    p4 = _products_4(flat, t0 + i, w, u)
                    for k in range(8):
                        products_4[k, i] = p4[k]
                    for k in range(4):
                        products_4[8, 4 * i + k] = p4[8 + k]
            else:
                for i in range(n_fused):
                    _products(psi, t0 + i, w, u, products, i, simd_products)
                run = quad_flat[t0 * AB : (t0 + n_fused) * AB]
                _downdate_and_q(run, products_flat, Q_flat, beta, H)
        for i in range(nt):  # (not range(n_fused, nt): an index LLVM can't prove ≥ 0 costs)
            if i < n_fused:
                continue
            t = t0 + i
            downdate = t < n_old and mode != MODE_EXACT
            if AB == 4:
                p4 = _products_4(flat, t, w, u)
                for k in range(3):
                    for v in range(4):
                        products[k, i, v] = p4[4 * k + v]
            else:
                _products(psi, t, w, u, products, i, simd_products)
            if downdate and m == 1:
                for v in range(AB):
                    qv[v] = quad[t, v] - products[2, i, v] * products[2, i, v]
            elif downdate:
                _downdate_rows(psi, flat, quad, t, U, z, qv)
            if not downdate or mode == MODE_MEASURE:
                _exact_forms(psi, t, Lambda_inv, form_rows, exact)
                for v in range(AB):
                    if downdate:
                        drift = max(drift, abs(exact[v] - qv[v]))
                    qv[v] = exact[v]
            for v in range(AB):
                quad[t, v] = qv[v]
                bonus = beta * math.sqrt(max(qv[v], 0.0))
                Q[0, i, v] = min(products[0, i, v] + bonus, H)
                Q[1, i, v] = min(products[1, i, v] + bonus, H)
        if n_fused < nt or AB != 4:  # transpose: the soft-max stages run across samples
            for v in range(AB):
                for i in range(nt):
                    Q_rows[v, i] = Q[0, i, v]
                for i in range(nt):
                    Q_rows[AB + v, i] = Q[1, i, v]
        if n_fused > 0 and AB == 4:  # after the transposition (these columns undefined)
            _downdate_and_q_4(quad_flat[4 * t0 : 4 * (t0 + n_fused)], beta, H, products_4, Q_rows)
        if B == 1:  # no follower's choice: the leader's soft-max straight from Q
            _soft_rows(Q_rows, 0, Q_rows, AB, A, nt, alpha_l, values, 0, 1, sums, poly_exp)
        else:
            for a in range(A):  # the follower's soft-max over b at each a
                _soft_rows(
                    Q_rows, AB + a * B, Q_rows, a * B, B, nt, alpha_f, marginals, A + a, a,
                    sums, poly_exp,
                )  # fmt: skip
            _soft_rows(  # the leader's, over a
                marginals, 0, marginals, A, A, nt, alpha_l, values, 0, 1, sums, poly_exp
            )
        for i in range(nt):
            V[t0 + i, 0] = values[0, i]
            V[t0 + i, 1] = values[1, i]
    return drift


@njit(**JIT)
def next_state_values(
    psi, quad, n, n_old, A, w, U, Lambda_inv, beta, H, alpha_l, alpha_f, mode, V
):  # pragma: no cover - compiled
    """:func:`_next_state_values` with both tricks (``poly_exp`` and ``simd_products`` on)."""
    return _next_state_values(
        psi, quad, n, n_old, A, w, U, Lambda_inv, beta, H, alpha_l, alpha_f, mode, V, True, True
    )


@njit(**JIT)
def _add_rows(Lambda_inv, rows, U):  # pragma: no cover - compiled
    """Sherman–Morrison with the old inverse, one row ``φ`` of ``rows (m, d)`` at a time.

    (math.md §5) ``u = Λ^{-1}φ``, ``c = 1 + φᵀu``, ``U_r = u / √c``, ``Λ^{-1} ← Λ^{-1} − U_rU_rᵀ``,
    so that ``ψᵀΛ'^{-1}ψ = ψᵀΛ^{-1}ψ − Σ_r (U_r·ψ)²`` for any ``ψ``. (The form with the new inverse,
    ``1 − φᵀΛ'^{-1}φ``, cancels catastrophically when ``λ`` is small; this one does not.)

    Returns:
        ``Σ_r log c``, by the matrix determinant lemma ``log det Λ' − log det Λ``.
    """
    m, d = rows.shape
    u = np.empty(d)
    growth = 0.0
    for r in range(m):
        phi = rows[r]
        c = 1.0
        for i in range(d):
            acc = 0.0
            for j in range(d):
                acc += Lambda_inv[i, j] * phi[j]
            u[i] = acc
            c += phi[i] * acc
        growth += math.log(c)
        scale = 1.0 / math.sqrt(c)
        for i in range(d):
            U[r, i] = u[i] * scale
        for i in range(d):
            for j in range(d):
                Lambda_inv[i, j] -= U[r, i] * U[r, j]
    return growth


@njit(**EXACT_JIT)
def add_outer(Lambda, h, f):  # pragma: no cover - compiled
    """``Λ_h += ffᵀ``: ``Lambda (H, d, d)``, ``f (d,)``.

    No fast-math flag: each entry is ``Λ_h[i, j] + f[i]·f[j]`` with the product rounded before
    the sum (no fused multiply-add), so ``Λ_h`` after any rows is fixed by IEEE arithmetic and
    the order of the rows alone. Replaying a run (:func:`add_rows`) rebuilds it bit for bit.
    """
    d = f.shape[0]
    for i in range(d):
        fi = f[i]
        for j in range(d):
            Lambda[h, i, j] += fi * f[j]


@njit(**EXACT_JIT)
def record_sample(phi, r, psi, Lambda, n, h, f, r_l, r_f, f_next):  # pragma: no cover - compiled
    """Store a transition of step ``h`` in row ``n[h]`` and add ``ffᵀ`` to ``Λ_h`` (line 5).

    ``phi (H, cap, d)``, ``r (H, cap, 2)``, ``psi (H-1, cap, d, A·B)``, ``Lambda (H, d, d)``;
    ``f (d,)`` the played features; ``f_next (A, B, d)`` the next state's (unused at the last
    step). Increments ``n[h]``; the caller makes room. ``Λ_h`` grows by :func:`add_outer`.
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
    add_outer(Lambda, h, f)
    n[h] = t + 1


@njit(**EXACT_JIT)
def add_rows(Lambda, phi, lo, hi):  # pragma: no cover - compiled
    """``Λ_h += Σ_{lo ≤ τ < hi} φ_h^τ φ_h^τᵀ`` at every step, rows in order (:func:`add_outer`).

    ``Lambda (H, d, d)``; ``phi (K, H, d)`` the features recorded in each episode. After the rows
    of episodes ``0 … k-1`` from ``λI``, ``Λ`` is the learner's at the start of episode ``k``, to
    the bit: the same operations on the same numbers in the same order.
    """
    for t in range(lo, hi):
        for h in range(phi.shape[1]):
            add_outer(Lambda, h, phi[t, h])


@njit(**EXACT_JIT)
def spd_inverses(Lambda, out):  # pragma: no cover - compiled
    """``out[h] = Λ_h^{-1}`` for every ``h`` by Cholesky: ``Lambda, out (H, d, d)``.

    The inverse the policies are played with (math.md §5): a function of ``Λ_h`` alone, so a
    replay that rebuilds ``Λ_h`` gets the same bits. ``Λ = UᵀU`` (``U`` upper triangular,
    right-looking), ``M = U^{-ᵀ}`` by forward substitution, ``Λ^{-1} = MᵀM``, exactly symmetric.
    Every inner loop runs along a row, so it vectorises without reordering any sum: each entry
    accumulates its terms in one fixed order. No fast-math flag. A ``Λ_h`` that is not positive
    definite gives NaN (a non-positive pivot), which :meth:`LSVIUCBLearner.plan` reports.
    """
    H, d = Lambda.shape[0], Lambda.shape[1]
    U = np.empty((d, d))
    M = np.empty((d, d))
    P = np.empty((d, d))
    for h in range(H):
        for i in range(d):
            for j in range(d):
                U[i, j] = Lambda[h, i, j]
        for k in range(d):  # row k of U, then the trailing block less its outer product
            pivot = U[k, k]
            root = math.sqrt(pivot) if pivot > 0.0 else math.nan
            U[k, k] = root
            for j in range(k + 1, d):
                U[k, j] = U[k, j] / root
            for i in range(k + 1, d):
                u_ki = U[k, i]
                for j in range(i, d):
                    U[i, j] -= u_ki * U[k, j]
        for i in range(d):  # M = (Uᵀ)^{-1}, lower triangular, row by row
            for j in range(d):
                M[i, j] = 1.0 if i == j else 0.0
            for k in range(i):
                u_ki = U[k, i]
                for j in range(k + 1):
                    M[i, j] -= u_ki * M[k, j]
            root = U[i, i]
            for j in range(i + 1):
                M[i, j] = M[i, j] / root
        for i in range(d):
            for j in range(d):
                P[i, j] = 0.0
        for k in range(d):  # Λ^{-1} = Σ_k M[k]ᵀ M[k]; M[k, j] = 0 for j > k
            for i in range(k + 1):
                m_ki = M[k, i]
                for j in range(k + 1):
                    P[i, j] += m_ki * M[k, j]
        for i in range(d):  # (a local P: LLVM vectorises what it knows does not alias out)
            for j in range(d):
                out[h, i, j] = P[i, j]


@njit(**JIT)
def _backward(
    phi, r, psi, quad, n, n_quad, n_inverse, growth, Lambda, Lambda_inv, w, A, beta, H, alpha_l,
    alpha_f, incremental, refresh, drift, poly_exp, simd_products,
):  # fmt: skip  # pragma: no cover - compiled
    """:func:`backward_pass` with the two tricks as literal flags."""
    literally(poly_exp)
    literally(simd_products)
    n_steps, d = phi.shape[0], phi.shape[2]
    wh = np.empty((2, d))
    U_next = np.zeros((0, d))  # step h+1's Sherman–Morrison vectors
    exact_next = True  # whether step h+1's forms must be computed exactly
    for h in range(n_steps - 1, -1, -1):
        nh = n[h]
        # Λ_h^{-1} up to date: by rank-one updates with the old inverse, or afresh when that is
        # cheaper (downdating costs O(m) per cached form, recomputing O(d): beyond m ~ d/2,
        # recompute), when refreshing, or without downdates.
        # A downdated form ψᵀΛ'^{-1}ψ = ψᵀΛ^{-1}ψ − (U·ψ)² is at least ψᵀΛ^{-1}ψ / c (Cauchy–
        # Schwarz), so its relative round-off grows at most by Π c = det Λ' / det Λ: once that
        # passes MAX_GROWTH since the last exact computation, compute afresh.
        m = nh - n_inverse[h]
        exact_h = not incremental or 2 * m >= d
        U_h = np.zeros((0 if exact_h else m, d))
        if not exact_h:
            growth[h] += _add_rows(Lambda_inv[h], phi[h, n_inverse[h] : nh], U_h)
            exact_h = growth[h] > LOG_MAX_GROWTH
        if refresh or exact_h:
            Lambda_inv[h] = np.linalg.inv(Lambda[h])
            growth[h] = 0.0
        n_inverse[h] = nh
        y = r[h, :nh].copy()
        drift[h] = np.nan
        if h < n_steps - 1 and nh > 0:
            if exact_next or n_quad[h] == 0:
                mode = MODE_EXACT
            else:
                mode = MODE_MEASURE if refresh else MODE_DOWNDATE
            wh[0] = w[0, h + 1]
            wh[1] = w[1, h + 1]
            V = np.empty((nh, 2))
            measured = _next_state_values(
                psi[h], quad[h], nh, n_quad[h], A, wh, U_next, Lambda_inv[h + 1], beta, H,
                alpha_l, alpha_f, mode, V, poly_exp, simd_products,
            )  # fmt: skip
            if mode == MODE_MEASURE:
                drift[h] = measured
            n_quad[h] = nh
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
        U_next = U_h
        exact_next = exact_h


@njit(**JIT)
def backward_pass(
    phi, r, psi, quad, n, n_quad, n_inverse, growth, Lambda, Lambda_inv, w, A, beta, H, alpha_l,
    alpha_f, incremental, refresh, drift,
):  # fmt: skip  # pragma: no cover - compiled
    """Algorithm 1, lines 4–14, at every step from the last: ``Λ^{-1}`` and ``w`` in place.

    At each step ``h``: ``Λ_h^{-1}`` brought up to date with the rows ``Λ_h`` gained since the
    last plan (:func:`_add_rows`; afresh on a refresh, when many rows came, or when ``det Λ_h``
    grew past :data:`LOG_MAX_GROWTH`), ``y = r +
    V_{h+1}(x_{h+1})`` (:func:`_next_state_values`, with the forms downdated by the rows that
    ``Λ_{h+1}`` gained, or exact), then ``w_h = Λ_h^{-1} Φ_hᵀ y``.

    Args:
        phi, r, psi, Lambda: the stored samples and ``Λ (H, d, d)``, as in :func:`record_sample`.
        quad: ``(H-1, cap, A·B)`` the cached forms, updated.
        n: ``(H,)`` samples per step. n_quad, n_inverse: ``(H,)`` per step, the samples whose
            forms are made and the rows that ``Lambda_inv`` reflects; updated.
        growth: ``(H,)`` ``log det Λ_h`` less its value when ``Λ_h^{-1}`` was last computed
            afresh (:data:`LOG_MAX_GROWTH`); updated.
        Lambda_inv: ``(H, d, d)`` the inverses, updated.
        w: ``(2, H, d)`` out.
        A, beta, H, alpha_l, alpha_f: ``|A|`` and the parameters of Algorithm 1.
        incremental: downdate the forms (else compute them and ``Λ^{-1}`` afresh).
        refresh: compute them and ``Λ^{-1}`` afresh and measure the downdates' round-off.
        drift: ``(H,)`` out: the largest correction a refresh made at ``h``, NaN where none.
    """
    _backward(
        phi, r, psi, quad, n, n_quad, n_inverse, growth, Lambda, Lambda_inv, w, A, beta, H, alpha_l,
        alpha_f, incremental, refresh, drift, True, True,
    )  # fmt: skip


@njit(**JIT)
def backward_pass_ablation(
    phi, r, psi, quad, n, n_quad, n_inverse, growth, Lambda, Lambda_inv, w, A, beta, H, alpha_l,
    alpha_f, incremental, refresh, drift, poly_exp, simd_products,
):  # fmt: skip  # pragma: no cover - compiled
    """:func:`backward_pass` with either trick turned off (``False``): the benchmark's ablation.

    Its own entry point, so that only the benchmark compiles the plain variants.
    """
    if poly_exp and simd_products:
        _backward(
            phi, r, psi, quad, n, n_quad, n_inverse, growth, Lambda, Lambda_inv, w, A, beta, H,
            alpha_l, alpha_f, incremental, refresh, drift, True, True,
        )  # fmt: skip
    elif poly_exp:
        _backward(
            phi, r, psi, quad, n, n_quad, n_inverse, growth, Lambda, Lambda_inv, w, A, beta, H,
            alpha_l, alpha_f, incremental, refresh, drift, True, False,
        )  # fmt: skip
    elif simd_products:
        _backward(
            phi, r, psi, quad, n, n_quad, n_inverse, growth, Lambda, Lambda_inv, w, A, beta, H,
            alpha_l, alpha_f, incremental, refresh, drift, False, True,
        )  # fmt: skip
    else:
        _backward(
            phi, r, psi, quad, n, n_quad, n_inverse, growth, Lambda, Lambda_inv, w, A, beta, H,
            alpha_l, alpha_f, incremental, refresh, drift, False, False,
        )  # fmt: skip
