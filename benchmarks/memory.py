"""Bounded memory on a huge run, and a clean Ctrl-C.

    python benchmarks/memory.py [--samples 1e12] [--workers 2] [--seconds 6] [--json out.json]

Starts ``mc run pi --samples 1e12 --workers 2 --quiet`` (over an hour of work),
polls the summed RSS of its process tree for --seconds, then sends SIGINT
the way a terminal's Ctrl-C does (to the whole process group; ``--to main``
sends it to the mc process only) and checks that mc exits with code 130
within --grace seconds and that none of its processes is still running by
then. Prints the peak tree RSS (the claim: memory stays bounded whatever
--samples is), the peak in each second (flat, not growing) and whether the
shutdown was clean. Anything left over is killed at the end.

Summed RSS counts every shared page once per process: the pages of shared
libraries (numba's LLVM, with the jit extra, in each worker) and the pages
forked workers share with their parent. The tree's proportional set size
(PSS: private pages, plus each shared page divided among the processes that
map it) is what the tree really holds; it is polled too (every 0.25 s, from
/proc/PID/smaps_rollup) and printed beside the RSS.

It reports and never judges: the exit code is 0; checks are marked PASS/FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
from proctree import MB, TreeWatch, fmt_count, kill_group, parse_count

PEAK_TARGET_MB = 300.0
EXIT_SIGINT = 130


class PssWatch:
    """Polls the summed proportional set size of a process tree (Linux)."""

    def __init__(self, pid: int, interval: float = 0.25) -> None:
        self.pid, self.interval, self.peak, self.by_second = pid, interval, 0, {}
        self._halt = threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> PssWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                root = psutil.Process(self.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.Error:
                continue
            total = 0
            for p in tree:
                try:
                    total += p.memory_full_info().pss
                except (psutil.Error, AttributeError):
                    continue
            second = int(time.perf_counter() - self._t0)
            self.by_second[second] = max(self.by_second.get(second, 0), total)
            self.peak = max(self.peak, total)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--samples", type=parse_count, default=parse_count("1e12"), help="samples asked of mc (1e12)")
    ap.add_argument("--workers", type=int, default=2, help="mc --workers (2)")
    ap.add_argument("--seconds", type=float, default=6.0, help="how long to watch before Ctrl-C (6)")
    ap.add_argument("--grace", type=float, default=2.0, help="seconds allowed for mc to exit after SIGINT (2)")
    ap.add_argument(
        "--to",
        choices=("group", "main"),
        default="group",
        help="SIGINT to the process group, as a terminal does (default), or to mc only",
    )
    ap.add_argument("--interval", type=float, default=0.02, help="tree-RSS polling period in s (0.02)")
    ap.add_argument("--mc", default=str(Path(sys.executable).parent / "mc"), help="the mc executable")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = ap.parse_args(argv)

    cmd = [args.mc, "run", "pi", "--samples", str(args.samples), "--workers", str(args.workers), "--quiet"]
    print(
        f"# memory: mc run pi --samples {fmt_count(args.samples)} --workers {args.workers} --quiet; "
        f"watch {args.seconds:g} s, then SIGINT to the {args.to}; load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    report: dict = {"cmd": cmd, "signal_to": args.to, "seconds": args.seconds, "grace_s": args.grace}
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
        watch = TreeWatch(proc.pid, args.interval).start()
        pss = PssWatch(proc.pid).start()
        try:
            early = proc.wait(timeout=args.seconds)
        except subprocess.TimeoutExpired:
            early = None
        procs_before = len([p for p in watch.seen() if p.pid != proc.pid])
        t_sig = time.perf_counter()
        if early is None:
            if args.to == "group":
                os.killpg(proc.pid, signal.SIGINT)
            else:
                os.kill(proc.pid, signal.SIGINT)
        try:
            rc = proc.wait(timeout=args.grace) if early is None else early
            exit_s = time.perf_counter() - t_sig if early is None else None
        except subprocess.TimeoutExpired:
            rc, exit_s = None, None
        watch.stop()
        pss.stop()
        # Children get what is left of the grace period to be gone too.
        remaining = max(0.0, t_sig + args.grace - time.perf_counter())
        survivors = watch.survivors(timeout=remaining)
        survivor_info = []
        for p in survivors:
            try:
                survivor_info.append(f"{p.pid} {p.name()}")
            except psutil.Error:  # gone just now
                pass
        kill_group(proc.pid)
        for p in survivors:  # in case one left the process group
            try:
                p.kill()
            except psutil.Error:
                pass
        if rc is None:
            rc = proc.wait()
            report["killed"] = True
        out.seek(0)
        output = out.read().decode(errors="replace")

    per_second: dict[int, int] = {}
    for t, rss, _ in watch.samples:
        if t <= args.seconds:
            per_second[int(t)] = max(per_second.get(int(t), 0), rss)
    report.update(
        early_exit_code=early,
        exit_code=rc,
        exit_s=exit_s,
        worker_processes_seen=procs_before,
        peak_tree_mb=watch.peak_rss / MB,
        peak_procs=watch.peak_procs,
        peak_mb_by_second=[per_second[k] / MB for k in sorted(per_second)],
        peak_tree_pss_mb=pss.peak / MB,
        peak_pss_mb_by_second=[pss.by_second[k] / MB for k in sorted(pss.by_second) if k < args.seconds],
        survivors=survivor_info,
        output_tail=output[-1000:],
    )

    checks = {
        f"peak tree RSS <= {PEAK_TARGET_MB:g} MB": report["peak_tree_mb"] <= PEAK_TARGET_MB,
        f"peak tree PSS <= {PEAK_TARGET_MB:g} MB": report["peak_tree_pss_mb"] <= PEAK_TARGET_MB,
        "still running when interrupted": early is None,
        f"exit code {EXIT_SIGINT}": rc == EXIT_SIGINT,
        f"exited within {args.grace:g} s": exit_s is not None and exit_s <= args.grace,
        "no process of the tree survives": not survivor_info,
    }
    report["checks"] = checks
    print(f"  peak tree RSS        {report['peak_tree_mb']:.0f} MB over {report['peak_procs']} processes")
    print("  peak MB each second  " + " ".join(f"{v:.0f}" for v in report["peak_mb_by_second"]))
    print(f"  peak tree PSS        {report['peak_tree_pss_mb']:.0f} MB (shared pages divided among their processes)")
    print("  PSS MB each second   " + " ".join(f"{v:.0f}" for v in report["peak_pss_mb_by_second"]))
    if early is not None:
        print(f"  mc exited on its own before the signal, code {early}: {output.strip()[-300:]}")
    else:
        shown = "did not exit (killed)" if exit_s is None else f"{exit_s:.2f} s"
        print(f"  SIGINT -> exit        {shown}, exit code {rc}")
        print(f"  mc said              {output.strip().splitlines()[-1] if output.strip() else '(nothing)'}")
    print(f"  survivors            {', '.join(survivor_info) if survivor_info else 'none'}")
    for name, ok in checks.items():
        print(f"  {name:36s} {'PASS' if ok else 'FAIL'}")
    clean = rc == EXIT_SIGINT and exit_s is not None and exit_s <= args.grace and not survivor_info
    report["clean_shutdown"] = clean
    print(f"  shutdown: {'clean' if clean else 'NOT clean'}")

    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
