"""Root mean square error against n: plain Monte Carlo and scrambled Sobol' points, per model.

    python benchmarks/rqmc_rmse.py [--low 10] [--high 20] [--seeds 16] [--plot docs/images/rqmc_rmse.png]
                                   [--json out.json]

Backs docs/rqmc.md. For each built-in model with a uniform form and each
``n = 2^low .. 2^high``:

- plain: ``--seeds`` runs of ``n`` samples (``montecarlo.run(model, n,
  rng=seed)``); RMSE = sqrt(mean((estimate - value)^2)) over the seeds;
- randomized QMC: one run with ``--seeds`` replicates of ``n`` Sobol' points
  each (``sampler="sobol"``); the replicate means are independent scrambles,
  so RMSE = sqrt(mean((replicate mean - value)^2)) over the replicates is
  the error of one scrambled set of ``n`` points.

``value`` is the exact value, or for the arithmetic Asian call (no closed
form) the control-variate estimate of a separate run of 16 x 2^(high + 1)
Sobol' points, whose standard error is recorded beside it. The fitted rate is the slope of
log RMSE against log n by least squares. The Asian call is run twice with
Sobol' points: with the model's Brownian-bridge construction and with the
path built in time order (the same uniform form, ``bridge=False``).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import math
import sys
import time

import numpy as np

import montecarlo
from montecarlo import Sampling
from montecarlo.models.builtin import asian_option
from montecarlo.models.registry import load_model
from montecarlo.records.provenance import software

#: (label, model, params, output); the Asian call in time order is the model with `bridge=False`.
CASES = [
    ("pi", "pi", {}, "pi"),
    ("buffon (crossing)", "buffon", {}, "crossing"),
    ("integrate oscillatory d=5", "integrate", {"family": "oscillatory", "dim": 5}, "value"),
    ("integrate gaussian d=5", "integrate", {"family": "gaussian", "dim": 5}, "value"),
    ("european call", "european_option", {}, "price"),
    ("european call, antithetic", "european_option", {"antithetic": True}, "price"),
    ("asian arithmetic, bridge", "asian_option", {}, "arithmetic"),
    ("asian arithmetic, time order", "asian_time_order", {}, "arithmetic"),
    ("tail_probability importance c=4", "tail_probability", {"c": 4.0}, "importance"),
]


def model_of(name: str) -> montecarlo.Model:
    if name == "asian_time_order":
        rec = load_model("asian_option")
        return dataclasses.replace(rec, uniform=functools.partial(asian_option.prices_at, bridge=False))
    return load_model(name)


def rate(ns: list[int], rmse: list[float]) -> float:
    """Least-squares slope of log RMSE against log n."""
    return float(np.polyfit(np.log(ns), np.log(rmse), 1)[0])


def measure(label: str, name: str, params: dict, output: str, ns: list[int], seeds: int, refs: dict) -> dict:
    rec = model_of(name)
    t0 = time.perf_counter()
    exact = rec.exact_estimates(rec.bind(params)).get(output)
    if exact is None:  # the arithmetic Asian call: a reference run, cached per model and params
        key = json.dumps([name.replace("_time_order", "_option"), params, output], sort_keys=True)
        if key not in refs:
            # Its control-variate estimate where the model has one (several times more precise).
            big = montecarlo.run(rec, 16 * 2 * ns[-1], rng=2**31, params=params, sampling=Sampling(sampler="sobol"))
            best = next((c.name for c in rec.controls if c.target == output), output)
            refs[key] = (big[best].estimate, big[best].standard_error)
        exact, ref_se = refs[key]
    else:
        ref_se = 0.0
    j = rec.output_names.index(output)
    scale = rec.outputs[j].scale
    plain, quasi = [], []
    for n in ns:
        errs = [montecarlo.run(rec, n, rng=s, params=params)[output].estimate - exact for s in range(seeds)]
        plain.append(math.sqrt(float(np.mean(np.square(errs)))))
        r = montecarlo.run(rec, seeds * n, rng=n, params=params, sampling=Sampling(sampler="sobol", replicates=seeds))
        means = scale * r.accumulator.parts["replicates"].means[:, j]
        quasi.append(math.sqrt(float(np.mean(np.square(means - exact)))))
        print(f"  {label}: n=2^{int(math.log2(n))} plain {plain[-1]:.3g} sobol {quasi[-1]:.3g}", file=sys.stderr)
    row = {
        "label": label,
        "model": name,
        "params": params,
        "output": output,
        "value": exact,
        "value_standard_error": ref_se,
        "n": ns,
        "rmse_plain": plain,
        "rmse_sobol": quasi,
        "rate_plain": rate(ns, plain),
        "rate_sobol": rate(ns, quasi),
        "seconds": time.perf_counter() - t0,
    }
    print(
        f"{label}: rate plain {row['rate_plain']:.2f}, sobol {row['rate_sobol']:.2f}; at n=2^{int(math.log2(ns[-1]))} "
        f"RMSE plain {plain[-1]:.3g}, sobol {quasi[-1]:.3g} ({plain[-1] / quasi[-1]:.0f}x less)",
        flush=True,
    )
    return row


def plot(rows: list[dict], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 3
    fig, axes = plt.subplots(-(-len(rows) // cols), cols, figsize=(4.2 * cols, 3.3 * -(-len(rows) // cols)))
    for ax, row in zip(axes.flat, rows, strict=False):
        n = np.array(row["n"], dtype=float)
        ax.loglog(n, row["rmse_plain"], "o-", ms=3, label=f"plain, rate {row['rate_plain']:.2f}")
        ax.loglog(n, row["rmse_sobol"], "s-", ms=3, label=f"Sobol', rate {row['rate_sobol']:.2f}")
        for power, style in ((0.5, ":"), (1.0, "--")):
            ref = row["rmse_plain"][0] * (n / n[0]) ** -power
            ax.loglog(n, ref, "k" + style, lw=0.7, label=f"n^-{power:g}")
        ax.set_title(row["label"], fontsize=9)
        ax.set_xlabel("n (points)", fontsize=8)
        ax.set_ylabel("RMSE", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(rows) :]:
        ax.axis("off")
    fig.suptitle("RMSE against n: plain Monte Carlo and scrambled Sobol' points (one replicate of n points)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--low", type=int, default=10, help="smallest n is 2^LOW")
    ap.add_argument("--high", type=int, default=20, help="largest n is 2^HIGH")
    ap.add_argument("--seeds", type=int, default=16, help="plain seeds, and Sobol' replicates, per n")
    ap.add_argument("--only", default="", help="comma-separated labels to run (default: all)")
    ap.add_argument("--plot", default="", help="write the log-log plot to this file")
    ap.add_argument("--json", default="", help="write every figure to this file")
    args = ap.parse_args()
    ns = [1 << k for k in range(args.low, args.high + 1)]
    wanted = [c for c in CASES if not args.only or c[0] in args.only.split(",")]
    refs: dict = {}
    rows = [measure(*case, ns, args.seeds, refs) for case in wanted]
    head = f"RMSE at n = 2^{args.high}, plain"
    print(f"\n| model | output | fitted rate, plain | fitted rate, Sobol' | {head} | Sobol' | ratio |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        p, q = r["rmse_plain"][-1], r["rmse_sobol"][-1]
        print(
            f"| {r['label']} | `{r['output']}` | {r['rate_plain']:.2f} | {r['rate_sobol']:.2f} | {p:.2g} | {q:.2g} | {p / q:.0f}x |"
        )
    if args.plot:
        plot(rows, args.plot)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "seeds": args.seeds, "software": software()}, f, indent=1)


if __name__ == "__main__":
    main()
