"""What the engine costs beside the model: an in-process run against a hand-written numpy loop.

    python benchmarks/overhead.py --repeats 7 [--json out.json]

For each model, in rounds of shuffled order, one process times:

- ``montecarlo.run(model, N, rng=S, execution="serial")``: seeded blocks,
  checks of every batch, co-moments, the in-order fold, estimates and
  intervals;
- a hand-written loop: one ``Generator(SFC64(S))``, the same model function
  called on batches of the same size, and the running sum and sum of squares
  of its outputs (``x.sum()``, ``x @ x``), from which the mean and variance.

Both run with one BLAS thread (as the engine's blocks do), and with the
allocator settings of a worker process (``workerenv.keep_pages``): with
glibc's own, whether a loop faults its buffers in afresh every batch
depends on where earlier buffers happened to land (the hand loop took
49,000 page faults per run in one process layout and 240 in another), which
would decide the figure. The figure is the
median over rounds of ``run / loop`` measured in the same round, by CPU time
of the process (less sensitive to other load than wall time, which is also
printed). Target: at most 1.15 for ``european_option`` and for the cheap
one-output user model ``np.exp(a * rng.random(n))``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import usermodels  # noqa: E402

import montecarlo  # noqa: E402
from montecarlo.engine import workerenv  # noqa: E402

TARGET = 1.15
MODELS = {"european_option": ("european_option", 2 * 10**7), "exp(a U)": (usermodels.exp_uniform, 3 * 10**7)}


def hand_loop(simulate, samples: int, batch: int, params: dict, seed: int) -> tuple[float, float]:
    """Mean and variance of ``simulate``'s output over ``samples`` samples, batch by batch."""
    rng = np.random.Generator(np.random.SFC64(seed))
    total = total2 = 0.0
    done = 0
    while done < samples:
        m = min(batch, samples - done)
        x = simulate(rng, m, **params)
        total += x.sum()
        total2 += x @ x
        done += m
    mean = total / samples
    return mean, (total2 - samples * mean * mean) / (samples - 1)


def timed(fn) -> tuple[float, float, object]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every sample count")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    print(f"# overhead.py: {args.repeats} rounds, load {os.getloadavg()}", flush=True)
    workerenv.keep_pages()
    runs: dict[str, dict[str, list]] = {name: {"run": [], "loop": []} for name in MODELS}
    for model, _ in MODELS.values():  # warm-up: imports, first allocations
        montecarlo.run(model, 10**5, rng=1, execution="serial")
    for rnd in range(args.repeats):
        jobs = [(name, kind) for name in MODELS for kind in ("run", "loop")]
        random.Random(rnd).shuffle(jobs)
        for name, kind in jobs:
            model, samples = MODELS[name]
            samples = int(samples * args.scale)
            spec = montecarlo.make_spec(model, samples, rng=args.seed)
            rec = spec.model_record
            if kind == "run":
                wall, cpu, out = timed(
                    functools.partial(montecarlo.run, model, samples, rng=args.seed, execution="serial")
                )
                mean = out.estimate
            else:
                loop = functools.partial(
                    hand_loop, rec.simulate, samples, spec.batch_size, dict(spec.params), args.seed
                )
                with threadpool_limits(1):
                    wall, cpu, out = timed(loop)
                mean = out[0]
            runs[name][kind].append({"wall_s": wall, "cpu_s": cpu, "mean": float(mean)})
            print(f"  round {rnd + 1} {name:16s} {kind:4s} wall {wall:6.3f} s cpu {cpu:6.3f} s  mean {mean:.5f}")
    print(f"\n== in-process run / hand-written loop, median of {args.repeats} rounds ==")
    print(f"{'model':16s} {'batch':>6s} {'run cpu s':>9s} {'loop cpu s':>10s} {'cpu ratio':>9s} {'wall ratio':>10s}")
    rows = []
    for name, (model, samples) in MODELS.items():
        r, h = runs[name]["run"], runs[name]["loop"]
        spec = montecarlo.make_spec(model, samples, rng=args.seed)
        row = {
            "model": name,
            "samples": int(samples * args.scale),
            "batch_size": spec.batch_size,
            "run_cpu_s": statistics.median(x["cpu_s"] for x in r),
            "loop_cpu_s": statistics.median(x["cpu_s"] for x in h),
            "cpu_ratio": statistics.median(a["cpu_s"] / b["cpu_s"] for a, b in zip(r, h, strict=True)),
            "wall_ratio": statistics.median(a["wall_s"] / b["wall_s"] for a, b in zip(r, h, strict=True)),
        }
        rows.append(row)
        verdict = "PASS" if row["cpu_ratio"] <= TARGET else "FAIL"
        print(
            f"{name:16s} {row['batch_size']:6d} {row['run_cpu_s']:9.3f} {row['loop_cpu_s']:10.3f} "
            f"{row['cpu_ratio']:9.3f} {row['wall_ratio']:10.3f}  <= {TARGET} {verdict}"
        )
    print(f"\nload average at the end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
