"""A Dask distributed cluster: the same blocks, on as many machines as it has.

Needs the optional extra ``montecarlo[dask]``. Blocks are shipped as plain
function calls (the model travels as cloudpickle bytes, by reference when its
module is importable on the workers, by value otherwise), so a cluster gives
the same numbers as a laptop for the same RunSpec.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any

from montecarlo.executors.base import Backend

INSTALL_HINT = "the dask executor needs the 'distributed' package: pip install 'montecarlo[dask]'"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - exercised without the extra
        raise ImportError(INSTALL_HINT) from exc
    return distributed


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Start child processes with SIGINT ignored (they inherit it), as the
    process pool's workers do: a terminal's Ctrl-C reaches the whole process
    group, and only the main process should act on it."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to arrange
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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
        processes (closed at the end).
    """

    name = "dask"

    def __init__(self, client: Any = None, scheduler: str | None = None, workers: int | None = None) -> None:
        distributed = _distributed()
        self._owned: list[Any] = []
        if client is None:
            if scheduler is None:
                with _sigint_ignored():  # Ctrl-C is for this process, which closes the cluster
                    cluster = distributed.LocalCluster(
                        n_workers=workers or 1,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",
                        # cancelled tasks at shutdown are expected, not news
                        silence_logs=logging.ERROR,
                    )
                self._owned.append(cluster)
                client = distributed.Client(cluster)
            else:
                try:
                    client = distributed.Client(scheduler, timeout="10s")
                except OSError as exc:
                    raise ConnectionError(
                        f"`scheduler` = {scheduler!r}: no Dask scheduler answered ({exc}); "
                        "accepted: the address a running `dask scheduler` prints, such as tcp://HOST:8786."
                    ) from None
            self._owned.insert(0, client)
        self.client = client
        nthreads = sum(client.nthreads().values()) or 1
        super().__init__(nthreads)
        # pure=False: a retried task must run again, not be served from cache.
        self.executor = client.get_executor(pure=False)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        return self.executor.submit(fn, *args)

    def is_worker_death(self, exc: BaseException) -> bool:
        # The scheduler itself re-runs the tasks of a lost worker a few times
        # (distributed.scheduler.allowed-failures); KilledWorker means it gave up.
        from distributed.scheduler import KilledWorker

        return isinstance(exc, KilledWorker)

    def restart(self) -> None:
        """Nothing to rebuild: the cluster replaces its own workers."""

    def close(self, cancel: bool = False) -> None:
        self.executor.shutdown(wait=not cancel)
        for obj in self._owned:
            obj.close()
        self._owned.clear()
