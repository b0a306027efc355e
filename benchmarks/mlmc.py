"""Multilevel Monte Carlo: the issue's acceptance figures for gbm_call, and QMCPy's CubMLMC on the same problem.

    python benchmarks/mlmc.py [--seeds 100] [--workers 2] [--peer-seeds 30] [--json out.json]
                              [--qmcpy-python PATH] [--skip-peer]

Backs docs/mlmc.md. Prints each target as PASS or FAIL and exits 0 either way.

1. Rates at eps = 0.01 (``--seeds`` runs): beta in [1.8, 2.1], gamma = 1 +- 0.05,
   alpha >= 0.8, for every run.
2. RMSE against Black-Scholes 10.450584 over ``--seeds`` seeds at eps = 0.01:
   at most 1.1 eps.
3. eps**2 * cost over eps in 0.1 .. 0.005 (one seed, and the mean of 10):
   max / min at most 2.
4. Savings against plain Monte Carlo at eps = 0.01 and 0.005: at least 100x
   and 200x. Twice: with the result's own ``plain_cost``, and as Giles'
   ``mlmc_test`` computes it, with ``V[P_L]`` from a separate convergence
   run of 200,000 samples of level L.
5. Bit-identical level counts, N_l and estimates for 1, 2 and 4 worker
   processes, threads and a Dask cluster (when ``distributed`` is installed).
6. QMCPy's ``CubMLMC`` on the same Milstein hierarchy (cost 2^l fine steps):
   cost, RMSE over ``--peer-seeds`` seeds and time, beside ours. QMCPy is not
   a dependency of montecarlo: install it in an environment of its own,

       python -m venv /tmp/peers && /tmp/peers/bin/pip install qmcpy

   and give that interpreter with ``--qmcpy-python /tmp/peers/bin/python``
   (this script runs itself there, in ``--peer-only`` mode, importing only
   QMCPy). Without it, and without QMCPy importable here, the comparison is
   skipped with this hint. Calls used (QMCPy 2.4): ``qp.IIDStdUniform(seed=s)``,
   a ``qp.FinancialOption`` subclass whose ``g`` applies Giles' Milstein
   fine/coarse pair to the Brownian increments of QMCPy's exact-GBM dates
   (QMCPy's own European levels have P_l - P_(l-1) = 0 and crash its
   regression), ``qp.CubMLMC(option, rmse_tol=eps).integrate()``, and the cost
   ``sum(data.n_level * data.cost_per_sample)``. CubMLMC fixes theta = 0.5;
   ours is run with theta = 0.25 (Giles' mlmc.m) and 0.5.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import time

BLACK_SCHOLES = 10.450583572185565
SWEEP = (0.1, 0.05, 0.02, 0.01, 0.005)
PARAMS = dict(call_put="CALL", volatility=0.2, start_price=100.0, strike_price=100.0, interest_rate=0.05, t_final=1.0)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def ours(eps: float, seed: int, workers: int, theta: float = 0.25, executor: str = "threads") -> dict:
    import montecarlo

    t0 = time.perf_counter()
    r = montecarlo.mlmc("gbm_call", eps, rng=seed, theta=theta, executor=executor, workers=workers)
    return {
        "eps": eps, "seed": seed, "theta": theta, "estimate": r.estimate, "L": r.finest, "samples": list(r.samples),
        "cost": r.cost, "plain_cost": r.plain_cost, "savings": r.savings, "alpha": r.alpha, "beta": r.beta,
        "gamma": r.gamma, "wall": time.perf_counter() - t0, "mlmc": r.to_dict()["mlmc"],
    }  # fmt: skip


def convergence_variance(level: int) -> float:
    """V[P_L] as ``mlmc_test`` takes it: an ordinary run of 200,000 samples of level L (its own spawn key)."""
    import montecarlo

    r = montecarlo.run("gbm_call", 200_000, rng=4242, params={"level": level}, executor="threads")
    return float(r.accumulator.moments.comoment[1, 1]) / r.samples


def rates_and_rmse(args: argparse.Namespace, out: dict) -> None:
    runs = [ours(0.01, 10_000 + s, args.workers) for s in range(args.seeds)]
    out["eps_0.01"] = [{k: v for k, v in r.items() if k != "mlmc"} for r in runs]
    a, b, g = ([r[k] for r in runs] for k in ("alpha", "beta", "gamma"))
    print(f"\n## gbm_call at eps = 0.01, {len(runs)} seeds (theta 0.25)")
    print(f"beta  mean {statistics.fmean(b):.3f} [{min(b):.3f}, {max(b):.3f}]  in [1.8, 2.1]: "
          f"{verdict(all(1.8 <= x <= 2.1 for x in b))}")  # fmt: skip
    print(f"gamma mean {statistics.fmean(g):.3f} [{min(g):.3f}, {max(g):.3f}]  1 +- 0.05: "
          f"{verdict(all(abs(x - 1) <= 0.05 for x in g))}")  # fmt: skip
    print(f"alpha mean {statistics.fmean(a):.3f} [{min(a):.3f}, {max(a):.3f}]  >= 0.8: {verdict(min(a) >= 0.8)}")
    errors = [r["estimate"] - BLACK_SCHOLES for r in runs]
    rmse = math.sqrt(math.fsum(e * e for e in errors) / len(errors))
    levels = {L: sum(r["L"] == L for r in runs) for L in sorted({r["L"] for r in runs})}
    print(f"RMSE {rmse:.5f} = {rmse / 0.01:.3f} eps  <= 1.1 eps: {verdict(rmse <= 0.011)}; mean error "
          f"{statistics.fmean(errors):+.5f} +- {statistics.stdev(errors) / math.sqrt(len(errors)):.5f}; L {levels}; "
          f"mean cost {statistics.fmean(r['cost'] for r in runs):.4g}; mean wall {statistics.fmean(r['wall'] for r in runs):.2f} s")  # fmt: skip
    own = [r["savings"] for r in runs if r["L"] == 7]
    print(
        f"savings (own plain_cost) of the L = 7 runs: mean {statistics.fmean(own):.1f} [{min(own):.1f}, {max(own):.1f}]"
    )
    out["rmse_0.01"] = rmse


def sweep(args: argparse.Namespace, out: dict) -> None:
    print("\n## eps sweep (seed 2025; theta 0.25)")
    print("| eps | L | N_l | cost | eps^2 cost | savings (own) | savings (mlmc_test) | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    rows, variances = [], {}
    for eps in SWEEP:
        r = ours(eps, 2025, args.workers)
        L = r["L"]
        if L not in variances:
            variances[L] = convergence_variance(L)
        r["savings_test"] = variances[L] * 2.0**L / (0.75 * eps * eps) / r["cost"]
        rows.append(r)
        print(f"| {eps} | {L} | {r['samples']} | {r['cost']:.4g} | {eps * eps * r['cost']:.1f} | "
              f"{r['savings']:.1f} | {r['savings_test']:.1f} | {r['wall']:.2f} |")  # fmt: skip
    e2 = [r["eps"] ** 2 * r["cost"] for r in rows]
    means = []
    for eps in SWEEP:
        means.append(statistics.fmean(eps * eps * ours(eps, 3000 + s, args.workers)["cost"] for s in range(10)))
    print(f"eps^2 cost max/min: {max(e2) / min(e2):.2f} (10-seed means: {max(means) / min(means):.2f})  <= 2: "
          f"{verdict(max(e2) / min(e2) <= 2)}")  # fmt: skip
    by = {r["eps"]: r for r in rows}
    for eps, target in ((0.01, 100), (0.005, 200)):
        r = by[eps]
        print(f"savings at eps = {eps}: {r['savings']:.1f} (own), {r['savings_test']:.1f} (mlmc_test)  >= {target}: "
              f"{verdict(min(r['savings'], r['savings_test']) >= target)}")  # fmt: skip
    out["sweep"] = [{k: v for k, v in r.items() if k != "mlmc"} for r in rows]
    out["sweep_eps2cost_ratio"] = max(e2) / min(e2)


def identity(args: argparse.Namespace, out: dict) -> None:
    import warnings

    import montecarlo

    print("\n## the same bits everywhere (eps = 0.005, seed 9)")
    ref = None
    cases: list[tuple[str, dict]] = [(f"processes w={w}", {"executor": "processes", "workers": w}) for w in (1, 2, 4)]
    cases.append(("threads w=2", {"executor": "threads", "workers": 2}))
    try:
        import distributed

        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0")
        client = distributed.Client(cluster)
        cases.append(("dask (2 workers)", {"execution": client}))
    except ImportError:
        client = None
        print("dask: distributed is not installed, skipped")
    same = []
    for label, how in cases:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 4 workers on fewer cores
            r = montecarlo.mlmc("gbm_call", 0.005, rng=9, **how)
        numbers = json.dumps(r.to_dict()["mlmc"], sort_keys=True)
        ref = ref or numbers
        same.append(numbers == ref)
        print(f"{label:18} L = {r.finest}  N_l = {list(r.samples)}  estimate {r.estimate!r}  "
              f"{time.perf_counter() - t0:.2f} s  {'identical' if numbers == ref else 'DIFFERENT'}")  # fmt: skip
    if client is not None:
        client.close()
        cluster.close()
    print(f"bit-identical: {verdict(all(same))}")
    out["identical"] = all(same)


# -- QMCPy ---------------------------------------------------------------------------------------------


def peer_runs(seeds: int, sweep_eps: tuple[float, ...]) -> dict:
    """CubMLMC on Giles' Milstein hierarchy; run in an interpreter where QMCPy is installed."""
    import warnings

    import numpy as np
    import qmcpy as qp

    class MilsteinEuropeanCall(qp.FinancialOption):
        """Giles' Milstein fine/coarse pair on the Brownian increments of QMCPy's exact-GBM dates."""

        def __init__(self, sampler, level=None, **kw):
            super().__init__(sampler, option="EUROPEAN", level=level, d_coarsest=1, **{**PARAMS, **kw})

        def g(self, t, **kwargs):
            d = t.shape[-1]
            h = self.t_final / d
            r, s = self.interest_rate, self.volatility
            sw = np.log(t / self.start_price) - (r - 0.5 * s * s) * h * np.arange(1, d + 1)
            dw = np.diff(sw, axis=-1, prepend=0.0) / s

            def terminal(inc, hh):
                return self.start_price * np.prod(1.0 + r * hh + s * inc + 0.5 * s * s * (inc * inc - hh), axis=-1)

            fine = self.discount_factor * np.maximum(terminal(dw, h) - self.strike_price, 0.0)
            if not self.multilevel:
                return fine
            if self.level == 0:
                return np.stack([np.zeros_like(fine), fine])
            coarse = self.discount_factor * np.maximum(
                terminal(dw[..., 0::2] + dw[..., 1::2], 2 * h) - self.strike_price, 0.0
            )
            return np.stack([coarse, fine])

        def _spawn(self, level, sampler):
            return MilsteinEuropeanCall(sampler, level=level)

    def one(eps: float, seed: int) -> dict:
        integrator = qp.CubMLMC(MilsteinEuropeanCall(qp.IIDStdUniform(seed=seed)), rmse_tol=eps)
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value, data = integrator.integrate()
        return {"estimate": float(value), "L": int(data.levels) - 1, "cost": float(np.sum(data.n_level * data.cost_per_sample)),
                "wall": time.perf_counter() - t0}  # fmt: skip

    return {
        "qmcpy": qp.__version__,
        "numpy": np.__version__,
        "seeds": [one(0.01, s) for s in range(seeds)],
        "sweep": [dict(one(eps, 0), eps=eps) for eps in sweep_eps],
    }


