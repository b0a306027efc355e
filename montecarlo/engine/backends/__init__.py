"""Executor backends behind one small interface (`Backend`), chosen from an `Execution`.

The engine asks a backend only what it declares (`Backend.in_process`,
`Backend.eager`, `Backend.restartable`), never its name.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor

from montecarlo.core.execution import Execution, is_dask_client
from montecarlo.core.spec import RunSpec
from montecarlo.engine.backends.base import Backend, ExecutorBackend
from montecarlo.errors import OversubscriptionWarning

__all__ = ["Backend", "ExecutorBackend", "default_workers", "make_backend", "pool_size", "workers_of"]


def default_workers() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def workers_of(execution: Execution) -> int:
    """The worker count of ``execution``: as given, the executor's own, or every core."""
    if execution.workers is not None:
        return execution.workers
    return getattr(execution.executor, "_max_workers", None) or default_workers()


def pool_size(workers: int, specs: Sequence[RunSpec]) -> int:
    """Workers worth starting for ``specs`` (run one after another): never more than the tasks of the largest.

    A task holds at least one block, so the block count bounds the tasks;
    and the plan cuts a run into at least as many tasks as workers when it
    has the blocks (`montecarlo.engine.plan.blocks_per_task`).
    """
    if not specs:
        return workers
    return max(1, min(workers, max(s.blocks for s in specs)))


def _warn_past_cores(execution: Execution) -> None:
    """Say once (Python's warning registry) that processes past one per core gain nothing."""
    cores = default_workers()
    if execution.workers is not None and execution.workers > cores:
        warnings.warn(
            f"{execution.workers} workers asked for on {cores} cores: worker processes past one per core "
            "add start-up time and memory, not speed; at most one per task is started.",
            OversubscriptionWarning,
            stacklevel=4,
        )


def make_backend(execution: Execution, specs: Iterable[RunSpec] = ()) -> Backend:
    """The backend that runs ``specs`` as ``execution`` says.

    No more local workers start than the largest run has tasks
    (`pool_size`; the backend's ``note`` says why when that is fewer than
    asked for), and asking for more workers than cores warns. The model runs
    in this process only when ``"serial"`` or ``"threads"`` is asked for: a
    run of one block, or on one worker, still gets a worker process, so a
    model that crashes or exits cannot take the caller down with it. A
    backend, an executor or a client passed in is used as given.
    """
    executor = execution.executor
    workers = workers_of(execution)
    if isinstance(executor, Backend):
        return executor
    if isinstance(executor, Executor):
        return ExecutorBackend(executor, workers)
    specs = list(specs)
    if executor == "dask" or is_dask_client(executor):
        from montecarlo.engine.backends.dask import DaskBackend

        if executor == "dask" and execution.scheduler is None:
            _warn_past_cores(execution)
            return DaskBackend(workers=pool_size(workers, specs))
        if executor == "dask":
            return DaskBackend(scheduler=execution.scheduler, workers=workers)
        return DaskBackend(client=executor)
    if executor == "serial":
        from montecarlo.engine.backends.serial import SerialBackend

        return SerialBackend()
    size = pool_size(workers, specs)
    backend: Backend
    if executor == "threads":
        from montecarlo.engine.backends.threads import ThreadBackend

        backend = ThreadBackend(size)
    else:
        from montecarlo.engine.backends.processes import ProcessBackend

        _warn_past_cores(execution)
        backend = ProcessBackend(size)
    if size < workers:
        blocks = max(s.blocks for s in specs)
        backend.note = (
            "the run is one block" if blocks == 1 else f"the run has {blocks} blocks"
        ) + "; a smaller --block-size splits it across more workers"
    return backend
