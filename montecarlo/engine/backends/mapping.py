"""A map-like function as a backend: scipy's ``workers`` convention (``workers=pool.map``).

``multiprocessing.Pool.map``, ``concurrent.futures.Executor.map``, the
builtin ``map`` or any function ``mapper(function, iterable)`` that returns
the results in order: the engine hands it the tasks it would keep in
flight, one round at a time, and folds what comes back in block order as
with any other backend, so the numbers are those of every other executor.
The model travels pickled (the mapper may send it to other processes). An
error in one task is returned as that task's outcome, not raised by the
mapper, so the run names the first failing block in block order.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from montecarlo.engine.backends.base import Backend


def _task(call: tuple[Callable[..., Any], tuple]) -> tuple[bool, Any]:
    """Run one task; its result or its exception (a mapper stops at the first exception it sees)."""
    fn, args = call
    try:
        return True, fn(*args)
    except Exception as exc:  # the model's error, reported with its block by the fold
        return False, exc


class MapBackend(Backend):
    """Tasks in rounds through the caller's map-like function (left to the caller: never closed).

    Parameters
    ----------
    mapper : callable
        ``mapper(function, iterable)``: the results in the iterable's order.
    workers : int
        How many tasks a round holds at most is twice this.
    """

    private_random = False  # a caller's map: its other work may draw from `random`
    name = "map"

    def __init__(self, mapper: Callable[..., Any], workers: int) -> None:
        super().__init__(workers)
        self.mapper = mapper
        self._pending: list[tuple[Future, Callable[..., Any], tuple]] = []

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue ``fn(*args)`` for the next round."""
        future: Future = Future()
        self._pending.append((future, fn, args))
        return future

    def dispatch(self) -> None:
        """Run the queued tasks in one call of the mapper, in this thread."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        outcomes = list(self.mapper(_task, [(fn, args) for _, fn, args in pending]))
        for (future, _, _), (ok, value) in zip(pending, outcomes, strict=True):
            if future.set_running_or_notify_cancel():
                future.set_result(value) if ok else future.set_exception(value)

    def close(self, cancel: bool = False) -> None:
        """Drop tasks not yet dispatched."""
        for future, _, _ in self._pending:
            future.cancel()
        self._pending.clear()
