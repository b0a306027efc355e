"""`run`: the library entry point (the CLI and config files call it too)."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from typing import Any

from montecarlo import engine
from montecarlo.engine import RunState
from montecarlo.executors import EXECUTORS, default_workers, is_dask_client, make_backend
from montecarlo.executors.base import Backend
from montecarlo.model import Model, load_model
from montecarlo.provenance import run_provenance
from montecarlo.result import Result, estimates
from montecarlo.seeding import DEFAULT_BIT_GENERATOR, root_entropy
from montecarlo.spec import (
    RunSpec,
    check_bit_generator,
    check_confidence,
    check_interval,
    check_positive_int,
    check_samples,
)
from montecarlo.stats import Moments
from montecarlo.stopping import StoppingRule, make_stop

#: Samples of a run without stopping rules, when none are given.
DEFAULT_SAMPLES = 1_000_000
#: The cap of a run with stopping rules, when none is given: enough for π to
#: ±1e-4 at 95% (about 1.04e9 samples), and reached in under a minute by the
#: π model on two cores.
DEFAULT_MAX_SAMPLES = 10**10


def make_spec(
    model: Any,
    samples: Any = None,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    confidence: float = 0.95,
    interval: str = "auto",
    bit_generator: str = DEFAULT_BIT_GENERATOR,
    block_size: int | None = None,
    batch_size: int | None = None,
    tolerance: float | None = None,
    rtol: float | None = None,
    target: str | Sequence[str] | None = None,
    min_samples: int | None = None,
    time_limit: float | None = None,
    stop: StoppingRule | Sequence[StoppingRule] | None = None,
) -> tuple[RunSpec, Model]:
    """Validate the arguments of a run and build its `RunSpec` (nothing runs).

    The arguments are those of `run`.
    """
    rec = load_model(model)
    bound = rec.bind(params)
    rules_given = any(x is not None for x in (tolerance, rtol, time_limit, stop))
    if samples is None:
        samples = DEFAULT_MAX_SAMPLES if rules_given else DEFAULT_SAMPLES
    samples = check_samples(samples)
    stop_spec = make_stop(
        tolerance=tolerance,
        rtol=rtol,
        target=target,
        min_samples=min_samples,
        time_limit=time_limit,
        stop=stop,
        outputs=_estimate_names(rec),
        samples=samples,
    )
    block_size = check_positive_int(rec.block_size if block_size is None else block_size, "block_size")
    batch_size = check_positive_int(min(rec.batch_size, block_size) if batch_size is None else batch_size, "batch_size")
    entropy, spawn_key = root_entropy(rng)
    spec = RunSpec(
        model=rec.reference or _recorded_name(rec),
        params=bound,
        samples=samples,
        entropy=entropy,
        spawn_key=spawn_key,
        bit_generator=check_bit_generator(bit_generator),
        block_size=block_size,
        batch_size=batch_size,
        confidence=check_confidence(confidence),
        interval=check_interval(interval),
        stop=stop_spec,
    )
    return spec, rec


def _recorded_name(rec: Model) -> str:
    """``module:qualname`` of a function that cannot be imported by name (kept for the record)."""
    fn = rec.simulate
    return f"{getattr(fn, '__module__', None) or '__main__'}:{getattr(fn, '__qualname__', rec.name)}"


def _estimate_names(rec: Model) -> tuple[str, ...]:
    """Outputs, then the derived and control-variate estimates the model declares."""
    extra = (*getattr(rec, "derived", ()), *getattr(rec, "controls", ()))
    return rec.output_names + tuple(x.name for x in extra)


def _backend_for(spec: RunSpec, executor: Any, workers: int, scheduler: str | None) -> Backend:
    # A run of one block, or on one worker, needs no pool: in-process gives the
    # same numbers without the start-up cost.
    if executor in ("processes", "threads") and (workers == 1 or spec.blocks == 1):
        executor = "serial"
    return make_backend(executor, workers, scheduler=scheduler)


def run(
    model: Any,
    samples: Any = None,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    workers: int | None = None,
    executor: str | Executor | Backend = "processes",
    confidence: float = 0.95,
    interval: str = "auto",
    bit_generator: str = DEFAULT_BIT_GENERATOR,
    block_size: int | None = None,
    batch_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    retries: int = 2,
    tolerance: float | None = None,
    rtol: float | None = None,
    target: str | Sequence[str] | None = None,
    min_samples: int | None = None,
    time_limit: float | None = None,
    stop: StoppingRule | Sequence[StoppingRule] | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    scheduler: str | None = None,
) -> Result:
    """Run a Monte Carlo simulation and return its estimates with intervals.

    The numbers depend only on the model, ``params``, ``samples``, ``rng``,
    ``bit_generator``, ``block_size``, ``batch_size``, ``confidence``,
    ``interval`` and the stopping rules -- never on ``workers``, ``executor``
    or timing (the time limit excepted: a result it stopped says so).

    Parameters
    ----------
    model : str or callable
        A registered name (``"pi"``), a ``"package.module:function"``
        reference, or a function ``simulate(rng, n, **params)`` returning an
        array of shape ``(n,)`` or ``(n, k)``, plain or decorated with
        `montecarlo.model`. Functions defined in a script or a notebook work
        with every executor.
    samples : int, optional
        Total number of samples (``1e6`` is accepted when it is an integer);
        with stopping rules, the cap. Default: 1e6, or 1e10 with rules.
    rng : None, int, SeedSequence or Generator
        Root of the run's randomness. ``None`` draws 128 bits of entropy from
        the OS; it is recorded in ``result.spec.entropy`` so the run can be
        repeated.
    params : dict, optional
        Model parameters; checked against the model's signature.
    workers : int, optional
        Parallel workers (default: every core this process may use).
    executor : {"processes", "threads", "serial", "dask"}, concurrent.futures.Executor or distributed.Client
        Where blocks run. Runs of one block, or with one worker, run
        in-process (same numbers). "dask" starts a ``LocalCluster`` of
        ``workers`` processes, or connects to ``scheduler``.
    confidence : float
        Confidence level of the intervals, strictly between 0 and 1.
    interval : {"auto", "t", "normal", "wilson", "clopper-pearson"}
        "auto" uses Wilson for probability outputs and Student t otherwise;
        the binomial methods apply to probability outputs only.
    bit_generator : {"sfc64", "pcg64", "pcg64dxsm", "philox"}
    block_size, batch_size : int, optional
        Samples per seeded block and per model call (default: the model's).
    progress : callable, optional
        ``progress(samples_done, samples_total)``, called from this thread as
        blocks are folded.
    retries : int
        Times dead worker processes are replaced (their blocks re-run with the
        same seeds) before the run fails.
    scheduler : str, optional
        With ``executor="dask"``: the address of a running scheduler, such
        as ``"tcp://HOST:8786"``.
    tolerance : float, optional
        Stop once every targeted interval's half-width is <= ``tolerance``
        (`montecarlo.stopping.Tolerance`).
    rtol : float, optional
        Stop once every targeted half-width is <= ``rtol × |estimate|``
        (`montecarlo.stopping.RelativeTolerance`). With ``tolerance`` too, the
        first one met stops the run.
    target : str or sequence of str, optional
        Outputs ``tolerance`` and ``rtol`` apply to (default: all).
    min_samples : int, optional
        Precision targets are not checked before this many samples; limits
        the small bias of sequential stopping (see docs/stopping.md).
    time_limit : float, optional
        Stop after this many seconds of wall time (after at least one block).
        The only rule whose stopping point is not reproducible; a result it
        stopped has ``result.stopping["reproducible"] == False``.
    stop : StoppingRule or sequence of them, optional
        Rule objects, built-in or subclasses of
        `montecarlo.stopping.StoppingRule`; combined with the keywords above.

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
    >>> r = montecarlo.run("pi", samples=10**6, rng=42, workers=1)
    >>> r.interval[0] < 3.1416 < r.interval[1]
    True
    >>> r = montecarlo.run("pi", rng=42, tolerance=1e-3, workers=1)
    >>> r.stopping["target_met"], r.interval[1] - r.interval[0] <= 2e-3
    (True, True)
    """
    spec, rec = make_spec(
        model,
        samples,
        rng=rng,
        params=params,
        confidence=confidence,
        interval=interval,
        bit_generator=bit_generator,
        block_size=block_size,
        batch_size=batch_size,
        tolerance=tolerance,
        rtol=rtol,
        target=target,
        min_samples=min_samples,
        time_limit=time_limit,
        stop=stop,
    )
    return run_spec(
        spec,
        rec,
        workers=workers,
        executor=executor,
        progress=progress,
        retries=retries,
        checkpoint=checkpoint,
        resume=resume,
        seeded=rng is not None,
        scheduler=scheduler,
    )


def check_execution(workers: Any, executor: Any, retries: Any, progress: Any) -> int:
    """Validate how a run executes; returns the worker count."""
    if workers is None:
        workers = getattr(executor, "_max_workers", None) or default_workers()
    workers = check_positive_int(workers, "workers")
    if not isinstance(executor, (Executor, Backend)) and not is_dask_client(executor) and executor not in EXECUTORS:
        raise ValueError(
            f"`executor` = {executor!r} is not one of: {', '.join(EXECUTORS)}, a concurrent.futures.Executor or a distributed.Client."
        )
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"`retries` = {retries!r} must be an integer >= 0.")
    if progress is not None and not callable(progress):
        raise TypeError(f"`progress` must be callable as progress(done, total), got {progress!r}.")
    return workers


def run_spec(
    spec: RunSpec,
    model: Model | None = None,
    *,
    workers: int | None = None,
    executor: Any = "processes",
    progress: Callable[[int, int], None] | None = None,
    retries: int = 2,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    seeded: bool = True,
    state: RunState | None = None,
    checkpoint_every: float = 5.0,
    scheduler: str | None = None,
) -> Result:
    """Run a `RunSpec` (for example one read back from a result file).

    ``checkpoint``, ``resume`` and ``workers``, ``executor``, ``progress``,
    ``retries`` are those of `run`; ``seeded`` false lets a resumed run adopt
    the checkpoint's entropy; ``state`` starts from a folded prefix (see
    `extend`).
    """
    from montecarlo import checkpoint as ckpt

    rec = model if model is not None else load_model(spec.model)
    workers = check_execution(workers, executor, retries, progress)
    save = None
    if checkpoint is not None:
        path = ckpt.check_writable(checkpoint, "checkpoint")
        if resume:
            spec, state = ckpt.resume(path, spec, entropy_given=seeded)
        elif os.path.exists(path):
            raise ckpt.CheckpointError(
                f"`checkpoint` = {path!r} already exists; accepted: resume=True (--resume) to continue that run, "
                "or a new file."
            )
        final_spec = spec

        def save(st: RunState) -> None:
            ckpt.save(path, final_spec, st)

    elif resume:
        raise ValueError("`resume` = True needs a `checkpoint` file to resume from.")
    if scheduler is not None and executor != "dask":
        raise ValueError(f"`scheduler` = {scheduler!r} needs executor='dask'.")
    backend = _backend_for(spec, executor, workers, scheduler)
    started = time.time()
    t0 = time.perf_counter()
    owned = backend is not executor  # a Backend the caller passed in stays open
    outcome = None
    try:
        outcome = engine.execute(
            spec,
            rec,
            backend,
            progress=progress,
            retries=retries,
            state=state,
            checkpoint=save,
            checkpoint_every=checkpoint_every,
        )
    finally:
        if owned:
            # Tasks still running past the stopping block are of no use: stop
            # them rather than wait (a caller's own pool is left alone).
            backend.close(cancel=outcome is not None and outcome.discarded > 0)
    elapsed = time.perf_counter() - t0
    moments = outcome.moments
    prov = run_provenance(backend.name, backend.workers, started, elapsed, moments.count)
    if state is not None:
        prov["resumed_at_samples"] = state.total.count
    stopping = outcome.ending.to_dict(spec.samples, spec.stop)
    continuation: dict = {}
    if outcome.prefix is not None:
        continuation["blocks"] = outcome.prefix_blocks
        if outcome.prefix_blocks != outcome.ending.blocks:
            continuation["accumulator"] = outcome.prefix.to_dict()
    return make_result(spec, rec, moments, prov, stopping=stopping, trace=outcome.trace, continuation=continuation)


def extend(
    result: Result | str | os.PathLike,
    samples: Any,
    *,
    model: Any = None,
    workers: int | None = None,
    executor: Any = "processes",
    progress: Callable[[int, int], None] | None = None,
    retries: int = 2,
) -> Result:
    """Continue a finished run to ``samples`` samples.

    The numbers equal those of a single run of ``samples`` samples with the
    same RunSpec (stopping rules dropped): only the missing blocks are
    computed (and a short last block again, as a whole block).

    Parameters
    ----------
    result : Result or path of a result JSON file
    samples : int
        The new total, at least the result's sample count.
    model : optional
        The model, when the result's reference cannot be imported (a function
        from ``__main__`` or a notebook).
    """
    from montecarlo.stopping import Stop

    if not isinstance(result, Result):
        result = Result.load(os.fspath(result))
    samples = check_samples(samples)
    if samples < result.samples:
        raise ValueError(
            f"`samples` = {samples} is fewer than the {result.samples} samples the result already has; "
            f"accepted: at least {result.samples}."
        )
    cont = result.continuation
    if "blocks" not in cont:
        raise ValueError(
            "`result` has no continuation record (it was resumed from a checkpoint of a finished run); "
            "re-run it with the larger `samples` instead."
        )
    prefix = Moments.from_dict(cont["accumulator"]) if "accumulator" in cont else result.accumulator
    spec = dataclasses.replace(result.spec, samples=samples, stop=Stop())
    rec = load_model(model if model is not None else spec.model)
    state = RunState(int(cont["blocks"]), prefix, {}, list(result.trace))
    return run_spec(spec, rec, workers=workers, executor=executor, progress=progress, retries=retries, state=state)


def make_result(
    spec: RunSpec,
    model: Model,
    moments: Moments,
    prov: dict,
    *,
    stopping: dict | None = None,
    trace: tuple = (),
    continuation: dict | None = None,
) -> Result:
    est, cov = estimates(spec, model, moments)
    return Result(
        model=model.name,
        estimates=est,
        covariance=cov,
        spec=spec,
        accumulator=moments,
        provenance=prov,
        stopping=dict(stopping or {}),
        trace=tuple(trace),
        continuation=dict(continuation or {}),
    )


def replay_block(spec: RunSpec, index: int, model: Any = None) -> Moments:
    """Re-run block ``index`` of ``spec`` in this process, letting the model's
    own exception propagate (for a `ModelError` from a run)."""
    rec = load_model(model if model is not None else spec.model)
    return engine.replay_block(spec, rec, index)
