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
            return check_samples(str(value), name="")
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
            self.fail(
                f"{value!r} is not accepted; accepted: a number strictly between 0 and 1, such as 0.95.", param, ctx
            )
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


class PositiveFloat(click.ParamType):
    """A finite number > 0 (tolerances, seconds)."""

    name = "NUMBER"

    def __init__(self, example: str) -> None:
        self.example = example

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        import math

        try:
            x = float(str(value).replace("_", ""))
        except ValueError:
            self.fail(f"{value!r} is not a number; accepted: a finite number > 0, such as {self.example}.", param, ctx)
        if not (math.isfinite(x) and x > 0):
            self.fail(f"{value!r} is not accepted; accepted: a finite number > 0, such as {self.example}.", param, ctx)
        return x


class PlotPath(click.ParamType):
    """A file name ending in .png, .svg or .pdf."""

    name = "FILE"

    def convert(self, value: Any, param: Any, ctx: Any) -> str:
        from montecarlo.plot import FORMATS

        ext = str(value).rsplit(".", 1)[-1].lower() if "." in str(value) else ""
        if ext not in FORMATS:
            self.fail(
                f"{value!r} has no plot file extension; accepted: a file name ending in "
                f"{', '.join('.' + f for f in FORMATS)}.",
                param,
                ctx,
            )
        return str(value)


#: API argument names in validation messages -> the run command's options.
_RUN_OPTIONS = {
    "`target`": "--target",
    "`min_samples`": "--min-samples",
    "`tolerance`": "--tolerance",
    "`rtol`": "--rtol",
    "`time_limit`": "--time-limit",
    "`samples`": "--samples/--max-samples",
}


def _check_output(ctx: click.Context, path: str | None, option: str) -> None:
    """A result file's folder must be writable before the run starts."""
    if path is None:
        return
    from montecarlo.checkpoint import CheckpointError, check_writable

    try:
        check_writable(path, option)
    except CheckpointError as exc:
        raise click.UsageError(_plain(exc).replace(f"{option} =", option), ctx) from None


def _save(result: Any, path: str | None, option: str) -> None:
    """Write the result file after the result is shown, so a full disk loses nothing on screen."""
    if path is None:
        return
    try:
        result.save(path)
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {option} {path!r}: {exc.strerror or exc}; the result above is complete, "
            "and an earlier file of that name is intact."
        ) from None


def _require_matplotlib() -> None:
    from montecarlo.plot import MatplotlibMissing, _matplotlib

    try:
        _matplotlib()
    except MatplotlibMissing as exc:
        raise click.ClickException(str(exc)) from None


