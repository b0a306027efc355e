"""In-process execution: a real backend, not a special case."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from montecarlo.executors.base import Backend


class SerialBackend(Backend):
    """Runs each task in the calling thread when it is submitted."""

    name = "serial"
    in_process = True

    def __init__(self, workers: int = 1) -> None:
        super().__init__(1)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future
