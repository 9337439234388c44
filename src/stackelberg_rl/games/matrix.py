"""Bimatrix games repeated over ``H`` steps: the ``matrix`` game.

Any bimatrix game, both ``(A, B)`` on any scale, becomes a one-state game played ``H`` times,
divided by ``game.payoff_scale = max |entry|``. The follower sees the leader's *action*, so the
Stackelberg solution (math.md §2) is the pure-commitment one; the leader committing to a *mixed*
strategy is :func:`stackelberg_rl.planning.mixed_commitment`.

Example:
    >>> from stackelberg_rl import games
    >>> g = games.make("matrix", leader_payoffs="2,4;1,3", follower_payoffs="1,0;0,1")
    >>> g.n_leader_actions, g.n_follower_actions, g.payoff_scale
    (2, 2, 4.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._params import checked, param, parse_given, parse_payoffs
from .base import FiniteGame
from .random import one_hot_features
from .registry import register

PRESETS: dict[str, tuple] = {
    # Conitzer & Sandholm (2006), "Computing the optimal strategy to commit to", EC'06, §1: the
    # leader's first action dominates, yet committing to the second earns 3 (pure commitment)
    # and to the even mix earns 3.5.
    "commitment": (((2.0, 4.0), (1.0, 3.0)), ((1.0, 0.0), (0.0, 1.0))),
    # Prisoner's dilemma (cooperate, defect), payoffs (3, 3), (0, 5), (5, 0), (1, 1).
    "prisoners-dilemma": (((3.0, 0.0), (5.0, 1.0)), ((3.0, 5.0), (0.0, 1.0))),
    # Matching pennies: zero-sum; the leader wins on a match. Mixed commitment earns 0, pure -1.
    "matching-pennies": (((1.0, -1.0), (-1.0, 1.0)), ((-1.0, 1.0), (1.0, -1.0))),
    # Battle of the sexes: coordination with opposed favourites.
    "battle-of-the-sexes": (((2.0, 0.0), (0.0, 1.0)), ((1.0, 0.0), (0.0, 2.0))),
}
"""Named bimatrix games ``(leader_payoffs, follower_payoffs)`` for ``--param preset=NAME``."""


@dataclass(frozen=True)
class MatrixParams:
    """Parameters of ``matrix``: a named preset, or the two payoff matrices."""

    preset: str | None = param(
        None,
        "A named game: commitment, prisoners-dilemma, matching-pennies, battle-of-the-sexes "
        "(commitment when no payoffs are given). Not together with the payoffs.",
    )
    leader_payoffs: str | tuple | None = param(
        None,
        "The leader's payoffs (A, B), any scale: rows separated by ';', entries by ',' (e.g. "
        "2,4;1,3), or nested sequences from Python.",
    )
    follower_payoffs: str | tuple | None = param(
        None, "The follower's payoffs (A, B), in the same form as leader_payoffs."
    )
    horizon: int = param(1, "H, times the game is repeated (one state).", ge=1)

    def __post_init__(self) -> None:
        parse_given(self, ("leader_payoffs", "follower_payoffs"), 2)


def _matrix_bytes(p: MatrixParams) -> int:
    """Features ``(1, A, B, A·B)``, and the dense and factored model: ``6·H·A·B`` more entries."""
    d = 4 if p.leader_payoffs is None else len(p.leader_payoffs) * len(p.leader_payoffs[0])
    return 8 * (d * d + 6 * p.horizon * d)


def repeated_bimatrix(leader, follower, horizon: int, payoff_scale: float, name: str) -> FiniteGame:
    """The bimatrix over ``payoff_scale``, ``horizon`` times: one-hot features, both forms."""
    A, B = leader.shape
    r = np.stack([leader, follower]) / payoff_scale  # (2, A, B)
    game = FiniteGame(
        one_hot_features(1, A, B),
        np.ones(1),
        transitions=np.ones((horizon, 1, A, B, 1)),
        rewards=np.broadcast_to(r[:, None, None], (2, horizon, 1, A, B)),
        mu=np.ones((horizon, A * B, 1)),
        theta=np.broadcast_to(r.reshape(2, 1, A * B), (2, horizon, A * B)),
        name=name,
    )
    game.payoff_scale = float(payoff_scale)
    return game


def payoff_matrices(leader_payoffs: object, follower_payoffs: object) -> tuple[np.ndarray, ...]:
    """Both payoff matrices as ``(A, B)`` float arrays, from arrays, sequences or strings."""
    L = np.array(parse_payoffs("leader_payoffs", leader_payoffs, 2))
    F = np.array(parse_payoffs("follower_payoffs", follower_payoffs, 2))
    if L.shape != F.shape:
        raise ValueError(
            f"follower_payoffs has shape {F.shape}, leader_payoffs has {L.shape}: "
            "both must be (A, B)"
        )
    return L, F


@register("matrix", MatrixParams, nbytes=_matrix_bytes)
def matrix_game(**params) -> FiniteGame:
    """Any bimatrix game, rescaled into [-1, 1] and repeated over H steps (one state).

    ``d = A·B`` (tabular); ``payoff_scale`` is the largest absolute payoff (1 if all are zero).

    Raises:
        ValueError: an unknown preset, a preset with payoffs, one matrix without the other, or
            matrices of different shapes.
    """
    p = checked(MatrixParams, **params)
    given = (p.leader_payoffs is not None, p.follower_payoffs is not None)
    if p.preset is not None and any(given):
        raise ValueError("give either preset or leader_payoffs and follower_payoffs, not both")
    if given[0] != given[1]:
        missing = "follower_payoffs" if given[0] else "leader_payoffs"
        raise ValueError(f"{missing} is missing: give both payoff matrices")
    label, payoffs = "custom", (p.leader_payoffs, p.follower_payoffs)
    if not any(given):
        label = "commitment" if p.preset is None else p.preset
        if label not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {label!r}")
        payoffs = PRESETS[label]
    L, F = payoff_matrices(*payoffs)
    scale = float(max(np.abs(L).max(), np.abs(F).max())) or 1.0
    name = f"matrix({label},A={L.shape[0]},B={L.shape[1]},H={p.horizon})"
    return repeated_bimatrix(L, F, p.horizon, scale, name)
