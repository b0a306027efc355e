"""The ``mc`` command (also installed as ``montecarlo``). It only parses and calls the library.

Exit codes: 0 success, 1 the run failed, 2 usage error, 130 Ctrl-C, 143 SIGTERM.
Heavy modules (numpy, scipy) load inside commands, so ``mc --help`` is quick.
The installed command starts in `montecarlo.__main__`, which handles signals
before this module loads; while a command runs, Ctrl-C raises
`KeyboardInterrupt` and SIGTERM `montecarlo.errors.Terminated` (`_guarded`).
Messages quote text from files with its control characters escaped
(`montecarlo.reports.text.printable`).
One module per command group: `montecarlo.cli.run`, `montecarlo.cli.results`
(extend, plot, reproduce), `montecarlo.cli.models` (list, show) and
`montecarlo.cli.experiment`; `montecarlo.cli.common` holds what they share.
"""

from __future__ import annotations

import _thread
import gc
import os
import signal
import sys
import threading
import warnings
from typing import Any

import click

from montecarlo._version import __version__
from montecarlo.cli.cache import cache_group
from montecarlo.cli.common import EXIT_FAILED, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE, replay_command
from montecarlo.cli.experiment import experiment_group
from montecarlo.cli.mlmc import mlmc_cmd
from montecarlo.cli.models import list_cmd, show_cmd
from montecarlo.cli.results import extend_cmd, plot_cmd, reproduce_cmd
from montecarlo.cli.run import run_cmd
from montecarlo.cli.sensitivity import sensitivity_cmd
from montecarlo.errors import ModelError, Terminated, one_line
from montecarlo.reports.text import printable

__all__ = ["cli", "invoke", "main"]


@click.group(
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog='Shell completion: eval "$(_MC_COMPLETE=bash_source mc)" (zsh_source, fish_source for other shells).',
)
@click.version_option(__version__, "-V", "--version", prog_name="mc", message="%(prog)s (montecarlo) %(version)s")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """montecarlo: reproducible parallel Monte Carlo simulation.

    The same seed gives the same numbers for any worker count or executor.
    """
    ctx.obj = {"argv": [], **(ctx.obj or {}), "debug": debug}
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


for _command in (run_cmd, list_cmd, show_cmd, extend_cmd, plot_cmd, reproduce_cmd, experiment_group, cache_group):
    cli.add_command(_command)
cli.add_command(sensitivity_cmd)
cli.add_command(mlmc_cmd)


