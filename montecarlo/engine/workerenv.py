"""Where blocks run: one native thread per worker, and a memory allocator that keeps its pages.

**One thread.**
The engine's parallelism is its workers, one per core. A native library
that starts threads of its own inside every worker -- OpenBLAS does for the
co-moment product ``d.T @ d`` of `montecarlo.stats.moments.batch_moments` --
makes two workers run four threads on two cores, and a run with workers
slower than one without. Worse, OpenBLAS splits a long dot product among
its threads and adds the partial sums in another order, so the numbers of a
one-output float model would depend on the thread count: on the machine's
core count, and on the executor (Dask workers start with one BLAS thread).

Every thread pool that ``threadpoolctl`` knows (OpenBLAS, MKL, BLIS,
FlexiBLAS, OpenMP runtimes) is therefore held to one thread wherever blocks
run:

- in the calling process, for the whole of a run (`one_thread`, entered by
  the scheduler): tasks run there by the serial or thread executor, or by a
  caller's thread pool, see the limit; the previous limits come back when
  the run ends;
- in a worker process, from its first task on (`prepare_worker`): the
  process exists to run tasks side by side with other workers, and Dask
  starts its workers with one BLAS thread for the same reason.

A model that calls BLAS itself gets one thread too, and so does a library
it loads while blocks run: the usual environment variables
(`THREAD_VARIABLES`) are set to 1 meanwhile, and native libraries read them
when they load.

**Pages kept.** A batch allocates buffers of a few hundred KiB to a few
MiB. glibc's malloc serves them from its heap once it has seen one freed
(its mmap threshold adapts), but gives the top of the heap back to the
system whenever more than twice that threshold lies free there: how often
depends on where the batch's buffers happen to land, and a fresh worker
running ``european_option`` faulted 84 pages in afresh every batch. Setting
any of glibc's tuning variables switches the adaptation off -- Dask's nanny
sets ``MALLOC_TRIM_THRESHOLD_=65536`` for its workers -- and every such
buffer is then mapped, faulted in page by page, zeroed and unmapped again,
in every batch: the π model ran at half speed on Dask workers for that
alone. `keep_pages` therefore sets, in every worker process and in the
``mc`` command's own (whose serial executor runs blocks), the thresholds
the adaptation would reach for buffers up to 32 MiB (``M_MMAP_THRESHOLD``
32 MiB, ``M_TRIM_THRESHOLD`` twice that), unless ``MALLOC_MMAP_THRESHOLD_``
was set explicitly. Memory kept by a process stays bounded by that: 64 MiB
at most at the top of each heap. A caller's own process, where
`montecarlo.run` runs blocks in-process, keeps its allocator as it is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
import threading
from collections.abc import Iterator
from typing import Any

#: Read by native libraries when they load: OpenMP, OpenBLAS, MKL, BLIS, Apple's Accelerate, numexpr.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)

#: glibc's tuning variables: setting any of them fixes its mmap threshold at 128 KiB.
MALLOC_VARIABLES = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_MMAP_MAX_")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems

_lock = threading.Lock()
_runs = 0  # runs of this process holding the limit (one_thread)
_drives_runs = False  # a run was driven from this process: it is no worker
_limiter: Any = None  # threadpoolctl's record of the limits to restore
_environ: dict[str, str | None] = {}  # the variables before the first run set them
_controller: Any = None
_modules_seen = -1  # len(sys.modules) when the controller last looked for libraries
_worker_limited_at = -1  # len(sys.modules) when prepare_worker last applied the limit
_malloc_tuned = False


def driver_only() -> None:
    """In a process that only drives runs (the ``mc`` command), before numpy loads: one native thread, pages kept.

    Blocks run with one native thread wherever they run (above), and the
    process that drives them needs no more. OpenBLAS loaded with more keeps
    a thread that spins for about 0.1 s of CPU after each threaded call and
    after each change of its limit: at the start and the end of a run, in
    the driver, and in each forked worker that inherits it -- a quarter of
    the CPU of a short ``mc run`` on two cores, taken from its workers.
    Loaded with one thread, it never starts one; a child process inherits
    the setting.

    Its memory allocator keeps its pages as a worker's does (`keep_pages`):
    the serial executor runs blocks in this process, and a batch's buffers
    would otherwise be faulted in afresh whenever glibc gave the top of its
    heap back.
    """
    os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    keep_pages()


def _reset_after_fork() -> None:
    # A forked worker runs no run of its own, whatever its parent was doing,
    # and its lock is free.
    global _lock, _runs, _drives_runs, _limiter, _worker_limited_at, _malloc_tuned
    _lock = threading.Lock()
    _malloc_tuned = False
    _runs = 0
    _drives_runs = False
    _limiter = None
    _environ.clear()
    _worker_limited_at = -1


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_reset_after_fork)


def _thread_pools() -> Any:
    """The controller (threadpoolctl) of the native libraries loaded now.

    Finding the libraries walks every loaded shared object (milliseconds),
    so the controller is kept, and made again only when modules were
    imported since (a model may load a library with threads of its own,
    such as scipy's own OpenBLAS, on its first call).
    """
    global _controller, _modules_seen
    if _controller is None or len(sys.modules) != _modules_seen:
        from threadpoolctl import ThreadpoolController

        _modules_seen = len(sys.modules)
        _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Hold native thread pools to one thread while a run goes on in this process.

    Entered and left by the thread that drives the run. Runs that overlap
    in one process share the limit: the first sets it, and it is restored
    when the last ends.
    """
    global _runs, _drives_runs, _limiter
    with _lock:
        _drives_runs = True
        if _runs == 0:
            _environ.update({name: os.environ.get(name) for name in THREAD_VARIABLES})
            os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))
            _limiter = _thread_pools().limit(limits=1)
            _limiter.__enter__()  # threadpoolctl's protocol: this thread owns the limit
        _runs += 1
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0 and _limiter is not None:
                _limiter.__exit__(None, None, None)
                _limiter = None
                for name, value in _environ.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value
                _environ.clear()


def prepare_worker() -> None:
    """At the start of a task in a worker process: one thread from now on, and malloc's pages kept.

    Nothing in a process that drives runs (`one_thread` holds the limit
    there while a run goes on; a task left over from an ended run must not
    keep the caller's process at one thread). Cheap after the first call:
    the limit is applied again only when modules were imported since
    (libraries loaded by the model).
    """
    global _worker_limited_at
    if _drives_runs or len(sys.modules) == _worker_limited_at:
        return
    keep_pages()
    with _lock:
        os.environ.update(dict.fromkeys(THREAD_VARIABLES, "1"))  # for libraries loaded later
        _thread_pools().limit(limits=1)  # kept for the life of the worker process
        _worker_limited_at = len(sys.modules)


def keep_pages() -> None:
    """Fix glibc's thresholds where its adaptation would take them: the heap's top is not given back between batches.

    Done once per process: in every worker, in the ``mc`` command's own
    process (`driver_only`), and by benchmarks that time blocks in theirs.
    Nothing where ``MALLOC_MMAP_THRESHOLD_`` is set, or the C library is not glibc.
    """
    global _malloc_tuned
    if _malloc_tuned:
        return
    _malloc_tuned = True
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return
    mallopt = ctypes.CDLL(None).mallopt
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)
