"""``report.html``: one self-contained page of a run, a sweep or an exploration folder.

The page holds its CSS and every figure inline (base64 PNGs); each figure is also written beside
it as ``report-NAME.png`` (a setting's own in its run folder). The captions say what each figure
shows and what it means, from the numbers.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import math
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from .._validate import is_real
from ..equilibria.reward_free import read_folder
from ..experiments.store import (
    PLANS_FILE,
    REPORT_FILE,
    REPORT_PREFIX,
    RunFolderError,
    load_run,
    refuse_live,
    write_file,
)
from ..sweep import is_sweep_folder, load_sweep
from ..sweep.grid import SWEEP_FOLDER
from ..sweep.settings import depends_on_K
from . import plots
from .analysis import (
    SIZES,
    Curve,
    SettingData,
    analyse_setting,
    k_curves,
    prefix_curve,
    size_curves,
)
from .tables import SlopeFit, certificate_players, learning_summary, player_label

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1080px; padding: 1.5em; color: #1d1d1f; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
h3 { margin-top: 1.6em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, .note { font-size: 0.93em; color: #333; }
.note { background: #f6f6f2; border-left: 4px solid #c9b458; padding: 0.5em 0.8em; }
.lede { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.55em; text-align: right; }
th { background: #f3f3f3; }
td.text, th.text { text-align: left; }
code { background: #f3f3f3; padding: 0 0.2em; }
details { margin: 0.4em 0; }
nav ol { columns: 2; }
"""

BIAS = "How much of the regret is soft-max bias"  # a section of run and sweep pages
SHARES = (  # what a bias share (bias / regret) at least this large means
    (0.75, "almost all of this regret is soft-max bias, the price of soft-max play rather than "
     "of not knowing the game"),
    (0.5, "most of this regret is soft-max bias; the rest is the cost of learning"),
    (0.2, "a sizeable part of this regret is soft-max bias; most is the cost of learning"),
    (0.0, "little of this regret is soft-max bias: most is the cost of learning the game"),
)  # fmt: skip


def share_words(share: float, bias: float) -> str:
    """What a bias share means, in words (``share`` = bias / regret)."""
    if not math.isfinite(share):
        return ""
    if bias <= 1e-9:
        return "this player has no soft-max bias: all its regret is the cost of learning"
    return next(words for least, words in SHARES if share >= least or least == 0.0)


def slope_words(fit: SlopeFit, what: str = "K") -> str:
    """How total regret grows with ``what`` against the bound's ``√K``, in words."""
    if not math.isfinite(fit.slope):
        return "no slope could be fitted"
    low, high = (fit.low, fit.high) if math.isfinite(fit.half_width) else (fit.slope, fit.slope)
    text = f"slope {fit.text()}"
    if low > 0.9:
        return f"grows linearly in {what} ({text}): nothing is learned over this range"
    if high < 0.5:
        return f"grows more slowly than √{what} ({text})"
    if low <= 0.5 <= high:
        return f"grows like √{what} ({text}, which holds 0.5)"
    return f"grows faster than √{what} over this range ({text}); the bound is asymptotic"


def _regret_slopes(curve: Curve) -> str:
    """``the leader's regret grows …; the follower's regret …``."""
    fits = curve.fits.items()
    return "; ".join(f"the {player_label(p)}'s regret {slope_words(fit)}" for p, fit in fits)


def _interval(fit: SlopeFit) -> str:
    return f"[{_fmt(fit.low)}, {_fmt(fit.high)}]" if math.isfinite(fit.half_width) else "–"


def _fmt(x: float | None, digits: int = 3) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def _seeds(n: int) -> str:
    return f"{n} seed{'s' * (n > 1)}"


def _pm(mean: float, half: float) -> str:
    return _fmt(mean, 4) + ("" if not math.isfinite(half) else f" ± {_fmt(half, 2)}")


def _inline(text: str) -> str:
    """Escape ``text``; spans between backquotes become ``<code>``."""
    pieces = str(text).split("`")
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(pieces)
    )


def _cells(tag: str, values, text_columns: int) -> str:
    css = [' class="text"' * (i < text_columns) for i in range(len(values))]
    return "".join(
        f"<{tag}{c}>{html.escape(str(v))}</{tag}>" for c, v in zip(css, values, strict=True)
    )


