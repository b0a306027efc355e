"""What the accumulator parts cost: the shape every run keeps, and the distribution sketch of quantile runs.

    python benchmarks/parts.py [--repeats 7] [--json out.json]

Each round runs, in this process and in an order shuffled by a seeded
generator, ``montecarlo.run(MODEL, samples=N, rng=1, execution="serial")``
for every model below in three forms:

- ``bare``: with no parts at all, as releases before the shape part ran
  (the collectors are switched off for the run);
- ``default``: as every run now runs, with the `Shape` part (skewness,
  kurtosis, extremes);
- ``quantiles``: with ``Sampling(quantiles=[0.5, 0.99])``, which adds the
  bucket counts and exact extremes.

Reported per model and form: the median CPU time of this process (less
sensitive to other load than wall time), and the median over rounds of its
ratio to ``bare`` in the same round. Targets (information, not enforced):
``default / bare`` at most 1.05 for the π model, whose 0/1 outcomes take a
shortcut, and at most 1.15 for float outputs.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

MODELS = {"pi": 2 * 10**8, "european_option": 8 * 10**6, "tail_probability": 8 * 10**6, "asian_option": 10**6}
FORMS = ("bare", "default", "quantiles")


def timed(model: str, samples: int, form: str) -> float:
    import montecarlo
    from montecarlo.engine import scheduler

    kwargs = {"sampling": montecarlo.Sampling(quantiles=[0.5, 0.99])} if form == "quantiles" else {}
    keep = scheduler.collectors_for
    if form == "bare":
        scheduler.collectors_for = lambda spec, scales=(): ()  # type: ignore[assignment]
    try:
        cpu0 = time.process_time()
        montecarlo.run(model, samples=samples, rng=1, execution="serial", **kwargs)
        return time.process_time() - cpu0
    finally:
        scheduler.collectors_for = keep


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every sample count by this")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()
    models = {m: max(1, int(n * args.scale)) for m, n in MODELS.items()}
    for m, n in models.items():  # warm-up: imports, caches
        for form in FORMS:
            timed(m, max(1, n // 50), form)
    runs: dict[tuple[str, str], list[float]] = {(m, f): [] for m in models for f in FORMS}
    ratios: dict[tuple[str, str], list[float]] = {(m, f): [] for m in models for f in FORMS}
    order = random.Random(7)
    for r in range(args.repeats):
        jobs = [(m, f) for m in models for f in FORMS]
        order.shuffle(jobs)
        got = {job: timed(job[0], models[job[0]], job[1]) for job in jobs}
        for (m, f), t in got.items():
            runs[m, f].append(t)
            ratios[m, f].append(t / got[m, "bare"])
        print(f"round {r + 1}/{args.repeats} done", flush=True)
    print(f"{'model':18s} {'samples':>11s} " + " ".join(f"{f + ' cpu s':>14s} {'x bare':>7s}" for f in FORMS))
    report = []
    for m, n in models.items():
        cells = []
        for f in FORMS:
            cpu, ratio = statistics.median(runs[m, f]), statistics.median(ratios[m, f])
            cells.append(f"{cpu:14.3f} {ratio:7.3f}")
            report.append({"model": m, "samples": n, "form": f, "cpu_s": runs[m, f], "ratio_to_bare": ratios[m, f]})
        print(f"{m:18s} {n:11,d} " + " ".join(cells))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
