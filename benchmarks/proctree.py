"""Run a command as a whole process and measure it as a user would pay for it.

Shared by the benchmark scripts in this folder (standard library + psutil).
A `TreeWatch` thread polls the command's process and every descendant, summing
their resident set sizes; `measure` runs one command from start to exit and
returns wall time, CPU time, peak tree RSS and captured output.
"""

from __future__ import annotations

import decimal
import math
import os
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field

import psutil

MB = 1024 * 1024


def parse_count(text: str) -> int:
    """``"1e9"``, ``"2_000_000"`` or ``"2000000"`` as an exact integer >= 1."""
    try:
        value = decimal.Decimal(str(text).replace("_", "").strip())
    except decimal.InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite() or value != value.to_integral_value() or value < 1:
        raise ValueError(f"{text!r} is not an integer >= 1")
    return int(value)


def fmt_count(n: int) -> str:
    """1000000000 -> "1e9" when that is exact, else the plain integer."""
    if n >= 1000:
        digits = str(n).rstrip("0")
        zeros = len(str(n)) - len(digits)
        if zeros >= 3 and len(digits) <= 3:
            return f"{digits}e{zeros}"
    return str(n)


def pi_standard_error(n: int) -> float:
    """Standard error of 4 * hits / n when hits ~ Binomial(n, pi / 4)."""
    p = math.pi / 4.0
    return 4.0 * math.sqrt(p * (1.0 - p) / n)


@dataclass
class TreeWatch:
    """Polls the summed RSS (and CPU time) of a process and its descendants.

    Summed RSS counts pages that forked workers share with their parent once
    per process, so it is an upper bound on the memory the tree really holds.
    """

    pid: int
    interval: float = 0.02
    peak_rss: int = 0
    peak_procs: int = 0
    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, rss, procs)

    def __post_init__(self) -> None:
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._cpu: dict[tuple[int, float], float] = {}  # (pid, create time) -> last seen CPU s
        self._procs: dict[tuple[int, float], psutil.Process] = {}
        self._t0 = time.perf_counter()

    # -- the tree --------------------------------------------------------
    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def sample(self) -> None:
        total, count = 0, 0
        for p in self._tree():
            try:
                with p.oneshot():
                    rss = p.memory_info().rss
                    cpu = p.cpu_times()
                    key = (p.pid, p.create_time())
            except psutil.Error:  # exited (or a zombie) between listing and reading
                continue
            total += rss
            count += 1
            self._cpu[key] = cpu.user + cpu.system
            self._procs.setdefault(key, p)
        self.samples.append((time.perf_counter() - self._t0, total, count))
        self.peak_rss = max(self.peak_rss, total)
        self.peak_procs = max(self.peak_procs, count)

    def _loop(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    # -- control -----------------------------------------------------------
    def start(self) -> TreeWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        self._thread.join()

    @property
    def polled_cpu_s(self) -> float:
        """CPU seconds of every process seen, as of its last poll."""
        return sum(self._cpu.values())

    def seen(self) -> list[psutil.Process]:
        """Every process of the tree seen while polling (the root included)."""
        return list(self._procs.values())

    def survivors(self, timeout: float = 0.0) -> list[psutil.Process]:
        """Processes seen in the tree still running after up to ``timeout`` s.

        A process that has exited but was never waited for (a zombie, such as
        a worker whose parent exited first) does not count: it holds no memory
        and runs no code.
        """
        deadline = time.perf_counter() + timeout
        while True:
            alive = [p for p in self.seen() if _running(p)]
            if not alive or time.perf_counter() >= deadline:
                return alive
            time.sleep(0.02)


def _running(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_group(pgid: int) -> None:
    """SIGKILL a process group (the one a measured command was started in)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def measure(cmd: list[str], *, timeout: float = 1200.0, interval: float = 0.02, grace: float = 1.0) -> dict:
    """Run ``cmd`` to completion; wall, CPU, peak tree RSS, exit code and output.

    The command starts in a session of its own so that anything it leaves
    behind for more than ``grace`` seconds after exiting can be counted
    (``leftover_procs``); it is then killed by process group.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        load1 = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
        watch = TreeWatch(proc.pid, interval).start()
        timed_out = threading.Event()

        def on_timeout() -> None:
            timed_out.set()
            kill_group(proc.pid)

        timer = threading.Timer(timeout, on_timeout)
        timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        timer.cancel()
        watch.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
        leftover = watch.survivors(timeout=grace)  # workers may take a moment to notice
        kill_group(proc.pid)
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    # Reaped descendants are in the rusage; ones that outlived the command only in the polls.
    cpu = max(usage.ru_utime + usage.ru_stime, watch.polled_cpu_s)
    record = {
        "cmd": cmd,
        "rc": proc.returncode,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_tree_mb": watch.peak_rss / MB,
        "peak_procs": watch.peak_procs,
        "series": [(t, rss) for t, rss, _ in watch.samples],  # (seconds since start, tree RSS bytes)
        "leftover_procs": len(leftover),
        "load1": load1,
        "stdout": stdout,
        "stderr_tail": stderr[-2000:],
    }
    if timed_out.is_set():
        record["error"] = f"timed out after {timeout:g} s"
    elif proc.returncode != 0:
        record["error"] = f"exit code {proc.returncode}: {stderr.strip()[-300:]}"
    return record
