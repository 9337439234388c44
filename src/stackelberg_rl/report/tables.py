"""Tables and plots from a run's results (plotting only reads them).

Cumulative regret of a seed after ``n`` episodes is ``Σ eval_weight · regret`` over the evaluated
episodes among the first ``n`` (every episode when ``eval_every = 1``; see
:mod:`stackelberg_rl.experiments`). Intervals over seeds are Student-t 95% intervals of the mean;
with one seed they are undefined (NaN) and plots draw no band. A band drawn around a curve is
that interval clipped to the range of the data it summarises (:func:`mean_band`): with few seeds
the t quantile is large, and a band below the smallest regret any seed had (often below zero)
would only mislead.

Regret against ``K`` is fitted on log-log axes (:func:`loglog_fit`): each seed's least-squares
slope of ``log(total regret)`` on ``log K``, and the mean and 95% t-interval of those slopes over
the seeds (independent runs; a seed's points at different ``K`` may share their first episodes,
the seeds do not).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..equilibria.curve import loglog_slope, slope_interval

PLAYERS = ("leader", "follower")


def cumulative_regret(df: pd.DataFrame) -> pd.DataFrame:
    """Each seed's cumulative regret at the evaluated episodes.

    Args:
        df: a results table (columns ``seed``, ``episode``, ``regret_*``, ``eval_weight``).

    Returns:
        One row per seed and evaluated episode: ``seed``, ``episodes`` (how many episodes the sum
        covers: ``episode + eval_weight``), ``leader``, ``follower``.
    """
    d = df[df["eval_weight"] > 0].sort_values(["seed", "episode"])
    out = pd.DataFrame({"seed": d["seed"], "episodes": d["episode"] + d["eval_weight"]})
    for player in PLAYERS:
        weighted = d[f"regret_{player}"] * d["eval_weight"]
        out[player] = weighted.groupby(d["seed"]).cumsum()
    return out.reset_index(drop=True)


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Cumulative regret at ``K`` of each player: mean and 95% t-interval over seeds.

    Returns:
        One row per player, columns ``player``, ``K``, ``seeds``, ``mean``, ``half_width``,
        ``low``, ``high``, ``std``.
    """
    final, K = total_regret(df), int(df["episode"].max()) + 1
    rows = []
    for player in PLAYERS:
        x = final[player].to_numpy()
        m, hw = slope_interval(x)  # the t-interval of the mean over independent seeds
        std = float(x.std(ddof=1)) if len(x) > 1 else np.nan
        row = dict(player=player, K=K, seeds=len(x), mean=m, half_width=hw, low=m - hw)
        rows.append(row | {"high": m + hw, "std": std})
    return pd.DataFrame(rows)


