"""Plots of results, or of what :mod:`.analysis` computed from them.

Every ``plot_*`` function takes its data, ``path`` (its PNG) and an optional ``title``, draws on a
bare matplotlib ``Figure`` (pyplot's global state is left alone) and returns it. Bands are 95%
t-intervals over seeds clipped to the data's range; thin lines are seeds, bold their mean.
"""

from __future__ import annotations

import math
import os
import textwrap
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .tables import (
    binned_regret,
    certificate_players,
    cumulative_regret,
    mean_band,
    player_label,
    players,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _new_figure(ncols: int, nrows=1, width=None, height=4.2, layout="constrained"):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width or 5.0 * ncols, height), layout=layout)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def _save(fig: Figure, path: str | os.PathLike, title: str | None, dpi: int = 90) -> Figure:
    if title:
        fig.suptitle(title, fontsize=10)
    fig.savefig(path, dpi=dpi)
    return fig


def _mean_and_band(ax, table: pd.DataFrame, color: str) -> None:
    """The mean over the columns (seeds) of ``table`` and its band, against its index."""
    x, values = table.index.to_numpy(dtype=float), table.to_numpy()
    mean, low, high = mean_band(values)
    ax.plot(x, mean, color=color, label="regret (mean)")
    if values.shape[1] > 1:
        band = f"95% interval ({values.shape[1]} seeds)"
        ax.fill_between(x, low, high, alpha=0.25, color=color, label=band)
    ax.grid(alpha=0.3)


def _seed_panel(ax, table: pd.DataFrame, lines: list[tuple], guide: str) -> None:
    """Lines ``(column, colour, style, label)`` per seed against ``K``, log-log, ``∝ 1/√K``."""
    for column, color, style, label in lines:
        wide = table.pivot(index="episodes", columns="seed", values=column)
        x, values = wide.index.to_numpy(dtype=float), wide.to_numpy()
        ax.plot(x, values, style, color=color, alpha=0.25, linewidth=0.8)  # a line per seed
        logs = np.log(np.where(values > 0, values, 1.0)).mean(axis=1)  # the geometric mean
        mean = np.where((values > 0).all(axis=1), np.exp(logs), np.nan)
        ax.plot(x, mean, style, color=color, linewidth=2, label=label)
    x = np.sort(table["episodes"].unique()).astype(float)
    y0 = float(np.exp(np.log(table[table.episodes == x[0]][guide]).mean()))
    _reference(ax, x, y0, -0.5, "∝ 1/√K")
    _loglog(ax, x)
    ax.set_xlabel("K (first K episodes of the run)")
    ax.legend(loc="best", fontsize=8)


