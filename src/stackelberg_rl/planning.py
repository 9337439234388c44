"""Exact planning on a finite game (math.md §2, §9): values, best responses, Stackelberg, regret.

Also soft-max play on the true model and its bias (Lemma 2), Appendix F's marginals and one-shot
commitments. Player arrays have a leading axis of ``1+N`` players (0 the leader); player ``i``'s
policy is ``pi_i (H, S, A_0, …, A_i)``. Every solver is a backward pass of :func:`collapse`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import _validate
from .games.base import FiniteGame, action_axes
from .games.matrix import matrix_game, payoff_matrices


def policy_names(n_players: int) -> tuple[str, ...]:
    """The players' policies in order of moves: ``pi_l, pi_f`` for two, else ``pi_0, …, pi_N``."""
    return ("pi_l", "pi_f") if n_players == 2 else tuple(f"pi_{i}" for i in range(n_players))


Rule = Callable[[np.ndarray], np.ndarray]
"""A player's choice from the values at its node ``W (n, ..., A_0, …, A_i)`` (see :func:`collapse`):
its policy ``(..., A_0, …, A_i)``, or integer actions ``(..., A_0, …, A_{i-1})`` played for sure."""


@dataclass(frozen=True)
class Values:
    """Values of a profile of policies in a finite game (``1+N`` players, math.md §9).

    Attributes:
        Q: ``(1+N, H, S, A_0, …, A_N)`` action values ``Q_{m,h}(x, a, b)``.
        q: ``(1+N, H, S, A_0)`` every player's value at the first follower's node ``W^{(1)}``
            (:attr:`q_l`, :attr:`vbar_f`).
        V: ``(1+N, H, S)`` state values ``V_{m,h}(x)``, eqs. (2) and (4).
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
    """``z.max(axis=-1)`` by a loop over the short axis of actions (numpy's is slower)."""
    m = z[..., 0].copy()
    for i in range(1, z.shape[-1]):
        np.maximum(m, z[..., i], out=m)
    return m


def collapse(
    W: np.ndarray,
    policies: Sequence[np.ndarray | Rule],
    out: Sequence[np.ndarray | None] | None = None,
    best_rows: Sequence[Sequence[int]] = (),
) -> tuple[list[np.ndarray | None], list[np.ndarray]]:
    """One step of backward induction at a batch of states (math.md §2 and §7).

    From the last player down, ``W^{(N+1)} = W``, ``W^{(i)}(a_{<i}) = Σ_{a_i} π_i(a_i|a_{<i})
    W^{(i+1)}(a_{≤i})``; ``W (n, ..., A_0, …, A_N)`` holds ``n`` rows of values. ``policies``:
    each player's ``(..., A_0, …, A_i)`` or a :data:`Rule` called with ``W^{(i+1)}``; ``out``:
    per player ``None`` or a zeroed array for its rule's policy; ``best_rows``: per player, rows
    of ``W`` where it maximises whatever its policy (best responses fused into one pass).
    Returns each player's policy and ``nodes[i] = W^{(i)} (n, ..., A_0, …, A_{i-1})``
    (``nodes[0]`` is ``V``; for two players ``nodes[1]`` holds ``q_l`` and ``V̄_f``).

    >>> Q = np.array([[[1.0, 0.0]], [[0.0, 2.0]]])  # (2 players, A = 1, B = 2)
    >>> pis, nodes = collapse(Q, [np.ones(1), greedy(1)])
    >>> pis[1].tolist(), nodes[0].tolist()
    ([[0.0, 1.0]], [0.0, 2.0])
    """
    pis: list[np.ndarray] = list(policies)
    nodes: list[np.ndarray] = [W] * len(policies)
    for i in range(len(policies) - 1, -1, -1):
        if callable(policies[i]):
            choice = np.asarray(policies[i](W))
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
        W = nodes[i] = averaged
    return pis, nodes


def greedy(player: int) -> Rule:
    """The rule of a greedy player: the first maximiser of its own values."""
    return lambda W: W[player].argmax(axis=-1)


def softmax_rule(player: int, alpha: float) -> Rule:
    """The rule of a soft-max player: ``softmax(α W_player)`` (Algorithm 1, lines 10 and 13)."""
    alpha = _validate.real(alpha, "alpha", low=0.0, infinite=True)
    return lambda W: _softmax(W[player], alpha)  # unchecked W: a plan's own checks name a NaN


def softmax(z: np.ndarray, alpha: float, axis: int = -1) -> np.ndarray:
    """``SOFT-MAX_alpha(z)`` of eq. (12), stably; ``alpha = inf``: uniform over the maximisers.

    ``z``: finite numbers; ``alpha``: a number ``>= 0`` or ``inf`` (:class:`ValueError`
    otherwise, naming the first non-finite entry of ``z``).

    >>> softmax(np.array([0.0, 1.0]), np.inf)
    array([0., 1.])
    """
    alpha = _validate.real(alpha, "alpha", low=0.0, infinite=True)
    return _softmax(_validate.array(z, "z"), alpha, axis)


def _softmax(z: np.ndarray, alpha: float, axis: int = -1) -> np.ndarray:
    z = np.asarray(z, dtype=np.float64)
    zmax = z.max(axis=axis, keepdims=True)
    if np.isinf(alpha):
        e = (z == zmax).astype(np.float64)
    else:
        e = np.exp(alpha * (z - zmax))
    return e / e.sum(axis=axis, keepdims=True)


def stackelberg_choice(
    W: np.ndarray, player: int, tie_break: Literal["leader", "follower"], tol: float
) -> np.ndarray:
    """Player ``i``'s Stackelberg action ``(..., A_0, …, A_{i-1})`` from ``W^{(i+1)}``, math.md §9.

    Of its maximisers of ``W[player]`` within ``tol``, the best (``"leader"``) or worst
    (``"follower"``) for player 0, among those for player 1, … up to the player before it; then
    the lowest index.
    """
    sign = 1.0 if tie_break == "leader" else -1.0
    z = W[player]
    keep = z >= z.max(axis=-1, keepdims=True) - tol
    for before in range(player):
        z = np.where(keep, sign * W[before], -np.inf)
        keep = z == z.max(axis=-1, keepdims=True)
    return keep.argmax(axis=-1)


def stackelberg_rules(
    tie_break: Literal["leader", "follower"] = "leader", tol: float = 1e-9, n_players: int = 2
) -> list[Rule]:
    """The players' rules in a Stackelberg solution: the leader greedy, each follower answering.

    Raises:
        ValueError: an unknown ``tie_break``, or a ``tol`` that is not a finite number ``>= 0``.
    """
    if tie_break not in ("leader", "follower"):
        raise ValueError(f"tie_break must be 'leader' or 'follower', got {tie_break!r}")
    if not (_validate.is_real(tol) and 0 <= tol < math.inf):
        raise ValueError(f"tol must be a finite number >= 0, got {tol!r}")
    answer = functools.partial(stackelberg_choice, tie_break=tie_break, tol=tol)
    return [greedy(0)] + [functools.partial(answer, player=i) for i in range(1, n_players)]


# ---------------------------------------------------------------------- whole games
def _finite_game(game: FiniteGame) -> FiniteGame:
    """``game`` if it is a :class:`~.games.base.FiniteGame`, else a ValueError saying so."""
    kind = "a FiniteGame (exact planning; montecarlo plans a continuous game)"
    return _validate.instance(game, FiniteGame, "game", kind)


def policy_shapes(game: FiniteGame) -> list[tuple[int, ...]]:
    """Each player's policy shape ``(H, S, A_0, …, A_i)``: ``[(H, S, A), (H, S, A, B)]`` for two."""
    game = _finite_game(game)
    head, counts = (game.horizon, game.n_states), game.action_counts
    return [(*head, *counts[: i + 1]) for i in range(game.n_players)]


def check_policies(
    game: FiniteGame, *policies: np.ndarray | Rule | None, rules: bool = False
) -> list:
    """One policy per player, ``pi_i (H, S, A_0, …, A_i)``, checked (``None`` passes through).

    ``rules``: a :data:`Rule` passes through too (for a backward pass); else it is refused.

    Raises:
        ValueError: naming the policy, and the axis or the index that is wrong, or the number
            of policies when it is not ``1+N``.
    """
    n = _finite_game(game).n_players
    if len(policies) != n:
        raise ValueError(f"the game has {n} players: give {n} policies, got {len(policies)}")
    axes = ("h", "x", *action_axes(n, False))
    out = []
    for name, pi, shape in zip(policy_names(n), policies, policy_shapes(game), strict=True):
        if pi is not None and not (rules and callable(pi)):
            _validate.check_shape(pi, name, shape, axes[: len(shape)])
            pi = _validate.distribution(pi, name, axes[: len(shape)])
        out.append(pi)
    return out


def _required(game: FiniteGame, policies: Sequence, why: str) -> None:
    """Raise naming the first policy that is ``None``, and ``why`` it is needed."""
    for name, pi in zip(policy_names(game.n_players), policies, strict=False):
        if pi is None:
            raise ValueError(f"{name} is required: {why}")


def _backward(game: FiniteGame, policies: Sequence[np.ndarray | Rule]) -> tuple[list, Values]:
    """Backward induction from ``V_{m,H} = 0``: the policies (rules' filled in) and their values."""
    m, H, S = game.n_players, game.horizon, game.n_states
    Q = np.empty((m, H, S, *game.action_counts))
    q = np.empty((m, H, S, game.n_leader_actions))
    V = np.empty((m, H, S))
    tables = [
        np.zeros(s) if callable(p) else p
        for p, s in zip(policies, policy_shapes(game), strict=True)
    ]
    for h in range(H - 1, -1, -1):
        Qh = game.action_values(h, V[:, h + 1] if h < H - 1 else None, out=Q[:, h])
        step = [p if callable(p) else t[h] for p, t in zip(policies, tables, strict=True)]
        _, nodes = collapse(Qh, step, out=[t[h] for t in tables])
        V[:, h], q[:, h] = nodes[0], nodes[1]
    return tables, Values(Q=Q, q=q, V=V)


def evaluate(game: FiniteGame, *policies: np.ndarray | Rule) -> Values:
    """Exact values of the policies ``pi_i (H, S, A_0, …, A_i)`` of every player (math.md §2, §9).

    A player may be given a :data:`Rule` instead, applied at every step:
    ``evaluate(game, pi_l, *stackelberg_rules("follower")[1:])`` plays against followers that
    break their ties against the leader.

    >>> from stackelberg_rl.games import random_linear
    >>> g = random_linear(4, 2, 2, 3, 2, seed=1)
    >>> pi_l, pi_f = np.full((2, 4, 2), 0.5), np.full((2, 4, 2, 2), 0.5)
    >>> evaluate(g, pi_l, pi_f).V.shape
    (2, 2, 4)
    """
    policies = check_policies(game, *policies, rules=True)
    _required(game, policies, "evaluate plays every player's policy")
    return _backward(game, policies)[1]


def best_response(
    game: FiniteGame,
    player: int,
    policies: Sequence[np.ndarray | None],
    tie_break: Literal["leader", "follower"] | None = None,
    tol: float = 1e-9,
) -> tuple[np.ndarray, Values]:
    """Player ``player``'s best response to the others' policies, eqs. (7) and (8), math.md §9.

    ``player``: 0 the leader, ``1 … N`` the followers; ``policies``: every player's in order of
    moves (``player``'s ignored); ``tie_break``: a follower's ties, ``None`` (first maximiser) or,
    among its maximisers within ``tol``, the best (``"leader"``) or worst for the leader
    (:func:`stackelberg_choice`). Returns a deterministic policy of ``player`` and its values.
    """
    player = _validate.index(player, _finite_game(game).n_players, "player")
    if tie_break is None or player == 0:
        rule = greedy(player)
    else:
        rule = stackelberg_rules(tie_break, tol, game.n_players)[player]
    given = [rule if i == player else p for i, p in enumerate(policies)]
    _required(game, given, f"player {player} best responds to it")
    tables, values = _backward(game, check_policies(game, *given, rules=True))
    return tables[player], values


def leader_best_response(game: FiniteGame, pi_f: np.ndarray) -> tuple[np.ndarray, Values]:
    """The leader's best response to ``pi_f``, eq. (8): a deterministic ``pi_l`` and its values."""
    return best_response(game, 0, [None, pi_f])


def follower_best_response(
    game: FiniteGame,
    pi_l: np.ndarray,
    tie_break: Literal["leader", "follower"] | None = None,
    tol: float = 1e-9,
) -> tuple[np.ndarray, Values]:
    """The follower's best response to ``pi_l``, eq. (7) (ties as in :func:`best_response`)."""
    return best_response(game, 1, [pi_l, None], tie_break, tol)


def stackelberg_equilibrium(
    game: FiniteGame,
    tie_break: Literal["leader", "follower"] = "leader",
    tol: float = 1e-9,
) -> tuple[np.ndarray, ...]:
    """The subgame-perfect Stackelberg solution by backward induction (math.md §2, §9).

    From the last follower down each player answers every ``a_{<i}`` with the argmax of its own
    ``W^{(i+1)}_i`` (ties: :func:`stackelberg_choice`); the leader maximises ``Q_l(x, a, b*)``.
    Returns deterministic ``(pi_0, …, pi_N, values)``: ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)``.
    """
    rules = stackelberg_rules(tie_break, tol, _finite_game(game).n_players)
    policies, values = _backward(game, rules)
    return (*policies, values)


# ---------------------------------------------------------------------- regret
def regret(
    game: FiniteGame,
    pi_l: np.ndarray,
    pi_f: np.ndarray,
    x1: int | np.ndarray,
    a1: int | np.ndarray,
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Both players' exact regret of one episode, eqs. (9) and (10) (math.md §2).

    For ``pi_l (H, S, A)``, ``pi_f (H, S, A, B)`` played from ``x1`` with leader action ``a1``:
    ``(V_{l,0}^{BR_l(pi_f), pi_f}(x1) − V_{l,0}^{pi_l, pi_f}(x1), V̄_{f,0}^{pi_l,
    BR_f(pi_l)}(x1, a1) − V̄_{f,0}^{pi_l, pi_f}(x1, a1))``. Two floats; for ``(n,)`` arrays
    ``x1`` and ``a1`` (as :func:`player_regrets` takes them), two arrays ``(n,)``.
    """
    r = player_regrets(game, [pi_l, pi_f], x1, [a1])
    return (float(r[0]), float(r[1])) if r.ndim == 1 else (r[0], r[1])


def player_regrets(
    game: FiniteGame,
    policies: Sequence[np.ndarray],
    x1: int | np.ndarray,
    first_actions: Sequence[int | np.ndarray],
) -> np.ndarray:
    """Each player's exact regret of one episode (math.md §9; eqs. (9) and (10) for ``N = 1``).

    Player ``m``'s best-response value minus its value under ``policies`` (``pi_i (H, S, A_0, …,
    A_i)``) at the node where it first moves, ``(x1, a_0, …, a_{m-1})`` of step 0. ``x1``: the
    initial state or ``(n,)`` of them; ``first_actions``: step 0's actions of players ``0 …
    N-1`` (the last player's may follow, unused), each like ``x1``. Returns ``(1+N,)`` regrets,
    the leader's first, or ``(1+N, n)``.
    """
    policies = check_policies(game, *policies)
    _required(game, policies, "a regret is of every player's policy")
    N = game.n_followers
    if len(first_actions) not in (N, N + 1):
        raise ValueError(
            f"first_actions must hold the first actions of players 0 … {N - 1} (or of all "
            f"{N + 1}), got {len(first_actions)}"
        )
    at = [np.asarray(x1), *map(np.asarray, first_actions)]  # the last player's checked too
    names = ["x1", *(["a1", "b1"] if N == 1 else (f"first_actions[{i}]" for i in range(N + 1)))]
    for name, idx, n in zip(names, at, (game.n_states, *game.action_counts), strict=False):
        if not np.issubdtype(idx.dtype, np.integer) or ((idx < 0) | (idx >= n)).any():
            raise ValueError(f"{name} must hold integers in [0, {n}), got {idx}")
    try:  # a single value goes with every one of the others
        np.broadcast_shapes(*(idx.shape for idx in at))
    except ValueError:
        given = " and ".join(names[: len(at)])
        shapes = " and ".join(str(idx.shape) for idx in at)
        raise ValueError(f"{given} must have the same length, got shapes {shapes}") from None
    _, nodes, best = start_values(game, policies)
    return regret_at(nodes, best, at[0], at[1 : N + 1])


def start_values(
    game: FiniteGame, policies: Sequence[np.ndarray], *, best: bool = True
) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Step 0's values of a batch of policy profiles and (``best``) each player's best response.

    ``policies``: each player's ``(*batch, H, S, A_0, …, A_i)``. One backward pass of
    :func:`regret_backup`; returns ``(V (rows, 1+N, *batch, S), nodes, best)`` of step 0, row 0
    of ``V`` the profiles' values, row 1 each player's best-response value.
    """
    game = _finite_game(game)
    batch = np.broadcast_shapes(*(p.shape[: p.ndim - 3 - i] for i, p in enumerate(policies)))
    rows, n, S = 1 + best, len(policies), game.n_states
    V = np.zeros((*batch, rows, n, S))
    Q = np.empty((*batch, rows, n, S, *game.action_counts))
    first = tuple(range(len(batch), len(batch) + 2))
    Q_rows, V_rows = np.moveaxis(Q, first, (0, 1)), np.moveaxis(V, first, (0, 1))
    for h in range(game.horizon - 1, -1, -1):
        game.action_values(h, V, out=Q)
        step = [p[(Ellipsis, h) + (slice(None),) * (2 + i)] for i, p in enumerate(policies)]
        nodes, best_nodes = regret_backup(Q_rows, step, out=V_rows, best=best)
    return V_rows, nodes, best_nodes


def regret_backup(
    Q: np.ndarray, policies: Sequence[np.ndarray], out: np.ndarray, *, best: bool = True
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One step of :func:`start_values`.

    ``Q (rows, 1+N, ..., A_0, …, A_N)``: row 0 the profile's values, row 1 (``best``) each
    player's of its best response, eqs. (7)-(8); ``out (rows, 1+N, ...)`` receives the step's
    values. Returns the profile's :func:`collapse` nodes and
    ``best[m] (..., A_0, …, A_{m-1})``, player ``m``'s best-response value at its node.
    """
    n = len(policies)
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
    """Each player's regret ``(1+N, n)`` at ``(x1, a_0, …, a_{m-1})``, eqs. (9) and (10)."""
    ats = [(x1, *actions[:m]) for m in range(len(best))]
    return np.stack([best[m][at] - nodes[m][m][at] for m, at in enumerate(ats)])


# ---------------------------------------------------------------------- soft-max play
def _alphas(game: FiniteGame, alphas: Sequence[float]) -> list[float]:
    """Each player's ``α_i``, checked: one per player, ``>= 0`` or ``inf``."""
    n = _finite_game(game).n_players
    if len(alphas) != n:
        raise ValueError(f"the game has {n} players: give {n} values of α, got {len(alphas)}")
    names = ("alpha_l", "alpha_f") if n == 2 else [f"alphas[{i}]" for i in range(n)]
    return [
        _validate.real(a, name, low=0.0, infinite=True)
        for a, name in zip(alphas, names, strict=True)
    ]


def softmax_solution(game: FiniteGame, *alphas: float) -> tuple[np.ndarray | Values, ...]:
    """Soft-max play planned on the true model (``β = 0``): Algorithm 1, lines 9–14, exact ``Q``.

    Player ``i`` plays ``softmax(α_i W^{(i+1)}_i)`` for ``alphas = α_0, …, α_N`` (``inf``:
    greedy), math.md §9. Returns ``(pi_0, …, pi_N, values)`` as :func:`stackelberg_equilibrium`.
    """
    rules = [softmax_rule(i, a) for i, a in enumerate(_alphas(game, alphas))]
    policies, values = _backward(game, rules)
    return (*policies, values)


def softmax_bias(game: FiniteGame, *alphas: float) -> np.ndarray:
    """The soft-max bias ``(1+N,)``: the expected regret of one episode of :func:`softmax_solution`.

    :func:`player_regrets` averaged over ``x_1`` and the earlier first actions, each ``>= 0``.
    """
    *policies, _ = softmax_solution(game, *alphas)
    N = game.n_followers
    nodes = (game.n_states, *game.action_counts[:N])  # (x_1, a_0, …, a_{N-1})
    x1, *first = np.indices(nodes).reshape(N + 1, -1)
    r = player_regrets(game, policies, x1, first).reshape(N + 1, *nodes)
    out = []
    for m in range(N + 1):
        z = r[m][(Ellipsis, *[0] * (N - m))]  # (S, A_0, …, A_{m-1}): player m's does not
        for pi in reversed(policies[:m]):  # depend on the later first actions
            z = (pi[0] * z).sum(axis=-1)
        out.append(game.initial_distribution @ z)
    return np.array(out)


def softmax_bias_bound(game: FiniteGame, *alphas: float) -> np.ndarray:
    """Lemmas 2 and 4's bound ``(1+N,)`` on the soft-max bias: ``H·log|A_i|/α_i`` per player.

    A soft-max over ``n`` actions loses at most ``log(n)/α`` a step; ``0`` if greedy or ``n = 1``.
    """
    out, alphas = [], _alphas(game, alphas)  # the game checked first
    for n, alpha in zip(game.action_counts, alphas, strict=True):
        if n == 1 or math.isinf(alpha):
            out.append(0.0)
        else:
            out.append(math.inf if alpha == 0 else game.horizon * math.log(n) / alpha)
    return np.array(out)


def appendix_f_marginal(t: float | np.ndarray, alpha_f: float, M: float, eps: float) -> np.ndarray:
    """Appendix F: the leader's marginal ``q_l (..., 2)`` at ``Q(t) = (1−t)·Table 1 + t·Table 2``.

    ``t (...)`` in ``[0, 1]``, the follower playing ``softmax(α_f Q_f(t)[a, ·])`` (``inf``: greedy,
    whose ``q_l(a₁)`` jumps from 0 to ``M`` at ``t = 1/2``); ``eps`` is ``ε`` in ``(0, 1]``.
    """
    from .games.appendix_f import tables

    t = _validate.array(t, "t", low=0.0, high=1.0)
    alpha_f = _validate.real(alpha_f, "alpha_f", low=0.0, infinite=True)
    both = tables(M, eps)
    t = t[..., None, None, None]
    Q = (1 - t) * both[0] + t * both[1]
    _, nodes = collapse(np.moveaxis(Q, -3, 0), [np.ones(2), softmax_rule(1, alpha_f)])
    return nodes[1][0]


# ---------------------------------------------------------------------- one-shot games
def mixed_commitment(
    leader_payoffs: np.ndarray, follower_payoffs: np.ndarray, tol: float = 1e-9
) -> tuple[np.ndarray, int, float]:
    """The leader's optimal mixed strategy to commit to in a one-shot bimatrix game.

    The follower sees the mix and best-responds, ties for the leader. Conitzer & Sandholm (2006,
    EC'06, §5): per follower action ``b`` an LP maximises ``Σ_a x_a L[a, b]`` over the simplex
    with ``b`` a best response; the best feasible ``b`` wins.

    >>> L, F = [[2, 4], [1, 3]], [[1, 0], [0, 1]]  # Conitzer & Sandholm (2006), §1
    >>> x, b, v = mixed_commitment(L, F)
    >>> np.round(x, 6).tolist(), b, round(v, 6), pure_commitment(L, F)[2]
    ([0.5, 0.5], 1, 3.5, 3.0)

    ``leader_payoffs``, ``follower_payoffs``: ``L, F (A, B)``, any scale (or strings
    ``"2,4;1,3"``); ``tol``: how far, relative to ``max |F|``, the solver's ``b`` may fall short of
    a best response. Returns ``(leader_mix (A,), follower_action, leader_mix @ L[:, b])``.

    Raises:
        ValueError: matrices that are not finite ``(A, B)`` arrays of the same shape.
        RuntimeError: an LP fails (neither optimal nor infeasible) or its solution is wrong.
    """
    L, F = payoff_matrices(leader_payoffs, follower_payoffs)
    A, B = L.shape
    # The LPs are solved on unit-scale matrices (the optimal mix does not depend on the scale).
    L_unit = L / max(np.abs(L).max(), 1e-300)
    f_scale = max(np.abs(F).max(), 1e-300)
    F_unit = F / f_scale
    from scipy.optimize import linprog  # here: runs never need it, and it loads slowly

    simplex = dict(A_eq=np.ones((1, A)), b_eq=[1.0], bounds=[(0.0, 1.0)] * A, method="highs")
    best: tuple[float, int, np.ndarray] | None = None
    for b in range(B):
        others = [c for c in range(B) if c != b]
        # Σ_a x_a (F[a, b'] − F[a, b]) <= 0 for every other b'.
        A_ub = (F_unit[:, others] - F_unit[:, [b]]).T if others else None
        b_ub = np.zeros(len(others)) if others else None
        result = linprog(-L_unit[:, b], A_ub=A_ub, b_ub=b_ub, **simplex)
        if result.status == 2:  # infeasible: b is a best response to no mix
            continue
        if result.status != 0:
            raise RuntimeError(
                f"the commitment LP for follower action {b} failed (status {result.status}: "
                f"{result.message})"
            )
        x = np.clip(result.x, 0.0, None)
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
    """The Stackelberg solution ``(a, b, L[a, b])`` of a one-shot game ``L, F (A, B)``, ``a`` seen.

    :func:`stackelberg_equilibrium` with ``H = 1``, ties in the leader's favour.
    """
    L, F = payoff_matrices(leader_payoffs, follower_payoffs)
    game = matrix_game(leader_payoffs=L, follower_payoffs=F, horizon=1)
    pi_l, pi_f, _ = stackelberg_equilibrium(game)
    a = int(pi_l[0, 0].argmax())
    b = int(pi_f[0, 0, a].argmax())
    return a, b, float(L[a, b])
