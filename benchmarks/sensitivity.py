"""Sobol' indices: montecarlo against SALib and scipy.stats.sobol_indices on Ishigami, and peak memory.

    python benchmarks/sensitivity.py [--seeds 100] [--n 4096,16384] [--peer-python PATH] [--json out.json]
    python benchmarks/sensitivity.py --memory            # peak memory at N = 2^20 (sobol_g, a 20-input model)

Every method gets the same evaluation count, N (d + 2) for N base points, on
the Ishigami function (a = 7, b = 0.1). For each N and each seed it records
the six indices, their 95% intervals and the time of one analysis (sampling,
evaluation and estimation, in this process); then it prints per method the
root mean square error of each index, the share of intervals that hold the
exact index, the mean half-width, the seeds with every index within 0.01,
and the median time. Separately, each method runs once at N = 2^14 and
2^20 in a fresh interpreter, which reports its peak resident set
(``VmHWM``).

Methods:

- ``montecarlo plain``: `montecarlo.sensitivity` with random points,
  delta-method intervals (serial executor);
- ``montecarlo sobol``: 16 scrambled Sobol' replicates, Student t
  intervals on them;
- ``SALib``: ``SALib.sample.sobol.sample(..., calc_second_order=False,
  scramble=True, seed=s)``, ``SALib.analyze.sobol.analyze(...,
  num_resamples=100, seed=s + 1)`` (bootstrap of the rows);
- ``scipy``: ``scipy.stats.sobol_indices(func, n=N, dists=..., rng=s)``, its
  ``bootstrap(confidence_level=0.95, n_resamples=999)`` (BCa) at N <= 2^12
  only: the BCa jackknife grows as N^2 (34 s and 6.5 GB at N = 2^14).

The peers are not dependencies of montecarlo. Install them in an
environment of their own and point ``--peer-python`` at its interpreter::

    python3 -m venv /tmp/peers && /tmp/peers/bin/pip install SALib scipy numpy
    python benchmarks/sensitivity.py --peer-python /tmp/peers/bin/python

Without ``--peer-python`` the peers run in this interpreter if they import
here; a peer that is missing is skipped and said so. The peers' side of this
file needs numpy and scipy only (montecarlo is imported by its own cases).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.abspath(__file__)
A, B = 7.0, 0.1
PI4, PI8 = math.pi**4, math.pi**8
_V1, _V2, _V13 = (1 + B * PI4 / 5) ** 2 / 2, A * A / 8, B * B * PI8 * (1 / 18 - 1 / 50)
_V = _V1 + _V2 + _V13
#: Exact S1, S2, S3, ST1, ST2, ST3 (Sobol' & Levitan 1999).
EXACT = np.array([_V1, _V2, 0.0, _V1 + _V13, _V2, _V13]) / _V
NAMES = ["S1", "S2", "S3", "ST1", "ST2", "ST3"]
BOOTSTRAP_MAX_N = 1 << 12


def ishigami(x: np.ndarray) -> np.ndarray:
    """Ishigami at x of shape (d, n) (scipy's convention)."""
    return np.sin(x[0]) + A * np.sin(x[1]) ** 2 + B * x[2] ** 4 * np.sin(x[0])


# --------------------------------------------------------------------------
# one analysis per method -> (estimates (6,), lower (6,), upper (6,))
# --------------------------------------------------------------------------


def run_salib(n: int, seed: int) -> tuple:
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
    x = sample.sample(problem, n, calc_second_order=False, scramble=True, seed=seed)
    si = analyze.analyze(
        problem, ishigami(x.T), calc_second_order=False, num_resamples=100, conf_level=0.95, seed=seed + 1
    )  # fmt: skip  (seed=0 would mean "unseeded" to SALib)
    est = np.concatenate([si["S1"], si["ST"]])
    hw = np.concatenate([si["S1_conf"], si["ST_conf"]])
    return est, est - hw, est + hw


def run_scipy(n: int, seed: int, bootstrap: bool | None = None) -> tuple:
    from scipy.stats import sobol_indices, uniform

    res = sobol_indices(func=ishigami, n=n, dists=[uniform(loc=-math.pi, scale=2 * math.pi)] * 3, rng=seed)
    est = np.concatenate([res.first_order, res.total_order])
    if not (bootstrap if bootstrap is not None else n <= BOOTSTRAP_MAX_N):
        return est, np.full(6, np.nan), np.full(6, np.nan)
    b = res.bootstrap(confidence_level=0.95, n_resamples=999)
    lo = np.concatenate([b.first_order.confidence_interval.low, b.total_order.confidence_interval.low])
    hi = np.concatenate([b.first_order.confidence_interval.high, b.total_order.confidence_interval.high])
    return est, lo, hi


def run_ours(n: int, seed: int, sampler: str = "random") -> tuple:
    import montecarlo

    sampling = montecarlo.Sampling(sampler="sobol", replicates=16) if sampler == "sobol" else None
    s = montecarlo.sensitivity("ishigami", n, rng=seed, sampling=sampling, execution="serial")
    per = s.indices["y"]
    es = [per[i].first for i in ("x1", "x2", "x3")] + [per[i].total for i in ("x1", "x2", "x3")]
    return tuple(
        np.array(v) for v in ([e.estimate for e in es], [e.interval[0] for e in es], [e.interval[1] for e in es])
    )


METHODS = {
    "montecarlo plain": lambda n, s: run_ours(n, s, "random"),
    "montecarlo sobol": lambda n, s: run_ours(n, s, "sobol"),
    "SALib": run_salib,
    "scipy": run_scipy,
    "scipy BCa": lambda n, s: run_scipy(n, s, bootstrap=True),
}
PEERS = ("SALib", "scipy", "scipy BCa")


def seeds_of(method: str, n: int, seeds: int) -> dict:
    """Every seed of one method at one N, in this process: estimates, intervals and seconds."""
    fn = METHODS[method]
    fn(min(n, 1024), 10**6)  # imports and first-call costs are not timed
    rows = []
    for seed in range(1, seeds + 1):
        t = time.perf_counter()
        est, lo, hi = fn(n, seed)
        rows.append({"seconds": time.perf_counter() - t, "est": est.tolist(), "lo": lo.tolist(), "hi": hi.tolist()})
    return {"method": method, "n": n, "runs": rows}


def peak_case(method: str, n: int) -> dict:
    """One analysis in this (fresh) process: its seconds (imports paid before) and this process's peak resident set."""
    METHODS[method](256, 10**6)
    t = time.perf_counter()
    METHODS[method](n, 1)
    seconds = time.perf_counter() - t
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))
    return {"method": method, "n": n, "seconds": seconds, "peak_mb": hwm / 1024}


