"""The soft-max bias of a run: how much of its regret soft-max play costs even on the true model.

A run's results record the ``α_l``, ``α_f`` in force in every episode (columns ``alpha_l``,
``alpha_f``; constant with the fixed-K ``α``, growing with the anytime one, held between plans
with rare switching). The bias of episode ``k`` is the expected regret of soft-max play with those
``α`` planned on the true model (:func:`~stackelberg_rl.planning.softmax_bias`, ``β = 0``), and
Lemmas 2 and 4 bound it by ``H·log|A|/α_l`` and ``H·log|B|/α_f``
(:func:`~stackelberg_rl.planning.softmax_bias_bound`). Summed like regret
(``Σ eval_weight · bias`` over the evaluated episodes), it is the part of a run's regret that
learning cannot remove; the rest is the cost of not knowing the game.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..games import FiniteGame
from ..planning import softmax_bias, softmax_bias_bound
from .tables import PLAYERS

BiasCache = dict
"""``{(game fingerprint, α_l, α_f): (bias (2,), bound (2,))}``, shared between runs of one game."""

_COLUMNS = [f"{what}_{p}" for what in ("bias", "bound") for p in PLAYERS]
"""Both players' bias, then both bounds."""


def _pair(game: FiniteGame, fingerprint: str, alpha_l: float, alpha_f: float, cache: BiasCache):
    key = (fingerprint, float(alpha_l), float(alpha_f))
    if key not in cache:
        cache[key] = (
            softmax_bias(game, alpha_l, alpha_f),
            softmax_bias_bound(game, alpha_l, alpha_f),
        )
    return cache[key]


def episode_bias(
    game: FiniteGame, df: pd.DataFrame, cache: BiasCache | None = None
) -> pd.DataFrame:
    """The soft-max bias and its bound in every evaluated episode of a run.

    Args:
        game: the run's (finite) game.
        df: its results table (columns ``seed``, ``episode``, ``eval_weight``, ``alpha_l``,
            ``alpha_f``).
        cache: reused between calls (each distinct pair of ``α`` is planned once).

    Returns:
        One row per evaluated episode: ``seed``, ``episode``, ``eval_weight``, and
        ``bias_leader``, ``bias_follower``, ``bound_leader``, ``bound_follower`` per episode.

    Raises:
        ValueError: the run has no ``α`` (a ``random`` or ``oracle`` baseline: NaN columns).
    """
    cache = {} if cache is None else cache
    d = df[df["eval_weight"] > 0]
    alphas = d[["alpha_l", "alpha_f"]].to_numpy(dtype=float)
    if np.isnan(alphas).any():
        raise ValueError("the run records no soft-max α (a baseline that does not learn)")
    pairs, index = np.unique(alphas, axis=0, return_inverse=True)
    fingerprint = game.fingerprint()
    table = np.array(
        [np.concatenate(_pair(game, fingerprint, al, af, cache)) for al, af in pairs]
    )  # (n, 4): both players' bias, then both bounds
    values = table[np.ravel(index)]
    out = d[["seed", "episode", "eval_weight"]].reset_index(drop=True)
    out[_COLUMNS] = values
    return out


def run_bias(game: FiniteGame, df: pd.DataFrame, cache: BiasCache | None = None) -> pd.DataFrame:
    """Each seed's total soft-max bias and Lemma 2's bound on it, summed like regret.

    Returns:
        One row per seed: ``seed``, ``bias_leader``, ``bias_follower``, ``bound_leader``,
        ``bound_follower`` (``Σ eval_weight · value`` over the evaluated episodes).
    """
    return seed_totals(episode_bias(game, df, cache))


def seed_totals(per_episode: pd.DataFrame) -> pd.DataFrame:
    """:func:`episode_bias`'s rows summed per seed like regret, ``Σ eval_weight · value``."""
    weighted = per_episode[_COLUMNS].mul(per_episode["eval_weight"], axis=0)
    return weighted.groupby(per_episode["seed"]).sum().reset_index()
