"""Scheduling: tasks in flight on a backend, retries of dead workers, progress and checkpoints.

The sample range is cut into blocks (`RunSpec.block_size`), consecutive blocks
are grouped into tasks (`montecarlo.engine.plan`), at most a small window of
tasks is in flight, and the accumulators that come back go to the in-order
fold (`montecarlo.engine.fold`). Task grouping, worker count and completion
order therefore change nothing but the time taken.

Stopping rules (`RunSpec.stop`) are asked after every folded block, in block
order (docs/design.md, "Stopping"): the plan is lazy up to the cap, and when a rule ends
the run, tasks still in flight past the stopping block are cancelled and
their results discarded.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass

import numpy as np

import montecarlo._kernels as kernels
from montecarlo.core.spec import RunSpec
from montecarlo.engine.backends.base import Backend
from montecarlo.engine.fold import Fold
from montecarlo.engine.jobs import block_job
from montecarlo.engine.monitor import Ending, Monitor
from montecarlo.engine.plan import Task, blocks_per_task, plan, plan_growing
from montecarlo.engine.points import PointJob, run_point_block, run_point_task
from montecarlo.engine.worker import run_block, run_task
from montecarlo.engine.workerenv import one_thread
from montecarlo.errors import ModelError, TimeLimitError, ValidationError, WorkerDiedError
from montecarlo.estimation.estimate import Estimate
from montecarlo.estimation.intervals import loading_scipy
from montecarlo.models.record import Model
from montecarlo.records.checkpoint import RunState
from montecarlo.stats.accumulators import Stats

#: Seconds between checks of a clock-based rule (the time limit) while no
#: block arrives.
POLL_SECONDS = 0.05
#: Seconds without a finished task after which the backend is asked whether
#: its tasks can still finish (`Backend.check_alive`).
ALIVE_SECONDS = 1.0

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Outcome:
    """What `execute` returns: the folded prefix, why it ended, its trace.

    Attributes
    ----------
    total : Stats
        The folded accumulator.
    ending : Ending
        Why the run ended.
    trace : tuple of dict
        The convergence trace.
    discarded : int
        Tasks and blocks computed or cancelled past the stopping block.
    estimates : tuple of Estimate
        The estimates of ``total`` (outputs, derived, control variates).
    covariance : numpy.ndarray
        The covariance matrix of the output estimates.
    prefix : Stats or None
        The prefix of whole blocks (all but a short last block): where an
        extension of this run continues; None when unknown.
    prefix_blocks : int
        Its block count.
    model : Model
        The record the estimates were made with: a plain function's, with
        as many outputs as its blocks had columns.
    moved : tuple of str
        The global random states the model's blocks moved (``"numpy.random"``,
        ``"random"``): such a run is not reproducible.
    """

    total: Stats
    ending: Ending
    trace: tuple[dict, ...]
    discarded: int
    estimates: tuple[Estimate, ...]
    covariance: np.ndarray
    prefix: Stats | None = None
    prefix_blocks: int = 0
    moved: tuple[str, ...] = ()
    model: Model | None = None


def _tasks(spec: RunSpec, backend: Backend, fold: Fold, group: int | None, window: int) -> Iterator[Task]:
    if group is not None:
        return plan(spec, group, fold.next_block, fold.held)
    per_task = blocks_per_task(spec, backend.workers, backend.task_samples)
    if not spec.stop:  # tasks shrink towards the end where workers run side by side
        return plan(spec, per_task, fold.next_block, fold.held, None if backend.eager else backend.workers)
    # In flight past the stopping block: window x task <= 1/8 of the run.
    return plan_growing(spec, per_task, 8 * window, fold.next_block, fold.held)


def execute(
    spec: RunSpec,
    backend: Backend,
    *,
    progress: Progress | None = None,
    retries: int = 2,
    group: int | None = None,
    window: int | None = None,
    state: RunState | None = None,
    checkpoint: Callable[[RunState], None] | None = None,
    checkpoint_every: float = 5.0,
) -> Outcome:
    """Run the blocks of ``spec`` on ``backend``, fold them in block order, stop where ``spec.stop`` says.

    Parameters
    ----------
    spec : RunSpec
        With its entropy set, carrying its model record (``spec.model_record``).
    backend : Backend
    progress : callable, optional
        ``progress(samples_folded, samples_total)`` after each folded task.
    retries : int
        How many times dead workers are replaced before the run fails.
    group : int, optional
        Blocks per task (default: `blocks_per_task`; with stopping rules,
        tasks start at one block and grow to that, see `plan_growing`).
    window : int, optional
        Tasks in flight at most (default: twice the worker count; one for an
        eager backend, which runs one task at a time, so that a stopping run
        computes nothing past its stopping task).
    state : RunState, optional
        Where to start: a checkpoint's state, or the whole-block prefix of a
        finished run being extended. Folding continues from it exactly as an
        uninterrupted run would have.
    checkpoint : callable, optional
        ``checkpoint(state)`` is called when the first task is folded, then at
        most every ``checkpoint_every`` seconds as blocks are folded, when the
        run ends (``state.complete``) and when it fails or is interrupted.
    checkpoint_every : float
        Seconds between checkpoints.

    Returns
    -------
    Outcome
    """
    # Tasks that run in this process (serial, threads, a caller's thread
    # pool) see one BLAS/OpenMP thread, as worker processes do.
    with one_thread():
        return _execute(spec, backend, progress, retries, group, window, state, checkpoint, checkpoint_every)


def warm_up(specs: list[RunSpec]) -> None:
    """Before the workers start: the statistics kernel compiled if the runs' float outputs will use it long enough.

    Local worker processes forked afterwards inherit the machine code
    (`montecarlo._kernels.compile_for`). Meanwhile scipy.special, which the
    t intervals of float outputs need, is imported on another thread (LLVM
    compiles without the GIL). Runs with a stopping rule count for nothing:
    they may stop long before their cap.
    """
    values = sum(
        s.samples * len(s.model_record.outputs)
        for s in specs
        if not s.stop and any(o.kind != "probability" for o in s.model_record.outputs)
    )
    if values > kernels.COMPILE_AFTER:
        with loading_scipy():
            kernels.compile_for(values)


def _execute(
    spec: RunSpec,
    backend: Backend,
    progress: Progress | None,
    retries: int,
    group: int | None,
    window: int | None,
    state: RunState | None,
    checkpoint: Callable[[RunState], None] | None,
    checkpoint_every: float,
) -> Outcome:
    model: Model = spec.model_record
    job = block_job(spec, model, backend.in_process, backend.private_random)
    warm_up([spec])
    run = run_point_task if isinstance(job, PointJob) else run_task
    window = window or (1 if backend.eager else max(2, 2 * backend.workers))
    start = time.monotonic()
    monitor = Monitor(spec, model, lambda: time.monotonic() - start)
    if state is None:
        state = RunState(0, Stats.empty(len(model.outputs)), {}, [])
    else:
        monitor.resume(state.trace, state.total.count)
    fold = Fold(spec, monitor, state)
    tasks = _tasks(spec, backend, fold, group, window)
    again: deque[Task] = deque()  # tasks lost with a dead worker, to run first
    in_flight: dict[Future, Task] = {}
    deaths = 0
    last_save = -math.inf  # the first folded task is saved at once: a kill a moment later loses little

    def fill() -> None:
        while len(in_flight) < window:
            task = again.popleft() if again else next(tasks, None)
            if task is None:
                break
            in_flight[backend.submit(run, job, list(task.blocks))] = task
        backend.dispatch()

    try:
        if fold.ending is None:
            fill()
        while (in_flight or fold.ready) and fold.ending is None:
            # A clock-based rule is asked at least every POLL_SECONDS, so a
            # time limit holds even while a slow block is still running.
            timeout = POLL_SECONDS if monitor.polls else ALIVE_SECONDS
            finished = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)[0] if in_flight else ()
            if in_flight and not finished:
                _check_alive(backend, in_flight, spec)
            lost: list[Task] = []
            for future in finished:
                task = in_flight.pop(future)
                exc = future.exception()
                if exc is None:
                    fold.add(task.start, future.result())
                elif backend.is_worker_death(exc):
                    lost.append(task)
                elif isinstance(exc, ModelError):
                    exc.seed, exc.spec = spec.entropy, spec
                    fold.fail(task.start, exc)
                else:
                    raise exc
            if lost:
                deaths += 1
                again.extend(_recover(backend, in_flight, fold, lost, deaths, retries, spec))
            folded = fold.advance()
            if folded and progress is not None:
                progress(fold.total.count, spec.samples)
                if monitor.note and hasattr(progress, "note"):
                    progress.note(monitor.note)
            if fold.ending is None and monitor.polls:
                fold.ending = monitor.check_budgets(fold.total, fold.next_block)
                if fold.total.count == 0:
                    _no_samples_in_time(monitor, spec)
            if checkpoint is not None and folded and time.monotonic() - last_save >= checkpoint_every:
                checkpoint(fold.snapshot())
                last_save = time.monotonic()  # the next one no sooner than `checkpoint_every` seconds from now
            if fold.ending is None:
                fill()
    except BaseException:
        # Flush what is folded (and held) before stopping the workers.
        try:
            if checkpoint is not None:
                checkpoint(fold.snapshot())
        finally:
            backend.close(cancel=True)
        raise
    # Speculative work past the stopping block: cancel what has not started;
    # what is running finishes (or is stopped by the caller's close) unseen.
    discarded = len(fold.held) + len(in_flight)
    for future in in_flight:
        future.cancel()
    ending = fold.finish()
    if checkpoint is not None:
        checkpoint(fold.snapshot(complete=True))
    ests, cov = monitor.final(fold.total)
    moved = tuple(sorted(fold.moved))
    return Outcome(
        fold.total,
        ending,
        tuple(monitor.trace),
        discarded,
        ests,
        cov,
        fold.prefix,
        fold.prefix_blocks,
        moved,
        monitor.model,
    )


def _no_samples_in_time(monitor: Monitor, spec: RunSpec) -> None:
    """The time limit holds even before the first block is folded: there is then nothing to estimate."""
    rule = monitor.out_of_time()
    if rule is not None:
        raise TimeLimitError(
            f"the time limit ({rule.seconds:g} s) passed before the first block ({spec.block_samples(0):,} samples) "
            "finished: no samples to estimate from; give a longer time limit or a smaller block size."
        )


def _described(tasks: list[Task], spec: RunSpec) -> str:
    """``blocks 0-47, blocks 48-95 (spawn keys (0,)...)``: tasks sorted by their first block."""
    names = ", ".join(t.describe() for t in tasks)
    return f"{names} (spawn keys {(*spec.spawn_key, tasks[0].start)}...)"


def _check_alive(backend: Backend, in_flight: dict[Future, Task], spec: RunSpec) -> None:
    """`Backend.check_alive`, its `WorkerDiedError` naming the blocks in flight."""
    try:
        backend.check_alive()
    except WorkerDiedError as exc:
        tasks = sorted(in_flight.values(), key=lambda t: t.start)
        raise WorkerDiedError(f"{str(exc).rstrip('.')}; in flight: {_described(tasks, spec)}.") from None


def _recover(
    backend: Backend,
    in_flight: dict[Future, Task],
    fold: Fold,
    lost: list[Task],
    deaths: int,
    retries: int,
    spec: RunSpec,
) -> list[Task]:
    """After a worker died: keep what finished, restart the workers, return the tasks to run again."""
    # The pool is gone: every unfinished task went with it.
    for future, task in list(in_flight.items()):
        if future.done() and future.exception() is None:
            fold.add(task.start, future.result())
        else:
            lost.append(task)
    in_flight.clear()
    lost.sort(key=lambda t: t.start)
    if deaths > retries or not backend.restartable:
        why = (
            f"gave up after {retries} {'retry' if retries == 1 else 'retries'}"
            if backend.restartable
            else f"the {backend.name} backend cannot replace it"
        )
        raise WorkerDiedError(f"a worker process died while running {_described(lost, spec)}; {why}.")
    backend.restart()
    return lost


def replay_block(spec: RunSpec, model: Model, index: int) -> Stats:
    """Re-run one block in this process (to debug a `ModelError`).

    The model's own exception propagates with its full traceback.
    """
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < spec.blocks:
        raise ValidationError(
            "index", index, f"a block index from 0 to {spec.blocks - 1}", "is not a block of this run"
        )
    job = block_job(spec, model, in_process=True)
    with one_thread():  # as the run had it
        if isinstance(job, PointJob):
            return run_point_block(job, index, spec.block_samples(index), model.uniform, wrap=False)
        return run_block(job, index, spec.block_samples(index), model.simulate, wrap=False)
