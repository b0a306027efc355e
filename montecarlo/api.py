"""The library's entry points: run a `RunSpec`, run from arguments, extend a result, replay a block.

Spec first: `montecarlo.specs.make_spec` validates everything that fixes
the numbers and returns the `RunSpec` (nothing runs); `run_spec` runs one as
an `Execution` says, optionally with `Checkpointing`. `run` is both in one
call. The command line and experiment files go through the same functions.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from typing import Any

from montecarlo.accumulate import Stats
from montecarlo.cache import Cache
from montecarlo.checkpoint import resume
from montecarlo.checkpoint import save as save_checkpoint
from montecarlo.engine.fold import RunState
from montecarlo.engine.scheduler import Outcome, execute
from montecarlo.engine.scheduler import replay_block as replay_in_process
from montecarlo.errors import ValidationError
from montecarlo.execution import Checkpointing, Execution
from montecarlo.executors import make_backend
from montecarlo.files import check_writable
from montecarlo.locking import held
from montecarlo.model import Model
from montecarlo.options import Sampling, Stopping
from montecarlo.pointset import total_samples
from montecarlo.provenance import run_provenance
from montecarlo.registry import load_model
from montecarlo.result import Result, result_of
from montecarlo.seeding import fresh_entropy
from montecarlo.spec import RunSpec
from montecarlo.specs import make_spec
from montecarlo.validate import check_count, check_int, suggest_keywords


@suggest_keywords
def run(
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
    execution: Execution | str | Any = None,
    checkpoint: Checkpointing | str | os.PathLike | None = None,
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
        retries, progress)``, or just an executor name (``"processes"``,
        the default, ``"threads"``, ``"serial"``, ``"dask"``) or object.
        The model runs in worker processes (one for a run of one block)
        unless ``"serial"`` or ``"threads"`` is asked for.
    checkpoint : Checkpointing or path, optional
        Save progress to a file, and resume from it
        (``Checkpointing(path, every=5.0, resume=True)``).

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
    >>> r = montecarlo.run("pi", rng=42, tolerance=1e-3, execution=montecarlo.Execution(workers=2))
    >>> r.stopping["target_met"], r.interval[1] - r.interval[0] <= 2e-3
    (True, True)
    """
    spec, rec = make_spec(
        model, samples, rng=rng, params=params, confidence=confidence, interval=interval,
        tolerance=tolerance, rtol=rtol, stopping=stopping, sampling=sampling,
    )  # fmt: skip
    return run_spec(spec, rec, execution=execution, checkpoint=checkpoint)


@suggest_keywords
def run_spec(
    spec: RunSpec,
    model: Any = None,
    *,
    execution: Execution | str | Any = None,
    checkpoint: Checkpointing | str | os.PathLike | None = None,
) -> Result:
    """Run a `RunSpec` (from `make_spec`, or read back from a result file).

    Parameters
    ----------
    spec : RunSpec
        Without entropy (unseeded), fresh entropy is drawn, or taken from the
        checkpoint being resumed.
    model : optional
        The model, when ``spec.model`` cannot be imported by name (a function
        from ``__main__`` or a notebook); default: loaded from ``spec.model``.
    execution, checkpoint
        As in `run`.

    Returns
    -------
    Result
    """
    rec = load_model(model if model is not None else spec.model)
    return _execute(spec, rec, Execution.of(execution), Checkpointing.of(checkpoint), None)


def _execute(
    spec: RunSpec, rec: Model, execution: Execution, checkpointing: Checkpointing | None, state: RunState | None
) -> Result:
    """Run ``spec`` from ``state`` (a finished run's prefix) or a checkpoint; assemble the result."""
    if checkpointing is None:
        return _run(spec, rec, execution, None, state)
    # Absolute: a model that changes the working directory cannot move it.
    path = os.path.abspath(check_writable(checkpointing.path, "checkpoint"))
    with held(path):  # one run per checkpoint file, from before it is read to the last write
        return _run(spec, rec, execution, dataclasses.replace(checkpointing, path=path), state)


