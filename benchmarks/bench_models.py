"""Every model on every core: local processes against one process, for each built-in model and user models.

    python benchmarks/bench_models.py --repeats 3 [--json out.json]
    python benchmarks/bench_models.py --models european_option,asian_option --repeats 1

For each model, in rounds whose order is shuffled by a seeded generator, two
whole processes are timed back to back, in a shuffled order (start-up
included, as a user pays it):

- ``mc run MODEL -n N --seed S --json --quiet --executor serial``
- the same with ``--workers W`` (local processes)

and ``processes / serial`` is the median over rounds of the ratio of the two
walls measured in the same round (target <= 0.55 with two workers: a parallel
efficiency of at least 0.9), and beside it that ratio over the busy loop's
(below; target <= 1.1). Sample counts are chosen so that the serial run
takes a couple of seconds on the development machine; ``--scale 5`` gives
runs of about ten seconds, long enough that start-up (Python, numpy and
scipy imported, the statistics kernel compiled: about 0.5 s, in both runs)
does not dominate.

The user models live in ``usermodels.py`` next to this file: three float
outputs from numpy, and a random walk written twice, in numpy and compiled
with numba (``@numba.njit`` taking the block's Generator). A last row is no model: a pure-Python loop
split over the workers (``busy.py``), whose ratio is what any perfectly
parallel job reaches on the machine as loaded during the run (0.5 on two
idle cores; near 1 when other jobs hold the cores). The last section
times the two walks in one process (``execution="serial"``, CPU time, median
of the rounds): the numba model's speed-up.

It reports and never judges: the exit code is 0 whatever the figures.
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

from proctree import fmt_count, measure, parse_count

HERE = Path(__file__).resolve().parent
TARGET = 0.55
#: A model's ratio over the busy loop's, round by round: within 10% of a perfectly parallel job.
BUSY_TARGET = 1.1

#: model -> (reference, samples): serial runs of about two seconds on two cores.
MODELS = {
    "pi": ("pi", "4e8"),
    "buffon": ("buffon", "5e7"),
    "integrate": ("integrate", "2.5e7"),
    "european_option": ("european_option", "1.5e8"),
    "asian_option": ("asian_option", "1e7"),
    "gamblers_ruin": ("gamblers_ruin", "1e6"),
    "tail_probability": ("tail_probability", "2.5e7"),
    "user: three float outputs": ("usermodels:three_floats", "8e7"),
    "user: walk (numpy)": ("usermodels:walk_numpy", "3e5"),
    "user: walk (numba)": ("usermodels:walk_numba", "5e5"),
    # Not a model: a pure-Python loop split over the workers (busy.py), the
    # ratio any perfectly parallel job reaches on the machine as loaded now.
    "calibration: busy loop": ("busy", "60000000"),
}


def default_mc() -> str:
    return str(Path(sys.executable).parent / "mc")


def run_round(args: argparse.Namespace, names: list[str], rnd: int, runs: dict) -> None:
    # Models in a shuffled order, each one's two runs back to back (in a
    # shuffled order too): the two walls of a ratio see the same load.
    shuffle = random.Random(1000 + rnd).shuffle
    order = list(names)
    shuffle(order)
    jobs = []
    for name in order:
        modes = ["serial", "processes"]
        shuffle(modes)
        jobs += [(name, mode) for mode in modes]
    for name, mode in jobs:
        if args.marginal:  # the run at the scale and at twice it, back to back: the difference is start-up free
            factors = [1, 2]
            shuffle(factors)
            pair = {f: measure(command(args, name, mode, f * args.scale)) for f in factors}
            rec = {
                "rc": pair[1]["rc"] or pair[2]["rc"],
                "stderr_tail": pair[1]["stderr_tail"] + pair[2]["stderr_tail"],
                "wall_s": pair[2]["wall_s"] - pair[1]["wall_s"],
                "cpu_s": pair[2]["cpu_s"] - pair[1]["cpu_s"],
                "at_scale": pair[1],
                "at_twice": pair[2],
            }
        else:
            rec = measure(command(args, name, mode, args.scale))
        if rec["rc"] != 0:
            print(f"  {name} {mode}: exit {rec['rc']}: {rec['stderr_tail'].strip()[-300:]}", flush=True)
        runs.setdefault(name, {}).setdefault(mode, []).append(rec)
        print(
            f"  round {rnd + 1} {name:28s} {mode:9s} wall {rec['wall_s']:6.2f} s  cpu {rec['cpu_s']:6.2f} s  "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )


def command(args: argparse.Namespace, name: str, mode: str, scale: float) -> list[str]:
    """The command line of one timed run: ``mc run`` (or the busy loop) at ``scale`` times the model's samples."""
    ref, samples = MODELS[name]
    count = str(round(parse_count(samples) * scale))
    if ref == "busy":
        return [sys.executable, str(HERE / "busy.py"), mode, "--workers", str(args.workers), "--work", count]
    extra = ["--executor", "serial"] if mode == "serial" else ["--workers", str(args.workers)]
    return [args.mc, "run", ref, "-n", count, "--seed", str(args.seed), "--json", "-q", *extra]


