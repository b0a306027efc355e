"""A thread pool: useful for models whose numpy kernels release the GIL."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from montecarlo.executors.base import Backend


class ThreadBackend(Backend):
    name = "threads"
    in_process = True

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="montecarlo")

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.pool.submit(fn, *args)

    def close(self, cancel: bool = False) -> None:
        # Threads cannot be killed; on cancel the engine stops feeding them and
        # the ones running finish their current task.
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)
