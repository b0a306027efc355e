"""In-process execution: a real backend, not a special case."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from montecarlo.executors.base import Backend


class SerialBackend(Backend):
    """Runs each task in the calling thread when it is submitted.

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

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` now; the future holds its result or exception."""
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future
