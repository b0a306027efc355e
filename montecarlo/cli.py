"""The ``mc`` command. It only parses and calls the library.

Exit codes: 0 success, 1 the run failed, 2 usage error, 130 Ctrl-C, 143 SIGTERM.
Heavy modules (numpy, scipy) load inside commands, so ``mc --help`` is quick.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import click

from montecarlo import __version__

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so the run stops like on Ctrl-C."""


# --------------------------------------------------------------------------
# option types: every message names the option, the value and what is accepted
# --------------------------------------------------------------------------


class SamplesType(click.ParamType):
    name = "N"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        from montecarlo.spec import check_samples

        try:
            return check_samples(str(value), name="samples")
        except (TypeError, ValueError) as exc:
            self.fail(_plain(exc), param, ctx)


class PositiveInt(click.ParamType):
    name = "INTEGER"

    def convert(self, value: Any, param: Any, ctx: Any) -> int:
        try:
            n = int(str(value).replace("_", ""), 10)
        except ValueError:
            self.fail(f"{value!r} is not an integer; accepted: an integer >= 1.", param, ctx)
        if n < 1:
            self.fail(f"{n} is not accepted; accepted: an integer >= 1.", param, ctx)
        return n


class Confidence(click.ParamType):
    name = "LEVEL"

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        try:
            c = float(value)
        except ValueError:
            c = float("nan")
        if not 0.0 < c < 1.0:
            self.fail(f"{value!r} is not accepted; accepted: a number strictly between 0 and 1, such as 0.95.", param, ctx)
        return c


def _plain(exc: BaseException) -> str:
    """An exception's message without the backquotes used in API messages."""
    return str(exc).replace("`", "")


