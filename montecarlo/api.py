"""The library's entry points: make a `RunSpec`, run it, extend a result, replay a block, load a file.

Spec first: `make_spec` validates everything that fixes the numbers and
returns the `RunSpec` (nothing runs); `run_spec` runs one as an `Execution`
says, optionally with `Checkpointing`. `run` is both in one call. The
command line and experiment files go through the same functions. `load`
reads back any result file this project writes, without importing or
unpickling code.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any

from montecarlo.core.execution import Checkpointing, Execution
from montecarlo.core.layout import total_samples
from montecarlo.core.sampling import INTERVAL_METHODS, Sampling, resolution_bits
from montecarlo.core.seeding import root_entropy
from montecarlo.core.spec import DEFAULT_CONFIDENCE, DEFAULT_INTERVAL, RunSpec
from montecarlo.core.stopping import Stopping, run_stopping
from montecarlo.core.validate import check_choice, check_count, check_level, suggest_keywords
from montecarlo.engine.driver import run_spec_on
from montecarlo.engine.scheduler import replay_block as replay_in_process
from montecarlo.errors import FileProblem, ResultFormatError, ValidationError
from montecarlo.estimation.outputs import check_interval
from montecarlo.models.fingerprint import fingerprint
from montecarlo.models.record import Model
from montecarlo.models.registry import load_model
from montecarlo.models.uniforms import quasi_layout
from montecarlo.records.checkpoint import continuation
from montecarlo.records.experiment_result import SCHEMA as EXPERIMENT_SCHEMA
from montecarlo.records.experiment_result import ExperimentResult
from montecarlo.records.integrity import read_document
from montecarlo.records.mlmc_result import SCHEMA as MLMC_SCHEMA
from montecarlo.records.mlmc_result import MLMCResult
from montecarlo.records.result import SCHEMA as RESULT_SCHEMA
from montecarlo.records.result import Result
from montecarlo.stats.accumulators import Stats


@suggest_keywords
def run(
    model: Any,
    samples: int | str | None = None,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    interval: str = DEFAULT_INTERVAL,
    tolerance: float | None = None,
    rtol: float | None = None,
    stopping: Stopping | None = None,
    sampling: Sampling | None = None,
    execution: Execution | str | Any = None,
    checkpoint: Checkpointing | str | os.PathLike | None = None,
    workers: int | Callable[..., Any] | None = None,
    executor: str | Any = None,
) -> Result:
    """Run a Monte Carlo simulation and return its estimates with intervals.

    The numbers depend only on what fixes the `RunSpec` -- the model,
    ``params``, ``samples``, ``rng``, ``confidence``, ``interval``, the
    stopping rules and ``sampling`` -- never on ``execution`` or timing (the
    time limit excepted: a result it stopped says so).

    Parameters
    ----------
    model : str or callable
        A registered name (``"pi"``), a ``"package.module:function"`` or
        ``"path/to/file.py:function"`` reference, or a function
        ``simulate(rng, n, **params)`` returning an array of shape ``(n,)``
        or ``(n, k)``, plain or decorated with `montecarlo.model`. Functions
        defined in a script or a notebook work with every executor.
    samples : int, optional
        Total number of samples (``1e6`` and ``"1e6"`` are accepted when they
        are integers). With stopping rules it is the cap, the same setting
        as ``Stopping(max_samples=...)``. Default: 1e6, or 1e10 with rules.
    rng : None, int, SeedSequence or Generator
        Root of the run's randomness. ``None`` draws 128 bits of entropy from
        the OS; it is recorded in ``result.spec.entropy`` so the run can be
        repeated.
    params : dict, optional
        Model parameters; checked against the model's signature.
    confidence : float
        Confidence level of the intervals, strictly between 0 and 1.
    interval : {"auto", "t", "normal", "wilson", "clopper-pearson"}
        "auto" uses Wilson for probability outputs and Student t otherwise;
        the binomial methods apply to probability outputs only.
    tolerance : float, optional
        Shortcut for ``stopping=Stopping(tolerance=...)``: stop once every
        output's interval half-width is at most this.
    rtol : float, optional
        Shortcut for ``stopping=Stopping(rtol=...)``: stop once every
        half-width is at most ``rtol × |estimate|``.
    stopping : Stopping, optional
        All stopping options: targets on chosen outputs, ``min_samples``,
        ``max_samples``, ``time_limit`` and rules of your own.
    sampling : Sampling, optional
        Bit generator, block and batch sizes (default: the model's), the
        sampler (plain or scrambled quasi-random points) and its replicates,
        and the quantiles and expected shortfalls to report.
    execution : Execution, str, concurrent.futures.Executor or distributed.Client, optional
        Where blocks run: ``Execution(executor, workers, scheduler,
        retries, progress, cache)``, or just an executor name
        (``"processes"``, the default, ``"threads"``, ``"serial"``,
        ``"dask"``) or object. The model runs in worker processes (one for
        a run of one block) unless ``"serial"`` or ``"threads"`` is asked
        for.
    checkpoint : Checkpointing or path, optional
        Save progress to a file, and resume from it
        (``Checkpointing(path, every=5.0, resume=True)``).
    workers : int or map-like callable, optional
        Shortcut for ``execution=Execution(workers=...)``, as scipy's
        ``workers``: the number of workers, or a map-like function such as
        ``multiprocessing.Pool.map`` that runs the tasks. Not together with
        ``execution``.
    executor : str or executor object, optional
        Shortcut for ``execution=Execution(executor=...)``: ``"threads"``,
        ``"serial"``, ``"dask"``. Not together with ``execution``.

    Returns
    -------
    Result
        ``result.stopping`` says which rule ended the run (``"rule"``),
        whether the precision target was met (``"target_met"``: True, False,
        or None without a target) and whether the stopping point is
        reproducible; ``result.trace`` holds the convergence trace.

    Examples
    --------
    >>> import montecarlo
    >>> r = montecarlo.run("pi", samples=10**6, rng=42, execution="serial")
    >>> r.interval[0] < 3.1416 < r.interval[1]
    True
    >>> r = montecarlo.run("pi", rng=42, tolerance=1e-3, workers=2)
    >>> r.stopping["target_met"], r.interval[1] - r.interval[0] <= 2e-3
    (True, True)
    """
    how = Execution.of(execution, workers, executor)  # checked before the model is even loaded
    spec = make_spec(
        model, samples, rng=rng, params=params, confidence=confidence, interval=interval,
        tolerance=tolerance, rtol=rtol, stopping=stopping, sampling=sampling,
    )  # fmt: skip
    return run_spec(spec, execution=how, checkpoint=checkpoint)


@suggest_keywords
def make_spec(
    model: Any,
    samples: int | str | None = None,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    interval: str = DEFAULT_INTERVAL,
    tolerance: float | None = None,
    rtol: float | None = None,
    stopping: Stopping | None = None,
    sampling: Sampling | None = None,
) -> RunSpec:
    """Validate what fixes a run's numbers and build its `RunSpec` (nothing runs).

    The arguments are those of `run` that fix the numbers; `run` is this
    followed by `run_spec`.

    Returns
    -------
    RunSpec
        With its resolved model record (``spec.model_record``).
        ``spec.entropy`` is None without ``rng``: fresh entropy is drawn when
        the spec runs (or taken from the checkpoint it resumes).

    Examples
    --------
    >>> import montecarlo
    >>> spec = montecarlo.make_spec("pi", 10**6, rng=1)
    >>> spec.blocks, spec.block_size
    (1, 4194304)
    >>> montecarlo.run_spec(spec, executor="serial").samples
    1000000
    """
    rec = load_model(model)
    bound = rec.bind(params)
    sampling = sampling if sampling is not None else Sampling()
    if not isinstance(sampling, Sampling):
        raise ValidationError("sampling", sampling, "a montecarlo.Sampling")
    stop, samples = run_stopping(samples, tolerance, rtol, stopping, rec.estimate_names, rec.output_names)
    interval = check_choice(interval, "interval", INTERVAL_METHODS)
    check_interval(interval, rec)
    block_size = sampling.block_size or rec.block_size
    batch_size = sampling.batch_size or min(rec.batch_size, block_size)
    replicates = 1
    if sampling.sampler != "random":  # randomized QMC: R replicates of a point set (montecarlo.core.layout)
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
        interval=interval,
        stop=stop,
        sampler=sampling.sampler,
        replicates=replicates,
        quantiles=sampling.quantiles,
        shortfall=sampling.shortfall,
        distribution=sampling.distribution,
        quantile_bits=resolution_bits(samples, sampling.quantile_resolution) if sampling.wants_sketch else 0,
        model_record=rec,
    )
    return spec


@suggest_keywords
def run_spec(
    spec: RunSpec,
    model: Any = None,
    *,
    execution: Execution | str | Any = None,
    checkpoint: Checkpointing | str | os.PathLike | None = None,
    workers: int | Callable[..., Any] | None = None,
    executor: str | Any = None,
) -> Result:
    """Run a `RunSpec` (from `make_spec`, or read back from a result file).

    Parameters
    ----------
    spec : RunSpec
        Without entropy (unseeded), fresh entropy is drawn, or taken from the
        checkpoint being resumed.
    model : optional
        The model, when the spec carries none (``spec.model_record``, which
        `make_spec` sets) and ``spec.model`` cannot be imported by name (a
        function from ``__main__`` or a notebook); default: the spec's
        record, else loaded from ``spec.model``.
    execution, checkpoint, workers, executor
        As in `run`.

    Returns
    -------
    Result
    """
    how = Execution.of(execution, workers, executor)
    return run_spec_on(with_model(spec, model), how, Checkpointing.of(checkpoint), None)


def with_model(spec: RunSpec, model: Any = None) -> RunSpec:
    """``spec`` carrying its resolved model record: ``model`` if given, else its own, else loaded by name."""
    if model is None and isinstance(spec.model_record, Model):
        return spec
    rec = load_model(model if model is not None else spec.model)
    return dataclasses.replace(spec, model_record=rec)


@suggest_keywords
def extend(
    result: Result | str | os.PathLike,
    samples: int | str,
    *,
    model: Any = None,
    execution: Execution | str | Any = None,
    tolerance: float | None = None,
    rtol: float | None = None,
    workers: int | Callable[..., Any] | None = None,
    executor: str | Any = None,
) -> Result:
    """Continue a finished run to ``samples`` samples, or until a precision target is met.

    The numbers equal those of a single run of the extended RunSpec: only the
    missing blocks are computed (and a short last block again, as a whole
    block). Without a target that RunSpec is the result's with ``samples``
    samples and no stopping rule; with ``tolerance`` or ``rtol`` it has that
    target, checked from the result's sample count on (``min_samples``), and
    ``samples`` as its cap.

    Parameters
    ----------
    result : Result or path of a result JSON file
        The run to continue. Its model is imported to run it: a result file
        is trusted input here.
    samples : int
        The new total, at least the result's sample count.
    model : optional
        The model, when the result's reference cannot be imported (a function
        from ``__main__`` or a notebook).
    execution, workers, executor : optional
        As in `run`.
    tolerance, rtol : float, optional
        Stop at the first block where every output's interval half-width is
        at most ``tolerance`` (or ``rtol × |estimate|``).

    Returns
    -------
    Result
    """
    how = Execution.of(execution, workers, executor)
    if not isinstance(result, Result):
        result = Result.load(os.fspath(result))
    samples = total_samples(result.spec.sampler, result.spec.replicates, check_count(samples))
    if samples < result.samples:
        raise ValidationError("samples", samples, f"at least {result.samples}", "is fewer than the result already has")
    target = Stopping(tolerance, rtol, min_samples=result.samples) if tolerance or rtol else Stopping()
    spec = with_model(dataclasses.replace(result.spec, samples=samples, stop=target), model)
    state = continuation(result, fingerprint(spec.model_record))
    extended = run_spec_on(spec, how, None, state)
    extended.provenance["extended_from_samples"] = result.samples
    return extended


def replay_block(spec: RunSpec, index: int, model: Any = None) -> Stats:
    """Re-run block ``index`` of ``spec`` in this process, letting the model's own exception propagate.

    Parameters
    ----------
    spec : RunSpec
        With its entropy (from a `ModelError`'s run: ``result.spec`` or the
        seed it printed).
    index : int
        The block (``ModelError.block``).
    model : optional
        As in `run_spec`.

    Returns
    -------
    Stats
        The block's accumulator, when it runs without error.
    """
    spec = with_model(spec, model)
    return replay_in_process(spec, spec.model_record, index)


def load(path: str | os.PathLike) -> Result | ExperimentResult | MLMCResult:
    """Read a result file: ``mc run -o``, `Result.save`, an experiment's ``result.json`` (or its folder), ``mc mlmc -o``.

    Parameters
    ----------
    path : str or os.PathLike
        The file, or an experiment's result folder.

    Returns
    -------
    Result, ExperimentResult or MLMCResult
        By the file's ``"schema"``. Each has ``to_frame()``, ``table()``
        and an HTML form for notebooks.

    Raises
    ------
    montecarlo.errors.ResultFormatError
        When the file cannot be read, is not a montecarlo result of a version
        this release reads, or was edited since it was written (its checksum).

    Examples
    --------
    >>> import montecarlo, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "pi.json")
    >>> montecarlo.run("pi", 10**5, rng=1, execution="serial").save(path)
    >>> montecarlo.load(path).samples
    100000
    """
    name = os.fspath(path)  # every message starts with the path given
    try:
        data = read_document(path)
    except FileProblem as exc:
        raise ResultFormatError(f"{name}: it {exc}") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    try:
        if schema == EXPERIMENT_SCHEMA:
            return ExperimentResult.from_dict(data)
        if schema == RESULT_SCHEMA:
            return Result.from_dict(data)
        if schema == MLMC_SCHEMA:
            return MLMCResult.from_dict(data)
    except ResultFormatError as exc:
        raise ResultFormatError(f"{name}: {exc}") from None
    raise ResultFormatError(
        f"{name}: not a montecarlo result file (schema {schema!r}); accepted: {RESULT_SCHEMA!r}, {EXPERIMENT_SCHEMA!r} or {MLMC_SCHEMA!r}"
    )
