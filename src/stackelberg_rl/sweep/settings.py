"""The settings of a sweep: run configurations named by what sets them apart.

A name is the ``key=value`` pairs (``run``'s option names, ``param.NAME`` for a game parameter)
of the options that differ between the settings, in ``run``'s order, joined by commas, with any
character but letters, digits and ``._+=-`` replaced by ``-``: ``episodes=1000,alpha-l=anytime``.
A setting that gives none of them (only game parameters others give, left to their defaults) is
named by all of them, its defaults filled in. Names shared by two settings, or too long, keep a
prefix and get a short hash of the configuration.
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from .._fields import cli_fields
from .._validate import instance
from ..experiments import RunConfig
from ..experiments.config import jsonable

NAME_MAX = 120  # the longest name made from a setting (a file system allows 255 bytes)
_UNSAFE = re.compile(r"[^A-Za-z0-9._+=-]+")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._=,+-]{0,254}")
RESERVED = ("sweep.", "report")  # how the sweep folder's own files begin


@dataclass(frozen=True)
class Setting:
    """One point of a sweep: its name (its folder's) and its run configuration."""

    name: str
    config: RunConfig


def check_settings(settings: list[Setting]) -> None:
    """Refuse (ValueError) settings that cannot share a sweep folder, before anything is written."""
    named = "the named settings from name_settings(configs)"
    instance(settings, list | tuple, "settings", f"a list of {named}")
    if not settings:
        raise ValueError("a sweep needs at least one setting")
    for i, setting in enumerate(settings):
        instance(setting, Setting, f"settings[{i}]", f"one of {named}")
    names = [s.name for s in settings]
    for name in names:
        if not (isinstance(name, str) and _NAME.fullmatch(name)) or name.startswith(RESERVED):
            raise ValueError(
                f"setting name {name!r} must be letters, digits and ._=,+- (not starting with "
                "sweep. or report): it names the setting's run folder"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"setting names must differ: {names}")
    for s in settings:
        s.config.validate()


def depends_on_K(config: dict) -> list[str]:
    """What in a manifest's ``config`` depends on ``K`` (``["α_l (fixed-K)", "β (theory)"]``).

    With ``[]`` a run is the first ``K`` episodes of any longer run of its seeds.
    """
    agent = config.get("agent") or {}
    out = []
    if agent.get("kind", "softmax-lsvi-ucb") == "softmax-lsvi-ucb":
        for name, who in (("alpha_l", "α_l"), ("alpha_f", "α_f")):
            specs = agent.get(name)  # α_f: one for every follower, or a list of them
            for spec in dict.fromkeys(specs if isinstance(specs, list) else [specs]):
                if isinstance(spec, str) and (spec == "fixed-K" or spec.startswith("power")):
                    out.append(f"{who} ({spec})")
    learns = agent.get("kind") in ("softmax-lsvi-ucb", "greedy-lsvi-ucb")
    if learns and agent.get("beta") == "theory":
        out.append("β (theory)")
    return out


def config_key(config: RunConfig, **changes: Any) -> str:
    """``config`` (with ``changes``) as canonical JSON text, as a run folder's manifest has it."""
    return json.dumps(jsonable({**config.to_dict(), **changes}), sort_keys=True)


def run_key(config: RunConfig) -> str:
    """``config`` as canonical JSON text with the game's defaults filled in.

    Two configurations are the same run if and only if their keys are equal (a parameter left
    out and one given its default value).
    """
    return config_key(config, game={**asdict(config.game), "params": config.game.resolved()})


def _options(config: RunConfig, resolved: bool = False) -> dict[str, Any]:
    """Every option of ``run`` and its value in ``config``, in ``run``'s order.

    ``resolved``: every parameter of the game, its default filled in where not given.
    """
    out = {}
    for path, *_, value, flag in cli_fields(config):
        key = flag.split("/")[0][2:]
        if resolved and path == ("game", "params"):
            value = config.game.resolved()
        if isinstance(value, dict):
            out.update({f"{key}.{name}": value[name] for name in sorted(value)})
        else:
            out[key] = value
    return out


def _text(value: Any) -> str:
    if isinstance(value, list):  # one α per follower, as the command line spells it
        return " ".join(map(_text, value))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):  # f"{inf:g}" is "inf"
        return f"{value:g}" if float(f"{value:g}") == value else repr(value)
    return str(value)


def name_settings(configs: list[RunConfig]) -> list[Setting]:
    """Name each configuration by what sets it apart from the others (see the module).

    Raises:
        ValueError: two configurations are the same run (naming both positions).
    """
    seen: dict[str, int] = {}
    for i, config in enumerate(configs):
        key = run_key(instance(config, RunConfig, f"configs[{i}]"))
        if key in seen:
            raise ValueError(
                f"settings {seen[key] + 1} and {i + 1} are the same run once the game's "
                "defaults are filled in: a value is listed twice, or given and left out"
            )
        seen[key] = i
    flat = [_options(c) for c in configs]
    keys = dict.fromkeys(k for values in flat for k in values)
    varying = [k for k in keys if len({_text(v.get(k, "")) for v in flat}) > 1]
    names = []
    for config, values in zip(configs, flat, strict=True):
        if not any(k in values for k in varying):  # only game parameters it leaves to defaults
            values = _options(config, resolved=True)
        if "game-file" in varying and values.get("game-file"):
            values = {**values, "game-file": config.game.label}
        pairs = [f"{k}={_text(values[k])}" for k in varying if k in values]
        safe = [_UNSAFE.sub("-", p).strip("-.") or "-" for p in pairs]
        names.append(",".join(safe) if varying else "run")
    counts = collections.Counter(names)
    out = []
    for config, name in zip(configs, names, strict=True):
        if counts[name] > 1 or len(name) > NAME_MAX:
            digest = hashlib.sha256(config_key(config).encode()).hexdigest()[:8]
            name = f"{name[: NAME_MAX - 9].rstrip(',-.')}-{digest}"
        out.append(Setting(name, config))
    return out
