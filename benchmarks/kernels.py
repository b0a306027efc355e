"""What each compiled kernel buys on a whole run: ``mc run`` with and without the kernels, process against process.

    python benchmarks/kernels.py --repeats 5 [--json out.json]

A compiled kernel stays in the package only where it makes a whole run of
some built-in model at least 1.2x faster. For each model, in rounds of
shuffled order, two whole ``mc run MODEL -n N --seed 1 --executor serial
--json --quiet`` processes are timed (start-up and the kernel's compilation
included, as a user pays them): one with ``MONTECARLO_JIT=0`` (the numpy code)
and one with the defaults. The figure is the median over rounds of
``without / with`` of the CPU times measured in the same round. Both runs
must print the same numbers (checked: the kernels give numpy's bits).

- ``pi``: the π model's hit counter (`montecarlo._kernels.pi`);
- ``european_option``: one float output, the column pass of a batch's
  statistics (`montecarlo._kernels.stats`);
- ``asian_option`` and three float outputs: the batch pass of several
  outputs (the same module).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
from pathlib import Path

from proctree import measure

HERE = Path(__file__).resolve().parent
MC = str(Path(sys.executable).with_name("mc"))
TARGET = 1.2

MODELS = {
    "pi": ("pi", "4e8"),
    "european_option": ("european_option", "6e7"),
    "asian_option": ("asian_option", "4e6"),
    "user: three float outputs": ("usermodels:three_floats", "2e7"),
}


def numbers(stdout: str) -> dict:
    d = json.loads(stdout)
    return {k: v for k, v in d.items() if k not in ("provenance", "checksum")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated keys of MODELS")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    os.environ.update(env)
    chosen = [m.strip() for m in args.models.split(",")]
    shuffle = random.Random(2026)
    cpu: dict[str, dict[str, list[float]]] = {m: {"numpy": [], "compiled": []} for m in chosen}
    wall: dict[str, dict[str, list[float]]] = {m: {"numpy": [], "compiled": []} for m in chosen}
    for r in range(args.repeats):
        jobs = [(m, way) for m in chosen for way in ("numpy", "compiled")]
        shuffle.shuffle(jobs)
        outs = {}
        for m, way in jobs:
            ref, n = MODELS[m]
            os.environ["MONTECARLO_JIT"] = "0" if way == "numpy" else "1"
            rec = measure([MC, "run", ref, "-n", n, "--seed", "1", "--executor", "serial", "--json", "--quiet"])
            if "error" in rec:
                print(f"{m} ({way}): {rec['error']}")
                return 1
            cpu[m][way].append(rec["cpu_s"])
            wall[m][way].append(rec["wall_s"])
            outs[(m, way)] = numbers(rec["stdout"])
            print(f"  round {r + 1} {m:28s} {way:8s} wall {rec['wall_s']:6.2f} s cpu {rec['cpu_s']:6.2f} s")
        for m in chosen:
            assert outs[(m, "numpy")] == outs[(m, "compiled")], f"{m}: the kernel changed a number"
    print("\n== whole serial runs, numpy code / compiled kernels (same numbers), median of rounds ==")
    print(f"{'model':28s} {'numpy cpu s':>11s} {'kernel cpu s':>12s} {'cpu ratio':>9s} {'wall ratio':>10s}")
    rows = []
    for m in chosen:
        ratios = [a / b for a, b in zip(cpu[m]["numpy"], cpu[m]["compiled"], strict=True)]
        wratios = [a / b for a, b in zip(wall[m]["numpy"], wall[m]["compiled"], strict=True)]
        row = {
            "model": m,
            "numpy_cpu_s": statistics.median(cpu[m]["numpy"]),
            "kernel_cpu_s": statistics.median(cpu[m]["compiled"]),
            "cpu_ratio": statistics.median(ratios),
            "wall_ratio": statistics.median(wratios),
        }
        rows.append(row)
        verdict = "buys it" if row["cpu_ratio"] >= TARGET else "does not"
        print(
            f"{m:28s} {row['numpy_cpu_s']:11.2f} {row['kernel_cpu_s']:12.2f} {row['cpu_ratio']:9.2f} "
            f"{row['wall_ratio']:10.2f}  >= {TARGET} {verdict}"
        )
    print(f"\nload average at the end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
