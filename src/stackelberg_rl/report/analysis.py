"""What the report shows, as numbers: each setting's regret and bias, and regret along a size.

The soft-max bias of an episode is the exact regret of soft-max play with its ``α`` planned on the
true model (:func:`~stackelberg_rl.planning.softmax_bias`), bounded by ``H·log|A_i|/α_i`` (Lemmas
2 and 4); summed like regret, it is the part of the regret learning cannot remove.
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
from ..experiments.loop import alpha_names, player_names
from ..games import FiniteGame
from ..planning import softmax_bias, softmax_bias_bound
from .tables import SlopeFit, cumulative_regret, loglog_fit, players, summary, total_regret


def episode_bias(game: FiniteGame, df: pd.DataFrame, cache: dict | None = None) -> pd.DataFrame:
    """The soft-max bias and its bound in every evaluated episode of a run of the finite ``game``.

    ``df`` is the run's results (with its ``alpha_*`` columns); ``cache``, reused between calls,
    plans each profile of ``α`` of a game once. Returns one row per evaluated episode: ``seed``,
    ``episode``, ``eval_weight``, ``bias_leader``, ``bias_follower…``, ``bound_leader``,
    ``bound_follower…``. Raises :class:`ValueError` if the run has no ``α`` (a baseline).
    """
    cache = {} if cache is None else cache
    d = df[df["eval_weight"] > 0]
    alphas = d[list(alpha_names(game.n_players))].to_numpy(dtype=float)
    if np.isnan(alphas).any():
        raise ValueError("the run records no soft-max α (a baseline that does not learn)")
    profiles, index = np.unique(alphas, axis=0, return_inverse=True)
    fingerprint = game.fingerprint()
    keys = [(fingerprint, *map(float, profile)) for profile in profiles]
    for key in keys:
        if key not in cache:
            bias, bound = softmax_bias(game, *key[1:]), softmax_bias_bound(game, *key[1:])
            cache[key] = np.concatenate([bias, bound])
    table = np.array([cache[key] for key in keys])
    out = d[["seed", "episode", "eval_weight"]].reset_index(drop=True)
    names = player_names(game.n_players)
    out[[f"{what}_{p}" for what in ("bias", "bound") for p in names]] = table[np.ravel(index)]
    return out


def run_bias(game: FiniteGame, df: pd.DataFrame, cache: dict | None = None) -> pd.DataFrame:
    """Each seed's total soft-max bias and Lemma 2's bound: :func:`episode_bias` summed by seed."""
    return _seed_totals(episode_bias(game, df, cache))


def _seed_totals(per_episode: pd.DataFrame) -> pd.DataFrame:
    columns = per_episode.columns.drop(["seed", "episode", "eval_weight"])
    weighted = per_episode[columns].mul(per_episode["eval_weight"], axis=0)
    return weighted.groupby(per_episode["seed"]).sum().reset_index()


def alpha_text(spec) -> str:
    """An ``α`` specification in words: ``fixed-K``, ``power:1,0.7``, ``∞``, ``3``, ``(∞, 2)``."""
    if isinstance(spec, list):
        return f"({', '.join(map(alpha_text, spec))})"
    if spec in ("inf", math.inf) or (is_real(spec) and math.isinf(spec)):
        return "∞"
    return f"{spec:g}" if is_real(spec) else str(spec)


GREEDY = "greedy (LSVI-UCB, α = ∞)"


def describe_agent(config: dict) -> str:
    """The players' algorithm in words, from a configuration's ``agent``."""
    agent = config.get("agent") or {}
    kind = agent.get("kind", "softmax-lsvi-ucb")
    if kind in ("random", "oracle"):
        return {"random": "uniform random play", "oracle": "Stackelberg oracle"}[kind]
    al, af = alpha_text(agent.get("alpha_l")), alpha_text(agent.get("alpha_f"))
    if kind == "greedy-lsvi-ucb" or al == af == "∞":  # soft-max at α = ∞ is greedy play
        return GREEDY
    if al == af:
        return f"soft-max, {al} α" if al in ("fixed-K", "anytime") else f"soft-max, α = {al}"
    return f"soft-max, α_l = {al}, α_f = {af}"


def flat_config(manifest: dict) -> dict:
    """A run's configuration as flat ``key: value`` pairs that tell settings apart."""
    config, game = manifest.get("config") or {}, manifest.get("game") or {}
    registered = game.get("registered") or {}
    if registered:
        out = {"game": registered.get("name")}
        out |= {f"param.{k}": v for k, v in (registered.get("params") or {}).items()}
    else:
        out = {"game": game.get("sha256") or (config.get("game") or {}).get("sha256")}
    out |= {f"agent.{k}": json_key(v) for k, v in (config.get("agent") or {}).items()}
    return out | {k: config.get(k) for k in ("episodes", "seeds", "seed", "eval_every")}


