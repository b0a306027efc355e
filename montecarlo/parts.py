"""Which parts (`montecarlo.accumulate`) a run keeps beside its moments, from its `RunSpec`.

Every run keeps the `montecarlo.shape.Shape` of its outputs (skewness,
kurtosis, extremes: the diagnoses of `montecarlo.diagnostics`). A run that
asks for quantiles, expected shortfall or its distribution also keeps the
bucket counts and exact extremes of `montecarlo.sketch`.
"""

from __future__ import annotations

from collections.abc import Sequence

from montecarlo.accumulate import Collector
from montecarlo.shape import ShapeCollector
from montecarlo.sketch import ExtremesCollector, SketchCollector
from montecarlo.spec import RunSpec


def collectors_for(spec: RunSpec, scales: Sequence[float] = ()) -> tuple[Collector, ...]:
    """The collectors a worker runs on every batch of ``spec``; ``scales`` are the outputs' scales."""
    out: list[Collector] = [ShapeCollector()]
    if spec.distribution:
        out += [SketchCollector(tuple(scales)), ExtremesCollector(tuple(scales))]
    return tuple(out)