# ---------------------------------------------------------------------- the page
@dataclass
class Page:
    """An HTML page built up in order, and the figures written beside it."""

    title: str
    parts: list[str] = field(default_factory=list)
    toc: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # parts left out, each in one line

    def section(self, anchor: str, title: str, level: int = 2, note: str | None = None) -> None:
        """A heading (listed in the contents at ``level`` 2), with a ``note`` under it if given."""
        if level == 2:
            self.toc.append((anchor, title))
        self.parts.append(f'<h{level} id="{anchor}">{html.escape(title)}</h{level}>')
        if note:
            self.note(note)

    def text(self, text: str, css: str | None = None) -> None:
        """A paragraph; ``code`` between backquotes."""
        self.parts.append(f"<p{f' class={css!r}' if css else ''}>{_inline(text)}</p>")

    def note(self, text: str) -> None:
        """A highlighted paragraph."""
        self.text(text, "note")

    def figure(self, folder: Path, name: str, draw, alt: str, caption: str, points=()) -> None:
        """``draw(buffer)``'s PNG in ``folder/report-NAME.png`` and inline, with its caption."""
        buffer = io.BytesIO()
        draw(buffer)
        png = buffer.getvalue()
        path = folder / f"{REPORT_PREFIX}{name}.png"
        write_file(folder, path.name, lambda p: p.write_bytes(png))
        self.written.append(path)
        data = base64.b64encode(png).decode("ascii")
        items = "".join(f"<li>{_inline(point)}</li>" for point in points)
        self.parts.append(
            f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_inline(caption)}{f'<ul>{items}</ul>' if items else ''}</figcaption>"
            "</figure>"
        )

    def table(self, header: list[str], rows: list[list], text_columns: int = 1) -> None:
        """A table; the first ``text_columns`` columns are left-aligned."""
        body = "".join(f"<tr>{_cells('td', row, text_columns)}</tr>" for row in rows)
        head = _cells("th", header, text_columns)
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def manifest(self, manifest: dict, skip=("columns",), summary: str | None = None) -> None:
        """Every entry of a manifest, flattened; collapsed under ``summary`` if given."""
        rows = [[k, v] for k, v in _flatten({k: v for k, v in manifest.items() if k not in skip})]
        self.table(["entry", "value"], rows, text_columns=2)
        if summary is not None:
            head = f"<details><summary>{html.escape(summary)}</summary>"
            self.parts[-1] = f"{head}{self.parts[-1]}</details>"

    def write(self, folder: Path, lede: str) -> Path:
        """The whole page, written to ``folder/report.html``."""
        toc = "".join(f'<li><a href="#{a}">{html.escape(t)}</a></li>' for a, t in self.toc)
        text = (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{CSS}</style></head><body>"
            f'<h1>{html.escape(self.title)}</h1><p class="lede">{_inline(lede)}</p>'
            f"<nav><ol>{toc}</ol></nav>{''.join(self.parts)}</body></html>\n"
        )
        write_file(folder, REPORT_FILE, lambda path: path.write_text(text, encoding="utf-8"))
        return folder / REPORT_FILE

    def prune(self, folder: Path, names: tuple[str, ...] | None = None) -> None:
        """Remove ``folder``'s ``report-NAME.png`` (of ``names``; all if None) not drawn now."""
        for path in folder.glob(f"{REPORT_PREFIX}*.png"):
            name = path.stem[len(REPORT_PREFIX) :]
            if path not in self.written and (names is None or name in names):
                with contextlib.suppress(OSError):
                    path.unlink()


