"""``sweep CONFIG.yaml``; its file: ``run``'s options as YAML keys, a list for every value to try.

The settings are the product of the lists, the first key varying slowest; ``zip`` pairs lists
instead; ``param`` maps the game's parameters (``docs/sweeps.md``). Every value is checked before
anything runs, by the dataclasses the command line uses: a refusal is one line, ``FILE:LINE: KEY:
why``.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import sweep as sweeps
from .._fields import convert
from ..experiments import ExecutionOptions, RunConfig, store
from ..sweep.grid import dropped_settings
from .errors import INTERRUPTION, UsageError, checked
from .options import (
    EXECUTION_OPTIONS,
    RUN_DEFAULTS,
    RUN_OPTIONS,
    SWEEP_OPTIONS,
    Option,
    argument,
    build,
    command,
    unused_agent_option,
)

ZIP, PARAM = "zip", "param"
MAX_SETTINGS = 10_000  # two long lists crossed, not zipped, are refused at once
OPTIONS: dict[str, Option] = {o.name[2:]: o for o in RUN_OPTIONS}
COMMAND_LINE_ONLY = [o.name[2:] for o in EXECUTION_OPTIONS]  # where and how it runs, not what


class SweepFileError(ValueError):
    """A sweep file that cannot be run: the message is one line, ``FILE:LINE: KEY: why``."""


@dataclass(frozen=True)
class Value:
    """One value of the file, where it was written; ``key`` is an option name or ``param.NAME``."""

    value: Any
    line: int
    key: str


@dataclass
class Point:
    """One setting of the sweep: its configuration and the file's values it was made from."""

    config: RunConfig
    values: dict[str, Value]


ALLOWED_KEYS = ", ".join([*(k for k in OPTIONS if k != PARAM), PARAM, ZIP])


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Reader:
    """Walks the YAML nodes of one file, collecting axes of values with their lines."""

    def __init__(self, where: str, base: Path) -> None:
        self.where, self.base, self.seen = where, base, {}
        self.axes: list[list[list[Value]]] = []  # each setting takes a point of every axis
        self.constructor = yaml.constructor.SafeConstructor()

    def fail(self, at: int | yaml.Node, key: str | None, message: str) -> SweepFileError:
        line = at if isinstance(at, int) else _line(at)
        return SweepFileError(f"{self.where}:{line}: " + (f"{key}: " if key else "") + message)

    def scalar(self, node: yaml.Node, key: str | None) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            what = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            raise self.fail(node, key, f"a value must be a number or a word, not {what}")
        try:
            return self.constructor.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, OverflowError) as err:
            # an unknown tag (!include), or a known one on a word (!!int abc, !!timestamp abc)
            problem = (
                getattr(err, "problem", None) or err
                if isinstance(err, yaml.YAMLError)
                else f"the tag {node.tag} cannot read {node.value!r}"
            )
            raise self.fail(node, None, f"not valid YAML: {problem}") from None

    def values(self, key: str, line: int, node: yaml.Node, in_zip: bool) -> list[Value]:
        if key in self.seen:
            raise self.fail(line, key, f"given twice (also on line {self.seen[key]})")
        self.seen[key] = line
        items = node.value if isinstance(node, yaml.SequenceNode) else None
        if items == []:
            raise self.fail(node, key, "an empty list gives no setting")
        if items is None and in_zip:
            raise self.fail(node, key, "in a zip group every value is a list")
        return [Value(self.scalar(item, key), _line(item), key) for item in items or [node]]

    def name(self, node: yaml.Node) -> str:
        raw = self.scalar(node, None)
        if not isinstance(raw, str) or not raw.strip():
            raise self.fail(node, None, f"a key must be a name, got {raw!r}")
        return raw

    def key_of(self, node: yaml.Node) -> str:
        raw = self.name(node)
        key = raw.strip().replace("_", "-")  # alpha_l and alpha-l are alpha-l
        if key in (ZIP, PARAM) or key in OPTIONS:
            return key
        if key in COMMAND_LINE_ONLY:  # where and how it runs, not what
            why = (
                f"is an option of the sweep command (--{key}), not of the file's settings"
                if any(o.name == f"--{key}" for o in SWEEP_OPTIONS)
                else f"is an option of run (--{key}), not of a sweep: running a sweep again "
                "continues it"
            )
            raise self.fail(node, raw, why)
        close = difflib.get_close_matches(key, [*OPTIONS, PARAM, ZIP], n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise self.fail(node, raw, f"unknown key{hint}; the keys are run's options: {ALLOWED_KEYS}")

    def mapping(self, node: yaml.Node, in_zip: bool) -> list[list[Value]]:
        """The value lists of the file's top level or a zip group, key by key."""
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, None, "expected a mapping of keys to values")
        lists: list[list[Value]] = []
        for key_node, value_node in node.value:
            key = self.key_of(key_node)
            if key == ZIP and in_zip:
                raise self.fail(key_node, ZIP, "a zip group cannot hold another zip")
            if key == ZIP:
                self.zips(value_node)
            elif key != PARAM:
                lists.append(self.values(key, _line(key_node), value_node, in_zip))
            elif not isinstance(value_node, yaml.MappingNode):
                raise self.fail(value_node, PARAM, "must be a mapping of game parameters")
            else:
                for pk, pv in value_node.value:
                    name = f"{PARAM}.{self.name(pk).strip().replace('-', '_')}"
                    lists.append(self.values(name, _line(pk), pv, in_zip))
        return lists

    def zips(self, node: yaml.Node) -> None:
        groups = node.value if isinstance(node, yaml.SequenceNode) else [node]
        if not groups:
            raise self.fail(node, ZIP, "an empty list gives no setting")
        for group in groups:
            lists = self.mapping(group, in_zip=True)
            if len({len(v) for v in lists}) > 1:
                shown = ", ".join(f"{v[0].key} has {len(v)}" for v in lists)
                raise self.fail(
                    group, ZIP, f"the lists of a zip group must be of one length: {shown}"
                )
            if lists:
                self.axes.append([list(values) for values in zip(*lists, strict=True)])


