"""Compiled loops of the learner: the backward pass, recording a sample, the policies.

The numpy form is :mod:`~stackelberg_rl.learners.functional`, tested against these. Player arrays
have a leading axis ``P = 1+N``; the joint actions ``(a_0, …, a_N)`` lie on one row-major axis of
``J = ∏|A_i|``. What must replay to the bit (``Λ``, the played ``Λ^{-1}``, the policies) keeps
each sum's order. Arrays are copied by loops, never by slice assignment, which numba compiles
seconds slower.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit

from ..._jit import CALLED_BY_KERNELS, KERNEL, ensure_cache_dir

ensure_cache_dir(__file__)  # before the first cache=True kernel

JIT = {**KERNEL, "fastmath": {"reassoc", "contract"}}  # keeps inf
EXACT_JIT = KERNEL  # each sum in the order written
INNER = {**JIT, **CALLED_BY_KERNELS}  # of the helpers that only kernels call
EXACT_INNER = {**EXACT_JIT, **CALLED_BY_KERNELS}

ACROSS_PAIRS = 8  # from this many joint actions up, products run across them
COEFFICIENTS = 3  # rows cᵀψ per pass of the products: each w_{m,h+1}, then U_0, zero-padded
BLOCK = 64  # next states per block: the soft-max runs across a block's next states

LOG_MAX_GROWTH = math.log(1024.0)
"""``Λ_h^{-1}`` and the forms are made afresh once ``det Λ_h`` has grown by this factor: a downdated
form is ``≥ ψᵀΛ^{-1}ψ / c`` (``c = 1 + φᵀΛ^{-1}φ``), its relative round-off grows ``≤ Π c``."""

MODE_DOWNDATE, MODE_EXACT, MODE_MEASURE = 0, 1, 2
"""Next states' forms: downdate the first ``n_current`` (the rest exact); all exact; both, with
the largest difference returned (drift)."""

UPDATE, REFRESH, RECOMPUTE = 0, 1, 2
"""A plan: ``Λ^{-1}`` and forms updated by the new rows; made afresh, measuring the drift; all
recomputed."""

Parameters = namedtuple(
    "Parameters", ["beta", "horizon", "alphas", "bonus_reward", "action_counts"]
)
"""``β``, ``H`` (float, the cap of ``Q``), ``alphas (P,)`` (``inf``: greedy), ``bonus_reward``
(add ``u = min(β‖φ‖_{Λ^{-1}}, H)/H`` to every ``Q``, math.md §7) and ``action_counts (P,)``."""

Samples = namedtuple(
    "Samples", ["features", "rewards", "next_features", "next_rows", "Lambda", "counts"]
)
"""What a learner recorded: ``features (H, cap, d)``, ``rewards (H, cap, P)``; the next states'
features ``ψ``, a state's ``J`` vectors side by side, as ``next_features (1, S, d, J)`` the
rows of a feature table shared by every step, or ``(H-1, cap, d, J)`` each sample's own (a
feature map); ``next_rows (H-1, cap)`` the row of ``next_features`` of each sample's next state
(its state, or its own row); ``Lambda (H, d, d)``; ``counts (H,)`` the rows in use."""

PlanCache = namedtuple(
    "PlanCache",
    ["forms", "n_forms", "inverse", "n_inverse", "growth", "place_of", "place_states", "n_places",
     "reward_sums", "place_sums", "n_summed"],
)  # fmt: skip
"""What a plan keeps for the next: ``forms (H-1, ·, J)`` the ``ψᵀΛ_{h+1}^{-1}ψ`` of each next
state, ``n_forms (H,)`` how many are made, ``inverse (H, d, d)`` the Sherman–Morrison
``Λ_h^{-1}``, ``n_inverse (H,)`` the rows it holds, ``growth (H,)`` ``log det Λ_h`` gained since
it was made afresh; ``reward_sums (H, d, P)`` ``Σ_τ φ_h^τ r^τ`` of the first ``n_summed (H,)``
samples. With a feature table, ``V_{h+1}`` is the same at every sample of one next state, so it
is computed once per distinct state, at its place among step ``h``'s next states in order of
first visit: ``place_of (H-1, S)`` the place of state ``x`` (``-1``: none yet), ``place_states
(H-1, S)`` the state at each place, ``n_places (H,)`` how many, ``place_sums (H-1, S, d)`` ``Σ
φ_h^τ`` of the samples that reached each place, ``forms (H-1, S, J)`` by place. A feature map's
samples are each their own next state: ``place_of``, ``place_states`` and ``place_sums`` hold no
places, ``forms (H-1, cap, J)`` are by sample."""

NextStates = namedtuple(
    "NextStates", ["features", "rows", "forms", "n", "n_current", "updates", "inverse"]
)
"""One step's next states (a table's distinct states by place, or a feature map's samples): the
``t``-th's ``ψ`` at ``features[rows[t]]`` ``(d, J)``; ``forms (·, J)``, ``n`` in use, the first
``n_current`` of the previous ``Λ^{-1}``; ``updates (m, d)`` the Sherman–Morrison vectors ``U_r``
since, ``inverse (d, d)`` the current ``Λ^{-1}``. Python passes these as plain tuples, named
again inside the kernels (cheaper to call)."""


# ---------------------------------------------------------------------- the policies played
@njit(**EXACT_INNER)
def _softmax_into(values, alpha, out):  # pragma: no cover - compiled
    """``out = softmax(α·values)`` (eq. 12), stable; ``α = ∞``: uniform on the maximisers."""
    largest = values[0]
    for i in range(1, values.shape[0]):
        if values[i] > largest:
            largest = values[i]
    total = 0.0
    for i in range(values.shape[0]):
        if math.isinf(alpha):
            out[i] = 1.0 if values[i] == largest else 0.0
        else:
            out[i] = math.exp(alpha * (values[i] - largest))
        total += out[i]
    for i in range(values.shape[0]):
        out[i] /= total


@njit(**EXACT_JIT)
def policies(phi, w, Lambda_inv, h, params):  # pragma: no cover - compiled
    """``Q (n, P, J)``, every player's policy ``pis (n, Σ_i J_i)`` at ``phi (n, J, d)``, finite?

    Algorithm 1, lines 7–20, math.md §9: ``Q_m = min(w_mᵀφ + (u + β‖φ‖_{Λ^{-1}}), H)``, then
    from the last player down ``π_i = softmax(α_i W^{(i+1)}_i)``,
    ``W^{(i)}_m = Σ_{a_i} π_i W^{(i+1)}_m`` (``W^{(P)} = Q``). Player ``i``'s policy (row-major
    over ``(a_0, …, a_i)``) starts at column ``J_0 + … + J_{i-1}`` of ``pis``,
    ``J_i = |A_0|⋯|A_i|``.
    """
    params = Parameters(*params)
    counts = params.action_counts
    n, n_joint, d = phi.shape
    n_players = w.shape[0]
    n_columns = 0
    width = 1
    for i in range(n_players):
        width *= counts[i]
        n_columns += width
    Q = np.empty((n, n_players, n_joint))
    pis = np.empty((n, n_columns))
    nodes = np.empty((2, n_players * (n_joint // counts[n_players - 1])))  # W^{(i)}, in turn
    Lambda_inv_phi = np.empty(d)
    finite = True
    for s in range(n):
        for v in range(n_joint):
            x = phi[s, v]
            for i in range(d):
                Lambda_inv_phi[i] = 0.0
            for j in range(d):  # Λ^{-1} is symmetric: by its rows
                for i in range(d):
                    Lambda_inv_phi[i] += Lambda_inv[h, j, i] * x[j]
            form = 0.0
            for i in range(d):
                form += x[i] * Lambda_inv_phi[i]
            bonus = params.beta * math.sqrt(max(form, 0.0))
            reward = 0.0  # or, exploring, u = min(β‖φ‖_{Λ^{-1}}, H)/H (math.md §7)
            if params.bonus_reward:
                reward = min(bonus, params.horizon) / params.horizon
            for m in range(n_players):
                linear = 0.0  # w_mᵀφ
                for i in range(d):
                    linear += w[m, h, i] * x[i]
                Q[s, m, v] = min(linear + (reward + bonus), params.horizon)
                finite &= math.isfinite(Q[s, m, v])
        W = Q[s]
        width, start = n_joint, n_columns
        for i in range(n_players - 1, -1, -1):  # player i at each (a_0, …, a_{i-1})
            n_own = counts[i]
            width //= n_own
            start -= width * n_own
            below = nodes[i % 2, : n_players * width].reshape(n_players, width)
            for prefix in range(width):
                at = prefix * n_own
                pi = pis[s, start + at : start + at + n_own]
                _softmax_into(W[i, at : at + n_own], params.alphas[i], pi)
                for m in range(n_players):
                    total = 0.0
                    for a in range(n_own):
                        total += pi[a] * W[m, at + a]
                    below[m, prefix] = total
                for a in range(n_own):
                    finite &= math.isfinite(pi[a])
            W = below
    return Q, pis, finite


@njit(**EXACT_JIT)
def policies_by_step(phi, w, Lambda_inv, params):  # pragma: no cover - compiled
    """:func:`policies` at every step ``h``: pis ``(H, n, Σ_i J_i)`` and whether all are finite."""
    n_columns, width = 0, 1
    for count in Parameters(*params).action_counts:
        width *= count
        n_columns += width
    out = np.empty((w.shape[1], phi.shape[0], n_columns))
    finite = True
    for h in range(w.shape[1]):
        _, pis, ok = policies(phi, w, Lambda_inv, h, params)
        for s in range(pis.shape[0]):
            for c in range(pis.shape[1]):
                out[h, s, c] = pis[s, c]
        finite &= ok
    return out, finite


# ---------------------------------------------------------------------- soft-max across samples
@njit(**INNER)
def _softmax_mix(values, chooser, alpha, n_columns, out, stats):  # pragma: no cover - compiled
    """``out[m, i] = Σ_r p_r values[m, r, i]``, ``p = softmax(α values[chooser, :, i])`` (§9).

    For the first ``n_columns`` columns of ``values (P, rows, columns)``; ``stats (5, ·)``
    scratch. The chooser's and one partner's sums are made with each weight, any further
    player's from the stored weights.
    """
    n_players = values.shape[0]
    partner = 1 if chooser == 0 else 0
    own, other = values[chooser], values[partner]
    largest, norm, mean_own, mean_other, weight = stats[0], stats[1], stats[2], stats[3], stats[4]
    for i in range(n_columns):
        largest[i] = own[0, i]
        norm[i] = 0.0
        mean_own[i] = 0.0
        mean_other[i] = 0.0
    for m in range(n_players):
        if m != chooser and m != partner:
            for i in range(n_columns):
                out[m, i] = 0.0
    for r in range(1, own.shape[0]):
        for i in range(n_columns):
            largest[i] = own[r, i] if own[r, i] > largest[i] else largest[i]
    for r in range(own.shape[0]):
        if math.isinf(alpha):
            for i in range(n_columns):
                e = 1.0 if own[r, i] == largest[i] else 0.0
                norm[i] += e
                mean_own[i] += e * own[r, i]
                mean_other[i] += e * other[r, i]
                weight[i] = e
        else:
            for i in range(n_columns):
                e = math.exp(alpha * (own[r, i] - largest[i]))
                norm[i] += e
                mean_own[i] += e * own[r, i]
                mean_other[i] += e * other[r, i]
                weight[i] = e
        for m in range(n_players):
            if m != chooser and m != partner:
                for i in range(n_columns):
                    out[m, i] += weight[i] * values[m, r, i]
    out_own, out_other = out[chooser], out[partner]
    for i in range(n_columns):
        inverse = 1.0 / norm[i]
        out_own[i] = mean_own[i] * inverse
        out_other[i] = mean_other[i] * inverse
        for m in range(n_players):
            if m != chooser and m != partner:
                out[m, i] *= inverse


# ---------------------------------------------------------------------- products and forms
@njit(**INNER)
def _products(psi, t, coef, out, i):  # pragma: no cover - compiled
    """``out[k, i, v] = coef[k] · ψ_t[:, v]`` for every joint action ``v`` of row ``t``."""
    d, n_pairs = psi.shape[1], psi.shape[2]
    if n_pairs >= ACROSS_PAIRS:  # the innermost loop over the joint actions vectorises
        for k in range(COEFFICIENTS):
            for v in range(n_pairs):
                out[k, i, v] = 0.0
        for j in range(d):
            for k in range(COEFFICIENTS):
                c = coef[k, j]
                for v in range(n_pairs):
                    out[k, i, v] += c * psi[t, j, v]
        return
    for v in range(n_pairs):
        for k in range(COEFFICIENTS):
            acc = 0.0
            for j in range(d):
                acc += coef[k, j] * psi[t, j, v]
            out[k, i, v] = acc


@njit(**INNER)
def _exact_forms(psi, t, Lambda_inv, scratch, forms):  # pragma: no cover - compiled
    """``forms[v] = ψ_vᵀ Λ^{-1} ψ_v`` for every pair of row ``t`` of ``psi``; ``scratch (J, d)``."""
    d, n_pairs = psi.shape[1], psi.shape[2]
    for v in range(n_pairs):
        for r in range(d):
            scratch[v, r] = 0.0
    for j in range(d):
        for v in range(n_pairs):
            x = psi[t, j, v]
            for r in range(d):
                scratch[v, r] += x * Lambda_inv[j, r]
    for v in range(n_pairs):
        acc = 0.0
        for r in range(d):
            acc += psi[t, r, v] * scratch[v, r]
        forms[v] = acc


@njit(**INNER)
def _downdate_further(psi, t, updates, forms):  # pragma: no cover - compiled
    """``forms[v] −= Σ_{r ≥ 1} (U_r·ψ_v)²``: the rows past the first of ``updates (m, d)``."""
    d, n_pairs = psi.shape[1], psi.shape[2]
    for r in range(1, updates.shape[0]):
        for v in range(n_pairs):
            acc = 0.0
            for j in range(d):
                acc += updates[r, j] * psi[t, j, v]
            forms[v] -= acc * acc


# ---------------------------------------------------------------------- the plan
@njit(**JIT, inline="always")
def next_state_values(step, w_next, params, mode, V):  # pragma: no cover - compiled
    """Soft-max values ``V (n, P)`` at the next states of one step (:data:`NextStates`), one pass.

    Per next state ``w_mᵀψ``, the form ``ψᵀΛ'^{-1}ψ = ψᵀΛ^{-1}ψ − Σ_r (U_r·ψ)²`` (or exact, by
    ``mode``), the bonus and ``Q``; per block the soft-max chain. ``step``: :data:`NextStates`
    (forms updated in place), :data:`Parameters`, plain tuples; ``w_next (P, d)``. Returns the
    drift in ``MODE_MEASURE``, else 0.
    """
    step, params = NextStates(*step), Parameters(*params)
    psi, rows, updates = step.features, step.rows, step.updates
    cached = step.forms.reshape(step.forms.size)  # next state t's pairs at t·J + v
    d, n_pairs = psi.shape[1], psi.shape[2]
    n_players = w_next.shape[0]
    counts = params.action_counts
    # w_{h+1} of each player, then U_0; zero rows up to whole passes of the products.
    coef = np.zeros((-(-(n_players + 1) // COEFFICIENTS) * COEFFICIENTS, d))
    for j in range(d):
        for m in range(n_players):
            coef[m, j] = w_next[m, j]
        if updates.shape[0] >= 1:
            coef[n_players, j] = updates[0, j]
    # A block's products, next-state-major (entry i·J + v).
    products = np.empty((coef.shape[0], BLOCK * n_pairs))
    by_sample = products.reshape(coef.shape[0], BLOCK, n_pairs)
    Q_flat = np.empty((n_players, BLOCK * n_pairs))
    exact = np.empty(n_pairs)
    scratch = np.empty((n_pairs, d))
    # Joint action v = (a_0, …, a_N) row-major goes to row (a_N, …, a_0) row-major of Q.
    reversed_row = np.zeros(n_pairs, dtype=np.int64)
    for v in range(n_pairs):
        rest, place = v, n_pairs
        for i in range(n_players - 1, -1, -1):
            place //= counts[i]
            reversed_row[v] += (rest % counts[i]) * place
            rest //= counts[i]
    Q = np.zeros((n_players, n_pairs, BLOCK))  # Q_m(x', a) in reversed_row[a], samples along
    below_last = n_pairs // counts[n_players - 1] * BLOCK  # (a_0, …, a_{N-1}, sample)
    nodes = np.empty((2, n_players * below_last))
    values = np.empty((n_players, BLOCK))
    stats = np.empty((5, below_last))
    drift = 0.0
    for start in range(0, step.n, BLOCK):
        n_block = min(BLOCK, step.n - start)
        n_old = 0 if mode == MODE_EXACT else min(max(step.n_current - start, 0), n_block)
        for g in range(0, coef.shape[0], COEFFICIENTS):  # three rows of coefficients a pass
            group, group_out = coef[g : g + COEFFICIENTS], by_sample[g : g + COEFFICIENTS]
            for i in range(n_block):
                _products(psi, rows[start + i], group, group_out, i)
        # ψᵀΛ'^{-1}ψ = ψᵀΛ^{-1}ψ − (U_0·ψ)² − Σ_{r≥1} (U_r·ψ)² for the next states already cached,
        # then the bonus β‖ψ‖_{Λ'^{-1}} where U_0·ψ was; one pass with at most one new row.
        forms = cached[start * n_pairs : (start + n_block) * n_pairs]
        bonuses = products[n_players]
        n_one_pass = n_old if updates.shape[0] <= 1 and mode == MODE_DOWNDATE else 0
        for k in range(n_one_pass * n_pairs):
            form = forms[k] - bonuses[k] * bonuses[k]
            forms[k] = form
            bonuses[k] = params.beta * math.sqrt(max(form, 0.0))
        if n_one_pass < n_block:
            for k in range(n_one_pass * n_pairs, n_old * n_pairs):
                forms[k] -= bonuses[k] * bonuses[k]
            for i in range(n_one_pass, n_block):
                row = forms[i * n_pairs : (i + 1) * n_pairs]
                if i < n_old:
                    _downdate_further(psi, rows[start + i], updates, row)
                if i >= n_old or mode == MODE_MEASURE:
                    _exact_forms(psi, rows[start + i], step.inverse, scratch, exact)
                    for v in range(n_pairs):
                        if i < n_old:
                            drift = max(drift, abs(exact[v] - row[v]))
                        row[v] = exact[v]
            for k in range(n_one_pass * n_pairs, n_block * n_pairs):
                bonuses[k] = params.beta * math.sqrt(max(forms[k], 0.0))
        if params.bonus_reward:  # reward-free exploration: u = min(β‖ψ‖, H)/H on top
            for k in range(n_block * n_pairs):
                bonuses[k] += min(bonuses[k], params.horizon) / params.horizon
        for m in range(n_players):  # Q_m = min(w_mᵀψ + (u + β‖ψ‖), H)
            for k in range(n_block * n_pairs):
                Q_flat[m, k] = min(products[m, k] + bonuses[k], params.horizon)
        for m in range(n_players):
            for v in range(n_pairs):
                for i in range(n_block):
                    Q[m, reversed_row[v], i] = Q_flat[m, i * n_pairs + v]
        # The soft-max chain (lines 9–14) from the last player down, the leader's into values:
        # player i's at every (a_0, …, a_{i-1}, sample) at once, Q's a_N running slowest.
        W, width = Q.reshape(n_players, n_pairs * BLOCK), n_pairs * BLOCK
        for i in range(n_players - 1, -1, -1):
            width //= counts[i]
            below = values if i == 0 else nodes[i % 2, : n_players * width].reshape(-1, width)
            n_out = n_block if i == 0 else width
            _softmax_mix(W.reshape(n_players, -1, width), i, params.alphas[i], n_out, below, stats)
            W = below
        for i in range(n_block):
            for m in range(n_players):
                V[start + i, m] = values[m, i]
    return drift


@njit(**JIT)
def _sherman_morrison(inverse, new_rows, updates):  # pragma: no cover - compiled
    """``Λ^{-1}`` updated in place by each row ``φ`` of ``new_rows (m, d)``, with the old inverse.

    (math.md §5) ``u = Λ^{-1}φ``, ``c = 1 + φᵀu``, ``U_r = u/√c``, ``Λ^{-1} ← Λ^{-1} − U_rU_rᵀ``, so
    that ``ψᵀΛ'^{-1}ψ = ψᵀΛ^{-1}ψ − Σ_r (U_r·ψ)²``; ``updates (m, d)`` out. Returns ``Σ_r log c =
    log det Λ' − log det Λ`` (the matrix determinant lemma).
    """
    m, d = new_rows.shape
    u = np.empty(d)
    growth = 0.0
    for r in range(m):
        phi = new_rows[r]
        c = 1.0
        for i in range(d):
            acc = 0.0
            for j in range(d):
                acc += inverse[i, j] * phi[j]
            u[i] = acc
            c += phi[i] * acc
        growth += math.log(c)
        scale = 1.0 / math.sqrt(c)
        for i in range(d):
            updates[r, i] = u[i] * scale
        for i in range(d):
            for j in range(d):
                inverse[i, j] -= updates[r, i] * updates[r, j]
    return growth


@njit(**EXACT_INNER)
def add_outer(Lambda, h, f):  # pragma: no cover - compiled
    """``Λ_h += ffᵀ``, each product rounded before the sum: ``Λ`` is a function of the rows."""
    d = f.shape[0]
    for i in range(d):
        for j in range(d):
            Lambda[h, i, j] += f[i] * f[j]


@njit(**EXACT_JIT, inline="always")
def record_sample(data, h, f, rewards, next_row, f_next):  # pragma: no cover - compiled
    """Row ``counts[h]`` of :data:`Samples` ``data`` (a plain tuple) and ``Λ_h += ffᵀ`` (line 5).

    ``f (d,)`` the played features; ``next_row``: the next state's row of ``next_features``,
    where ``f_next (J, d)`` is written (a feature map's sample; ``(0, d)`` for a table's row).
    """
    data = Samples(*data)
    t = data.counts[h]
    for j in range(f.shape[0]):
        data.features[h, t, j] = f[j]
    for m in range(rewards.shape[0]):
        data.rewards[h, t, m] = rewards[m]
    if h < data.next_rows.shape[0]:
        data.next_rows[h, t] = next_row
        n_joint, d = f_next.shape
        for v in range(n_joint):
            for j in range(d):
                data.next_features[h, next_row, j, v] = f_next[v, j]
    add_outer(data.Lambda, h, f)
    data.counts[h] = t + 1


@njit(**EXACT_JIT)
def record_episodes(data, table, states, joint_actions, rewards):  # pragma: no cover - compiled
    """:func:`record_sample` of every step of whole episodes in order; ``table (S, J, d)``.

    ``states (n, H+1)``, ``joint_actions (n, H)``, ``rewards (n, H, P)``, checked, with room.
    """
    none = np.empty((0, table.shape[2]))
    for i in range(states.shape[0]):
        for h in range(joint_actions.shape[1]):
            f = table[states[i, h], joint_actions[i, h]]
            record_sample(data, h, f, rewards[i, h], states[i, h + 1], none)


@njit(**EXACT_JIT)
def add_rows(Lambda, phi, lo, hi):  # pragma: no cover - compiled
    """``Λ_h += Σ_{lo ≤ τ < hi} φ_h^τ φ_h^τᵀ`` for every ``h``, ``phi (K, H, d)``, in order."""
    for t in range(lo, hi):
        for h in range(phi.shape[1]):
            add_outer(Lambda, h, phi[t, h])


@njit(**EXACT_JIT)
def spd_inverses(Lambda, out):  # pragma: no cover - compiled
    """``out[h] = Λ_h^{-1}`` by Cholesky, a function of ``Λ_h`` alone (NaN if not definite).

    ``Λ = RᵀR``, ``M = R^{-ᵀ}`` by forward substitution, ``Λ^{-1} = MᵀM`` (exactly symmetric).
    """
    H, d = Lambda.shape[0], Lambda.shape[1]
    R = np.empty((d, d))
    M = np.empty((d, d))
    for h in range(H):
        for i in range(d):
            for j in range(d):
                R[i, j] = Lambda[h, i, j]
        for k in range(d):  # row k of R, then the trailing block less its outer product
            root = math.sqrt(R[k, k]) if R[k, k] > 0.0 else math.nan
            R[k, k] = root
            for j in range(k + 1, d):
                R[k, j] = R[k, j] / root
            for i in range(k + 1, d):
                for j in range(i, d):
                    R[i, j] -= R[k, i] * R[k, j]
        for i in range(d):  # M = (Rᵀ)^{-1}, lower triangular, row by row
            for j in range(d):
                M[i, j] = 1.0 if i == j else 0.0
            for k in range(i):
                for j in range(k + 1):
                    M[i, j] -= R[k, i] * M[k, j]
            for j in range(i + 1):
                M[i, j] = M[i, j] / R[i, i]
        for i in range(d):
            for j in range(d):
                out[h, i, j] = 0.0
        for k in range(d):  # Λ^{-1} = Σ_k M[k]ᵀ M[k]; M[k, j] = 0 for j > k
            for i in range(k + 1):
                for j in range(k + 1):
                    out[h, i, j] += M[k, i] * M[k, j]


@njit(**EXACT_INNER)
def _add_samples(data, cache, h):  # pragma: no cover - compiled
    """Add step ``h``'s samples since ``n_summed[h]`` to the sums, with a table by place.

    In order, so that sums made over several plans or at once are the same to the bit. A next
    state first seen takes the next place; its form is made exactly at the plan, as a new
    sample's was.
    """
    d, n_players = data.features.shape[2], data.rewards.shape[2]
    table = cache.place_of.shape[1] > 0
    for t in range(cache.n_summed[h], data.counts[h]):
        for j in range(d):
            for m in range(n_players):
                cache.reward_sums[h, j, m] += data.features[h, t, j] * data.rewards[h, t, m]
        if table and h < data.next_rows.shape[0]:
            x = data.next_rows[h, t]
            place = cache.place_of[h, x]
            if place < 0:
                place = cache.n_places[h]
                cache.place_of[h, x] = place
                cache.place_states[h, place] = x
                cache.n_places[h] = place + 1
            for j in range(d):
                cache.place_sums[h, place, j] += data.features[h, t, j]
    cache.n_summed[h] = data.counts[h]


@njit(**EXACT_JIT)
def add_samples(data, cache):  # pragma: no cover - compiled
    """:func:`_add_samples` at every step, from plain tuples (a restored learner's sums)."""
    data, cache = Samples(*data), PlanCache(*cache)
    for h in range(data.features.shape[0]):
        _add_samples(data, cache, h)


@njit(**JIT)
def backward_pass(data, cache, params, how, w, drift):  # pragma: no cover - compiled
    """Algorithm 1, lines 4–14, from the last step: ``Λ^{-1}`` and ``w (P, H, d)`` in place.

    At each ``h``: ``Λ_h^{-1}`` brought up to date, ``y = r + V_{h+1}(x_{h+1})``, ``w_h =
    Λ_h^{-1} Φ_hᵀ y``. :data:`Samples`, :data:`PlanCache` (updated) and :data:`Parameters` as
    plain tuples; ``how`` of :data:`UPDATE`…; ``drift (H,)`` out (NaN where not measured).
    """
    data, cache = Samples(*data), PlanCache(*cache)
    n_steps, d = data.features.shape[0], data.features.shape[2]
    n_players = w.shape[0]
    updates_next = np.zeros((0, d))  # step h+1's Sherman–Morrison vectors
    exact_next = True  # whether step h+1's forms must be made exactly
    for h in range(n_steps - 1, -1, -1):
        n = data.counts[h]
        # Λ_h^{-1} by rank-one updates with the old inverse, or afresh: when that is cheaper
        # (updating costs O(m) per cached form, recomputing O(d)), when refreshing, or when
        # det Λ_h has grown past LOG_MAX_GROWTH since the last exact inverse.
        new_rows = n - cache.n_inverse[h]
        exact = how == RECOMPUTE or 2 * new_rows >= d
        updates = np.zeros((0 if exact else new_rows, d))
        if not exact:
            cache.growth[h] += _sherman_morrison(
                cache.inverse[h], data.features[h, cache.n_inverse[h] : n], updates
            )
            exact = cache.growth[h] > LOG_MAX_GROWTH
        if how != UPDATE or exact:
            inverse = np.linalg.inv(data.Lambda[h])
            for i in range(d):
                for j in range(d):
                    cache.inverse[h, i, j] = inverse[i, j]
            cache.growth[h] = 0.0
        cache.n_inverse[h] = n
        _add_samples(data, cache, h)
        regressand = np.zeros((n_players, d))  # Φ_hᵀ y, y = r + V_{h+1}(x')
        for m in range(n_players):
            for j in range(d):
                regressand[m, j] = cache.reward_sums[h, j, m]
        drift[h] = np.nan
        if h < n_steps - 1 and n > 0:
            if exact_next or cache.n_forms[h] == 0:
                mode = MODE_EXACT
            else:
                mode = MODE_MEASURE if how == REFRESH else MODE_DOWNDATE
            # One table's rows shared by every step, V once per distinct next state; or each
            # sample its own next state.
            psi = data.next_features[min(h, data.next_features.shape[0] - 1)]
            table = cache.place_of.shape[1] > 0
            rows, n_next = data.next_rows[h], n
            if table:
                rows, n_next = cache.place_states[h], cache.n_places[h]
            step = (psi, rows, cache.forms[h], n_next, cache.n_forms[h], updates_next,
                    cache.inverse[h + 1])  # fmt: skip
            V = np.empty((n_next, n_players))
            measured = next_state_values(step, w[:, h + 1].copy(), params, mode, V)
            if mode == MODE_MEASURE:
                drift[h] = measured
            cache.n_forms[h] = n_next
            # Σ_τ φ_h^τ V(x'_τ): by place, from the sums of the samples that reached it; or by
            # sample.
            weights = cache.place_sums[h] if table else data.features[h]
            for s in range(n_next):
                for m in range(n_players):
                    for j in range(d):
                        regressand[m, j] += weights[s, j] * V[s, m]
        for m in range(n_players):  # w_{m,h} = Λ_h^{-1} Φ_hᵀ y_m
            for i in range(d):
                acc = 0.0
                for j in range(d):
                    acc += cache.inverse[h, i, j] * regressand[m, j]
                w[m, h, i] = acc
        updates_next = updates
        exact_next = exact
