"""Native thread pools run one thread while blocks run, and get their limits back afterwards."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import montecarlo
from montecarlo.engine.workerenv import THREAD_VARIABLES, one_thread


def most_threads() -> int:
    return max(lib["num_threads"] for lib in threadpool_info())


def test_numpy_links_a_thread_pool_that_the_limit_sees():
    assert np.ones(2) @ np.ones(2) == 2.0  # numpy's BLAS is loaded
    assert threadpool_info(), "no native thread pool found: the tests below would check nothing"


def test_one_thread_inside_and_the_previous_limits_after():
    with threadpool_limits(2):
        with one_thread():
            assert most_threads() == 1
            with one_thread():  # nested: still one
                assert most_threads() == 1
            assert most_threads() == 1
        assert most_threads() == 2


def test_runs_overlapping_in_threads_share_the_limit_until_the_last_ends():
    first_in, second_done, seen = threading.Event(), threading.Event(), []

    def first():
        with one_thread():
            first_in.set()
            second_done.wait(10)
            seen.append(("first, after the second ended", most_threads()))

    before = most_threads()
    assert before > 1, "a machine of one core cannot show a limit"
    t = threading.Thread(target=first)
    t.start()
    first_in.wait(10)
    with one_thread():
        seen.append(("second", most_threads()))
    second_done.set()
    t.join(10)
    assert sorted(seen) == [("first, after the second ended", 1), ("second", 1)]
    assert most_threads() == before


def test_libraries_loaded_during_a_run_read_one_thread_from_the_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with one_thread():
        assert {os.environ[name] for name in THREAD_VARIABLES} == {"1"}
    assert os.environ["OMP_NUM_THREADS"] == "3" and "OPENBLAS_NUM_THREADS" not in os.environ


@pytest.mark.slow
def test_a_worker_process_keeps_one_thread_for_libraries_it_loads_later():
    code = (
        "import numpy, os, sys; from montecarlo.engine import workerenv as t; t.prepare_worker(); "
        "from threadpoolctl import threadpool_info as i; "
        "print(max(x['num_threads'] for x in i()), os.environ['OPENBLAS_NUM_THREADS'])"
    )
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split() == ["1", "1"]


def test_an_in_process_run_gives_the_callers_limits_back():
    with threadpool_limits(2):
        montecarlo.run("european_option", 1 << 16, rng=1, execution="serial")
        assert most_threads() == 2


def test_a_block_replayed_in_process_gives_the_runs_numbers():
    spec = montecarlo.make_spec("european_option", 1 << 20, rng=4)  # one block of 32 BLAS-sized batches
    run = montecarlo.run("european_option", 1 << 20, rng=4, execution="serial")
    with threadpool_limits(2):
        replayed = montecarlo.replay_block(spec, 0)
    assert replayed.to_dict() == run.to_dict()["accumulator"]


FAULTS = """
import resource, numpy as np
from montecarlo.engine import workerenv

def faults_per_batch():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(50):
        np.ones(1 << 17).sum()  # a 1 MiB buffer per batch, as the pi model's
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 50

faults_per_batch()  # the heap grows once
untuned = faults_per_batch()
workerenv.prepare_worker()
faults_per_batch()  # the heap grows once
print(untuned, faults_per_batch())
"""


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_a_worker_started_with_dasks_malloc_variable_stops_faulting_in_fresh_pages_every_batch():
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}  # what Dask's nanny sets for its workers
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True, env=env, check=True)
    untuned, tuned = map(float, out.stdout.split())
    assert untuned >= 200  # every 1 MiB buffer mapped afresh: 256 pages of 4 KiB
    assert tuned < 5


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_the_mc_commands_own_process_keeps_its_pages_as_a_worker_does():
    # Its serial executor runs blocks there.
    env = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    script = FAULTS.replace("workerenv.prepare_worker()", "workerenv.driver_only()")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    untuned, tuned = map(float, out.stdout.split())
    assert untuned >= 200 and tuned < 5


@pytest.mark.slow
def test_a_worker_without_those_variables_keeps_its_pages_too():
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", FAULTS], capture_output=True, text=True, env=env, check=True)
    untuned, tuned = map(float, out.stdout.split())
    assert untuned < 5 and tuned < 5


def test_the_blas_numpy_runs_is_named_with_the_kernels_it_chose():
    # OpenBLAS adds a dot product's terms in an order that depends on the
    # kernels it picks for the CPU: results record which ones ran.
    import threadpoolctl

    from montecarlo.records.provenance import blas, software

    described = blas()
    assert described == software()["blas"]
    loaded = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert loaded and any(str(i["version"]) in described and i["internal_api"] in described for i in loaded)


TASK_FAULTS = """
import resource
import montecarlo
from montecarlo.engine.jobs import block_job
from montecarlo.engine.worker import run_task

spec = montecarlo.make_spec("european_option", 8 * 2**20, rng=1)
model = spec.model_record
job = block_job(spec, model, False)  # as a worker process receives it
blocks = [(b, spec.block_samples(b)) for b in range(spec.blocks)]
run_task(job, blocks[:2])  # imports, and the heap grows once
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
run_task(job, blocks[2:])
batches = sum(n for _, n in blocks[2:]) / spec.batch_size
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / batches)
"""


@pytest.mark.slow
@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's malloc only")
def test_a_worker_process_keeps_its_pages_from_batch_to_batch():
    # Freeing a batch before the model makes the next let glibc give the top
    # of the heap back, and each batch faulted its pages in afresh (about 50
    # page faults a batch, a quarter more CPU).
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    out = subprocess.run([sys.executable, "-c", TASK_FAULTS], capture_output=True, text=True, env=env, check=True)
    assert float(out.stdout) < 5


DRIVER = """
import sys
from montecarlo.cli import main
try:
    main(["run", "pi", "-n", "1e5", "-q", "--workers", "2"])
except SystemExit as exc:
    assert exc.code == 0, exc.code
from threadpoolctl import threadpool_info
print(max(lib["num_threads"] for lib in threadpool_info()))
"""


@pytest.mark.slow
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: native libraries start one thread anyway")
def test_the_mc_command_loads_native_libraries_with_one_thread():
    # Loaded with more, OpenBLAS spins a thread after the limit of a run comes off, in the driver and in each worker.
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    out = subprocess.run([sys.executable, "-c", DRIVER], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.split()[-1] == "1", out.stdout + out.stderr