def _loglog(ax, x: np.ndarray) -> None:
    """Log axes, x ticked at ``x``, y at :func:`log_ticks`."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(x))
    ax.xaxis.set_major_formatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    _log_y(ax)


def _log_y(ax) -> None:
    """A log y axis labelled at :func:`log_ticks` of its range."""
    from matplotlib.ticker import Locator, NullFormatter

    class Ticks(Locator):
        def __call__(self):
            return self.tick_values(*self.axis.get_view_interval())

        def tick_values(self, vmin, vmax):
            return log_ticks(vmin, vmax)

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(Ticks())
    ax.yaxis.set_major_formatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.grid(alpha=0.3, which="both")


def log_ticks(low: float, high: float, most: int = 8) -> list[float]:
    """Ticks of a log axis from ``low`` to ``high``: three or more where there is room.

    The first of powers of ten, ``1, 2, 5`` or ``1 … 9`` times them, and evenly spaced round
    numbers (coarse, then fine) that puts three ticks ``1/most`` of the range apart (in
    logarithm) across half the range or more, else the fullest.
    """
    from matplotlib.ticker import MaxNLocator

    low, high = sorted((float(low), float(high)))
    if not (high > 0 and math.isfinite(high)):
        return []
    low = low if low > 0 else high / 1e3
    span = max(math.log10(high / low), 1e-12)
    powers = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    best: list[float] = []
    # mantissas times powers of ten, then evenly spaced round numbers in at most 6, 12 bins
    for series in ((1,), (1, 2, 5), range(1, 10), 6, 12):
        if isinstance(series, int):
            steps = [1, 2, 2.5, 5, 10]
            candidates = MaxNLocator(nbins=series, steps=steps).tick_values(low, high)
        else:
            candidates = [m * 10.0**e for e in powers for m in series]
        ticks: list[float] = []
        for t in sorted(float(c) for c in candidates if low <= c <= high):
            if not ticks or math.log10(t / ticks[-1]) >= span / most:
                ticks.append(t)
        if len(ticks) >= 3 and math.log10(ticks[-1] / ticks[0]) >= span / 2:
            return ticks
        best = ticks if len(ticks) > len(best) else best
    return best


def _short(value: float) -> str:
    """A number in three significant digits where that needs no exponent: ``163``."""
    text = f"{value:.3g}"
    return f"{value:g}" if "e" in text else text


def _legend_below(ax, **kwargs) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), fontsize=7, frameon=False, **kwargs)


def _reference(ax, x: np.ndarray, y0: float, exponent: float, label: str) -> None:
    if np.isfinite(y0) and y0 > 0:
        ax.plot(x, y0 * (x / x[0]) ** exponent, ":", color="grey", linewidth=1.5, label=label)


def _seed_matrix(points: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    wide = points.pivot_table(index="x", columns="seed", values=column, aggfunc="mean")
    return wide.index.to_numpy(dtype=float), wide.to_numpy(dtype=float)


def _thin(n: int, most: int = 400) -> np.ndarray:
    """About ``most`` evenly spread indices of ``n`` points, first and last included."""
    return np.unique(np.linspace(0, n - 1, min(n, most)).round().astype(int))


def plot_cumulative_regret(
    df: pd.DataFrame,
    path: str | os.PathLike,
    title: str | None = None,
    bias: pd.DataFrame | None = None,
) -> Figure:
    """Each player's regret over a run (a results table ``df``): mean over seeds, 95% band.

    Top: cumulative regret; bottom: per-episode regret over windows of ``K/50`` episodes. With
    ``bias`` (:func:`~.analysis.episode_bias`) both also show the soft-max bias, dashed.
    """
    cum, binned = cumulative_regret(df), binned_regret(df)
    width = max(1, (int(df["episode"].max()) + 1) // 50)
    names = players(df)
    # Fixed margins: the constrained layout would take half the time of this figure.
    wide = len(names) / 2  # a column per player, each as wide as with one follower
    fig, axes = _new_figure(len(names), 2, width=10.0 * wide, height=6.4, layout=None)
    fig.subplots_adjust(
        left=0.08 / wide, right=1 - 0.02 / wide, bottom=0.08, top=0.93, wspace=0.2, hspace=0.15
    )
    for j, player in enumerate(names):
        top, bottom = axes[0, j], axes[1, j]
        wide = cum.pivot(index="episodes", columns="seed", values=player)
        _mean_and_band(top, wide.iloc[_thin(len(wide))], f"C{j}")
        _mean_and_band(
            bottom, binned.pivot(index="episode", columns="seed", values=player), f"C{j}"
        )
        if bias is not None:
            column = f"bias_{player}"
            running = (bias[column] * bias["eval_weight"]).groupby(bias["seed"]).cumsum()
            mean_cum = running.groupby(bias["episode"] + bias["eval_weight"]).mean()
            mean_cum = mean_cum.iloc[_thin(len(mean_cum))]
            label = "soft-max bias (same α, true model)"
            top.plot(mean_cum.index, mean_cum.to_numpy(), "--", color="k", lw=1.2, label=label)
            per_window = bias[column].groupby(bias["episode"] // width).mean()
            centres = per_window.index.to_numpy() * width + (width - 1) / 2
            label = "soft-max bias per episode"
            bottom.plot(centres, per_window.to_numpy(), "--", color="k", lw=1.2, label=label)
        for ax in (top, bottom):
            ax.set_ylim(bottom=0)
            ax.legend(loc="best", fontsize=8)
        top.set_title(player_label(player))
        top.set_ylabel("cumulative regret")
        bottom.set_ylabel("regret per episode (window mean)")
        bottom.set_xlabel("episode k")
    return _save(fig, path, title)


def plot_certificate_curve(
    table: pd.DataFrame, path: str | os.PathLike, title: str | None = None
) -> Figure:
    """The CCSE certificate's bounds at the initial state against ``K`` (log-log), per player.

    ``table`` is :func:`stackelberg_rl.equilibria.curve_table`'s (math.md §4).
    """
    names = certificate_players(table)
    fig, axes = _new_figure(len(names))
    for j, player in enumerate(names):
        upper, lower = f"{player}_upper_initial", f"{player}_lower_initial"
        lines = [
            (upper, f"C{j}", "-", "upper bound (mean best-response gap)"),
            (lower, f"C{j}", "--", "lower bound (k-blind deviations)"),
        ]
        _seed_panel(axes[0, j], table, lines, guide=upper)
        axes[0, j].set_title(f"{player_label(player)}: ε at the initial state")
    return _save(fig, path, title, dpi=110)


def plot_zero_sum_gap(
    table: pd.DataFrame, path: str | os.PathLike, title: str | None = None
) -> Figure:
    """A zero-sum game's ``|V_l^mix − V_l^SE|`` and exploitability bounds against ``K`` (log-log).

    ``table`` is :func:`stackelberg_rl.equilibria.curve_table`'s of a zero-sum game.
    """
    fig, axes = _new_figure(1, width=6.5, height=4.5)
    lines = [
        ("value_gap_initial", "C2", "-", "|V_l^mix − V_l^SE| at x0"),
        ("exploitability_upper", "C3", "-", "exploitability, upper bound"),
        ("exploitability_lower", "C3", "--", "exploitability, lower bound"),
    ]
    _seed_panel(axes[0, 0], table, lines, guide="exploitability_upper")
    if title:
        axes[0, 0].set_title(title, fontsize=10)
    return _save(fig, path, None, dpi=110)


def plot_regret_vs_K(curves: list, path: str | os.PathLike, title: str | None = None) -> Figure:
    """Total regret against ``K`` of :func:`~.analysis.k_curves`'s curves, with ``∝ √K``."""
    return plot_sizes(curves, "K", 0.5, path, title, x_label="K (episodes of the run)")


