"""The joblib peer of bench_pi.py: π hits with joblib and numpy, spawned seeds.

    python joblib_pi.py SAMPLES WORKERS SEED [--chunk 65536] [--tasks-per-worker 4]

What a careful joblib user writes (the "joblib, numpy chunks, spawned seeds"
peer of the π peer harness, same algorithm and defaults):
``joblib.Parallel(n_jobs=WORKERS)`` with its default (loky) backend over
``WORKERS * tasks_per_worker`` tasks of nearly equal size; task ``i`` draws from
``Generator(PCG64(SeedSequence(SEED).spawn(tasks)[i]))`` and counts hits in
chunks of ``--chunk`` samples with in-place numpy operations. Prints the total
hit count (π ≈ 4 · hits / SAMPLES) on stdout.
"""

from __future__ import annotations

import argparse


def task_hits(samples: int, seed_seq, chunk: int) -> int:
    """Hits of ``samples`` points drawn from this task's own generator."""
    import numpy as np

    rng = np.random.Generator(np.random.PCG64(seed_seq))
    hits = 0
    done = 0
    points = np.empty((2, min(chunk, samples)))
    inside = np.empty(points.shape[1], dtype=bool)
    while done < samples:
        m = min(chunk, samples - done)
        if m != points.shape[1]:  # only the last, short chunk
            points = np.empty((2, m))
            inside = np.empty(m, dtype=bool)
        rng.random(out=points)
        x, y = points
        np.multiply(x, x, out=x)
        np.multiply(y, y, out=y)
        np.add(x, y, out=x)
        np.less_equal(x, 1.0, out=inside)
        hits += int(np.count_nonzero(inside))
        done += m
    return hits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("samples", type=int)
    ap.add_argument("workers", type=int)
    ap.add_argument("seed", type=int)
    ap.add_argument("--chunk", type=int, default=1 << 16, help="samples per numpy chunk")
    ap.add_argument("--tasks-per-worker", type=int, default=4)
    args = ap.parse_args()

    import numpy as np
    from joblib import Parallel, delayed

    tasks = max(1, args.workers * args.tasks_per_worker)
    base, extra = divmod(args.samples, tasks)
    sizes = [base + (i < extra) for i in range(tasks)]
    seeds = np.random.SeedSequence(args.seed).spawn(tasks)
    counts = Parallel(n_jobs=args.workers)(
        delayed(task_hits)(m, s, args.chunk) for m, s in zip(sizes, seeds, strict=True)
    )
    print(sum(counts))


if __name__ == "__main__":
    main()
