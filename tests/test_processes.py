"""End-to-end with real processes and signals: the installed `mc`, Ctrl-C,
SIGTERM, and models defined in a script's __main__."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest
from conftest import MC

import montecarlo

pytestmark = pytest.mark.slow  # end to end: processes, clusters, signals, whole programs


def start_long_run(*extra):
    proc = subprocess.Popen(
        [MC, "run", "pi", "--samples", "1e12", "--workers", "2", "--quiet", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 20
    while len(parent.children(recursive=True)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    children = parent.children(recursive=True)
    assert len(children) >= 2, "the pool did not start"
    time.sleep(0.5)  # let the workers get into a block
    return proc, children


@pytest.mark.parametrize(
    "sig, to_group, code, word",
    [
        (signal.SIGINT, True, 130, "Interrupted"),  # Ctrl-C in a terminal reaches the whole group
        (signal.SIGINT, False, 130, "Interrupted"),
        (signal.SIGTERM, False, 143, "Terminated"),
    ],
)
def test_signals_stop_the_run_and_its_workers(sig, to_group, code, word):
    proc, children = start_long_run()
    t0 = time.monotonic()
    if to_group:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert time.monotonic() - t0 < 3.0
    assert proc.returncode == code, err
    assert word in err and "Traceback" not in err
    gone, alive = psutil.wait_procs(children, timeout=2)
    assert not alive, f"orphan workers: {alive}"


def test_installed_mc_runs_and_is_deterministic():
    outs = []
    for w in ("1", "2"):
        p = subprocess.run(
            [MC, "run", "pi", "-n", "3e6", "-s", "11", "-w", w, "--json", "-q"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 0, p.stderr
        outs.append(json.loads(p.stdout)["outputs"])
    assert outs[0] == outs[1]
    p = subprocess.run([sys.executable, "-m", "montecarlo", "--version"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "montecarlo" in p.stdout


def test_a_model_defined_in_a_scripts_main_runs_on_worker_processes(tmp_path):
    script = tmp_path / "my_study.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, sys
            import numpy as np
            import montecarlo

            SHIFT = 0.25  # a module global the function needs on the workers

            def simulate(rng, n, scale=1.0):
                return scale * (rng.random(n) + SHIFT)

            if __name__ == "__main__":
                method = sys.argv[1]
                import multiprocessing
                multiprocessing.set_start_method(method, force=True)
                r = montecarlo.run(simulate, samples=200_000, rng=3, params={"scale": 2.0},
                                   execution=montecarlo.Execution(workers=2),
                                   sampling=montecarlo.Sampling(block_size=10_000))
                print(json.dumps({"executor": r.provenance["executor"], "estimate": r.estimate,
                                  "interval": r.interval}))
            """
        )
    )
    results = []
    for method in ("fork", "spawn"):
        p = subprocess.run(
            [sys.executable, str(script), method], capture_output=True, text=True, timeout=120, cwd=tmp_path
        )
        assert p.returncode == 0, p.stderr
        results.append(json.loads(p.stdout))
    assert results[0]["executor"] == "processes"
    assert results[0]["estimate"] == results[1]["estimate"]
    lo, hi = results[0]["interval"]
    assert lo < 1.5 < hi  # 2 * (1/2 + 1/4)


# --------------------------------------------------------------------------
# workers only when there is work
# --------------------------------------------------------------------------


def test_never_more_processes_than_tasks_and_a_warning_past_the_cores():
    from montecarlo.api import make_spec
    from montecarlo.engine import scheduler
    from montecarlo.engine.backends import default_workers, make_backend
    from montecarlo.errors import OversubscriptionWarning

    spec = make_spec("pi", 100_000, rng=1, sampling=montecarlo.Sampling(block_size=65_536))
    assert spec.blocks == 2
    with pytest.warns(OversubscriptionWarning, match=f"{default_workers() + 48} workers asked for on"):
        backend = make_backend(montecarlo.Execution("processes", workers=default_workers() + 48), [spec])
    assert backend.workers == 2 and not backend.started  # the pool is made with the first task
    before = {p.pid for p in psutil.Process().children()}
    try:
        total = scheduler.execute(spec, backend).total
        started = {p.pid for p in psutil.Process().children()} - before
    finally:
        backend.close()
    assert 1 <= len(started) <= 2
    serial = montecarlo.run("pi", 100_000, rng=1, execution="serial", sampling=montecarlo.Sampling(block_size=65_536))
    assert total == serial.accumulator


def test_a_backend_that_ran_nothing_started_nothing():
    from montecarlo.api import make_spec
    from montecarlo.engine.backends import make_backend

    spec = make_spec("pi", 10**7, rng=1)
    backend = make_backend(montecarlo.Execution("processes", workers=2), [spec])
    backend.close()
    assert not backend.started


def test_the_command_line_warns_once_on_one_line(tmp_path):
    from montecarlo.engine.backends import default_workers

    workers = default_workers() + 1
    out = subprocess.run(
        [MC, "run", "pi", "-n", "1e5", "--block-size", "65536", "-w", str(workers), "-q", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stderr.splitlines()
    assert lines == [
        f"Warning: {workers} workers asked for on {default_workers()} cores: worker processes past one per core "
        "add start-up time and memory, not speed; at most one per task is started."
    ]


def test_a_pool_broken_since_the_last_task_fails_the_next_one_as_a_worker_death():
    # A worker dies; the next submission finds the pool broken. It must come back as a task lost to that
    # death (which the engine handles: new workers, the tasks run again), not as an exception of submit.
    from concurrent.futures import wait

    from montecarlo.engine.backends.processes import ProcessBackend

    backend = ProcessBackend(1)
    try:
        dead = backend.submit(os._exit, 1)
        wait([dead], timeout=60)
        assert backend.is_worker_death(dead.exception())
        late = backend.submit(sum, [1, 2])
        wait([late], timeout=60)
        assert late.done() and backend.is_worker_death(late.exception())
        backend.restart()
        assert backend.submit(sum, [1, 2]).result(timeout=60) == 3
    finally:
        backend.close(cancel=True)