def parse(text: str, where: str = "sweep.yaml", base: Path | None = None) -> list[Point]:
    """The settings of a sweep file's ``text``, named ``where``, every value checked.

    Relative ``game-file`` paths are read from ``base``.

    Raises:
        SweepFileError: one line, ``WHERE:LINE: KEY: why``.
    """
    reader = _Reader(where, base or Path("."))
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(err, "problem", None) or err
        raise reader.fail(line, None, f"not valid YAML: {problem}") from None
    if root is None:
        raise reader.fail(1, None, "the file is empty; give at least one of " + ALLOWED_KEYS)
    reader.axes += [[[v] for v in values] for values in reader.mapping(root, in_zip=False)]
    size = math.prod(len(axis) for axis in reader.axes)
    if size > MAX_SETTINGS:
        lists = " × ".join(str(len(axis)) for axis in reader.axes if len(axis) > 1)
        raise reader.fail(
            1, None, f"the grid has {size:,} settings ({lists}); a sweep plays at most "
            f"{MAX_SETTINGS:,}: split it into several files"
        )  # fmt: skip
    axes = [[[_checked(reader, v) for v in point] for point in axis] for axis in reader.axes]
    points: list[Point] = []
    seen: dict[str, Point] = {}
    for combo in itertools.product(*axes):
        values = {v.key: v for point in combo for v in point}
        point = Point(_config(reader.where, values), values)
        key = sweeps.settings.config_key(point.config)
        if key in seen:
            twice = {k: v for k, v in values.items() if seen[key].values[k] != v}
            raise combination_error(
                reader.where, twice or values, "two settings are the same run"
                " (a value is listed twice, or equals the default another setting has)",
            )  # fmt: skip
        seen[key] = point
        points.append(point)
    for key, line in reader.seen.items():  # an agent option must shape one setting at least
        option = OPTIONS.get(key)
        if option is None or option.path[0] != "agent":
            continue
        given = [option.path[-1]]
        if all(unused_agent_option(p.config.agent, given) for p in points):
            amiss = unused_agent_option(points[0].config.agent, given)
            raise reader.fail(line, key, f"{amiss} in any setting: leave it out")
    return points


def _checked(reader: _Reader, v: Value) -> Value:
    """``v`` converted to its option's type and checked on its own against ``run``'s defaults."""
    if v.key.startswith(f"{PARAM}."):
        if v.value is None:
            raise reader.fail(v.line, v.key, f"must be a number, a word or true/false: {v.value!r}")
        return v
    option = OPTIONS[v.key]
    try:
        value = convert(v.value, option.kind, v.key)
        if v.key == "game-file" and value is not None:
            path = Path(str(value)).expanduser()
            value = str(path if path.is_absolute() else reader.base / path)
        build(RUN_DEFAULTS, RUN_OPTIONS, {option.ident: value})
    except ValueError as err:
        message = str(err)
        if "power:c,p (e.g." in message:
            message += ' (inside [ ], quote it: "power:c,p")'
        if "one of" not in message and "|" in (option.metavar or ""):
            message += f" (allowed: {option.metavar})"
        raise reader.fail(v.line, v.key, message) from None
    return Value(value, v.line, v.key)