def plot_bias_vs_K(curves: list, path: str | os.PathLike, title: str | None = None) -> Figure:
    """Per curve and player, total regret, soft-max bias (dashed) and Lemma 2's bound (dotted)."""
    from matplotlib.lines import Line2D

    panels = player_panels(curves)
    fig, axes = _new_figure(len(panels), height=4.8 + 0.25 * len(curves))
    for ax, (player, drawn) in zip(axes[0], panels.items(), strict=True):
        all_x: set[float] = set()
        for i, curve, column in drawn:  # curve i in colour i in every panel
            means = curve.means()
            x = means.index.to_numpy(dtype=float)
            all_x |= set(x)
            ax.plot(x, means[column], "-o", color=f"C{i}", markersize=4)
            ax.plot(x, means[f"bias_{column}"], "--s", color=f"C{i}", markersize=3)
            ax.plot(x, means[f"bound_{column}"], ":", color=f"C{i}")
        if all_x:
            _loglog(ax, np.array(sorted(all_x)))
        ax.set_title(f"{player_label(player)}: regret and its soft-max part")
        ax.set_xlabel("K (episodes of the run)")
        handles = [Line2D([], [], color=f"C{i}", label=c.label) for i, c, _ in drawn]
        handles += [
            Line2D([], [], color="k", linestyle="-", marker="o", label="total regret"),
            Line2D([], [], color="k", linestyle="--", marker="s", label="soft-max bias"),
            Line2D([], [], color="k", linestyle=":", label="Lemma 2's bound on the bias"),
        ]
        _legend_below(ax, handles=handles)
    return _save(fig, path, title)


