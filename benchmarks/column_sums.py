"""A batch's statistics compiled (the jit extra: column sums, one output's pass) against numpy's, by CPU time.

    python benchmarks/column_sums.py --rounds 7

One process, one thread. Each round times every case both ways -- the
compiled column sums, and ``MONTECARLO_JIT=0`` (numpy's
``np.add.reduce(x, axis=0)``) -- in a shuffled order, by CPU time of the
process (``time.process_time``), which other jobs on a shared machine
disturb far less than wall time:

- ``batch_moments (n, k)``: `montecarlo.stats.moments.batch_moments` of a C-ordered
  float64 batch (the sums, ``x - mean``, and ``d.T @ d``), with the parts of
  it timed alone beside it: ``np.add.reduce``, the compiled sums,
  ``x - mean``, ``d.T @ d``;
- ``three_floats run``: ``montecarlo.run(usermodels.three_floats, N,
  execution="serial")``, the whole in-process run;
- ``one-output pass n``: `montecarlo._kernels.column_pass.column_pass` of a float64
  column (mean, deviations, their squares, minimum, maximum), compiled
  against ``numpy_pass``; ``one-output fold n``: a block's fold of such
  batches (`montecarlo.stats.shape.OneOutputFold`: the pass, three dot products,
  the merges); ``exp(a U) run``: ``montecarlo.run(usermodels.exp_uniform, N,
  execution="serial")``.

The kernel is compiled before the rounds. ``--cold`` times instead whole
runs of three_floats, each in a fresh process that has not loaded llvmlite
(the model is defined there, usermodels imports numba): numpy, the kernel
as shipped (compiled once numpy has summed ``COMPILE_AFTER`` rows), and the
kernel compiled at the first batch -- CPU time of the run alone, and peak RSS.

Figures: per case, the median over rounds of each path's time, and the median
of the per-round ratios numpy / compiled. The load average is printed
before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np
import usermodels

import montecarlo
from montecarlo._kernels import column_pass, column_sums
from montecarlo._kernels import llvm as jit
from montecarlo.stats.moments import batch_moments
from montecarlo.stats.shape import OneOutputFold

SHAPES = [(16_384, 3), (65_536, 2), (16_384, 8)]


def cpu_per_call(f, min_seconds: float = 0.2) -> float:
    """CPU seconds per call of ``f``, over as many calls as fill ``min_seconds``."""
    f()
    calls, spent = 0, 0.0
    start = time.process_time()
    while spent < min_seconds:
        for _ in range(10):
            f()
        calls += 10
        spent = time.process_time() - start
    return spent / calls


def with_jit(value: str, f):
    """``f`` run with ``MONTECARLO_JIT`` set to ``value``."""

    def run():
        os.environ[jit.JIT_VARIABLE] = value
        return f()

    return run


COLD = r"""
import os, resource, sys, time
import numpy as np
import montecarlo
from montecarlo._kernels import column_sums

@montecarlo.model(outputs=["x", "x2", "exp_half_x"])
def three_floats(rng, n):
    x = rng.standard_normal(n)
    out = np.empty((n, 3))
    out[:, 0] = x
    out[:, 1] = x * x
    out[:, 2] = np.exp(0.5 * x)
    return out

if sys.argv[2] == "at once":
    column_sums.COMPILE_AFTER = 0
