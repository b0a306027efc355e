"""The one interface every executor backend implements."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any


class Backend:
    """Runs tasks somewhere and hands back `concurrent.futures.Future` objects.

    A backend implements `submit`; backends whose workers can die also
    implement `is_worker_death` and `restart`, and `close` stops them. The
    engine owns scheduling, ordering and retries, so a backend stays small.
    """

    name = "base"
    #: True when tasks run in this process (the engine then skips pickling).
    in_process = False

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        raise NotImplementedError

    def is_worker_death(self, exc: BaseException) -> bool:
        """Did this task fail because its worker died (rather than its code)?"""
        return False

    def restart(self) -> None:
        """Replace dead workers after `is_worker_death` (pending futures are lost)."""
        raise RuntimeError(f"the {self.name} executor cannot replace a dead worker")

    def close(self, cancel: bool = False) -> None:
        """Release the workers; with ``cancel``, stop running tasks at once."""


class ExecutorBackend(Backend):
    """Any `concurrent.futures.Executor` given by the caller (who keeps ownership)."""

    name = "executor"

    def __init__(self, executor: Executor, workers: int) -> None:
        super().__init__(workers)
        self.executor = executor

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.executor.submit(fn, *args)

    def is_worker_death(self, exc: BaseException) -> bool:
        from concurrent.futures.process import BrokenProcessPool

        return isinstance(exc, BrokenProcessPool)
