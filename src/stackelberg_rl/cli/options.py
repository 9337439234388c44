"""Command-line options generated from the configuration dataclasses, and the ones commands share.

Each field (:func:`~stackelberg_rl._fields.cli_fields`) is one option, its help the docstring under
the field, its default from an instance (so ``run`` and ``demo`` differ in defaults only); the
dataclasses check the values. Field metadata: ``"metavar"`` names the value, ``"help_more"`` adds
help known at run time, ``"replaces"`` gives sibling fields their defaults when the option is
given (``--game-file`` replaces the game's name and parameters).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from .._fields import cli_fields, convert, field_docstrings
from ..agents import UNUSED_UNLESS, AgentConfig
from ..experiments import ExecutionOptions, RunConfig
from ..experiments.resources import check_game_fits
from ..games import Game
from .errors import UsageError, checked


@dataclass(frozen=True)
class Option:
    """One generated option: where its value goes and how typer reads it."""

    path: tuple[str, ...]
    """Field names from the top dataclass down, e.g. ``("agent", "beta")``."""
    flag: str
    """``--beta``, or ``--decentralised/--centralised`` for a flag."""
    kind: Any
    default: Any
    help: str
    metavar: str | None = None

    @property
    def ident(self) -> str:
        """The keyword under which typer passes the value."""
        return "__".join(self.path)

    @property
    def name(self) -> str:
        """The option as a user writes it (``--beta``)."""
        return self.flag.split("/")[0]

    @property
    def as_text(self) -> bool:
        """Whether typer reads it as text that :meth:`value` converts (``float | str``, a choice).

        A choice (``Literal``) too: its error is then worded as every other option's.
        """
        members = set(typing.get_args(self.kind)) - {type(None)}
        return typing.get_origin(self.kind) is Literal or str in members and len(members) > 1

    def cli_default(self) -> Any:
        """The default as typer shows and returns it."""
        if self.kind is dict or self.default is None:
            return None
        return str(self.default) if self.as_text or self.default == math.inf else self.default

    def parameter(self) -> inspect.Parameter:
        """The ``inspect.Parameter`` typer reads this option from."""
        kind = list[str] | None if self.kind is dict else str | None if self.as_text else self.kind
        default = self.cli_default()
        metavar = self.metavar
        if metavar is None and typing.get_origin(self.kind) is Literal:
            metavar = "[" + "|".join(map(str, typing.get_args(self.kind))) + "]"
        info = typer.Option(
            self.flag, help=self.help, metavar=metavar, show_default=default is not None
        )
        return inspect.Parameter(
            self.ident, inspect.Parameter.KEYWORD_ONLY, default=default,
            annotation=Annotated[kind, info],
        )  # fmt: skip

    def value(self, raw: Any) -> Any:
        """The value the field receives (a dict from repeated ``KEY=VALUE``), else ValueError."""
        if self.kind is not dict:
            return convert(raw, self.kind, self.name) if self.as_text and raw is not None else raw
        out: dict[str, str] = {}
        for item in raw or ():
            key, sep, value = (part.strip() for part in item.partition("="))
            if not sep or not key:
                raise ValueError(f"{self.name} must be KEY=VALUE, got {item!r}")
            if key in out:
                raise ValueError(f"{self.name} {key!r} is given twice")
            out[key] = value
        return out


_type_hints = functools.cache(typing.get_type_hints)  # a dataclass's, once, not once per field


def options(defaults: Any) -> list[Option]:
    """The options of every field of the dataclass instance ``defaults``, nested ones flattened."""
    out: list[Option] = []
    for path, owner, f, value, flag in cli_fields(defaults):
        meta, kind = f.metadata, _type_hints(type(owner))[f.name]
        if kind is bool and "/" not in flag:
            flag = f"{flag}/--no-{flag[2:]}"
        text = field_docstrings(type(owner)).get(f.name, "").replace("``", "")
        if callable(meta.get("help_more")):
            text = f"{text} {meta['help_more']()}"
        metavar = meta.get("metavar") or ("KEY=VALUE" if kind is dict else None)
        out.append(Option(path, flag, kind, value, text, metavar))
    return out


def build(defaults: Any, opts: list[Option], values: dict[str, Any], path: tuple = ()) -> Any:
    """A new ``type(defaults)`` from the ``values`` given (by option ident), others from it.

    Nested dataclasses first, so the first ``ValueError`` names the innermost bad field, by its
    flag (``--episodes``).
    """
    fields = dataclasses.fields(defaults)
    given = {o.path[-1]: o for o in opts if o.path[:-1] == path and o.ident in values}
    replaced = {
        name
        for f in fields
        if f.name in given and values[given[f.name].ident] is not None
        for name in f.metadata.get("replaces", ())
    }
    kwargs = {}
    for f in fields:
        current = getattr(defaults, f.name)
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            kwargs[f.name] = build(current, opts, values, (*path, f.name))
        elif f.name in given:
            kwargs[f.name] = given[f.name].value(values[given[f.name].ident])
        elif f.name not in replaced:
            kwargs[f.name] = current
    try:
        return type(defaults)(**kwargs)
    except ValueError as err:  # "episodes must be …" said as typed: "--episodes must be …"
        field, sep, rest = str(err).partition(" ")
        flags = {o.path[-1]: o.name for o in opts if o.path[:-1] == path}
        if field not in flags:
            raise
        raise ValueError(f"{flags[field]}{sep}{rest}") from None


def command(opts: list[Option], *extra: inspect.Parameter):
    """A decorator: ``body(values)`` as a typer command with the options ``opts`` and ``extra``.

    ``body`` receives only the options given on the command line (and ``extra``'s), by ident;
    its name and docstring are the command's.
    """

    def decorate(body: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
        def function(ctx: typer.Context, **values: Any) -> Any:
            sources = {o.ident: ctx.get_parameter_source(o.ident) for o in opts}
            left = {k for k, s in sources.items() if s is None or s.name.startswith("DEFAULT")}
            return body({k: v for k, v in values.items() if k not in left})

        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        params = [context, *extra, *(o.parameter() for o in opts)]
        function.__signature__ = inspect.Signature(params)
        function.__annotations__ = {p.name: p.annotation for p in params}
        function.__name__, function.__doc__ = body.__name__, body.__doc__
        return function

    return decorate


def argument(name: str, help: str, metavar: str) -> inspect.Parameter:
    """A command's positional path argument ``name`` (passed to the body among the values)."""
    info = typer.Argument(help=help, metavar=metavar, show_default=False)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Path, info])


