"""Bimatrix games repeated over ``H`` steps: the ``matrix`` game.

Any bimatrix game ``(leader_payoffs, follower_payoffs)``, both ``(A, B)`` and on any scale, becomes
a leader-follower Markov game with one state, played ``H`` times. Payoffs are divided by
``payoff_scale = max |entry|`` of the two matrices so that rewards lie in ``[-1, 1]``; the game
keeps the scale (``game.payoff_scale``) so values can be read in the original units.

With one state the follower sees the leader's *action* before answering, so the Stackelberg
solution of math.md §2 is the pure-commitment one. The classic model in which the leader commits
to a *mixed* strategy and the follower sees only the strategy is
:func:`stackelberg_rl.planning.mixed_commitment`; :func:`stackelberg_rl.planning.pure_commitment`
gives the value of observing the action, for comparison.

Example:
    >>> from stackelberg_rl import games
    >>> g = games.make("matrix", leader_payoffs="2,4;1,3", follower_payoffs="1,0;0,1")
    >>> g.n_leader_actions, g.n_follower_actions, g.payoff_scale
    (2, 2, 4.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._params import parse_matrix, sizes
from .base import FiniteGame
from .random import one_hot_features
from .registry import register

PRESETS: dict[str, tuple[tuple[tuple[float, ...], ...], tuple[tuple[float, ...], ...]]] = {
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

DEFAULT_PRESET = "commitment"


@dataclass(frozen=True)
class MatrixParams:
    """Parameters of ``matrix``: a named preset, or the two payoff matrices."""

    preset: str | None = None
    """A named game: commitment, prisoners-dilemma, matching-pennies, battle-of-the-sexes
    (commitment when no payoffs are given). Not together with the payoffs."""
    leader_payoffs: str | tuple | None = None
    """The leader's payoffs (A, B), any scale: rows separated by ';', entries by ','
    (e.g. 2,4;1,3), or nested sequences from Python."""
    follower_payoffs: str | tuple | None = None
    """The follower's payoffs (A, B), in the same form as leader_payoffs."""
    horizon: int = 1
    """H, times the game is repeated (one state)."""

    def __post_init__(self) -> None:
        # Arrays and strings become tuples of floats: the provenance stays plain data.
        for name in ("leader_payoffs", "follower_payoffs"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, parse_matrix(name, value))


def _matrix_bytes(p: MatrixParams) -> int:
    """Features ``(1, A, B, A·B)``, and the dense and factored model: ``6·H·A·B`` more entries."""
    if p.leader_payoffs is not None:
        A, B = len(p.leader_payoffs), len(p.leader_payoffs[0])
    else:
        A, B = 2, 2
    d = A * B
    return 8 * (d * d + 6 * p.horizon * d)


def repeated_bimatrix(
    leader_payoffs: np.ndarray,
    follower_payoffs: np.ndarray,
    horizon: int,
    payoff_scale: float,
    name: str,
) -> FiniteGame:
    """A one-state game that plays the bimatrix ``horizon`` times, in dense and factored form.

    Features are one-hot in ``(a, b)`` (``d = A·B``), ``mu_h`` is all ones (the only state
    follows every pair) and ``theta_{m,h}`` is the flattened payoff matrix over
    ``payoff_scale``, so the game is declared linear and checked as such on construction.

    Args:
        leader_payoffs: ``(A, B)``.
        follower_payoffs: ``(A, B)``.
        horizon: ``H``.
        payoff_scale: the divisor bringing the payoffs into ``[-1, 1]`` (kept on the game).
        name: the game's label.
    """
    A, B = leader_payoffs.shape
    r = np.stack([leader_payoffs, follower_payoffs]) / payoff_scale  # (n_players, A, B)
    m = len(r)
    rewards = np.broadcast_to(r[:, None, None], (m, horizon, 1, A, B))
    game = FiniteGame(
        one_hot_features(1, A, B),
        np.ones(1),
        transitions=np.ones((horizon, 1, A, B, 1)),
        rewards=rewards,
        mu=np.ones((horizon, A * B, 1)),
        theta=np.broadcast_to(r.reshape(m, 1, A * B), (m, horizon, A * B)),
        name=name,
    )
    game.payoff_scale = float(payoff_scale)
    return game


def resolve_payoffs(
    preset: str | None, leader_payoffs: object, follower_payoffs: object
) -> tuple[np.ndarray, np.ndarray, str]:
    """The two ``(A, B)`` payoff matrices and a label, from a preset or the given arrays.

    Raises:
        ValueError: for an unknown preset, a preset given with payoffs, one payoff matrix
            without the other, or matrices of different shapes.
    """
    given = (leader_payoffs is not None, follower_payoffs is not None)
    if preset is not None and any(given):
        raise ValueError("give either preset or leader_payoffs and follower_payoffs, not both")
    if given[0] != given[1]:
        missing = "follower_payoffs" if given[0] else "leader_payoffs"
        raise ValueError(f"{missing} is missing: give both payoff matrices")
    if not any(given):
        preset = DEFAULT_PRESET if preset is None else preset
        if preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
        leader_payoffs, follower_payoffs = PRESETS[preset]
        label = preset
    else:
        label = "custom"
    L, F = payoff_matrices(leader_payoffs, follower_payoffs)
    return L, F, label


def payoff_matrices(
    leader_payoffs: object, follower_payoffs: object
) -> tuple[np.ndarray, np.ndarray]:
    """Both payoff matrices as ``(A, B)`` float arrays, from arrays, sequences or strings.

    Raises:
        ValueError: naming the matrix for a shape that is not ``(A, B)``, a non-finite entry
            (with its index), or matrices of different shapes.
    """
    L = np.array(parse_matrix("leader_payoffs", leader_payoffs))
    F = np.array(parse_matrix("follower_payoffs", follower_payoffs))
    if L.shape != F.shape:
        raise ValueError(
            f"follower_payoffs has shape {F.shape}, leader_payoffs has {L.shape}: "
            "both must be (A, B)"
        )
    return L, F


@register("matrix", MatrixParams, nbytes=_matrix_bytes)
def matrix_game(
    preset: str | None = None,
    leader_payoffs: object = None,
    follower_payoffs: object = None,
    horizon: int = 1,
) -> FiniteGame:
    """Any bimatrix game, rescaled into [-1, 1] and repeated over H steps (one state).

    Args:
        preset: a name in :data:`PRESETS` (``"commitment"`` when no payoffs are given).
        leader_payoffs: ``(A, B)`` the leader's payoffs, on any scale (array, nested sequences,
            or a string ``"2,4;1,3"``).
        follower_payoffs: ``(A, B)`` the follower's payoffs.
        horizon: ``H``.

    Returns:
        A one-state game with ``S = 1``, ``d = A·B`` (tabular), rewards
        ``payoffs / payoff_scale`` where ``payoff_scale`` is the largest absolute payoff (1 if
        all are zero), kept as ``game.payoff_scale``.
    """
    (horizon,) = sizes(horizon=horizon)
    L, F, label = resolve_payoffs(preset, leader_payoffs, follower_payoffs)
    scale = float(max(np.abs(L).max(), np.abs(F).max()))
    scale = scale if scale > 0 else 1.0
    A, B = L.shape
    return repeated_bimatrix(L, F, horizon, scale, f"matrix({label},A={A},B={B},H={horizon})")
