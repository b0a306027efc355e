"""Local worker processes (the default): one per core.

Workers ignore SIGINT so that Ctrl-C reaches only the main process, which then
terminates them; a worker that dies breaks the pool, and the engine asks for a
fresh one and re-runs the lost blocks with the same spawn keys.
"""

from __future__ import annotations

import multiprocessing
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from montecarlo.executors.base import Backend


def _worker_init() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _context() -> multiprocessing.context.BaseContext:
    # fork starts a worker in milliseconds with numpy already imported; models
    # from __main__ or a notebook still travel by value (cloudpickle), so the
    # other start methods work too.
    method = "fork" if sys.platform.startswith("linux") else None
    return multiprocessing.get_context(method)


class ProcessBackend(Backend):
    """Local worker processes, forked on Linux; dead ones are replaced.

    Parameters
    ----------
    workers : int
        Processes in the pool.
    """

    name = "processes"
    restartable = True

    def __init__(self, workers: int) -> None:
        super().__init__(workers)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def pool(self) -> ProcessPoolExecutor:
        """The pool, made at the first task: a run that submits nothing starts no process."""
        if self._pool is None:
            self._pool = self._new_pool()
        return self._pool

    @pool.setter
    def pool(self, pool: ProcessPoolExecutor) -> None:
        self._pool = pool

    @property
    def started(self) -> bool:
        """Whether the pool has been made (its processes start with its first task)."""
        return self._pool is not None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, mp_context=_context(), initializer=_worker_init)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Submit to the pool."""
        return self.pool.submit(fn, *args)

    def is_worker_death(self, exc: BaseException) -> bool:
        """A broken pool: a worker process died."""
        return isinstance(exc, BrokenProcessPool)

    def restart(self) -> None:
        """Stop what is left of the pool and start a new one."""
        self.close(cancel=True)
        self.pool = self._new_pool()

    def close(self, cancel: bool = False) -> None:
        """Shut the pool down; with ``cancel``, terminate the workers at once."""
        if not self.started:
            return
        if cancel:
            # Running tasks cannot be cancelled: stop their processes.
            procs = list((getattr(self.pool, "_processes", None) or {}).values())
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(timeout=1.0)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=1.0)
        else:
            self.pool.shutdown(wait=True)
