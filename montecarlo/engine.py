"""Scheduling, the in-order fold, retries and progress.

The sample range is cut into blocks (`RunSpec.block_size`), consecutive blocks
are grouped into tasks, at most a small window of tasks is in flight, and the
accumulators that come back are merged strictly in block order, holding early
arrivals until the prefix before them is complete (DESIGN.md §1). Task
grouping, worker count and completion order therefore change nothing but the
time taken.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass

from montecarlo.blocks import BlockJob, ModelError, run_block, run_task
from montecarlo.executors.base import Backend
from montecarlo.model import Model
from montecarlo.spec import RunSpec
from montecarlo.stats import Moments

#: Samples a task aims at: large enough that scheduling costs vanish, small
#: enough that progress, Ctrl-C and load balance stay responsive.
TASK_SAMPLES = 1 << 22

Progress = Callable[[int, int], None]


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
    """Run every block of ``spec`` on ``backend`` and fold them in block order.

    Parameters
    ----------
    group : int, optional
        Blocks per task (default: `blocks_per_task`).
    window : int, optional
        Tasks in flight at most (default: twice the worker count).
    retries : int
        How many times dead workers are replaced before the run fails.
    """
    job = block_job(spec, model, backend.in_process)
    group = group or blocks_per_task(spec, backend.workers)
    window = window or max(2, 2 * backend.workers)
    tasks = plan(spec, group)
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
        while in_flight:
            finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
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
            while next_block in held:
                results = held.pop(next_block)
                for m in results:
                    total = total.merge(m)
                    done_samples += m.count
                next_block += len(results)
                if progress is not None:
                    progress(done_samples, spec.samples)
            fill()
    except BaseException:
        backend.close(cancel=True)
        raise
    return total


def replay_block(spec: RunSpec, model: Model, index: int) -> Moments:
    """Re-run one block in this process (to debug a `ModelError`).

    The model's own exception propagates with its full traceback.
    """
    if not 0 <= index < spec.blocks:
        raise ValueError(f"`index` = {index} is not a block of this run; accepted: 0 to {spec.blocks - 1}.")
    job = block_job(spec, model, in_process=True)
    return run_block(job, index, spec.block_samples(index), model.simulate, wrap=False)
