"""Throughput of the π kernel on one core for each numpy bit generator.

    python benchmarks/bitgen.py [--samples 2e8] [--repeats 5] [--json out.json]

Backs the README's "Choice of bit generator": each round runs
``montecarlo.run("pi", samples=N, rng=SEED, execution="serial",
sampling=Sampling(bit_generator=NAME))`` in this process for every bit generator, in an order
shuffled by a seeded generator, so that load on a shared machine falls on all
of them alike. Reported per generator: median throughput in M samples/s (wall
clock and CPU time of this process) and the speed relative to pcg64, the
median over rounds of the ratio within a round.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time

from proctree import fmt_count, parse_count, pi_standard_error

GENERATORS = ("sfc64", "pcg64", "pcg64dxsm", "philox")
REFERENCE = "pcg64"


def timed_run(bit_generator: str, samples: int, seed: int) -> dict:
    import montecarlo

    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = montecarlo.run(
        "pi", samples=samples, rng=seed, execution="serial", sampling=montecarlo.Sampling(bit_generator=bit_generator)
    )
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    return {
        "bit_generator": bit_generator,
        "wall_s": wall,
        "cpu_s": cpu,
        "estimate": float(result.estimate),
        "executor": result.provenance["executor"],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--samples", type=parse_count, default=parse_count("2e8"), help="samples per run (default 2e8)")
    ap.add_argument("--repeats", type=int, default=5, help="rounds; medians reported (default 5)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the runs (default 1)")
    ap.add_argument("--shuffle-seed", type=int, default=0, help="seeds the order of each round (default 0)")
    ap.add_argument("--generators", default=",".join(GENERATORS), help="comma list (default: all four)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    args = ap.parse_args(argv)
    names = [g.strip() for g in args.generators.split(",") if g.strip()]
    if REFERENCE not in names:
        names.append(REFERENCE)

    import numpy

    import montecarlo

    print(
        f"# bitgen: pi kernel, N={fmt_count(args.samples)} per run, serial executor, one core; "
        f"python {platform.python_version()} numpy {numpy.__version__} montecarlo {montecarlo.__version__} "
        f"load {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    for name in names:  # warm-up: imports, first-touch of the buffers
        timed_run(name, min(args.samples, 1 << 22), args.seed)

    runs: dict[str, list[dict]] = {name: [] for name in names}
    for r in range(args.repeats):
        order = list(names)
        random.Random(args.shuffle_seed * 1_000_003 + r).shuffle(order)
        for name in order:
            rec = timed_run(name, args.samples, args.seed)
            rec["round"] = r
            runs[name].append(rec)
            print(
                f"  round {r + 1}/{args.repeats} {name:10s} {args.samples / rec['wall_s'] / 1e6:7.1f} M/s  "
                f"(cpu {args.samples / rec['cpu_s'] / 1e6:7.1f} M/s)  pi {rec['estimate']:.6f}",
                flush=True,
            )

    se = pi_standard_error(args.samples)
    summary = {}
    for name in names:
        rs = runs[name]
        ratios = [
            args.samples / a["wall_s"] / (args.samples / b["wall_s"]) for a, b in zip(rs, runs[REFERENCE], strict=True)
        ]
        summary[name] = {
            "msamples_per_s": args.samples / statistics.median(r["wall_s"] for r in rs) / 1e6,
            "cpu_msamples_per_s": args.samples / statistics.median(r["cpu_s"] for r in rs) / 1e6,
            "ratio_to_pcg64": statistics.median(ratios),
            "max_abs_z": max(abs(r["estimate"] - math.pi) / se for r in rs),
        }

    print()
    print(f"== median of {args.repeats} interleaved rounds ==")
    print(f"{'bit generator':14s} {'M samples/s':>12s} {'(cpu time)':>11s} {'x pcg64':>8s} {'max |z|':>8s}")
    for name in sorted(names, key=lambda n: -summary[n]["msamples_per_s"]):
        s = summary[name]
        bad = "" if s["max_abs_z"] <= 5.0 else " BAD"
        print(
            f"{name:14s} {s['msamples_per_s']:12.1f} {s['cpu_msamples_per_s']:11.1f} "
            f"{s['ratio_to_pcg64']:8.2f} {s['max_abs_z']:8.2f}{bad}"
        )
    print(f"load average at end {os.getloadavg()[0]:.2f}")

    if args.json:
        doc = {
            "meta": {
                "argv": sys.argv,
                "samples": args.samples,
                "repeats": args.repeats,
                "seed": args.seed,
                "python": platform.python_version(),
                "numpy": numpy.__version__,
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
            },
            "summary": summary,
            "runs": runs,
        }
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
