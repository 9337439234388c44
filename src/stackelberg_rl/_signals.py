"""Signals held while a block runs that an interruption must not cut in two."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM during the block; deliver the first to its handler at the end.

    For steps an exception would cut in two (starting a loky worker and sending its start-up
    data; importing a compiled module, which can swallow the exception). A second signal is not
    held, so a hung block can still be interrupted. Outside the main thread it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    old = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    old = {s: h for s, h in old.items() if h is not signal.SIG_IGN}  # an ignored one stays so

    def hold(signum: int, frame) -> None:
        if held and callable(old[signum]):
            old[signum](signum, frame)
        held.append(signum)

    for s in old:
        signal.signal(s, hold)
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, signal.SIG_DFL if handler is None else handler)
        if held:
            signal.raise_signal(held[0])