def _run(spec: RunSpec, rec: Model, execution: Execution, ckpt: Checkpointing | None, state: RunState | None) -> Result:
    save = None
    if ckpt is not None:
        path = ckpt.path
        if ckpt.resume:
            spec, state = resume(path, spec)
        elif os.path.exists(path):
            raise ValidationError(
                "checkpoint", path, "resume=True (--resume) to continue that run, or a new file", "already exists"
            )
        final = spec if spec.entropy is not None else dataclasses.replace(spec, entropy=fresh_entropy())
        spec = final

        def save(st: RunState) -> None:
            save_checkpoint(path, final, st)

    elif spec.entropy is None:
        spec = dataclasses.replace(spec, entropy=fresh_entropy())
    store = Cache(None if execution.cache is True else execution.cache) if execution.cache else None
    if store is not None and state is None:
        hit = store.get(spec, rec)
        if hit is not None:
            return dataclasses.replace(hit, provenance={**hit.provenance, "cache": "reused"})
    backend = make_backend(execution, [spec])
    started = time.time()
    t0 = time.perf_counter()
    owned = backend is not execution.executor  # a Backend the caller passed in stays open
    outcome: Outcome | None = None
    try:
        outcome = execute(
            spec, rec, backend, progress=execution.progress, retries=execution.retries, state=state,
            checkpoint=save, checkpoint_every=ckpt.every if ckpt else 5.0,
        )  # fmt: skip
    finally:
        if owned:
            # Tasks still running past the stopping block, or of a run that
            # failed, are of no use: stop them rather than wait (a caller's
            # own pool is left alone).
            backend.close(cancel=outcome is None or outcome.discarded > 0)
    elapsed = time.perf_counter() - t0
    resumed = state.total.count if state is not None else 0
    prov = run_provenance(backend.name, backend.workers, started, elapsed, outcome.total.count - resumed)
    if backend.note:
        prov["executor_note"] = backend.note
    if state is not None:
        prov["resumed_at_samples"] = resumed
    continuation: dict = {}
    if outcome.prefix is not None:
        continuation["blocks"] = outcome.prefix_blocks
        if outcome.prefix_blocks != outcome.ending.blocks:
            continuation["accumulator"] = outcome.prefix.to_dict()
    stopping = outcome.ending.to_dict(spec.samples, spec.stop)
    result = result_of(spec, rec, outcome.total, prov, stopping, outcome.trace, continuation)
    if store is not None and state is None and store.put(result, rec):
        result.provenance["cache"] = "stored"
    return result


@suggest_keywords
def extend(
    result: Result | str | os.PathLike,
    samples: int | str,
    *,
    model: Any = None,
    execution: Execution | str | Any = None,
    tolerance: float | None = None,
    rtol: float | None = None,
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
    execution : optional
        As in `run`.
    tolerance, rtol : float, optional
        Stop at the first block where every output's interval half-width is
        at most ``tolerance`` (or ``rtol × |estimate|``).

    Returns
    -------
    Result
    """
    if not isinstance(result, Result):
        result = Result.load(os.fspath(result))
    samples = total_samples(result.spec.sampler, result.spec.replicates, check_count(samples))
    if samples < result.samples:
        raise ValidationError("samples", samples, f"at least {result.samples}", "is fewer than the result already has")
    cont = result.continuation
    if "blocks" not in cont:
        raise ValidationError(
            "result", "(no continuation record)", "a result of a run that was not resumed from a finished checkpoint",
            "cannot be extended; re-run it with the larger `samples` instead",
        )  # fmt: skip
    blocks = check_int(cont["blocks"], "continuation.blocks", low=0)
    prefix = Stats.from_dict(cont["accumulator"]) if "accumulator" in cont else result.accumulator
    if prefix.count != blocks * result.spec.block_size:
        raise ValidationError(
            "result", f"continuation.blocks = {blocks}", f"{prefix.count // result.spec.block_size} blocks",
            f"does not match its {prefix.count} samples",
        )  # fmt: skip
    target = Stopping(tolerance, rtol, min_samples=result.samples) if tolerance or rtol else Stopping()
    spec = dataclasses.replace(result.spec, samples=samples, stop=target)
    rec = load_model(model if model is not None else spec.model)
    state = RunState(blocks, prefix, {}, list(result.trace))
    return _execute(spec, rec, Execution.of(execution), None, state)


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
    rec = load_model(model if model is not None else spec.model)
    return replay_in_process(spec, rec, index)
