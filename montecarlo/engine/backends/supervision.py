"""Supervision of worker processes and of the signals that stop a run.

Two promises of docs/design.md ("Failures") live here, apart from how pools are made:

- A worker never outlives the process that started it. On Linux the kernel
  kills it when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``);
  elsewhere a watchdog thread in the worker notices that it was re-parented.
  So ``kill -9`` of ``mc`` (or of a Python program calling `montecarlo.run`)
  leaves no process behind, and none holding the terminal's pipes open.
- A Ctrl-C or SIGTERM is never lost while a pool starts. A signal handler
  that raises does so at the next bytecode of the main thread, and if that
  bytecode belongs to an at-fork callback, Python prints "Exception ignored"
  and the run goes on. `held_signals` records such a signal instead and
  delivers it once the fork is over.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

#: ``PR_SET_PDEATHSIG`` from ``<linux/prctl.h>``.
PR_SET_PDEATHSIG = 1

#: Seconds between the watchdog's looks at its parent (where the kernel cannot help).
WATCHDOG_SECONDS = 0.2

#: The signals that stop a run.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _kernel_kills_orphans() -> bool:
    """Ask Linux to SIGKILL this process when the thread that forked it ends; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
    except (OSError, AttributeError):  # no libc, or no prctl: fall back to the watchdog
        return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCHDOG_SECONDS)
    os._exit(1)


def die_with_parent(parent: int, kernel: bool = True) -> None:
    """Make the calling (worker) process end within a second of ``parent``'s death.

    Parameters
    ----------
    parent : int
        The pid of the process that started this one.
    kernel : bool
        Use the kernel's parent-death signal where there is one (Linux); the
        watchdog thread otherwise. The death signal is tied to the *thread*
        that forked the worker: pools must be started by a thread that lives
        as long as they do (the engine's thread does).
    """
    if not (kernel and _kernel_kills_orphans()):
        threading.Thread(target=_watch, args=(parent,), name="montecarlo-watchdog", daemon=True).start()
    if os.getppid() != parent:  # the parent died before we asked to follow it
        os._exit(1)


@contextlib.contextmanager
def held_signals() -> Iterator[list[int]]:
    """Hold a Ctrl-C or SIGTERM that arrives inside the block; deliver it when the block ends.

    The signal then reaches the handler that was in place before (raising
    `KeyboardInterrupt` or the CLI's SIGTERM exception in the caller's own
    code, where it propagates). Only the main thread may set handlers:
    elsewhere nothing is held (signals are delivered to the main thread
    anyway).

    Yields
    ------
    list of int
        The signals received so far.
    """
    pending: list[int] = []
    previous: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in STOP_SIGNALS:
            handler = signal.getsignal(signum)
            if handler is None:  # installed outside Python: cannot be put back
                continue
            previous[signum] = signal.signal(signum, lambda n, frame: pending.append(n))
    try:
        yield pending
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            signal.raise_signal(pending[0])
