"""Worker plugins for the Dask executor (imported only where distributed is installed)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from distributed import WorkerPlugin


class IgnoreSigint(WorkerPlugin):
    """Workers of a cluster a run starts for itself ignore SIGINT.

    As the process pool's workers do: a terminal's Ctrl-C reaches the whole
    process group, and only the main process acts on it (it closes the cluster).
    """

    name = "montecarlo-ignore-sigint"

    def setup(self, worker: Any) -> None:
        """Ignore SIGINT in the worker's main thread."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
