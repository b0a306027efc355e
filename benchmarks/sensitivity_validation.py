"""The acceptance figures of Sobol' indices: accuracy and interval coverage over seeds.

    python benchmarks/sensitivity_validation.py [--accuracy-seeds 100] [--coverage-seeds 200]
                                                [--n 16384] [--processes 2] [--json out.json]

Backs docs/sensitivity.md, "Measured". With N = 2^14 base points
(``montecarlo.sensitivity(model, N, rng=seed, ...)``, serial executor, seeds
0, 1, 2, ...; one process per core over the seeds):

- accuracy: Ishigami and the G function with scrambled Sobol' points (16
  replicates of 2^10 points): the seeds whose every index is within 0.01 of
  the exact one (target: at least 95 of 100);
- coverage: the share of 95% intervals that hold each exact index, plain
  random points (delta method) and Sobol' points (Student t on the
  replicates) (target: every rate in [0.92, 0.98] over 200 seeds), and for
  Ishigami's x3, whose first-order index is exactly 0, the share of
  intervals that contain 0 (target: at least 0.95); and the coverage of the
  second-order indices (``second_order=True``);
- the root mean square error and mean half-width of every index.

The binomial standard error of a rate near 0.95 over 200 seeds is 0.015: a
cell of true coverage 0.95 falls outside [0.92, 0.98] with probability
0.03, and below 0.95 with probability 0.5. ``--coverage-seeds 1000`` narrows
it to 0.007. Prints each target as PASS or FAIL and exits 0.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

import montecarlo
from montecarlo import Sampling

MODELS = ("ishigami", "sobol_g")


def one(args: tuple) -> list[tuple]:
    """``(input, kind, estimate, lower, upper, exact)`` of every index of one seed."""
    model, n, seed, sampler, second = args
    sampling = Sampling(sampler="sobol", replicates=16) if sampler == "sobol" else None
    s = montecarlo.sensitivity(model, n, rng=seed, sampling=sampling, execution="serial", second_order=second)
    if second:
        return [(f"{j},{k}", "second", e.estimate, *e.interval, e.exact) for (j, k), e in s.second["y"].items()]
    return [
        (i, kind, e.estimate, e.interval[0], e.interval[1], e.exact)
        for per in s.indices.values()
        for i, pair in per.items()
        for kind, e in (("first", pair.first), ("total", pair.total))
    ]


def seeds(pool: ProcessPoolExecutor, model: str, n: int, count: int, sampler: str, second: bool = False) -> dict:
    t = time.perf_counter()
    runs = list(pool.map(one, [(model, n, s, sampler, second) for s in range(count)], chunksize=4))
    keys = [(i, k) for i, k, *_ in runs[0]]
    est = np.array([[r[2] for r in run] for run in runs])
    lo = np.array([[r[3] for r in run] for run in runs])
    hi = np.array([[r[4] for r in run] for run in runs])
    exact = np.array([r[5] for r in runs[0]])
    return {
        "model": model, "sampler": sampler, "n": n, "seeds": count, "seconds": time.perf_counter() - t,
        "indices": [f"{k[0]} {k[1]}" for k in keys],
        "exact": exact.tolist(),
        "coverage": ((lo <= exact) & (exact <= hi)).mean(axis=0).tolist(),
        "rmse": np.sqrt(((est - exact) ** 2).mean(axis=0)).tolist(),
        "half_width": ((hi - lo) / 2).mean(axis=0).tolist(),
        "all_within_0.01": int((np.abs(est - exact) <= 0.01).all(axis=1).sum()),
        "contains_zero": ((lo <= 0) & (0 <= hi)).mean(axis=0).tolist(),
        "negative": (est < 0).mean(axis=0).tolist(),
    }  # fmt: skip


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--accuracy-seeds", type=int, default=100)
    p.add_argument("--coverage-seeds", type=int, default=200)
    p.add_argument("--n", type=int, default=1 << 14)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    out = []
    with ProcessPoolExecutor(args.processes) as pool:
        print(f"accuracy: scrambled Sobol' points, 16 replicates, N = {args.n:,}, {args.accuracy_seeds} seeds")
        for model in MODELS if args.accuracy_seeds else ():
            r = seeds(pool, model, args.n, args.accuracy_seeds, "sobol")
            out.append({"figure": "accuracy", **r})
            need = 0.95 * args.accuracy_seeds
            print(f"  {model:9} every index within 0.01: {r['all_within_0.01']}/{r['seeds']}  "
                  f"{verdict(r['all_within_0.01'] >= need)}; largest RMSE {max(r['rmse']):.4f} ({r['seconds']:.0f} s)")  # fmt: skip
        print(f"\ncoverage of the 95% intervals, N = {args.n:,}, {args.coverage_seeds} seeds")
        for model in MODELS:
            for sampler in ("random", "sobol"):
                r = seeds(pool, model, args.n, args.coverage_seeds, sampler)
                out.append({"figure": "coverage", **r})
                ok = all(0.92 <= c <= 0.98 for c in r["coverage"])
                print(f"  {model:9} {sampler:6} rates in [{min(r['coverage']):.3f}, {max(r['coverage']):.3f}]  "
                      f"{verdict(ok)} ({r['seconds']:.0f} s)")  # fmt: skip
                for name, c, e, h in zip(r["indices"], r["coverage"], r["rmse"], r["half_width"], strict=True):
                    print(f"      {name:9} coverage {c:.3f}  RMSE {e:.2e}  mean half-width {h:.2e}")
                if model == "ishigami":
                    j = r["indices"].index("x3 first")
                    z = r["contains_zero"][j]
                    print(f"      x3 first (exactly 0): interval contains 0 in {z:.3f} of the seeds "
                          f"{verdict(z >= 0.95)} (at least 0.95); raw estimate negative in {r['negative'][j]:.3f}")  # fmt: skip
        print(f"\nsecond-order indices (--second-order): coverage, N = {args.n:,}, {args.coverage_seeds} seeds")
        for model in MODELS:
            for sampler in ("random", "sobol"):
                r = seeds(pool, model, args.n, args.coverage_seeds, sampler, second=True)
                out.append({"figure": "second-order coverage", **r})
                print(f"  {model:9} {sampler:6} rates in [{min(r['coverage']):.3f}, {max(r['coverage']):.3f}]; "
                      f"largest RMSE {max(r['rmse']):.4f}, mean half-width up to {max(r['half_width']):.4f} "
                      f"({r['seconds']:.0f} s)")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
