"""Coverage of the randomized-QMC t interval, and se² against the variance over seeds.

    python benchmarks/rqmc_coverage.py [--seeds 2000] [--first-seed 10000] [--only LABEL,...] [--json out.json]

Backs the table "Honest intervals" of docs/rqmc.md. Each case runs
``montecarlo.run(model, R * m, rng=seed, sampling=Sampling(sampler="sobol",
replicates=R), execution="serial")`` for every seed and reports: the share of
95% intervals that hold the true value (with its binomial standard error),
mean(se²) / var(estimates), the mean of (estimate - value) / se, and the
skewness of the replicate means (all seeds pooled: independent scrambles),
which is what makes a t interval on few replicate means cover less. The
arithmetic Asian call is compared with the control-variate estimate of a run
of 16 x 2^20 Sobol' points.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from scipy import stats

import montecarlo
from montecarlo import Sampling

#: (label, model, params, outputs, replicates, points per replicate)
CASES = [
    ("european call", "european_option", {}, ["price"], 16, 1024),
    ("european call", "european_option", {}, ["price"], 32, 512),
    ("european call", "european_option", {}, ["price"], 64, 256),
    ("european call, antithetic", "european_option", {"antithetic": True}, ["price"], 16, 1024),
    ("asian", "asian_option", {}, ["arithmetic", "geometric"], 16, 256),
    ("asian", "asian_option", {}, ["arithmetic", "geometric"], 8, 256),
    ("integrate gaussian d=5", "integrate", {"family": "gaussian", "dim": 5}, ["value"], 16, 256),
    ("integrate gaussian d=5", "integrate", {"family": "gaussian", "dim": 5}, ["value"], 8, 256),
]


def measure(label, model, params, outputs, replicates, points, seeds, first, reference):
    sampling = Sampling(sampler="sobol", replicates=replicates)
    t0 = time.perf_counter()
    names = [o.name for o in montecarlo.models.registry.load_model(model).outputs]
    hits = dict.fromkeys(outputs, 0)
    est: dict = {o: [] for o in outputs}
    se: dict = {o: [] for o in outputs}
    means: dict = {o: [] for o in outputs}
    truth = {}
    for seed in range(first, first + seeds):
        r = montecarlo.run(model, replicates * points, rng=seed, params=params, sampling=sampling, execution="serial")
        for o in outputs:
            e = r[o]
            truth[o] = e.exact if e.exact is not None else reference
            hits[o] += e.covers(truth[o])
            est[o].append(e.estimate)
            se[o].append(e.standard_error)
            means[o].append(r.accumulator.parts["replicates"].means[:, names.index(o)])
    rows = []
    for o in outputs:
        x, s = np.array(est[o]), np.array(se[o])
        share = hits[o] / seeds
        row = {
            "label": label,
            "output": o,
            "replicates": replicates,
            "points": points,
            "seeds": seeds,
            "coverage": share,
            "coverage_se": math.sqrt(share * (1 - share) / seeds),
            "se2_over_variance": float(np.mean(s**2) / np.var(x, ddof=1)),
            "mean_z": float(np.mean((x - truth[o]) / s)),
            # every replicate of every seed: independent scrambles
            "skewness_of_replicate_means": float(stats.skew(np.concatenate(means[o]))),
            "seconds": time.perf_counter() - t0,
        }
        print(
            f"| {label} | `{o}` | {replicates} x {points} | {seeds} | {share:.3f} ± {row['coverage_se']:.3f} "
            f"| {row['se2_over_variance']:.2f} | {row['mean_z']:+.2f} | {row['skewness_of_replicate_means']:.2f} |",
            flush=True,
        )
        rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=2000)
    ap.add_argument("--first-seed", type=int, default=10_000)
    ap.add_argument("--only", default="", help="comma-separated labels (default: all)")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    asian = montecarlo.run("asian_option", 16 << 20, rng=2**40, sampling=Sampling(sampler="sobol"))
    ref = asian["arithmetic_cv"]
    print(f"arithmetic Asian reference (control variate) {ref.estimate!r} ± {ref.standard_error:.2g}")
    print("\n| model | output | R x points | seeds | coverage of 95% | se² / variance | mean error / se | skewness |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for case in CASES:
        if args.only and case[0] not in args.only.split(","):
            continue
        rows += measure(*case, args.seeds, args.first_seed, asian["arithmetic_cv"].estimate)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
