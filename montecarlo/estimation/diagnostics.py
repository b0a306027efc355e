"""Intervals that know their limits: when a normal or Student t interval of a mean cannot be trusted.

A t interval is exact for normal outcomes and asymptotically right for any
outcome with a finite variance, but how large "large" is depends on the
shape of the distribution. From the `montecarlo.stats.shape.Shape` part every run
keeps, each output whose interval is a t or normal one gets its skewness
``g1`` and excess kurtosis ``g2``, and is flagged when:

``heavy-tail``
    ``n < 25 g1²``. Cochran's rule (W. G. Cochran, *Sampling Techniques*,
    3rd ed., 1977, §2.15): below it the distribution of the mean of a
    population with a long tail is still visibly skewed, and the interval
    misses more often on the side of the long tail. The first term of the
    Edgeworth expansion of the t statistic is of order ``g1 / sqrt(n)``
    (P. Hall, *The Bootstrap and Edgeworth Expansion*, 1992, §2.6).
``kurtosis``
    ``n < 25 g2``. The variance of the sample variance is
    ``σ⁴ (2/(n - 1) + g2/n)``; the t interval allows for the first term
    (it is exact for normal outcomes), not for the second, which makes the
    standard error itself uncertain by about ``sqrt(g2 / (4 n))``: more than
    10% below this many samples.
``effective-samples``
    An output declared ``likelihood_ratio=True`` (importance sampling) with
    an effective sample size ``n_eff = (Σx)² / Σx²`` below 100 (Kish's
    formula; A. Owen, *Monte Carlo theory, methods and examples*, 2013,
    §9.3). A few large weights then carry the estimate; the relative
    standard error is about ``1 / sqrt(n_eff)``, and the sample variance of
    heavy-tailed weights usually underestimates the true one.

A quasi-random run's intervals rest on its ``R`` replicate means, not on
its points: there the rules read the skewness and kurtosis of the replicate
means with ``n = R`` (measured: a European call by 16 replicates of 256
Sobol' points has replicate means of skewness about 1, and its 95% interval
covers 0.91-0.93; with 64 replicates, 0.945).

The rules read the observed moments, which heavy tails make too small until
the rare large values appear: a flag is evidence of trouble, its absence is
no proof of safety. For a guarantee that holds under a stated bound on the
kurtosis, use the two-stage rule (`montecarlo.core.twostage`). Probability
outputs with Wilson or Clopper-Pearson intervals are not flagged: those
intervals are built for 0/1 outcomes, whatever their skewness.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from montecarlo.core.spec import RunSpec
from montecarlo.core.twostage import INFLATION, fresh_samples, two_stage_rule
from montecarlo.estimation.estimate import Estimate, jsonable
from montecarlo.estimation.intervals import t_interval
from montecarlo.estimation.rqmc import replicate_means
from montecarlo.models.record import Model
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.shape import Shape, TwoStageShapes

#: Cochran's constant: ``n`` should exceed 25 g1² (and, by the same 10%
#: reasoning for the standard error, 25 g2).
COCHRAN = 25.0
#: Effective samples below which a likelihood-ratio output is flagged.
MIN_EFFECTIVE_SAMPLES = 100.0
#: The flags, in the order they are reported.
FLAGS = ("heavy-tail", "kurtosis", "effective-samples")
#: Interval methods the flags are about.
FLAGGED_METHODS = ("t", "normal")


@dataclass(frozen=True)
class Diagnosis:
    """The shape of one output's distribution, and why its interval may not hold.

    Attributes
    ----------
    output : str
    samples : int
    skewness : float
        Sample skewness ``g1`` (NaN for a constant output).
    kurtosis : float
        Sample excess kurtosis ``g2`` (0 for normal outcomes; NaN for a constant output).
    largest_share : float
        The largest single sample's share of the sum of squared deviations.
    effective_samples : float or None
        ``(Σx)² / Σx²``, for likelihood-ratio outputs.
    flags : dict of str to str
        Each raised flag (one of `FLAGS`) with a line of explanation.
    """

    output: str
    samples: int
    skewness: float
    kurtosis: float
    largest_share: float
    effective_samples: float | None = None
    flags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON form (docs/json.md, "diagnostics")."""
        d: dict[str, Any] = {
            "samples": self.samples,
            "skewness": jsonable(self.skewness),
            "kurtosis": jsonable(self.kurtosis),
            "largest_share": jsonable(self.largest_share),
        }
        if self.effective_samples is not None:
            d["effective_samples"] = jsonable(self.effective_samples)
        d["flags"] = dict(self.flags)
        return d

    @classmethod
    def from_dict(cls, output: str, d: Mapping[str, Any]) -> Diagnosis:
        """The diagnosis back from its `to_dict` form."""

        def num(x: Any) -> float:
            return math.nan if x is None else float(x)

        ess = d.get("effective_samples", None)
        return cls(
            output,
            int(d["samples"]),
            num(d["skewness"]),
            num(d["kurtosis"]),
            num(d["largest_share"]),
            None if "effective_samples" not in d else num(ess),
            {str(k): str(v) for k, v in dict(d.get("flags") or {}).items()},
        )


