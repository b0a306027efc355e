"""A Dask distributed cluster: the same blocks, on as many machines as it has.

Needs the optional extra ``montecarlo-engine[dask]``. Blocks are shipped as plain
function calls (the model travels as cloudpickle bytes, by reference when its
module is importable on the workers, by value otherwise), so a cluster gives
the same numbers as a laptop for the same RunSpec.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from montecarlo.engine.backends.base import Backend, warn_past_cores

INSTALL_HINT = "the dask executor needs the 'distributed' package: pip install 'montecarlo-engine[dask]'"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(INSTALL_HINT) from exc
    return distributed


@contextlib.contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """Hold a Ctrl-C or SIGTERM that arrives while a local cluster starts.

    An interrupted start could leave its processes behind; the caller
    delivers the signal again once the handlers are back.
    """
    pending: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    try:
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda n, frame: pending.append(n))
    except ValueError:  # not the main thread: nothing to arrange
        pass
    try:
        yield pending
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _CancelledCascade(logging.Filter):
    """Drops distributed's log of a cancelled task handed to a settled future.

    Its concurrent.futures bridge logs it when a run cancels its tasks:
    expected when a run stops, and not about the run's numbers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return "_cascade_future" not in record.getMessage()


_CANCEL_FILTER = _CancelledCascade()


class DaskBackend(Backend):
    """Run tasks on a Dask cluster.

    Parameters
    ----------
    client : distributed.Client, optional
        A client the caller owns (left open at the end).
    scheduler : str, optional
        Address of a running scheduler, e.g. ``"tcp://10.0.0.5:8786"``.
    workers : int, optional
        With neither ``client`` nor ``scheduler``: start a
        ``distributed.LocalCluster`` of this many single-threaded worker
        processes, forked from this one on Linux (closed at the end).
    """

    name = "dask"
    restartable = True  # the cluster replaces its own workers
    #: A Dask task costs about 6 ms of CPU in the process of its client and
    #: scheduler and 4 ms in its worker, twenty times a process pool's (π,
    #: 4e8 samples on a running two-worker LocalCluster: 96 tasks took 0.76 s
    #: of the driver's CPU, 24 tasks 0.31 s, 6 tasks 0.22 s); 2**26 samples,
    #: ~0.3 s of π work, keep that to a few percent.
    task_samples = 1 << 26

    def __init__(self, client: Any = None, scheduler: str | None = None, workers: int | None = None) -> None:
        distributed = _distributed()
        self._owned: list[Any] = []
        if client is None:
            if scheduler is None:
                with _signals_deferred() as pending:
                    try:
                        client = self._start_local_cluster(distributed, workers or 1)
                    except Exception:
                        if not pending:
                            raise
                        # A Ctrl-C in the start-up also reaches the workers
                        # being started, which then fail the start: it is the
                        # Ctrl-C that the user should hear about.
                if pending:
                    self._close_owned()
                    signal.raise_signal(pending[0])  # now to the caller's own handler
                    raise KeyboardInterrupt  # (should that handler not raise)
            else:
                from montecarlo.engine.backends.dask_connect import connect

                client = connect(distributed, scheduler)
                self._owned.insert(0, client)
        self.client = client
        nthreads = sum(client.nthreads().values()) or 1
        super().__init__(nthreads)
        logging.getLogger("tornado.application").addFilter(_CANCEL_FILTER)  # once: filters are a set
        # pure=False: a retried task must run again, not be served from cache.
        self.executor = client.get_executor(pure=False)

    def _start_local_cluster(self, distributed: Any, workers: int) -> Any:
        import dask

        # Forked, a worker starts in a tenth of a second with distributed,
        # numpy and montecarlo already imported; spawned (Dask's default), each
        # imports them afresh, about a second on two busy cores, and its close
        # takes a third of a second more. Only the first workers are forked:
        # one the cluster replaces later starts as Dask's configuration says.
        method = "fork" if sys.platform.startswith("linux") else None
        with dask.config.set({"distributed.worker.multiprocessing-method": method} if method else {}):
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                # nobody could find a dashboard on a random port of a run's own
                # cluster; with bokeh installed, starting one costs start-up time
                dashboard_address=None,
                # its workers lose their scheduler when a run stops: expected, not news
                silence_logs=logging.CRITICAL,
            )
        self._owned.append(cluster)
        client = distributed.Client(cluster)
        self._owned.insert(0, client)
        from montecarlo.engine.backends.dask_plugins import WorkerSignals

        client.register_plugin(WorkerSignals())
        return client

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Submit to the cluster (as a `concurrent.futures.Future`)."""
        return self.executor.submit(fn, *args)

    def is_worker_death(self, exc: BaseException) -> bool:
        """`distributed.scheduler.KilledWorker`: the scheduler gave up re-running a lost worker's task."""
        # The scheduler itself re-runs the tasks of a lost worker a few times
        # (distributed.scheduler.allowed-failures); KilledWorker means it gave up.
        from distributed.scheduler import KilledWorker

        return isinstance(exc, KilledWorker)

    def restart(self) -> None:
        """Nothing to rebuild: the cluster replaces its own workers."""

    def close(self, cancel: bool = False) -> None:
        """Stop submitting; close the client and cluster this backend started."""
        self.executor.shutdown(wait=not cancel)
        self._close_owned()

    def _close_owned(self) -> None:
        for obj in self._owned:  # the client first, then its cluster
            obj.close()
        self._owned.clear()


def backend(execution: Any, workers: int) -> Backend:
    """The backend of the ``"dask"`` executor: the cluster at ``execution.scheduler``, or a LocalCluster of ``workers``."""
    if execution.scheduler is not None:
        return DaskBackend(scheduler=execution.scheduler)
    warn_past_cores(execution.workers)
    return DaskBackend(workers=workers)
