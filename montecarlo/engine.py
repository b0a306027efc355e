"""Scheduling, the in-order fold, retries and progress.

The sample range is cut into blocks (`RunSpec.block_size`), consecutive blocks
are grouped into tasks, at most a small window of tasks is in flight, and the
accumulators that come back are merged strictly in block order, holding early
arrivals until the prefix before them is complete (DESIGN.md §1). Task
grouping, worker count and completion order therefore change nothing but the
time taken.

Stopping rules (`RunSpec.stop`) are asked after every folded block, in block
order (DESIGN.md §1.4): the plan is lazy up to the cap, and when a rule ends
the run, tasks still in flight past the stopping block are cancelled and
their results discarded. The convergence trace is recorded from the same
folded prefix, so both are bit-identical for every executor.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

from montecarlo.blocks import BlockJob, ModelError, run_block, run_task
from montecarlo.executors.base import Backend
from montecarlo.model import Model
from montecarlo.spec import RunSpec
from montecarlo.stats import Moments
from montecarlo.stopping import Ending, Monitor

#: Samples a task aims at: large enough that scheduling costs vanish (each
#: task costs the main process about half a millisecond of CPU, taken from
#: the workers when every core is busy; measured on the π run), small enough
#: that progress, Ctrl-C and load balance stay responsive (~70 ms of π work).
TASK_SAMPLES = 1 << 24

#: Blocks a task holds at most: a task returns one accumulator per block (the
#: fold must merge blocks one by one, in order), so this bounds the memory
#: of results in flight however small the blocks are.
TASK_BLOCKS = 256

#: Seconds between checks of a clock-based rule (the time limit) while no
#: block arrives.
POLL_SECONDS = 0.05

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Outcome:
    """What `execute` returns: the folded prefix, why it ended, its trace."""

    moments: Moments
    ending: Ending
    trace: tuple[dict, ...]
    discarded: int  # tasks computed or cancelled past the stopping block
    #: The prefix of whole blocks (all but a short last block) and its block
    #: count: where an extension of this run continues from.
    prefix: Moments | None = None
    prefix_blocks: int = 0


@dataclass
class RunState:
    """The resumable state of a run: everything a checkpoint holds.

    ``total`` folds blocks ``0 .. next_block - 1`` in order; ``held`` are
    blocks that finished early, by block index; ``trace`` is the convergence
    trace of the folded prefix.
    """

    next_block: int
    total: Moments
    held: dict[int, Moments]
    trace: list[dict]
    complete: bool = False


class WorkerDiedError(RuntimeError):
    """Worker processes kept dying; the blocks they held could not be completed."""


@dataclass(frozen=True)
class Task:
    start: int  # index of the first block
    blocks: tuple[tuple[int, int], ...]  # (index, samples)

    def describe(self) -> str:
        first, last = self.blocks[0][0], self.blocks[-1][0]
        return f"block {first}" if first == last else f"blocks {first}-{last}"


def blocks_per_task(spec: RunSpec, workers: int) -> int:
    """Task grouping: a scheduling choice only (it never changes a number)."""
    by_balance = -(-spec.blocks // (4 * workers))  # at least ~4 tasks per worker
    by_size = max(1, TASK_SAMPLES // spec.block_size)
    return max(1, min(by_balance, by_size, TASK_BLOCKS))


def _tasks(spec: RunSpec, first: int, sizes: Callable[[int], int], skip: Collection[int]) -> Iterator[Task]:
    """Consecutive blocks from ``first``, cut where ``sizes(start)`` says, leaving out ``skip``."""
    start = first
    while start < spec.blocks:
        stop = min(start + max(1, sizes(start)), spec.blocks)
        todo = [b for b in range(start, stop) if b not in skip]
        # Blocks already held (from a checkpoint) split a task into runs of
        # consecutive blocks, so that a task's results stay consecutive.
        while todo:
            run = [todo[0]]
            for b in todo[1:]:
                if b != run[-1] + 1:
                    break
                run.append(b)
            yield Task(run[0], tuple((b, spec.block_samples(b)) for b in run))
            todo = todo[len(run) :]
        start = stop


def plan(
    spec: RunSpec, group: int, first: int = 0, skip: Collection[int] = (), workers: int | None = None
) -> Iterator[Task]:
    """Tasks of ``group`` consecutive blocks, produced lazily (memory stays flat).

    With ``workers``, tasks shrink towards the end of the run (to a share of
    the blocks left per worker, at least one block), so that no worker is left
    computing a long last task while the others idle.
    """
    if workers is None:
        return _tasks(spec, first, lambda start: group, skip)
    return _tasks(spec, first, lambda start: min(group, (spec.blocks - start) // (2 * workers)), skip)


def plan_growing(
    spec: RunSpec, max_group: int, divisor: int, first: int = 0, skip: Collection[int] = ()
) -> Iterator[Task]:
    """Tasks that grow with the run, for runs that may stop early.

    A task holds about 1/``divisor`` of the blocks planned before it (at least
    one, at most ``max_group``), so the work in flight past any stopping
    block -- computed and then discarded -- stays a small fraction of the run
    however early it stops, while long runs still reach full-size tasks.
    """
    return _tasks(spec, first, lambda start: min(max_group, start // divisor), skip)


def block_job(spec: RunSpec, model: Model, in_process: bool) -> BlockJob:
    if in_process:
        payload = model.simulate
    else:
        import cloudpickle

        try:
            payload = cloudpickle.dumps(model.simulate)
        except Exception as exc:
            raise TypeError(
                f"model {model.name!r} cannot be sent to worker processes ({type(exc).__name__}: {exc}); "
                "run it with executor='threads' or 'serial'."
            ) from exc
    return BlockJob(
        simulate=payload,
        params=dict(spec.params),
        outputs=len(model.outputs),
        probability=tuple(o.kind == "probability" for o in model.outputs),
        entropy=spec.entropy,
        spawn_key=tuple(spec.spawn_key),
        bit_generator=spec.bit_generator,
        batch_size=spec.batch_size,
    )


def execute(
    spec: RunSpec,
    model: Model,
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
    """Run the blocks of ``spec`` on ``backend``, fold them in block order and
    stop where ``spec.stop`` says (at the latest after ``spec.samples``).

    Parameters
    ----------
    group : int, optional
        Blocks per task (default: `blocks_per_task`; with stopping rules,
        tasks start at one block and grow to that, see `plan_growing`).
    window : int, optional
        Tasks in flight at most (default: twice the worker count; one for the
        serial backend, which computes a task as it is submitted, so that a
        stopping run computes nothing past its stopping task).
    retries : int
        How many times dead workers are replaced before the run fails.
    state : RunState, optional
        Where to start: a checkpoint's state, or the whole-block prefix of a
        finished run being extended. Folding continues from it exactly as an
        uninterrupted run would have.
    checkpoint : callable, optional
        ``checkpoint(state)`` is called at most every ``checkpoint_every``
        seconds as blocks are folded, when the run ends (``state.complete``)
        and when it fails or is interrupted.
    """
    job = block_job(spec, model, backend.in_process)
    window = window or (1 if backend.name == "serial" else max(2, 2 * backend.workers))
    start = time.monotonic()
    monitor = Monitor(spec, model, lambda: time.monotonic() - start)
    if state is None:
        state = RunState(0, Moments.empty(len(model.outputs)), {}, [])
    else:
        monitor.resume(state.trace, state.total.count)
    # A resumed prefix may already satisfy a rule (a run that had stopped).
    ending: Ending | None = monitor.decide(state.total, state.next_block)
    if group is not None:
        tasks = plan(spec, group, state.next_block, state.held)
    elif not spec.stop:
        tasks = plan(spec, blocks_per_task(spec, backend.workers), state.next_block, state.held, backend.workers)
    else:
        # In flight past the stopping block: window x task <= 1/8 of the run.
        tasks = plan_growing(spec, blocks_per_task(spec, backend.workers), 8 * window, state.next_block, state.held)
    again: deque[Task] = deque()  # tasks lost with a dead worker, to run first
    in_flight: dict = {}
    held = state.held  # early arrivals, by block index
    failed: dict[int, BaseException] = {}  # a task's model error, by its first block
    next_block = state.next_block
    total = state.total
    # The whole-block prefix: what an extension of this run continues from
    # (unknown when a resumed state had already folded a short last block).
    whole = total.count == next_block * spec.block_size
    prefix, prefix_blocks = (total, next_block) if whole else (None, 0)
    deaths = 0
    last_save = time.monotonic()

    # What a checkpoint saves is published in one assignment after a block's
    # fold and trace point are complete: a Ctrl-C or SIGTERM, raised between
    # any two statements, can then never save a block twice or a trace that
    # an uninterrupted run would not record.
    published = (next_block, total, len(monitor.trace))

    def snapshot(complete: bool = False) -> RunState:
        done, folded_total, points = published
        early = {b: m for b, m in held.items() if b >= done}
        return RunState(done, folded_total, early, monitor.trace[:points], complete)

    def fill() -> None:
        while len(in_flight) < window:
            task = again.popleft() if again else next(tasks, None)
            if task is None:
                return
            in_flight[backend.submit(run_task, job, list(task.blocks))] = task

    try:
        if ending is None:
            fill()
        while (in_flight or next_block in held or next_block in failed) and ending is None:
            # A clock-based rule is asked at least every POLL_SECONDS, so a
            # time limit holds even while a slow block is still running.
            timeout = POLL_SECONDS if monitor.polls else None
            finished = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)[0] if in_flight else ()
            lost: list[Task] = []
            for future in finished:
                task = in_flight.pop(future)
                exc = future.exception()
                if exc is None:
                    for i, m in enumerate(future.result()):
                        held[task.start + i] = m
                elif backend.is_worker_death(exc):
                    lost.append(task)
                elif isinstance(exc, ModelError):
                    # Raised when the fold reaches this task, so the error
                    # reported is the first failing block in block order,
                    # whatever finished first.
                    failed[task.start] = exc
                else:
                    raise exc
            if lost:
                # The pool is gone: every unfinished task went with it.
                for future, task in list(in_flight.items()):
                    if future.done() and future.exception() is None:
                        for i, m in enumerate(future.result()):
                            held[task.start + i] = m
                    else:
                        lost.append(task)
                in_flight.clear()
                deaths += 1
                names = ", ".join(t.describe() for t in sorted(lost, key=lambda t: t.start))
                if deaths > retries:
                    raise WorkerDiedError(
                        f"a worker process died while running {names} "
                        f"(spawn keys {(*spec.spawn_key, lost[0].start)}...); gave up after {retries} "
                        f"{'retry' if retries == 1 else 'retries'}."
                    )
                backend.restart()
                again.extend(sorted(lost, key=lambda t: t.start))
            folded = False
            while ending is None:
                if next_block in failed:
                    raise failed[next_block]
                m = held.get(next_block)
                if m is None:
                    break
                # Stopping is decided block by block, not task by task, so
                # the task grouping cannot move the stopping point.
                total = total.merge(m)
                next_block += 1
                if m.count == spec.block_size:  # only the last block may be short
                    prefix, prefix_blocks = total, next_block
                folded = True
                ending = monitor.after_block(total, next_block)
                published = (next_block, total, len(monitor.trace))
                del held[next_block - 1]
            if folded and progress is not None:
                progress(total.count, spec.samples)
            if ending is None and monitor.polls:
                ending = monitor.check_budgets(total, next_block)
            if checkpoint is not None and folded and time.monotonic() - last_save >= checkpoint_every:
                checkpoint(snapshot())
                last_save = time.monotonic()
            if ending is None:
                fill()
    except BaseException:
        # Flush what is folded (and held) before stopping the workers.
        try:
            if checkpoint is not None:
                checkpoint(snapshot())
        finally:
            backend.close(cancel=True)
        raise
    # Speculative work past the stopping block: cancel what has not started;
    # what is running finishes (or is stopped by the caller's close) unseen.
    discarded = len(held) + len(in_flight)
    for future in in_flight:
        future.cancel()
    ending = monitor.finish(total, next_block, ending)
    if checkpoint is not None:
        held.clear()
        published = (next_block, total, len(monitor.trace))
        checkpoint(snapshot(complete=True))
    return Outcome(total, ending, tuple(monitor.trace), discarded, prefix, prefix_blocks)


def replay_block(spec: RunSpec, model: Model, index: int) -> Moments:
    """Re-run one block in this process (to debug a `ModelError`).

    The model's own exception propagates with its full traceback.
    """
    if not 0 <= index < spec.blocks:
        raise ValueError(f"`index` = {index} is not a block of this run; accepted: 0 to {spec.blocks - 1}.")
    job = block_job(spec, model, in_process=True)
    return run_block(job, index, spec.block_samples(index), model.simulate, wrap=False)
