"""The estimates of a run: its outputs, and the derived quantities and control variates its model declares.

Everything here is a function of a run's folded accumulator only (output
means and the covariance matrix of the means), never of per-worker data, so
every estimate inherits the determinism contract: bit-identical for every
worker count and executor. Outputs get Student t (or normal) intervals on
the standard error, or Wilson or Clopper-Pearson intervals for probability
outputs (`montecarlo.estimation.intervals`); derived quantities are in
`montecarlo.estimation.delta`, control variates in
`montecarlo.estimation.control`, and the estimates of a randomized
quasi-Monte Carlo run in `montecarlo.estimation.rqmc`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from montecarlo.core.spec import RunSpec
from montecarlo.errors import ValidationError
from montecarlo.estimation.control import control_estimate
from montecarlo.estimation.delta import derived_estimate
from montecarlo.estimation.estimate import Estimate
from montecarlo.estimation.intervals import interval
from montecarlo.estimation.rqmc import on_samples, replicate_outputs
from montecarlo.models.record import Model
from montecarlo.stats.accumulators import Stats

#: Intervals for the mean of 0/1 outcomes: they hold for probability outputs only.
BINOMIAL = ("wilson", "clopper-pearson")


def interval_method(requested: str, kind: str) -> str:
    """The interval one output gets: a binomial interval for a probability, the t interval for any other mean.

    ``"auto"`` is Wilson for a probability output, t otherwise; a binomial
    method asked for a model with probability and mean outputs applies to
    the probabilities (each estimate records its ``method``).
    """
    if requested == "auto" or (requested in BINOMIAL and kind != "probability"):
        return "wilson" if kind == "probability" else "t"
    return requested


def check_interval(requested: str, model: Model) -> None:
    """Refuse a binomial interval for a model without a probability output: it would be the t interval unsaid."""
    if requested in BINOMIAL and not any(o.kind == "probability" for o in model.outputs):
        kinds = ", ".join(f"{o.name} ({o.kind})" for o in model.outputs)
        raise ValidationError(
            "interval", requested, "auto, t or normal for this model's outputs",
            f"is an interval for probabilities (0/1 outcomes), and {model.name} has none: {kinds}",
        )  # fmt: skip


def estimates(spec: RunSpec, model: Model, stats: Stats) -> tuple[tuple[Estimate, ...], np.ndarray]:
    """Per-output estimates and the covariance matrix of the (scaled) estimates."""
    if spec.sampler != "random":  # randomized QMC: on the R replicate means (montecarlo.estimation.rqmc)
        outs, cov = replicate_outputs(spec, model, stats)
        return outs + on_samples(spec, model_estimators(spec, model, outs, cov, spec.replicates), stats.count), cov
    moments = stats.moments
    n = moments.count
    se = moments.standard_error() if n >= 2 else np.full(len(model.outputs), np.nan)
    scale = np.array([o.scale for o in model.outputs])
    cov = moments.mean_covariance() * np.outer(scale, scale)
    try:
        exact = model.exact_values(spec.params)
    except Exception:  # an exact formula outside its domain: report without it
        exact = {}
    out = []
    for i, o in enumerate(model.outputs):
        method = interval_method(spec.interval, o.kind)
        lo, hi = interval(method, float(moments.mean[i]), float(se[i]), n, spec.confidence)
        lo, hi = sorted((o.scale * lo, o.scale * hi))
        out.append(
            Estimate(
                name=o.name,
                estimate=float(o.scale * moments.mean[i]),
                standard_error=float(abs(o.scale) * se[i]),
                interval=(float(lo), float(hi)),
                samples=n,
                confidence=spec.confidence,
                method=method,
                kind=o.kind,
                exact=exact.get(o.name),
            )
        )
    return tuple(out) + model_estimators(spec, model, tuple(out), cov), cov


def model_estimators(
    spec: RunSpec, model: Model, outputs: Sequence[Estimate], cov: np.ndarray, n: int | None = None
) -> tuple[Estimate, ...]:
    """The derived and control-variate estimates a model declares, from its output estimates.

    Functions of the folded means and covariance only: bit-identical for
    every executor and worker count. ``n`` is the number of independent
    observations behind ``cov`` (default: the outputs' samples).
    """
    names = [e.name for e in outputs]
    means = np.array([e.estimate for e in outputs])
    if n is None:
        n = outputs[0].samples if outputs else 0
    p, conf, how = spec.params, spec.confidence, spec.interval
    out = [derived_estimate(d, names, means, cov, n, params=p, confidence=conf, interval=how) for d in model.derived]
    exact = {e.name: e.exact for e in outputs}
    out += [
        control_estimate(c, names, means, cov, n, params=p, confidence=conf, exact=exact, interval=how)
        for c in model.controls
    ]
    return tuple(out)
