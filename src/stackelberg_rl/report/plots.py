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


def _guide(ax, x: np.ndarray, y0: float, label: str = "∝ 1/√K") -> None:
    """A dotted ``K^{-1/2}`` line through ``(x[0], y0)``, and log axes ticked at the ``K``."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.plot(x, y0 * np.sqrt(x[0] / x), ":", color="grey", label=label)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(x))
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def _per_seed(ax, table: pd.DataFrame, column: str, color: str, style: str, label: str) -> None:
    """Each seed's ``column`` against ``episodes`` (thin), and their geometric mean (bold)."""
    wide = table.pivot(index="episodes", columns="seed", values=column)
    x = wide.index.to_numpy(dtype=float)
    for s in wide.columns:
        ax.plot(x, wide[s], style, color=color, alpha=0.25, linewidth=0.8)
    values = wide.to_numpy()
    positive = (values > 0).all(axis=1)
    mean = np.where(
        positive, np.exp(np.log(np.where(values > 0, values, 1.0)).mean(axis=1)), np.nan
    )
    ax.plot(x, mean, style, color=color, linewidth=2, label=label)


def plot_certificate_curve(
    table: pd.DataFrame, path: str | os.PathLike, title: str | None = None
) -> None:
    """PNG of the CCSE certificate against ``K`` (log-log), one panel per player.

    Upper and lower bounds at the initial distribution, each seed thin and their geometric mean
    bold, with a ``1/√K`` guide (math.md §4).

    Args:
        table: :func:`stackelberg_rl.equilibria.curve_table`'s rows.
        path: where to write the PNG.
        title: the figure's title.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    x = np.sort(table["episodes"].unique()).astype(float)
    for j, player in enumerate(PLAYERS):
        ax = axes[j]
        upper, lower = f"{player}_upper_initial", f"{player}_lower_initial"
        _per_seed(ax, table, upper, f"C{j}", "-", "upper bound (mean best-response gap)")
        _per_seed(ax, table, lower, f"C{j}", "--", "lower bound (k-blind deviations)")
        y0 = float(np.exp(np.log(table[table.episodes == x[0]][upper]).mean()))
        _guide(ax, x, y0)
        ax.set_title(f"{player}: ε at the initial state")
        ax.set_xlabel("K (first K episodes of the run)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=110)


def plot_zero_sum_gap(
    table: pd.DataFrame, path: str | os.PathLike, title: str | None = None
) -> None:
    """PNG of a zero-sum game's mixture against ``K`` (log-log): value gap and exploitability.

    ``|V_l^mix − V_l^SE|`` at the initial distribution and the exploitability's upper and lower
    bounds (sums of both players' bounds), each seed thin and the geometric mean bold, with a
    ``1/√K`` guide.

    Args:
        table: :func:`stackelberg_rl.equilibria.curve_table`'s rows of a zero-sum game.
        path: where to write the PNG.
        title: the figure's title.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.subplots()
    x = np.sort(table["episodes"].unique()).astype(float)
    _per_seed(ax, table, "value_gap_initial", "C2", "-", "|V_l^mix − V_l^SE| at x0")
    _per_seed(ax, table, "exploitability_upper", "C3", "-", "exploitability, upper bound")
    _per_seed(ax, table, "exploitability_lower", "C3", "--", "exploitability, lower bound")
    y0 = float(np.exp(np.log(table[table.episodes == x[0]]["exploitability_upper"]).mean()))
    _guide(ax, x, y0)
    ax.set_xlabel("K (first K episodes of the run)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    fig.savefig(path, dpi=110)