def learning_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean per-episode regret in the first and the last quarter of the episodes, per player.

    Evaluated episodes only (NaN rows are skipped). Falling regret shows learning.

    Returns:
        One row per player: ``player``, ``first_quarter``, ``last_quarter``, ``ratio``
        (last / first).
    """
    K = int(df["episode"].max()) + 1
    q = max(1, K // 4)
    first, last = df[df["episode"] < q], df[df["episode"] >= K - q]
    rows = []
    for player in PLAYERS:
        a, b = first[f"regret_{player}"].mean(), last[f"regret_{player}"].mean()
        ratio = b / a if a > 0 else np.nan
        rows.append(dict(player=player, first_quarter=a, last_quarter=b, ratio=ratio))
    return pd.DataFrame(rows)


def binned_regret(df: pd.DataFrame, bins: int = 50) -> pd.DataFrame:
    """Each seed's mean per-episode regret over consecutive windows of episodes.

    Args:
        df: a results table.
        bins: number of windows (each ``max(1, K // bins)`` episodes wide).

    Returns:
        One row per seed and window: ``seed``, ``episode`` (the window's centre), ``leader``,
        ``follower`` (means over the evaluated episodes of the window).
    """
    K = int(df["episode"].max()) + 1
    width = max(1, K // bins)
    window = df["episode"] // width
    cols = [f"regret_{p}" for p in PLAYERS]
    out = df.groupby([df["seed"], window])[cols].mean().reset_index()
    out["episode"] = out["episode"] * width + (width - 1) / 2
    return out.rename(columns=dict(zip(cols, PLAYERS, strict=True)))


def mean_band(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds and its t-interval, clipped to the range of ``values``.

    Args:
        values: ``(n_points, n_seeds)``, e.g. cumulative regret at each episode (rows) of each
            seed (columns).
        level: the interval's level.

    Returns:
        ``mean, low, high``, each ``(n_points,)``: ``low = max(mean − t·s/√n, min(values))`` and
        ``high = min(mean + t·s/√n, max(values))``, minimum and maximum over every entry. With one
        seed ``low`` and ``high`` are NaN (no interval).
    """
    values = np.asarray(values, dtype=float)
    mean = values.mean(axis=1)
    n = values.shape[1]
    half = stats.t.ppf(0.5 + level / 2, n - 1) * stats.sem(values, axis=1) if n > 1 else np.nan
    lowest, highest = np.nanmin(values), np.nanmax(values)
    return mean, np.maximum(mean - half, lowest), np.minimum(mean + half, highest)


def total_regret(df: pd.DataFrame) -> pd.DataFrame:
    """Each seed's total regret over the run, ``Σ eval_weight · regret``.

    Returns:
        One row per seed: ``seed``, ``leader``, ``follower``.
    """
    return cumulative_regret(df).groupby("seed")[list(PLAYERS)].last().reset_index()


@dataclass(frozen=True)
class SlopeFit:
    """A log-log slope over seeds: each seed's slope, their mean and 95% t-interval.

    Attributes:
        slope: the mean of the seeds' slopes (NaN if none could be fitted).
        half_width: the t-interval's half-width (NaN with fewer than two seeds).
        per_seed: each seed's slope.
        points: how many ``K`` each slope is fitted on.
    """

    slope: float
    half_width: float
    per_seed: tuple[float, ...]
    points: int

    @property
    def low(self) -> float:
        """The interval's lower end."""
        return self.slope - self.half_width

    @property
    def high(self) -> float:
        """The interval's upper end."""
        return self.slope + self.half_width

    def text(self) -> str:
        """``0.19 [0.15, 0.23]``, or ``0.19`` without an interval."""
        if not math.isfinite(self.slope):
            return "n/a"
        if not math.isfinite(self.half_width):
            return f"{self.slope:.2f}"
        return f"{self.slope:.2f} [{self.low:.2f}, {self.high:.2f}]"


def loglog_fit(table: pd.DataFrame, column: str, x: str = "K", level: float = 0.95) -> SlopeFit:
    """The slope of ``log(column)`` on ``log(x)`` per seed, and its t-interval over the seeds.

    Only the seeds present at every ``x`` are used, each fitted by least squares on all the ``x``
    (:func:`~stackelberg_rl.equilibria.loglog_slope`; a seed with a value that is not positive
    has no slope and is left out), and the interval is
    :func:`~stackelberg_rl.equilibria.slope_interval`'s.

    Args:
        table: one row per ``x`` and seed, columns ``x``, ``seed`` and ``column``.
        column: the values, e.g. ``leader`` (total regret).
        x: the abscissa, e.g. ``K``.
        level: the interval's level.

    Returns:
        The fit; its slope is NaN with fewer than two distinct ``x``.
    """
    wide = table.pivot_table(index=x, columns="seed", values=column, aggfunc="mean").dropna(axis=1)
    xs = wide.index.to_numpy(dtype=float)
    slopes = [loglog_slope(xs, wide[s].to_numpy(dtype=float)) for s in wide.columns]
    slopes = [s for s in slopes if math.isfinite(s)]
    slope, half = slope_interval(slopes, level)
    return SlopeFit(slope, half, tuple(slopes), len(xs))
