"""Exact planning on a known finite game (math.md §2): values, best responses, Stackelberg, regret.

Also soft-max play on the true model (:func:`softmax_solution`; the soft-max of math.md §3 is
:func:`softmax`, which the learners use too) and its regret, the soft-max bias of Lemma 2
(:func:`softmax_bias`, :func:`softmax_bias_bound`).

Also the one-shot commitment values of a bimatrix game (math.md §2): :func:`mixed_commitment`, the
leader committing to a mixed strategy that the follower observes, and :func:`pure_commitment`,
the follower observing the leader's action.

Every function is one backward pass over ``h = H-1 … 0`` and vectorised over states and actions:
the cost is ``O(H·S·A·B·d)`` for a factored game and ``O(H·S²·A·B)`` for a dense one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from .games.base import FiniteGame, _check_distribution, _check_shape
from .games.matrix import matrix_game, payoff_matrices


@dataclass(frozen=True)
class Values:
    """Values of a pair of policies in a finite game.

    Attributes:
        Q: ``(2, H, S, A, B)`` action values ``Q_{m,h}(x, a, b)``.
        q_l: ``(H, S, A)`` the leader's marginal ``q_{l,h}(x, a)``, eq. (1).
        vbar_f: ``(H, S, A)`` the follower's ``V̄_{f,h}(x, a)``, eq. (3).
        V: ``(2, H, S)`` state values ``V_{m,h}(x)``, eqs. (2) and (4).
    """

    Q: np.ndarray
    q_l: np.ndarray
    vbar_f: np.ndarray
    V: np.ndarray


# A choice rule is greedy play: it maps (h, Q_h (2, S, A, B)) to the follower's action b*(x, a)
# as an integer array (S, A), and (h, q_{l,h} (S, A)) to the leader's action a*(x) (S,).
FollowerRule = Callable[[int, np.ndarray], np.ndarray]
LeaderRule = Callable[[int, np.ndarray], np.ndarray]


def _backward(
    game: FiniteGame,
    follower: np.ndarray | FollowerRule,
    leader: np.ndarray | LeaderRule,
) -> tuple[np.ndarray, np.ndarray, Values]:
    """Backward induction with ``V_{m,H} = 0`` (math.md §2).

    Args:
        game: the game.
        follower: a fixed ``pi_f (H, S, A, B)``, or a rule choosing ``b*(x, a)`` step by step.
        leader: a fixed ``pi_l (H, S, A)``, or a rule choosing ``a*(x)`` step by step from
            ``q_l``.

    Returns:
        ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)`` (one-hot where chosen by a rule) and their
        values.
    """
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    Q = np.empty((2, H, S, A, B))
    q = np.empty((2, H, S, A))  # q_l and vbar_f: one array so one einsum fills both
    V = np.empty((2, H, S))
    # np.zeros of a large array costs nothing until written: only the chosen entries are set.
    pi_f = np.zeros((H, S, A, B)) if callable(follower) else follower
    pi_l = np.zeros((H, S, A)) if callable(leader) else leader
    for h in range(H - 1, -1, -1):
        Qh = game.action_values(h, V[:, h + 1] if h < H - 1 else None, out=Q[:, h])
        # A rule's choice becomes a one-hot row, written straight into the zeroed array; the
        # marginals below then treat chosen and given policies alike (einsum over a one-hot row
        # is exact, and faster here than gathering the chosen entries).
        if callable(follower):
            np.put_along_axis(pi_f[h], follower(h, Qh)[..., None], 1.0, axis=-1)
        np.einsum("msab,sab->msa", Qh, pi_f[h], out=q[:, h])
        if callable(leader):
            np.put_along_axis(pi_l[h], leader(h, q[0, h])[..., None], 1.0, axis=-1)
        np.einsum("msa,sa->ms", q[:, h], pi_l[h], out=V[:, h])
    return pi_l, pi_f, Values(Q=Q, q_l=q[0], vbar_f=q[1], V=V)


def check_policies(game: FiniteGame, pi_l: np.ndarray | None, pi_f: np.ndarray | None) -> None:
    """Raise :class:`ValueError` unless the policies have the game's shapes and are distributions.

    Args:
        game: the game.
        pi_l: ``(H, S, A)`` or ``None`` to skip.
        pi_f: ``(H, S, A, B)`` or ``None`` to skip.
    """
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    for name, pi, shape, axis_names in [
        ("pi_l", pi_l, (H, S, A), ("h", "x", "a")),
        ("pi_f", pi_f, (H, S, A, B), ("h", "x", "a", "b")),
    ]:
        if pi is None:
            continue
        pi = np.asarray(pi)
        _check_shape(name, pi, shape, axis_names)
        _check_distribution(name, pi, f"({', '.join(axis_names[:-1])})")


def evaluate(game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray) -> Values:
    """Exact values of the policies ``pi_l (H, S, A)`` and ``pi_f (H, S, A, B)``.

    >>> from stackelberg_rl.games import random_linear
    >>> g = random_linear(4, 2, 2, 3, 2, seed=1)
    >>> pi_l, pi_f = np.full((2, 4, 2), 0.5), np.full((2, 4, 2, 2), 0.5)
    >>> evaluate(g, pi_l, pi_f).V.shape
    (2, 2, 4)
    """
    pi_l, pi_f = np.asarray(pi_l, dtype=np.float64), np.asarray(pi_f, dtype=np.float64)
    check_policies(game, pi_l, pi_f)
    _, _, values = _backward(game, pi_f, pi_l)
    return values


def leader_best_response(game: FiniteGame, pi_f: np.ndarray) -> tuple[np.ndarray, Values]:
    """The leader's best response to ``pi_f``: greedy in ``q_l`` at every step, eq. (8).

    Returns:
        A deterministic ``pi_l (H, S, A)`` (first maximiser on ties) and its values.
    """
    pi_f = np.asarray(pi_f, dtype=np.float64)
    check_policies(game, None, pi_f)
    pi_l, _, values = _backward(game, pi_f, lambda h, q_l: q_l.argmax(axis=-1))
    return pi_l, values


def follower_best_response(
    game: FiniteGame,
    pi_l: np.ndarray,
    tie_break: Literal["leader", "follower"] | None = None,
    tol: float = 1e-9,
) -> tuple[np.ndarray, Values]:
    """The follower's best response to ``pi_l``: greedy in ``Q_f`` for every ``a``, eq. (7).

    Every best response has the follower's value; they differ in the leader's. With
    ``tie_break`` the follower picks, among its maximisers within ``tol`` at each ``(h, x, a)``,
    the one best (``"leader"``) or worst (``"follower"``) for the leader, whose ``Q_l`` already
    follows those picks at later steps: backward induction then gives the best or the worst
    leader value over all the follower's best responses, at every state (the follower's value,
    hence its maximisers, does not depend on how ties are broken).

    Args:
        game: the game.
        pi_l: ``(H, S, A)`` the leader's policy.
        tie_break: ``None`` (the first maximiser), ``"leader"`` or ``"follower"``.
        tol: how far below the maximum an action still counts as a maximiser, with a
            ``tie_break``.

    Returns:
        A deterministic ``pi_f (H, S, A, B)`` and its values.
    """
    pi_l = np.asarray(pi_l, dtype=np.float64)
    check_policies(game, pi_l, None)
    if tie_break is None:
        _, pi_f, values = _backward(game, lambda h, Qh: Qh[1].argmax(axis=-1), pi_l)
        return pi_f, values
    _check_tie_break(tie_break, tol)
    _, pi_f, values = _backward(
        game, lambda h, Qh: follower_choice(Qh[0], Qh[1], tie_break, tol), pi_l
    )
    return pi_f, values


def _check_tie_break(tie_break: str, tol: float) -> None:
    if tie_break not in ("leader", "follower"):
        raise ValueError(f"tie_break must be 'leader' or 'follower', got {tie_break!r}")
    # NaN would make no action a maximiser (argmax then picks the leader's favourite b whatever
    # Q_f says); a negative tol excludes the true maximiser.
    if not (isinstance(tol, int | float) and math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")


def stackelberg_equilibrium(
    game: FiniteGame,
    tie_break: Literal["leader", "follower"] = "leader",
    tol: float = 1e-9,
) -> tuple[np.ndarray, np.ndarray, Values]:
    """The subgame-perfect Stackelberg solution by backward induction (math.md §2).

    At each ``(h, x)`` the follower best-responds to every ``a``; among its maximisers (within
    ``tol``) it picks the one best for the leader (``"leader"``, strong Stackelberg) or worst for
    the leader (``"follower"``, weak); the leader then picks ``argmax_a Q_l(x, a, b*(x, a))``.

    Returns:
        Deterministic ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)`` and their values.
    """
    _check_tie_break(tie_break, tol)

    def follower_rule(h: int, Qh: np.ndarray) -> np.ndarray:
        return follower_choice(Qh[0], Qh[1], tie_break, tol)

    pi_l, pi_f, values = _backward(game, follower_rule, lambda h, q_l: q_l.argmax(axis=-1))
    return pi_l, pi_f, values


def follower_choice(
    Q_l: np.ndarray, Q_f: np.ndarray, tie_break: Literal["leader", "follower"], tol: float
) -> np.ndarray:
    """The follower's Stackelberg answer ``b*(x, a)`` to every leader action (math.md §2).

    Among the maximisers of ``Q_f`` within ``tol``, the best for the leader (``"leader"``,
    strong Stackelberg) or the worst (``"follower"``, weak); the first on exact ties.

    Args:
        Q_l: ``(..., A, B)`` the leader's action values.
        Q_f: ``(..., A, B)`` the follower's.
        tie_break: ``"leader"`` or ``"follower"``.
        tol: how far below the maximum an action still counts as a maximiser, ``>= 0``.

    Returns:
        ``b* (..., A)``, integers.
    """
    sign = 1.0 if tie_break == "leader" else -1.0
    best = Q_f >= Q_f.max(axis=-1, keepdims=True) - tol
    return np.where(best, sign * Q_l, -np.inf).argmax(axis=-1)


def softmax(z: np.ndarray, alpha: float, axis: int = -1) -> np.ndarray:
    """``SOFT-MAX_alpha(z)`` of eq. (12) along ``axis``, computed stably.

    ``alpha = inf`` gives the limit: uniform over the maximisers (greedy play); ``alpha = 0``
    gives the uniform policy. The maximum is subtracted before exponentiating, so ``alpha`` of
    ``1e6`` and more is safe.

    >>> softmax(np.array([0.0, 1.0]), np.inf)
    array([0., 1.])
    """
    z = np.asarray(z, dtype=np.float64)
    zmax = z.max(axis=axis, keepdims=True)
    if np.isinf(alpha):
        e = (z == zmax).astype(np.float64)
    else:
        e = np.exp(alpha * (z - zmax))
    return e / e.sum(axis=axis, keepdims=True)


def soft_policies(
    Q: np.ndarray, alpha_l: float, alpha_f: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Soft-max follower then leader policies from joint values (Algorithm 1, lines 9–14).

    Args:
        Q: ``(..., 2, A, B)``.
        alpha_l: leader inverse temperature (``inf`` for greedy).
        alpha_f: follower inverse temperature (``inf`` for greedy).

    Returns:
        ``pi_l (..., A)``, ``pi_f (..., A, B)``, ``q_l (..., A)``, ``vbar_f (..., A)``,
        ``V (..., 2)``.
    """
    pi_f = softmax(Q[..., 1, :, :], alpha_f, axis=-1)
    q = np.einsum("...mab,...ab->...ma", Q, pi_f)
    pi_l = softmax(q[..., 0, :], alpha_l, axis=-1)
    V = np.einsum("...ma,...a->...m", q, pi_l)
    return pi_l, pi_f, q[..., 0, :], q[..., 1, :], V


