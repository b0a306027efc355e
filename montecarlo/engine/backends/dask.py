"""A Dask distributed cluster: the same blocks, on as many machines as it has.

Needs the optional extra ``montecarlo-engine[dask]``. Blocks are shipped as plain
function calls (the model travels as cloudpickle bytes, by reference when its
module is importable on the workers, by value otherwise), so a cluster gives
the same numbers as a laptop for the same RunSpec.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from montecarlo.engine.backends.base import Backend, warn_past_cores
from montecarlo.errors import WorkerDiedError

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

#: Seconds a run waits, while tasks are in flight, for a worker to join a
#: cluster of the caller's that has none left (they died, or left) before it
#: fails: the cluster may be replacing them.
NO_WORKER_SECONDS = 60.0
#: The same for the cluster a run starts for itself, whose nannies replace a
#: dead worker in about a second (a few on a busy machine).
OWN_NO_WORKER_SECONDS = 15.0
#: Seconds the count of a cluster's workers may take to come back.
ASK_SECONDS = 5.0
#: Seconds between two counts (the engine asks more often under a time limit).
ASK_EVERY_SECONDS = 1.0


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

    Notes
    -----
    A worker that dies fails its task with ``KilledWorker`` once the
    scheduler gives up re-running it (``distributed.scheduler.allowed-failures``),
    and the engine then re-runs the task's blocks up to the run's ``retries``.
    On the cluster a run starts for itself the scheduler re-runs nothing
    (``allowed_failures=0``), so a model that kills its worker fails the run
    after ``retries`` replacements, as with local processes. A cluster left
    with no worker while tasks are in flight fails the run after
    `OWN_NO_WORKER_SECONDS` (its own) or `NO_WORKER_SECONDS` (a caller's).
    """

    private_random = False  # the worker's event loop draws from `random` (retry jitter) while tasks run
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
        self._cluster: Any = None  # the LocalCluster this backend started
        self._asked = workers or 1
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
        threads = client.nthreads()
        nthreads = sum(threads.values()) or 1
        super().__init__(nthreads)
        # A cluster that has no worker yet may be starting them: only one that
        # had workers and lost them all is given a deadline (`check_alive`).
        self._had_workers = bool(threads)
        self._workerless_since: float | None = None
        self._asked_at = -math.inf
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
        from montecarlo.engine.backends.dask_plugins import QuietWorker, WorkerSignals

        with dask.config.set({"distributed.worker.multiprocessing-method": method} if method else {}):
            cluster = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                worker_class=functools.partial(distributed.Nanny, worker_class=QuietWorker),
                # nobody could find a dashboard on a random port of a run's own
                # cluster; with bokeh installed, starting one costs start-up time
                dashboard_address=None,
                # its workers lose their scheduler when a run stops: expected, not news
                silence_logs=logging.CRITICAL,
                scheduler_kwargs={
                    # A task whose worker died fails at once (KilledWorker) and the
                    # engine re-runs it, up to the run's `retries`, as with local
                    # processes; Dask's own re-runs (3 by default) would multiply
                    # them, each a worker to replace.
                    "allowed_failures": 0,
                    # Without a dashboard the scheduler still serves HTTP, on port
                    # 8787 unless told otherwise, and warns on stderr when another
                    # cluster on this machine holds that port.
                    "dashboard_address": ":0",
                },
            )
        self._owned.append(cluster)
        self._cluster = cluster
        client = distributed.Client(cluster)
        self._owned.insert(0, client)
        client.register_plugin(WorkerSignals())
        return client

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Submit to the cluster (as a `concurrent.futures.Future`)."""
        return self.executor.submit(fn, *args)

    def is_worker_death(self, exc: BaseException) -> bool:
        """`distributed.scheduler.KilledWorker`: the scheduler gave up re-running a lost worker's task."""
        # The scheduler itself re-runs the tasks of a lost worker a few times
        # (distributed.scheduler.allowed-failures; none on a run's own
        # cluster); KilledWorker means it gave up.
        from distributed.scheduler import KilledWorker

        return isinstance(exc, KilledWorker)

    def check_alive(self) -> None:
        """Fail when the cluster has had no worker for a while (all died, none came back) while tasks wait.

        A LocalCluster's nannies replace a dead worker, but the cluster gives
        up on one that is not back within ``distributed.deploy.lost-worker-timeout``
        of a death (on a busy machine, a worker killed again and again), and
        a nanny whose worker fails to start gives up; the tasks would then
        wait for workers forever.
        """
        now = time.monotonic()
        if now - self._asked_at < ASK_EVERY_SECONDS:
            return
        self._asked_at = now
        if self._worker_count() > 0:
            self._had_workers = True
            self._workerless_since = None
            return
        if not self._had_workers:
            return
        if self._workerless_since is None:
            self._workerless_since = now
        self._replace_lost_workers()
        patience = OWN_NO_WORKER_SECONDS if self._cluster is not None else NO_WORKER_SECONDS
        if now - self._workerless_since >= patience:
            where = "this run's Dask cluster" if self._cluster is not None else f"the Dask cluster at {self._address()}"
            raise WorkerDiedError(
                f"{where} has had no worker for {patience:g} s (its workers died or left, and none came back): "
                "no task in flight can finish."
            )

    def _worker_count(self) -> int:
        """Workers the scheduler has now (none when it does not answer in time)."""
        try:
            return len(self.client.nthreads(callback_timeout=ASK_SECONDS))
        except Exception:  # a scheduler that is gone, or too busy to answer
            return 0

    def _address(self) -> str:
        try:
            return str(self.client.scheduler.address)
        except AttributeError:  # pragma: no cover - a client without a scheduler
            return "(unknown)"

    def _replace_lost_workers(self) -> None:
        """Start workers again that the run's own cluster gave up on (a no-op while it has them all)."""
        cluster = self._cluster
        if cluster is None or len(cluster.workers) >= self._asked:
            return
        with contextlib.suppress(Exception):  # a cluster closing: the deadline decides
            cluster.scale(self._asked)

    def restart(self) -> None:
        """The cluster replaces dead workers itself; the run's own cluster also gets back any it gave up on."""
        self._replace_lost_workers()

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