@cli.command("run")
@click.argument("model")
@click.option(
    "-n",
    "--samples",
    type=SamplesType(),
    default=None,
    help="Total samples: 1e9, 1_000_000 or 1000000; with a stopping rule, the cap.  [default: 1e6; 1e10 with a stopping rule]",
)
@click.option(
    "-s",
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Root seed (a non-negative integer); default: fresh OS entropy, recorded in the result.",
)
@click.option("-w", "--workers", type=PositiveInt(), default=None, help="Parallel workers  [default: all cores]")
@click.option(
    "--executor",
    type=click.Choice(["processes", "threads", "serial", "dask"]),
    default="processes",
    show_default=True,
    help="Where blocks run; results are identical for all.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="With --executor dask: a running scheduler, e.g. tcp://HOST:8786  [default: a LocalCluster]",
)
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE", help="Model parameter (repeatable).")
@click.option(
    "-c", "--confidence", type=Confidence(), default=0.95, show_default=True, help="Confidence level of the intervals."
)
@click.option(
    "--interval",
    type=click.Choice(["auto", "t", "normal", "wilson", "clopper-pearson"]),
    default="auto",
    show_default=True,
    help="Interval method (auto: Wilson for probabilities, Student t otherwise).",
)
@click.option(
    "--bit-generator",
    type=click.Choice(["sfc64", "pcg64", "pcg64dxsm", "philox"]),
    default="sfc64",
    show_default=True,
    help="numpy bit generator.",
)
@click.option("--block-size", type=PositiveInt(), default=None, help="Samples per seeded block  [default: the model's]")
@click.option("--batch-size", type=PositiveInt(), default=None, help="Samples per model call  [default: the model's]")
@click.option(
    "--tolerance",
    type=PositiveFloat("1e-3"),
    default=None,
    metavar="ABS",
    help="Stop when the interval half-width is <= ABS (checked after each block, in block order).",
)
@click.option(
    "--rtol",
    type=PositiveFloat("1e-4"),
    default=None,
    metavar="REL",
    help="Stop when the half-width is <= REL x |estimate| (with --tolerance: whichever is met first).",
)
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="OUTPUT",
    help="Output the precision target applies to (repeatable)  [default: every output]",
)
@click.option(
    "--min-samples",
    type=SamplesType(),
    default=None,
    metavar="N",
    help="Check precision targets only from N samples on (limits the bias of early stopping).",
)
@click.option(
    "--max-samples",
    type=SamplesType(),
    default=None,
    metavar="N",
    help="The cap of a stopping run (same as --samples).  [default: 1e10]",
)
@click.option(
    "--time-limit",
    type=PositiveFloat("60"),
    default=None,
    metavar="SECONDS",
    help="Stop after SECONDS of wall time; the stopping point is then not reproducible (flagged).",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Times dead worker processes are replaced before the run fails.",
)
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Save progress to FILE (JSON, atomic) every few seconds and on exit.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue the run saved in --checkpoint FILE (same options; the seed is taken from the file if not given).",
)
@click.option(
    "--checkpoint-every",
    type=PositiveFloat("5"),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="Seconds between checkpoint writes.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object (schema: docs/json.md).")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Also write the JSON result to this file (atomically).",
)
@click.option(
    "--plot",
    "plot_file",
    type=PlotPath(),
    default=None,
    help="Also write the convergence plot to FILE (.png, .svg or .pdf; needs montecarlo[plot]).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--replay-block",
    type=click.IntRange(min=0),
    default=None,
    metavar="INDEX",
    help="Re-run only block INDEX in-process and show the model's own traceback.",
)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def run_cmd(
    ctx: click.Context,
    model: str,
    samples: int | None,
    seed: int | None,
    workers: int | None,
    executor: str,
    scheduler: str | None,
    params: tuple[str, ...],
    confidence: float,
    interval: str,
    bit_generator: str,
    block_size: int | None,
    batch_size: int | None,
    tolerance: float | None,
    rtol: float | None,
    targets: tuple[str, ...],
    min_samples: int | None,
    max_samples: int | None,
    time_limit: float | None,
    retries: int,
    checkpoint: str | None,
    resume: bool,
    checkpoint_every: float,
    as_json: bool,
    output: str | None,
    plot_file: str | None,
    quiet: bool,
    replay_block: int | None,
    debug: bool,
) -> None:
    """Run MODEL: a built-in name (see `mc list`) or package.module:function.

    With --tolerance, --rtol or --time-limit the run stops early: at the first
    block where the target is met (the same block for every worker count and
    executor), and at the latest at --max-samples, which exits 0 and says so.
    """
    if debug:
        ctx.obj["debug"] = True
    from montecarlo.api import make_spec, run_spec
    from montecarlo.blocks import ModelError
    from montecarlo.checkpoint import CheckpointError
    from montecarlo.progress import ProgressBar

    if samples is not None and max_samples is not None:
        raise click.UsageError(
            f"--samples {samples} and --max-samples {max_samples} are both given; they are the same setting "
            "(the cap of a stopping run): give one of them.",
            ctx,
        )
    if plot_file is not None:
        _require_matplotlib()  # before the run, not after it
    if scheduler is not None and executor != "dask":
        raise click.UsageError(f"--scheduler {scheduler} needs --executor dask.", ctx)
    if resume and checkpoint is None:
        raise click.UsageError("--resume needs --checkpoint FILE (the file to resume from).", ctx)
    _check_output(ctx, output, "--output")
    try:  # everything is checked before any worker starts
        spec, rec = make_spec(
            model,
            samples if samples is not None else max_samples,
            rng=seed,
            params=_parse_params(params),
            confidence=confidence,
            interval=interval,
            bit_generator=bit_generator,
            block_size=block_size,
            batch_size=batch_size,
            tolerance=tolerance,
            rtol=rtol,
            target=targets or None,
            min_samples=min_samples,
            time_limit=time_limit,
        )
    except (LookupError, ValueError, TypeError) as exc:
        from montecarlo.model import ParameterError

        message = str(exc)
        if not isinstance(exc, (ParameterError, LookupError)):  # model parameters keep their own names
            for api_name, option in _RUN_OPTIONS.items():
                message = message.replace(api_name, option)
        raise click.UsageError(_plain(message), ctx) from exc

    if replay_block is not None:
        from montecarlo.api import replay_block as replay

        moments = replay(spec, replay_block, rec)
        click.echo(f"block {replay_block} ran without error: {moments.count} samples, mean {moments.mean.tolist()}")
        return
    bar = ProgressBar(open_ended=bool(spec.stop)) if not quiet else None
    try:
        result = run_spec(
            spec,
            rec,
            workers=workers,
            executor=executor,
            progress=bar,
            retries=retries,
            checkpoint=checkpoint,
            resume=resume,
            seeded=seed is not None,
            checkpoint_every=checkpoint_every,
            scheduler=scheduler,
        )
    except (ImportError, ConnectionError) as exc:  # dask not installed, or no scheduler at the address
        raise click.UsageError(_plain(exc), ctx) from None
    except CheckpointError as exc:
        raise click.UsageError(_plain(exc), ctx) from None
    except ModelError as exc:
        exc.message += f"; seed entropy {spec.entropy}"
        raise
    finally:
        if bar is not None:
            bar.close()
    click.echo(result.to_json() if as_json else result.table())
    _save(result, output, "--output")
    if plot_file:
        from montecarlo.plot import save_convergence

        save_convergence(result, plot_file)
    stopping = result.stopping
    if spec.stop:
        # The line that says how a stopping run ended (target met, cap reached
        # or time limit); with --json it goes to stderr when it is news.
        if not as_json:
            click.echo(stopping["message"])
        elif stopping.get("target_met") is False or not stopping.get("reproducible", True):
            click.echo(stopping["message"], err=True)