def regret(
    game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray, x1: int, a1: int
) -> tuple[float, float]:
    """Both players' exact regret of one episode, eqs. (9) and (10) (math.md §2).

    Args:
        game: the game.
        pi_l: ``(H, S, A)`` the leader's policy in the episode.
        pi_f: ``(H, S, A, B)`` the follower's policy in the episode.
        x1: the realised initial state.
        a1: the leader's realised first action.

    Returns:
        ``(V_{l,0}^{BR_l(pi_f), pi_f}(x1) − V_{l,0}^{pi_l, pi_f}(x1),
        V̄_{f,0}^{pi_l, BR_f(pi_l)}(x1, a1) − V̄_{f,0}^{pi_l, pi_f}(x1, a1))``.
    """
    r = regrets(game, pi_l, pi_f, np.array([x1]), np.array([a1]))[:, 0]
    return float(r[0]), float(r[1])


def _max_last(z: np.ndarray) -> np.ndarray:
    """``z.max(axis=-1)``, exactly, by a loop over the short last axis of actions.

    Numpy's reduction over an axis of a few entries is about ten times slower.
    """
    m = z[..., 0].copy()
    for i in range(1, z.shape[-1]):
        np.maximum(m, z[..., i], out=m)
    return m


def regrets(
    game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray, x1: np.ndarray, a1: np.ndarray
) -> np.ndarray:
    """:func:`regret` at several ``(x1, a1)`` pairs: ``(2, n)``.

    The three backward passes (the pair's values, the leader's best response to ``pi_f``, the
    follower's best response to ``pi_l``) run together: at each step one backup of the four
    value rows involved reads the model once, and only one step's ``Q`` is held.

    Args:
        game: the game.
        pi_l: ``(H, S, A)`` the leader's policy in the episode.
        pi_f: ``(H, S, A, B)`` the follower's policy in the episode.
        x1: ``(n,)`` realised initial states.
        a1: ``(n,)`` the leader's realised first actions.

    Returns:
        ``(2, n)``: the leader's regrets, eq. (9), then the follower's, eq. (10).
    """
    pi_l, pi_f = np.asarray(pi_l, dtype=np.float64), np.asarray(pi_f, dtype=np.float64)
    check_policies(game, pi_l, pi_f)
    x1, a1 = np.asarray(x1), np.asarray(a1)
    for name, idx, n in [("x1", x1, game.n_states), ("a1", a1, game.n_leader_actions)]:
        if not np.issubdtype(idx.dtype, np.integer) or ((idx < 0) | (idx >= n)).any():
            raise ValueError(f"{name} must hold integers in [0, {n}), got {idx}")
    # V[0]: both players' values of the pair (pi_l, pi_f). V[1, 0]: the leader's value of its
    # best response to pi_f; V[1, 1]: the follower's value of its best response to pi_l. The
    # backup is per player, so the two best responses can share one row pair.
    S, A, B = game.n_states, game.n_leader_actions, game.n_follower_actions
    V = np.zeros((2, 2, S))
    Q = np.empty((2, 2, S, A, B))  # reused: a fresh large array per step costs page faults
    for h in range(game.horizon - 1, -1, -1):
        game.action_values(h, V, out=Q)
        q, vbar_best = regret_backup(Q, pi_l[h], pi_f[h], out=V)
    return regret_at(V, q, vbar_best, x1, a1)  # V, q, vbar_best of h = 0 after the loop


