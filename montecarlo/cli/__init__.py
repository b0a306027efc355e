"""The ``mc`` command (also installed as ``montecarlo``). It only parses and calls the library.

Exit codes: 0 success, 1 the run failed, 2 usage error, 130 Ctrl-C, 143 SIGTERM.
Heavy modules (numpy, scipy) load inside commands, so ``mc --help`` is quick.
One module per command group: `montecarlo.cli.run`, `montecarlo.cli.results`
(extend, plot, reproduce), `montecarlo.cli.models` (list, show) and
`montecarlo.cli.experiment`; `montecarlo.cli.common` holds what they share.
"""

from __future__ import annotations

import signal
import sys
import warnings
from typing import Any

import click

from montecarlo._version import __version__
from montecarlo.cli.cache import cache_group
from montecarlo.cli.common import EXIT_FAILED, EXIT_SIGINT, EXIT_SIGTERM, EXIT_USAGE
from montecarlo.cli.experiment import experiment_group
from montecarlo.cli.models import list_cmd, show_cmd
from montecarlo.cli.results import extend_cmd, plot_cmd, reproduce_cmd
from montecarlo.cli.run import run_cmd

__all__ = ["cli", "invoke", "main"]


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the run stops like on Ctrl-C."""


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


def _interrupted(exc: KeyboardInterrupt) -> int:
    """Say that the run stopped (and where its checkpoint is, with the command that resumes it)."""
    what = "Terminated" if isinstance(exc, Terminated) else "Interrupted"
    click.echo(f"\n{what}: workers stopped.", err=True)
    for note in getattr(exc, "__notes__", ()):
        click.echo(note, err=True)
    return EXIT_SIGTERM if isinstance(exc, Terminated) else EXIT_SIGINT


def main(argv: list[str] | None = None) -> None:
    """Console entry point of ``mc``."""
    sys.exit(invoke(argv))


def invoke(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (errors printed on one line, and montecarlo's warnings)."""
    from montecarlo.errors import OversubscriptionWarning

    with warnings.catch_warnings():
        warnings.simplefilter("default", OversubscriptionWarning)
        warnings.showwarning = _warning_line
        return _invoke(argv)


def _warning_line(message: Warning | str, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    click.echo(f"Warning: {message}", err=True)


def _invoke(argv: list[str] | None) -> int:
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (e.g. under a test runner thread)
        previous = None
    args = list(argv if argv is not None else sys.argv[1:])
    debug = "--debug" in args
    try:
        # argv is kept for messages that repeat the command (how to resume after Ctrl-C)
        cli.main(args=args, prog_name="mc", standalone_mode=False, obj={"argv": args})
        return 0
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"Error: {exc.format_message()}{hint}", err=True)
        return EXIT_USAGE
    except click.Abort as exc:
        # click turns KeyboardInterrupt (and so SIGTERM's Terminated) into Abort
        if isinstance(exc.__cause__, KeyboardInterrupt):
            return _interrupted(exc.__cause__)
        click.echo("Aborted.", err=True)
        return EXIT_FAILED
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except Exception as exc:
        from montecarlo.errors import ModelError

        if debug:
            if isinstance(exc, ModelError) and exc.detail:
                click.echo(exc.detail, err=True)
            raise
        hint = ""
        if isinstance(exc, ModelError):
            seed = f" --seed {exc.seed}" if exc.seed is not None else ""
            hint = f" -- debug it with the same command plus{seed} --replay-block {exc.block}"
        click.echo(f"Error: {exc}{hint}", err=True)
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