def plot_sizes(
    curves: list,
    symbol: str,
    exponent: float | None,
    path: str | os.PathLike,
    title: str | None = None,
    x_label: str | None = None,
) -> Figure:
    """Total regret of :func:`~.analysis.size_curves`'s ``curves`` against a size or ``β``.

    Mean over seeds with 95% error bars and each line's slope; the dotted line is the bound's
    ``symbol^exponent``. The axis is labelled ``x_label`` (``symbol`` by default).
    """
    panels = player_panels(curves)
    labels = {
        p: [textwrap.fill(f"{c.label}: slope {c.fits[col].text()}", 80) for _, c, col in drawn]
        for p, drawn in panels.items()
    }
    lines = max(sum(label.count("\n") + 1 for label in ls) for ls in labels.values())
    fig, axes = _new_figure(len(panels), height=4.4 + 0.25 * lines)
    for ax, (player, drawn) in zip(axes[0], panels.items(), strict=True):
        xs: set[float] = set()
        names: dict = {}
        for n, (i, curve, column) in enumerate(drawn):  # curve i in colour i in every panel
            x, values = _seed_matrix(curve.points, column)
            mean, low, high = mean_band(values)
            yerr = np.vstack([mean - low, high - mean]) if values.shape[1] > 1 else None
            label = labels[player][n]
            ax.errorbar(x, mean, yerr=yerr, fmt="-o", color=f"C{i}", label=label, capsize=3, ms=4)
            xs |= set(x)
            names.update(curve.x_labels)
            if exponent is not None and n == 0:
                _reference(ax, x, float(mean[0]), exponent, f"bound ∝ {symbol}^{exponent:g}")
        x_all = np.array(sorted(xs))
        if (x_all > 0).all():
            _loglog(ax, x_all)
            ax.xaxis.set_major_formatter(lambda v, _: _short(v))
        else:  # β = 0 has no place on a log axis
            ax.set_xscale("symlog", linthresh=float(np.min(x_all[x_all > 0], initial=1.0)))
            ax.set_xticks(x_all, [_short(v) for v in x_all])
            _log_y(ax)
        ax.set_title(f"{player_label(player)}: total regret against {symbol}")
        # named values (β = theory) are numbers on the axis, named once in its label
        named: dict = {}
        for v, name in sorted(names.items()):
            named.setdefault(name.split(" (")[0], []).append(_short(v))
        words = "; ".join(f"{name} at {', '.join(vs)}" for name, vs in named.items())
        ax.set_xlabel((x_label or symbol) + (f" ({words})" if words else ""))
        _legend_below(ax)
    return _save(fig, path, title)


def player_panels(curves: list) -> dict[str, list[tuple]]:
    """One panel per player any curve has, in order of moves: its ``(i, curves[i], column)``.

    Beside curves with more followers, the follower of a curve with one is follower 1.
    """
    names = {p for c in curves for p in c.fits}
    many = any(p.startswith("follower_") for p in names)
    panel = {p: "follower_1" if many and p == "follower" else p for p in names}
    order = sorted(names, key=lambda p: (p != "leader", len(p), p))
    panels: dict[str, list[tuple]] = {panel[p]: [] for p in order}
    for i, c in enumerate(curves):
        for p in c.fits:
            panels[panel[p]].append((i, c, p))
    return panels


def plot_prefixes(curve, path: str | os.PathLike, title: str | None = None) -> Figure:
    """One run's cumulative regret at prefixes ``K'`` (:func:`~.analysis.prefix_curve`)."""
    fig, axes = _new_figure(len(curve.fits))
    for j, player in enumerate(curve.fits):
        ax = axes[0, j]
        x, values = _seed_matrix(curve.points, player)
        ax.plot(x, values, "-", color=f"C{j}", alpha=0.3, linewidth=0.8)  # a line per seed
        mean = values.mean(axis=1)
        label = f"mean: slope {curve.fits[player].text()}"
        ax.plot(x, mean, "-o", color=f"C{j}", markersize=4, label=label)
        _reference(ax, x, float(mean[0]), 0.5, "∝ √K")
        _loglog(ax, x)
        ax.set_title(f"{player_label(player)}: cumulative regret after K' episodes")
        ax.set_xlabel("K' (first episodes of the run)")
        ax.legend(loc="upper left", fontsize=8)
    return _save(fig, path, title)
