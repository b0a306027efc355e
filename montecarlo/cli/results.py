"""Commands on result files: ``mc extend``, ``mc plot`` and ``mc reproduce``."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import click

from montecarlo.cli.common import (
    Failed,
    PlotPath,
    SectionedCommand,
    UsageFailure,
    check_output,
    model_output_to_stderr,
    require_matplotlib,
    save_result,
    usage_error,
    vocabulary_options,
)
from montecarlo.errors import ValidationError


def _execution(ctx: click.Context, values: dict[str, Any]) -> Any:
    """The `Execution` of the vocabulary's execution options."""
    from montecarlo.core.execution import Execution

    try:
        return Execution(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise usage_error(exc, ctx) from None


def _load(ctx: click.Context, path: str, experiments: bool = True) -> Any:
    """A result file (an experiment's too, unless ``experiments`` is false), or a one-line usage error."""
    from montecarlo.api import load
    from montecarlo.errors import ResultFormatError
    from montecarlo.records.result import Result

    try:
        loaded = load(path)
    except ResultFormatError as exc:  # it names the path
        raise click.UsageError(str(exc), ctx) from None
    if not experiments and not isinstance(loaded, Result):
        raise click.UsageError(
            f"{path}: an experiment's result; accepted: a result of `mc run -o`",
            ctx,
        )
    return loaded


@click.command("extend", cls=SectionedCommand)
@click.argument("result_file", metavar="RESULT.json", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-n", "--samples", required=True, metavar="N", help="The new total sample count (with a target, the cap)."
)
@vocabulary_options(["execution"], only=["tolerance", "rtol"])
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("-o", "--output", metavar="FILE", help="Write the extended result to FILE (atomically).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def extend_cmd(
    ctx: click.Context, result_file: str, samples: str, as_json: bool, output: str | None, quiet: bool, **values: Any
) -> None:
    """Continue the run in RESULT.json to --samples N samples.

    The numbers equal those of one run of N samples with the same seed and
    settings: only the missing blocks are computed. The result file names the
    model, which is imported to run it: a result file is trusted input here.
    """
    from montecarlo.analyses.reading import load as load_record
    from montecarlo.api import extend
    from montecarlo.engine.progress import ProgressBar
    from montecarlo.models.registry import load_model
    from montecarlo.records.result import Result

    previous = _load(ctx, result_file, experiments=False)
    # An analysis's record (Sobol' indices) is its run's result plus a section: the run goes on, the record is made again.
    analysis = load_record(result_file)
    analysis = analysis if not isinstance(analysis, Result) else None
    target = {k: values.pop(k) for k in ("tolerance", "rtol")}
    execution = _execution(ctx, values)
    output = check_output(output, "--output")
    bar = ProgressBar() if not quiet else None
    try:
        load_model(previous.spec.model)
        with model_output_to_stderr():
            result = extend(previous, samples, execution=dataclasses.replace(execution, progress=bar), **target)
    except ValidationError as exc:
        raise usage_error(exc, ctx) from None
    finally:
        if bar is not None:
            bar.close()
    if result.spec.sampler != "random":  # how N became R replicates x their points
        from montecarlo.core.layout import rounding_note
        from montecarlo.core.validate import check_count

        click.echo(
            rounding_note(check_count(samples), result.samples, result.spec.sampler, result.spec.replicates), err=True
        )
    shown = analysis.with_run(result) if analysis is not None else result
    click.echo(shown.to_json() if as_json else shown.table())
    if result.spec.stop and not as_json:
        click.echo(result.stopping["message"])
    save_result(shown, output, "--output")
    if output is None:
        click.echo("not saved: add -o FILE to write the extended result", err=True)


@click.command("plot")
@click.argument("results", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "-o", "--output", "out", type=PlotPath(), default=None,
    help="Plot file (.png, .svg or .pdf).  [default: RESULT.png beside the (first) result]",
)  # fmt: skip
@click.option(
    "--sweep", "parameter", default=None, metavar="PARAM",
    help="With several results: the swept model parameter  [default: the one that differs]",
)  # fmt: skip
@click.option(
    "--estimate", "name", default=None, metavar="NAME",
    help="Output or derived estimate to plot  [default: every output; the first for a sweep]",
)  # fmt: skip
@click.option(
    "--histogram", is_flag=True,
    help="Plot each output's histogram and distribution function with its band (a run with --distribution, "
    "--quantile or --shortfall).",
)  # fmt: skip
@click.pass_context
def plot_cmd(
    ctx: click.Context,
    results: tuple[str, ...],
    out: str | None,
    parameter: str | None,
    name: str | None,
    histogram: bool,
) -> None:
    """Plot RESULT.json: the estimate and its interval against samples.

    With several result files of one model, or an experiment's result.json
    of a sweep, plot the estimates with their intervals against the swept
    parameter, with the exact curve when the model knows it. Needs
    matplotlib: pip install 'montecarlo-engine[plot]'.
    """
    from montecarlo.records.experiment_result import ExperimentResult
    from montecarlo.records.mlmc_result import MLMCResult
    from montecarlo.records.result import Result
    from montecarlo.reports.plot import save_convergence, save_sweep

    require_matplotlib()
    # An experiment's result folder stands for its result.json, as for montecarlo.load and mc experiment show.
    results = tuple(os.path.join(p, "result.json") if os.path.isdir(p) else p for p in results)
    if len(results) == 1 and parameter is None and not histogram:  # an analysis's result draws its own plot
        from montecarlo.cli.sensitivity import plot_analysis

        drawn = plot_analysis(results[0], out or f"{os.path.splitext(results[0])[0]}.png", name)
        if drawn is not None:
            click.echo(f"wrote {drawn}")
            return
    loaded = []
    for path in results:
        one = _load(ctx, path)
        if isinstance(one, MLMCResult):  # a multilevel result: Giles' figure of its levels
            if len(results) > 1 or parameter is not None or histogram:
                raise click.UsageError(f"{path}: a multilevel result is plotted alone (its levels)", ctx)
            target = out or os.path.splitext(path)[0] + ".png"
            one.plot(output=target)
            click.echo(f"wrote {target}")
            return
        if isinstance(one, ExperimentResult):
            if one.analysis is not None:
                raise click.UsageError(
                    f"{path}: an experiment of analysis {one.analysis.get('name')!r} is not plotted as runs; "
                    "accepted: a result of `mc run`, `mc sensitivity -o`, `mc mlmc -o` or a plain experiment",
                    ctx,
                )
            loaded += [p.result for p in one.points if isinstance(p.result, Result)]  # a sweep's points, or one run
            if parameter is None and len(one.points[0].swept) == 1:
                parameter = next(iter(one.points[0].swept))
        else:
            loaded.append(one)
    if out is None:
        stem = os.path.splitext(results[0])[0]
        out = f"{stem}.png" if len(loaded) == 1 else f"{stem}-sweep.png"
    if parameter is not None and len(loaded) < 2:
        raise click.UsageError(f"--sweep {parameter} needs two or more results; got {len(loaded)}.", ctx)
    if histogram and len(loaded) > 1:
        raise click.UsageError(f"--histogram plots one result; got {len(loaded)}.", ctx)
    try:
        if histogram:
            from montecarlo.reports.distplot import save_distribution

            save_distribution(loaded[0], out, output=name)
        elif len(loaded) == 1:
            save_convergence(loaded[0], out, output=name)
        else:
            save_sweep(loaded, out, parameter=parameter, output=name)
    except ValidationError as exc:  # a PlotError, or a result without its distribution
        shown = {"output": "--estimate", "parameter": "--sweep", "result": "--histogram: the result of model"}
        raise click.UsageError(exc.format(shown.get(exc.argument, f"`{exc.argument}`")), ctx) from None
    click.echo(f"wrote {out}")


@click.command("reproduce", cls=SectionedCommand)
@click.argument("result_file", metavar="RESULT.json")
@vocabulary_options(["execution"])
def reproduce_cmd(result_file: str, **values: Any) -> None:
    """Re-run RESULT.json from its recorded RunSpecs; report "bit-identical" or each differing number.

    The result file names the model, which is imported to re-run it: a result
    file is trusted input here.
    """
    from montecarlo.experiments import ExperimentError, reproduce
    from montecarlo.reports.text import printable

    def say(text: str, err: bool = False) -> None:  # names, versions and executors come from the file: escaped
        click.echo(printable(text), err=err)

    execution = _execution(click.get_current_context(), values)
    try:
        with model_output_to_stderr():
            rep = reproduce(result_file, execution=execution)
    except ExperimentError as exc:
        raise UsageFailure(str(exc)) from None
    for w in rep.warnings:
        say(f"warning: {w}", err=True)
    rec = rep.recorded
    was = f"{rec.provenance.get('workers', '?')} worker(s) ({rec.provenance.get('executor', '?')})"
    say(
        f"{rec.path}: {len(rec.points)} run(s), {rep.compared} numbers compared; "
        f"recorded on {was}, re-run on {rep.workers} worker(s) ({rep.executor})"
    )
    if rep.model_changed:
        for line in rep.model_changed:
            say(f"  {line}")
        raise Failed(
            f"not reproduced: the model changed since the file was written ({len(rep.model_changed)} of "
            f"{len(rec.points)} run(s)); re-run with the model that wrote it."
        )
    if rep.arithmetic_changed is not None:
        old, new = rep.arithmetic_changed
        click.echo(f"the arithmetic changed: the file was computed with version {old}, this release computes with "
                   f"version {new}, so its numbers differ in their last bits; compared within the recorded intervals")  # fmt: skip
        if rep.identical:
            click.echo(f"every re-run estimate lies within its recorded interval ({rep.compared} compared)")
            return
        for line in rep.mismatches:
            say(f"  {line}")
        raise Failed(f"not reproduced: {len(rep.mismatches)} of {rep.compared} estimates lie outside their intervals.")
    if rep.identical:
        click.echo("bit-identical")
        return
    for line in rep.mismatches:
        say(f"  {line}")
    raise Failed(f"not reproduced: {len(rep.mismatches)} of {rep.compared} numbers differ.")
