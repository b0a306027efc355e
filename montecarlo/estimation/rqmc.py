"""Estimates of a randomized quasi-Monte Carlo run, from its replicate means.

A quasi-random run keeps the mean outputs of each of its ``R`` independent
replicates (`montecarlo.stats.replicate_means.ReplicateMeans`). The replicate means are
independent and identically distributed, with the integral as their
expectation, whereas the points inside one replicate are not independent; so
every estimate is made on the ``R`` replicate means (Owen, "Monte Carlo
variance of scrambled net quadrature", SIAM J. Numer. Anal. 34 (1997)
1884-1910; L'Ecuyer & Lemieux, "Recent advances in randomized quasi-Monte
Carlo methods", 2002, §3):

- the estimate is the mean of the replicate means;
- its covariance matrix is the sample covariance of the replicate means
  divided by ``R``; the standard error is the root of its diagonal;
- the interval is Student t with ``R - 1`` degrees of freedom (normal with
  ``interval="normal"``);
- derived quantities and control variates are those of
  `montecarlo.estimation.outputs` with ``R`` observations: the delta method on that
  covariance with ``R - 1`` degrees of freedom, and the regression of the
  target's replicate means on the controls' with ``R - q - 1``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from montecarlo.core.spec import RunSpec
from montecarlo.estimation.estimate import Estimate
from montecarlo.estimation.intervals import normal_interval, t_interval
from montecarlo.models.record import Model
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.replicate_means import ReplicateMeans
from montecarlo.stats.sums import numpy_batch_stats


def replicate_means(spec: RunSpec, stats: Stats, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, means)`` of the replicates, shapes ``(R,)`` and ``(R, k)`` (NaN means where a count is 0)."""
    part = stats.parts.get(ReplicateMeans.name)
    if not isinstance(part, ReplicateMeans):
        return np.zeros(spec.replicates, dtype=np.int64), np.full((spec.replicates, k), math.nan)
    means = np.where(part.counts[:, None] > 0, part.means, math.nan)
    return part.counts, means


def observations(spec: RunSpec, samples: int) -> int:
    """The independent observations behind a run's estimates: ``R`` replicates, or the samples."""
    return samples if spec.sampler == "random" else spec.replicates


def replicate_outputs(spec: RunSpec, model: Model, stats: Stats) -> tuple[tuple[Estimate, ...], np.ndarray]:
    """Per-output estimates and the covariance matrix of the (scaled) estimates, from the replicate means."""
    k = len(model.outputs)
    r = spec.replicates
    counts, means = replicate_means(spec, stats, k)
    # The mean of the replicate means and their co-moments, in the engine's order (montecarlo.stats.sums).
    batch = numpy_batch_stats(means)
    mean = batch.mean
    cov = batch.comoment / ((r - 1) * r) if r >= 2 and np.all(counts > 0) else np.full((k, k), math.nan)
    scale = np.array([o.scale for o in model.outputs])
    cov = cov * np.outer(scale, scale)
    try:
        exact = model.exact_values(spec.params)
    except Exception:  # an exact formula outside its domain: report without it
        exact = {}
    method = "normal" if spec.interval == "normal" else "t"
    interval = normal_interval if method == "normal" else t_interval
    out = []
    for i, o in enumerate(model.outputs):
        value = float(o.scale * mean[i])
        se = float(math.sqrt(cov[i, i])) if math.isfinite(cov[i, i]) else math.nan
        # t_interval(x, se, n) takes n - 1 degrees of freedom: here R - 1.
        lo, hi = interval(value, se, r, spec.confidence)
        out.append(
            Estimate(
                name=o.name,
                estimate=value,
                standard_error=se,
                interval=(lo, hi),
                samples=stats.count,
                confidence=spec.confidence,
                method=method,
                kind=o.kind,
                exact=exact.get(o.name),
                details=describe(spec, stats.count),
            )
        )
    return tuple(out), cov


def describe(spec: RunSpec, samples: int) -> dict:
    """How a quasi-random estimate was made: sampler, replicates, points each, degrees of freedom."""
    return {
        "sampler": spec.sampler,
        "replicates": spec.replicates,
        "points_per_replicate": samples // spec.replicates,
        "df": spec.replicates - 1,
    }


def on_samples(spec: RunSpec, estimates: Sequence[Estimate], samples: int) -> tuple[Estimate, ...]:
    """Derived or control-variate estimates made on ``R`` replicate means, restated for ``samples`` samples."""
    if spec.sampler == "random":
        return tuple(estimates)
    info = describe(spec, samples)
    return tuple(dataclasses.replace(e, samples=samples, details={**info, **e.details}) for e in estimates)
