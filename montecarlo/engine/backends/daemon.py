"""Daemon worker threads: the in-process executors' pool, which never holds the process open.

`concurrent.futures.ThreadPoolExecutor` joins its threads when the
interpreter exits, so a model that never returns keeps ``mc`` alive after
Ctrl-C, SIGTERM or a time limit has ended the run. These threads are
daemons: a run that stops abandons the task they hold (its result is
discarded), and the process exits whatever the model does. Threads cannot
be killed: in a long-lived Python session an abandoned task runs on until
the model returns.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any


class DaemonThreads:
    """``workers`` daemon threads taking tasks in submission order.

    Parameters
    ----------
    workers : int
        Threads in the pool.
    name : str
        Prefix of the threads' names.
    """

    def __init__(self, workers: int, name: str) -> None:
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)]
        for t in self._threads:
            t.start()

    def _work(self) -> None:
        while True:
            item = self._tasks.get()
            if item is None:
                return
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = fn(*args)
            except BaseException as exc:  # a thread has no caller to raise to: the future carries it
                future.set_exception(exc)
            else:
                future.set_result(result)
            del item, future, fn, args  # hold nothing of a finished task while waiting for the next

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue ``fn(*args)``; the future holds its result or exception."""
        future: Future = Future()
        self._tasks.put((future, fn, args))
        return future

    def shutdown(self, wait: bool = True, cancel: bool = False) -> None:
        """Let the threads end after their current task; with ``cancel``, drop queued tasks first."""
        if cancel:
            while True:
                try:
                    item = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in self._threads:
            self._tasks.put(None)
        if wait:
            for t in self._threads:
                t.join()
