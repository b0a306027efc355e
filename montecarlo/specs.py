"""`make_spec`: validate what fixes a run's numbers and build its `RunSpec` (nothing runs)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from montecarlo.errors import ValidationError
from montecarlo.model import Model
from montecarlo.options import DEFAULT_MAX_SAMPLES, DEFAULT_SAMPLES, INTERVAL_METHODS, Sampling, Stopping
from montecarlo.registry import load_model
from montecarlo.seeding import root_entropy
from montecarlo.spec import RunSpec
from montecarlo.twostage import TwoStage
from montecarlo.uniforms import quasi_layout
from montecarlo.validate import check_choice, check_count, check_level, suggest_keywords


@suggest_keywords
def make_spec(
    model: Any,
    samples: int | str | None = None,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    confidence: float = 0.95,
    interval: str = "auto",
    tolerance: float | None = None,
    rtol: float | None = None,
    stopping: Stopping | None = None,
    sampling: Sampling | None = None,
) -> tuple[RunSpec, Model]:
    """Validate what fixes a run's numbers and build its `RunSpec` (nothing runs).

    The arguments are those of `run`.

    Returns
    -------
    spec : RunSpec
        ``spec.entropy`` is None without ``rng``: fresh entropy is drawn when
        the spec runs (or taken from the checkpoint it resumes).
    model : Model
        The resolved model record.

    Examples
    --------
    >>> import montecarlo
    >>> spec, model = montecarlo.make_spec("pi", 10**6, rng=1)
    >>> spec.blocks, spec.block_size
    (1, 4194304)
    >>> montecarlo.run_spec(spec, model, execution="serial").samples
    1000000
    """
    rec = load_model(model)
    bound = rec.bind(params)
    sampling = sampling if sampling is not None else Sampling()
    if not isinstance(sampling, Sampling):
        raise ValidationError("sampling", sampling, "a montecarlo.Sampling")
    stop, samples = _stopping(rec, samples, tolerance, rtol, stopping)
    block_size = sampling.block_size or rec.block_size
    batch_size = sampling.batch_size or min(rec.batch_size, block_size)
    replicates = 1
    if sampling.sampler != "random":  # randomized QMC: R replicates of a point set (montecarlo.pointset)
        samples, block_size, batch_size, replicates = quasi_layout(
            rec, bound, sampling, samples, block_size, batch_size, interval=interval, capped=bool(stop)
        )
    entropy, spawn_key = (None, ()) if rng is None else root_entropy(rng)
    spec = RunSpec(
        model=rec.recorded_name,
        params=bound,
        samples=samples,
        entropy=entropy,
        spawn_key=spawn_key,
        bit_generator=sampling.bit_generator,
        block_size=block_size,
        batch_size=batch_size,
        confidence=check_level(confidence),
        interval=check_choice(interval, "interval", INTERVAL_METHODS),
        stop=stop,
        sampler=sampling.sampler,
        replicates=replicates,
        quantiles=sampling.quantiles,
        shortfall=sampling.shortfall,
        distribution=sampling.distribution,
    )
    return spec, rec


def _stopping(rec: Model, samples: Any, tolerance: Any, rtol: Any, stopping: Stopping | None) -> tuple[Stopping, int]:
    """The run's stopping (cap folded into ``samples``) and its sample count or cap."""
    if stopping is None:
        stopping = Stopping(tolerance, rtol)
    elif not isinstance(stopping, Stopping):
        raise ValidationError("stopping", stopping, "a montecarlo.Stopping")
    elif tolerance is not None or rtol is not None:
        given = "tolerance" if tolerance is not None else "rtol"
        raise ValidationError(
            given,
            tolerance if tolerance is not None else rtol,
            f"{given} inside `stopping` when it is given",
            "is given beside `stopping`",
        )
    names = rec.estimate_names
    for rule in stopping.rules:
        # The two-stage rule's guarantee is about means of outputs, not functions of them.
        allowed = rec.output_names if isinstance(rule, TwoStage) else names
        for name in rule.outputs_named():
            if name not in allowed:
                what = "a model output" if isinstance(rule, TwoStage) else "an estimate of the model"
                raise ValidationError("target", name, "one of " + ", ".join(allowed), f"is not {what}")
    if samples is not None:
        samples = check_count(samples)
    if not stopping:
        return stopping, samples if samples is not None else DEFAULT_SAMPLES
    cap = stopping.max_samples
    if samples is not None and cap is not None and samples != cap:
        raise ValidationError(
            "samples", samples, "one of the two: they are the same setting, the cap of a stopping run",
            f"and {{max_samples}} = {cap} are both given",
        )  # fmt: skip
    cap = cap if cap is not None else samples if samples is not None else DEFAULT_MAX_SAMPLES
    if stopping.min_samples > cap:
        raise ValidationError(
            "min_samples", stopping.min_samples, f"at most the cap, {{samples}} = {cap}", "is larger than the cap"
        )
    return stopping.with_cap(None), cap
