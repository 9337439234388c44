"""One registry of named games: ``make(name, **params)``, ``names()``, ``info()``, ``@register``.

A game is a builder and a frozen dataclass of its parameters, whose fields (type, default, help)
``stackelberg-rl games`` lists and ``--param KEY=VALUE`` sets; :func:`make` records the resolved
values on the game (:attr:`FiniteGame.provenance`).

Example:
    >>> from stackelberg_rl import games
    >>> g = games.make("random-linear", n_states=5, dim=3)
    >>> g.provenance["params"]["n_states"], g.dim
    (5, 3)
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .._fields import convert, field_docstrings
from ._params import checked
from .base import FiniteGame


class ParamField(NamedTuple):
    """One parameter of a game: name, type, default and help."""

    name: str
    type: Any
    default: Any
    help: str


@dataclass(frozen=True)
class GameInfo:
    """A registered game: name, builder, parameters dataclass, one-line summary, memory estimate."""

    name: str
    build: Callable[..., FiniteGame]
    params: type
    summary: str
    nbytes: Callable[[Any], int] | None = None

    def estimate_bytes(self, params: Mapping[str, Any]) -> int | None:
        """What building the game with ``params`` would allocate, before building it."""
        return None if self.nbytes is None else int(self.nbytes(self.parse(params)))

    def fields(self) -> list[ParamField]:
        """The parameters in order; the help is ``metadata["help"]``, else the field's docstring."""
        hints = typing.get_type_hints(self.params)
        fields = dataclasses.fields(self.params)
        docs = {} if all("help" in f.metadata for f in fields) else field_docstrings(self.params)
        return [
            ParamField(
                f.name, hints[f.name], f.default, f.metadata.get("help", docs.get(f.name, ""))
            )
            for f in fields
        ]

    def parse(self, params: Mapping[str, Any]) -> Any:
        """The parameters dataclass from ``params`` (strings converted by field type), checked.

        Each value is checked against its declared bounds (``param(..., ge=1)``), with the
        messages the game's builder gives: ``n_targets must be an integer >= 1, got -2``.

        Raises:
            ValueError: for an unknown parameter, a value that does not convert, or one out of
                its declared bounds.
        """
        by_name = {f.name: f for f in self.fields()}
        values = {}
        for key, value in params.items():
            if key not in by_name:
                raise ValueError(
                    f"game {self.name!r} has no parameter {key!r}; its parameters are "
                    f"{', '.join(by_name)}"
                )
            values[key] = convert(value, by_name[key].type, f"{self.name} parameter {key}")
        return checked(self.params, **values)


_REGISTRY: dict[str, GameInfo] = {}


def register(
    name: str, params: type, nbytes: Callable[[Any], int] | None = None
) -> Callable[[Callable[..., FiniteGame]], Callable]:
    """Decorator: register a builder, called with ``params``' fields as keyword arguments.

    ``nbytes``, given the parameters dataclass, estimates the memory building the game takes, so
    that a size that cannot be allocated is refused before it is tried.
    """
    if not dataclasses.is_dataclass(params):
        raise TypeError(f"params of game {name!r} must be a dataclass, got {params!r}")

    def wrap(build: Callable[..., FiniteGame]) -> Callable[..., FiniteGame]:
        if name in _REGISTRY and _REGISTRY[name].build is not build:
            raise ValueError(f"a game named {name!r} is already registered")
        summary = (inspect.getdoc(build) or "").split("\n", 1)[0]
        _REGISTRY[name] = GameInfo(name, build, params, summary, nbytes)
        return build

    return wrap


def names() -> list[str]:
    """The registered games' names, sorted."""
    return sorted(_REGISTRY)


def info(name: str) -> GameInfo:
    """The registered game ``name``.

    Raises:
        ValueError: naming the known games when ``name`` is not one.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        looks_a_file = isinstance(name, str) and (name.endswith(".npz") or os.path.isfile(name))
        file = "; a game file is given with --game-file (games.load in Python)" * looks_a_file
        raise ValueError(
            f"unknown game {name!r}; known games: {', '.join(names())}{file}"
        ) from None


def available_bytes() -> int | None:
    """Memory the system can give without swapping (``MemAvailable``), ``None`` if unknown."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(ln.split()[1]) * 1024 for ln in f if ln.startswith("MemAvailable:"))
    except (OSError, ValueError, IndexError, StopIteration):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def gib(n: float, largest: str = "TiB") -> str:
    """``n`` bytes in a short human form (``1.5 GiB``), in units up to ``largest``."""
    units = {"TiB": 2**40, "GiB": 2**30, "MiB": 2**20, "KiB": 2**10}
    for unit, size in list(units.items())[list(units).index(largest) :]:
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def make(name: str, **params: Any) -> FiniteGame:
    """Build the registered game ``name`` with ``params`` (strings are converted, as ``--param``).

    The game's :attr:`~FiniteGame.provenance` holds the name and every resolved parameter.

    Raises:
        ValueError: an unknown game or parameter, or a value the game refuses.
        MemoryError: the game would not fit in the memory available (checked from its
            parameters, before anything is allocated).
    """
    game_info = info(name)
    resolved = game_info.parse(params)
    need, have = game_info.estimate_bytes(params), available_bytes()
    if None not in (need, have) and need > have:
        raise MemoryError(
            f"building game {name} with {params} needs about {gib(need)} of memory, but only "
            f"{gib(have)} is available"
        )
    values = dataclasses.asdict(resolved)
    game = game_info.build(**values)
    game.provenance = {"name": name, "params": values}
    return game