t = time.process_time()
montecarlo.run(three_floats, int(float(sys.argv[1])), rng=1, execution="serial")
print(time.process_time() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "llvmlite" in sys.modules)
"""


def cold(rounds: int) -> None:
    """Whole runs of three_floats in fresh processes: numpy, the kernel as shipped, the kernel at once."""
    ways = {"numpy": "0", "as shipped": "1", "at once": "1"}
    sizes = ["1e6", "4e6", "1.6e7", "6.4e7"]
    got: dict[tuple[str, str], list[tuple[float, float, bool]]] = {}
    load = os.getloadavg()
    for _ in range(rounds):
        order = [(n, w) for n in sizes for w in ways]
        random.shuffle(order)
        for n, w in order:
            env = {**os.environ, jit.JIT_VARIABLE: ways[w]}
            out = subprocess.run(
                [sys.executable, "-c", COLD, n, w], env=env, capture_output=True, text=True, check=True
            )
            cpu, rss, loaded = out.stdout.split()
            got.setdefault((n, w), []).append((float(cpu), float(rss), loaded == "True"))
    print(f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}; {rounds} rounds; fresh processes")
    print(f"{'three_floats run':18} {'way':11} {'CPU s':>7} {'numpy/this':>10} {'peak RSS MB':>12} llvmlite")
    for n in sizes:
        base = statistics.median(c for c, _, _ in got[(n, "numpy")])
        for w in ways:
            cpu = statistics.median(c for c, _, _ in got[(n, w)])
            rss = statistics.median(r for _, r, _ in got[(n, w)])
            print(f"{n:18} {w:11} {cpu:7.3f} {base / cpu:10.2f} {rss:12.0f} {got[(n, w)][0][2]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--samples", type=float, default=4e6, help="samples of each three_floats run")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--cold", action="store_true", help="whole runs in fresh processes instead")
    args = ap.parse_args()
    if args.cold:
        return cold(args.rounds)
    assert column_sums.enabled(), "the jit extra is not installed, or MONTECARLO_JIT=0"
    rng = np.random.default_rng(0)
    cases = {}
    for n, k in SHAPES:
        x = rng.standard_normal((n, k))
        mean = np.add.reduce(x, axis=0) / n
        d = x - mean
        cases[f"batch_moments {n}x{k}"] = (
            with_jit("1", lambda x=x: batch_moments(x)),
            with_jit("0", lambda x=x: batch_moments(x)),
        )
        cases[f"  sums alone {n}x{k}"] = (
            with_jit("1", lambda x=x: column_sums.compiled_sums(x)),
            lambda x=x: np.add.reduce(x, axis=0),
        )
        cases[f"  x - mean {n}x{k} (both)"] = (lambda x=x, m=mean: x - m,) * 2
        cases[f"  d.T @ d {n}x{k} (both)"] = (lambda d=d: d.T @ d,) * 2
    samples = int(args.samples)
    run = lambda: montecarlo.run(usermodels.three_floats, samples, rng=1, execution="serial")  # noqa: E731
    cases[f"three_floats run {samples:.0e}"] = (with_jit("1", run), with_jit("0", run))
    assert with_jit("1", run)().to_dict()["outputs"] == with_jit("0", run)().to_dict()["outputs"]

    column_pass.COMPILE_AFTER = 0  # the one-output pass from the first batch, as a long run has it
    for n in (16_384, 65_536):
        c = np.exp(0.7 * rng.random(n))
        cases[f"one-output pass {n}"] = (
            with_jit("1", lambda c=c: column_pass.column_pass(c)),
            lambda c=c: column_pass.numpy_pass(c),
        )
        x = c.reshape(-1, 1)
        fold = lambda x=x: OneOutputFold().add(x)  # noqa: E731
        cases[f"one-output fold {n}"] = (with_jit("1", fold), with_jit("0", fold))
    exp_run = lambda: montecarlo.run(usermodels.exp_uniform, 2 * samples, rng=1, execution="serial")  # noqa: E731
    cases[f"exp(a U) run {2 * samples:.0e}"] = (with_jit("1", exp_run), with_jit("0", exp_run))
    assert with_jit("1", exp_run)().to_dict()["accumulator"] == with_jit("0", exp_run)().to_dict()["accumulator"]

    load = os.getloadavg()
    times: dict[str, dict[str, list[float]]] = {c: {"compiled": [], "numpy": []} for c in cases}
    for _ in range(args.rounds):
        order = [(c, i) for c in cases for i in (0, 1)]
        random.shuffle(order)
        for c, i in order:
            times[c][("compiled", "numpy")[i]].append(cpu_per_call(cases[c][i], 1.0 if "run" in c else 0.2))
    os.environ.pop(jit.JIT_VARIABLE, None)

    figures = {}
    print(f"load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}; {args.rounds} rounds, CPU time")
    print(f"{'case':36} {'compiled':>12} {'numpy':>12} {'ratio':>7}  (ratio range)")
    for c, t in times.items():
        ratios = [b / a for a, b in zip(t["compiled"], t["numpy"], strict=True)]
        a, b = statistics.median(t["compiled"]), statistics.median(t["numpy"])
        unit, scale = ("ms", 1e3) if "run" in c else ("us", 1e6)
        print(
            f"{c:36} {a * scale:9.1f} {unit} {b * scale:9.1f} {unit} {statistics.median(ratios):7.2f}"
            f"  ({min(ratios):.2f}-{max(ratios):.2f})"
        )
        figures[c.strip()] = {"compiled": t["compiled"], "numpy": t["numpy"], "median_ratio": statistics.median(ratios)}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"load_before": load, "rounds": args.rounds, "figures": figures}, f, indent=1)


if __name__ == "__main__":
    main()
