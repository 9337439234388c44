"""How the commands fail: a :class:`UsageError` is one line and exit code 2 (:mod:`.main`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

PROG = "stackelberg-rl"
"""The command's name."""


class UsageError(Exception):
    """Something the user can fix: printed as one line, exit code 2."""


INTERRUPTION = {"note": ""}
"""What an interruption now leaves behind, for the one line printed after Ctrl-C or SIGTERM."""


def checked(make: Callable[[], T]) -> T:
    """``make()``, with a refused value or size as a :class:`UsageError`.

    A :class:`ValueError` is a dataclass refusing a value; a :class:`MemoryError` a size refused
    before it is allocated.
    """
    try:
        return make()
    except (ValueError, MemoryError) as err:
        raise UsageError(str(err)) from None
