"""The ``mc`` command (also installed as ``montecarlo``). It only parses and calls the library.

Exit codes: 0 success, 1 the run failed, 2 usage error, 130 Ctrl-C, 143 SIGTERM.
Heavy modules (numpy, scipy) load inside commands, so ``mc --help`` is quick.
One module per command group: `montecarlo.cli.run`, `montecarlo.cli.results`
(extend, plot, reproduce), `montecarlo.cli.models` (list, show) and
`montecarlo.cli.experiment`; `montecarlo.cli.common` holds what they share.
"""

from __future__ import annotations

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
from montecarlo.cli.models import list_cmd, show_cmd
from montecarlo.cli.results import extend_cmd, plot_cmd, reproduce_cmd
from montecarlo.cli.run import run_cmd
from montecarlo.errors import ModelError, Terminated, one_line

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


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _say(text: str) -> None:
    """Print one line to stderr, even when click or memory fail (the message must get out)."""
    try:
        click.echo(one_line(text, limit=2000), err=True)
    except BaseException:
        try:
            os.write(2, (one_line(text, limit=2000) + "\n").encode("utf-8", "replace"))
        except OSError:
            pass


def _settle() -> None:
    """Ignore further Ctrl-C and SIGTERM while an error is reported (no traceback from a second one)."""
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)
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
    except KeyboardInterrupt:  # a signal between two of invoke's own statements
        code = EXIT_SIGTERM if isinstance(sys.exc_info()[1], Terminated) else EXIT_SIGINT
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
    """Run the CLI with SIGTERM raising `Terminated` and helper threads' failures kept quiet."""
    debug = "--debug" in args
    handlers: dict[int, Any] = {}
    try:
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (e.g. under a test runner thread)
        handlers = {}
    hook = threading.excepthook
    if not debug:
        threading.excepthook = _quiet_threads
    try:
        return _invoke(args, debug)
    except KeyboardInterrupt as exc:  # a second signal while the first error was being reported
        _settle()
        return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT
    finally:
        threading.excepthook = hook
        for signum, handler in handlers.items():
            if handler is not None:
                signal.signal(signum, handler)


def _invoke(args: list[str], debug: bool) -> int:
    try:
        # args are kept for messages that repeat the command (how to resume after Ctrl-C)
        cli.main(args=args, prog_name="mc", standalone_mode=False, obj={"argv": args})
        return 0
    except click.UsageError as exc:
        _settle()
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _say(f"Error: {exc.format_message()}{hint}")
        return EXIT_USAGE
    except click.Abort as exc:
        _settle()
        # click turns KeyboardInterrupt (and so SIGTERM's Terminated) into Abort
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return _interrupted(exc.__cause__)
        _say("Aborted.")
        return EXIT_FAILED
    except click.ClickException as exc:
        _settle()
        _say(f"Error: {exc.format_message()}")
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except Exception as exc:
        _settle()
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