@cli.command("extend")
@click.argument("result_file", metavar="RESULT.json", type=click.Path(exists=True, dir_okay=False))
@click.option("-n", "--samples", type=SamplesType(), required=True, help="The new total sample count.")
@click.option("-w", "--workers", type=PositiveInt(), default=None, help="Parallel workers  [default: all cores]")
@click.option(
    "--executor",
    type=click.Choice(["processes", "threads", "serial"]),
    default="processes",
    show_default=True,
    help="Where blocks run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the extended result to this file (atomically).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def extend_cmd(
    ctx: click.Context,
    result_file: str,
    samples: int,
    workers: int | None,
    executor: str,
    as_json: bool,
    output: str | None,
    quiet: bool,
) -> None:
    """Continue the run in RESULT.json to --samples N samples.

    The numbers equal those of one run of N samples with the same seed and
    settings: only the missing blocks are computed.
    """
    from montecarlo.api import extend
    from montecarlo.progress import ProgressBar
    from montecarlo.result import Result, ResultFormatError

    try:
        previous = Result.load(result_file)
    except (ResultFormatError, UnicodeDecodeError) as exc:
        raise click.UsageError(f"{result_file}: {_plain(exc)}", ctx) from None
    if samples < previous.samples:
        raise click.UsageError(
            f"--samples {samples} is fewer than the {previous.samples} samples {result_file} already has; "
            f"accepted: at least {previous.samples}.",
            ctx,
        )
    from montecarlo.model import load_model

    try:
        load_model(previous.spec.model)
    except LookupError as exc:
        raise click.UsageError(_plain(exc), ctx) from None
    _check_output(ctx, output, "--output")
    bar = ProgressBar() if not quiet else None
    try:
        result = extend(previous, samples, workers=workers, executor=executor, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    click.echo(result.to_json() if as_json else result.table())
    _save(result, output, "--output")


@cli.command("plot")
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o",
    "--output",
    "out",
    type=PlotPath(),
    default=None,
    help="Plot file (.png, .svg or .pdf).  [default: RESULT.png beside the (first) result]",
)
@click.option(
    "--sweep",
    "parameter",
    default=None,
    metavar="PARAM",
    help="With several results: the swept model parameter  [default: the one that differs]",
)
@click.option(
    "--estimate",
    "name",
    default=None,
    metavar="NAME",
    help="Output or derived estimate to plot  [default: every output; the first for a sweep]",
)
@click.pass_context
def plot_cmd(
    ctx: click.Context, results: tuple[str, ...], out: str | None, parameter: str | None, name: str | None
) -> None:
    """Plot RESULT.json: the estimate and its interval against samples.

    With several result files of one model (a sweep), plot the estimates with
    their intervals against the swept parameter, with the exact curve when the
    model knows it. Needs matplotlib: pip install 'montecarlo[plot]'.
    """
    import os

    from montecarlo.plot import PlotError, save_convergence, save_sweep
    from montecarlo.result import Result, ResultFormatError

    _require_matplotlib()
    loaded = []
    for path in results:
        try:
            loaded.append(Result.load(path))
        except (ResultFormatError, UnicodeDecodeError) as exc:
            raise click.UsageError(f"{path}: {exc}", ctx) from None
    if out is None:
        stem = os.path.splitext(results[0])[0]
        out = f"{stem}.png" if len(loaded) == 1 else f"{stem}-sweep.png"
    if parameter is not None and len(loaded) < 2:
        raise click.UsageError(f"--sweep {parameter} needs two or more result files; got {len(loaded)}.", ctx)
    try:
        if len(loaded) == 1:
            save_convergence(loaded[0], out, output=name)
        else:
            save_sweep(loaded, out, parameter=parameter, output=name)
    except PlotError as exc:
        message = _plain(exc).replace("output = ", "--estimate ").replace("parameter = ", "--sweep ")
        raise click.UsageError(message, ctx) from None
    click.echo(f"wrote {out}")


