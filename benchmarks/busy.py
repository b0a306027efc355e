"""A perfectly parallel job, for calibration: the same Python loop work in one process or split over W.

    python benchmarks/busy.py serial|processes [--workers W] [--work N]

Its processes / serial ratio is what any job can reach on the machine as it
is loaded now (1 / W on idle cores, near 1 when other jobs hold the cores).
"""

from __future__ import annotations

import argparse
from multiprocessing import get_context


def burn(n: int) -> int:
    x = 0
    for i in range(n):
        x += i
    return x


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("serial", "processes"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--work", type=int, default=6 * 10**7)
    args = ap.parse_args()
    if args.mode == "serial":
        burn(args.work)
        return
    with get_context("fork").Pool(args.workers) as pool:
        pool.map(burn, [args.work // args.workers] * args.workers)


if __name__ == "__main__":
    main()