def flag_lines(
    n: int, skewness: float, kurtosis: float, effective: float | None, method: str, unit: str = "samples"
) -> dict[str, str]:
    """The flags the rules raise for one output (see the module docstring).

    ``unit`` names the ``n`` observations the interval rests on: the
    samples, or a quasi-random run's replicate means.
    """
    flags: dict[str, str] = {}
    if method not in FLAGGED_METHODS or n < 2:
        return flags
    more = "use more replicates" if unit != "samples" else "take more samples"
    need = COCHRAN * skewness * skewness
    if math.isfinite(need) and n < need:
        flags["heavy-tail"] = (
            f"skewness {skewness:.3g}: {n:,} {unit}, fewer than Cochran's 25 x skewness^2 = {need:,.0f}; "
            f"the mean is still skewed and the {method} interval misses more often on the long tail's side; {more}"
        )
    need = COCHRAN * kurtosis
    if math.isfinite(need) and n < need:
        err = 100.0 * math.sqrt(kurtosis / (4.0 * n))
        flags["kurtosis"] = (
            f"excess kurtosis {kurtosis:.3g}: {n:,} {unit}, fewer than 25 x kurtosis = {need:,.0f}; "
            f"the standard error itself is uncertain by about {err:.0f}%, which the {method} interval ignores; {more}"
        )
    if effective is not None and effective < MIN_EFFECTIVE_SAMPLES:
        flags["effective-samples"] = (
            f"likelihood-ratio output with {effective:.3g} effective samples (Σx)²/Σx² out of {n:,}: "
            "a few large weights carry the estimate, and their sample variance is likely too small"
        )
    return flags


def diagnose(spec: RunSpec, model: Model, stats: Stats, estimates: Sequence[Estimate]) -> dict[str, Diagnosis]:
    """Per-output diagnoses of the observations each interval rests on (none when they are unknown).

    For a plain run those are the samples, from the run's `Shape` part; a
    result file written before the part existed, or a run extended from
    one, has no shape of all its samples and gets no diagnosis rather than
    one of some of its samples. For a quasi-random run they are the ``R``
    replicate means (`montecarlo.estimation.rqmc`): the points inside a
    replicate are not independent, and a t interval on skewed replicate
    means (scrambled nets often give them a long tail) misses more often,
    however many points each replicate has.
    """
    unit = "samples"
    if spec.sampler != "random":
        counts, means = replicate_means(spec, stats, len(model.outputs))
        if not np.all(counts > 0) or spec.replicates < 2:
            return {}
        shape, unit = Shape.from_batch(means), "replicate means"
    else:
        part = stats.parts.get(Shape.name)
        if not isinstance(part, Shape) or part.count != stats.count or part.count == 0:
            return {}
        shape = part
    g1, g2, share = shape.skewness(), shape.kurtosis(), shape.largest_share()
    n = shape.count
    out = {}
    for i, o in enumerate(model.outputs):
        effective = None
        if o.likelihood_ratio and unit == "samples":
            total_sq = shape.m2[i] + n * shape.mean[i] ** 2  # Σx² from the deviations: no raw power sums
            effective = float(n * shape.mean[i] ** 2 * n / total_sq) if total_sq > 0 else 0.0
        method = estimates[i].method if i < len(estimates) else "t"
        flags = flag_lines(n, float(g1[i]), float(g2[i]), effective, method, unit)
        out[o.name] = Diagnosis(o.name, n, float(g1[i]), float(g2[i]), float(share[i]), effective, flags)
    return out


