"""Typed fields of the configuration dataclasses: values from strings, help from docstrings.

The games' parameters and the experiments' configurations are dataclasses whose fields carry a
docstring (a string literal under the field). The command line and the registry read both here;
nothing in this module knows about games or learners.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import threading
import types
import typing
from typing import Any

from ._validate import is_integer

_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def convert(value: Any, kind: Any, what: str) -> Any:
    """``value`` as the type ``kind``: ``int``, ``float``, ``bool``, ``str``, ``Literal``, unions.

    Strings are parsed; numbers are checked (an integer field refuses ``2.5`` and ``True``). A
    union (``float | str``, ``int | None``) tries its members in order, ``str`` last, so ``"0.5"``
    is a number and ``"theory"`` stays a string; ``None`` (or ``"none"``) is accepted where
    ``None`` is.

    Raises:
        ValueError: naming ``what`` and the expected type.
    """
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = typing.get_args(kind)
        if type(None) in members and (value is None or isinstance(value, str) and value == "none"):
            return None
        for member in [m for m in members if m not in (str, type(None))] + [str] * (str in members):
            if member is not str or isinstance(value, str):
                try:
                    return convert(value, member, what)
                except ValueError:
                    pass
        raise ValueError(f"{what} must be {' or '.join(map(_type_name, members))}, got {value!r}")
    if typing.get_origin(kind) is typing.Literal:
        allowed = typing.get_args(kind)
        for option in allowed:
            if value == option or (isinstance(value, str) and value == str(option)):
                return option
        raise ValueError(f"{what} must be one of {', '.join(map(str, allowed))}, got {value!r}")
    if kind is bool:
        if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
            return value.lower() in _TRUE
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
        try:
            out = float(value)
        except (TypeError, ValueError):
            out = None
        if out is None or isinstance(value, bool):
            raise ValueError(f"{what} must be a number, got {value!r}")
        if math.isnan(out):
            raise ValueError(f"{what} must be a number, not nan (got {value!r})")
        return out
    elif kind is str:
        return str(value)
    return value


def _type_name(kind: Any) -> str:
    if kind is type(None):
        return "none"
    if typing.get_origin(kind) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(kind)))
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        kind, getattr(kind, "__name__", str(kind))
    )


def key_values(items: list[str] | tuple[str, ...], what: str) -> dict[str, str]:
    """``["KEY=VALUE", ...]`` (the repeatable ``--param`` option) as a dict.

    Raises:
        ValueError: for an item without ``=`` or with an empty key, or a key given twice.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"{what} must be KEY=VALUE, got {item!r}")
        if key in out:
            raise ValueError(f"{what} {key!r} is given twice")
        out[key] = value.strip()
    return out


def field_docstrings(cls: type) -> dict[str, str]:
    """The docstring written under each field of the dataclass ``cls``, by field name.

    These attribute docstrings are how the configuration dataclasses document their fields; the
    command line shows them as help. They are read by ``docstring_parser`` (which reads the
    class's source), once per class: validating a configuration asks for them at the start of
    every seed, from several threads.
    """
    with _LOCK:
        return dict(_field_docstrings(cls))


_LOCK = threading.Lock()


@functools.cache
def _field_docstrings(cls: type) -> dict[str, str]:
    import docstring_parser

    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else None
    docs = {}
    for param in docstring_parser.parse_from_object(cls).params:
        if param.args[0] == "attribute" and (fields is None or param.arg_name in fields):
            docs[param.arg_name] = " ".join((param.description or "").split())
    return docs
