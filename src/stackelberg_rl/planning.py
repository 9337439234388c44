"""Exact planning on a known finite game (math.md §2): values, best responses, Stackelberg, regret.

Also soft-max play on the true model (:func:`softmax_solution`; the soft-max of math.md §3 is
:func:`softmax`, which the learners use too) and its regret, the soft-max bias of Lemma 2
(:func:`softmax_bias`, :func:`softmax_bias_bound`), Appendix F's soft-max and greedy marginals
(:func:`appendix_f_marginal`), and the one-shot commitment values of a bimatrix game:
:func:`mixed_commitment` (the follower observes the leader's mixed strategy) and
:func:`pure_commitment` (it observes the leader's action).

Every player-indexed array has a leading player axis (0 the leader, then the follower), and one
step of backward induction is one function, :func:`collapse`: the players' values are averaged
(or maximised) from the last mover down to the first, each under its policy, a rule that chooses
it from the values (greedy, soft-max, Stackelberg), or a best response. Every solver here is one
backward pass over ``h = H-1 … 0`` of it, vectorised over states and actions: ``O(H·S·A·B·d)``
for a factored game and ``O(H·S²·A·B)`` for a dense one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import _validate
from .games.base import FiniteGame
from .games.matrix import matrix_game, payoff_matrices

POLICY_NAMES = ("pi_l", "pi_f")
"""The players' policies in order of moves (0 the leader, 1 the follower)."""

Rule = Callable[[np.ndarray], np.ndarray]
"""A player's choice from the values at its node ``W (n, ..., A_0, …, A_i)`` (see :func:`collapse`):
its policy ``(..., A_0, …, A_i)``, or integer actions ``(..., A_0, …, A_{i-1})`` played for sure."""

Policy = np.ndarray | Rule | None
"""A player's part in a backward pass: a policy, a :data:`Rule`, or ``None`` for a best response."""


@dataclass(frozen=True)
class Values:
    """Values of a pair of policies in a finite game.

    Attributes:
        Q: ``(2, H, S, A, B)`` action values ``Q_{m,h}(x, a, b)``.
        q: ``(2, H, S, A)`` both players' values at the follower's node: ``q[0]`` the leader's
            marginal ``q_{l,h}(x, a)``, eq. (1); ``q[1]`` the follower's ``V̄_{f,h}(x, a)``, eq. (3).
        V: ``(2, H, S)`` state values ``V_{m,h}(x)``, eqs. (2) and (4).
    """

    Q: np.ndarray
    q: np.ndarray
    V: np.ndarray

    @property
    def q_l(self) -> np.ndarray:
        """``(H, S, A)`` the leader's marginal ``q_{l,h}(x, a)``, eq. (1)."""
        return self.q[0]

    @property
    def vbar_f(self) -> np.ndarray:
        """``(H, S, A)`` the follower's ``V̄_{f,h}(x, a)``, eq. (3)."""
        return self.q[1]


# ---------------------------------------------------------------------- one step
def _max_last(z: np.ndarray) -> np.ndarray:
    """``z.max(axis=-1)``, exactly, by a loop over the short last axis of actions.

    Numpy's reduction over an axis of a few entries is about ten times slower.
    """
    m = z[..., 0].copy()
    for i in range(1, z.shape[-1]):
        np.maximum(m, z[..., i], out=m)
    return m


