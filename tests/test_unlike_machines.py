"""Unlike machines give the same numbers: the engine's arithmetic depends on no BLAS kernel, no compiled kernel.

Two ways a user meets another machine, played on this one:

- OpenBLAS picks its kernels for the processor; ``OPENBLAS_CORETYPE=Prescott``
  makes it pick those of an older CPU. Every built-in model and a
  three-output model of a user's own give every number of their JSON
  identically either way, in worker processes.
- A Dask cluster started the way a user starts one on several machines: a
  ``dask scheduler`` and two ``dask worker`` programs, one on the older
  CPU's BLAS kernels and without the compiled kernels (``MONTECARLO_JIT=0``),
  the other with the defaults. The run gives the bits of ``--executor
  serial``, also when one worker is killed mid-run.

(numpy's own choice of SIMD code for ``exp`` or ``log`` by processor
generation is the model's arithmetic, not the engine's: docs/design.md,
"Across machines".)
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import MC

pytestmark = pytest.mark.slow

DASK = str(Path(sys.executable).with_name("dask"))
OLDER_CPU = {"OPENBLAS_CORETYPE": "Prescott"}

MODELS = [
    ("pi", "2e6"),
    ("buffon", "1e6"),
    ("integrate", "4e5"),
    ("european_option", "2e6"),
    ("asian_option", "4e5"),
    ("gamblers_ruin", "2e5"),
    ("tail_probability", "1e6"),
    ("modelzoo:moments3", "1e6"),
]


def numbers(text: str) -> dict:
    """Every number of a result's JSON but its provenance (timings, machine) and checksum."""
    d = json.loads(text)
    return {k: v for k, v in d.items() if k not in ("provenance", "checksum")}


def mc_json(*args: str, env: dict | None = None, timeout: float = 300) -> str:
    out = subprocess.run(
        [MC, "run", *args, "--json", "-q"],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize(("model", "samples"), MODELS)
def test_older_cpu_blas_kernels_give_the_same_numbers(model, samples):
    args = (model, "-n", samples, "--seed", "3", "-w", "2", "--block-size", "65536")
    default = numbers(mc_json(*args))
    older = numbers(mc_json(*args, env=OLDER_CPU))
    assert older == default


@pytest.fixture
def cluster(tmp_path):
    """A scheduler and two workers as separate programs: one like an older machine, one with the defaults."""
    procs = []

    def start(*cmd, env=None, log="log"):
        f = open(tmp_path / log, "w")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        procs.append((p, f))
        return p

    port_file = tmp_path / "scheduler.json"
    start(DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(port_file),
          "--no-dashboard", log="scheduler.log")  # fmt: skip
    deadline = time.monotonic() + 60
    while not port_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    address = json.loads(port_file.read_text())["address"]
    older = start(DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", "older",
                  env={**OLDER_CPU, "MONTECARLO_JIT": "0"}, log="older.log")  # fmt: skip
    start(DASK, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", "newer",
          log="newer.log")  # fmt: skip
    import distributed

    with distributed.Client(address, timeout="60s") as client:
        client.wait_for_workers(2, timeout=60)
    try:
        yield address, older
    finally:
        for p, _ in reversed(procs):
            p.terminate()
        for p, f in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            f.close()


def test_a_cluster_of_unlike_workers_gives_the_serial_numbers(cluster):
    address, _ = cluster
    for model, samples in (("european_option", "2e7"), ("modelzoo:moments3", "1e7")):
        args = (model, "-n", samples, "--seed", "5", "--block-size", "262144")
        serial = numbers(mc_json(*args, "--executor", "serial"))
        dask = numbers(mc_json(*args, "--executor", "dask", "--scheduler", address))
        assert dask == serial, model


def test_killing_a_worker_mid_run_changes_nothing(cluster):
    address, older = cluster
    import psutil

    args = ("european_option", "-n", "1e8", "--seed", "6", "--block-size", "262144")
    serial = numbers(mc_json(*args, "--executor", "serial", timeout=600))
    worker = psutil.Process(older.pid)
    before = sum(worker.cpu_times()[:2])
    run = subprocess.Popen(
        [MC, "run", *args, "--executor", "dask", "--scheduler", address, "--json", "-q"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    while sum(worker.cpu_times()[:2]) - before < 0.5:  # the worker is computing blocks of this run
        assert run.poll() is None, run.communicate()
        time.sleep(0.05)
    os.kill(older.pid, signal.SIGKILL)
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert numbers(out) == serial
    assert not re.search(r"Traceback", err)
