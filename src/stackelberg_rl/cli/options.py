"""Command-line options generated from the configuration dataclasses, and the ones commands share.

Each field of a dataclass (nested dataclasses flattened: ``RunConfig.agent.beta`` is ``--beta``)
becomes one option: its name from the field's (``_`` → ``-``, or ``metadata["flags"]``), its help
from the docstring under the field (:func:`stackelberg_rl._fields.field_docstrings`, read by
``docstring_parser``), its default from an instance of the dataclass (so ``run`` and ``demo``
share options and differ in defaults). The parsed values are handed back to the dataclasses,
whose construction checks them: the command line validates nothing itself.

Field types map to typer's: ``int``, ``float``, ``str``, ``Literal`` (a choice), ``bool`` (a
``--x/--no-x`` flag), ``X | None``; a union with ``str`` (``beta: float | str``) is read as text
and converted by the dataclass; a ``dict`` is a repeatable ``--param KEY=VALUE``.
``metadata={"cli": False}`` leaves a field out; ``"flags"`` and ``"metavar"`` name the option
and its value, ``"help_more"`` (a function) adds help known only at run time, and ``"replaces"``
(names of sibling fields) gives those fields the dataclass's own defaults, not the command's,
when the option is given (``--game-file`` replaces the game's name and parameters). Only the
options given on the command line reach :func:`build`, so ``--game random-linear`` given is told
apart from the default.

The option sets ``run``, ``sweep`` and ``demo`` share are here too, so that no command module
imports another's.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from .._fields import convert, field_docstrings, key_values
from ..experiments import ExecutionOptions, RunConfig
from ..experiments.resources import check_game_fits
from ..games import Game
from .errors import checked


@dataclass(frozen=True)
class Option:
    """One generated option: where its value goes and how typer reads it."""

    path: tuple[str, ...]
    """Field names from the top dataclass down, e.g. ``("agent", "beta")``."""
    flag: str
    """``--beta``, or ``--decentralised/--centralised`` for a flag."""
    kind: Any
    """The field's type (values are converted to it)."""
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
        """Whether typer reads it as text that :meth:`value` converts (``float | str``)."""
        union = typing.get_origin(self.kind) in (typing.Union, types.UnionType)
        members = set(typing.get_args(self.kind)) - {type(None)} if union else set()
        return str in members and len(members) > 1

    def cli_default(self) -> Any:
        """The default as typer shows and returns it."""
        if self.kind is dict or self.default is None:
            return None
        return str(self.default) if self.as_text or self.default == math.inf else self.default

    def parameter(self) -> inspect.Parameter:
        """The ``inspect.Parameter`` typer reads this option from."""
        kind = list[str] | None if self.kind is dict else str | None if self.as_text else self.kind
        default = self.cli_default()
        info = typer.Option(
            self.flag, help=self.help, metavar=self.metavar, show_default=default is not None
        )
        return inspect.Parameter(
            self.ident, inspect.Parameter.KEYWORD_ONLY, default=default,
            annotation=Annotated[kind, info],
        )  # fmt: skip

    def value(self, raw: Any) -> Any:
        """The value the dataclass field receives.

        Raises:
            ValueError: naming the option.
        """
        if self.kind is dict:
            return key_values(list(raw or ()), self.name)
        return convert(raw, self.kind, self.name) if self.as_text and raw is not None else raw


def options(defaults: Any, path: tuple[str, ...] = ()) -> list[Option]:
    """The options of every field of the dataclass instance ``defaults``, nested ones flattened."""
    cls = type(defaults)
    hints = typing.get_type_hints(cls)
    docs = field_docstrings(cls)
    out: list[Option] = []
    for f in dataclasses.fields(cls):
        meta, kind, value = f.metadata, hints[f.name], getattr(defaults, f.name)
        if meta.get("cli", True) is False:
            continue
        if dataclasses.is_dataclass(kind):
            out.extend(options(value, (*path, f.name)))
            continue
        flag = meta.get("flags") or "--" + f.name.replace("_", "-")
        if kind is bool and "/" not in flag:
            flag = f"{flag}/--no-{flag[2:]}"
        text = docs.get(f.name, "").replace("``", "")
        if callable(meta.get("help_more")):  # help known only at run time (registered games)
            text = f"{text} {meta['help_more']()}"
        metavar = meta.get("metavar") or ("KEY=VALUE" if kind is dict else None)
        out.append(Option((*path, f.name), flag, kind, value, text, metavar))
    return out


