"""A thread pool: useful for models whose numpy kernels release the GIL."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from montecarlo.engine.backends.base import Backend
from montecarlo.engine.backends.daemon import DaemonThreads


class ThreadBackend(Backend):
    """A pool of daemon threads in this process.

    Parameters
    ----------
    workers : int
        Threads in the pool.
    """

    name = "threads"
    in_process = True

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.pool = DaemonThreads(workers, "montecarlo")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Submit to the pool."""
        return self.pool.submit(fn, *args)

    def close(self, cancel: bool = False) -> None:
        """Shut the pool down (without waiting when ``cancel``)."""
        # Threads cannot be killed; on cancel the engine stops feeding them and
        # abandons what they run: they are daemons, so the process can exit.
        self.pool.shutdown(wait=not cancel, cancel=cancel)


def backend(execution: Any, workers: int) -> Backend:
    """The backend of the ``"threads"`` executor (`montecarlo.core.execution.BACKENDS`)."""
    return ThreadBackend(workers)
