"""Several runs on one backend: their tasks in flight together, each run folded in its own block order.

`execute_many` does for a list of RunSpecs what `montecarlo.engine.scheduler.execute`
does for one: it plans each run's tasks (`montecarlo.engine.plan`), keeps a
window of tasks of all the runs in flight on one started backend, folds
every run strictly in its block order (`montecarlo.engine.fold`, one fold
and one monitor per run), replaces dead workers and re-runs their blocks,
and saves checkpoints. Task interleaving, worker count and completion order
change nothing but the time taken: each run's numbers are those of
``execute`` on that run alone.

Several ``execute`` calls sharing one backend from threads would not keep
those promises: each would close the shared backend when it fails or is
interrupted, and replace its workers when one dies (so one death restarts
the pool once per run, each restart breaking the others' tasks); a signal
reaches the main thread only, not the runs' threads; and backends such as
the map-like one are not thread-safe. One loop in the calling thread has
none of these problems.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait

from montecarlo.core.spec import RunSpec
from montecarlo.engine.backends.base import Backend
from montecarlo.engine.fold import Fold
from montecarlo.engine.jobs import block_job
from montecarlo.engine.monitor import Monitor
from montecarlo.engine.plan import Task, blocks_per_task, plan, plan_growing
from montecarlo.engine.points import PointJob, run_point_task
from montecarlo.engine.scheduler import ALIVE_SECONDS, POLL_SECONDS, Outcome, warm_up
from montecarlo.engine.worker import run_task
from montecarlo.engine.workerenv import one_thread
from montecarlo.errors import ModelError, TimeLimitError, WorkerDiedError
from montecarlo.records.checkpoint import RunState
from montecarlo.stats.accumulators import Stats


class _Run:
    """One run's job, plan, fold and monitor, and its tasks to run again after a worker died."""

    def __init__(self, spec: RunSpec, backend: Backend, state: RunState | None, window: int, start: float) -> None:
        model = spec.model_record
        self.spec = spec
        self.job = block_job(spec, model, backend.in_process, backend.private_random)
        self.fn = run_point_task if isinstance(self.job, PointJob) else run_task
        self.monitor = Monitor(spec, model, lambda: time.monotonic() - start)
        if state is None:
            state = RunState(0, Stats.empty(len(model.outputs)), {}, [])
        else:
            self.monitor.resume(state.trace, state.total.count)
        self.fold = Fold(spec, self.monitor, state)
        self.again: deque[Task] = deque()
        self.flying = 0
        per_task = blocks_per_task(spec, backend.workers, backend.task_samples)
        self.tasks: Iterator[Task] = (
            plan_growing(spec, per_task, 8 * window, self.fold.next_block, self.fold.held)
            if spec.stop
            else plan(spec, per_task, self.fold.next_block, self.fold.held, backend.workers)
        )
        self.exhausted = False

    def next_task(self) -> Task | None:
        if self.again:
            return self.again.popleft()
        task = None if self.exhausted else next(self.tasks, None)
        self.exhausted = task is None
        return task

    @property
    def going(self) -> bool:
        """Whether the run still waits for blocks: not ended, with tasks in flight, to submit, or ready to fold."""
        if self.fold.ending is not None:
            return False
        return bool(self.flying or self.again or not self.exhausted or self.fold.ready)


