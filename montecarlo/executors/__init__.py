"""Executor backends behind one small interface (`Backend`), by name."""

from __future__ import annotations

import os
from concurrent.futures import Executor
from typing import Any

from montecarlo.executors.base import Backend, ExecutorBackend

#: Backends by the name the CLI and RunSpec-free options use.
EXECUTORS = ("processes", "threads", "serial", "dask")


def default_workers() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def is_dask_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


def make_backend(executor: Any, workers: int, scheduler: str | None = None) -> Backend:
    """A `Backend` for an executor name, a `Backend`, a `concurrent.futures.Executor`
    or a ``distributed.Client``; ``scheduler`` is the address for ``"dask"``."""
    if isinstance(executor, Backend):
        return executor
    if isinstance(executor, Executor):
        return ExecutorBackend(executor, workers)
    if executor == "dask" or is_dask_client(executor):
        from montecarlo.executors.dask import DaskBackend

        if executor == "dask":
            return DaskBackend(scheduler=scheduler, workers=workers)
        return DaskBackend(client=executor)
    if executor == "serial":
        from montecarlo.executors.serial import SerialBackend

        return SerialBackend()
    if executor == "threads":
        from montecarlo.executors.threads import ThreadBackend

        return ThreadBackend(workers)
    if executor == "processes":
        from montecarlo.executors.processes import ProcessBackend

        return ProcessBackend(workers)
    raise ValueError(
        f"`executor` = {executor!r} is not one of: {', '.join(EXECUTORS)}, or a concurrent.futures.Executor."
    )
