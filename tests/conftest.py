"""Shared helpers of the test suite: numbers of a result, a real Dask cluster, the CLI in-process.

Tiers: golden values at fixed seeds; accuracy inside the
estimator's own interval; identical numbers for every worker count and
executor; interval coverage over many seeds (marked ``slow``, still run in CI).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
# Worker processes and `mc` subprocesses import the test models by name.
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)

# The suite signals runs as a terminal would, so it must not inherit an ignored SIGINT (a shell starts
# background jobs so, and Python then keeps it ignored): Ctrl-C raises here, and `mc` children get it
# at its default again (exec resets a handled signal, never an ignored one).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: The installed command, next to the interpreter running the tests.
MC = str(Path(sys.executable).with_name("mc"))


def numbers(result) -> dict:
    """Every number a run's RunSpec fixes (no timings, no provenance), as JSON values."""
    d = result.to_dict()
    keep = ("samples", "outputs", "derived", "covariance", "accumulator", "trace", "stopping", "continuation",
            "diagnostics", "quantiles", "shortfall")  # fmt: skip
    return {k: d[k] for k in keep if k in d}


def estimates_of(result) -> dict:
    """The estimates and the accumulator only (for runs whose traces may legitimately differ)."""
    d = result.to_dict()
    return {k: d[k] for k in ("samples", "outputs", "derived", "covariance", "accumulator")}


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Runs of the suite that use the cache (experiments do by default) never touch the user's."""
    folder = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("MONTECARLO_CACHE")
    os.environ["MONTECARLO_CACHE"] = str(folder)
    yield folder
    if previous is None:
        del os.environ["MONTECARLO_CACHE"]
    else:
        os.environ["MONTECARLO_CACHE"] = previous


@pytest.fixture(autouse=True)
def no_run_left_behind(request):
    """A slow test that fails part-way leaves no `mc` computing: session leaders it started die with their groups.

    Tests start whole runs in sessions of their own (``start_new_session``)
    to signal them as a terminal would; one that fails before it stops its
    run would leave it, and its workers, running after the suite.
    """
    yield
    if request.node.get_closest_marker("slow") is None:
        return  # the fast tier starts no session
    import signal

    import psutil

    for child in psutil.Process().children():
        with contextlib.suppress(OSError, psutil.Error):
            if os.getsid(child.pid) == child.pid:
                os.killpg(child.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def dask_client():
    """A real ``distributed.LocalCluster`` of two single-threaded worker processes."""
    import distributed

    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def mc(capsys, *args) -> tuple[int, str, str]:
    """Run the CLI in-process: ``(exit code, stdout, stderr)``."""
    from montecarlo.cli import invoke

    code = invoke([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err
