"""Dask against local processes, with and without the cluster's start-up; and where a Dask worker's time goes.

    python benchmarks/bench_dask.py --samples 1e9 --repeats 3 [--json out.json]

Two comparisons, each in rounds of shuffled order, medians of the per-round ratios:

1. **Start-up included**: whole processes,
   ``mc run pi -n N --seed S --json -q --workers W`` against the same with
   ``--executor dask`` (which starts a ``LocalCluster`` of W single-threaded
   worker processes, and closes it). Target: dask / processes <= 1.3.
2. **A running cluster**: in this process, a ``LocalCluster`` of W
   single-threaded worker processes is started once; then
   ``montecarlo.run("pi", N, execution=client)`` is timed against
   ``montecarlo.run("pi", N, execution=Execution("processes", workers=W))``
   (whose pool starts with each run). Target: <= 1.1.

The profile of a worker: minor page faults per batch on the Dask workers
during one run (``resource.getrusage`` on each worker), and the same with
the workers' malloc left as Dask sets it up (``--untuned``: the workers get
``MALLOC_MMAP_THRESHOLD_=131072``, which montecarlo leaves alone), to show
what the tuning in ``montecarlo/engine/workerenv.py`` is worth. The compiled
π kernel reuses its buffers, so the difference shows on the numpy path
(``--numpy``: ``MONTECARLO_JIT=0``) and on float models.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import statistics
import sys
import time
from pathlib import Path

from proctree import fmt_count, measure, parse_count

HERE = Path(__file__).resolve().parent


def _faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def whole_processes(args: argparse.Namespace) -> dict:
    base = [
        args.mc,
        "run",
        "pi",
        "-n",
        str(args.samples),
        "--seed",
        "1",
        "--json",
        "-q",
        "--workers",
        str(args.workers),
    ]
    cmds = {"processes": base, "dask": [*base, "--executor", "dask"]}
    runs: dict[str, list] = {k: [] for k in cmds}
    for rnd in range(args.repeats):
        order = list(cmds)
        random.Random(rnd).shuffle(order)
        for k in order:
            rec = measure(cmds[k])
            if rec["rc"] != 0:
                print(f"  {k}: exit {rec['rc']}: {rec['stderr'][-300:]}")
            runs[k].append(rec)
            print(
                f"  whole process, round {rnd + 1}: {k:9s} wall {rec['wall_s']:6.2f} s  load {os.getloadavg()[0]:.2f}"
            )
    ratio = statistics.median(d["wall_s"] / p["wall_s"] for d, p in zip(runs["dask"], runs["processes"], strict=True))
    return {
        "processes_s": statistics.median(r["wall_s"] for r in runs["processes"]),
        "dask_s": statistics.median(r["wall_s"] for r in runs["dask"]),
        "ratio": ratio,
        "runs": runs,
    }


def running_cluster(args: argparse.Namespace, untuned: bool) -> dict:
    import dask
    import distributed

    import montecarlo

    environ = {"MALLOC_MMAP_THRESHOLD_": "131072"} if untuned else {}
    with dask.config.set({"distributed.nanny.pre-spawn-environ": {"MALLOC_TRIM_THRESHOLD_": 65536, **environ}}):
        t = time.perf_counter()
        cluster = distributed.LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            silence_logs=logging.CRITICAL,
        )
        client = distributed.Client(cluster)
        startup = time.perf_counter() - t
    try:
        montecarlo.run("pi", 10**7, rng=1, execution=client)  # workers import montecarlo (and numba) once
        spec = montecarlo.make_spec("pi", args.samples, rng=1)
        batches = args.samples / spec.batch_size
        times: dict[str, list[float]] = {"processes": [], "dask": []}
        faults: list[float] = []
        for rnd in range(args.repeats):
            order = ["processes", "dask"]
            random.Random(rnd).shuffle(order)
            for k in order:
                before = sum(client.run(_faults).values()) if k == "dask" else 0
                t = time.perf_counter()
                if k == "dask":
                    montecarlo.run("pi", args.samples, rng=1, execution=client)
                else:
                    montecarlo.run(
                        "pi", args.samples, rng=1, execution=montecarlo.Execution("processes", workers=args.workers)
                    )
                times[k].append(time.perf_counter() - t)
                if k == "dask":
                    faults.append((sum(client.run(_faults).values()) - before) / batches)
                label = "untuned " if untuned else ""
                print(
                    f"  running cluster, {label}round {rnd + 1}: {k:9s} {times[k][-1]:6.2f} s  load {os.getloadavg()[0]:.2f}"
                )
    finally:
        client.close()
        cluster.close()
    ratio = statistics.median(d / p for d, p in zip(times["dask"], times["processes"], strict=True))
    return {
        "cluster_start_s": startup,
        "processes_s": statistics.median(times["processes"]),
        "dask_s": statistics.median(times["dask"]),
        "ratio": ratio,
        "worker_page_faults_per_batch": statistics.median(faults),
        "times": times,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=parse_count, default=parse_count("1e9"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--untuned", action="store_true", help="also time a cluster whose workers' malloc is left as is")
    ap.add_argument("--numpy", action="store_true", help="the numpy path of pi (MONTECARLO_JIT=0) everywhere")
    ap.add_argument("--mc", default=str(Path(sys.executable).parent / "mc"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.numpy:
        os.environ["MONTECARLO_JIT"] = "0"  # inherited by mc, its workers and the cluster's workers
    print(
        f"# bench_dask.py{' (numpy path)' if args.numpy else ''}: pi N={fmt_count(args.samples)} W={args.workers}, load {os.getloadavg()}",
        flush=True,
    )
    out = {"whole_processes": whole_processes(args), "running_cluster": running_cluster(args, untuned=False)}
    if args.untuned:
        out["running_cluster_untuned"] = running_cluster(args, untuned=True)
    w, r = out["whole_processes"], out["running_cluster"]
    print(f"\n== pi {fmt_count(args.samples)}, W={args.workers}, medians of {args.repeats} rounds ==")
    print(
        f"start-up included:  processes {w['processes_s']:.2f} s, dask {w['dask_s']:.2f} s, "
        f"dask / processes {w['ratio']:.2f} (target <= 1.3) {'PASS' if w['ratio'] <= 1.3 else 'FAIL'}"
    )
    print(
        f"running cluster:    processes {r['processes_s']:.2f} s, dask {r['dask_s']:.2f} s, "
        f"dask / processes {r['ratio']:.2f} (target <= 1.1) {'PASS' if r['ratio'] <= 1.1 else 'FAIL'}; "
        f"cluster start {r['cluster_start_s']:.2f} s; worker page faults per batch {r['worker_page_faults_per_batch']:.1f}"
    )
    if args.untuned:
        u = out["running_cluster_untuned"]
        print(
            f"malloc untuned:     processes {u['processes_s']:.2f} s, dask {u['dask_s']:.2f} s, "
            f"dask / processes {u['ratio']:.2f}; worker page faults per batch {u['worker_page_faults_per_batch']:.1f}"
        )
    print(f"load average at the end: {os.getloadavg()}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