def walk_speedup(args: argparse.Namespace) -> dict:
    """CPU time of the numpy and the numba walk in this process, interleaved; median ratio."""
    sys.path.insert(0, str(HERE))
    import usermodels

    import montecarlo

    n = parse_count(args.walk_samples)
    montecarlo.run(usermodels.walk_numba, 10_000, rng=1, execution="serial")  # compile (or load) first
    times: dict[str, list[float]] = {"numpy": [], "numba": []}
    for rnd in range(args.repeats):
        order = ["numpy", "numba"]
        random.Random(rnd).shuffle(order)
        for which in order:
            fn = usermodels.walk_numpy if which == "numpy" else usermodels.walk_numba
            t = time.process_time()
            r = montecarlo.run(fn, n, rng=args.seed, execution="serial")
            times[which].append(time.process_time() - t)
            print(f"  walk {which}: {times[which][-1]:.2f} s cpu, mean r2 {r.estimate:.2f} (exact 100)", flush=True)
    ratios = [a / b for a, b in zip(times["numpy"], times["numba"], strict=True)]
    return {
        "samples": n,
        "numpy_cpu_s": statistics.median(times["numpy"]),
        "numba_cpu_s": statistics.median(times["numba"]),
        "speedup": statistics.median(ratios),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated names (default: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--scale", type=float, default=1.0, help="samples (and busy-loop work) times this: longer runs, less start-up"
    )
    ap.add_argument(
        "--marginal",
        action="store_true",
        help="time each run at the scale and at twice it and compare the differences: start-up cancels out",
    )
    ap.add_argument("--walk-samples", default="2e5", help="samples of the in-process walk comparison")
    ap.add_argument("--mc", default=default_mc())
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    env_path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    os.environ["PYTHONPATH"] = env_path  # mc and its workers import usermodels by name
    print(f"# bench_models.py: W={args.workers}, {args.repeats} round(s), load {os.getloadavg()}", flush=True)
    runs: dict = {}
    for rnd in range(args.repeats):
        run_round(args, names, rnd, runs)
    rows = []
    print(f"\n== processes (W={args.workers}) / serial, whole processes, median of {args.repeats} rounds ==")
    print(
        f"{'model':28s} {'samples':>8s} {'serial s':>9s} {'proc s':>8s} {'ratio':>6s} {'cpu x':>6s} "
        f"{'/ busy':>6s}  target"
    )
    busy = runs.get("calibration: busy loop")
    busy_ratios = (
        [p["wall_s"] / s["wall_s"] for s, p in zip(busy["serial"], busy["processes"], strict=True)] if busy else None
    )
    for name in names:
        serial, procs = runs[name]["serial"], runs[name]["processes"]
        ratios = [p["wall_s"] / s["wall_s"] for s, p in zip(serial, procs, strict=True)]
        cpu = [p["cpu_s"] / s["cpu_s"] for s, p in zip(serial, procs, strict=True)]
        row = {
            "model": name,
            "samples": round(parse_count(MODELS[name][1]) * args.scale),
            "serial_s": statistics.median(r["wall_s"] for r in serial),
            "processes_s": statistics.median(r["wall_s"] for r in procs),
            "ratio": statistics.median(ratios),
            "cpu_ratio": statistics.median(cpu),
        }
        # Against the busy loop of the same round: what the machine allowed any parallel job then.
        row["busy_relative"] = (
            statistics.median(a / b for a, b in zip(ratios, busy_ratios, strict=True)) if busy_ratios else None
        )
        rows.append(row)
        verdict = "PASS" if row["ratio"] <= TARGET else "FAIL"
        relative = row["busy_relative"]
        against_busy = f"{relative:6.2f}" if relative is not None else f"{'-':>6s}"
        if relative is not None:
            verdict += f", / busy <= {BUSY_TARGET} {'PASS' if relative <= BUSY_TARGET else 'FAIL'}"
        print(
            f"{name:28s} {fmt_count(row['samples']):>8s} {row['serial_s']:9.2f} {row['processes_s']:8.2f} "
            f"{row['ratio']:6.2f} {row['cpu_ratio']:6.2f} {against_busy}  <= {TARGET} {verdict}"
        )
    walk = None
    if "user: walk (numba)" in names:
        print("\n== numba user model against its numpy twin, in-process, CPU time ==")
        walk = walk_speedup(args)
        print(
            f"walk of 100 steps, {fmt_count(walk['samples'])} samples: numpy {walk['numpy_cpu_s']:.2f} s, "
            f"numba {walk['numba_cpu_s']:.2f} s: speed-up {walk['speedup']:.1f}x"
        )
    print(f"\nload average at the end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "walk": walk, "runs": runs}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