def _parse_params(items: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not of the form NAME=VALUE.", param_hint="'--param'")
        out[key.strip()] = value
    return out


# --------------------------------------------------------------------------
# the application
# --------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="mc", message="%(prog)s (montecarlo) %(version)s")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """montecarlo: reproducible parallel Monte Carlo simulation.

    The same seed gives the same numbers for any worker count or executor.
    """
    ctx.obj = {"debug": debug}


@cli.command("run")
@click.argument("model")
@click.option("-n", "--samples", type=SamplesType(), default="1e6", show_default=True, help="Total samples: 1e9, 1_000_000 or 1000000.")
@click.option("-s", "--seed", type=click.IntRange(min=0), default=None, help="Root seed (a non-negative integer); default: fresh OS entropy, recorded in the result.")
@click.option("-w", "--workers", type=PositiveInt(), default=None, help="Parallel workers  [default: all cores]")
@click.option("--executor", type=click.Choice(["processes", "threads", "serial"]), default="processes", show_default=True, help="Where blocks run; results are identical for all.")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Model parameter (repeatable).")
@click.option("-c", "--confidence", type=Confidence(), default=0.95, show_default=True, help="Confidence level of the intervals.")
@click.option("--interval", type=click.Choice(["auto", "t", "normal", "wilson", "clopper-pearson"]), default="auto", show_default=True, help="Interval method (auto: Wilson for probabilities, Student t otherwise).")
@click.option("--bit-generator", type=click.Choice(["sfc64", "pcg64", "pcg64dxsm", "philox"]), default="sfc64", show_default=True, help="numpy bit generator.")
@click.option("--block-size", type=PositiveInt(), default=None, help="Samples per seeded block  [default: the model's]")
@click.option("--batch-size", type=PositiveInt(), default=None, help="Samples per model call  [default: the model's]")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True, help="Times dead worker processes are replaced before the run fails.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object (schema: docs/json.md).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None, help="Also write the JSON result to this file (atomically).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--replay-block", type=click.IntRange(min=0), default=None, metavar="INDEX", help="Re-run only block INDEX in-process and show the model's own traceback.")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def run_cmd(ctx: click.Context, model: str, samples: int, seed: int | None, workers: int | None, executor: str,
            params: tuple[str, ...], confidence: float, interval: str, bit_generator: str, block_size: int | None,
            batch_size: int | None, retries: int, as_json: bool, output: str | None, quiet: bool,
            replay_block: int | None, debug: bool) -> None:
    """Run MODEL: a built-in name (see `mc list`) or package.module:function."""
    if debug:
        ctx.obj["debug"] = True
    from montecarlo.api import make_spec, run_spec
    from montecarlo.blocks import ModelError
    from montecarlo.progress import ProgressBar

    try:  # everything is checked before any worker starts
        spec, rec = make_spec(model, samples, rng=seed, params=_parse_params(params), confidence=confidence,
                              interval=interval, bit_generator=bit_generator, block_size=block_size,
                              batch_size=batch_size)
    except (LookupError, ValueError, TypeError) as exc:
        raise click.UsageError(_plain(exc), ctx) from exc

    if replay_block is not None:
        from montecarlo.api import replay_block as replay

        moments = replay(spec, replay_block, rec)
        click.echo(f"block {replay_block} ran without error: {moments.count} samples, mean {moments.mean.tolist()}")
        return
    bar = ProgressBar() if not quiet else None
    try:
        result = run_spec(spec, rec, workers=workers, executor=executor, progress=bar, retries=retries)
    except ModelError as exc:
        exc.message += f"; seed entropy {spec.entropy}"
        raise
    finally:
        if bar is not None:
            bar.close()
    if output:
        result.save(output)
    click.echo(result.to_json() if as_json else result.table())


@cli.command("list")
def list_cmd() -> None:
    """List the built-in models."""
    from montecarlo.model import builtin_models

    models = builtin_models()
    width = max(len(m.name) for m in models)
    for m in models:
        click.echo(f"{m.name.ljust(width)}  {m.description}")


@cli.command("show")
@click.argument("model")
@click.pass_context
def show_cmd(ctx: click.Context, model: str) -> None:
    """Describe MODEL: parameters, outputs, exact value, block sizes."""
    from montecarlo.model import load_model

    try:
        rec = load_model(model)
    except LookupError as exc:
        raise click.UsageError(_plain(exc), ctx) from exc
    click.echo(f"{rec.name}  ({rec.reference})")
    click.echo(f"  {rec.description}")
    click.echo("\nparameters:")
    if not rec.params:
        click.echo("  (none)")
    for p in rec.params:
        default = "required" if p.required else f"default {p.default!r}"
        click.echo(f"  {p.name}: {p.accepted()}, {default}")
    click.echo("\noutputs:")
    for o in rec.outputs:
        scale = f", {o.scale:g} x mean" if o.scale != 1 else ""
        click.echo(f"  {o.name}: {o.kind}{scale}")
    try:
        exact = rec.exact_values(rec.bind({}))
    except Exception:
        exact = {}
    if exact:
        click.echo("\nexact value at the defaults:")
        for k, v in exact.items():
            click.echo(f"  {k} = {v!r}")
    click.echo(f"\nblock size {rec.block_size}, batch size {rec.batch_size}")
    if rec.doc:
        click.echo("\n" + rec.doc)


# --------------------------------------------------------------------------
# entry point: one-line errors, exit codes, signals
# --------------------------------------------------------------------------


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> None:
    """Console entry point of ``mc``."""
    sys.exit(invoke(argv))


def invoke(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (errors printed on one line)."""
    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread (e.g. under a test runner thread)
        previous = None
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="mc", standalone_mode=False)
        return 0
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        click.echo(f"Error: {exc.format_message()}{hint}", err=True)
        return EXIT_USAGE
    except click.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_FAILED
    except click.ClickException as exc:
        click.echo(f"Error: {exc.format_message()}", err=True)
        return exc.exit_code
    except Terminated:
        click.echo("Terminated: workers stopped.", err=True)
        return EXIT_SIGTERM
    except KeyboardInterrupt:
        click.echo("\nInterrupted: workers stopped.", err=True)
        return EXIT_SIGINT
    except Exception as exc:
        from montecarlo.blocks import ModelError

        if debug:
            if isinstance(exc, ModelError) and exc.detail:
                click.echo(exc.detail, err=True)
            raise
        click.echo(f"Error: {_plain(exc)}", err=True)
        if isinstance(exc, ModelError):
            click.echo(
                f"  to debug, add --seed <entropy> --replay-block {exc.block} to the same command "
                "(runs that block in-process with the model's traceback)",
                err=True,
            )
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
