"""Plots of a run's results (they only read the results table)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from .tables import PLAYERS, _t_half_width, binned_regret, cumulative_regret


def _mean_and_band(ax, table: pd.DataFrame, color: str) -> None:
    """Mean over the columns (seeds) of ``table`` and its 95% band, against its index."""
    x, values = table.index.to_numpy(dtype=float), table.to_numpy()
    mean = values.mean(axis=1)
    ax.plot(x, mean, color=color, label="mean")
    hw = _t_half_width(values, axis=1)
    if np.isfinite(hw).all():
        label = f"95% interval ({values.shape[1]} seeds)"
        ax.fill_between(x, mean - hw, mean + hw, alpha=0.25, color=color, label=label)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")


def plot_cumulative_regret(
    df: pd.DataFrame, path: str | os.PathLike, title: str | None = None
) -> None:
    """PNG of each player's regret: mean over seeds with its 95% band.

    Top row: cumulative regret against the episode. Bottom row: per-episode regret averaged over
    windows of ``K/50`` episodes (falling when the players learn).

    Args:
        df: a results table.
        path: where to write the PNG.
        title: the figure's title.
    """
    # A bare Figure renders with Agg and leaves pyplot's global state (and backend) alone.
    from matplotlib.figure import Figure

    cum, binned = cumulative_regret(df), binned_regret(df)
    fig = Figure(figsize=(10, 7), layout="constrained")
    axes = fig.subplots(2, 2, sharex=True)
    for j, player in enumerate(PLAYERS):
        color = f"C{j}"
        top, bottom = axes[0, j], axes[1, j]
        _mean_and_band(top, cum.pivot(index="episodes", columns="seed", values=player), color)
        top.set_title(player)
        top.set_ylabel("cumulative regret")
        _mean_and_band(bottom, binned.pivot(index="episode", columns="seed", values=player), color)
        bottom.set_ylabel("regret per episode (window mean)")
        bottom.set_xlabel("episode k")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