def _flatten(data, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(data, dict):
        return [
            r for k, v in data.items() for r in _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        ]
    if isinstance(data, list) and data and any(isinstance(v, dict | list) for v in data):
        return [r for i, v in enumerate(data) for r in _flatten(v, f"{prefix}[{i}]")]
    return [(prefix, data if isinstance(data, str) else json.dumps(data, ensure_ascii=False))]


# ---------------------------------------------------------------------- sections
def _describe_setting(s: SettingData) -> str:
    agent, resolved = s.config.get("agent") or {}, s.manifest.get("resolved") or {}
    words = [f"{s.label}", f"K = {s.episodes}", _seeds(s.seeds)]
    if resolved.get("beta") is not None:
        theory = " (theory)" if agent.get("beta") == "theory" else ""
        words.append(f"β = {_fmt(resolved['beta'])}{theory}")
    for key, value in resolved.items():  # alpha_l, alpha_f (alpha_f_1, … with followers)
        if not key.startswith("alpha_"):
            continue
        sym = "α_" + key.removeprefix("alpha_").replace("_", "")
        if isinstance(value, dict):
            first, last = _fmt(value.get("first")), _fmt(value.get("last"))
            words.append(f"{sym} {value.get('schedule')} {first}…{last}")
        elif value is not None:
            words.append(f"{sym} = {value if isinstance(value, str) else _fmt(value)}")
    if agent.get("schedule") and agent.get("schedule") != "every":
        words.append(f"re-plan: {agent['schedule']}")
    words.append(str((s.manifest.get("game") or {}).get("name", "?")))
    return ", ".join(words)


def setting_section(page: Page, s: SettingData, anchor: str) -> None:
    """A setting's figure (regret and bias over the run) and its numbers."""
    page.section(anchor, s.name, level=3)
    page.text(_describe_setting(s))
    learn = learning_summary(s.df).set_index("player")
    sentences = []
    for player, row in s.summary().set_index("player").iterrows():
        words = (
            f"{player_label(player).capitalize()}: total regret {_pm(row.regret, row.half_width)}"
        )
        if math.isfinite(row.bias):
            meaning = share_words(row.share, row.bias)
            words += f", of which soft-max bias {_fmt(row.bias)} ({row.share:.0%})"
            words += f": {meaning}" if meaning else ""
        first, last = learn.loc[player, "first_quarter"], learn.loc[player, "last_quarter"]
        words += (
            f". Per episode it goes from {_fmt(first)} in the first quarter of the run to "
            f"{_fmt(last)} in the last"
        )
        if s.episode_bias is not None:
            late = s.episode_bias.query(f"episode >= {s.episodes * 3 // 4}")[f"bias_{player}"]
            words += f", where the bias alone is {_fmt(late.mean())}"
        sentences.append(words + ".")
    what = (
        f"Each player's regret over the run ({_seeds(s.seeds)}). Top: "
        "the total so far; bottom: per episode, averaged over windows of "
        f"{max(1, s.episodes // 50)} episodes. Lines are means over seeds, bands their 95% "
        "intervals clipped to the data's range."
    )
    if s.episode_bias is not None:
        what += (
            " Dashed: the soft-max bias, the regret that soft-max play with the same α would have "
            "on the true model, with nothing left to learn (β = 0)."
        )
    elif s.bias_note:
        what += f" No soft-max bias: {s.bias_note}."
    draw = partial(plots.plot_cumulative_regret, s.df, bias=s.episode_bias)
    page.figure(s.folder, "regret", draw, f"regret of {s.name}", what, sentences)


def bias_table(page: Page, settings: list[SettingData]) -> None:
    """Per setting and player: total regret, soft-max bias, Lemma 2's bound, the bias's share."""
    rows = [
        [s.name, p, s.episodes, _pm(r.regret, r.half_width), _fmt(r.bias, 4), _fmt(r.bound, 4)]
        + ["–" if not math.isfinite(r.share) else f"{r.share:.0%}"]
        for s in settings
        for p, r in s.summary().set_index("player").iterrows()
    ]
    header = ["setting", "player", "K", "total regret (mean ± 95%)", "soft-max bias"]
    page.table([*header, "Lemma 2's bound", "bias share"], rows, text_columns=2)


def k_section(page: Page, folder: Path, curves: list[Curve]) -> None:
    """Regret against ``K`` (log-log) with slopes, and the soft-max bias against ``K``."""
    none = (
        "This sweep has no settings that differ only in K (episodes), so it shows no regret "
        "against K."
    )
    page.section("regret-vs-K", "Regret against K", note=None if curves else none)
    if not curves:
        return
    sentences = [f"{c.label}: {_regret_slopes(c)}." for c in curves]
    caption = (
        "Total regret of a run of K episodes against K, on log-log axes: each point is a run "
        "length, with the mean over seeds and its 95% interval; the dotted line grows like √K, "
        "the rate of the bound Õ(√(d³H³T)), T = KH. A slope is fitted per seed and given as "
        "its mean [95% interval over seeds]. Total regret:"
    )
    draw = partial(plots.plot_regret_vs_K, curves)
    page.figure(folder, "regret-vs-K", draw, "total regret against K", caption, sentences)
    rows = []
    names = plots.player_panels(curves)  # the columns: each player, as in the figures
    column = {(i, name): p for name, drawn in names.items() for i, _, p in drawn}
    for i, c in enumerate(curves):
        for x, row in c.means().iterrows():
            cells = [c.label, int(x)]
            for p in (column.get((i, name)) for name in names):
                if p is None:
                    cells += ["–", "–"]
                    continue
                share = row[f"bias_{p}"] / row[p] if c.has_bias and row[p] > 0 else math.nan
                bias = f"{_fmt(row[f'bias_{p}'], 4)} ({share:.0%})" if c.has_bias else "–"
                cells += [_fmt(row[p], 4), bias]
            rows.append(cells)
    regrets = [[f"{player_label(name)} regret", "of which bias"] for name in names]
    page.table(["agent", "K", *sum(regrets, [])], rows)
    page.text(
        "Slopes: per seed, the least-squares slope of log total regret on log K over the K "
        "of the curve; given as their mean and 95% Student-t interval over the (independent) "
        "seeds. A seed's runs share its random streams (and where the players do not depend on "
        "K its shorter runs are the first episodes of its longest), so its points are not "
        "independent: the seeds are."
    )
    rows = [
        [c.label, p, _fmt(fit.slope), _interval(fit), len(fit.per_seed), fit.points]
        for c in curves
        for p, fit in c.fits.items()
    ]
    page.table(["agent", "player", "slope", "95% interval", "seeds", "K values"], rows, 2)
    with_bias = [c for c in curves if c.has_bias and _some_bias(c)]
    none = "No curve here plays soft-max with a recorded α on a finite game: no bias."
    page.section("bias", BIAS, note=None if with_bias else none)
    if not with_bias:
        return
    sentences = []
    for c in with_bias:
        at = c.means().iloc[-1]  # at the largest K: the means are sorted by K
        K = at.name
        shares = [f"{player_label(p)} {at[f'bias_{p}'] / at[p]:.0%}" for p in c.fits if at[p] > 0]
        slopes = ", ".join(f"{player_label(p)} {fit.text()}" for p, fit in c.bias_fits.items())
        *bounds, last = [f"{_fmt(at[f'bound_{p}'])} ({player_label(p)})" for p in c.fits]
        sentences.append(
            f"{c.label}: at K = {int(K)} the bias is {', '.join(shares)} of the regret; the "
            f"bias alone grows with slope {slopes} against K; Lemma 2's bound is "
            f"{', '.join(bounds)} and {last}."
        )
    caption = (
        "Solid: total regret (mean over seeds). Dashed: the soft-max bias, the exact regret that "
        "soft-max play with the same α would have if it knew the game (planned on the true "
        "model, β = 0). Dotted: Lemma 2's bound on it, Σ_k H·log|A_i|/α_{i,k} for player i "
        "(log|A|/α_l for the leader, log|B|/α_f for one follower). Where solid and dashed "
        "lines nearly meet, the regret is the price of soft-max play, not of learning: with "
        "the paper's fixed-K α = log|A|·√K/H the bias grows like √K at most, and learning is "
        "already done."
    )
    draw = partial(plots.plot_bias_vs_K, with_bias)
    page.figure(folder, "bias-vs-K", draw, "soft-max bias against K", caption, sentences)


def _some_bias(curve: Curve) -> bool:
    return bool((curve.means()[[f"bias_{p}" for p in curve.fits]].to_numpy() > 0).any())


def sizes_section(page: Page, folder: Path, settings: list[SettingData]) -> None:
    """Total regret against ``|S|``, ``d``, ``H`` and ``β``, where the sweep varies them."""
    found = size_curves(settings)
    none = (
        "This sweep does not vary |S| (n_states), d (dim), H (horizon) or β alone, so it shows no "
        "dependence on them. The bound Õ(√(d³H³T)), T = KH, grows like d^1.5 and H^2 at fixed K, "
        "and not with |S| at fixed d."
    )
    page.section("sizes", "Dependence on |S|, d, H and β", note=None if found else none)
    for key, curves in found.items():
        symbol, _, exponent = SIZES[key]
        K = sorted({s.episodes for c in curves for s in c.settings})
        bound = (
            f"the dotted line is the bound's {symbol}^{exponent:g} at fixed K (Õ(√(d³H³T)), T = KH)"
            if exponent is not None
            else "β = theory is Theorem 3's C₁·d·H·√ι with C₁ = 1, at its resolved value"
        )
        sentences = []
        for c in curves:
            values = ", ".join(c.x_labels.get(x, f"{x:g}") for x in sorted(c.points.x.unique()))
            slopes = " and the ".join(
                f"{player_label(p)} slope {f.text()}" for p, f in c.fits.items()
            )
            also = "".join(f"; {words}" for words in c.resolved)
            sentences.append(f"{c.label}, {symbol} = {values}{also}: the {slopes}.")
        varies = sorted({w.split(" is ")[0] for c in curves for w in c.resolved})
        equal = (
            f"each line's settings differ only in {symbol}, but {' and '.join(varies)} "
            f"resolve{'s' if len(varies) == 1 else ''} to a different value at each {symbol} "
            "(named below), so that varies with it too"
            if varies
            else "other settings equal"
        )
        caption = (
            f"Total regret at K = {', '.join(map(str, K))} against {symbol}, {equal} (mean over "
            f"seeds, 95% interval); {bound}."
        )
        draw = partial(plots.plot_sizes, curves, symbol, exponent)
        page.figure(
            folder, key.split(".")[1], draw, f"total regret against {symbol}", caption, sentences
        )


def ccse_section(page: Page, settings: list[SettingData]) -> None:
    """The CCSE certificate against K for every setting saved with its plans."""
    from ..equilibria import curve_table

    with_plans = [s for s in settings if (s.folder / PLANS_FILE).is_file()]
    none = (
        "No run here was saved with its plans (`run --save-plans`), so the certificate of its "
        "coarse correlated Stackelberg equilibrium (Corollary 1) is not shown."
    )
    page.section("equilibria", "Equilibria", note=None if with_plans else none)
    for s in with_plans:
        try:
            if s.bias_lost:  # the game cannot be built again: said as for the bias
                raise ValueError(s.bias_note)
            table = curve_table(s.folder, game=s.game)
        except (ValueError, OSError) as err:
            page.note(f"{s.name}: the CCSE certificate could not be computed: {err}")
            page.missing.append(f"the CCSE certificate of {s.name} is left out: {err}")
            continue
        last = table[table.episodes == table.episodes.max()].mean(numeric_only=True)
        caption = (
            f"{s.name}: how far the uniform mixture of the run's first K episodes is from a "
            "coarse correlated Stackelberg equilibrium (Corollary 1), per player at the initial "
            "state: ε lies between the lower bound (dashed: deviations that do not see the "
            "episode) and the upper bound (solid: the mean best-response gap, what the corollary "
            "bounds by Õ(√(d³H⁴/K))); thin lines are seeds, dotted ∝ 1/√K. At "
            f"K = {int(table.episodes.max())} ε is in "
            + ", ".join(
                f"[{_fmt(last[f'{p}_lower_initial'])}, {_fmt(last[f'{p}_upper_initial'])}] for "
                f"the {player_label(p)}"
                for p in certificate_players(table)
            )
            + "."
        )
        draw = partial(plots.plot_certificate_curve, table)
        page.figure(s.folder, "ccse", draw, f"CCSE certificate of {s.name}", caption)
    page.note(
        "Reward-free Stackelberg gaps (math.md §7) come from an exploration folder: "
        "`stackelberg-rl explore --out DIR`, then `stackelberg-rl report DIR`."
    )


# ---------------------------------------------------------------------- whole pages
@dataclass
class Report:
    """A written report: the page, the figures (PNG files) beside it, and what was computed.

    ``prefix``: a lone run's regret at prefixes, if that is regret against ``K``; ``left_out``: a
    sweep's settings not in the figures, ``(name, reason, damaged)``; ``missing``: the parts
    that could not be computed (a damaged plans file, a game file moved away), one line each.
    """

    path: Path
    figures: list[Path]
    settings: list[SettingData]
    k_curves: list[Curve] = field(default_factory=list)
    prefix: Curve | None = None
    left_out: list[tuple[str, str, bool]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def write_run_report(folder: str | os.PathLike) -> Report:
    """``report.html`` and its figures for a run folder.

    Raises:
        RunFolderError: not a complete run folder (or damaged).
        OSError: the files cannot be written.
    """
    folder = Path(folder)
    df, manifest = load_run(folder)
    s = analyse_setting(folder.name, folder, df, manifest)
    page = Page(f"stackelberg-rl report: {folder.name}")
    page.section("regret", "Regret over the run")
    setting_section(page, s, "setting")
    depends = depends_on_K(s.config)
    prefix = None if depends else prefix_curve(s)
    page.section("regret-vs-K", "Regret against K")
    if depends:
        page.note(
            f"In this run {' and '.join(depends)} depend{'s' if len(depends) == 1 else ''} on "
            f"K = {s.episodes}, so its first K' episodes are not a K'-episode run: the players "
            "would have used other values. Cumulative regret at prefixes of this run is "
            "therefore NOT regret against K, and is not shown as such. Regret against K takes "
            "runs of several K: a sweep (`make demo` runs one)."
        )
    elif prefix is None:
        page.note("The run is too short for regret at several prefixes.")
    else:
        sizes = ", ".join(str(int(x)) for x in sorted(prefix.points.x.unique()))
        caption = (
            "Nothing the players do in this run depends on K (no fixed-K or power α, no "
            "β = theory), so its first K' episodes are exactly a K'-episode run and cumulative "
            "regret at those prefixes is regret against K (log-log; thin lines are seeds, dotted "
            f"∝ √K). Over K' = {sizes}: {_regret_slopes(prefix)}. The slopes' intervals are "
            "over seeds; a seed's prefixes share their episodes."
        )
        draw = partial(plots.plot_prefixes, prefix)
        page.figure(folder, "prefixes", draw, "cumulative regret at prefixes", caption)
    note = None if s.bias is not None else f"No soft-max bias: {s.bias_note}."
    page.section("bias", BIAS, note=note)
    if s.bias is not None:
        bias_table(page, [s])
        one = s.game is None or s.game.n_followers == 1
        bound = "H·log|A|/α_l (log|B|/α_f for the follower)" if one else "H·log|A_i|/α_i"
        page.text(
            "Soft-max bias: the exact regret of soft-max play with the α this run used in each "
            "episode, planned on the true model (β = 0, nothing left to learn). Lemma 2's bound: "
            f"Σ_k {bound}" + ("." if one else " for player i (the leader i = 0).")
        )
    ccse_section(page, [s])
    page.section("manifest", "Manifest")
    page.text("Everything the run recorded about itself: versions, commit, game and parameters.")
    page.manifest(manifest)
    lede = (
        f"A run of {s.label} on {(manifest.get('game') or {}).get('name', '?')}: "
        f"K = {s.episodes} episodes, {_seeds(s.seeds)}. Regret is "
        "exact (eqs. (9) and (10)) in every evaluated episode."
    )
    path = page.write(folder, lede)
    page.prune(folder)  # a figure not drawn this time is not left beside the page
    return Report(path, page.written, [s], [], prefix, missing=_missing(page, [s]))


def write_sweep_report(folder: str | os.PathLike) -> Report:
    """``report.html`` and its figures for a sweep folder; unreadable settings listed, left out.

    Raises:
        RunFolderError: no sweep folder, a damaged ``sweep.json``, or no readable setting.
        OSError: the files cannot be written.
    """
    folder = Path(folder)
    data, results = load_sweep(folder)
    readable = [r for r in results if r.df is not None]
    if not readable:
        refuse_live(folder, data, SWEEP_FOLDER)  # a sweep still playing says so, with its pid
        reasons = "; ".join(f"{r.name}: {r.error or r.status}" for r in results[:3])
        more = f"; and {len(results) - 3} more" if len(results) > 3 else ""
        raise RunFolderError(
            f"the sweep in {folder} has no readable setting of its {len(results)} ({reasons}{more})"
        )
    cache, games = {}, {}  # shared by the settings: each game and profile of α planned once
    settings = [analyse_setting(r.name, r.folder, r.df, r.manifest, cache, games) for r in readable]
    page = Page(f"stackelberg-rl report: {folder.name}")
    curves = k_curves(settings)
    k_section(page, folder, curves)
    sizes_section(page, folder, settings)
    page.section("settings", "Each setting")
    left_out = [(r.name, r.error or r.status, r.damaged) for r in results if r.df is None]
    for name, reason, _ in left_out:
        page.note(f"Setting {name} is left out: {reason}.")
    for i, s in enumerate(settings):
        setting_section(page, s, f"setting-{i}")
    bias_table(page, settings)
    ccse_section(page, settings)
    page.section("manifest", "Manifest")
    page.text("The sweep's own record, then each setting's manifest (collapsed).")
    page.manifest(data, skip=("settings",))
    for s in settings:
        page.manifest(s.manifest, summary=f"{s.name}: manifest")
    games_played = sorted({str((s.manifest.get("game") or {}).get("name")) for s in settings})
    lede = (
        f"A sweep of {len(results)} settings on {', '.join(games_played)}"
        f" ({len(readable)} readable), status {data.get('status')!r}. Regret is exact "
        "(eqs. (9) and (10)) in every evaluated episode; totals are summed over each run."
    )
    path = page.write(folder, lede)
    page.prune(folder)
    for s in settings:  # only the figures this page draws in a setting's folder
        page.prune(s.folder, SETTING_FIGURES)
    missing = _missing(page, settings)
    return Report(path, page.written, settings, curves, left_out=left_out, missing=missing)


SETTING_FIGURES = ("regret", "ccse")  # what a sweep's page draws in each setting's folder


def _missing(page: Page, settings: list[SettingData]) -> list[str]:
    """The parts of the page left out: each setting's lost soft-max bias, then the rest."""
    lost = [f"the soft-max bias of {s.name} is left out: {s.bias_note}" for s in settings]
    return [w for w, s in zip(lost, settings, strict=True) if s.bias_lost] + page.missing


def write_exploration_report(
    folder: str | os.PathLike, manifest: dict, gaps: dict | None, plans: dict[str, dict]
) -> Path:
    """``report.html`` of an exploration folder: its gaps, its plans' gaps, its manifest.

    ``folder`` is already checked to be one; ``gaps``: those of the plan for the observed
    rewards (``gaps.json``), if any; ``plans``: each further plan's record (``plan-NAME.json``).

    Raises:
        RunFolderError: a data or plan file is damaged, or the data are not those the manifest
            describes (:func:`~stackelberg_rl.equilibria.reward_free.read_folder`).
    """
    folder = Path(folder)
    read_folder(folder, plans=True)
    page = Page(f"stackelberg-rl report: {folder.name}")
    page.section("gaps", "Reward-free Stackelberg gaps")
    page.text(
        "Exact gaps of the Stackelberg policies planned on the model learned by reward-free "
        "exploration (math.md §7): the follower's best-response gap, and the leader's shortfall "
        "from the Stackelberg value when the follower breaks its ties against it. Zero is an "
        "exact Stackelberg equilibrium; the leader's gap may be negative (a threat)."
    )
    records = [
        ("observed rewards", gaps),
        *((n, r.get("gaps", r)) for n, r in sorted(plans.items())),
    ]
    rows = [  # a continuous game's plans have no exact gaps: None
        [name, k, _fmt(float(v), 4)]
        for name, record in records
        for k, v in sorted(record.items() if isinstance(record, dict) else ())
        if is_real(v)
    ]
    if rows:
        page.table(["plan", "gap", "value"], rows, text_columns=2)
    else:
        page.note("This exploration has no exact gaps (a continuous game has none).")
    page.section("manifest", "Manifest")
    page.manifest(manifest)
    episodes = (manifest.get("options") or manifest.get("config") or {}).get("episodes", "?")
    lede = f"A reward-free exploration of {episodes} episodes and the plans made from it."
    return page.write(folder, lede)


def write_report(folder: str | os.PathLike) -> Report:
    """:func:`write_sweep_report` for a sweep folder, :func:`write_run_report` for a run folder.

    Raises:
        RunFolderError: neither a sweep nor a complete run folder.
    """
    return (write_sweep_report if is_sweep_folder(Path(folder)) else write_run_report)(folder)
