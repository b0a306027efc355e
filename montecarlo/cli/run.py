"""``mc run MODEL``: one run, printed as a table or JSON."""

from __future__ import annotations

from typing import Any

import click

from montecarlo.cli.common import (
    EXIT_CODES,
    PlotPath,
    SectionedCommand,
    SectionOption,
    check_outputs,
    complete_models,
    param_option,
    parse_params,
    require_matplotlib,
    running,
    save_result,
    usage_error,
    vocabulary_options,
)
from montecarlo.errors import ValidationError

EXAMPLES = (
    """Examples:
  mc run pi --samples 1e9
  mc run european_option -p strike=110 -n 1e7 --seed 1 --json
  mc run pi --tolerance 1e-4 --time-limit 60
  mc run asian_option --sampler sobol --replicates 16 -n 262144
  mc run mymodels.py:lognormal -p sigma=0.5 --checkpoint run.ckpt
  mc run pi -n 1e11 --seed 7 --checkpoint pi.ckpt --resume

"""
    + EXIT_CODES
)


def _output(*decls: str, **kwargs: Any) -> Any:
    return click.option(*decls, cls=SectionOption, section="Output", **kwargs)


@click.command("run", cls=SectionedCommand, epilog=EXAMPLES)
@click.argument("model", shell_complete=complete_models)
@param_option
@vocabulary_options(["spec", "sampling", "stopping", "execution", "checkpoint"])
@_output(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON object (schema: the documentation's Result JSON page, docs/json.md).",
)
@_output("-o", "--output", metavar="FILE", help="Also write the JSON result to FILE (atomically).")
@_output("--plot", "plot_file", type=PlotPath(), help="Also draw the convergence plot (.png, .svg or .pdf).")
@_output("-q", "--quiet", is_flag=True, help="No progress bar.")
@_output("--replay-block", metavar="INDEX", help="Run only block INDEX in-process, with the model's own traceback.")
@_output("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.pass_context
def run_cmd(
    ctx: click.Context,
    model: str,
    params: tuple[str, ...],
    as_json: bool,
    output: str | None,
    plot_file: str | None,
    quiet: bool,
    replay_block: str | None,
    debug: bool,
    **values: Any,
) -> None:
    """Run MODEL: a built-in name (see `mc list`), package.module:function or file.py:function.

    With --tolerance, --rtol or --time-limit the run stops early: at the first
    block where the target is met (the same block for every worker count and
    executor), and at the latest at --max-samples, which exits 0 and says so.
    """
    if debug:
        ctx.obj["debug"] = True
    from montecarlo.api import make_spec
    from montecarlo.core.vocabulary import run_arguments

    if plot_file is not None:
        require_matplotlib()  # before the run, not after it
    output, plot_file = check_outputs(output, plot_file, values.get("checkpoint"))
    try:  # everything is checked before any worker starts
        args = run_arguments({**values, "params": parse_params(params)})
        spec = make_spec(model, **args.spec)
    except ValidationError as exc:
        raise usage_error(exc, ctx) from None
    if spec.sampler != "random":  # how -n became R replicates x their points (stderr: --json stays clean)
        from montecarlo.core.layout import rounding_note
        from montecarlo.core.sampling import DEFAULT_MAX_SAMPLES, DEFAULT_SAMPLES

        stopping = args.spec["stopping"]
        asked = (
            args.spec.get("samples") or stopping.max_samples or (DEFAULT_MAX_SAMPLES if stopping else DEFAULT_SAMPLES)
        )
        click.echo(rounding_note(asked, spec.samples, spec.sampler, spec.replicates), err=True)
    if replay_block is not None:
        _replay(ctx, spec, replay_block)
        return
    result = _run(ctx, spec, args, quiet)
    if as_json:
        click.echo(result.to_json())
    else:  # the engine says why fewer workers ran than were asked for; the command line says what to change
        from montecarlo.reports.table import format_result

        click.echo(format_result(result, advice="a smaller --block-size splits it across more workers"))
    save_result(result, output, "--output")
    if plot_file:
        from montecarlo.reports.plot import save_convergence

        save_convergence(result, plot_file)
    if spec.stop:
        # The line that says how a stopping run ended (target met, cap reached
        # or time limit); with --json it goes to stderr when it is news.
        stopping = result.stopping
        if not as_json:
            click.echo(stopping["message"])
        elif stopping.get("target_met") is False or not stopping.get("reproducible", True):
            click.echo(stopping["message"], err=True)
    if args.spec.get("rng") is None and not as_json:
        click.echo(f"repeat these numbers with --seed {result.spec.entropy}")


def _run(ctx: click.Context, spec: Any, args: Any, quiet: bool) -> Any:
    """Run the spec with a progress bar; usage problems found at start-up exit 2."""
    import dataclasses

    from montecarlo.api import run_spec
    from montecarlo.engine.progress import ProgressBar

    bar = ProgressBar(open_ended=bool(spec.stop)) if not quiet else None
    execution = dataclasses.replace(args.execution, progress=bar)
    checkpoint = args.checkpoint.path if args.checkpoint is not None else None
    try:
        with running(ctx, checkpoint, checkpoint_summary):
            return run_spec(spec, execution=execution, checkpoint=args.checkpoint)
    finally:
        if bar is not None:
            bar.close()


def checkpoint_summary(path: str) -> str:
    """What an interrupted run's checkpoint holds: folded samples, and finished blocks waiting to be folded."""
    from montecarlo.records.files import read_json

    try:
        d = read_json(path)
        done = d["samples_done"]
        held = [m.get("count", 0) for m in (d.get("held") or {}).values()]  # finished, not yet folded in block order
        saved = f"checkpoint {path} saved at {done:,} samples"
        if held:
            saved += f" and {len(held)} finished block(s) of {sum(held):,} samples waiting for an earlier block"
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return f"no checkpoint was saved in {path} (the run stopped before any block finished)"
    return saved


def model_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without montecarlo's own frames: the model's code, as the user wrote it."""
    import os
    import traceback

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the montecarlo package
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not os.path.abspath(f.filename).startswith(here)]
    lines = ["Traceback (model code only):\n", *traceback.format_list(frames)]
    return "".join(lines + traceback.format_exception_only(type(exc), exc))


def _replay(ctx: click.Context, spec: Any, text: str) -> None:
    """``--replay-block INDEX``: that block in-process; the model's exception propagates."""
    from montecarlo.api import replay_block
    from montecarlo.core.validate import check_int

    try:
        index = check_int(text, "index", low=0)
        if spec.entropy is None:
            raise ValidationError("rng", None, "the seed the failed run printed", "is needed to replay a block")
        moments = replay_block(spec, index)
    except ValidationError as exc:
        raise click.UsageError(exc.format("--replay-block" if exc.argument == "index" else "--seed"), ctx) from None
    except Exception as exc:
        click.echo(model_traceback(exc), err=True, nl=False)
        raise click.ClickException(f"block {index} raised {type(exc).__name__}: {exc}") from None
    click.echo(f"block {index} ran without error: {moments.count} samples, mean {moments.moments.mean.tolist()}")
