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
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

from montecarlo.blocks import BlockJob, ModelError, run_block, run_task
from montecarlo.executors.base import Backend
from montecarlo.model import Model
from montecarlo.spec import RunSpec
from montecarlo.stats import Moments
from montecarlo.stopping import Ending, Monitor

#: Samples a task aims at: large enough that scheduling costs vanish, small
#: enough that progress, Ctrl-C and load balance stay responsive.
TASK_SAMPLES = 1 << 22

#: Seconds between checks of a clock-based rule (the time limit) while no
#: block arrives.
POLL_SECONDS = 0.05

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Outcome:
    """What `execute_traced` returns: the folded prefix, why it ended, its trace."""

    moments: Moments
    ending: Ending
    trace: tuple[dict, ...]
    discarded: int  # tasks computed or cancelled past the stopping block


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
    return max(1, min(by_balance, by_size))


def plan(spec: RunSpec, group: int) -> Iterator[Task]:
    """Tasks of ``group`` consecutive blocks, produced lazily (memory stays flat)."""
    for start in range(0, spec.blocks, group):
        stop = min(start + group, spec.blocks)
        yield Task(start, tuple((b, spec.block_samples(b)) for b in range(start, stop)))


def plan_growing(spec: RunSpec, max_group: int, divisor: int) -> Iterator[Task]:
    """Tasks that grow with the run, for runs that may stop early.

    A task holds about 1/``divisor`` of the blocks planned before it (at least
    one, at most ``max_group``), so the work in flight past any stopping
    block -- computed and then discarded -- stays a small fraction of the run
    however early it stops, while long runs still reach full-size tasks.
    """
    start = 0
    while start < spec.blocks:
        stop = min(start + max(1, min(max_group, start // divisor)), spec.blocks)
        yield Task(start, tuple((b, spec.block_samples(b)) for b in range(start, stop)))
        start = stop


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
) -> Moments:
    """Run the blocks of ``spec`` on ``backend`` and fold them in block order.

    The folded accumulator of `execute_traced` (which see).
    """
    return execute_traced(spec, model, backend, progress=progress, retries=retries, group=group, window=window).moments


def execute_traced(
    spec: RunSpec,
    model: Model,
    backend: Backend,
    *,
    progress: Progress | None = None,
    retries: int = 2,
    group: int | None = None,
    window: int | None = None,
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
    """
    job = block_job(spec, model, backend.in_process)
    window = window or (1 if backend.name == "serial" else max(2, 2 * backend.workers))
    if group is not None or not spec.stop:
        tasks = plan(spec, group or blocks_per_task(spec, backend.workers))
    else:
        # In flight past the stopping block: window x task <= 1/8 of the run.
        tasks = plan_growing(spec, blocks_per_task(spec, backend.workers), 8 * window)
    start = time.monotonic()
    monitor = Monitor(spec, model, lambda: time.monotonic() - start)
    ending: Ending | None = None
    again: deque[Task] = deque()  # tasks lost with a dead worker, to run first
    in_flight: dict = {}
    held: dict[int, list[Moments]] = {}  # early arrivals, by first block index
    next_block = 0
    total = Moments.empty(len(model.outputs))
    done_samples = 0
    deaths = 0

    def fill() -> None:
        while len(in_flight) < window:
            task = again.popleft() if again else next(tasks, None)
            if task is None:
                return
            in_flight[backend.submit(run_task, job, list(task.blocks))] = task

    try:
        fill()
        while in_flight and ending is None:
            # A clock-based rule is asked at least every POLL_SECONDS, so a
            # time limit holds even while a slow block is still running.
            timeout = POLL_SECONDS if monitor.polls else None
            finished, _ = wait(list(in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
            lost: list[Task] = []
            for future in finished:
                task = in_flight.pop(future)
                exc = future.exception()
                if exc is None:
                    held[task.start] = future.result()
                elif backend.is_worker_death(exc):
                    lost.append(task)
                else:
                    raise exc
            if lost:
                # The pool is gone: every unfinished task went with it.
                for future, task in list(in_flight.items()):
                    if future.done() and future.exception() is None:
                        held[task.start] = future.result()
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
            while next_block in held and ending is None:
                for m in held.pop(next_block):
                    # Stopping is decided block by block, not task by task, so
                    # the task grouping cannot move the stopping point.
                    total = total.merge(m)
                    done_samples += m.count
                    next_block += 1
                    ending = monitor.after_block(total, next_block)
                    if ending is not None:
                        break
                if progress is not None:
                    progress(done_samples, spec.samples)
            if ending is None and monitor.polls:
                ending = monitor.check_budgets(total, next_block)
            if ending is None:
                fill()
    except BaseException:
        backend.close(cancel=True)
        raise
    # Speculative work past the stopping block: cancel what has not started;
    # what is running finishes (or is stopped by the caller's close) unseen.
    discarded = len(held) + len(in_flight)
    for future in in_flight:
        future.cancel()
    return Outcome(total, monitor.finish(total, next_block, ending), tuple(monitor.trace), discarded)


def replay_block(spec: RunSpec, model: Model, index: int) -> Moments:
    """Re-run one block in this process (to debug a `ModelError`).

    The model's own exception propagates with its full traceback.
    """
    if not 0 <= index < spec.blocks:
        raise ValueError(f"`index` = {index} is not a block of this run; accepted: 0 to {spec.blocks - 1}.")
    job = block_job(spec, model, in_process=True)
    return run_block(job, index, spec.block_samples(index), model.simulate, wrap=False)
