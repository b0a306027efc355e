"""A real Dask cluster (distributed.LocalCluster with worker processes) gives
the numbers of local processes, including when a worker dies mid-run."""

import contextlib
import os
import re
import signal
import subprocess
import threading
import time

import dask
import distributed  # a test dependency: the cluster tests must run, not skip
import modelzoo
import psutil
import pytest
from conftest import MC, mc, numbers

import montecarlo
from montecarlo import Execution, Sampling, ValidationError, WorkerDiedError
from montecarlo.engine.backends import dask as dask_backend

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


# -- a model that kills its workers: the run fails within seconds, never hangs -----------


# The models are declared (@model), so nothing calls them in the main
# process to learn their outputs: only workers die.


def kills_its_worker():
    """A model that ends its worker process (``os._exit(3)``) in every block, leaving a file named after the pid in ``folder``.

    Made by a function, so that it travels by value: a worker that a cluster
    starts afresh (spawned) does not import this test module.
    """

    def kills_its_worker(rng, n, folder: str = ""):
        if folder:
            with open(os.path.join(folder, str(os.getpid())), "w"):
                pass
        os._exit(3)

    return montecarlo.model(kills_its_worker)


SEGFAULTS = """
import ctypes

from montecarlo import model


@model
def segfault(rng, n):  # crashes its worker process
    ctypes.string_at(0)
"""


def test_mc_run_of_a_model_that_segfaults_on_dask_fails_within_seconds_and_leaves_nothing(tmp_path):
    # The issue: 4 runs in 6 never ended (a busy machine, where the cluster
    # gave up on workers it was still replacing, and the tasks waited).
    (tmp_path / "segfaults_on_dask.py").write_text(SEGFAULTS)
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH", "")) if p)
    proc = subprocess.Popen(
        [MC, "run", "segfaults_on_dask:segfault", "-n", "1e7", "--executor", "dask", "-w", "2", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "PYTHONPATH": path},  # importable by name on workers started afresh
    )
    t0 = time.monotonic()
    try:
        parent = psutil.Process(proc.pid)
        seen: set[psutil.Process] = set()
        while proc.poll() is None and time.monotonic() - t0 < 60:
            with contextlib.suppress(psutil.Error):
                seen.update(parent.children(recursive=True))
            time.sleep(0.05)
        took = time.monotonic() - t0
        _, err = proc.communicate(timeout=5)
        left = psutil.wait_procs(list(seen), timeout=5)[1]  # before the clean-up below kills any
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 1, err
    assert took < 30
    line = r"Error: a worker process died while running blocks \d+-\d+(, blocks \d+-\d+)* \(spawn keys \(0,\)\.\.\.\); gave up after 2 retries\.\n"
    assert re.fullmatch(line, err), err
    assert seen and not left


def test_a_model_that_kills_its_dask_worker_runs_retries_more_times_then_fails(tmp_path):
    # One block, so each try kills one worker. The scheduler of the run's own
    # cluster re-runs nothing itself: the block runs 1 + retries times, as on
    # local processes.
    deaths = tmp_path / "deaths"
    deaths.mkdir()
    t0 = time.monotonic()
    said = r"^a worker process died while running block 0 \(spawn keys \(0,\)\.\.\.\); gave up after 1 retry\.$"
    with pytest.raises(WorkerDiedError, match=said):
        montecarlo.run(
            kills_its_worker(),
            1000,
            rng=1,
            sampling=Sampling(block_size=1000),
            execution=Execution("dask", workers=2, retries=1),
            params={"folder": str(deaths)},
        )
    assert time.monotonic() - t0 < 30
    assert len(list(deaths.iterdir())) == 2


def test_on_a_cluster_of_the_callers_its_allowed_failures_come_first(tmp_path):
    # KilledWorker after the cluster's own re-runs (allowed-failures), and
    # the run's retries on top: (1 + 1) x (1 + 0) workers die.
    deaths = tmp_path / "deaths"
    deaths.mkdir()
    with (
        distributed.LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            scheduler_kwargs={"allowed_failures": 1},
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        with pytest.raises(WorkerDiedError, match=r"block 0 .*; gave up after 0 retries\.$"):
            montecarlo.run(
                kills_its_worker(),
                1000,
                rng=1,
                sampling=Sampling(block_size=1000),
                execution=Execution(client, retries=0),
                params={"folder": str(deaths)},
            )
    assert len(list(deaths.iterdir())) == 2


def test_a_worker_the_runs_own_cluster_gave_up_on_is_started_again(tmp_path):
    # A LocalCluster drops a worker that is not back within
    # distributed.deploy.lost-worker-timeout of a death (a replacement on a
    # busy machine can take that long): the run starts it again rather than
    # wait for it, and the numbers are those of a run without deaths.
    marker = str(tmp_path / "died")
    sampling = Sampling(block_size=1000)
    die_once = montecarlo.model(modelzoo.die_once)
    ref = montecarlo.run(die_once, 20_000, rng=8, execution="serial", sampling=sampling, params={"marker": ""})
    with dask.config.set({"distributed.deploy.lost-worker-timeout": "0s"}):
        r = montecarlo.run(
            die_once,
            20_000,
            rng=8,
            execution=Execution("dask", workers=1),
            sampling=sampling,
            params={"marker": marker},
        )
    assert os.path.exists(marker)  # a worker process really died
    assert r.to_dict()["outputs"] == ref.to_dict()["outputs"]


def test_a_run_on_a_cluster_left_without_workers_fails_after_a_bounded_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(dask_backend, "NO_WORKER_SECONDS", 1.0)
    marker = tmp_path / "started"
    with (
        distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        distributed.Client(cluster) as client,
    ):

        def retire_the_workers():
            deadline = time.monotonic() + 60
            while not marker.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            cluster.scale(0)  # its one worker leaves, and none comes

        threading.Thread(target=retire_the_workers, daemon=True).start()
        t0 = time.monotonic()
        said = r"^the Dask cluster at tcp://\S+ has had no worker for 1 s .*; in flight: block 0 \(spawn keys \(0,\)\.\.\.\)\.$"
        with pytest.raises(WorkerDiedError, match=said):
            montecarlo.run(
                montecarlo.model(modelzoo.forever),
                1000,
                rng=1,
                execution=client,
                sampling=Sampling(block_size=1000),
                params={"marker": str(marker), "seconds": 30.0},
            )
        assert time.monotonic() - t0 < 30


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
