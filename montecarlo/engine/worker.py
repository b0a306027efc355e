"""The worker side: run seeded blocks and return their accumulators.

Everything here is a pure function of (model function, parameters, block
index, RunSpec): no worker id, no clock, no shared state. Workers never see
the executor; the model never sees the engine.
"""

from __future__ import annotations

import hashlib
import random
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from montecarlo.core.seeding import block_rng
from montecarlo.engine.overflow import is_finite, overflow_error
from montecarlo.engine.workerenv import prepare_worker
from montecarlo.errors import ModelError, one_line
from montecarlo.stats.accumulators import BatchFold, Collector, Stats
from montecarlo.stats.shape import F64, OneOutputFold, ShapeCollector


@dataclass(frozen=True)
class BlockJob:
    """What a worker needs to run any block of one run (sent once per task)."""

    simulate: Any  # the function (in-process) or its cloudpickle (by reference when importable)
    params: dict
    outputs: int
    probability: tuple[bool, ...]  # per output: must be 0/1
    entropy: int
    spawn_key: tuple[int, ...]
    bit_generator: str
    batch_size: int
    collectors: tuple[Collector, ...] = ()  # parts kept beside the moments
    #: A plain function's outputs are as many as its first batch's columns (`montecarlo.models.record.Model.undeclared`).
    any_columns: bool = False
    #: The global generators compared around each task (`watched`): ``random``'s only where nothing else draws from it.
    watch: tuple[str, ...] = ("numpy.random", "random")


_FUNCTIONS: dict[bytes, Any] = {}


def _function(payload: Any) -> Any:
    """The model function: as given in-process, unpickled once per worker process."""
    if callable(payload):
        return payload
    key = hashlib.sha256(payload).digest()
    fn = _FUNCTIONS.get(key)
    if fn is None:
        import cloudpickle

        if len(_FUNCTIONS) > 16:
            _FUNCTIONS.clear()
        fn = _FUNCTIONS[key] = cloudpickle.loads(payload)
    return fn


def run_block(job: BlockJob, index: int, n: int, simulate: Any = None, wrap: bool = True) -> Stats:
    """Accumulator of block ``index`` holding ``n`` samples.

    With ``wrap`` (in workers) an exception of the model becomes a
    `ModelError` naming the block; without it (replay) it propagates as is.
    Blocks never run on the thread that takes the user's Ctrl-C (executors
    run them on helper threads, or in processes that ignore it), so whatever
    the model raises -- `SystemExit` and `KeyboardInterrupt` included -- is
    the model's error, never a signal to stop the run.
    """
    simulate = simulate if simulate is not None else _function(job.simulate)
    rng = block_rng(job.entropy, index, job.bit_generator, job.spawn_key)
    key = (*job.spawn_key, index)
    # Unless a part needs finite numbers or an output is 0/1, finiteness is
    # read off each batch's co-moments (a NaN or an infinity always reaches
    # them), saving a pass; finite values whose statistics overflow are
    # reported below.
    late = not any(job.probability) and not any(c.finite_only for c in job.collectors)
    fold = batch_fold(job.collectors, job.outputs, index, n, job.batch_size)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is the model's error, reported below
        fold = _fold_batches(job, fold, simulate, rng, n, index, key, late, wrap)
    total = fold.result()
    if not is_finite(total):
        raise overflow_error(index, key, "in the block")
    return total


def _fold_batches(
    job: BlockJob, fold: Any, simulate: Any, rng: Any, n: int, index: int, key: tuple, late: bool, wrap: bool
) -> Any:
    """Call the model on the block's batches and fold each; return the fold.

    A plain function (``job.any_columns``) may return ``(m, k)`` columns:
    its first batch fixes ``k`` for the block, the fold (`Fold`) checks it
    against the others.
    """
    done = 0
    params = job.params
    outputs = job.outputs
    column = late and outputs == 1 and isinstance(fold, OneOutputFold)  # the commonest run: one float output
    while done < n:
        m = min(job.batch_size, n - done)
        try:
            out = simulate(rng, m, **params)
        except BaseException as exc:
            if not wrap:
                raise
            said = one_line(exc)
            raise ModelError(
                f"model raised {type(exc).__name__}{': ' + said if said else ''} (block {index}, spawn key {key})",
                index,
                key,
                traceback.format_exc(),
            ) from None
        if column and type(out) is np.ndarray and out.dtype is F64 and out.shape == (m,) and out.strides[0] == 8:
            if not fold.add_column(out):  # nothing else to check before the fold
                _check_finite(out, index, key)  # names a non-finite sample, if there is one
        else:
            if job.any_columns and done == 0 and np.ndim(out) == 2 and np.shape(out)[0] == m:
                outputs = np.shape(out)[1]  # a plain function's columns: its outputs
                if outputs != 1:
                    column = False
                    fold = BatchFold(job.collectors, index)
            x = _check(out, m, job, index, key, finite=not late, outputs=outputs)
            fold.add(x)
            if late and x.dtype.kind == "f" and not fold.last_finite():
                _check_finite(x, index, key)
        done += m
    return fold


