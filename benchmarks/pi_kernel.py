"""π per core: the engine's compiled and numpy paths against a bare compiled loop, by CPU time.

    python benchmarks/pi_kernel.py --samples 2e8 --repeats 5

One process, one thread, rounds in a shuffled order; each figure is CPU time
of the process (``time.process_time``), which other jobs on a shared machine
disturb far less than wall time:

- ``engine, compiled``: ``montecarlo.run("pi", N, execution="serial")`` with
  the jit extra (seeded blocks, checks, moments, the fold, the estimate);
- ``engine, numpy``: the same with ``MONTECARLO_JIT=0``;
- ``bare loop``: a numba loop that steps SFC64 inline, draws x and y and
  counts hits in registers -- no buffer, no blocks, no engine: what one core
  can do (the per-core rate of the peer harness's inline-SFC64 kernels).
  Compiled before the rounds.

Figures: samples per CPU second of each, and the medians over rounds of
``engine / bare loop`` (CPU per sample) for both engine paths. Wall time of a
whole ``mc run`` on W cores is about N / (W x rate) plus start-up, so the
compiled path's ratio is what ``mc run pi`` can reach against the peer
harness's ``extra_inline_sfc64_prange`` on idle cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba import uint64
from proctree import fmt_count, parse_count

import montecarlo


@numba.njit(cache=True, inline="always")
def _sfc64(a, b, c, k):
    """One SFC64 step (numpy's sfc64_next) and its double (numpy's next_double)."""
    t = a + b + k
    a, b, c = b ^ (b >> uint64(11)), c + (c << uint64(3)), ((c << uint64(24)) | (c >> uint64(40))) + t
    return a, b, c, k + uint64(1), (t >> uint64(11)) * (1.0 / 9007199254740992.0)


@numba.njit(cache=True)
def bare_hits(state: np.ndarray, n: int) -> int:
    """Hits of n points from SFC64 words ``state`` (a, b, c, counter), x and y drawn alternately."""
    a, b, c, k = state[0], state[1], state[2], state[3]
    hits = 0
    for _ in range(n):
        a, b, c, k, x = _sfc64(a, b, c, k)
        a, b, c, k, y = _sfc64(a, b, c, k)
        if x * x + y * y <= 1.0:
            hits += 1
    return hits


def run_engine(n: int, jit: bool) -> float:
    os.environ["MONTECARLO_JIT"] = "1" if jit else "0"
    return montecarlo.run("pi", n, rng=1, execution="serial").estimate


def run_bare(n: int) -> float:
    state = np.array(np.random.SFC64(1).state["state"]["state"], dtype=np.uint64)
    return 4.0 * bare_hits(state, n) / n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=parse_count, default=parse_count("2e8"))
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    n = args.samples
    print(f"# pi_kernel.py: N={fmt_count(n)}, {args.repeats} rounds, load {os.getloadavg()}", flush=True)
    jobs = {
        "engine, compiled": lambda: run_engine(n, True),
        "engine, numpy": lambda: run_engine(n, False),
        "bare loop": lambda: run_bare(n),
    }
    run_engine(10**6, True), run_engine(10**6, False), run_bare(10**6)  # compile, load, warm up
    cpu: dict[str, list[float]] = {k: [] for k in jobs}
    for rnd in range(args.repeats):
        order = list(jobs)
        random.Random(rnd).shuffle(order)
        for k in order:
            t = time.process_time()
            est = jobs[k]()
            cpu[k].append(time.process_time() - t)
            print(f"  round {rnd + 1} {k:17s} {cpu[k][-1]:6.2f} s cpu  pi {est:.6f}  load {os.getloadavg()[0]:.2f}")
    print(f"\n== pi, {fmt_count(n)} samples on one core, CPU time, medians of {args.repeats} rounds ==")
    rows = {}
    for k in jobs:
        ratio = statistics.median(a / b for a, b in zip(cpu[k], cpu["bare loop"], strict=True))
        rows[k] = {
            "cpu_s": statistics.median(cpu[k]),
            "samples_per_cpu_s": n / statistics.median(cpu[k]),
            "x_bare": ratio,
        }
        print(
            f"{k:17s} {rows[k]['cpu_s']:6.2f} s  {rows[k]['samples_per_cpu_s'] / 1e6:6.0f} M/s  x bare loop {ratio:.2f}"
        )
    print(f"load average at the end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "cpu": cpu}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