def _config(where: str, values: dict[str, Value]) -> RunConfig:
    """The run configuration of one setting; a refusal names the keys it concerns."""
    idents = {OPTIONS[k].ident: v.value for k, v in values.items() if not k.startswith(f"{PARAM}.")}
    params = [
        f"{k[len(PARAM) + 1 :]}={str(v.value).lower() if isinstance(v.value, bool) else v.value}"
        for k, v in values.items()
        if k.startswith(f"{PARAM}.")
    ]  # as the command line's --param KEY=VALUE gives them
    if params:
        idents[OPTIONS[PARAM].ident] = params
    try:
        return build(RUN_DEFAULTS, RUN_OPTIONS, idents)
    except ValueError as err:
        raise combination_error(where, values, str(err)) from None


def combination_error(where: str, values: dict[str, Value], message: str) -> SweepFileError:
    """A refusal of a whole setting, at the keys (options, fields, parameters) the message names."""
    named = []
    for key, v in values.items():
        if key.startswith(f"{PARAM}."):
            name = re.escape(key[len(PARAM) + 1 :])
            patterns = [rf"(parameter '?{name}\b|^{name}\b|\b{name} must\b)"]
        else:
            field_name = OPTIONS[key].path[-1]
            words = (key, field_name, field_name.replace("_", " "))
            patterns = [rf"\b{re.escape(w)}\b" for w in words]
        if any(re.search(p, message) for p in patterns):
            named.append(v)
    chosen = named or list(values.values())
    lines = ",".join(str(n) for n in sorted({v.line for v in chosen})) or "1"
    keys = ", ".join(dict.fromkeys(v.key for v in chosen)) or "(defaults)"
    return SweepFileError(f"{where}:{lines}: {keys}: {message}")


DRY_RUN = Option(
    ("dry_run",), "--dry-run/--no-dry-run", bool, False,
    "List the settings, what would run and what is skipped and why; run nothing.",
)  # fmt: skip
CONFIG_FILE = argument(
    "config_file", "The sweep file: run's options as keys, a list for the values to try.",
    "CONFIG.yaml",
)  # fmt: skip


@command([DRY_RUN, *SWEEP_OPTIONS], CONFIG_FILE)
def sweep(values: dict[str, Any]) -> int:
    """Run a grid of settings from a YAML file, one run folder per setting.

    Every key of the file is an option of run (a list is tried value by value, the settings are
    the product of the lists; zip: pairs lists); it writes one run folder per setting plus
    sweep.json and sweep.log, on local processes or a Ray cluster. Running it again skips what
    is complete and runs what is not.
    """
    path = Path(values.pop("config_file"))
    opts = checked(lambda: build(ExecutionOptions(), SWEEP_OPTIONS, values))
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as err:
        reason = getattr(err, "strerror", None) or str(err)
        raise UsageError(f"cannot read the sweep file {path}: {reason}") from None
    points = checked(lambda: parse(text, str(path), path.parent))
    settings = checked(lambda: sweeps.name_settings([p.config for p in points]))
    out = Path(opts.out) if opts.out else Path("sweeps") / path.stem
    dropped = dropped_settings(out, settings)
    if dropped:  # another file's sweep in that folder: its records give way to this file's
        print(f"note: {out} holds a sweep with {len(dropped)} settings that {path} does not "
              f"have ({store.shown(dropped, 3)}): their run folders stay, and sweep.json lists "
              "this file's settings only", flush=True)  # fmt: skip
    try:
        if values.get("dry_run"):
            states = sweeps.preview(settings, out, build=True, workers=opts.workers)
            print("\n".join(sweeps.preview_lines(states, out)))
            return 0
        INTERRUPTION["note"] = (
            f"workers stopped; the seeds played and checkpoints are kept in {out}: run the same "
            "command again to go on"
        )
        outcome = sweeps.run_grid(
            settings, out, backend=opts.backend, workers=opts.workers, address=opts.address,
            text=text, source=str(path.resolve()), progress=not opts.quiet,
            checkpoint_every=opts.checkpoint_every,
        )  # fmt: skip
    except sweeps.SettingError as err:
        point = {s.name: p for s, p in zip(settings, points, strict=True)}[err.setting.name]
        message = combination_error(str(path), point.values, err.reason)
        raise UsageError(f"{message} (setting {err.setting.name})") from None
    except (sweeps.SweepFolderError, sweeps.BackendUnavailableError, MemoryError) as err:
        raise UsageError(str(err)) from None
    print(outcome.summary())
    return 1 if outcome.failed else 0
