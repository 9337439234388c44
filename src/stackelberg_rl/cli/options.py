"""Command-line options generated from the configuration dataclasses, declared once.

Each field of a dataclass (nested dataclasses flattened: ``RunConfig.agent.beta`` is ``--beta``)
becomes one option: its name from the field's (``_`` → ``-``, or ``metadata["flags"]``), its help
from the docstring under the field (:func:`stackelberg_rl._fields.field_docstrings`), its default
from an instance of the dataclass (so ``run`` and ``demo`` share options and differ in defaults).
The parsed values are handed back to the dataclasses, whose construction checks them: the
command line validates nothing itself.

Field types map to typer's: ``int``, ``float``, ``str``, ``Literal`` (a choice), ``bool`` (a
``--x/--no-x`` flag), ``X | None``; a union with ``str`` (``beta: float | str``) is read as text
and converted by the dataclass; a ``dict`` is a repeatable ``--param KEY=VALUE``.
``metadata={"cli": False}`` leaves a field out; ``"flags"`` and ``"metavar"`` name the option
and its value, ``"help_more"`` (a function) adds help known only at run time, and ``"replaces"``
(names of sibling fields) gives those fields the dataclass's own defaults, not the command's,
when the option is given (``--game-file`` replaces the game's name and parameters). Only the
options given on the command line reach :func:`build`, so ``--game random-linear`` given is told
apart from the default.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from .._fields import convert, field_docstrings, key_values


@dataclass(frozen=True)
class Option:
    """One generated option: where its value goes and how typer reads it."""

    path: tuple[str, ...]
    """Field names from the top dataclass down, e.g. ``("agent", "beta")``."""
    flags: tuple[str, ...]
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
        return self.flags[0].split("/")[0]

    def cli_type(self) -> Any:
        """The type typer parses the option as."""
        kind = self.kind
        if kind is dict:
            return list[str] | None
        members = typing.get_args(kind) if _is_union(kind) else ()
        if members:
            if str in members and len([m for m in members if m is not type(None)]) > 1:
                return str | None if type(None) in members else str
            return kind
        return kind

    def cli_default(self) -> Any:
        """The default as typer shows and returns it."""
        if self.kind is dict:
            return None
        if isinstance(self.default, float) and self.default == float("inf"):
            return "inf"
        cli_type = self.cli_type()
        if (cli_type is str or cli_type == (str | None)) and self.default is not None:
            return str(self.default)
        return self.default

    def parameter(self) -> inspect.Parameter:
        """The ``inspect.Parameter`` typer reads this option from."""
        default = self.cli_default()
        info = typer.Option(
            *self.flags,
            help=self.help,
            metavar=self.metavar,
            show_default=default not in (None, []),
        )
        annotation = Annotated[self.cli_type(), info]
        return inspect.Parameter(
            self.ident, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
        )

    def value(self, raw: Any) -> Any:
        """The value the dataclass field receives.

        Raises:
            ValueError: naming the option.
        """
        if self.kind is dict:
            return key_values(list(raw or ()), self.name)
        if raw is None:
            return None
        if _is_union(self.kind):
            return convert(raw, self.kind, self.name)
        return raw


def _is_union(kind: Any) -> bool:
    import types

    return typing.get_origin(kind) in (typing.Union, types.UnionType)


def _help(text: str) -> str:
    """A field docstring as help text: without the reST markup."""
    return text.replace("``", "")


def options(defaults: Any, path: tuple[str, ...] = ()) -> list[Option]:
    """The options of every field of the dataclass instance ``defaults``, nested ones flattened."""
    cls = type(defaults)
    hints = typing.get_type_hints(cls)
    docs = field_docstrings(cls)
    out: list[Option] = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if meta.get("cli", True) is False:
            continue
        value = getattr(defaults, f.name)
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            out.extend(options(value, (*path, f.name)))
            continue
        flag = meta.get("flags") or "--" + f.name.replace("_", "-")
        if kind is bool and "/" not in flag:
            flag = f"{flag}/--no-{flag[2:]}"
        metavar = meta.get("metavar")
        if kind is dict:
            metavar = metavar or "KEY=VALUE"
        text = _help(docs.get(f.name, ""))
        if callable(meta.get("help_more")):  # help known only at run time (registered games)
            text = f"{text} {meta['help_more']()}"
        out.append(Option((*path, f.name), (flag,), kind, value, text, metavar))
    return out


def build(defaults: Any, opts: list[Option], values: dict[str, Any], path: tuple = ()) -> Any:
    """A new instance of ``type(defaults)`` from the parsed ``values`` (by option ident).

    Fields without an option keep their value in ``defaults``; nested dataclasses are built
    first, so the first error names the innermost bad field.

    Raises:
        ValueError: from a conversion or from the dataclasses' own checks.
    """
    cls = type(defaults)
    kwargs = {}
    by_path = {o.path: o for o in opts}
    fields = dataclasses.fields(cls)

    def given(f: dataclasses.Field) -> bool:
        option = by_path.get((*path, f.name))
        return option is not None and values.get(option.ident) is not None

    # A given field whose metadata says it "replaces" others (a game file replaces the game's
    # name and parameters) leaves those to the dataclass's own defaults, not to ``defaults``.
    replaced = {name for f in fields if given(f) for name in f.metadata.get("replaces", ())}
    for f in fields:
        here = (*path, f.name)
        current = getattr(defaults, f.name)
        if dataclasses.is_dataclass(current) and not isinstance(current, type):
            kwargs[f.name] = build(current, opts, values, here)
        elif here in by_path and by_path[here].ident in values:
            kwargs[f.name] = by_path[here].value(values[by_path[here].ident])
        elif f.name not in replaced:
            kwargs[f.name] = current
    return cls(**kwargs)


def command_function(
    opts: list[Option], body: Callable[[dict[str, Any]], Any], extra: list[inspect.Parameter] = ()
) -> Callable[..., Any]:
    """A function whose signature typer turns into the options ``opts`` (plus ``extra``).

    Typer calls it with one keyword per option; ``body`` receives, as a dict, those given on
    the command line (and ``extra``'s): :func:`build` takes the others from its defaults, so
    an option left out is told apart from one given its default value (``--game`` with
    ``--game-file``).
    """

    def command(ctx: typer.Context, **values: Any) -> Any:
        defaults = {o.ident for o in opts if _from_default(ctx, o.ident)}
        return body({k: v for k, v in values.items() if k not in defaults})

    context = inspect.Parameter("ctx", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
    params = [context, *extra, *(o.parameter() for o in opts)]
    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


def _from_default(ctx: typer.Context, ident: str) -> bool:
    """Whether typer filled the option ``ident`` with its default (it was not given)."""
    source = ctx.get_parameter_source(ident)
    return source is None or source.name in ("DEFAULT", "DEFAULT_MAP")