def batch_fold(
    collectors: tuple[Collector, ...], outputs: int, index: int, samples: int = 0, batch: int = 0
) -> BatchFold | OneOutputFold:
    """What folds the batches of block ``index`` (``samples`` in batches of ``batch``).

    For one output and the shape alone (a plain run), `OneOutputFold`: on
    Python floats, or in the compiled kernel.
    """
    if outputs == 1 and len(collectors) == 1 and type(collectors[0]) is ShapeCollector:
        return OneOutputFold(samples, batch)
    return BatchFold(collectors, index)


def _check(
    out: Any, m: int, job: BlockJob, index: int, key: tuple, finite: bool = True, outputs: int | None = None
) -> np.ndarray:
    """Shape ``(m, k)`` (``k = outputs``, else the job's), finite (unless the caller checks later), 0/1 where asked."""
    k = job.outputs if outputs is None else outputs
    x = np.asarray(out)
    if x.ndim == 1 and k == 1:
        x = x.reshape(m, 1) if x.shape[0] == m else x
    if x.ndim != 2 or x.shape != (m, k):
        want = f"({m},)" if k == 1 else f"({m}, {k})"
        hint = ""
        if x.ndim == 2 and x.shape[0] == m and not job.any_columns:
            hint = f"; declare its {x.shape[1]} outputs with @montecarlo.model(outputs=[...])"
        raise ModelError(
            f"model returned shape {np.shape(out)} for n={m}; expected {want} (block {index}, spawn key {key}){hint}",
            index,
            key,
        )
    if x.dtype == np.bool_:
        return x
    # dtype kinds first: numpy's subtype tests cost microseconds a batch
    if x.dtype.kind not in "fiu" and (
        not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating)
    ):
        raise ModelError(
            f"model returned dtype {x.dtype}; expected real numbers (block {index}, spawn key {key})", index, key
        )
    if finite and np.issubdtype(x.dtype, np.floating):
        _check_finite(x, index, key)
    for j, is_prob in enumerate(job.probability):
        if is_prob and not np.isin(x[:, j], (0, 1)).all():
            raise ModelError(
                f"probability output {j} has values other than 0 and 1 (block {index}, spawn key {key})", index, key
            )
    return x


def _check_finite(x: np.ndarray, index: int, key: tuple) -> None:
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ModelError(
            f"model returned a non-finite value ({x[tuple(bad)]}) at sample {bad[0]} of a batch "
            f"(block {index}, spawn key {key})",
            index,
            key,
        )


class TaskBlocks(list):
    """A task's block accumulators, in block order, and the global random states running them moved."""

    #: ``"numpy.random"`` and/or ``"random"``: a global generator the model drew from (or reseeded).
    moved: tuple[str, ...] = ()


#: The global generators a model must not use: their states depend on which blocks ran before in the process.
GLOBAL_GENERATORS = ("numpy.random", "random")


def _global_states() -> tuple[Any, Any]:
    """The states of numpy's legacy global generator and of the `random` module's."""
    legacy = np.random.get_state(legacy=False)
    inner = legacy["state"]
    return (inner["pos"], inner["key"].tobytes(), legacy["has_gauss"], legacy["gauss"]), random.getstate()


def watched(run: Callable[[], list[Stats]], watch: tuple[str, ...] = GLOBAL_GENERATORS) -> TaskBlocks:
    """``run()``'s accumulators, noting a global random state the blocks moved (docs/design.md, "Global random state").

    Checked around the task, not each block: a task whose blocks moved a
    state moved it, and the check costs two state copies per task.
    """
    before = _global_states()
    out = TaskBlocks(run())
    after = _global_states()
    moved = (name for name, a, b in zip(GLOBAL_GENERATORS, before, after, strict=True) if a != b)
    out.moved = tuple(name for name in moved if name in watch)
    return out


def run_task(job: BlockJob, blocks: list[tuple[int, int]]) -> TaskBlocks:
    """A task: consecutive ``(index, n)`` blocks, one accumulator each."""
    prepare_worker()  # one BLAS/OpenMP thread, malloc keeping its pages (engine/workerenv.py)
    simulate = _function(job.simulate)
    return watched(lambda: [run_block(job, index, n, simulate) for index, n in blocks], job.watch)