# --------------------------------------------------------------------------
# running cases in the right interpreter
# --------------------------------------------------------------------------


def available(python: str, method: str) -> str | None:
    """None if ``method`` imports under ``python``; else why not."""
    module = {"SALib": "SALib", "scipy": "scipy.stats", "scipy BCa": "scipy.stats"}.get(method, "montecarlo")
    probe = f"import {module}; from scipy.stats import sobol_indices" if "scipy" in method else f"import {module}"
    p = subprocess.run([python, "-c", probe], capture_output=True, text=True)
    return None if p.returncode == 0 else (p.stderr.strip().splitlines() or ["failed"])[-1]


def in_process(python: str, *args: str) -> dict:
    p = subprocess.run([python, HERE, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {p.stderr.strip()[-500:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def summary(record: dict) -> dict:
    runs = record["runs"]
    est = np.array([r["est"] for r in runs])
    lo, hi = np.array([r["lo"] for r in runs]), np.array([r["hi"] for r in runs])
    err = est - EXACT
    has = bool(np.isfinite(lo).all())
    return {
        "rmse": np.sqrt((err**2).mean(axis=0)).tolist(),
        "coverage": ((lo <= EXACT) & (EXACT <= hi)).mean(axis=0).tolist() if has else None,
        "half_width": ((hi - lo) / 2).mean(axis=0).tolist() if has else None,
        "all_within_0.01": int((np.abs(err) <= 0.01).all(axis=1).sum()),
        "median_s": statistics.median(r["seconds"] for r in runs),
        "seeds": len(runs),
    }


def fmt(values: list | None, digits: str = ".4f") -> str:
    return "-" if values is None else " ".join(f"{v:{digits}}" for v in values)


def compare(args: argparse.Namespace) -> dict:
    ns = [int(float(v)) for v in args.n.split(",")]
    out: dict = {"n": ns, "seeds": args.seeds, "exact": EXACT.tolist(), "accuracy": [], "memory": [], "skipped": {}}
    pythons = {m: sys.executable for m in METHODS}
    for peer in PEERS:
        pythons[peer] = args.peer_python or sys.executable
        why = available(pythons[peer], peer)
        if why is not None:
            out["skipped"][peer] = why
            print(f"{peer}: skipped ({why}); install it as this file's docstring says", flush=True)
    methods = [m for m in METHODS if m not in out["skipped"] and m != "scipy BCa"]
    print(f"Ishigami, {args.seeds} seeds, indices {' '.join(NAMES)}; exact {fmt(EXACT.tolist())}\n", flush=True)
    for n in ns:
        print(f"N = {n:,} base points, {n * 5:,} evaluations")
        print(f"{'method':18} {'RMSE':41} {'95% coverage':35} {'mean half-width':41} within.01  median s")
        for m in methods:
            rec = in_process(pythons[m], "--seeds-case", m, str(n), str(args.seeds))
            s = summary(rec)
            out["accuracy"].append({"method": m, "n": n, **s, "runs": rec["runs"]})
            cov = fmt(s["coverage"], ".2f")
            print(f"{m:18} {fmt(s['rmse'])}  {cov:34} {fmt(s['half_width'])}  {s['all_within_0.01']:>5}/{s['seeds']}"
                  f"  {s['median_s']:.4f}", flush=True)  # fmt: skip
        print()
    print("time and peak resident set of one analysis in a fresh interpreter")
    for n in (1 << 14, 1 << 20):
        for m in methods + (["scipy BCa"] if args.big and "scipy BCa" not in out["skipped"] else []):
            if n > 1 << 14 and (m == "scipy BCa" or (m == "SALib" and not args.big)):
                continue  # SALib at 2^20: over a minute and 6 GB; scipy's BCa at 2^14: half a minute and 6 GB (--big)
            rec = in_process(pythons[m], "--peak-case", m, str(n))
            out["memory"].append(rec)
            print(f"  {m:18} N = 2^{int(math.log2(n))}: {rec['seconds']:8.3f} s  {rec['peak_mb']:7.0f} MB", flush=True)
    return out


# --------------------------------------------------------------------------
# peak memory of montecarlo at N = 2^20 (issue: under 300 MB)
# --------------------------------------------------------------------------


def twenty_inputs() -> object:
    """A G function of 20 inputs, a_j = j / 2 (a model defined here, shipped to workers by value)."""
    import montecarlo

    a = np.arange(20) / 2.0

    @montecarlo.model(inputs={f"x{j + 1}": "uniform(0, 1)" for j in range(20)})
    def g20(x: np.ndarray) -> np.ndarray:
        """A G function of 20 inputs."""
        f = np.ones(x.shape[0])
        for j in range(20):
            f *= (np.abs(4.0 * x[:, j] - 2.0) + a[j]) / (1.0 + a[j])
        return f

    return g20


def memory_case(model: str, n: int, workers: int) -> dict:
    import montecarlo

    target = twenty_inputs() if model == "g20" else model
    execution = "serial" if workers == 0 else montecarlo.Execution(workers=workers)
    t = time.perf_counter()
    s = montecarlo.sensitivity(target, n, rng=1, execution=execution)
    return {"model": model, "n": n, "workers": workers, "seconds": time.perf_counter() - t, "samples": s.samples}


def memory(args: argparse.Namespace) -> dict:
    sys.path.insert(0, os.path.dirname(HERE))
    from proctree import measure

    out = []
    print("montecarlo.sensitivity at N = 2^20: peak resident set (target: under 300 MB)")
    for model in ("sobol_g", "g20"):
        for workers in (0, 2):
            for jit in ("1", "0"):
                os.environ["MONTECARLO_JIT"] = jit
                rec = measure([sys.executable, HERE, "--memory-case", model, str(1 << 20), str(workers)])
                case = json.loads(rec["stdout"].strip().splitlines()[-1]) if rec["rc"] == 0 else {}
                row = {"model": model, "workers": workers, "jit": jit == "1", "wall_s": rec["wall_s"],
                       "peak_tree_mb": rec["peak_tree_mb"], "peak_procs": rec["peak_procs"], **case}  # fmt: skip
                out.append(row)
                how = "serial" if workers == 0 else f"{workers} worker processes"
                print(f"  {model:8} {how:20} compiled kernels {'on ' if jit == '1' else 'off'}: "
                      f"{rec['wall_s']:6.1f} s, peak tree {rec['peak_tree_mb']:5.0f} MB in {rec['peak_procs']} "
                      f"process(es){' ERROR ' + rec.get('error', '') if rec['rc'] else ''}", flush=True)  # fmt: skip
    os.environ.pop("MONTECARLO_JIT", None)
    return {"memory_2_20": out}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--n", default="4096,16384", help="base points, comma-separated")
    p.add_argument("--peer-python", default=None, help="interpreter that has SALib and scipy")
    p.add_argument("--big", action="store_true", help="also time SALib at N = 2^20 and scipy's BCa at 2^14 (GBs)")
    p.add_argument("--memory", action="store_true", help="peak memory of montecarlo at N = 2^20 instead")
    p.add_argument("--json", default=None)
    p.add_argument("--seeds-case", nargs=3, help=argparse.SUPPRESS)
    p.add_argument("--peak-case", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--memory-case", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.seeds_case:
        m, n, seeds = args.seeds_case
        print(json.dumps(seeds_of(m, int(n), int(seeds))))
        return
    if args.peak_case:
        print(json.dumps(peak_case(args.peak_case[0], int(args.peak_case[1]))))
        return
    if args.memory_case:
        model, n, workers = args.memory_case
        print(json.dumps(memory_case(model, int(n), int(workers))))
        return
    out = memory(args) if args.memory else compare(args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