def restated(opts: list[Option], helps: dict[str, str], names) -> list[Option]:
    """The options ``names`` of ``opts``, with the help ``helps`` gives by name."""
    return [dataclasses.replace(o, help=helps.get(o.name, o.help)) for o in opts if o.name in names]


def check_unchanged(
    given: Any, recorded: Any, opts: list[Option], values: dict, what: str, skip=()
) -> None:
    """Raise :class:`UsageError` if an option given (not in ``skip``) changes ``recorded``."""
    for option in (o for o in opts if o.ident in values and o.path[0] not in skip):
        ours, theirs, owners = given, recorded, None
        for name in option.path:
            owners = (ours, theirs)
            ours, theirs = getattr(ours, name), getattr(theirs, name)
        if option.path[-1] == "params" and owners[0].name == owners[1].name:
            # A game's parameters given at the values the run has (its defaults too) are its own.
            with contextlib.suppress(ValueError, KeyError):
                played = owners[1].resolved()
                theirs = {k: played[k] for k in ours}
        if ours != theirs:
            ours, theirs = (
                " ".join(f"{k}={v}" for k, v in x.items()) or "{}" if isinstance(x, dict) else x
                for x in (ours, theirs)
            )
            raise UsageError(
                f"{option.name} {ours} disagrees with the {what}, which has {theirs}: a resumed "
                f"{what.split()[0]} keeps its configuration; leave {option.name} out"
            )


def make_game(config: RunConfig) -> Game:
    """The game ``config`` plays, made once it is known to fit in memory (else UsageError)."""
    return checked(lambda: (check_game_fits(config), config.game.make())[1])


RUN_DEFAULTS = RunConfig(seeds=4)
"""``run``'s defaults: :class:`RunConfig`'s, with four seeds (for an interval over seeds)."""

RUN_OPTIONS = options(RUN_DEFAULTS)
"""What a run is: ``run``'s options, and the keys of a sweep file."""

AGENT_FLAGS = {o.path[-1]: o.flag for o in RUN_OPTIONS if o.path[0] == "agent"}
"""Each agent field's flag (``alpha_l``: ``--alpha-l``)."""


def unused_agent_option(agent: AgentConfig, given: list[str]) -> str | None:
    """The first agent field of ``given`` that ``agent``'s other options leave without use.

    In the options' words, ``"--c1 has no effect without --beta theory"``; ``None``: none.
    """
    unused = agent.unused(given)
    if not unused:
        return None
    (name, by), flags = unused[0], AGENT_FLAGS
    if by == "kind":
        amiss = f"with --agent {agent.kind}"
    elif UNUSED_UNLESS[name][1] is True:  # a switch: what is amiss is its --no- form
        amiss = f"with --no-{flags[by].split('/')[0][2:]}"
    else:
        amiss = f"without {flags[by]} {UNUSED_UNLESS[name][1]}"
    return f"{flags[name]} has no effect {amiss}"


EXECUTION_OPTIONS = options(ExecutionOptions())
"""Where and how a run plays (nothing here changes its results)."""

SWEEP_OPTIONS = restated(
    EXECUTION_OPTIONS,
    {
        "--out": "The sweep folder (default: sweeps/NAME for a file NAME.yaml). Running the same "
        "sweep into the same folder again skips what is complete and runs what is not.",
        "--backend": "local: worker processes on this machine; ray: the tasks on a Ray cluster "
        "(pip install 'stackelberg-rl[ray]' on the driver and the workers).",
        "--address": "The Ray cluster's address (HEAD:6379); default: a Ray started here for "
        "this sweep.",
        "--workers": "Local worker processes (default: every core; 1 plays in this process), or "
        "the CPUs of a Ray started here.",
        "--checkpoint-every": "Seconds between checkpoints of every playing seed's state, kept in "
        "its run folder (also taken at Ctrl-C or kill on the local backend; inf: only then). "
        "Running the sweep again continues each seed from its checkpoint.",
    },
    ("--out", "--backend", "--address", "--workers", "--quiet", "--checkpoint-every"),
)
"""Where and how a sweep plays: no ``--overwrite``, ``--resume`` (it goes on when run again)."""