def peer(args: argparse.Namespace, out: dict) -> None:
    print(
        f"\n## QMCPy CubMLMC against montecarlo.mlmc: gbm_call (Milstein, cost 2^l), eps = 0.01, {args.peer_seeds} seeds"
    )
    try:
        import qmcpy  # noqa: F401

        got = peer_runs(args.peer_seeds, SWEEP)
    except ImportError:
        if not args.qmcpy_python:
            print("skipped: QMCPy is not importable here; install it in an environment of its own and give its "
                  "interpreter: python -m venv /tmp/peers && /tmp/peers/bin/pip install qmcpy, then "
                  "--qmcpy-python /tmp/peers/bin/python")  # fmt: skip
            return
        p = subprocess.run(
            [args.qmcpy_python, __file__, "--peer-only", "--peer-seeds", str(args.peer_seeds)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if p.returncode != 0:
            print(f"skipped: {args.qmcpy_python} could not run QMCPy: {p.stderr.strip().splitlines()[-1:]}")
            return
        got = json.loads(p.stdout)
    rows = [("QMCPy " + got["qmcpy"] + " CubMLMC (theta 0.5)", got["seeds"])]
    for theta in (0.25, 0.5):
        rows.append(
            (
                f"montecarlo.mlmc theta {theta} (2 threads)",
                [ours(0.01, 10_000 + s, 2, theta) for s in range(args.peer_seeds)],
            )
        )
        rows.append(
            (
                f"montecarlo.mlmc theta {theta} (serial)",
                [ours(0.01, 10_000 + s, 1, theta, "serial") for s in range(args.peer_seeds)],
            )
        )
    print("| implementation | RMSE / eps | mean error +- s.e. | mean cost (fine steps) | mean wall s | L |")
    print("|---|---|---|---|---|---|")
    table = {}
    for label, runs in rows:
        errors = [r["estimate"] - BLACK_SCHOLES for r in runs]
        rmse = math.sqrt(math.fsum(e * e for e in errors) / len(errors))
        se = statistics.stdev(errors) / math.sqrt(len(errors))
        levels = {L: sum(r["L"] == L for r in runs) for L in sorted({r["L"] for r in runs})}
        cost, wall = statistics.fmean(r["cost"] for r in runs), statistics.fmean(r["wall"] for r in runs)
        table[label] = {"rmse_over_eps": rmse / 0.01, "cost": cost, "wall": wall, "levels": levels}
        print(
            f"| {label} | {rmse / 0.01:.3f} | {statistics.fmean(errors):+.5f} +- {se:.5f} | {cost:.4g} | {wall:.2f} | {levels} |"
        )
    e2 = [r["eps"] ** 2 * r["cost"] for r in got["sweep"]]
    print(f"QMCPy eps sweep (seed 0): eps^2 cost {[round(x, 1) for x in e2]}, max/min {max(e2) / min(e2):.2f}; "
          f"wall at eps = 0.005: {got['sweep'][-1]['wall']:.2f} s")  # fmt: skip
    out["peer"] = {"qmcpy": got, "table": table}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--peer-seeds", type=int, default=30)
    parser.add_argument("--qmcpy-python", default=None)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--peer-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.peer_only:  # in QMCPy's interpreter: print its runs as JSON
        print(json.dumps(peer_runs(args.peer_seeds, SWEEP)))
        return
    from montecarlo.records.provenance import software

    out: dict = {"software": software(), "args": vars(args)}
    rates_and_rmse(args, out)
    sweep(args, out)
    identity(args, out)
    if not args.skip_peer:
        peer(args, out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
