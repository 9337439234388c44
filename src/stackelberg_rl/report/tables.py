"""Tables and plots from a run's results (plotting only reads them).

Cumulative regret of a seed after ``n`` episodes is ``Σ eval_weight · regret`` over the evaluated
episodes among the first ``n`` (every episode when ``eval_every = 1``; see
:mod:`stackelberg_rl.experiments`). Intervals over seeds are Student-t 95% intervals of the mean;
with one seed they are undefined (NaN) and plots draw no band.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

PLAYERS = ("leader", "follower")


def _t_half_width(values: np.ndarray, axis: int = 0, level: float = 0.95) -> np.ndarray:
    """Half-width of the Student-t interval of the mean along ``axis`` (NaN for one sample)."""
    n = values.shape[axis]
    if n < 2:
        return np.full(np.delete(values.shape, axis), np.nan)
    sem = values.std(axis=axis, ddof=1) / np.sqrt(n)
    return stats.t.ppf(0.5 + level / 2, n - 1) * sem


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
    cum = cumulative_regret(df)
    final = cum.groupby("seed").last()
    rows = []
    for player in PLAYERS:
        x = final[player].to_numpy()
        hw = float(_t_half_width(x))
        m = float(x.mean())
        rows.append(
            {
                "player": player,
                "K": int(df["episode"].max()) + 1,
                "seeds": len(x),
                "mean": m,
                "half_width": hw,
                "low": m - hw,
                "high": m + hw,
                "std": float(x.std(ddof=1)) if len(x) > 1 else np.nan,
            }
        )
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
        rows.append(
            {
                "player": player,
                "first_quarter": a,
                "last_quarter": b,
                "ratio": b / a if a > 0 else np.nan,
            }
        )
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
