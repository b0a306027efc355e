"""Processes and signals under stress: nothing outlives the run, no signal is lost, no model takes `mc` down.

Real processes and real signals; each case is one that used to leave a
process behind, hang, or end ``mc`` without a word.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import modelzoo
import psutil
import pytest
from conftest import MC, mc

import montecarlo
from montecarlo import Execution, Sampling
from montecarlo.errors import ModelError, WorkerDiedError

pytestmark = pytest.mark.slow  # end to end: processes, clusters, signals, whole programs


def alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    """The processes still running (an unreaped zombie has ended)."""
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def gone_within(procs: list[psutil.Process], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while alive(procs) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(procs)


def started(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def children(proc: subprocess.Popen, n: int) -> list[psutil.Process]:
    """The ``n`` worker processes of ``proc``, once they have started."""
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    while len(parent.children(recursive=True)) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    kids = parent.children(recursive=True)
    assert len(kids) >= n, "the workers did not start"
    return kids


def finish(proc: subprocess.Popen, timeout: float = 10) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    return proc.returncode, err


# -- workers never outlive the process that started them ----------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [MC, "run", "pi", "-n", "1e12", "-w", "2", "-q"],
        [sys.executable, "-c", "import montecarlo; montecarlo.run('pi', 10**12, rng=1, execution='processes')"],
    ],
    ids=["mc", "api-caller"],
)
def test_workers_end_within_a_second_of_a_sigkilled_parent(argv):
    proc = started(argv)
    kids = children(proc, 2)
    os.kill(proc.pid, signal.SIGKILL)  # no handler runs: only the kernel can tell the workers
    proc.communicate(timeout=10)
    try:
        assert gone_within(kids, 1.0), f"orphan workers: {alive(kids)}"
    finally:
        for p in alive(kids):  # should the test fail, leave nothing behind
            p.kill()


def test_the_watchdog_ends_an_orphan_where_the_kernel_cannot():
    script = textwrap.dedent(
        """
        import os, time
        from montecarlo.engine.backends.supervision import die_with_parent
        parent = os.getpid()
        child = os.fork()
        if child == 0:
            die_with_parent(parent, kernel=False)
            time.sleep(60)
            os._exit(0)
        print(child, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(proc.stdout.readline()))
    time.sleep(0.3)  # the child is watching
    proc.kill()
    proc.communicate()
    assert gone_within([child], 1.0)


# -- signals are never lost, whatever runs when they arrive --------------------------


def test_a_sigterm_while_the_workers_fork_is_not_lost():
    # The signal arrives inside an at-fork callback, where an exception raised
    # by its handler would be printed and dropped ("Exception ignored in").
    script = textwrap.dedent(
        """
        import os, signal
        os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGTERM))
        from montecarlo.cli import main
        main(["run", "pi", "-n", "1e12", "-w", "2", "-q"])
        """
    )
    proc = started([sys.executable, "-c", script])
    code, err = finish(proc, timeout=30)
    assert code == 143, err
    assert err.strip() == "Terminated: workers stopped."