def build(defaults: Any, opts: list[Option], values: dict[str, Any], path: tuple = ()) -> Any:
    """A new instance of ``type(defaults)`` from the parsed ``values`` (by option ident).

    Fields without an option keep their value in ``defaults``; nested dataclasses are built
    first, so the first error names the innermost bad field.

    Raises:
        ValueError: from a conversion or from the dataclasses' own checks.
    """
    by_path = {o.path: o for o in opts}
    fields = dataclasses.fields(type(defaults))

    def given(name: str) -> Option | None:
        option = by_path.get((*path, name))
        return option if option is not None and option.ident in values else None

    # A given field whose metadata says it "replaces" others (a game file replaces the game's
    # name and parameters) leaves those to the dataclass's own defaults, not to ``defaults``.
    replaced = {
        name
        for f in fields
        if given(f.name) and values[given(f.name).ident] is not None
        for name in f.metadata.get("replaces", ())
    }
    kwargs = {}
    for f in fields:
        current = getattr(defaults, f.name)
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            kwargs[f.name] = build(current, opts, values, (*path, f.name))
        elif given(f.name):
            kwargs[f.name] = given(f.name).value(values[given(f.name).ident])
        elif f.name not in replaced:
            kwargs[f.name] = current
    return type(defaults)(**kwargs)


def command(opts: list[Option], *extra: inspect.Parameter):
    """A decorator: ``body(values)`` as a typer command with the options ``opts`` and ``extra``.

    Typer calls the command with one keyword per option; ``body`` receives, as a dict, those
    given on the command line (and ``extra``'s): :func:`build` takes the others from its
    defaults, so an option left out is told apart from one given its default value (``--game``
    with ``--game-file``). The command's name and help (typer's) are ``body``'s name and
    docstring.
    """

    def decorate(body: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
        idents = {o.ident for o in opts}

        def function(ctx: typer.Context, **values: Any) -> Any:
            defaulted = {k for k in idents if _defaulted(ctx.get_parameter_source(k))}
            return body({k: v for k, v in values.items() if k not in defaulted})

        context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
        params = [context, *extra, *(o.parameter() for o in opts)]
        function.__signature__ = inspect.Signature(params)
        function.__annotations__ = {p.name: p.annotation for p in params}
        function.__name__, function.__doc__ = body.__name__, body.__doc__
        return function

    return decorate


def _defaulted(source: Any) -> bool:
    """Whether typer filled an option from its default (it was not given)."""
    return source is None or source.name in ("DEFAULT", "DEFAULT_MAP")


def argument(name: str, help: str, metavar: str, kind: Any = Path) -> inspect.Parameter:
    """A command's positional argument ``name`` (passed to the body among the values)."""
    info = typer.Argument(help=help, metavar=metavar, show_default=False)
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[kind, info])


def restated(opts: list[Option], helps: dict[str, str], names=None) -> list[Option]:
    """The options ``names`` (all if None) of ``opts``, with the help ``helps`` gives by name."""
    return [
        dataclasses.replace(o, help=helps.get(o.name, o.help))
        for o in opts
        if names is None or o.name in names
    ]


def make_game(config: RunConfig) -> Game:
    """The game ``config`` plays, made once it is known to fit in memory.

    Raises:
        UsageError: a bad game, or one too large for the memory.
    """

    def make() -> Game:
        check_game_fits(config)
        return config.game.make()

    return checked(make)


RUN_DEFAULTS = RunConfig(seeds=4)
"""``run``'s defaults: :class:`RunConfig`'s, with four seeds (for an interval over seeds)."""

RUN_OPTIONS = options(RUN_DEFAULTS)
"""What a run is: ``run``'s options, and the keys of a sweep file."""

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
"""Where and how a sweep plays: :data:`EXECUTION_OPTIONS` but ``--overwrite`` and ``--resume``
(a sweep folder is continued by running the sweep again, never replaced)."""
