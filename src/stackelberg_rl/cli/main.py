"""The ``stackelberg-rl`` command line: run, demo, solve, report, equilibrium, explore, plan, ….

The options of ``run``, ``demo``, ``solve``, ``equilibrium`` and ``bench`` are generated from
dataclasses (:mod:`.options`); each command is in its own module (:mod:`.run` for ``run``,
``demo`` and ``report``, :mod:`.solve`, :mod:`.equilibrium`, :mod:`.explore` for ``explore`` and
``plan``, :mod:`.games`, :mod:`.bench`). Every failure is one line on stderr:
``stackelberg-rl COMMAND: error: ...`` with exit code 2 for anything the user can fix (a bad
option or value, a folder that cannot be used, a size that does not fit in memory, a damaged run
folder), 1 for an unexpected error (``STACKELBERG_RL_TRACEBACK=1`` shows its traceback), 130
after Ctrl-C and 143 after SIGTERM, when the workers are asked for their checkpoints and stopped,
and an unfinished run is kept to be resumed (``run --resume DIR``).
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Sequence

from .. import __version__
from .._signals import signals_held
from .errors import INTERRUPTION, PROG, UsageError

# The commands, typer and the numerical stack they import (about a second) are imported by
# :func:`main` once its signal handlers are in place: Ctrl-C while they load is then an
# interruption like any other, not a traceback.

TRACEBACK_ENV = "STACKELBERG_RL_TRACEBACK"
"""Set to 1 to see the traceback of an unexpected error instead of its one line."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwinds like ``KeyboardInterrupt`` so every ``finally`` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_interrupted = {"first": True}


def _raise_interrupted(signum: int, frame) -> None:
    """Turn SIGINT or SIGTERM into :class:`Interrupted`; a second signal exits at once.

    The first unwinds, so the workers are stopped and the run cleaned up; a second one, should
    that clean-up hang, ends the process at once (its workers die with it).
    """
    if not _interrupted["first"]:
        os.write(2, f"{PROG}: interrupted again; exiting now\n".encode())
        os._exit(128 + signum)
    _interrupted["first"] = False
    raise Interrupted(signum)


def _click_exceptions():
    """The module of click's exceptions (typer ships its own copy of click from 0.2x on)."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer on top of click
        from click import exceptions
    return exceptions


def _version(value: bool) -> None:
    import typer

    if value:
        print(f"{PROG} {__version__}")
        raise typer.Exit()


def build_app():
    """The typer application with every command."""
    import typer

    from . import bench, equilibrium, explore, games, run, solve, sweep

    app = typer.Typer(
        name=PROG,
        help="Learning in leader-follower Markov games with linear function approximation "
        "(soft-max LSVI-UCB for a leader and a follower).",
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        no_args_is_help=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def _root(
        version: bool = typer.Option(
            False, "--version", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ) -> None:
        """Learning in leader-follower Markov games with linear function approximation."""

    for command in (run, sweep, solve, equilibrium, explore, games, bench):
        command.register(app)
    return app


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error(command: str, message: str) -> None:
    print(f"{command}: error: {_one_line(message)}", file=sys.stderr, flush=True)


def _command_name(argv: list[str], err: BaseException | None = None) -> str:
    ctx = getattr(err, "ctx", None)
    if ctx is not None and getattr(ctx, "command_path", None):
        return ctx.command_path
    words = [a for a in argv if not a.startswith("-")]
    return f"{PROG} {words[0]}" if words else PROG


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stackelberg-rl`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    INTERRUPTION["note"] = ""
    _interrupted["first"] = True
    handlers = {}
    in_main_thread = _in_main_thread()
    if in_main_thread:
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # `cmd &` in a script: kept
                handlers[signum] = signal.signal(signum, _raise_interrupted)
    try:
        with signals_held():  # a signal inside an import could be swallowed there
            import typer

            command = typer.main.get_command(build_app())
        result = command.main(args=argv, prog_name=PROG, standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except (Interrupted, KeyboardInterrupt) as err:
        signum = getattr(err, "signum", signal.SIGINT)
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        note = INTERRUPTION["note"]
        print(
            f"{_command_name(argv)}: interrupted by {name}" + (f"; {note}" if note else ""),
            file=sys.stderr,
            flush=True,
        )
        return 128 + int(signum)
    except UsageError as err:
        _error(_command_name(argv), str(err))
        return 2
    except Exception as err:
        import typer

        if isinstance(err, _click_exceptions().ClickException):  # a bad option or value
            _error(_command_name(argv, err), err.format_message())
            return 2
        if isinstance(err, typer.Abort):
            _error(_command_name(argv), "aborted")
            return 1
        if os.environ.get(TRACEBACK_ENV):
            raise
        _error(
            _command_name(argv),
            f"unexpected {type(err).__name__}: {err} (set {TRACEBACK_ENV}=1 to see the traceback)",
        )
        return 1
    finally:
        for signum, old in handlers.items():
            signal.signal(signum, old)


def _in_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
