"""In-process execution, one task at a time: a real backend, not a special case."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from montecarlo.engine.backends.base import Backend
from montecarlo.engine.backends.daemon import DaemonThreads


class SerialBackend(Backend):
    """Runs tasks one at a time in this process, on one helper thread.

    The calling thread only waits, so a Ctrl-C, a SIGTERM or a time limit
    ends the run even while a model never returns, and whatever the model
    raises (`SystemExit`, `KeyboardInterrupt` included) is the model's
    error, never taken for the user's Ctrl-C.

    Parameters
    ----------
    workers : int
        Ignored: always one.
    """

    name = "serial"
    in_process = True
    eager = True

    def __init__(self, workers: int = 1) -> None:
        super().__init__(1)
        self.pool = DaemonThreads(1, "montecarlo-serial")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue ``fn(*args)`` for the helper thread."""
        return self.pool.submit(fn, *args)

    def close(self, cancel: bool = False) -> None:
        """Let the helper thread end (abandoning its task when ``cancel``)."""
        self.pool.shutdown(wait=not cancel, cancel=cancel)


def backend(execution: Any, workers: int) -> Backend:
    """The backend of the ``"serial"`` executor (`montecarlo.core.execution.BACKENDS`)."""
    return SerialBackend()