@pytest.mark.parametrize(
    "executor, sig, code, word",
    [("threads", signal.SIGTERM, 143, "Terminated"), ("serial", signal.SIGINT, 130, "Interrupted")],
)
def test_a_model_that_never_returns_is_stopped_by_a_signal(tmp_path, executor, sig, code, word):
    marker = tmp_path / "started"
    proc = started(
        [MC, "run", "modelzoo:forever", "-p", f"marker={marker}", "-n", "4000", "--block-size", "1000",
         "--executor", executor, "-w", "2", "-q"]
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    t0 = time.monotonic()
    proc.send_signal(sig)
    status, err = finish(proc)
    assert status == code and time.monotonic() - t0 < 3.0, err
    assert err.strip() == f"{word}: workers stopped."


# -- a model cannot take the caller's process down ------------------------------------


@pytest.mark.parametrize("model", ["modelzoo:always_die", "modelzoo:segfault"])
def test_a_one_block_run_keeps_the_model_out_of_the_main_process(model):
    p = subprocess.run(
        [MC, "run", model, "-n", "1000", "-q", "--retries", "0"], capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 1, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("Error: a worker process died while running block 0")


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
@pytest.mark.parametrize(
    "model, said",
    [
        (modelzoo.exits, r"model raised SystemExit: 3 \(block 0, spawn key \(0,\)\)"),
        (modelzoo.interrupts_itself, r"model raised KeyboardInterrupt \(block 0, spawn key \(0,\)\)"),
        (modelzoo.raises_base, r"model raised Odd: an odd base exception \(block 0, spawn key \(0,\)\)"),
        (modelzoo.raises_lines, r"model raised ValueError: first line second line third line \(block 0,"),
    ],
    ids=["sys.exit", "KeyboardInterrupt", "BaseException", "newlines"],
)
def test_exits_and_interrupts_raised_by_a_model_are_its_errors(executor, model, said):
    with pytest.raises(ModelError, match=said) as err:
        montecarlo.run(model, 2000, rng=1, sampling=Sampling(block_size=1000), execution=Execution(executor, workers=2))
    assert "\n" not in str(err.value)


def test_sys_exit_in_a_model_on_dask_is_a_model_error_at_once(dask_client):
    t0 = time.monotonic()
    with pytest.raises(ModelError, match=r"model raised SystemExit: 3 \(block 0"):
        montecarlo.run(modelzoo.exits, 2000, rng=1, sampling=Sampling(block_size=1000), execution=dask_client)
    assert time.monotonic() - t0 < 10


def test_os_exit_at_a_models_import_is_one_line(tmp_path):
    (tmp_path / "leaves.py").write_text("import os\nos._exit(6)\ndef f(rng, n):\n    return rng.random(n)\n")
    for command in (["run", "leaves.py:f", "-q"], ["show", "leaves.py:f"]):
        p = subprocess.run([MC, *command], capture_output=True, text=True, timeout=60, cwd=tmp_path)
        assert p.returncode == 2, p.stderr
        assert p.stderr.count("\n") == 1 and "'leaves.py' called os._exit(6)" in p.stderr


# -- budgets and broken pools: nothing waits forever ----------------------------------


@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_a_time_limit_ends_a_model_that_does_not_return(capsys, executor):

    t0 = time.monotonic()
    code, out, err = mc(
        capsys, "run", "modelzoo:forever", "-p", "seconds=3", "-n", "2000", "--block-size", "1000",
        "--executor", executor, "-w", "2", "--time-limit", "0.3", "-q", "--json",
    )  # fmt: skip
    assert time.monotonic() - t0 < 2.0
    assert (code, out) == (1, "")
    assert err == (
        "Error: the time limit (0.3 s) passed before the first block (1,000 samples) finished: no samples to "
        "estimate from; give a longer time limit or a smaller block size.\n"
    )


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_pool_that_cannot_start_its_threads_fails_the_run_instead_of_hanging(monkeypatch):
    import multiprocessing.queues

    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(multiprocessing.queues.Queue, "_start_thread", refuse)
    t0 = time.monotonic()
    with pytest.raises(WorkerDiedError, match="the worker pool stopped: its manager thread ended"):
        montecarlo.run("pi", 10**6, rng=1, sampling=Sampling(block_size=10**5), execution=Execution(workers=2))
    assert time.monotonic() - t0 < 10


def test_an_error_without_words_and_a_second_signal_are_still_one_line(capsys, monkeypatch):
    import montecarlo.api
    import montecarlo.cli

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(montecarlo.api, "run_spec", out_of_memory)
    assert mc(capsys, "run", "pi", "-q") == (1, "", "Error: out of memory (MemoryError)\n")

    def interrupted(text):  # a Ctrl-C while the error is being printed
        raise KeyboardInterrupt

    monkeypatch.setattr(montecarlo.cli, "_say", interrupted)
    assert mc(capsys, "run", "pi", "-n", "0") == (130, "", "")
