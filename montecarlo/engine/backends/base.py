"""The one interface every executor backend implements, and the capabilities it declares."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from montecarlo.errors import OversubscriptionWarning


class Backend:
    """Runs tasks somewhere and hands back `concurrent.futures.Future` objects.

    A backend implements `submit`; the engine owns scheduling, ordering and
    retries, so a backend stays small. What a backend can do is declared, not
    guessed from its name:

    Attributes
    ----------
    name : str
        Recorded in a result's provenance.
    workers : int
        Tasks it runs at once.
    in_process : bool
        Tasks run in this process: the model is passed as is, not pickled.
    eager : bool
        Tasks run one at a time, in submission order: one task in flight is
        enough, and a stopping run computes nothing past its stopping task.
    restartable : bool
        Dead workers are replaced (`restart`) and their blocks run again;
        otherwise a worker death (`is_worker_death`) fails the run at once.
    private_random : bool
        While a task runs, no other code of its process draws from the
        `random` module (false for a Dask worker, whose event loop does, and
        for a caller's executor): a task that moved that state then moved
        it itself (`montecarlo.engine.worker.watched`).
    task_samples : int
        Samples a task aims at (`montecarlo.engine.plan.blocks_per_task`):
        large enough that what a task costs to hand out and to hand back
        vanishes beside its work, small enough for progress, Ctrl-C and
        load balance. A backend whose tasks cost more aims at larger ones.
    """

    name = "base"
    in_process = False
    eager = False
    restartable = False
    private_random = True
    #: A task of a local pool costs its driver about half a millisecond of
    #: CPU (taken from the workers when every core is busy, measured on the
    #: π run): 2**24 samples, ~70 ms of π work, make that vanish.
    task_samples = 1 << 24

    def __init__(self, workers: int) -> None:
        self.workers = workers
        #: When fewer workers start than were asked for: ``{"asked": n, "blocks": b}`` (the run has only b blocks).
        self.fewer: dict | None = None

    def dispatch(self) -> None:
        """Start the tasks submitted so far, for a backend that runs them in rounds (a map-like function)."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on a worker."""
        raise NotImplementedError

    def is_worker_death(self, exc: BaseException) -> bool:
        """Whether this task failed because its worker died (rather than its code)."""
        return False

    def check_alive(self) -> None:
        """Raise `montecarlo.errors.WorkerDiedError` if tasks in flight can no longer finish.

        Asked while no task has finished for a while, so that a pool that
        broke without failing its futures cannot make a run wait forever.
        """

    def restart(self) -> None:
        """Replace dead workers after `is_worker_death` (pending futures are lost)."""
        raise RuntimeError(f"the {self.name} executor cannot replace a dead worker")

    def close(self, cancel: bool = False) -> None:
        """Release the workers; with ``cancel``, stop running tasks at once."""


class ExecutorBackend(Backend):
    """Any `concurrent.futures.Executor` given by the caller (who keeps ownership).

    Parameters
    ----------
    executor : concurrent.futures.Executor
    workers : int
    """

    private_random = False  # a caller's executor: its other work may draw from `random`
    name = "executor"

    def __init__(self, executor: Executor, workers: int) -> None:
        super().__init__(workers)
        self.executor = executor

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Submit to the caller's executor."""
        return self.executor.submit(fn, *args)

    def is_worker_death(self, exc: BaseException) -> bool:
        """A broken process pool."""
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(exc, BrokenProcessPool)


def default_workers() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def warn_past_cores(workers: int | None) -> None:
    """Say once (Python's warning registry) that processes past one per core gain nothing."""
    cores = default_workers()
    if workers is not None and workers > cores:
        warnings.warn(
            f"{workers} workers asked for on {cores} cores: worker processes past one per core "
            "add start-up time and memory, not speed; at most one per task is started.",
            OversubscriptionWarning,
            stacklevel=5,
        )
