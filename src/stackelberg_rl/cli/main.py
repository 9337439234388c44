"""The ``stackelberg-rl`` command line: :func:`build_app` names every command.

A command's options come from dataclasses (:mod:`.options`), its help from its docstring. Every
failure is one line on stderr, ``stackelberg-rl COMMAND: error: ...``: exit code 2 for anything
the user can fix, 1 for an unexpected error (``STACKELBERG_RL_TRACEBACK=1`` shows its
traceback), 130 after Ctrl-C and 143 after SIGTERM (an unfinished run is kept to be resumed).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Sequence

from .. import __version__
from .._signals import signals_held
from .errors import INTERRUPTION, PROG, UsageError

# The commands and the numerical stack (about a second) are imported once the signal handlers
# are in place: Ctrl-C while they load is then an interruption like any other.
TRACEBACK_ENV = "STACKELBERG_RL_TRACEBACK"  # 1: the traceback of an unexpected error


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwinds like ``KeyboardInterrupt`` so every ``finally`` runs."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum  # the driver and explore record the signal by it


_interrupted = {"first": True}


def _raise_interrupted(signum: int, frame) -> None:
    """Turn SIGINT or SIGTERM into :class:`Interrupted`; a second one (a hung clean-up) exits."""
    if not _interrupted["first"]:
        note = INTERRUPTION["note"]  # what is kept, and how to go on
        os.write(2, f"{PROG}: interrupted again; exiting now{'; ' * bool(note)}{note}\n".encode())
        os._exit(128 + signum)
    _interrupted["first"] = False
    raise Interrupted(signum)


def _version(value: bool) -> None:
    if value:
        import typer

        print(f"{PROG} {__version__}")
        raise typer.Exit()


def build_app():
    """The typer application: every command, named here."""
    import typer

    from . import bench, demo, equilibrium, explore, games, run, solve, sweep_file

    app = typer.Typer(
        name=PROG,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback(
        help="Learning in leader-follower Markov games with linear function approximation "
        "(soft-max LSVI-UCB for a leader and a follower)."
    )
    def _root(
        version: bool = typer.Option(
            False, "--version", help="Print the version and exit.", is_eager=True, callback=_version
        ),
    ) -> None:
        pass

    commands = (run.run, demo.demo, sweep_file.sweep, run.report, solve.solve, games.games,
                equilibrium.equilibrium, explore.explore, explore.plan, bench.bench)  # fmt: skip
    for command in commands:
        app.command()(command)  # named after the function, its docstring the help
    return app


def _fail(argv: list[str], message: str, code: int, err: BaseException | None = None) -> int:
    """Print a failure's one line, ``stackelberg-rl COMMAND: MESSAGE``; return ``code``."""
    words = [a for a in argv if not a.startswith("-")]
    name = getattr(getattr(err, "ctx", None), "command_path", None)
    name = name or (f"{PROG} {words[0]}" if words else PROG)
    print(f"{name}: {' '.join(str(message).split())}", file=sys.stderr, flush=True)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stackelberg-rl`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    INTERRUPTION["note"] = ""
    _interrupted["first"] = True
    handlers = {}
    if threading.current_thread() is threading.main_thread():
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
        return _fail(argv, f"interrupted by {name}" + (f"; {note}" if note else ""), 128 + signum)
    except UsageError as err:
        return _fail(argv, f"error: {err}", 2)
    except Exception as err:
        import typer
        from typer._click import ClickException  # typer's own copy of click

        from ..learners.base import NonFiniteError

        if isinstance(err, ClickException):  # a bad option or value
            return _fail(argv, f"error: {err.format_message()}", 2, err)
        if isinstance(err, typer.Abort):
            return _fail(argv, "error: aborted", 1)
        if isinstance(err, NonFiniteError):  # the parameters ask more than double precision has
            return _fail(argv, f"error: {err}: choose a larger --lam or a smaller --beta", 2)
        if os.environ.get(TRACEBACK_ENV):
            raise
        hint = f"(set {TRACEBACK_ENV}=1 to see the traceback)"
        return _fail(argv, f"error: unexpected {type(err).__name__}: {err} {hint}", 1)
    finally:
        for signum, old in handlers.items():
            signal.signal(signum, old)


if __name__ == "__main__":
    sys.exit(main())
