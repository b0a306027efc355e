"""Provenance: the software, machine and times behind a result (never part of its numbers)."""

from __future__ import annotations

import functools
import os
import platform
import sys
from datetime import UTC, datetime
from typing import Any


def version_of(dist: str) -> str | None:
    """Version of an installed distribution (from the module when it is loaded: cheaper)."""
    module = sys.modules.get(dist)
    if module is not None and isinstance(getattr(module, "__version__", None), str):
        return module.__version__
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def iso(t: float) -> str:
    """A POSIX time as an ISO 8601 UTC timestamp with milliseconds."""
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def software() -> dict[str, Any]:
    """Versions and machine: what may change a number's last bits across installs."""
    return dict(_software())


@functools.cache
def _software() -> dict[str, Any]:
    """`software`, found once per process (a run asks at its end; the scan for the BLAS takes a millisecond)."""
    import numpy

    from montecarlo._version import __version__

    return {
        "montecarlo": __version__,
        "numpy": numpy.__version__,
        "blas": blas(),
        "scipy": version_of("scipy"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
    }


def run_provenance(executor: str, workers: int, started: float, elapsed: float, samples: int) -> dict[str, Any]:
    """`software` plus how and when one run was executed."""
    return {
        **software(),
        "executor": executor,
        "workers": workers,
        "started": iso(started),
        "finished": iso(started + elapsed),
        "elapsed_s": elapsed,
        "throughput": samples / elapsed if elapsed > 0 else None,
    }


def blas() -> str | None:
    """The BLAS numpy runs here: library, version and the CPU kernels it chose, e.g. ``openblas 0.3.31 Haswell``.

    No statistic of the engine calls BLAS (`montecarlo.stats.sums`), but a
    model that does (``x @ y``, ``np.linalg``) may give other last bits with
    another library or on another family of processors, whose kernels add
    in another order. None when no BLAS is loaded.
    """
    import numpy  # noqa: F401  # loads the BLAS to be found
    from threadpoolctl import threadpool_info

    libraries = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    ours = [i for i in libraries if "numpy" in str(i.get("filepath", ""))] or libraries
    described = sorted(
        {" ".join(str(i[k]) for k in ("internal_api", "version", "architecture") if i.get(k)) for i in ours}
    )
    return "; ".join(described) or None
