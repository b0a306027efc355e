"""`run`: the library entry point (the CLI and config files call it too)."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from datetime import datetime, timezone
from typing import Any

from montecarlo import engine
from montecarlo.executors import EXECUTORS, default_workers, make_backend
from montecarlo.executors.base import Backend
from montecarlo.model import Model, load_model
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

DEFAULT_SAMPLES = 1_000_000


def make_spec(
    model: Any,
    samples: Any = DEFAULT_SAMPLES,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    confidence: float = 0.95,
    interval: str = "auto",
    bit_generator: str = DEFAULT_BIT_GENERATOR,
    block_size: int | None = None,
    batch_size: int | None = None,
) -> tuple[RunSpec, Model]:
    """Validate the arguments of a run and build its `RunSpec` (nothing runs)."""
    rec = load_model(model)
    bound = rec.bind(params)
    samples = check_samples(samples)
    block_size = check_positive_int(rec.block_size if block_size is None else block_size, "block_size")
    batch_size = check_positive_int(min(rec.batch_size, block_size) if batch_size is None else batch_size, "batch_size")
    entropy, spawn_key = root_entropy(rng)
    spec = RunSpec(
        model=rec.reference or f"__main__:{rec.name}",
        params=bound,
        samples=samples,
        entropy=entropy,
        spawn_key=spawn_key,
        bit_generator=check_bit_generator(bit_generator),
        block_size=block_size,
        batch_size=batch_size,
        confidence=check_confidence(confidence),
        interval=check_interval(interval),
    )
    return spec, rec


def _backend_for(spec: RunSpec, executor: Any, workers: int) -> Backend:
    # A run of one block, or on one worker, needs no pool: in-process gives the
    # same numbers without the start-up cost.
    if executor in ("processes", "threads") and (workers == 1 or spec.blocks == 1):
        executor = "serial"
    return make_backend(executor, workers)


def run(
    model: Any,
    samples: Any = DEFAULT_SAMPLES,
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
) -> Result:
    """Run a Monte Carlo simulation and return its estimates with intervals.

    The numbers depend only on the model, ``params``, ``samples``, ``rng``,
    ``bit_generator``, ``block_size``, ``batch_size``, ``confidence`` and
    ``interval`` -- never on ``workers``, ``executor`` or timing.

    Parameters
    ----------
    model : str or callable
        A registered name (``"pi"``), a ``"package.module:function"``
        reference, or a function ``simulate(rng, n, **params)`` returning an
        array of shape ``(n,)`` or ``(n, k)``, plain or decorated with
        `montecarlo.model`. Functions defined in a script or a notebook work
        with every executor.
    samples : int
        Total number of samples (``1e6`` is accepted when it is an integer).
    rng : None, int, SeedSequence or Generator
        Root of the run's randomness. ``None`` draws 128 bits of entropy from
        the OS; it is recorded in ``result.spec.entropy`` so the run can be
        repeated.
    params : dict, optional
        Model parameters; checked against the model's signature.
    workers : int, optional
        Parallel workers (default: every core this process may use).
    executor : {"processes", "threads", "serial"} or concurrent.futures.Executor
        Where blocks run. Runs of one block, or with one worker, run
        in-process (same numbers).
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

    Returns
    -------
    Result

    Examples
    --------
    >>> import montecarlo
    >>> r = montecarlo.run("pi", samples=10**6, rng=42, workers=1)
    >>> r.interval[0] < 3.1416 < r.interval[1]
    True
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
    )
    return run_spec(spec, rec, workers=workers, executor=executor, progress=progress, retries=retries)


def check_execution(workers: Any, executor: Any, retries: Any, progress: Any) -> int:
    """Validate how a run executes; returns the worker count."""
    if workers is None:
        workers = getattr(executor, "_max_workers", None) or default_workers()
    workers = check_positive_int(workers, "workers")
    if not isinstance(executor, (Executor, Backend)) and executor not in EXECUTORS:
        raise ValueError(
            f"`executor` = {executor!r} is not one of: {', '.join(EXECUTORS)}, or a concurrent.futures.Executor."
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
) -> Result:
    """Run a `RunSpec` (for example one read back from a result file)."""
    rec = model if model is not None else load_model(spec.model)
    workers = check_execution(workers, executor, retries, progress)
    backend = _backend_for(spec, executor, workers)
    started = time.time()
    t0 = time.perf_counter()
    owned = backend is not executor  # a Backend the caller passed in stays open
    try:
        moments = engine.execute(spec, rec, backend, progress=progress, retries=retries)
    finally:
        if owned:
            backend.close()
    elapsed = time.perf_counter() - t0
    return make_result(spec, rec, moments, provenance(backend, started, elapsed, moments.count))


def make_result(spec: RunSpec, model: Model, moments: Moments, prov: dict) -> Result:
    est, cov = estimates(spec, model, moments)
    return Result(model=model.name, estimates=est, covariance=cov, spec=spec, accumulator=moments, provenance=prov)


def replay_block(spec: RunSpec, index: int, model: Any = None) -> Moments:
    """Re-run block ``index`` of ``spec`` in this process, letting the model's
    own exception propagate (for a `ModelError` from a run)."""
    rec = load_model(model if model is not None else spec.model)
    return engine.replay_block(spec, rec, index)


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def provenance(backend: Backend, started: float, elapsed: float, samples: int) -> dict:
    """How a run was executed: versions, machine, executor, times (never part of its numbers)."""
    import numpy

    from montecarlo import __version__

    def iso(t: float) -> str:
        return datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")

    return {
        "montecarlo": __version__,
        "numpy": numpy.__version__,
        "scipy": _version("scipy"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "executor": backend.name,
        "workers": backend.workers,
        "started": iso(started),
        "finished": iso(started + elapsed),
        "elapsed_s": elapsed,
        "throughput": samples / elapsed if elapsed > 0 else None,
    }