def flagged(estimates: Sequence[Estimate], diagnoses: Mapping[str, Diagnosis]) -> tuple[Estimate, ...]:
    """``estimates`` with each output's raised flags in its ``warnings``."""
    out = []
    for e in estimates:
        d = diagnoses.get(e.name)
        out.append(replace(e, warnings=tuple(d.flags)) if e.is_output and d is not None and d.flags else e)
    return tuple(out)


def two_stage_estimates(spec: RunSpec, model: Model, stats: Stats) -> tuple[Estimate, ...]:
    """The ``<output>_two_stage`` estimates of a run with the two-stage rule (`montecarlo.core.twostage`).

    Each is the mean of the fresh blocks, with the interval ``mean ± tolerance``
    when they hold the samples the pilot asked for. Flags: ``kurtosis-bound``
    when the pilot's own excess kurtosis exceeds the assumed bound, and
    ``two-stage-incomplete`` (a t interval on the fresh blocks instead) when
    the cap or the time limit ended the run first.
    """
    rule = two_stage_rule(spec.stop)
    part = stats.parts.get(TwoStageShapes.name)
    if rule is None or not isinstance(part, TwoStageShapes) or part.pilot.count + part.fresh.count != stats.count:
        return ()
    names = model.output_names
    kurt = part.pilot.kurtosis()
    out = []
    for i in rule.targets_of(names):
        fresh = part.fresh
        n = fresh.count
        mean = fresh.mean[i] if n else math.nan
        se = math.sqrt(fresh.m2[i] / (n - 1) / n) if n > 1 else math.nan
        sigma_up = INFLATION * part.pilot_sd(i) if part.pilot.count > 1 else math.nan
        need = fresh_samples(sigma_up, rule.tolerance, rule.kurtosis, spec.confidence) if part.pilot_complete else None
        flags: dict[str, str] = {}
        if need is not None and n >= need:
            interval, method = (mean - rule.tolerance, mean + rule.tolerance), "two-stage"
        else:
            interval, method = t_interval(mean, se, n, spec.confidence), "t"
            flags["two-stage-incomplete"] = (
                f"the run ended with {n:,} fresh samples, before the {'pilot' if need is None else f'{need:,}'} "
                "the guarantee needs: a t interval on the fresh samples, without the guarantee"
            )
        if math.isfinite(kurt[i]) and kurt[i] > rule.kurtosis:
            flags["kurtosis-bound"] = (
                f"the pilot's excess kurtosis {kurt[i]:.3g} exceeds the assumed bound {rule.kurtosis:g}: "
                "the guarantee rests on an assumption the sample contradicts"
            )
        out.append(
            Estimate(
                name=f"{names[i]}_two_stage", estimate=float(mean), standard_error=se, interval=interval,
                samples=n, confidence=spec.confidence, method=method, kind="two-stage",
                exact=model.exact_values(spec.params).get(names[i]) if model.exact else None,
                details={
                    "output": names[i], "tolerance": rule.tolerance, "kurtosis_bound": rule.kurtosis,
                    "pilot_samples": part.pilot.count, "pilot_kurtosis": jsonable(float(kurt[i])),
                    "sigma_upper": jsonable(sigma_up), "inflation": INFLATION, "fresh_needed": need,
                    "flags": flags,
                },
                warnings=tuple(flags),
            )
        )  # fmt: skip
    return tuple(out)