def collapse(
    W: np.ndarray,
    policies: Sequence[Policy],
    out: Sequence[np.ndarray | None] | None = None,
    best_rows: Sequence[Sequence[int]] = (),
) -> tuple[list[np.ndarray | None], list[np.ndarray]]:
    """One step of backward induction at a batch of states (math.md §2 and §7).

    The players move in order, each seeing the actions of those before it. From the last one
    down, the values at player ``i``'s node are those at the next node averaged under its policy:
    ``W^{(N+1)} = W``, ``W^{(i)}(a_{<i}) = Σ_{a_i} π_i(a_i|a_{<i}) W^{(i+1)}(a_{≤i})``, and
    ``W^{(0)} = V``. For two players ``W^{(1)}`` holds ``q_l`` and ``V̄_f`` (eqs. (1), (3)).

    Args:
        W: ``(n, ..., A_0, …, A_N)`` action values of ``n`` rows of values (every player's, or
            one player's own).
        policies: for each player ``i``: its policy ``(..., A_0, …, A_i)``; a :data:`Rule`,
            called with ``W^{(i+1)}``; or ``None`` for a best response, ``W^{(i)} = max_{a_i}
            W^{(i+1)}`` (then ``W`` must hold that player's own values only).
        out: for each player, ``None`` or a zeroed array where its rule's policy is written.
        best_rows: for each player ``i``, rows of ``W`` (its own values) at which it best
            responds, ``max_{a_i}``, whatever its policy: several backward passes that differ
            only in who best-responds run as one (:func:`regret_backup`).

    Returns:
        ``(pis, nodes)``: each player's policy at this step (``None`` for a best response), and
        ``nodes[i] = W^{(i)}`` ``(n, ..., A_0, …, A_{i-1})``, so that ``nodes[0]`` is ``V``.

    >>> Q = np.array([[[1.0, 0.0]], [[0.0, 2.0]]])  # (2 players, A = 1, B = 2)
    >>> pis, nodes = collapse(Q, [np.ones(1), greedy(1)])
    >>> pis[1].tolist(), nodes[0].tolist()
    ([[0.0, 1.0]], [0.0, 2.0])
    """
    pis: list[np.ndarray | None] = list(policies)
    nodes: list[np.ndarray] = [W] * len(policies)
    for i in range(len(policies) - 1, -1, -1):
        rule = policies[i]
        if rule is None:
            W = _max_last(W)
        else:
            if callable(rule):
                choice = np.asarray(rule(W))
                pi = np.zeros(W.shape[1:]) if out is None or out[i] is None else out[i]
                if np.issubdtype(choice.dtype, np.integer):
                    # A one-hot row: the average below is then exact, and faster than a gather.
                    np.put_along_axis(pi, choice[..., None], 1.0, axis=-1)
                else:
                    pi[...] = choice
                pis[i] = pi
            averaged = np.einsum("m...a,...a->m...", W, pis[i])
            for row in best_rows[i] if i < len(best_rows) else ():
                averaged[row] = _max_last(W[row])
            W = averaged
        nodes[i] = W
    return pis, nodes


def greedy(player: int) -> Rule:
    """The rule of a greedy player: the first maximiser of its own values."""
    return lambda W: W[player].argmax(axis=-1)


def softmax_rule(player: int, alpha: float) -> Rule:
    """The rule of a soft-max player: ``softmax(α W_player)`` (Algorithm 1, lines 10 and 13)."""
    return lambda W: softmax(W[player], alpha)


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

    :func:`collapse` with soft-max rules, for the learner's layout of ``Q``.

    Args:
        Q: ``(..., 2, A, B)``.
        alpha_l: leader inverse temperature (``inf`` for greedy).
        alpha_f: follower inverse temperature (``inf`` for greedy).

    Returns:
        ``pi_l (..., A)``, ``pi_f (..., A, B)``, ``q_l (..., A)``, ``vbar_f (..., A)``,
        ``V (..., 2)``.
    """
    rules = [softmax_rule(0, alpha_l), softmax_rule(1, alpha_f)]
    (pi_l, pi_f), (V, q) = collapse(np.moveaxis(np.asarray(Q, dtype=np.float64), -3, 0), rules)
    return pi_l, pi_f, q[0], q[1], np.moveaxis(V, 0, -1)


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


def check_tie_break(tie_break: str, tol: float) -> None:
    """Raise :class:`ValueError` unless ``tie_break`` is known and ``tol`` a finite ``>= 0``."""
    if tie_break not in ("leader", "follower"):
        raise ValueError(f"tie_break must be 'leader' or 'follower', got {tie_break!r}")
    # NaN would make no action a maximiser (argmax then picks the leader's favourite b whatever
    # Q_f says); a negative tol excludes the true maximiser.
    if not (_validate.is_real(tol) and math.isfinite(tol) and tol >= 0):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")


# ---------------------------------------------------------------------- whole games
def policy_shapes(game: FiniteGame) -> list[tuple[int, ...]]:
    """Each player's policy shape: ``[(H, S, A), (H, S, A, B)]``."""
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    return [(H, S, A), (H, S, A, B)]


