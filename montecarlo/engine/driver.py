"""One run from its `RunSpec` to its `Result`: cache, checkpoint, backend, scheduler, records.

`run_spec_on` is what `montecarlo.run_spec` and `montecarlo.extend` call: it
takes the run's checkpoint file (one run per file), resumes from it or from
a finished run's prefix, answers from the cache where it may, makes the
backend, lets the scheduler fold the blocks, and assembles the result with
its provenance.
"""

from __future__ import annotations

import dataclasses
import os
import time

from montecarlo.core.execution import Checkpointing, Execution
from montecarlo.core.seeding import fresh_entropy
from montecarlo.core.spec import RunSpec
from montecarlo.engine.backends import make_backend
from montecarlo.engine.progress import progress_for
from montecarlo.engine.scheduler import Outcome, execute
from montecarlo.errors import ValidationError
from montecarlo.estimation.diagnostics import diagnose, flagged, two_stage_estimates
from montecarlo.estimation.quantiles import tail_estimates
from montecarlo.models.fingerprint import fingerprint
from montecarlo.models.record import Model
from montecarlo.records.cache import Cache
from montecarlo.records.checkpoint import RunState, resume
from montecarlo.records.checkpoint import save as save_checkpoint
from montecarlo.records.files import check_writable
from montecarlo.records.locking import held
from montecarlo.records.provenance import run_provenance
from montecarlo.records.result import Result


def run_spec_on(
    spec: RunSpec, execution: Execution, checkpointing: Checkpointing | None, state: RunState | None
) -> Result:
    """Run ``spec`` (carrying its model record) from ``state`` (a finished run's prefix) or a checkpoint.

    Returns the assembled result.
    """
    if checkpointing is None:
        return _run(spec, execution, None, state)
    # Absolute: a model that changes the working directory cannot move it.
    path = os.path.abspath(check_writable(checkpointing.path, "checkpoint"))
    with held(path):  # one run per checkpoint file, from before it is read to the last write
        return _run(spec, execution, dataclasses.replace(checkpointing, path=path), state)


def _run(spec: RunSpec, execution: Execution, ckpt: Checkpointing | None, state: RunState | None) -> Result:
    rec: Model = spec.model_record
    fp = fingerprint(rec)
    save = None
    if ckpt is not None:
        path = ckpt.path
        if ckpt.resume:
            spec, state = resume(path, spec, fp)
        elif os.path.exists(path):
            raise ValidationError(
                "checkpoint", path, "resume=True (--resume) to continue that run, or a new file", "already exists"
            )
        final = spec if spec.entropy is not None else dataclasses.replace(spec, entropy=fresh_entropy())
        spec = final

        def save(st: RunState) -> None:
            st.fingerprint = fp
            save_checkpoint(path, final, st)

    elif spec.entropy is None:
        spec = dataclasses.replace(spec, entropy=fresh_entropy())
    # A run stopped by the clock is not a function of its RunSpec: never cached, never served.
    cacheable = bool(execution.cache) and spec.stop.reproducible and state is None
    store = Cache(execution.cache if isinstance(execution.cache, str) else None) if cacheable else None
    if store is not None:
        hit = store.get(spec, fp)
        if hit is not None:
            return dataclasses.replace(hit, provenance={**hit.provenance, "cache": "reused"})
    backend = make_backend(execution, [spec])
    started = time.time()
    t0 = time.perf_counter()
    owned = backend is not execution.executor  # a Backend the caller passed in stays open
    outcome: Outcome | None = None
    try:
        with progress_for(execution.progress, open_ended=bool(spec.stop)) as bar:
            outcome = execute(
                spec, backend, progress=bar, retries=execution.retries, state=state,
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
    if backend.fewer:
        prov["fewer_workers"] = backend.fewer
    if state is not None:
        prov["resumed_at_samples"] = resumed
    continuation: dict = {}
    if outcome.prefix is not None:
        continuation["blocks"] = outcome.prefix_blocks
        if outcome.prefix_blocks != outcome.ending.blocks:
            continuation["accumulator"] = outcome.prefix.to_dict()
    stopping = outcome.ending.to_dict(spec.samples, spec.stop)
    result = result_of(spec, outcome.model or rec, outcome, prov, stopping, continuation, fp)
    if execution.cache:
        stored = store is not None and not result.warnings and store.put(result)
        result.provenance["cache"] = _cache_use(spec, state, fp, result.warnings, stored)
    return result


def _cache_use(spec: RunSpec, state: RunState | None, fp: dict, warnings: tuple[str, ...], stored: bool) -> str:
    """What the cache did with a run it was asked to keep: ``"stored"``, or why it could not."""
    if stored:
        return "stored"
    if warnings:
        return "not stored: " + warnings[0]
    if not spec.stop.reproducible:
        return "not stored: a run stopped by a time limit is not a function of its RunSpec"
    if state is not None:
        return "not stored: a resumed or extended run"
    if not fp.get("complete", False):
        return "not stored: the model reads a value that cannot be pickled, so its changes cannot be seen"
    return "not stored"


def result_of(
    spec: RunSpec, rec: Model, outcome: Outcome, provenance: dict, stopping: dict, continuation: dict, fp: dict
) -> Result:
    """The `Result` of a run: the estimates of its folded prefix (computed once, by the monitor), with its records."""
    stats = outcome.total
    diagnoses = diagnose(spec, rec, stats, outcome.estimates)
    est = outcome.estimates + two_stage_estimates(spec, rec, stats)
    quantiles, shortfall = tail_estimates(spec, rec, stats)
    return Result(
        model=rec.name,
        estimates=flagged(est, diagnoses),
        covariance=outcome.covariance,
        spec=spec,
        accumulator=stats,
        provenance=provenance,
        stopping=stopping,
        trace=outcome.trace,
        continuation=continuation,
        diagnostics=diagnoses,
        quantiles=quantiles,
        shortfall=shortfall,
        fingerprint=fp,
        warnings=tuple(GLOBAL_STATE_WARNING.format(name=name) for name in outcome.moved),
    )


#: A run whose blocks moved a global generator's state (docs/design.md, "Global random state").
GLOBAL_STATE_WARNING = (
    "the model moved the global random state of {name}: its numbers depend on which blocks ran before in each "
    "worker, so this run is not reproducible; draw from the rng the model is given"
)
