"""The plan of a run: consecutive blocks grouped into tasks, produced lazily.

Task grouping is a scheduling choice only: every number of the result is the
same for any grouping (blocks are folded one by one, in block order).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from montecarlo.core.spec import RunSpec

#: Blocks a task holds at most: a task returns one accumulator per block (the
#: fold must merge blocks one by one, in order), so this bounds the memory
#: of results in flight however small the blocks are.
TASK_BLOCKS = 256


@dataclass(frozen=True)
class Task:
    """Consecutive blocks run together on one worker.

    Attributes
    ----------
    start : int
        Index of the first block.
    blocks : tuple of (int, int)
        ``(index, samples)`` of each block, in order.
    """

    start: int
    blocks: tuple[tuple[int, int], ...]

    def describe(self) -> str:
        """``block 4`` or ``blocks 4-7``."""
        first, last = self.blocks[0][0], self.blocks[-1][0]
        return f"block {first}" if first == last else f"blocks {first}-{last}"


def blocks_per_task(spec: RunSpec, workers: int, task_samples: int) -> int:
    """Blocks per task: about four tasks per worker, at most ``task_samples`` (the backend's) and `TASK_BLOCKS`."""
    by_balance = -(-spec.blocks // (4 * workers))
    by_size = max(1, task_samples // spec.block_size)
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
    """Tasks of ``group`` consecutive blocks from block ``first``, produced lazily (memory stays flat).

    With ``workers``, tasks shrink towards the end of the run (to a share of
    the blocks left per worker, at least one block), so that no worker is left
    computing a long last task while the others idle.
    """
    if workers is None:
        return _tasks(spec, first, lambda start: group, skip)
    n = workers
    return _tasks(spec, first, lambda start: min(group, (spec.blocks - start) // (2 * n)), skip)


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
