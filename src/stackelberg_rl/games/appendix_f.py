"""The paper's Appendix F: why a greedy follower breaks the leader's covering argument.

Two ``2×2`` tables of action values ``(Q_l, Q_f)``, ``ε``-close (:func:`tables`): a greedy
follower's ``q_l(x, a₁)`` is ``0`` with Table 1 and ``M`` with Table 2, however small ``ε``; a
soft-max follower's moves by at most :func:`marginal_bound` (math.md §4, where the paper's
sentence after the tables has them the other way round). The ``appendix-f`` game is either table.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from typing import Literal

import numpy as np

from ._params import checked, param
from .base import FiniteGame
from .matrix import repeated_bimatrix
from .registry import register


@dataclass(frozen=True)
class AppendixFParams:
    """Parameters of ``appendix-f``."""

    M: float = param(
        4.0, "The leader's large payoff M > 0 (the jump of a greedy follower's q_l).", gt=0.0
    )
    eps: float = param(
        0.1, "ε in (0, 1], the sup-norm distance between the two tables.", gt=0.0, le=1.0
    )
    table: Literal[1, 2] = param(
        1,
        "Which table is the game: 1 (a greedy follower answers a₁ with b₂) or 2 (with b₁).",
        ge=1,
        le=2,
    )
    horizon: int = param(1, "H, times the 2×2 stage is played (one state).", ge=1)


def tables(M: float, eps: float) -> np.ndarray:
    """Both tables in the paper's units: ``(table, player, a, b)``, ``M > 0``, ``ε ∈ (0, 1]``."""
    M, eps = astuple(checked(AppendixFParams, M, eps))[:2]
    table_1 = [[[M - eps, 0.0], [0.0, 0.0]], [[1 - eps / 2, 1 + eps / 2], [1.0, 1 - eps / 2]]]
    table_2 = [[[M, 0.0], [0.0, 0.0]], [[1 + eps / 2, 1 - eps / 2], [1 + eps / 2, 1 - eps / 2]]]
    return np.array([table_1, table_2])


def marginal_bound(alpha_f: float, M: float, eps: float, dt: float = 1.0) -> float:
    """How far soft-max ``q_l`` can move when ``t`` moves by ``dt``: ``dt·ε·(1 + 2α_f·max|Q_l|)``.

    Along the segment ``‖ΔQ_l‖∞ = ‖ΔQ_f‖∞ = dt·ε`` and ``max|Q_l| = max(M, |M − ε|)``. With
    ``q_l = Σ_b π_f(b) Q_l(b)``, ``|Δq_l| ≤ ‖ΔQ_l‖∞ + max|Q_l|·‖Δπ_f‖₁``, and
    ``z ↦ softmax(αz)`` is ``2α``-Lipschitz from the sup norm to ℓ1 (math.md §4).
    """
    M, eps = astuple(checked(AppendixFParams, M, eps))[:2]
    return float(dt * eps * (1.0 + 2.0 * alpha_f * max(M, abs(M - eps))))


@register("appendix-f", AppendixFParams, nbytes=lambda p: 8 * (16 + 24 * p.horizon))
def appendix_f_game(**params) -> FiniteGame:
    """Appendix F's 2×2 example: one of its two ε-close tables as a one-state game.

    Both tables are divided by ``game.payoff_scale = max(M, 1 + ε/2)``, their largest entry, so
    the two games stay ``ε / payoff_scale``-close. Features are one-hot (``d = 4``).
    """
    M, eps, table, H = astuple(checked(AppendixFParams, **params))
    Q = tables(M, eps)[table - 1]
    name = f"appendix-f(M={M:g},eps={eps:g},table={table},H={H})"
    return repeated_bimatrix(Q[0], Q[1], H, max(M, 1 + eps / 2), name)