def regret_backup(
    Q: np.ndarray, pi_l: np.ndarray, pi_f: np.ndarray, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """One step of the three backward passes of :func:`regrets`, at ``S`` states.

    Rows of values: ``[0]`` both players' values of the pair ``(pi_l, pi_f)``; ``[1, 0]`` the
    leader's value of its best response to ``pi_f`` (eq. (8)); ``[1, 1]`` the follower's value
    of its best response to ``pi_l`` (eq. (7)).

    Args:
        Q: ``(2, 2, S, A, B)`` the action values of this step for each row of values:
            ``Q[v, m] = r_m + P V_{v, m}`` with the next step's values of row ``v``.
        pi_l: ``(S, A)`` the leader's policy at this step.
        pi_f: ``(S, A, B)`` the follower's.
        out: ``(2, 2, S)`` where to write this step's values (may be the array ``Q`` was made
            from: it is read before this is called).

    Returns:
        ``q (2, S, A)`` the pair's ``q_l`` and ``vbar_f`` (eqs. (1), (3)) and ``vbar_best
        (S, A)``, the follower's ``max_b Q_f`` under its best response; ``out`` holds ``V``.
    """
    if out is None:
        out = np.empty(Q.shape[:3])
    q = np.einsum("msab,sab->msa", Q[0], pi_f)  # q_l and vbar_f of the pair
    np.einsum("msa,sa->ms", q, pi_l, out=out[0])
    out[1, 0] = _max_last(np.einsum("sab,sab->sa", Q[1, 0], pi_f))  # eq. (8)
    vbar_best = _max_last(Q[1, 1])  # max_b Q_f: the follower's best response, eq. (7)
    np.einsum("sa,sa->s", vbar_best, pi_l, out=out[1, 1])
    return q, vbar_best


def regret_at(
    V: np.ndarray, q: np.ndarray, vbar_best: np.ndarray, x1: np.ndarray, a1: np.ndarray
) -> np.ndarray:
    """Eqs. (9) and (10) from the values of step 0 that :func:`regret_backup` returns.

    Args:
        V: ``(2, 2, S)`` values of step 0.
        q: ``(2, S, A)``.
        vbar_best: ``(S, A)``.
        x1: ``(n,)`` state indices.
        a1: ``(n,)`` the leader's first actions.

    Returns:
        ``(2, n)``: the leader's regrets, then the follower's.
    """
    leader = V[1, 0, x1] - V[0, 0, x1]
    follower = vbar_best[x1, a1] - q[1, x1, a1]
    return np.stack([leader, follower])


def softmax_solution(
    game: FiniteGame, alpha_l: float, alpha_f: float
) -> tuple[np.ndarray, np.ndarray, Values]:
    """Soft-max play planned on the true model: Algorithm 1, lines 9–14, with exact ``Q``.

    Backward induction as in math.md §2 with ``V_{m,H} = 0``: at each step the exact
    ``Q_{m,h} = r_{m,h} + P_h V_{m,h+1}`` (no bonus, ``β = 0``), the follower's
    ``π_f = softmax(α_f Q_f)``, the leader's ``π_l = softmax(α_l q_l)`` (:func:`soft_policies`),
    and ``V`` of that pair. What the learner would play if it knew the model.

    Args:
        game: the game.
        alpha_l: the leader's inverse temperature (``inf``: greedy, uniform over maximisers).
        alpha_f: the follower's.

    Returns:
        ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)`` and their values.
    """
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    pi_l, pi_f = np.empty((H, S, A)), np.empty((H, S, A, B))
    Q, q, V = np.empty((2, H, S, A, B)), np.empty((2, H, S, A)), np.empty((2, H, S))
    for h in range(H - 1, -1, -1):
        game.action_values(h, V[:, h + 1] if h < H - 1 else None, out=Q[:, h])
        pl, pf, q_l, vbar_f, v = soft_policies(np.moveaxis(Q[:, h], 0, -3), alpha_l, alpha_f)
        pi_l[h], pi_f[h], q[0, h], q[1, h], V[:, h] = pl, pf, q_l, vbar_f, v.T
    return pi_l, pi_f, Values(Q=Q, q_l=q[0], vbar_f=q[1], V=V)


def softmax_bias(game: FiniteGame, alpha_l: float, alpha_f: float) -> np.ndarray:
    """The soft-max bias ``(2,)``: the expected regret of one episode of :func:`softmax_solution`.

    Eqs. (9) and (10) of the soft-max policies planned on the true model, in expectation over the
    episode's start: ``x_1`` from the initial distribution and, for the follower, the leader's
    first action ``a_1 ~ π_{l,0}(·|x_1)``. It is what soft-max play with these ``α`` loses even
    with nothing left to learn; Lemmas 2 and 4 bound it (:func:`softmax_bias_bound`).

    Args:
        game: the game.
        alpha_l: the leader's inverse temperature.
        alpha_f: the follower's.

    Returns:
        ``[leader, follower]``, each ``>= 0`` (up to round-off).
    """
    pi_l, pi_f, _ = softmax_solution(game, alpha_l, alpha_f)
    S, A = game.n_states, game.n_leader_actions
    xs, as_ = np.indices((S, A)).reshape(2, -1)
    r = regrets(game, pi_l, pi_f, xs, as_).reshape(2, S, A)
    p0 = game.initial_distribution
    leader = p0 @ r[0, :, 0]  # eq. (9) does not depend on a_1
    follower = p0 @ (pi_l[0] * r[1]).sum(axis=1)
    return np.array([leader, follower])


def softmax_bias_bound(game: FiniteGame, alpha_l: float, alpha_f: float) -> np.ndarray:
    """Lemmas 2 and 4's bound on the soft-max bias of one episode: ``(2,)``.

    ``[H·log|A|/α_l, H·log|B|/α_f]``: a soft-max over ``n`` actions gives up at most ``log(n)/α``
    of the best value at each step (its entropy over ``α``), so ``KH·log|A|/α_l`` over ``K``
    episodes (eq. (13)). ``0`` for greedy play (``α = ∞``) and for a player with one action.
    """
    out = []
    for n, alpha in ((game.n_leader_actions, alpha_l), (game.n_follower_actions, alpha_f)):
        alpha = float(alpha)
        if math.isnan(alpha) or alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha!r}")
        if n == 1 or math.isinf(alpha):
            out.append(0.0)
        else:
            out.append(math.inf if alpha == 0 else game.horizon * math.log(n) / alpha)
    return np.array(out)


