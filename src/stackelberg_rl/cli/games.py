"""``games``: the registered games and their parameters (what ``--param`` sets)."""

from __future__ import annotations

import typing
from typing import Any, Literal

from .. import games as games_mod


def _type_name(kind: Any) -> str:
    if typing.get_origin(kind) is Literal:
        return "|".join(map(str, typing.get_args(kind)))
    return getattr(kind, "__name__", str(kind))


def games_listing() -> str:
    """Every registered game with its parameters' types, defaults and help."""
    lines = []
    for name in games_mod.names():
        info = games_mod.info(name)
        lines.append(f"{name}: {info.summary.replace('``', '')}")
        fields = info.fields()
        usages = [f"{f.name}={_type_name(f.type).upper()}" for f in fields]
        width = max(map(len, usages), default=0)
        for f, usage in zip(fields, usages, strict=True):
            lines.append(f"  --param {usage:<{width}}  {f.help} (default {f.default})")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def games() -> int:
    """List the registered games and their parameters (--param)."""
    print(games_listing(), end="")
    return 0
