"""Which parts (`montecarlo.accumulate`) a run keeps beside its moments, from its `RunSpec`.

Every run keeps the `montecarlo.shape.Shape` of its outputs (skewness,
kurtosis, extremes: the diagnoses of `montecarlo.diagnostics`). A run that
asks for quantiles, expected shortfall or its distribution also keeps the
bucket counts and exact extremes of `montecarlo.sketch`, and a run with the
two-stage rule keeps its pilot and fresh blocks apart (`montecarlo.twostage`).
"""

from __future__ import annotations

from collections.abc import Sequence

from montecarlo.accumulate import Collector
from montecarlo.shape import ShapeCollector, TwoStageCollector
from montecarlo.sketch import ExtremesCollector, SketchCollector
from montecarlo.spec import RunSpec
from montecarlo.twostage import pilot_samples, two_stage_rule


def collectors_for(spec: RunSpec, scales: Sequence[float] = ()) -> tuple[Collector, ...]:
    """The collectors a worker runs on every batch of ``spec``; ``scales`` are the outputs' scales."""
    out: list[Collector] = [ShapeCollector()]
    if spec.distribution:
        out += [SketchCollector(tuple(scales)), ExtremesCollector(tuple(scales))]
    rule = two_stage_rule(spec.stop)
    if rule is not None:
        pilot = pilot_samples(rule.kurtosis, spec.confidence)
        out.append(TwoStageCollector(-(-pilot // spec.block_size), spec.block_size, tuple(scales)))
    return tuple(out)