def mixed_commitment(
    leader_payoffs: np.ndarray, follower_payoffs: np.ndarray, tol: float = 1e-9
) -> tuple[np.ndarray, int, float]:
    """The leader's optimal mixed strategy to commit to in a one-shot bimatrix game.

    The classic model of Stackelberg security games: the leader commits to a mix ``x`` over its
    actions, the follower sees ``x`` (not the action drawn) and best-responds, breaking ties in
    the leader's favour (strong Stackelberg equilibrium). Conitzer & Sandholm (2006, "Computing
    the optimal strategy to commit to", EC'06, §5) solve one linear program per follower action
    ``b``: maximise ``Σ_a x_a L[a, b]`` over the simplex subject to ``b`` being a best response,
    ``Σ_a x_a F[a, b] >= Σ_a x_a F[a, b']`` for every ``b'``; the best feasible ``b`` wins. Each
    LP is solved by HiGHS (``scipy.optimize.linprog``); an infeasible LP means ``b`` is never a
    best response, any other failure raises — a wrong value is never returned.

    Unlike :func:`stackelberg_equilibrium` on a one-state game, where the follower sees the
    leader's *action* (pure commitment, :func:`pure_commitment`), here it sees only the mix, and
    the leader's value is at least as large.

    >>> L, F = [[2, 4], [1, 3]], [[1, 0], [0, 1]]  # Conitzer & Sandholm (2006), §1
    >>> x, b, v = mixed_commitment(L, F)
    >>> np.round(x, 6).tolist(), b, round(v, 6), pure_commitment(L, F)[2]
    ([0.5, 0.5], 1, 3.5, 3.0)

    Args:
        leader_payoffs: ``L (A, B)``, any scale.
        follower_payoffs: ``F (A, B)``, any scale.
        tol: how far, relative to the follower's largest absolute payoff, the solver's ``b`` may
            fall short of a best response to the returned mix before it counts as a failure.

    Returns:
        ``(leader_mix (A,), follower_action, leader_value)``, with
        ``leader_value = leader_mix @ L[:, follower_action]``.

    Raises:
        ValueError: for matrices that are not finite ``(A, B)`` arrays of the same shape (also
            given as strings ``"2,4;1,3"``).
        RuntimeError: when an LP fails (any status but optimal or infeasible) or its solution
            does not check out.
    """
    L, F = payoff_matrices(leader_payoffs, follower_payoffs)
    A, B = L.shape
    # The LPs are solved on unit-scale matrices (the optimal mix does not depend on the scale).
    L_unit = L / max(np.abs(L).max(), 1e-300)
    f_scale = max(np.abs(F).max(), 1e-300)
    F_unit = F / f_scale
    best: tuple[float, int, np.ndarray] | None = None
    for b in range(B):
        others = [c for c in range(B) if c != b]
        # Σ_a x_a (F[a, b'] − F[a, b]) <= 0 for every other b'.
        A_ub = (F_unit[:, others] - F_unit[:, [b]]).T if others else None
        b_ub = np.zeros(len(others)) if others else None
        from scipy.optimize import linprog  # here: runs never need it, and it loads slowly

        result = linprog(
            -L_unit[:, b],
            A_ub=A_ub,
            b_ub=b_ub,
            A_eq=np.ones((1, A)),
            b_eq=[1.0],
            bounds=[(0.0, 1.0)] * A,
            method="highs",
        )
        if result.status == 2:  # infeasible: b is a best response to no mix
            continue
        if result.status != 0:
            raise RuntimeError(
                f"the commitment LP for follower action {b} failed (status {result.status}: "
                f"{result.message})"
            )
        x = np.clip(result.x, 0.0, None)  # the solver may return -1e-17
        x = x / x.sum()
        value = float(x @ L_unit[:, b])
        if best is None or value > best[0] + 1e-12:
            best = (value, b, x)
    if best is None:
        raise RuntimeError("no commitment LP was feasible: the solver failed")
    _, b, x = best
    follower_values = x @ F_unit
    shortfall = follower_values.max() - follower_values[b]
    if shortfall > max(tol, 1e-7):
        raise RuntimeError(
            f"the solver's follower action {b} is {shortfall * f_scale:.3g} short of a best "
            "response to its mix"
        )
    return x, int(b), float(x @ L[:, b])


def pure_commitment(
    leader_payoffs: np.ndarray, follower_payoffs: np.ndarray
) -> tuple[int, int, float]:
    """The Stackelberg solution when the follower sees the leader's action (one-shot game).

    :func:`stackelberg_equilibrium` on the one-state, ``H = 1`` ``matrix`` game (ties in the
    leader's favour): what the leader gets when its action is observed, against the
    :func:`mixed_commitment` value when only its strategy is. The gap between the two is the
    value of committing to a mix.

    Args:
        leader_payoffs: ``L (A, B)``, any scale.
        follower_payoffs: ``F (A, B)``, any scale.

    Returns:
        ``(leader_action, follower_action, leader_value)`` with ``leader_value`` in the
        payoffs' units.
    """
    L, F = payoff_matrices(leader_payoffs, follower_payoffs)
    game = matrix_game(leader_payoffs=L, follower_payoffs=F, horizon=1)
    pi_l, pi_f, _ = stackelberg_equilibrium(game)
    a = int(pi_l[0, 0].argmax())
    b = int(pi_f[0, 0, a].argmax())
    return a, b, float(L[a, b])
