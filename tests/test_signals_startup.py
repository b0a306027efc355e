"""A Ctrl-C or SIGTERM at any moment of ``mc``'s start-up ends it as at any other: 130 or 143, one line, no traceback.

The installed command is started and signalled after each delay of a grid
from 0 to 0.5 s (start-up, then the first part of a run), or of the same
grid counted from its entry point's first line. That entry point
(`montecarlo.__main__`) handles both signals before anything else loads,
SIGINT first, then SIGTERM: so a process that catches SIGTERM (``SigCgt`` in
``/proc/PID/status``) has passed that line, and from there everything is
checked. Before it the interpreter is still starting (site, the package's
``__init__``): a SIGTERM then ends the process by its default action
(status -15, which a shell shows as 143, without a word), and a Ctrl-C meets
Python's own handler, which no code of ``mc`` can replace yet: the process
must only end, leave nothing behind, and not have reached click or the CLI.
(tests/test_cli.py checks that the handlers are in place before those load.)
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

MC = str(Path(sys.executable).with_name("mc"))
RUN = [MC, "run", "pi", "-n", "1e9", "-w", "2", "--seed", "1", "-q"]

#: Seconds after the start: every 10 ms of start-up, then a few in the run.
DELAYS = [i / 100 for i in range(31)] + [0.4, 0.5]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the caught signals in /proc"),
]


@dataclass
class Outcome:
    sig: int
    delay: float
    entered: bool  # the entry point's handlers were in place when the signal was sent
    status: int
    err: str

    def __str__(self) -> str:
        where = "after" if self.entered else "before"
        return f"{signal.Signals(self.sig).name} at {self.delay:.2f} s ({where} the entry point): {self.status}, {self.err!r}"


def caught(pid: int) -> set[int]:
    """The signals ``pid`` has handlers for (none once it has ended)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            mask = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return set()
    return {n for n in range(1, 65) if mask >> (n - 1) & 1}


def entered(pid: int) -> bool:
    return signal.SIGTERM in caught(pid)


def gone(pgid: int, seconds: float = 5.0) -> bool:
    """Whether no process is left in the group (the command's workers are in it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.01)
    return False


def trial(sig: int, delay: float, anchored: bool = False) -> Outcome:
    """Start ``mc run``, send ``sig`` ``delay`` s after the start (or after the entry point's first line)."""
    proc = subprocess.Popen(RUN, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        t0 = time.monotonic()
        if anchored:
            while not entered(proc.pid) and proc.poll() is None and time.monotonic() < t0 + 10:
                time.sleep(0.0002)
            t0 = time.monotonic()
        while (left := t0 + delay - time.monotonic()) > 0:
            time.sleep(min(left, 0.005))
        inside = entered(proc.pid)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert gone(proc.pid), f"processes left behind: {signal.Signals(sig).name} at {delay:.2f} s"
    return Outcome(sig, delay, inside, proc.returncode, err)


def check(o: Outcome) -> None:
    word, code = ("Terminated", 143) if o.sig == signal.SIGTERM else ("Interrupted", 130)
    lines = [line for line in o.err.splitlines() if line.strip()]
    if o.entered or o.status == code:
        assert o.status == code, o
        assert "Traceback" not in o.err, o
        assert len(lines) <= 1 and all(line.startswith(word) for line in lines), o
    elif o.sig == signal.SIGTERM:  # before the entry point: SIGTERM's default action, silent
        assert o.status == -signal.SIGTERM and o.err == "", o
    else:  # a Ctrl-C while the interpreter starts meets Python's own handler, or site's processing of a .pth
        # file (which may even swallow it): the process must only end, leaving nothing. Never once the CLI loads.
        assert not re.search(r"montecarlo[/\\]cli[/\\]|[/\\]click[/\\]", o.err), o


def test_sigterm_at_any_moment_of_start_up():
    outcomes = [trial(signal.SIGTERM, d) for d in DELAYS for _ in range(2)]
    for o in outcomes:
        check(o)
    assert any(o.entered for o in outcomes), [str(o) for o in outcomes]


def test_ctrl_c_at_any_moment_from_the_entry_points_first_line():
    outcomes = [trial(signal.SIGINT, d, anchored=True) for d in DELAYS]
    outcomes += [trial(signal.SIGINT, d) for d in DELAYS]
    for o in outcomes:
        check(o)
    assert all(o.entered for o in outcomes[: len(DELAYS)]), [str(o) for o in outcomes]


def test_a_signal_at_the_entry_points_first_line_ends_the_command_at_once():
    # Nothing runs yet, nothing to stop: the process ends within moments, saying so on one line.
    for sig in (signal.SIGINT, signal.SIGTERM):
        t0 = time.monotonic()
        o = trial(sig, 0.0, anchored=True)
        check(o)
        assert o.entered and time.monotonic() - t0 < 5, o


def test_a_background_job_keeps_ignoring_ctrl_c():
    # A shell starts background jobs with SIGINT ignored: mc leaves it so, as Python does (SIGTERM still ends it).
    command = "trap '' INT; exec " + shlex.join(RUN)  # the ignored SIGINT is inherited through exec
    proc = subprocess.Popen(
        ["/bin/sh", "-c", command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 10
        while not entered(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.001)
        assert signal.SIGINT not in caught(proc.pid)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 143 and err.strip().startswith("Terminated"), err
    assert gone(proc.pid)