def execute_many(
    specs: Sequence[RunSpec],
    backend: Backend,
    *,
    states: Sequence[RunState | None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    retries: int = 2,
    checkpoint: Callable[[list[RunState]], None] | None = None,
    checkpoint_every: float = 5.0,
) -> list[Outcome]:
    """Run the blocks of every spec on ``backend`` together; fold each run in its block order.

    Parameters
    ----------
    specs : sequence of RunSpec
        With their entropy set, each carrying its model record.
    backend : Backend
        Started by the caller, who closes it (it is closed here, cancelling
        its tasks, only when a run fails or is interrupted).
    states : sequence of RunState or None, optional
        Where each run starts (a checkpoint's state, or the whole-block
        prefix of a run being extended), as in ``execute``.
    progress : callable, optional
        ``progress(samples_folded, samples_total)`` over all the runs.
    retries : int
        Times dead workers are replaced before the runs fail.
    checkpoint : callable, optional
        ``checkpoint(states)``, one `RunState` per run: when the first task
        is folded, then at most every ``checkpoint_every`` seconds, when the
        runs end (each state ``complete``) and when they fail or are
        interrupted.
    checkpoint_every : float

    Returns
    -------
    list of Outcome
        One per spec, in order: what ``execute`` returns for it.
    """
    with one_thread():  # in-process tasks see one BLAS/OpenMP thread, as worker processes do
        return _execute_many(list(specs), backend, states, progress, retries, checkpoint, checkpoint_every)


def _execute_many(
    specs: list[RunSpec],
    backend: Backend,
    states: Sequence[RunState | None] | None,
    progress: Callable[[int, int], None] | None,
    retries: int,
    checkpoint: Callable[[list[RunState]], None] | None,
    checkpoint_every: float,
) -> list[Outcome]:
    warm_up(specs)
    window = 1 if backend.eager else max(2, 2 * backend.workers)
    start = time.monotonic()
    given = list(states) if states is not None else [None] * len(specs)
    runs = [_Run(spec, backend, state, window, start) for spec, state in zip(specs, given, strict=True)]
    total = sum(r.spec.samples for r in runs)
    polls = any(r.monitor.polls for r in runs)
    in_flight: dict[Future, tuple[_Run, Task]] = {}
    deaths = 0
    last_save = -math.inf
    turn = 0

    def fill() -> None:
        nonlocal turn
        while len(in_flight) < window:
            for k in range(len(runs)):  # one task of each run in turn, from where the last round stopped
                run = runs[(turn + k) % len(runs)]
                task = run.next_task() if run.fold.ending is None else None
                if task is not None:
                    in_flight[backend.submit(run.fn, run.job, list(task.blocks))] = (run, task)
                    run.flying += 1
                    turn = (turn + k + 1) % len(runs)
                    break
            else:
                break  # no run has a task to submit
        backend.dispatch()

    def snapshots(complete: bool = False) -> list[RunState]:
        return [r.fold.snapshot(complete) for r in runs]

    try:
        fill()
        while any(r.going for r in runs):
            timeout = POLL_SECONDS if polls else ALIVE_SECONDS
            finished = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)[0] if in_flight else ()
            if in_flight and not finished:
                backend.check_alive()
            lost: list[tuple[_Run, Task]] = []
            for future in finished:
                run, task = in_flight.pop(future)
                run.flying -= 1
                _take(backend, future, run, task, lost)
            if lost:
                deaths += 1
                _recover(backend, in_flight, lost, deaths, retries)
            folded = False
            for run in runs:
                if run.fold.ending is None:
                    folded = run.fold.advance() or folded
                if polls and run.fold.ending is None and run.monitor.polls:
                    run.fold.ending = run.monitor.check_budgets(run.fold.total, run.fold.next_block)
                    if run.fold.total.count == 0 and run.monitor.out_of_time() is not None:
                        raise TimeLimitError("the time limit passed before the first block of a run was folded")
            if folded and progress is not None:
                progress(sum(r.fold.total.count for r in runs), total)
            if checkpoint is not None and folded and time.monotonic() - last_save >= checkpoint_every:
                checkpoint(snapshots())
                last_save = time.monotonic()
            fill()
    except BaseException:
        try:  # flush what is folded (and held) before stopping the workers
            if checkpoint is not None:
                checkpoint(snapshots())
        finally:
            backend.close(cancel=True)
        raise
    discarded = {id(r): len(r.fold.held) + r.flying for r in runs}
    for future in in_flight:  # past a run's stopping block: not needed
        future.cancel()
    endings = [r.fold.finish() for r in runs]
    if checkpoint is not None:
        checkpoint(snapshots(complete=True))
    out = []
    for run, ending in zip(runs, endings, strict=True):
        ests, cov = run.monitor.final(run.fold.total)
        fold = run.fold
        out.append(Outcome(fold.total, ending, tuple(run.monitor.trace), discarded[id(run)], ests, cov,
                           fold.prefix, fold.prefix_blocks, tuple(sorted(fold.moved))))  # fmt: skip
    return out


def _take(backend: Backend, future: Future, run: _Run, task: Task, lost: list[tuple[_Run, Task]]) -> None:
    """A finished task: its blocks to the run's fold, its model error to be raised in block order, or lost."""
    exc = future.exception()
    if exc is None:
        run.fold.add(task.start, future.result())
    elif backend.is_worker_death(exc):
        lost.append((run, task))
    elif isinstance(exc, ModelError):
        exc.seed, exc.spec = run.spec.entropy, run.spec
        run.fold.fail(task.start, exc)
    else:
        raise exc


def _recover(
    backend: Backend,
    in_flight: dict[Future, tuple[_Run, Task]],
    lost: list[tuple[_Run, Task]],
    deaths: int,
    retries: int,
) -> None:
    """After a worker died: keep what finished, restart the workers, queue every lost task to run again first."""
    for future, (run, task) in list(in_flight.items()):  # the pool is gone, and every unfinished task with it
        run.flying -= 1
        if future.done() and future.exception() is None:
            run.fold.add(task.start, future.result())
        else:
            lost.append((run, task))
    in_flight.clear()
    lost.sort(key=lambda rt: (rt[0].spec.spawn_key, rt[1].start))
    if deaths > retries or not backend.restartable:
        why = (
            f"gave up after {retries} {'retry' if retries == 1 else 'retries'}"
            if backend.restartable
            else f"the {backend.name} backend cannot replace it"
        )
        named = ", ".join(f"{t.describe()} (spawn keys {(*r.spec.spawn_key, t.start)}...)" for r, t in lost)
        raise WorkerDiedError(f"a worker process died while running {named}; {why}.")
    backend.restart()
    for run, task in reversed(lost):
        run.again.appendleft(task)
