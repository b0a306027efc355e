"""The in-order fold: block accumulators merged strictly in block order.

Blocks arrive in any order (docs/design.md, "Folding"); each is held until every block
before it is folded, then merged with Chan's pairwise update. The fold is
also what a checkpoint saves: its state is published in one assignment after
each block's merge and trace point, so a Ctrl-C or SIGTERM raised between any
two statements can never save a block twice or a trace point an
uninterrupted run would not record.
"""

from __future__ import annotations

import numpy as np

from montecarlo.core.spec import RunSpec
from montecarlo.engine.monitor import Ending, Monitor
from montecarlo.engine.overflow import is_finite, overflow_error
from montecarlo.errors import ModelError
from montecarlo.records.checkpoint import RunState
from montecarlo.stats.accumulators import Stats


def columns_error(index: int, spec: RunSpec, got: int, before: int) -> ModelError:
    """A plain function whose block ``index`` returned another number of columns than the blocks before it."""
    key = (*spec.spawn_key, index)
    error = ModelError(
        f"model returned {got} column(s) in block {index} and {before} before it: a model's outputs are the same "
        f"in every call (block {index}, spawn key {key})",
        index,
        key,
    )
    error.seed, error.spec = spec.entropy, spec
    return error


class Fold:
    """Holds early blocks and folds the contiguous prefix, asking the monitor after each block.

    Parameters
    ----------
    spec : RunSpec
    monitor : Monitor
    state : RunState
        Where to start (a fresh state, a checkpoint's or a finished run's
        whole-block prefix).
    """

    def __init__(self, spec: RunSpec, monitor: Monitor, state: RunState) -> None:
        self.spec = spec
        self.monitor = monitor
        self.next_block = state.next_block
        self.total = state.total
        self.held: dict[int, Stats] = dict(state.held)
        self.failed: dict[int, BaseException] = {}  # a task's model error, by its first block
        self.moved: set[str] = set()  # global random states a task moved (engine/worker.py, `watched`)
        # The whole-block prefix: where an extension of this run continues
        # (unknown when a resumed state had already folded a short last block).
        whole = self.total.count == self.next_block * spec.block_size
        self.prefix: Stats | None = self.total if whole else None
        self.prefix_blocks = self.next_block if whole else 0
        self._published = (self.next_block, self.total, len(monitor.trace))
        # A resumed prefix may already satisfy a rule (a run that had stopped).
        self.ending: Ending | None = monitor.decide(self.total, self.next_block)

    def add(self, start: int, results: list[Stats]) -> None:
        """The accumulators of a task's consecutive blocks, from block ``start``."""
        for i, m in enumerate(results):
            self.held[start + i] = m
        self.moved.update(getattr(results, "moved", ()))

    def fail(self, start: int, error: BaseException) -> None:
        """A task from block ``start`` failed in the model; raised when the fold reaches it.

        So the error reported is the first failing block in block order,
        whatever finished first.
        """
        self.failed[start] = error

    @property
    def ready(self) -> bool:
        """Whether the next block to fold has arrived (or failed)."""
        return self.next_block in self.held or self.next_block in self.failed

    def advance(self) -> bool:
        """Fold every block that is ready, in order, until a rule ends the run; True if any was folded."""
        folded = False
        while self.ending is None:
            error = self.failed.get(self.next_block)
            if error is not None:
                raise error
            m = self.held.get(self.next_block)
            if m is None:
                break
            if self.total.count and m.moments.mean.size != self.total.moments.mean.size:
                error = columns_error(self.next_block, self.spec, m.moments.mean.size, self.total.moments.mean.size)
                raise error
            # Stopping is decided block by block, not task by task, so the
            # task grouping cannot move the stopping point.
            with np.errstate(over="ignore", invalid="ignore"):  # an overflow is the model's error
                total = self.total.merge(m)
            if not is_finite(total):
                error = overflow_error(self.next_block, (*self.spec.spawn_key, self.next_block), "when folded")
                error.seed, error.spec = self.spec.entropy, self.spec
                raise error
            self.total = total
            self.next_block += 1
            if m.count == self.spec.block_size:  # only the last block may be short
                self.prefix, self.prefix_blocks = self.total, self.next_block
            folded = True
            self.ending = self.monitor.after_block(self.total, self.next_block)
            self._published = (self.next_block, self.total, len(self.monitor.trace))
            del self.held[self.next_block - 1]
        return folded

    def finish(self) -> Ending:
        """Close the fold (the trace's last point); blocks held past the end are dropped."""
        self.ending = self.monitor.finish(self.total, self.next_block, self.ending)
        self.held.clear()
        self._published = (self.next_block, self.total, len(self.monitor.trace))
        return self.ending

    def snapshot(self, complete: bool = False) -> RunState:
        """The published state, for a checkpoint."""
        done, total, points = self._published
        early = {b: m for b, m in self.held.items() if b >= done}
        return RunState(done, total, early, self.monitor.trace[:points], complete)
