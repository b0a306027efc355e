"""Flat memory over many tiny blocks.

    python benchmarks/tiny_blocks.py [--blocks 100000] [--block-size 10] [--workers 2]

Runs ``mc run pi --samples BLOCKS*BLOCK_SIZE --block-size BLOCK_SIZE`` (by
default 100,000 blocks of 10 samples), polls the summed RSS of the process
tree, and prints the peak together with the peak of each tenth of the run:
with blocks produced lazily and a bounded window of tasks in flight, the
figures stay flat however many blocks there are. Reports, never judges (exit 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from proctree import MB, measure


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--blocks", type=int, default=100_000)
    ap.add_argument("--block-size", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--mc", default=str(Path(sys.executable).parent / "mc"))
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    n = a.blocks * a.block_size
    cmd = [
        a.mc,
        "run",
        "pi",
        "--samples",
        str(n),
        "--block-size",
        str(a.block_size),
        "--workers",
        str(a.workers),
        "--seed",
        "1",
        "--json",
        "--quiet",
    ]
    rec = measure(cmd, interval=0.02)
    tenths = [0] * 10
    for t, rss in rec["series"]:
        i = min(9, int(10 * t / rec["wall_s"])) if rec["wall_s"] > 0 else 0
        tenths[i] = max(tenths[i], rss)
    ok = rec["rc"] == 0 and json.loads(rec["stdout"])["samples"] == n
    print(
        f"{a.blocks:,} blocks of {a.block_size} samples, {a.workers} workers: exit {rec['rc']}, "
        f"{rec['wall_s']:.1f} s, {a.blocks / rec['wall_s']:,.0f} blocks/s, result complete: {ok}"
    )
    print(
        f"peak tree RSS {rec['peak_tree_mb']:.0f} MB; by tenth of the run (MB): "
        + " ".join(f"{x / MB:.0f}" for x in tenths if x)
    )
    if a.json:
        Path(a.json).write_text(
            json.dumps({k: v for k, v in rec.items() if k not in ("stdout", "series")}, indent=2, default=str)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
