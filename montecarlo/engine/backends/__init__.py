"""Where tasks run: backends behind one small interface (`Backend`), made from an `Execution`.

The engine asks a backend only what it declares (`Backend.in_process`,
`Backend.eager`, `Backend.restartable`), never its name. Executors are found
by name in `montecarlo.core.execution.BACKENDS` (`montecarlo.register_backend`
adds one); an executor object, a ``distributed.Client`` or a map-like
function given by the caller is wrapped as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import Executor

from montecarlo.core.execution import BACKENDS, Execution, is_dask_client, is_map_like
from montecarlo.core.spec import RunSpec
from montecarlo.engine.backends.base import Backend, ExecutorBackend, default_workers

__all__ = ["Backend", "ExecutorBackend", "default_workers", "make_backend", "pool_size"]


def pool_size(workers: int, specs: Sequence[RunSpec]) -> int:
    """Workers worth starting for ``specs`` (run one after another): never more than the tasks of the largest.

    A task holds at least one block, so the block count bounds the tasks;
    and the plan cuts a run into at least as many tasks as workers when it
    has the blocks (`montecarlo.engine.plan.blocks_per_task`).
    """
    if not specs:
        return workers
    return max(1, min(workers, max(s.blocks for s in specs)))


def make_backend(execution: Execution, specs: Iterable[RunSpec] = ()) -> Backend:
    """The backend that runs ``specs`` as ``execution`` says.

    A named executor gets the workers worth starting (`pool_size`: no more
    than the largest run has tasks; the backend's ``fewer`` records why when
    that is fewer than asked for). The model runs in this process only when
    ``"serial"`` or ``"threads"`` is asked for: a run of one block, or on one
    worker, still gets a worker process, so a model that crashes or exits
    cannot take the caller down with it. A backend, an executor, a client or
    a map-like function passed in is used as given; without ``workers`` its
    work is cut for this machine's core count.
    """
    executor = execution.executor
    workers = execution.workers or default_workers()
    if isinstance(executor, Backend):
        return executor
    if isinstance(executor, Executor):
        return ExecutorBackend(executor, workers)
    if is_dask_client(executor):
        from montecarlo.engine.backends.dask import DaskBackend

        return DaskBackend(client=executor)
    if is_map_like(executor):
        from montecarlo.engine.backends.mapping import MapBackend

        return MapBackend(executor, workers)
    specs = list(specs)
    size = pool_size(workers, specs)
    backend = BACKENDS.get(executor)(execution, size)
    if not isinstance(backend, Backend):
        raise TypeError(f"the {executor!r} executor's factory returned {backend!r}, not a montecarlo Backend")
    if backend.workers < workers and size < workers and not backend.eager:  # (serial runs one by design)
        backend.fewer = {"asked": workers, "blocks": max(s.blocks for s in specs)}
    return backend