def check_policies(game: FiniteGame, *policies: np.ndarray | None) -> list[np.ndarray | None]:
    """The players' policies as float arrays, checked: the game's shapes, and distributions.

    Args:
        game: the game.
        policies: ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)``, in order of moves; ``None`` to skip.

    Raises:
        ValueError: naming the policy, and the axis or the index that is wrong.
    """
    axes = ("h", "x", "a", "b")
    out = []
    for i, (name, pi, shape) in enumerate(
        zip(POLICY_NAMES, policies, policy_shapes(game), strict=True)
    ):
        if pi is not None:
            pi = np.asarray(pi, dtype=np.float64)
            _validate.check_shape(pi, name, shape, axes[: i + 3])
            pi = _validate.distribution(pi, name, axes[: i + 3])
        out.append(pi)
    return out


def _backward(game: FiniteGame, policies: Sequence[np.ndarray | Rule]) -> tuple[list, Values]:
    """Backward induction with ``V_{m,H} = 0`` (math.md §2): :func:`collapse` at every step.

    Args:
        game: the game.
        policies: each player's policy ``(H, S, …)``, or a :data:`Rule` choosing it step by step.

    Returns:
        The players' policies (one-hot where a rule chose actions) and their :class:`Values`.
    """
    H, S, A, B = game.horizon, game.n_states, game.n_leader_actions, game.n_follower_actions
    Q = np.empty((2, H, S, A, B))
    q = np.empty((2, H, S, A))
    V = np.empty((2, H, S))
    # np.zeros of a large array costs nothing until written: only the chosen entries are set.
    tables = [
        np.zeros(s) if callable(p) else p
        for p, s in zip(policies, policy_shapes(game), strict=True)
    ]
    for h in range(H - 1, -1, -1):
        Qh = game.action_values(h, V[:, h + 1] if h < H - 1 else None, out=Q[:, h])
        step = [p if callable(p) else t[h] for p, t in zip(policies, tables, strict=True)]
        _, nodes = collapse(Qh, step, out=[t[h] for t in tables])
        V[:, h], q[:, h] = nodes
    return tables, Values(Q=Q, q=q, V=V)


def evaluate(game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray) -> Values:
    """Exact values of the policies ``pi_l (H, S, A)`` and ``pi_f (H, S, A, B)``.

    >>> from stackelberg_rl.games import random_linear
    >>> g = random_linear(4, 2, 2, 3, 2, seed=1)
    >>> pi_l, pi_f = np.full((2, 4, 2), 0.5), np.full((2, 4, 2, 2), 0.5)
    >>> evaluate(g, pi_l, pi_f).V.shape
    (2, 2, 4)
    """
    return _backward(game, check_policies(game, pi_l, pi_f))[1]


