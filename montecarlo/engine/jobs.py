"""What a worker needs to run any block of a run: its job, and the parts it keeps beside the moments.

`block_job` makes the job of a `RunSpec` (the model pickled for worker
processes). `collectors_for` says which parts (`montecarlo.stats.accumulators`)
a run keeps: every run keeps the `montecarlo.stats.shape.Shape` of its
outputs (skewness, kurtosis, extremes: the diagnoses of
`montecarlo.estimation.diagnostics`); a run that asks for quantiles, expected
shortfall or its distribution also keeps the bucket counts and exact
extremes of `montecarlo.stats.sketch`, and a run with the two-stage rule
keeps its pilot and fresh blocks apart (`montecarlo.core.twostage`).
"""

from __future__ import annotations

from collections.abc import Sequence

from montecarlo.core.spec import RunSpec
from montecarlo.core.twostage import pilot_samples, two_stage_rule
from montecarlo.engine.points import PointJob, point_job
from montecarlo.engine.worker import BlockJob
from montecarlo.models.record import Model
from montecarlo.stats.accumulators import Collector
from montecarlo.stats.shape import ShapeCollector, TwoStageCollector
from montecarlo.stats.sketch import ExtremesCollector, SketchCollector


def collectors_for(spec: RunSpec, scales: Sequence[float] = ()) -> tuple[Collector, ...]:
    """The collectors a worker runs on every batch of ``spec``; ``scales`` are the outputs' scales."""
    out: list[Collector] = [ShapeCollector()]
    if spec.distribution:
        out += [SketchCollector(tuple(scales), spec.quantile_bits), ExtremesCollector(tuple(scales))]
    rule = two_stage_rule(spec.stop)
    if rule is not None:
        pilot = pilot_samples(rule.kurtosis, spec.confidence)
        out.append(TwoStageCollector(-(-pilot // spec.block_size), spec.block_size, tuple(scales)))
    return tuple(out)


def block_job(spec: RunSpec, model: Model, in_process: bool, private_random: bool = True) -> BlockJob | PointJob:
    """What workers need to run any block of ``spec`` (the model pickled unless ``in_process``).

    A quasi-random run sends the model's uniform form in a `PointJob`.
    """
    if spec.entropy is None:
        raise ValueError("the RunSpec has no entropy yet (unseeded): run it with montecarlo.run_spec")
    function = model.simulate if spec.sampler == "random" else model.uniform
    if in_process:
        payload = function
    else:
        import cloudpickle

        try:
            payload = cloudpickle.dumps(function)
        except Exception as exc:
            raise TypeError(
                f"model {model.name!r} cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
                "run it with executor='threads' or 'serial'."
            ) from exc
    job = BlockJob(
        simulate=payload,
        params=dict(spec.params),
        outputs=len(model.outputs),
        probability=tuple(o.kind == "probability" for o in model.outputs),
        entropy=spec.entropy,
        spawn_key=tuple(spec.spawn_key),
        bit_generator=spec.bit_generator,
        batch_size=spec.batch_size,
        collectors=collectors_for(spec, [o.scale for o in model.outputs]),
        any_columns=model.undeclared,
        watch=("numpy.random", "random") if private_random else ("numpy.random",),
    )
    return job if spec.sampler == "random" else point_job(spec, model, job)
