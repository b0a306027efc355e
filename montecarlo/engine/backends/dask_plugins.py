"""Worker plugins for the Dask executor (imported only where distributed is installed)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from distributed import WorkerPlugin


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
