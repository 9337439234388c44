"""What the report shows, as numbers: each setting's regret and bias, regret against K, and sizes.

Plots and the page only read what is computed here (:mod:`.plots`, :mod:`.page`).

- :class:`SettingData`: one run (a run folder, or a setting of a sweep) with each seed's total
  regret and, on a finite game whose soft-max ``α`` is recorded, its soft-max bias and Lemma 2's
  bound (:mod:`.bias`).
- :func:`k_curves`: settings that differ only in ``K`` (``episodes``): total regret against ``K``
  with each player's log-log slope over seeds (:func:`~.tables.loglog_fit`).
- :func:`size_curves`: settings that differ only in ``|S|``, ``d``, ``H`` or ``β`` at the same
  ``K``: total regret against that size, with the bound's exponent for reference.
- :func:`prefix_curve`: within one run, cumulative regret at prefixes ``K' ≤ K`` — the regret
  of a ``K'``-episode run only when nothing the players do depends on ``K``
  (:func:`prefixes_are_runs`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .._validate import is_real
from ..equilibria.curve import prefix_sizes
from ..experiments import RunConfig
from ..games import FiniteGame
from .bias import BiasCache, episode_bias, seed_totals
from .tables import PLAYERS, SlopeFit, cumulative_regret, loglog_fit, summary, total_regret

K_DEPENDENT_ALPHAS = ("fixed-K",)
"""``α`` schedules whose value at episode ``k`` depends on ``K`` (``power:c,p`` too)."""


# ---------------------------------------------------------------------- one setting
def alpha_text(spec) -> str:
    """An ``α`` specification in words: ``fixed-K``, ``anytime``, ``power:1,0.7``, ``∞``, ``3``."""
    if spec in ("inf", math.inf) or (is_real(spec) and math.isinf(spec)):
        return "∞"
    if is_real(spec):
        return f"{spec:g}"
    return str(spec)


GREEDY = "greedy (LSVI-UCB, α = ∞)"
"""Greedy play's name in the report, whichever way a configuration asks for it."""


def describe_agent(config: dict) -> str:
    """The players' algorithm in words, from a configuration's ``agent``.

    >>> describe_agent({"agent": {"kind": "softmax-lsvi-ucb", "alpha_l": "fixed-K",
    ...                           "alpha_f": "fixed-K"}})
    'soft-max, fixed-K α'
    """
    agent = config.get("agent") or {}
    kind = agent.get("kind", "softmax-lsvi-ucb")
    if kind == "random":
        return "uniform random play"
    if kind == "oracle":
        return "Stackelberg oracle"
    al, af = alpha_text(agent.get("alpha_l")), alpha_text(agent.get("alpha_f"))
    if kind == "greedy-lsvi-ucb" or al == af == "∞":  # soft-max at α = ∞ is greedy play
        return GREEDY
    if al == af:
        named = al in ("fixed-K", "anytime")
        return f"soft-max, {al} α" if named else f"soft-max, α = {al}"
    return f"soft-max, α_l = {al}, α_f = {af}"


def depends_on_K(config: dict) -> list[str]:
    """What in a configuration depends on ``K``: ``["α_l (fixed-K)", "β (theory)"]`` or ``[]``."""
    agent = config.get("agent") or {}
    out = []
    if agent.get("kind", "softmax-lsvi-ucb") == "softmax-lsvi-ucb":
        for name, who in (("alpha_l", "α_l"), ("alpha_f", "α_f")):
            spec = agent.get(name)
            if isinstance(spec, str) and (spec in K_DEPENDENT_ALPHAS or spec.startswith("power")):
                out.append(f"{who} ({spec})")
    learns = agent.get("kind") in ("softmax-lsvi-ucb", "greedy-lsvi-ucb")
    if learns and agent.get("beta") == "theory":
        out.append("β (theory)")
    return out


def prefixes_are_runs(config: dict) -> bool:
    """Whether the first ``K'`` episodes of a run are a ``K'``-episode run of the same setting.

    True when nothing the players do depends on ``K``: no fixed-K or power ``α``, no
    ``β = theory`` (both are functions of ``K``); the anytime ``α``, numbers and greedy play are
    the same in every prefix.
    """
    return not depends_on_K(config)


