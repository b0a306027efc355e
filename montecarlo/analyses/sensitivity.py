"""Global sensitivity analysis: Sobol' first-order and total indices as one ordinary run.

`sensitivity` runs the model ``"sensitivity(MODEL)"``
(`montecarlo.analyses.sensitivity_model`): each of its samples is one base
point of the pick-freeze design (``d + 2`` evaluations of the model), each
block returns the means and co-moments of the terms the estimators need,
and the indices are derived estimates of those means with delta-method
intervals (Student t on the ``R`` replicate means with a quasi-random
sampler). So the indices keep every promise of a run: the same bits for any
worker count, executor (Dask included), task order, interruption and
resume; checkpoints, the cache, ``mc reproduce`` and stopping rules work as
for any run. docs/sensitivity.md has the formulas and what the intervals
assume.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from montecarlo.analyses.sensitivity_model import layout_of, minimum_points
from montecarlo.analyses.sensitivity_result import SensitivityResult
from montecarlo.api import make_spec, run_spec
from montecarlo.core.execution import Checkpointing, Execution
from montecarlo.core.layout import DEFAULT_REPLICATES
from montecarlo.core.sampling import DEFAULT_MAX_SAMPLES, Sampling
from montecarlo.core.spec import DEFAULT_CONFIDENCE, RunSpec
from montecarlo.core.stopping import Stopping
from montecarlo.core.stopping_rules import EVERY_DERIVED
from montecarlo.core.validate import check_count, check_positive, suggest_keywords
from montecarlo.errors import ValidationError
from montecarlo.models.registry import derived_model, load_model

#: Base points of an analysis when neither ``samples`` nor a tolerance is given.
DEFAULT_POINTS = 1 << 14
#: With a tolerance, its target is not checked before this many base points (fewer when the cap is lower):
#: an early stop on a small variance estimate biases sequential stopping (docs/stopping.md).
MIN_STOP_POINTS = 1 << 12


@suggest_keywords
def sensitivity_spec(
    model: Any,
    samples: int | str | None = None,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    sampling: Sampling | None = None,
    tolerance: float | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    second_order: bool = False,
) -> RunSpec:
    """Validate an analysis and build the `RunSpec` of its run (nothing runs); the arguments are `sensitivity`'s."""
    if not isinstance(second_order, bool):
        raise ValidationError("second_order", second_order, "True or False")
    base = load_model(model)
    layout = layout_of(base, second_order)  # a model without inputs: refused before anything else
    sampling = sampling if sampling is not None else Sampling()
    if not isinstance(sampling, Sampling):
        raise ValidationError("sampling", sampling, "a montecarlo.Sampling")
    d = len(layout.inputs)
    cap = check_count(samples) if samples is not None else None
    stopping = None
    if tolerance is not None:
        tolerance = check_positive(tolerance, "tolerance", "0.01")
        cap = cap if cap is not None else DEFAULT_MAX_SAMPLES
        stopping = Stopping(tolerance, target=EVERY_DERIVED, min_samples=min(MIN_STOP_POINTS, cap))
    n = cap if cap is not None else DEFAULT_POINTS
    replicates = 1 if sampling.sampler == "random" else sampling.replicates or DEFAULT_REPLICATES
    least = max(minimum_points(layout), 2 * replicates)
    if n < least:
        per = f" and 2 per replicate ({replicates} replicates)" if replicates > 1 else ""
        raise ValidationError(
            "samples", n, f"at least {least:,} base points",
            f"is too small for the design of {d} inputs: it needs twice its {layout.width} terms{per}",
        )  # fmt: skip
    analysis = "sensitivity2" if second_order else "sensitivity"
    return make_spec(
        derived_model(analysis, base), samples=n, rng=rng, params=params, confidence=confidence,
        stopping=stopping, sampling=sampling,
    )  # fmt: skip


@suggest_keywords
def sensitivity(
    model: Any,
    samples: int | str | None = None,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    sampling: Sampling | None = None,
    tolerance: float | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    execution: Execution | str | Any = None,
    checkpoint: Checkpointing | str | os.PathLike | None = None,
    workers: int | Callable[..., Any] | None = None,
    executor: str | Any = None,
    second_order: bool = False,
) -> SensitivityResult:
    """Sobol' first-order and total indices of a model's declared inputs, with confidence intervals.

    Parameters
    ----------
    model : str or callable
        A model that declares its inputs (``@montecarlo.model(inputs=...)``):
        a registered name (``"ishigami"``, ``"sobol_g"``), a reference, or
        the decorated function.
    samples : int, optional
        Base points ``N`` of the pick-freeze design: ``N (d + 2)`` model
        evaluations. With ``tolerance``, the cap. Default ``2**14`` (with a
        tolerance, ``1e10``). With ``sampling=Sampling(sampler="sobol")`` it
        is rounded up to ``R`` replicates of a power of two each.
    rng : None, int, SeedSequence or Generator
        Root of the run's randomness, as in `montecarlo.run`.
    params : dict, optional
        Model parameters.
    sampling : Sampling, optional
        ``Sampling(sampler="sobol", replicates=16)`` for scrambled Sobol'
        points (intervals: Student t on the replicates), or plain random
        points (default; delta-method intervals).
    tolerance : float, optional
        Stop at the first block where every index's interval half-width is
        at most this (checked from ``2**12`` base points on), at the latest
        at ``samples``.
    confidence : float
        Confidence level of the intervals.
    execution, checkpoint, workers, executor
        As in `montecarlo.run`: they never change a number.
    second_order : bool
        Also estimate the second-order index of every pair of inputs
        (``.second``): ``N (2d + 2)`` evaluations instead of ``N (d + 2)``,
        and ``d (d - 1) / 2`` more terms per output (Saltelli 2002).

    Returns
    -------
    SensitivityResult
        ``.indices[output][input].first`` and ``.total`` (raw estimates with
        intervals), ``.result`` (the ordinary `Result` of the run),
        ``to_frame()``, ``table()``, ``plot()``, ``save(path)``.

    Examples
    --------
    >>> import montecarlo
    >>> s = montecarlo.sensitivity("ishigami", 2**12, rng=1, execution="serial")
    >>> s.ranking(), s.evaluations
    (['x1', 'x2', 'x3'], 20480)
    >>> s.indices["y"]["x2"].first.covers(0.4424)
    True
    """
    how = Execution.of(execution, workers, executor)  # checked before the model is even loaded
    spec = sensitivity_spec(
        model, samples, rng=rng, params=params, sampling=sampling, tolerance=tolerance, confidence=confidence,
        second_order=second_order,
    )  # fmt: skip
    result = run_spec(spec, execution=how, checkpoint=checkpoint)
    return SensitivityResult.of(result, layout_of(load_model(model), second_order))