def _say(text: str) -> None:
    """Print one line to stderr, even when click or memory fail (the message must get out).

    Its control characters are escaped: messages quote names and values read from files.
    """
    try:
        click.echo(_line(text), err=True)
    except Exception:  # (a signal meanwhile is not swallowed: it propagates)
        try:
            os.write(2, (_line(text) + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


def _line(text: object) -> str:
    return printable(one_line(text, limit=2000))


#: Signals received while a command ran or its error was reported: the exit status says so, whatever became of them.
_received: list[int] = []


def _on_signal(signum: int, frame: Any) -> None:
    """While a command runs: Ctrl-C raises `KeyboardInterrupt`, SIGTERM `Terminated` (both remembered)."""
    _received.append(signum)
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def _remember(signum: int, frame: Any) -> None:
    _received.append(signum)


def _raised_again(previous: Any) -> Any:
    """An unraisable hook: a signal's exception that Python drops is delivered again, to the code that runs next.

    A handler raises wherever the main thread is, also in a finalizer or a
    weakref or ctypes callback (an import's module lock, freed), where the
    exception is printed as "Exception ignored" and dropped: the run would
    go on. Any other is for the ``previous`` hook.
    """

    def hook(args: Any) -> None:
        if args.exc_type is not None and issubclass(args.exc_type, KeyboardInterrupt) and _received:
            signum = signal.SIGTERM if issubclass(args.exc_type, Terminated) else signal.SIGINT
            # From another thread, a moment later: raised from here, it would be dropped again.
            later = threading.Timer(0.01, _interrupt_main, args=(signum,))
            later.daemon = True
            later.start()
            return
        previous(args)

    return hook


def _interrupt_main(signum: int) -> None:
    """The signal to the main thread again, while the command's handler is in place (not once it has ended)."""
    if signal.getsignal(signum) is _on_signal:
        _thread.interrupt_main(signal.Signals(signum))


def _by_signal() -> int | None:
    """The exit status of a signal the command received, said, when it ended otherwise.

    The exception a handler raises can be swallowed or turned into another
    error by code it interrupts (an extension module's import that fails
    with an `ImportError`, a cleanup that catches everything).
    """
    if not _received:
        return None
    return _interrupted(Terminated() if _received[0] == signal.SIGTERM else KeyboardInterrupt())


def _settle() -> None:
    """While an error is reported, a further Ctrl-C or SIGTERM is remembered: no traceback, and not lost."""
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(signum) is not signal.SIG_IGN:  # (a SIGINT ignored from the start stays so)
                signal.signal(signum, _remember)
    except ValueError:  # not the main thread
        pass


def _interrupted(exc: KeyboardInterrupt) -> int:
    """Say that the run stopped (and where its checkpoint is, with the command that resumes it)."""
    _settle()
    what = "Terminated" if isinstance(exc, Terminated) else "Interrupted"
    _say(f"{what}: workers stopped.")
    for note in getattr(exc, "__notes__", ()):
        _say(note)
    return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT


def _quiet_threads(args: Any) -> None:
    """A helper thread's own failure is reported by the run it breaks, on one line (--debug shows it)."""


def main(argv: list[str] | None = None) -> None:
    """Console entry point of ``mc``."""
    from montecarlo.engine.workerenv import driver_only

    driver_only()  # before numpy loads
    try:
        code = invoke(argv)
    except KeyboardInterrupt as exc:  # a signal between two of invoke's own statements (handlers handed over)
        _settle()
        code = EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
        _say("Terminated." if code == EXIT_SIGTERM else "Interrupted.")
    # The process ends here: the interpreter's last collections of every
    # object left (numpy's, click's, a Dask client's) took 0.1-0.2 s of its
    # exit; frozen, they are freed by reference counts alone.
    gc.freeze()
    sys.exit(code)


def invoke(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (errors printed on one line, and montecarlo's warnings)."""
    from montecarlo.errors import OversubscriptionWarning

    with warnings.catch_warnings():
        warnings.simplefilter("default", OversubscriptionWarning)
        warnings.showwarning = _warning_line
        return _guarded(list(argv if argv is not None else sys.argv[1:]))


def _warning_line(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    _say(f"Warning: {message}")


def _guarded(args: list[str]) -> int:
    """Run the CLI with Ctrl-C raising `KeyboardInterrupt`, SIGTERM `Terminated`, helper threads' failures quiet.

    The handlers found are put back at the end (``mc``'s own, which end the
    process at once: `montecarlo.__main__`). A signal that arrives as they
    are swapped is handled by one or the other, never lost; one that
    arrives while the command runs or its error is reported makes the exit
    status 130 or 143, whatever the code it interrupted made of it.
    """
    debug = "--debug" in args
    _received.clear()
    handlers: dict[int, Any] = {}
    hook, unraisable = threading.excepthook, sys.unraisablehook
    try:
        sys.unraisablehook = _raised_again(unraisable)
        _take_signals(handlers)
        if not debug:
            threading.excepthook = _quiet_threads
        code = _invoke(args, debug)
    except KeyboardInterrupt as exc:  # a signal as the handlers were swapped, or while an error was reported
        _settle()
        code = EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
    finally:
        threading.excepthook, sys.unraisablehook = hook, unraisable
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)
    if _received and code not in (EXIT_SIGINT, EXIT_SIGTERM):
        code = EXIT_SIGTERM if signal.SIGTERM in _received else EXIT_SIGINT
    return code


def _take_signals(saved: dict[int, Any]) -> None:
    """Install the command's handlers, the ones in place kept in ``saved`` first (to be put back)."""
    try:
        saved.update({signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)})
        if callable(saved[signal.SIGINT]):  # (a SIGINT ignored from the start stays so)
            signal.signal(signal.SIGINT, _on_signal)
        signal.signal(signal.SIGTERM, _on_signal)
    except ValueError:  # not the main thread (e.g. under a test runner thread)
        saved.clear()


def _invoke(args: list[str], debug: bool) -> int:
    try:
        # args are kept for messages that repeat the command (how to resume after Ctrl-C)
        cli.main(args=args, prog_name="mc", standalone_mode=False, obj={"argv": args})
        return _by_signal() or 0  # (a signal swallowed on the way)
    except click.UsageError as exc:
        _settle()
        if _received:  # a signal that became another error
            return _by_signal() or EXIT_USAGE
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _say(f"Error: {exc.format_message()}{hint}")
        return EXIT_USAGE
    except click.Abort as exc:
        _settle()
        # click turns KeyboardInterrupt (and so SIGTERM's Terminated) into Abort
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return _interrupted(exc.__cause__)
        if _received:
            return _by_signal() or EXIT_FAILED
        _say("Aborted.")
        return EXIT_FAILED
    except click.ClickException as exc:
        _settle()
        if _received:
            return _by_signal() or exc.exit_code
        _say(f"Error: {exc.format_message()}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except Exception as exc:
        _settle()
        if _received:
            return _by_signal() or EXIT_FAILED
        if debug:
            if isinstance(exc, ModelError) and exc.detail:
                click.echo(exc.detail, err=True)
            raise
        _say(f"Error: {describe(exc)}{_replay_hint(exc, args)}")
        return EXIT_FAILED


def describe(exc: BaseException) -> str:
    """An unexpected exception as one line: its message, or what it means when it has none."""
    if isinstance(exc, MemoryError):
        return f"out of memory ({type(exc).__name__}{': ' + str(exc) if str(exc) else ''})"
    text = one_line(exc)
    return text if text else type(exc).__name__


def _replay_hint(exc: BaseException, args: list[str]) -> str:
    """How to replay a model error's block: with ``mc run`` (the command given, or one that is equivalent)."""
    if not isinstance(exc, ModelError):
        return ""
    command = next((a for a in args if not a.startswith("-")), "")
    if command == "run":
        seed = f" --seed {exc.seed}" if exc.seed is not None else ""
        return f" -- debug it with the same command plus{seed} --replay-block {exc.block}"
    spec = exc.spec
    if spec is not None and not spec.spawn_key:
        return f" -- debug it with: {replay_command(spec, exc.block)}"
    return f" -- debug it in Python with montecarlo.replay_block(spec, {exc.block}), spec being the run's RunSpec"