def flat_config(manifest: dict) -> dict:
    """A run's configuration as flat ``key: value`` pairs, to tell settings apart.

    The game by its name and every parameter (defaults filled in, from the manifest's game
    record) or its file's SHA-256, the agent's fields, ``episodes``, ``seeds``, ``seed`` and
    ``eval_every``; ``save_plans`` is left out (it changes nothing played).
    """
    config = manifest.get("config") or {}
    game = manifest.get("game") or {}
    out: dict = {}
    registered = game.get("registered") or {}
    if registered:
        out["game"] = registered.get("name")
        for k, v in (registered.get("params") or {}).items():
            out[f"param.{k}"] = v
    else:
        out["game"] = game.get("sha256") or (config.get("game") or {}).get("sha256")
    for k, v in (config.get("agent") or {}).items():
        out[f"agent.{k}"] = json_key(v)
    for k in ("episodes", "seeds", "seed", "eval_every"):
        out[k] = config.get(k)
    return out


def json_key(value):
    """A hashable form of a configuration value (dicts and lists become sorted tuples)."""
    if isinstance(value, dict):
        return tuple(sorted((k, json_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(json_key(v) for v in value)
    return value


@dataclass
class SettingData:
    """One run with what the report computes from it.

    Attributes:
        name: the setting's name (the run folder's name for a lone run).
        folder: the run folder.
        df: the results table.
        manifest: the run's manifest.
        label: the players' algorithm in words (:func:`describe_agent`).
        totals: each seed's total regret (``seed``, ``leader``, ``follower``).
        bias: each seed's total soft-max bias and Lemma 2's bound (:func:`~.bias.run_bias`), or
            ``None`` with the reason in ``bias_note``.
        episode_bias: the bias and bound of every evaluated episode, or ``None``.
        game: the run's game rebuilt from its manifest (checked against its SHA-256), or
            ``None``.
        bias_note: why there is no bias.
    """

    name: str
    folder: Path
    df: pd.DataFrame
    manifest: dict
    label: str
    totals: pd.DataFrame
    bias: pd.DataFrame | None = None
    episode_bias: pd.DataFrame | None = None
    game: FiniteGame | None = None
    bias_note: str | None = None
    flat: dict = field(default_factory=dict)

    @property
    def config(self) -> dict:
        """The configuration as the manifest records it."""
        return self.manifest.get("config") or {}

    @property
    def episodes(self) -> int:
        """``K``."""
        return int(self.df["episode"].max()) + 1

    @property
    def seeds(self) -> int:
        """How many seeds."""
        return int(self.df["seed"].nunique())

    def summary(self) -> pd.DataFrame:
        """Per player: total regret's mean and 95% half-width over seeds, bias, bound, share.

        Returns:
            One row per player: ``player``, ``regret``, ``half_width``, ``bias``, ``bound``,
            ``share`` (bias / regret; NaN without bias).
        """
        out = summary(self.df)[["player", "mean", "half_width"]].rename(columns={"mean": "regret"})
        for what in ("bias", "bound"):
            out[what] = [
                math.nan if self.bias is None else float(self.bias[f"{what}_{p}"].mean())
                for p in PLAYERS
            ]
        out["share"] = (out["bias"] / out["regret"]).where(out["regret"] > 0)
        return out


def rebuild_game(manifest: dict) -> tuple[FiniteGame | None, str | None]:
    """The game a run played, built again from its manifest, or ``None`` and why not.

    The game's SHA-256 must equal the manifest's: a game file that changed, or a generator that
    now builds another game, is refused.
    """
    try:
        config = RunConfig.from_dict(manifest.get("config") or {})
        game = config.game.make()
    except (ValueError, TypeError, OSError) as err:
        return None, f"the game cannot be built again ({err})"
    if not isinstance(game, FiniteGame):
        return None, "the game is continuous: the exact bias needs a finite game"
    recorded = (manifest.get("game") or {}).get("sha256")
    if recorded != game.fingerprint():
        return None, (
            f"the game built again from the manifest is not the one played (SHA-256 "
            f"{game.fingerprint()[:12]}…, recorded {str(recorded)[:12]}…)"
        )
    return game, None


def analyse_setting(
    name: str,
    folder: Path,
    df: pd.DataFrame,
    manifest: dict,
    cache: BiasCache | None = None,
    games: dict | None = None,
) -> SettingData:
    """A :class:`SettingData`: totals, and the soft-max bias where it can be computed.

    Args:
        name: the setting's name.
        folder: its run folder.
        df: its results.
        manifest: its manifest.
        cache: soft-max biases already computed (shared by the settings of a sweep).
        games: games already built, by SHA-256 (shared likewise).
    """
    data = SettingData(
        name=name,
        folder=Path(folder),
        df=df,
        manifest=manifest,
        label=describe_agent(manifest.get("config") or {}),
        totals=total_regret(df),
        flat=flat_config(manifest),
    )
    kind = (data.config.get("agent") or {}).get("kind")
    if kind in ("random", "oracle"):
        data.bias_note = f"the {data.label} does not play soft-max: it has no soft-max bias"
        return data
    games = {} if games is None else games
    sha = (manifest.get("game") or {}).get("sha256")
    if sha in games:
        data.game = games[sha]
    else:
        data.game, data.bias_note = rebuild_game(manifest)
        if data.game is not None:
            games[sha] = data.game
    if data.game is None:
        return data
    try:
        data.episode_bias = episode_bias(data.game, df, cache)
    except ValueError as err:
        data.bias_note = str(err)
        return data
    data.bias = seed_totals(data.episode_bias)
    return data


# ---------------------------------------------------------------------- across settings
@dataclass
class Curve:
    """Total regret of settings that differ in one quantity ``x`` (``K``, ``|S|``, …).

    Attributes:
        label: what the settings share, in words (the agent, and what else tells curves apart).
        settings: the settings, by increasing ``x``.
        points: one row per ``x`` and seed: ``x``, ``seed``, ``leader``, ``follower``, and where
            known ``bias_leader``, ``bias_follower``, ``bound_leader``, ``bound_follower``.
        fits: each player's log-log slope of total regret on ``x`` (:func:`~.tables.loglog_fit`).
        bias_fits: the same for the soft-max bias (empty without bias).
        x_labels: how to write each ``x`` (``β = theory`` is a number with a name).
        resolved: what else changes with ``x`` although its configuration does not, in words
            (``β = theory is 79.5 at d = 4, 163 at d = 8``); empty if nothing does.
    """

    label: str
    settings: list[SettingData]
    points: pd.DataFrame
    fits: dict[str, SlopeFit]
    bias_fits: dict[str, SlopeFit]
    x_labels: dict = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)

    def means(self) -> pd.DataFrame:
        """Per ``x``: the mean over seeds of every column of :attr:`points`."""
        return self.points.drop(columns="seed").groupby("x").mean()

    @property
    def has_bias(self) -> bool:
        """Whether every setting of the curve has its soft-max bias."""
        return "bias_leader" in self.points.columns and self.points["bias_leader"].notna().all()


def _curve(label: str, settings: list[SettingData], xs: list[float], x_labels=None) -> Curve:
    rows = []
    for s, x in zip(settings, xs, strict=True):
        part = s.totals.copy()
        part.insert(0, "x", x)
        if s.bias is not None:
            part = part.merge(s.bias, on="seed", how="left")
        rows.append(part)
    points = pd.concat(rows, ignore_index=True)
    fits = {p: loglog_fit(points, p, x="x") for p in PLAYERS}
    bias_fits = {}
    if "bias_leader" in points.columns and points["bias_leader"].notna().all():
        bias_fits = {p: loglog_fit(points, f"bias_{p}", x="x") for p in PLAYERS}
    return Curve(label, settings, points, fits, bias_fits, x_labels or {})


def _groups(settings: list[SettingData], free: tuple[str, ...]) -> list[list[SettingData]]:
    """Settings grouped by every flat key but ``free``, in order of first appearance."""
    groups: dict = {}
    for s in settings:
        key = tuple(sorted((k, v) for k, v in s.flat.items() if k not in free))
        groups.setdefault(key, []).append(s)
    return list(groups.values())


def _labels(groups: list[list[SettingData]], free: tuple[str, ...]) -> list[str]:
    """Each group's agent, with the other keys that tell the groups apart."""
    describe = ("agent.kind", "agent.alpha_l", "agent.alpha_f", *free)
    varying = []
    keys = sorted({k for g in groups for k in g[0].flat})
    for k in keys:
        if k in describe:
            continue
        if len({json_key(g[0].flat.get(k)) for g in groups}) > 1:
            varying.append(k)
    out = []
    for g in groups:
        words = [g[0].label]
        for k in varying:
            short = k.split(".", 1)[-1]
            value = g[0].flat.get(k)
            if short == "schedule" and value == "doubling":
                words.append("re-plan on doubling of det Λ")
            elif short == "schedule" and value == "every":
                words.append("re-plan every episode")
            else:
                words.append(f"{short} = {alpha_text(value) if is_real(value) else value}")
        out.append(", ".join(words))
    return out


def _curves(settings: list[SettingData], free: tuple[str, ...], key: str, x_of) -> list[Curve]:
    """Curves of the groups differing only in ``free`` (``x_of(s)``: ``(x, its name or None)``)."""
    groups = [g for g in _groups(settings, free) if len({s.flat.get(key) for s in g}) > 1]
    curves = []
    for g, label in zip(groups, _labels(groups, free), strict=True):
        xs = [x_of(s) for s in g]
        order = np.argsort([x for x, _ in xs], kind="stable")
        names = {x: name for x, name in xs if name is not None}
        curves.append(_curve(label, [g[i] for i in order], [xs[i][0] for i in order], names))
    return curves


def k_curves(settings: list[SettingData]) -> list[Curve]:
    """Regret against ``K``: one curve per group of settings that differ only in ``K``.

    Only groups with at least two values of ``K`` make a curve.
    """
    return _curves(settings, ("episodes",), "episodes", lambda s: (float(s.episodes), None))


SIZES = {
    "param.n_states": ("|S|", "n_states", 0.0),
    "param.dim": ("d", "dim", 1.5),
    "param.horizon": ("H", "horizon", 2.0),
    "agent.beta": ("β", None, None),
}
"""The quantities whose effect the report shows when a sweep varies them: their symbol, the
manifest's game record key that holds the value, and the exponent of total regret in the bound
``√(d³H³T)`` at fixed ``K`` (``T = KH``: ``d^1.5``, ``H^2``, nothing in ``|S|``)."""


def size_curves(settings: list[SettingData]) -> dict[str, list[Curve]]:
    """Total regret against ``|S|``, ``d``, ``H`` or ``β``, where the settings vary them.

    For each quantity, groups of settings that differ only in it (at the same ``K``); only
    groups with at least two values make a curve. ``β = theory`` is placed at its resolved
    value and labelled so.

    Returns:
        ``{key of SIZES: curves}`` for the quantities that vary.
    """
    out = {}
    for key, (_, record_key, _) in SIZES.items():

        def x_of(s: SettingData, key=key, record_key=record_key) -> tuple[float, str | None]:
            if record_key is not None:
                return float((s.manifest.get("game") or {}).get(record_key)), None
            x = float((s.manifest.get("resolved") or {}).get("beta") or 0.0)
            return x, (f"theory ({x:.3g})" if s.flat.get(key) == "theory" else None)

        free = (key, "agent.c1", "agent.p") if key == "agent.beta" else (key,)
        curves = _curves(settings, free, key, x_of)
        for c in curves:
            xs = [x_of(s)[0] for s in c.settings]
            symbol = SIZES[key][0]
            for sym, spec, values in resolved_changes(c.settings, symbol):
                at = ", ".join(f"{v} at {symbol} = {x:g}" for x, v in zip(xs, values, strict=True))
                c.resolved.append(f"{sym} = {spec} is {at}")
                c.label += f", {sym} = {' → '.join(values)}"
        if curves:
            out[key] = curves
    return out


RESOLVED = {"beta": "β", "alpha_l": "α_l", "alpha_f": "α_f"}
"""The agent's values resolved from the game and ``K`` (``β = theory``, ``α = fixed-K``)."""


def resolved_changes(settings: list[SettingData], symbol: str) -> list[tuple[str, str, list[str]]]:
    """What settings that differ only in ``symbol`` resolve to differently.

    Returns:
        ``[("β", "theory", ["79.5", "163"])]``: the symbol, its specification and each setting's
        value, for each of :data:`RESOLVED` that differs from one setting to the next.
    """
    out = []
    for name, sym in RESOLVED.items():
        values = [(s.manifest.get("resolved") or {}).get(name) for s in settings]
        if sym == symbol or len({json.dumps(v, sort_keys=True) for v in values}) < 2:
            continue
        spec = alpha_text((settings[0].config.get("agent") or {}).get(name))
        out.append((sym, spec, [f"{v:.3g}" if is_real(v) else "(schedule)" for v in values]))
    return out


def prefix_curve(setting: SettingData, points: int = 5) -> Curve | None:
    """Cumulative regret of one run at ``points`` prefixes ``K/16 … K`` (None if too short).

    With ``eval_every > 1`` a prefix ends with the last evaluated block that ends by it, and is
    placed at the number of episodes it covers.
    """
    K = setting.episodes
    sizes = prefix_sizes(K, points)
    if len(sizes) < 2:
        return None
    cum = cumulative_regret(setting.df)
    rows = []
    for s, part in cum.groupby("seed"):
        ends = part["episodes"].to_numpy()
        for k in sizes:
            upto = part[ends <= k]
            if len(upto):
                last = upto.iloc[-1]  # with eval_every > 1, the last block that ends by k
                x = float(last["episodes"])
                rows.append({"x": x, "seed": s, **{p: last[p] for p in PLAYERS}})
    table = pd.DataFrame(rows)
    fits = {p: loglog_fit(table, p, x="x") for p in PLAYERS}
    return Curve(setting.label, [setting], table, fits, {})
