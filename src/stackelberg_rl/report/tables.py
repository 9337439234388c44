"""Tables from a run's results: cumulative regret, summaries, bands and log-log slopes.

Cumulative regret after ``n`` episodes is ``Σ eval_weight · regret`` over the evaluated episodes
among the first ``n``. Intervals over seeds are Student-t 95% intervals of the mean (NaN with one
seed); slopes against ``K`` are fitted per seed on log-log axes, then averaged over the seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._validate import confidence_level, integer
from ..equilibria.curve import loglog_slope, slope_interval
from ..montecarlo import t_half_width


def players(table: pd.DataFrame) -> tuple[str, ...]:
    """The players a table names: by its ``regret_*`` columns, else ``leader``, ``follower…``."""
    cols = [str(c) for c in table.columns]
    names = [c[7:] for c in cols if c.startswith("regret_") and not c.endswith("_ci")]
    return tuple(names or [c for c in cols if c == "leader" or c.startswith("follower")])


def certificate_players(table: pd.DataFrame) -> tuple[str, ...]:
    """The players of a CCSE certificate table (``equilibria.curve_table``), in order."""
    suffix = "_upper_initial"
    return tuple(str(c)[: -len(suffix)] for c in table.columns if str(c).endswith(suffix))


def player_label(player: str) -> str:
    """A player's column name as a reader sees it: ``follower_1`` is ``follower 1``."""
    return player.replace("_", " ")


def cumulative_regret(df: pd.DataFrame) -> pd.DataFrame:
    """Each seed's cumulative regret at the evaluated episodes of a results table ``df``.

    One row per seed and evaluated episode: ``seed``, ``episodes`` (``episode + eval_weight``,
    the episodes the sum covers), then one column per player (``leader``, ``follower``, …).
    """
    d = df[df["eval_weight"] > 0].sort_values(["seed", "episode"])
    out = pd.DataFrame({"seed": d["seed"], "episodes": d["episode"] + d["eval_weight"]})
    for player in players(df):
        out[player] = (d[f"regret_{player}"] * d["eval_weight"]).groupby(d["seed"]).cumsum()
    return out.reset_index(drop=True)


def episode_count(df: pd.DataFrame) -> int:
    """``K``, the episodes of a results table ``df`` (``ValueError`` if it has no rows)."""
    if df.empty:
        raise ValueError("df has no episodes: the results table is empty")
    return int(df["episode"].max()) + 1


def total_regret(df: pd.DataFrame) -> pd.DataFrame:
    """Each seed's total regret: one row per seed, ``seed``, ``leader``, ``follower``."""
    return cumulative_regret(df).groupby("seed")[list(players(df))].last().reset_index()


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Cumulative regret at ``K`` of each player: mean and 95% t-interval over seeds.

    One row per player: ``player, K, seeds, mean, half_width, low, high, std``.
    """
    final, K = total_regret(df), episode_count(df)
    rows = []
    for player in players(df):
        x = final[player].to_numpy()
        m, hw = slope_interval(x)  # the t-interval of the mean over independent seeds
        std = float(x.std(ddof=1)) if len(x) > 1 else np.nan
        rows.append([player, K, len(x), m, hw, m - hw, m + hw, std])
    return pd.DataFrame(rows, columns="player K seeds mean half_width low high std".split())


def learning_summary(df: pd.DataFrame) -> pd.DataFrame:
    """Mean per-episode regret in the first and last quarter of the episodes, per player.

    An evaluated episode stands for its ``eval_weight`` episodes from its own: it weighs by those
    in the quarter, so a quarter holding no evaluated episode still has the one standing for it.
    One row per player: ``player``, ``first_quarter``, ``last_quarter``, ``ratio`` (last / first).
    """
    K = episode_count(df)
    q = max(1, K // 4)
    d = df[df["eval_weight"] > 0]
    start, end = d["episode"], d["episode"] + d["eval_weight"]
    weights = [
        (np.minimum(end, hi) - np.maximum(start, lo)).clip(lower=0)
        for lo, hi in ((0, q), (K - q, K))
    ]
    rows = []
    for player in players(df):
        a, b = (
            np.average(d[f"regret_{player}"], weights=w) if w.sum() > 0 else np.nan for w in weights
        )
        rows.append([player, a, b, b / a if a > 0 else np.nan])
    return pd.DataFrame(rows, columns=["player", "first_quarter", "last_quarter", "ratio"])


def binned_regret(df: pd.DataFrame, bins: int = 50) -> pd.DataFrame:
    """Each seed's mean per-episode regret over windows of ``max(1, K // bins)`` episodes.

    One row per seed and window: ``seed``, ``episode`` (its centre), one column per player;
    ``bins`` is an integer ``>= 1``.
    """
    width = max(1, episode_count(df) // integer(bins, "bins", low=1))
    names = players(df)
    cols = [f"regret_{p}" for p in names]
    out = df.groupby([df["seed"], df["episode"] // width])[cols].mean().reset_index()
    out["episode"] = out["episode"] * width + (width - 1) / 2
    return out.rename(columns=dict(zip(cols, names, strict=True)))


def mean_band(values: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over seeds of ``values (n_points, n_seeds)`` and its t-interval, clipped to its range.

    Returns ``mean, low, high``, each ``(n_points,)``: ``max(mean − t·s/√n, min(values))`` and
    ``min(mean + t·s/√n, max(values))``; NaN with one seed. ``level`` lies in ``(0, 1)``.
    """
    values = np.asarray(values, dtype=float)
    mean, half = values.mean(axis=1), t_half_width(values, level)
    least, most = np.nanmin(values), np.nanmax(values)
    return mean, np.maximum(mean - half, least), np.minimum(mean + half, most)


@dataclass(frozen=True)
class SlopeFit:
    """The mean and 95% t-interval of each seed's log-log slope, fitted on ``points`` ``x``.

    ``slope`` is NaN without a slope, ``half_width`` NaN with fewer than two seeds.
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
        """``0.19 [0.15, 0.23]``, ``0.19`` without an interval, ``n/a`` without a slope."""
        if not math.isfinite(self.slope):
            return "n/a"
        if not math.isfinite(self.half_width):
            return f"{self.slope:.2f}"
        return f"{self.slope:.2f} [{self.low:.2f}, {self.high:.2f}]"


def loglog_fit(table: pd.DataFrame, column: str, x: str = "K", level: float = 0.95) -> SlopeFit:
    """The slope of ``log(column)`` on ``log(x)`` per seed, and its t-interval over the seeds.

    ``table`` has one row per ``x`` and seed (columns ``x``, ``seed``, ``column``). Only seeds
    present at every ``x`` and with positive values count, and only positive ``x`` (a sweep
    over ``β`` may hold ``β = 0``, which has no logarithm); NaN with fewer than two ``x``.
    ``level`` lies in ``(0, 1)``, also when too few slopes leave no interval.
    """
    level = confidence_level(level)
    table = table[table[x] > 0]
    wide = table.pivot_table(index=x, columns="seed", values=column, aggfunc="mean").dropna(axis=1)
    xs = wide.index.to_numpy(dtype=float)
    slopes = [loglog_slope(xs, wide[s].to_numpy(dtype=float)) for s in wide.columns]
    slopes = [s for s in slopes if math.isfinite(s)]
    return SlopeFit(*slope_interval(slopes, level), tuple(slopes), len(xs))