def best_response(
    game: FiniteGame,
    player: int,
    policies: Sequence[np.ndarray | None],
    tie_break: Literal["leader", "follower"] | None = None,
    tol: float = 1e-9,
) -> tuple[np.ndarray, Values]:
    """Player ``player``'s best response to the others' policies, eqs. (7) and (8).

    Every best response has the player's value; for a follower they differ in the leader's. With
    ``tie_break`` the follower picks, among its maximisers within ``tol`` at each ``(h, x, a)``,
    the one best (``"leader"``) or worst (``"follower"``) for the leader, whose values already
    follow those picks at later steps: backward induction then gives the best or the worst
    leader value over all the follower's best responses, at every state (the follower's value,
    hence its maximisers, does not depend on how ties are broken).

    Args:
        game: the game.
        player: 0 the leader, 1 the follower.
        policies: every player's policy in order of moves (the entry of ``player`` is ignored).
        tie_break: a follower's ties: ``None`` (the first maximiser), ``"leader"`` or
            ``"follower"``.
        tol: how far below the maximum an action still counts as a maximiser, with a
            ``tie_break``.

    Returns:
        A deterministic policy of ``player`` (first maximiser on ties) and its values.
    """
    player = _validate.index(player, len(POLICY_NAMES), "player")
    given = [None if i == player else p for i, p in enumerate(policies)]
    step: list = check_policies(game, *given)
    if tie_break is None or player == 0:
        step[player] = greedy(player)
    else:
        check_tie_break(tie_break, tol)
        step[player] = stackelberg_rules(tie_break, tol)[player]
    tables, values = _backward(game, step)
    return tables[player], values


def leader_best_response(game: FiniteGame, pi_f: np.ndarray) -> tuple[np.ndarray, Values]:
    """The leader's best response to ``pi_f``: greedy in ``q_l`` at every step, eq. (8).

    Returns:
        A deterministic ``pi_l (H, S, A)`` (first maximiser on ties) and its values.
    """
    return best_response(game, 0, [None, pi_f])


def follower_best_response(
    game: FiniteGame,
    pi_l: np.ndarray,
    tie_break: Literal["leader", "follower"] | None = None,
    tol: float = 1e-9,
) -> tuple[np.ndarray, Values]:
    """The follower's best response to ``pi_l``: greedy in ``Q_f`` for every ``a``, eq. (7).

    :func:`best_response` of player 1 (its ``tie_break`` and ``tol``).

    Returns:
        A deterministic ``pi_f (H, S, A, B)`` and its values.
    """
    return best_response(game, 1, [pi_l, None], tie_break, tol)


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
    check_tie_break(tie_break, tol)
    (pi_l, pi_f), values = _backward(game, stackelberg_rules(tie_break, tol))
    return pi_l, pi_f, values


def stackelberg_rules(
    tie_break: Literal["leader", "follower"] = "leader", tol: float = 1e-9
) -> list[Rule]:
    """The players' rules in a Stackelberg solution: the leader greedy, the follower answering.

    The follower's is :func:`follower_choice` on its values, ties broken by the leader's.
    """
    return [greedy(0), lambda W: follower_choice(W[0], W[1], tie_break, tol)]


# ---------------------------------------------------------------------- regret
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


def regrets(
    game: FiniteGame, pi_l: np.ndarray, pi_f: np.ndarray, x1: np.ndarray, a1: np.ndarray
) -> np.ndarray:
    """:func:`regret` at several ``(x1, a1)`` pairs: ``(2, n)``.

    The three backward passes (the pair's values, the leader's best response to ``pi_f``, the
    follower's best response to ``pi_l``) run together (:func:`start_values`).

    Args:
        game: the game.
        pi_l: ``(H, S, A)`` the leader's policy in the episode.
        pi_f: ``(H, S, A, B)`` the follower's policy in the episode.
        x1: ``(n,)`` realised initial states.
        a1: ``(n,)`` the leader's realised first actions.

    Returns:
        ``(2, n)``: the leader's regrets, eq. (9), then the follower's, eq. (10).
    """
    policies = check_policies(game, pi_l, pi_f)
    x1, a1 = np.asarray(x1), np.asarray(a1)
    for name, idx, n in [("x1", x1, game.n_states), ("a1", a1, game.n_leader_actions)]:
        if not np.issubdtype(idx.dtype, np.integer) or ((idx < 0) | (idx >= n)).any():
            raise ValueError(f"{name} must hold integers in [0, {n}), got {idx}")
    _, nodes, best = start_values(game, policies)
    return regret_at(nodes, best, x1, [a1])


