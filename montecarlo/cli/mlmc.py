"""``mc mlmc MODEL --rmse EPS``: multilevel Monte Carlo of a level model, printed as Giles' table or JSON."""

from __future__ import annotations

from typing import Any

import click

from montecarlo.cli.common import (
    EXIT_CODES,
    PlotPath,
    SectionedCommand,
    SectionOption,
    check_distinct,
    check_output,
    click_option,
    complete_models,
    param_option,
    parse_params,
    require_matplotlib,
    running,
    save_result,
    usage_error,
)
from montecarlo.core.vocabulary import ANALYSIS_OPTIONS, MLMC_OPTIONS
from montecarlo.errors import ValidationError

#: The shared options `mc mlmc` takes (no sample count, stopping rules or cache: the algorithm sets them).
SHARED = tuple(n for n in ANALYSIS_OPTIONS["mlmc"] if n not in {o.name for o in MLMC_OPTIONS})

EXAMPLES = (
    """Examples:
  mc mlmc gbm_call --rmse 0.01 --seed 1
  mc mlmc digital_call --rmse 0.02 -w 2 --json
  mc mlmc gbm_call --rmse 0.005 --checkpoint mlmc.ckpt --seed 3
  mc mlmc gbm_call --rmse 0.005 --checkpoint mlmc.ckpt --seed 3 --resume
  mc mlmc ou.py:ou_square --rmse 0.002 -p sigma=0.3 --max-cost 1e8 --plot levels.png

"""
    + EXIT_CODES
)


def _options(f: Any) -> Any:
    from montecarlo.core.vocabulary import BY_NAME as SHARED_BY_NAME

    for option in reversed([SHARED_BY_NAME[n] for n in SHARED]):
        f = click_option(option)(f)
    for option in reversed(MLMC_OPTIONS):  # the vocabulary's: the keywords of montecarlo.mlmc and the file keys
        f = click_option(option)(f)
    return f


def _output(*decls: str, **kwargs: Any) -> Any:
    return click.option(*decls, cls=SectionOption, section="Output", **kwargs)


@click.command("mlmc", cls=SectionedCommand, epilog=EXAMPLES)
@click.argument("model", shell_complete=complete_models)
@param_option
@_options
@_output("--json", "as_json", is_flag=True, help="Print the result as one JSON object (docs/json.md).")
@_output("-o", "--output", metavar="FILE", help="Also write the JSON result to FILE (atomically).")
@_output("--plot", "plot_file", type=PlotPath(), help="Also draw Giles' figure of the levels (.png, .svg or .pdf).")
@_output("-q", "--quiet", is_flag=True, help="No line per round on stderr.")
@click.pass_context
def mlmc_cmd(
    ctx: click.Context,
    model: str,
    params: tuple[str, ...],
    as_json: bool,
    output: str | None,
    plot_file: str | None,
    quiet: bool,
    **values: Any,
) -> None:
    """Estimate MODEL's limit to RMSE --rmse by multilevel Monte Carlo (Giles' adaptive algorithm).

    MODEL is a level model (`mc show MODEL` says so): gbm_call, digital_call,
    package.module:function or file.py:function. Level l runs as an ordinary
    run with -p level=l; the levels, every N_l and the estimate are the same
    for any worker count, executor and resume (docs/mlmc.md).
    """
    from montecarlo.analyses.mlmc import make_mlmc_spec
    from montecarlo.core.vocabulary import run_arguments

    if plot_file is not None:
        require_matplotlib()
    check_distinct({"--checkpoint": values.get("checkpoint"), "--output": output, "--plot": plot_file})
    output = check_output(output, "--output")
    try:  # everything is checked before any worker starts
        if values.get("rmse") is None:
            raise ValidationError("rmse", None, "a finite number > 0, such as 0.01", "is required")
        args = run_arguments({**values, "params": parse_params(params)})
        kwargs = dict(args.mlmc)
        spec = make_mlmc_spec(
            model, kwargs.pop("rmse"), rng=args.spec.get("rng"), params=args.spec["params"],
            bit_generator=args.spec["sampling"].bit_generator, confidence=args.spec.get("confidence", 0.95), **kwargs,
        )  # fmt: skip
    except ValidationError as exc:
        raise usage_error(exc, ctx) from None
    result = _run(ctx, spec, args, quiet)
    click.echo(result.to_json() if as_json else result.table())
    if as_json and not result.converged:
        click.echo(result.message, err=True)
    save_result(result, output, "--output")
    if plot_file:
        result.plot(output=plot_file)
    if spec.entropy is None and not as_json:
        click.echo(f"repeat these numbers with --seed {result.spec.entropy}")


def _round_line(report: dict) -> None:
    samples = " ".join(f"{n:,}" for n in report["samples"])
    end = f"; {report['stopped']}" if report["stopped"] else ""
    click.echo(
        f"round {report['round']}: levels 0-{report['levels'] - 1}, N_l = {samples}, cost {report['cost']:.4g}{end}",
        err=True,
    )


def _run(ctx: click.Context, spec: Any, args: Any, quiet: bool) -> Any:
    """Run the spec, a line per round on stderr; usage problems found at start-up exit 2."""
    from montecarlo.analyses.mlmc import run_mlmc

    checkpoint = args.checkpoint.path if args.checkpoint is not None else None
    with running(ctx, checkpoint, _saved):
        return run_mlmc(
            spec, execution=args.execution, checkpoint=args.checkpoint, on_round=None if quiet else _round_line
        )


def _saved(path: str) -> str:
    """What an interrupted multilevel run's checkpoint holds: the round it was saved in."""
    from montecarlo.records.files import read_json

    try:
        return f"checkpoint {path} saved in round {read_json(path)['round']}"
    except (OSError, ValueError, KeyError, TypeError):
        return f"no checkpoint was saved in {path} (the run stopped before its first block was folded)"
