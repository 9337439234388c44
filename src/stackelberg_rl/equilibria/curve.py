"""The certificate of a run's mixture against ``K`` (prefixes of the run), and its rate.

Corollary 1 bounds the mixture's ``ε`` by ``Õ(√(d³H⁴/K))``. The mixture of a run's first ``K``
episodes is its ``K``-episode CCSE, so one run gives the whole curve; the rate is the slope of
``log(upper)`` on ``log K``, its interval over seeds (the prefixes of one run are nested).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import _validate
from ..experiments import load_run
from ..games.base import player_names
from ..montecarlo import t_half_width
from .ccse import CCSE, is_zero_sum
from .certificate import Certificate, certificate, episode_gaps, zero_sum_gap


def prefix_sizes(episodes: int, points: int = 5, ratio: float = 16.0) -> list[int]:
    """``points`` distinct integers ``≥ 1``, geometric from ``episodes / ratio`` to ``episodes``.

    ``prefix_sizes(16000)`` is ``[1000, 2000, 4000, 8000, 16000]``; fewer where sizes round to the
    same integer, ``[episodes]`` alone for ``points = 1`` or ``ratio = 1``.
    """
    episodes = _validate.integer(episodes, "episodes", low=1)
    points = _validate.integer(points, "points", low=1)
    ratio = _validate.real(ratio, "ratio", low=1.0)
    sizes = np.geomspace(max(1.0, episodes / ratio), episodes, points) if points > 1 else []
    return sorted({max(1, int(round(k))) for k in sizes} | {int(episodes)})


@dataclass(frozen=True)
class CurvePoint:
    """The certificate of the mixture of a run's first ``episodes`` episodes.

    ``zero_sum``: in a zero-sum game :func:`~.certificate.zero_sum_gap`, else ``None``.
    """

    episodes: int
    certificate: Certificate
    zero_sum: dict | None

    def row(self) -> dict:
        """``K``, each bound of each player (``leader_lower_initial``, …), then zero-sum's."""
        c = self.certificate
        out: dict = {"episodes": self.episodes}
        for m, who in enumerate(player_names(len(c.upper_initial))):
            for bound in ("lower_initial", "upper_initial", "lower_worst", "upper_worst"):
                out[f"{who}_{bound}"] = float(getattr(c, bound)[m])
        if self.zero_sum is not None:
            out.update(self.zero_sum)
        return out


def certificate_curve(
    ccse: CCSE,
    sizes: list[int] | None = None,
    *,
    single_episodes: int = 8,
    seed: int = 0,
    progress=None,
) -> list[CurvePoint]:
    """The certificate of the mixture of each prefix of the run (a finite game).

    ``sizes``: the prefixes (default :func:`prefix_sizes` of ``K``); ``single_episodes``,
    ``seed``: as :func:`~.certificate.certificate`; ``progress``: called with the number of
    prefixes done (``0`` once the tables are made). Returns a :class:`CurvePoint` per size.
    """
    sizes = prefix_sizes(ccse.episodes) if sizes is None else sorted({int(k) for k in sizes})
    tables, zero_sum = ccse.tables(max(sizes)), is_zero_sum(ccse.game)
    progress, out = progress or (lambda done: None), []
    for K in sizes:
        progress(len(out))
        prefix = [pi[:K] for pi in tables]
        cert = certificate(ccse.game, *prefix, single_episodes=single_episodes, seed=seed)
        out.append(CurvePoint(K, cert, zero_sum_gap(ccse.game, cert) if zero_sum else None))
    progress(len(out))
    return out


def curve_table(
    run_dir: str | os.PathLike,
    sizes: list[int] | None = None,
    *,
    single_episodes: int = 8,
    game=None,
) -> pd.DataFrame:
    """Every seed's :func:`certificate_curve` of a run saved with its plans, as one table.

    One row per seed and prefix: ``seed``, ``episodes`` and the columns of
    :meth:`CurvePoint.row` (``leader_upper_initial`` …, and in a zero-sum game
    ``value_gap_initial`` …). The same prefixes for every seed (default :func:`prefix_sizes`).
    """
    seeds = load_run(run_dir)[1].get("seeds") or []
    rows = []
    for s in seeds:
        ccse = CCSE.from_run(run_dir, s, game=game)
        game, sizes = ccse.game, prefix_sizes(ccse.episodes) if sizes is None else sizes
        curve = certificate_curve(ccse, sizes, single_episodes=single_episodes)
        rows += [{"seed": s, **point.row()} for point in curve]
    return pd.DataFrame(rows)


def upper_bound_curve(ccse: CCSE, sizes: list[int]) -> np.ndarray:
    """The upper bounds alone at each prefix: ``(len(sizes), 1+N, 2)``.

    ``[j, m, 0]`` at the initial distribution and ``[j, m, 1]`` at the worst state, for player
    ``m`` (0 leader, then the followers) and the first ``sizes[j]`` episodes: running means of
    :func:`~.certificate.episode_gaps`, one pass over the episodes.
    """
    sizes = sorted({int(k) for k in sizes})
    gaps = episode_gaps(ccse.game, *ccse.tables(max(sizes)))  # (K, 1+N, S)
    running = np.cumsum(gaps, axis=0)
    p0 = ccse.game.initial_distribution
    out = np.empty((len(sizes), ccse.game.n_players, 2))
    for j, K in enumerate(sizes):
        mean = running[K - 1] / K  # (1+N, S)
        out[j, :, 0], out[j, :, 1] = mean @ p0, mean.max(axis=1)
    return out


def loglog_slope(sizes, values) -> float:
    """The least-squares slope of ``log(values)`` on ``log(sizes)`` (``−½``: ``∝ 1/√K``).

    NaN if fewer than two points, or a value that is not positive (an upper bound of 0 is
    already an equilibrium: no rate to speak of).
    """
    x, y = np.asarray(sizes, dtype=float), np.asarray(values, dtype=float)
    if len(x) < 2 or not (y > 0).all() or len(np.unique(x)) < 2:
        return math.nan
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def slope_interval(slopes, level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of a Student-t interval over independent runs' slopes.

    ``(mean, NaN)`` with a single slope; NaN slopes are left out.
    """
    s = np.asarray([v for v in slopes if math.isfinite(v)], dtype=float)
    if len(s) == 0:
        return math.nan, math.nan
    if len(s) == 1:
        return float(s[0]), math.nan
    return float(s.mean()), float(t_half_width(s, level))
