"""A real Dask cluster (distributed.LocalCluster with worker processes) gives
the numbers of local processes, including when a worker dies mid-run."""

import contextlib
import os
import signal
import subprocess
import time

import distributed  # noqa: F401  # a test dependency: the cluster tests must run, not skip
import modelzoo
import psutil
import pytest
from conftest import MC, mc, numbers

import montecarlo
from montecarlo import Execution, Sampling, ValidationError

pytestmark = pytest.mark.slow  # end to end: processes, clusters, signals, whole programs


@pytest.mark.parametrize("seed", [0, 2**32])
def test_dask_cluster_equals_local_processes(dask_client, seed):
    local = montecarlo.run("pi", samples=3 * 10**7, rng=seed, execution=Execution(workers=2))
    on_dask = montecarlo.run("pi", samples=3 * 10**7, rng=seed, execution=dask_client)
    assert on_dask.provenance["executor"] == "dask"
    assert numbers(on_dask) == numbers(local)


def test_multi_output_model_from_a_test_module(dask_client):
    local = montecarlo.run(modelzoo.moments3, 50_000, rng=3, execution="serial")
    assert numbers(montecarlo.run(modelzoo.moments3, 50_000, rng=3, execution=dask_client)) == numbers(local)


def test_a_killed_dask_worker_changes_nothing(dask_client, tmp_path):
    marker = str(tmp_path / "died")
    sampling = Sampling(block_size=1000)
    ref = montecarlo.run(modelzoo.die_once, 40_000, rng=8, execution="serial", sampling=sampling, params={"marker": ""})
    r = montecarlo.run(
        modelzoo.die_once, 40_000, rng=8, execution=dask_client, sampling=sampling, params={"marker": marker}
    )
    assert (tmp_path / "died").exists()  # a worker process really died
    assert r.to_dict()["outputs"] == ref.to_dict()["outputs"]


def test_executor_dask_by_name_starts_and_closes_a_local_cluster():
    r = montecarlo.run("pi", samples=10**7, rng=1, execution=Execution("dask", workers=2))
    assert r.provenance["executor"] == "dask"
    assert numbers(r) == numbers(montecarlo.run("pi", samples=10**7, rng=1, execution="serial"))


def test_the_cluster_a_run_starts_replaces_a_worker_that_sigterm_ends(tmp_path):
    # Its workers are forked from this process, whose SIGTERM handler (held
    # while the cluster starts) they must not keep: SIGTERM ends a worker.
    marker = str(tmp_path / "terminated")
    sampling = Sampling(block_size=1000)
    ref = montecarlo.run(modelzoo.terminate_once, 40_000, rng=8, execution="serial", sampling=sampling)
    r = montecarlo.run(
        modelzoo.terminate_once,
        40_000,
        rng=8,
        execution=Execution("dask", workers=2),
        sampling=sampling,
        params={"marker": marker},
    )
    assert (tmp_path / "terminated").exists()  # a worker process really received it
    assert r.to_dict()["outputs"] == ref.to_dict()["outputs"]


@contextlib.contextmanager
def dask_run():
    """``mc run pi -n 1e12`` on a local cluster of its own, in a session of its own.

    Whatever the test does, the process group (the run and its workers) is
    killed at the end: a failed test leaves nothing computing behind.
    """
    proc = subprocess.Popen(
        [MC, "run", "pi", "-n", "1e12", "--executor", "dask", "-w", "2", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_a_signal_while_the_local_cluster_starts_is_not_lost(delay, sig, code):
    with dask_run() as proc:
        parent = psutil.Process(proc.pid)
        deadline = time.monotonic() + 60
        while not parent.children(recursive=True) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(delay)
        children = parent.children(recursive=True)
        os.killpg(proc.pid, sig)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == code, err
        assert not psutil.wait_procs(children, timeout=5)[1]  # before the clean-up kills any


def wait_for_started_workers(parent, n):
    """Until ``n`` worker processes have started their threads.

    A worker still starting (slow on a loaded machine) is not yet part of
    the cluster, so a Ctrl-C then would test start-up rather than a running
    cluster (that is the test above). Workers are forked, so they carry the
    parent's command line; a worker is a child with threads of its own.
    """
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = 0
        for child in parent.children():
            try:
                if child.num_threads() > 1:
                    started += 1
            except psutil.Error:
                pass
        if started >= n:
            return
        time.sleep(0.1)
    raise AssertionError("the cluster's workers did not start")


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated")])
def test_signals_stop_a_dask_run_and_its_local_cluster(sig, code, word):
    with dask_run() as proc:
        wait_for_started_workers(psutil.Process(proc.pid), 2)
        time.sleep(2)  # the cluster is up and computing
        parent = psutil.Process(proc.pid)
        children = parent.children(recursive=True)
        t0 = time.monotonic()
        os.killpg(proc.pid, sig)  # as a terminal's Ctrl-C reaches the whole group
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == code, err
        assert time.monotonic() - t0 < 5
        assert word in err and "Traceback" not in err
        assert not psutil.wait_procs(children, timeout=5)[1]  # before the clean-up kills any


def test_a_scheduler_address_needs_the_dask_executor(capsys):
    with pytest.raises(ValidationError, match="`scheduler` = 'tcp://x:1' needs the dask executor"):
        montecarlo.run("pi", 10, execution=Execution(scheduler="tcp://x:1"))
    code, _, err = mc(capsys, "run", "pi", "--scheduler", "tcp://x:1", "-q")
    assert code == 2 and "--scheduler tcp://x:1 needs the dask executor" in err
