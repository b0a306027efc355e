"""Local worker processes (the default): one per core.

Workers ignore SIGINT so that Ctrl-C reaches only the main process, which then
terminates them; they die with the main process, whatever kills it
(`montecarlo.engine.backends.supervision`); a worker that dies breaks the pool, and
the engine asks for a fresh one and re-runs the lost blocks with the same
spawn keys.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from montecarlo.engine.backends.base import Backend, warn_past_cores
from montecarlo.engine.backends.supervision import die_with_parent, held_signals
from montecarlo.errors import WorkerDiedError


def _worker_init(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    die_with_parent(parent)


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
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=_context(), initializer=_worker_init, initargs=(os.getpid(),)
        )

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Submit to the pool (a signal while it forks its workers is held, not lost).

        A worker that died since the last submission breaks the pool, which
        then refuses new tasks: the task's future carries that death, like
        the tasks it took with it, so the engine replaces the workers and
        runs them all again.
        """
        with held_signals():
            try:
                return self.pool.submit(fn, *args)
            except BrokenProcessPool as exc:
                future: Future = Future()
                future.set_exception(exc)
                return future

    def is_worker_death(self, exc: BaseException) -> bool:
        """A broken pool: a worker process died."""
        return isinstance(exc, BrokenProcessPool)

    def check_alive(self) -> None:
        """The pool's manager thread must live while tasks are in flight (it can fail to start a thread)."""
        manager = getattr(self.pool, "_executor_manager_thread", None)
        if manager is not None and not manager.is_alive() and not getattr(self.pool, "_shutdown_thread", True):
            raise WorkerDiedError(
                "the worker pool stopped: its manager thread ended (out of memory, or of threads?); "
                "no task in flight can finish."
            )

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
            manager = getattr(self.pool, "_executor_manager_thread", None)
            self.pool.shutdown(wait=False, cancel_futures=True)
            for p in procs:
                p.terminate()
            for p in procs:
                p.join(timeout=1.0)
                if p.is_alive():
                    p.kill()
                    p.join(timeout=1.0)
            if manager is not None:
                # Its workers gone, the pool's thread winds down; left running, it
                # races the interpreter's exit over the pool's pipes.
                manager.join(timeout=1.0)
        else:
            self.pool.shutdown(wait=True)


def backend(execution: Any, workers: int) -> Backend:
    """The backend of the ``"processes"`` executor (`montecarlo.core.execution.BACKENDS`)."""
    warn_past_cores(execution.workers)
    return ProcessBackend(workers)
