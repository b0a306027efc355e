"""``mc sensitivity MODEL``: Sobol' first-order and total indices of a model's declared inputs."""

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
    save_result,
    usage_error,
    vocabulary_options,
)
from montecarlo.core.vocabulary import ANALYSIS_OPTIONS
from montecarlo.errors import ValidationError

EXAMPLES = (
    """Examples:
  mc sensitivity ishigami -n 16384 --seed 1
  mc sensitivity sobol_g -n 16384 --sampler sobol --replicates 16 --json
  mc sensitivity ishigami --tolerance 0.01 --seed 2 -o ishigami.json
  mc sensitivity sobol_g -n 65536 --second-order --sampler sobol
  mc sensitivity mymodels.py:beam -n 1e5 --checkpoint beam.ckpt
  mc plot ishigami.json

"""
    + EXIT_CODES
)

#: The vocabulary's options `mc sensitivity` takes, besides its own -n and --tolerance (their help is in base points).
OPTIONS = [n for n in ANALYSIS_OPTIONS["sensitivity"] if n not in ("samples", "tolerance")]


def _option(section: str, *decls: str, **kwargs: Any) -> Any:
    return click.option(*decls, cls=SectionOption, section=section, **kwargs)


@click.command("sensitivity", cls=SectionedCommand, epilog=EXAMPLES)
@click.argument("model", shell_complete=complete_models)
@_option("Sampling", "-n", "--samples", metavar="N", help="Base points N: N x (d + 2) model evaluations; with "
         "--tolerance, the cap.  [default: 16384; 1e10 with --tolerance]")  # fmt: skip
@_option("Sampling", "--second-order", is_flag=True, help="Also the second-order index of every pair of inputs: "
         "N x (2d + 2) evaluations.")  # fmt: skip
@param_option
@vocabulary_options((), only=OPTIONS)
@_option("Precision targets and budgets", "--tolerance", metavar="T", help="Stop at the first block where every "
         "index's interval half-width is <= T (checked from 4096 base points on).")  # fmt: skip
@_option("Output", "--json", "as_json", is_flag=True, help="Print the result as one JSON object (docs/json.md).")
@_option("Output", "-o", "--output", metavar="FILE", help="Also write the JSON result to FILE (atomically).")
@_option("Output", "--plot", "plot_file", type=PlotPath(), help="Also draw the bar plot (.png, .svg or .pdf).")
@_option("Output", "-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def sensitivity_cmd(
    ctx: click.Context,
    model: str,
    samples: str | None,
    second_order: bool,
    params: tuple[str, ...],
    tolerance: str | None,
    as_json: bool,
    output: str | None,
    plot_file: str | None,
    quiet: bool,
    **values: Any,
) -> None:
    """Sobol' indices of MODEL's declared inputs: first order (Saltelli 2010) and total (Jansen 1999).

    MODEL declares its inputs' distributions (@montecarlo.model(inputs=...);
    built-in: ishigami, sobol_g). Each base point evaluates it d + 2 times;
    the indices get delta-method intervals, or Student t intervals on the
    replicates with --sampler sobol or halton, and are the same bits for any
    worker count and executor.
    """
    from montecarlo.analyses.sensitivity import sensitivity_spec
    from montecarlo.analyses.sensitivity_model import layout_of
    from montecarlo.analyses.sensitivity_result import SensitivityResult
    from montecarlo.core.vocabulary import run_arguments
    from montecarlo.models.registry import load_model

    if plot_file is not None:
        require_matplotlib()  # before the run, not after it
    output, plot_file = check_outputs(output, plot_file, values.get("checkpoint"))
    try:  # everything is checked before any worker starts
        args = run_arguments({**values, "samples": samples, "params": parse_params(params)})
        given = args.spec
        spec = sensitivity_spec(
            model, given.get("samples"), rng=given.get("rng"), params=given["params"], sampling=given["sampling"],
            tolerance=None if tolerance is None else _number(tolerance), confidence=given.get("confidence", 0.95),
            second_order=second_order,
        )  # fmt: skip
    except ValidationError as exc:
        raise usage_error(exc, ctx) from None
    if spec.sampler != "random":  # how -n became R replicates x their points (stderr: --json stays clean)
        from montecarlo.core.layout import rounding_note

        asked = given.get("samples") or spec.samples
        click.echo(rounding_note(asked, spec.samples, spec.sampler, spec.replicates).replace("samples", "base points"),
                   err=True)  # fmt: skip
    from montecarlo.cli.run import _run

    result = SensitivityResult.of(_run(ctx, spec, args, quiet), layout_of(load_model(model), second_order))
    click.echo(result.to_json() if as_json else result.table())
    save_result(result, output, "--output")
    if plot_file:
        from montecarlo.reports.sensitivity import save_sensitivity

        save_sensitivity(result, plot_file)
    if as_json and spec.stop and result.result.stopping.get("target_met") is False:
        click.echo(result.result.stopping["message"], err=True)
    if given.get("rng") is None and not as_json:
        click.echo(f"repeat these numbers with --seed {result.result.spec.entropy}")


def _number(text: str) -> float:
    from montecarlo.core.validate import check_positive

    return check_positive(text, "tolerance", "0.01")


def plot_analysis(path: str, out: str, estimate: str | None) -> str | None:
    """``mc plot`` of an analysis's result file: its own plot written to ``out``; None for any other file."""
    from montecarlo.analyses.reading import load
    from montecarlo.analyses.sensitivity_result import SensitivityResult
    from montecarlo.errors import ResultFormatError

    try:
        loaded = load(path)
    except ResultFormatError:
        return None  # the caller reports it as for any file
    if not isinstance(loaded, SensitivityResult):
        return None
    from montecarlo.reports.sensitivity import save_sensitivity

    try:
        return save_sensitivity(loaded, out, output=estimate)
    except ValidationError as exc:
        raise click.UsageError(exc.format("--estimate" if exc.argument == "output" else f"`{exc.argument}`")) from None
