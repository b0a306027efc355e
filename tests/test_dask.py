"""A real Dask cluster (distributed.LocalCluster with worker processes) gives
the numbers of local processes, including when a worker dies mid-run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import distributed  # a test dependency: the cluster tests must run, not skip
import modelzoo
import psutil
import pytest

import montecarlo


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def numbers(r):
    d = r.to_dict()
    return d["outputs"], d["covariance"], d["accumulator"]


@pytest.mark.parametrize("seed", [0, 2**32])
def test_dask_cluster_equals_local_processes(client, seed):
    local = montecarlo.run("pi", samples=3 * 10**7, rng=seed, workers=2)
    on_dask = montecarlo.run("pi", samples=3 * 10**7, rng=seed, executor=client)
    assert on_dask.provenance["executor"] == "dask"
    assert numbers(on_dask) == numbers(local)


def test_multi_output_model_from_a_test_module(client):
    local = montecarlo.run(modelzoo.moments3, 50_000, rng=3, executor="serial")
    assert numbers(montecarlo.run(modelzoo.moments3, 50_000, rng=3, executor=client)) == numbers(local)


def test_a_killed_dask_worker_changes_nothing(client, tmp_path):
    marker = str(tmp_path / "died")
    ref = montecarlo.run(modelzoo.die_once, 40_000, rng=8, executor="serial", block_size=1000, params={"marker": ""})
    r = montecarlo.run(modelzoo.die_once, 40_000, rng=8, executor=client, block_size=1000, params={"marker": marker})
    assert (tmp_path / "died").exists()  # a worker process really died
    assert r.to_dict()["outputs"] == ref.to_dict()["outputs"]


def test_executor_dask_by_name_starts_and_closes_a_local_cluster():
    r = montecarlo.run("pi", samples=10**7, rng=1, workers=2, executor="dask")
    assert r.provenance["executor"] == "dask"
    assert numbers(r) == numbers(montecarlo.run("pi", samples=10**7, rng=1, executor="serial"))


def start_dask_run():
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "mc"), "run", "pi", "-n", "1e12", "--executor", "dask", "-w", "2", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("delay", [0.0, 0.4])
def test_a_signal_while_the_local_cluster_starts_is_not_lost(delay, sig, code):
    proc = start_dask_run()
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while not parent.children(recursive=True) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    children = parent.children(recursive=True)
    os.killpg(proc.pid, sig)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err
    assert not psutil.wait_procs(children, timeout=5)[1]


@pytest.mark.parametrize("sig, code, word", [(signal.SIGINT, 130, "Interrupted"), (signal.SIGTERM, 143, "Terminated")])
def test_signals_stop_a_dask_run_and_its_local_cluster(sig, code, word):
    proc = start_dask_run()
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while len(parent.children(recursive=True)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(2)  # the cluster is up and computing
    children = parent.children(recursive=True)
    t0 = time.monotonic()
    os.killpg(proc.pid, sig)  # as a terminal's Ctrl-C reaches the whole group
    try:
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == code, err
    assert time.monotonic() - t0 < 5
    assert word in err and "Traceback" not in err
    assert not psutil.wait_procs(children, timeout=5)[1]


def test_a_scheduler_address_needs_the_dask_executor(capsys):
    from montecarlo.cli import invoke

    with pytest.raises(ValueError, match="`scheduler` = 'tcp://x:1' needs executor='dask'"):
        montecarlo.run("pi", 10, scheduler="tcp://x:1")
    assert invoke(["run", "pi", "--scheduler", "tcp://x:1", "-q"]) == 2
    assert "--scheduler tcp://x:1 needs --executor dask" in capsys.readouterr().err