def start_values(
    game: FiniteGame, policies: Sequence[np.ndarray], *, best: bool = True
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """The values at step 0 of a batch of policy profiles and of each player's best response.

    One backward pass of :func:`regret_backup` for all of them: at each step one backup of the
    rows of values involved reads the model once, and only one step's ``Q`` is held.

    Args:
        game: the game.
        policies: each player's policies ``(*batch, H, S, A_0, …, A_i)``, in order of moves
            (``np.broadcast_to`` one policy to share it in a batch).
        best: also the best responses (else only the profiles' values).

    Returns:
        ``(V, nodes, best)`` of step 0: ``V (rows, 2, *batch, S)`` (row 0 the profiles' values
        of every player, row 1 each player's best-response value) and the nodes of
        :func:`regret_backup` (``best`` is empty without best responses).
    """
    batch = np.broadcast_shapes(*(p.shape[: p.ndim - 3 - i] for i, p in enumerate(policies)))
    rows, n, S = 1 + best, len(policies), game.n_states
    V = np.zeros((*batch, rows, n, S))
    Q = np.empty((*batch, rows, n, S, game.n_leader_actions, game.n_follower_actions))
    # Views with the rows and players first, as collapse has them: made once, written through.
    first = tuple(range(len(batch), len(batch) + 2))
    Q_rows, V_rows = np.moveaxis(Q, first, (0, 1)), np.moveaxis(V, first, (0, 1))
    for h in range(game.horizon - 1, -1, -1):
        game.action_values(h, V, out=Q)
        step = [p[(Ellipsis, h) + (slice(None),) * (2 + i)] for i, p in enumerate(policies)]
        nodes, best_nodes = regret_backup(Q_rows, step, out=V_rows, best=best)
    return V_rows, nodes, best_nodes


def regret_backup(
    Q: np.ndarray,
    policies: Sequence[np.ndarray],
    out: np.ndarray | None = None,
    *,
    best: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One step of the fused backward passes of :func:`start_values`.

    Rows of values: ``[0]`` every player's value of the profile ``policies``; ``[1, m]`` player
    ``m``'s value of its best response to the others' policies (eqs. (7) and (8)).

    Args:
        Q: ``(rows, 2, ..., A, B)`` the action values of this step for each row of values:
            ``Q[v, m] = r_m + P V_{v, m}`` with the next step's values of row ``v``.
        policies: each player's policy at this step, ``(..., A_0, …, A_i)``.
        out: ``(rows, 2, ...)`` where to write this step's values (may be the array ``Q`` was
            made from: it is read before this is called).
        best: whether ``Q`` has the best responses' row.

    Returns:
        ``(nodes, best)``: the profile's values at each player's node (:func:`collapse`) and each
        player's best-response value at its own node, ``best[m] (..., A_0, …, A_{m-1})``.
    """
    n = len(policies)
    if out is None:
        out = np.empty(Q.shape[:-2])
    # One pass: rows 0 … n-1 the profile, row n + m player m's own values, where it maximises.
    W = Q.reshape(Q.shape[0] * n, *Q.shape[2:])
    best_rows = [[n + m] for m in range(n)] if best else ()
    _, all_nodes = collapse(W, policies, best_rows=best_rows)
    out[...] = all_nodes[0].reshape(out.shape)
    nodes = [node[:n] for node in all_nodes]
    best_nodes = [all_nodes[m][n + m] for m in range(n)] if best else []
    return nodes, best_nodes


def regret_at(
    nodes: list[np.ndarray], best: list[np.ndarray], x1: np.ndarray, actions: Sequence[np.ndarray]
) -> np.ndarray:
    """Each player's regret where it first moves, from the step-0 nodes of :func:`regret_backup`.

    A player's best-response value minus its value, both at ``(x1, a_0, …, a_{m-1})`` (eqs. (9)
    and (10) for two players).

    Args:
        nodes: the profile's values at each player's node, ``nodes[m] (2, S, A_0, …, A_{m-1})``.
        best: each player's best-response value at its node, ``best[m] (S, A_0, …, A_{m-1})``.
        x1: ``(n,)`` state indices.
        actions: the first actions of the players before the last, each ``(n,)``.

    Returns:
        ``(2, n)``: the leader's regrets, then the follower's.
    """
    out = []
    for m in range(len(best)):
        at = (x1, *actions[:m])
        out.append(best[m][at] - nodes[m][m][at])
    return np.stack(out)


# ---------------------------------------------------------------------- soft-max play
def softmax_solution(
    game: FiniteGame, alpha_l: float, alpha_f: float
) -> tuple[np.ndarray, np.ndarray, Values]:
    """Soft-max play planned on the true model: Algorithm 1, lines 9–14, with exact ``Q``.

    Backward induction as in math.md §2 with ``V_{m,H} = 0``: at each step the exact
    ``Q_{m,h} = r_{m,h} + P_h V_{m,h+1}`` (no bonus, ``β = 0``), the follower's
    ``π_f = softmax(α_f Q_f)``, the leader's ``π_l = softmax(α_l q_l)``, and ``V`` of that pair.
    What the learner would play if it knew the model.

    Args:
        game: the game.
        alpha_l: the leader's inverse temperature (``inf``: greedy, uniform over maximisers).
        alpha_f: the follower's.

    Returns:
        ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)`` and their values.
    """
    (pi_l, pi_f), values = _backward(game, [softmax_rule(0, alpha_l), softmax_rule(1, alpha_f)])
    return pi_l, pi_f, values


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
        alpha = _validate.real(alpha, "alpha", low=0.0, infinite=True)
        if n == 1 or math.isinf(alpha):
            out.append(0.0)
        else:
            out.append(math.inf if alpha == 0 else game.horizon * math.log(n) / alpha)
    return np.array(out)


def appendix_f_marginal(t: float | np.ndarray, alpha_f: float, M: float, eps: float) -> np.ndarray:
    """Appendix F: the leader's marginal ``q_l(x, a)`` as the values move from Table 1 to Table 2.

    ``Q(t) = (1 − t)·Table 1 + t·Table 2`` (:func:`~.games.appendix_f.tables`), the follower plays
    ``softmax(α_f Q_f(t)[a, ·])`` (Algorithm 1, line 10; ``α_f = ∞``: greedy) and
    ``q_l(a) = Σ_b π_f(b|a) Q_l(t)[a, b]`` (eq. (1)). Greedy ``q_l(a₁)`` jumps from ``0`` to ``M``
    at ``t = 1/2``; soft-max ``q_l`` moves by at most :func:`~.games.appendix_f.marginal_bound`.

    Args:
        t: interpolation weights in ``[0, 1]``, any shape ``(...)``.
        alpha_f: the follower's inverse temperature ``≥ 0`` (``np.inf`` for greedy).
        M: the leader's large payoff, ``> 0``.
        eps: ``ε`` in ``(0, 1]``.

    Returns:
        ``q_l (..., 2)``: the leader's marginal at ``a₁`` and ``a₂``.
    """
    from .games.appendix_f import tables

    t = _validate.array(t, "t", low=0.0, high=1.0)
    alpha_f = _validate.real(alpha_f, "alpha_f", low=0.0, infinite=True)
    both = tables(M, eps)
    Q = (1 - t)[..., None, None, None] * both[0] + t[..., None, None, None] * both[1]
    _, nodes = collapse(np.moveaxis(Q, -3, 0), [np.ones(2), softmax_rule(1, alpha_f)])
    return nodes[1][0]


# ---------------------------------------------------------------------- one-shot games
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
