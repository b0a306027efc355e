"""Worker plugins and the worker class of the Dask executor (imported only where distributed is installed)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Any

from distributed import Worker, WorkerPlugin


class QuietWorker(Worker):
    """A worker of the cluster a run starts for itself: Dask's logs stay out of the run's stderr.

    The cluster's ``silence_logs`` quiets the stream handlers only until a
    worker closes, and a worker the cluster replaced is a fresh process,
    closed at the run's end, often while it is still starting (the run
    failed because its model killed the workers): that close then logs,
    and can fail with a traceback, about a run that is over. Here the
    ``distributed`` loggers keep to critical messages for the worker's life,
    and once it closes nothing it prints reaches the terminal; until then
    the model's own output does.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        logging.getLogger("distributed").setLevel(logging.CRITICAL)
        super().__init__(*args, **kwargs)

    async def close(self, *args: Any, **kwargs: Any) -> Any:
        """Close the worker, its output from now on discarded."""
        sys.stderr = sys.stdout = open(os.devnull, "w")  # for the rest of the process
        return await super().close(*args, **kwargs)


class WorkerSignals(WorkerPlugin):
    """Workers of a cluster a run starts for itself ignore SIGINT and die of SIGTERM.

    As the process pool's workers do: a terminal's Ctrl-C reaches the whole
    process group, and only the main process acts on it (it closes the
    cluster). A worker forked from the main process starts with its
    handlers, which would hold a SIGTERM instead of ending the worker.
    """

    name = "montecarlo-worker-signals"

    def setup(self, worker: Any) -> None:
        """Ignore SIGINT and take SIGTERM's default action, in the worker's main thread."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