def json_key(value):
    """A hashable form of a configuration value."""
    if isinstance(value, dict):
        return tuple(sorted((k, json_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(json_key(v) for v in value)
    return value


@dataclass
class SettingData:
    """One run with what the report computes from it (no ``bias``: the reason in ``bias_note``)."""

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
    bias_lost: bool = False  # a bias the report should show but cannot (game not built again)
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
        """Per player: ``regret`` (mean), ``half_width``, ``bias``, ``bound``, ``share``."""
        out = summary(self.df)[["player", "mean", "half_width"]].rename(columns={"mean": "regret"})
        means = {} if self.bias is None else self.bias.mean()
        for what in ("bias", "bound"):
            out[what] = [float(means.get(f"{what}_{p}", math.nan)) for p in out["player"]]
        out["share"] = (out["bias"] / out["regret"]).where(out["regret"] > 0)
        return out


CONTINUOUS = "the game is continuous: the exact bias needs a finite game"


def rebuild_game(manifest: dict) -> tuple[FiniteGame | None, str | None]:
    """The game a run played, rebuilt and checked against its SHA-256, or ``None`` and why."""
    try:
        game = RunConfig.from_dict(manifest.get("config") or {}).game.make()
    except (ValueError, TypeError, OSError) as err:
        return None, f"the game cannot be built again ({err})"
    if not isinstance(game, FiniteGame):
        return None, CONTINUOUS
    recorded = (manifest.get("game") or {}).get("sha256")
    if recorded != game.fingerprint():
        return None, (
            f"the game built again from the manifest is not the one played (SHA-256 "
            f"{game.fingerprint()[:12]}…, recorded {str(recorded)[:12]}…)"
        )
    return game, None


def analyse_setting(
    name: str, folder: Path, df: pd.DataFrame, manifest: dict, cache=None, games=None
) -> SettingData:
    """A :class:`SettingData`; a sweep's settings share ``cache`` and ``games`` (by SHA-256)."""
    label = describe_agent(manifest.get("config") or {})
    data = SettingData(name, Path(folder), df, manifest, label, total_regret(df))
    data.flat = flat_config(manifest)
    if (data.config.get("agent") or {}).get("kind") in ("random", "oracle"):
        data.bias_note = f"the {data.label} does not play soft-max: it has no soft-max bias"
        return data
    games = {} if games is None else games
    sha = (manifest.get("game") or {}).get("sha256")
    if sha not in games:
        game, data.bias_note = rebuild_game(manifest)
        if game is None:
            data.bias_lost = data.bias_note != CONTINUOUS
            return data
        games[sha] = game
    data.game = games[sha]
    try:
        data.episode_bias = episode_bias(data.game, df, cache)
    except ValueError as err:
        data.bias_note = str(err)
        return data
    data.bias = _seed_totals(data.episode_bias)
    return data


@dataclass
class Curve:
    """Total regret of settings that differ in one quantity ``x`` (``K``, ``|S|``, …).

    ``points``: one row per ``x`` and seed (``x``, ``seed``, each player's total and bias);
    ``fits``/``bias_fits``: each player's log-log slope of it on ``x``; ``x_labels``: names of
    some ``x``; ``resolved``: what else changes with ``x``, in words.
    """

    label: str
    settings: list[SettingData]
    points: pd.DataFrame
    x_labels: dict = field(default_factory=dict)
    resolved: list[str] = field(default_factory=list)
    fits: dict[str, SlopeFit] = field(init=False)
    bias_fits: dict[str, SlopeFit] = field(init=False)

    def __post_init__(self) -> None:
        self.fits = {p: loglog_fit(self.points, p, x="x") for p in players(self.points)}
        bias = self.has_bias
        self.bias_fits = {p: loglog_fit(self.points, f"bias_{p}", x="x") for p in self.fits if bias}

    def means(self) -> pd.DataFrame:
        """Per ``x``: the mean over seeds of every column of :attr:`points`."""
        return self.points.drop(columns="seed").groupby("x").mean()

    @property
    def has_bias(self) -> bool:
        """Whether every setting of the curve has its soft-max bias."""
        return "bias_leader" in self.points.columns and self.points["bias_leader"].notna().all()


def _labels(groups: list[list[SettingData]], free: tuple[str, ...]) -> list[str]:
    """Each group's agent, with the other keys that tell the groups apart."""
    describe = ("agent.kind", "agent.alpha_l", "agent.alpha_f", *free)
    keys = sorted({k for g in groups for k in g[0].flat} - set(describe))
    varying = [k for k in keys if len({json_key(g[0].flat.get(k)) for g in groups}) > 1]
    schedules = {"doubling": "re-plan on doubling of det Λ", "every": "re-plan every episode"}
    out = []
    for g in groups:
        words = [g[0].label]
        for k in varying:
            short, value = k.split(".", 1)[-1], g[0].flat.get(k)
            if short == "schedule" and value in schedules:
                words.append(schedules[value])
            else:
                words.append(f"{short} = {alpha_text(value) if is_real(value) else value}")
        out.append(", ".join(words))
    return out


def _curves(settings: list[SettingData], free: tuple[str, ...], key: str, x_of) -> list[Curve]:
    """Curves of the groups differing only in ``free``, at two ``x = x_of(s)[0]`` or more."""
    groups: dict = {}
    for s in settings:
        same = tuple(sorted((k, v) for k, v in s.flat.items() if k not in free))
        groups.setdefault(same, []).append(s)
    found = [g for g in groups.values() if len({s.flat.get(key) for s in g}) > 1]
    curves = []
    for g, label in zip(found, _labels(found, free), strict=True):
        g = sorted(g, key=lambda s: x_of(s)[0])
        xs = [x_of(s) for s in g]
        rows = [
            s.totals if s.bias is None else s.totals.merge(s.bias, on="seed", how="left") for s in g
        ]
        points = pd.concat([r.assign(x=x) for r, (x, _) in zip(rows, xs, strict=True)])
        names = {x: name for x, name in xs if name is not None}
        curves.append(Curve(label, g, points.reset_index(drop=True), names))
    return curves


def k_curves(settings: list[SettingData]) -> list[Curve]:
    """Regret against ``K``: one curve per group of settings that differ only in ``K``."""
    return _curves(settings, ("episodes",), "episodes", lambda s: (float(s.episodes), None))


def slope_lines(curves: list[Curve]) -> list[str]:
    """Regret against ``K`` for a terminal: per curve and player, the slope, regret and bias."""
    if not curves:
        return []
    Ks = sorted({int(x) for c in curves for x in c.points["x"]})
    lines = [
        f"Total regret against K = {', '.join(map(str, Ks))}: log-log slope with its 95% "
        "interval over seeds (the bound O~(sqrt(d^3 H^3 T)) has slope 0.5), and at the largest K "
        "the regret and its soft-max bias share (the part that soft-max play with the same "
        "alpha would lose on the true model, with nothing to learn)."
    ]
    for curve in curves:
        lines.append(f"  {curve.label}")
        means = curve.means()
        K = int(means.index.max())
        for p in curve.fits:
            regret = means.loc[K, p]
            line = f"    {p:<8} slope {curve.fits[p].text():<18} regret at K = {K}: {regret:.1f}"
            if curve.has_bias and means.loc[K, f"bias_{p}"] > 0:
                share = means.loc[K, f"bias_{p}"] / regret if regret > 0 else math.nan
                line += f", bias share {share:.0%} (bias slope {curve.bias_fits[p].text()})"
            elif curve.has_bias:
                line += ", no soft-max bias"
            lines.append(line)
    return lines


# The sizes the report shows: symbol, the key of the manifest's game record that holds the
# value, and the exponent of total regret in the bound √(d³H³T) at fixed K.
SIZES = {
    "param.n_states": ("|S|", "n_states", 0.0),
    "param.dim": ("d", "dim", 1.5),
    "param.horizon": ("H", "horizon", 2.0),
    "agent.beta": ("β", None, None),
}
RESOLVED = {"beta": "β", "alpha_l": "α_l", "alpha_f": "α_f"}  # values resolved from game and K


def size_curves(settings: list[SettingData]) -> dict[str, list[Curve]]:
    """Total regret against ``|S|``, ``d``, ``H`` or ``β`` (``{key of SIZES: curves}``).

    ``β = theory`` is placed at its resolved value; what else resolves to another value along
    the curve is named in its label and :attr:`Curve.resolved`.
    """
    out = {}
    for key, (symbol, record_key, _) in SIZES.items():

        def x_of(s: SettingData, key=key, record_key=record_key) -> tuple[float, str | None]:
            if record_key is not None:
                return float((s.manifest.get("game") or {}).get(record_key)), None
            x = float((s.manifest.get("resolved") or {}).get("beta") or 0.0)
            return x, (f"theory ({x:.3g})" if s.flat.get(key) == "theory" else None)

        free = (key, "agent.c1", "agent.p") if key == "agent.beta" else (key,)
        curves = _curves(settings, free, key, x_of)
        for c in curves:
            xs = [x_of(s)[0] for s in c.settings]
            for name, sym in RESOLVED.items():
                values = [(s.manifest.get("resolved") or {}).get(name) for s in c.settings]
                if sym == symbol or len({json.dumps(v, sort_keys=True) for v in values}) < 2:
                    continue
                spec = alpha_text((c.settings[0].config.get("agent") or {}).get(name))
                texts = [f"{v:.3g}" if is_real(v) else "(schedule)" for v in values]
                at = ", ".join(f"{v} at {symbol} = {x:g}" for x, v in zip(xs, texts, strict=True))
                c.resolved.append(f"{sym} = {spec} is {at}")
                c.label += f", {sym} = {' → '.join(texts)}"
        if curves:
            out[key] = curves
    return out


def prefix_curve(setting: SettingData, points: int = 5) -> Curve | None:
    """Cumulative regret of one run at ``points`` prefixes ``K/16 … K`` (None if too short).

    A prefix ends with the last evaluated block that ends by it, placed at the episodes it covers.
    """
    sizes = prefix_sizes(setting.episodes, points)
    if len(sizes) < 2:
        return None
    rows, names = [], list(players(setting.df))
    for s, part in cumulative_regret(setting.df).groupby("seed"):
        for k in sizes:
            upto = part[part["episodes"].to_numpy() <= k]
            if len(upto):
                last = upto.iloc[-1]
                rows.append({"x": float(last["episodes"]), "seed": s, **last[names]})
    return Curve(setting.label, [setting], pd.DataFrame(rows))
