"""Typed fields of the configuration dataclasses: values from strings, help, command-line flags."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import threading
import types
import typing
from collections.abc import Iterator
from typing import Any

import numpy as np

from ._validate import is_integer

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_NAMES = {type(None): "none", int: "an integer", float: "a number", bool: "true or false",
          str: "a string"}  # fmt: skip


def convert(value: Any, kind: Any, what: str) -> Any:
    """``value`` as the type ``kind``: ``int``, ``float``, ``bool``, ``str``, ``Literal``, unions.

    Strings are parsed; numbers are checked (an integer field refuses ``2.5`` and ``True``). A
    union tries its members in order, ``str`` last, so ``"0.5"`` is a number and ``"theory"``
    stays a string; ``None`` (or ``"none"``) is accepted where ``None`` is.

    Raises:
        ValueError: naming ``what`` and the expected type.
    """
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or isinstance(value, str) and value == "none"):
            return None
        errors = []
        for member in [m for m in args if m not in (str, type(None))] + [str] * (str in args):
            if member is not str or isinstance(value, str):
                try:
                    return convert(value, member, what)
                except ValueError as err:
                    errors.append(err)
        if len(errors) == 1:  # the one member it could be says what is wrong (a NaN)
            raise errors[0]
        raise ValueError(f"{what} must be {' or '.join(map(_type_name, args))}, got {value!r}")
    if origin is typing.Literal:
        for option in args:
            if value == option or (isinstance(value, str) and value == str(option)):
                return option
        raise ValueError(f"{what} must be one of {', '.join(map(str, args))}, got {value!r}")
    if kind is bool:
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
        if isinstance(value, np.bool_) or is_integer(value) and value in (0, 1):
            return bool(value)  # numpy's booleans, and 0 and 1 as the command line takes them
        if not isinstance(value, bool):
            raise ValueError(f"{what} must be true or false, got {value!r}")
    elif kind is int:
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value)
        elif is_integer(value) or isinstance(value, float) and value.is_integer():
            return int(value)
        raise ValueError(f"{what} must be an integer, got {value!r}")
    elif kind is float:
        out = None
        with contextlib.suppress(TypeError, ValueError):
            out = None if isinstance(value, bool) else float(value)
        if out is None:
            raise ValueError(f"{what} must be a number, got {value!r}")
        if math.isnan(out):
            raise ValueError(f"{what} must be a number, not nan (got {value!r})")
        return out
    elif kind is str:
        return str(value)
    return value


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(kind)))
    return _NAMES.get(kind, getattr(kind, "__name__", str(kind)))


_LOCK = threading.Lock()  # configurations are validated from several threads
_DOCSTRINGS: dict[type, dict[str, str]] = {}


def field_docstrings(cls: type) -> dict[str, str]:
    """The docstring written under each field of the dataclass ``cls``, by field name."""
    import docstring_parser

    with _LOCK:
        if cls not in _DOCSTRINGS:
            fields = {f.name for f in dataclasses.fields(cls)}
            _DOCSTRINGS[cls] = {
                p.arg_name: " ".join((p.description or "").split())
                for p in docstring_parser.parse_from_object(cls).params
                if p.args[0] == "attribute" and p.arg_name in fields
            }
        return dict(_DOCSTRINGS[cls])


def cli_fields(obj: Any, path: tuple[str, ...] = ()) -> Iterator[tuple]:
    """``(path, owner, field, value, flag)`` of each command-line field of the dataclass ``obj``.

    Nested dataclasses are flattened (``RunConfig.agent.beta`` is ``--beta``). Field metadata:
    ``"flags"`` names the option (default ``--field-name``), ``"cli": False`` leaves it out.
    """
    for f in dataclasses.fields(obj):
        if f.metadata.get("cli", True) is False:
            continue
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from cli_fields(value, (*path, f.name))
        else:
            flag = f.metadata.get("flags") or "--" + f.name.replace("_", "-")
            yield (*path, f.name), obj, f, value, flag