@cli.command("list")
def list_cmd() -> None:
    """List the built-in models, one line each."""
    from montecarlo.model import builtin_models

    models = builtin_models()
    width = max(len(m.name) for m in models)
    for m in models:
        line = m.description.split(". ")[0].rstrip(".")
        click.echo(f"{m.name.ljust(width)}  {line}")


@cli.command("show")
@click.argument("model")
@click.pass_context
def show_cmd(ctx: click.Context, model: str) -> None:
    """Describe MODEL: parameters, outputs, derived quantities, exact values."""
    from montecarlo.model import load_model

    try:
        rec = load_model(model)
    except LookupError as exc:
        raise click.UsageError(_plain(exc), ctx) from exc
    click.echo(f"{rec.name}  ({rec.reference})")
    click.echo(f"  {rec.description}")
    click.echo("\nparameters (mc run -p NAME=VALUE):")
    if not rec.params:
        click.echo("  (none)")
    width = max((len(p.name) for p in rec.params), default=0)
    for p in rec.params:
        default = "required" if p.required else f"default {p.default!r}"
        click.echo(f"  {p.name.ljust(width)}  {p.accepted()}; {default}")
    click.echo("\noutputs:")
    for o in rec.outputs:
        scale = f", {o.scale:g} x mean" if o.scale != 1 else ""
        interval = "Wilson/Clopper-Pearson interval" if o.kind == "probability" else "Student t interval"
        click.echo(f"  {o.name}: {o.kind}{scale} ({interval})")
    if rec.derived:
        click.echo("\nderived quantities (delta method):")
        for d in rec.derived:
            grad = "analytic gradient" if d.gradient is not None else "central-difference gradient"
            inputs = ", ".join(d.inputs or rec.output_names)
            click.echo(f"  {d.name} = f({inputs}); {grad}" + (f": {d.description}" if d.description else ""))
    if rec.controls:
        click.echo("\ncontrol variates:")
        for c in rec.controls:
            what = f"  {c.name}: {c.target} with control(s) {', '.join(c.controls)}"
            click.echo(what + (f": {c.description}" if c.description else ""))
    try:
        exact = rec.exact_estimates(rec.bind({}))
    except Exception:  # required parameters, or a formula outside its domain
        exact = {}
    if exact:
        click.echo("\nexact values at the defaults:")
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
    except click.Abort as exc:
        # click turns KeyboardInterrupt (and so SIGTERM's Terminated) into Abort
        if isinstance(exc.__cause__, Terminated):
            click.echo("Terminated: workers stopped.", err=True)
            return EXIT_SIGTERM
        if isinstance(exc.__cause__, KeyboardInterrupt):
            click.echo("Interrupted: workers stopped.", err=True)
            return EXIT_SIGINT
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
        hint = ""
        if isinstance(exc, ModelError):
            hint = f" -- debug it with the same command plus --replay-block {exc.block}"
        click.echo(f"Error: {_plain(exc)}{hint}", err=True)
        return EXIT_FAILED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


# experiment files and reproduction (montecarlo/cli_experiment.py)
from montecarlo.cli_experiment import experiment_group, reproduce_cmd  # noqa: E402

cli.add_command(experiment_group)
cli.add_command(reproduce_cmd)
