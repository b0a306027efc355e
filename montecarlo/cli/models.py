"""``mc list`` and ``mc show MODEL``."""

from __future__ import annotations

from typing import Any

import click

from montecarlo.cli.common import complete_models
from montecarlo.errors import ValidationError


@click.command("list")
def list_cmd() -> None:
    """List the built-in models, one line each."""
    from montecarlo.models.registry import builtin_models

    models = builtin_models()
    width = max(len(m.name) for m in models)
    for m in models:
        line = m.description.split(". ")[0].rstrip(".")
        click.echo(f"{m.name.ljust(width)}  {line}")


@click.command("show")
@click.argument("model", shell_complete=complete_models)
@click.pass_context
def show_cmd(ctx: click.Context, model: str) -> None:
    """Describe MODEL: parameters, outputs, derived quantities, exact values."""
    from montecarlo.models.registry import load_model

    try:
        rec = load_model(model)
    except ValidationError as exc:
        raise click.UsageError(str(exc), ctx) from None
    click.echo(f"{rec.name}  ({rec.recorded_name})")
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
        weighted = ", likelihood-ratio weighted" if o.likelihood_ratio else ""
        click.echo(f"  {o.name}: {o.kind}{scale} ({interval}{weighted})")
    if rec.inputs is not None:
        _show_inputs(rec)
    if rec.levels is not None:  # a level model of multilevel Monte Carlo
        from montecarlo.models.levels import describe

        click.echo("\nlevels (a level model: mc mlmc MODEL --rmse EPS):")
        click.echo("\n".join(describe(rec.levels, {p.name: p.default for p in rec.params if not p.required})))
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
    if rec.uniform is None:
        click.echo("quasi-random points: no uniform form (--sampler random only)")
    else:
        from montecarlo.models.uniforms import uniform_dimension

        try:
            dim = f"{uniform_dimension(rec, rec.bind({}), 'halton')}"
            dim += "" if isinstance(rec.dimension, int) else " at the defaults"
        except Exception:  # required parameters
            dim = "set by the parameters"
        click.echo(f"quasi-random points (--sampler sobol or halton): uniform form of dimension {dim}")
    click.echo("\n" + (rec.doc or rec.description or "(no description)"))


def _show_inputs(rec: Any) -> None:
    """The declared inputs (``mc sensitivity MODEL``) and the exact Sobol' indices at the defaults, if known."""
    inputs = rec.inputs
    click.echo("\ninputs (independent; mc sensitivity MODEL):")
    width = max(len(n) for n in inputs.names)
    for name, given, scipy in zip(inputs.names, inputs.given, inputs.described, strict=True):
        click.echo(f"  {name.ljust(width)}  {given}" + (f"  (scipy.stats {scipy})" if scipy != given else ""))
    try:
        exact = inputs.exact(rec.bind({}), rec.output_names)
    except Exception:  # required parameters
        exact = {}
    for output, per in exact.items():
        click.echo(f"\nexact Sobol' indices of {output} at the defaults:")
        for name, (first, total) in per.items():
            click.echo(f"  {name.ljust(width)}  first {first:<10.6g}  total {total:.6g}")
        pairs = inputs.exact_pairs(rec.bind({}), rec.output_names).get(output, {})
        if pairs:
            click.echo("  second order: " + ", ".join(f"{j},{k} {v:.4g}" for (j, k), v in pairs.items()))
