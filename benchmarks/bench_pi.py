"""End-to-end π benchmark of ``mc`` against joblib (the figures of issue 2).

    python benchmarks/bench_pi.py --samples 1e9 --workers 2 --repeats 3 [--json out.json]

Every figure is a whole process started with subprocess, so interpreter and
pool start-up are paid as a user pays them. Each round runs, in an order
shuffled by a seeded generator:

- ``mc run pi --samples N --workers W --seed S --json --quiet``
- the same with ``--workers 1`` (parallel efficiency = T1 / (W * TW))
- ``joblib_pi.py`` next to this file (joblib + numpy chunks, spawned seeds)

and the median of the rounds is reported, so that noise on a shared machine
falls on every command alike and the ratios hold. Then ``mc --help`` and
``mc list`` are timed (median of --quick-repeats runs each). Peak memory is
the summed RSS of each process tree, polled every --interval seconds.

It reports and never judges: the exit code is 0 whatever the figures; each
target is marked PASS or FAIL in the printout.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from proctree import fmt_count, measure, parse_count, pi_standard_error

HERE = Path(__file__).resolve().parent
MAX_Z = 5.0  # an estimate further than this many standard errors from π is a bug

# figure -> (comparison, target): the targets of issue 2
TARGETS = {
    "mc_over_joblib": ("<=", 0.90),
    "parallel_efficiency": (">=", 0.90),
    "peak_tree_mb": ("<=", 300.0),
    "help_s": ("<", 0.5),
    "list_s": ("<", 0.5),
}


def default_mc() -> str:
    # Next to the interpreter as invoked (a virtualenv's bin/), not its resolved target.
    return str(Path(sys.executable).parent / "mc")


def pi_commands(args: argparse.Namespace) -> dict[str, list[str]]:
    n, w, s = str(args.samples), str(args.workers), str(args.seed)
    run = [args.mc, "run", "pi", "--samples", n, "--seed", s, "--json", "--quiet"]
    return {
        f"mc W={w}": [*run, "--workers", w],
        "mc W=1": [*run, "--workers", "1"],
        f"joblib W={w}": [
            args.python,
            str(HERE / "joblib_pi.py"),
            n,
            w,
            s,
            "--chunk",
            str(args.chunk),
            "--tasks-per-worker",
            str(args.tasks_per_worker),
        ],
    }


def estimate_of(name: str, record: dict, samples: int) -> float | None:
    """The π estimate a command printed: mc's JSON, or the peer's hit count."""
    try:
        if name.startswith("mc"):
            return float(json.loads(record["stdout"])["outputs"]["pi"]["estimate"])
        return 4.0 * int(record["stdout"].split()[-1]) / samples
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def run_rounds(
    commands: dict[str, list[str]], repeats: int, shuffle_seed: int, args, label, interval: float
) -> dict[str, list]:
    """``repeats`` rounds of every command, in a seeded shuffled order each round,
    polling the process tree every ``interval`` seconds."""
    runs: dict[str, list] = {name: [] for name in commands}
    for r in range(repeats):
        order = list(commands)
        random.Random(shuffle_seed * 1_000_003 + r).shuffle(order)
        for name in order:
            rec = measure(commands[name], timeout=args.timeout, interval=interval)
            rec["name"], rec["round"] = name, r
            label(rec)
            runs[name].append(rec)
    return runs


def summarise(name: str, runs: list[dict], samples: int | None) -> dict:
    ok = [r for r in runs if "error" not in r]
    s: dict = {
        "runs": len(runs),
        "failed": len(runs) - len(ok),
        "peak_tree_mb": max((r["peak_tree_mb"] for r in runs), default=None),
        "leftover_procs": max((r["leftover_procs"] for r in runs), default=0),
    }
    if not ok:
        s["error"] = "; ".join(sorted({r["error"] for r in runs}))
        return s
    walls = [r["wall_s"] for r in ok]
    s.update(
        wall_s=statistics.median(walls),
        wall_min=min(walls),
        wall_max=max(walls),
        cpu_s=statistics.median(r["cpu_s"] for r in ok),
        peak_procs=max(r["peak_procs"] for r in ok),
    )
    if samples is not None:
        ests = [r.get("estimate") for r in ok]
        zs = [abs(e - math.pi) / pi_standard_error(samples) for e in ests if e is not None]
        s.update(
            estimates=ests,
            max_abs_z=max(zs) if zs else None,
            sane=bool(zs) and len(zs) == len(ests) and max(zs) <= MAX_Z,
        )
    return s


def verdict(key: str, value: float | None) -> str:
    if value is None:
        return "FAIL"
    op, target = TARGETS[key]
    good = {"<=": value <= target, ">=": value >= target, "<": value < target}[op]
    return "PASS" if good else "FAIL"


def table(summary: dict) -> str:
    head = ("command", "wall s (min-max)", "cpu s", "peak tree MB", "procs", "estimate", "max |z|")
    rows = [head]
    for name, s in summary.items():
        if "error" in s:
            rows.append((name, "ERROR (below)", "", "", "", "", ""))
            continue
        est = (s.get("estimates") or [None])[0]
        z = s.get("max_abs_z")
        rows.append(
            (
                name,
                f"{s['wall_s']:.3f} ({s['wall_min']:.2f}-{s['wall_max']:.2f})",
                f"{s['cpu_s']:.2f}",
                f"{s['peak_tree_mb']:.0f}",
                str(s["peak_procs"]) + (f" +{s['leftover_procs']} left" if s["leftover_procs"] else ""),
                "-" if "estimates" not in s else ("n/a" if est is None else f"{est:.6f}"),
                "-" if "estimates" not in s else ("n/a" if z is None else f"{z:.2f}" + ("" if s["sane"] else " BAD")),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)) for r in rows]
    lines.insert(1, "-" * len(lines[0]))
    lines += [f"{name}: {s['error']}" for name, s in summary.items() if "error" in s]
    return "\n".join(lines)


def byte_compile(mc: str) -> None:
    """Write the package's .pyc files, as a regular `pip install` does.

    An editable install under PYTHONDONTWRITEBYTECODE=1 would otherwise
    recompile every module at every start, a cost no installed copy pays.
    """
    with open(mc, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    python = first[2:].strip() if first.startswith("#!") else sys.executable
    code = "import compileall, os, montecarlo; compileall.compile_dir(os.path.dirname(montecarlo.__file__), quiet=1)"
    subprocess.run([python, "-c", code], check=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--samples", type=parse_count, default=parse_count("1e9"), help="π samples per run (default 1e9)")
    ap.add_argument("--workers", type=int, default=2, help="W, parallel workers (default 2)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds of the π runs; medians reported (default 3)")
    ap.add_argument("--quick-repeats", type=int, default=5, help="runs of mc --help and mc list (default 5)")
    ap.add_argument("--seed", type=int, default=1, help="seed given to mc and to the joblib peer (default 1)")
    ap.add_argument("--shuffle-seed", type=int, default=0, help="seeds the order of each round (default 0)")
    ap.add_argument("--mc", default=default_mc(), help="the mc executable (default: next to this Python)")
    ap.add_argument("--python", default=sys.executable, help="interpreter of the joblib peer (needs numpy, joblib)")
    ap.add_argument("--chunk", type=int, default=1 << 16, help="joblib peer: samples per numpy chunk (2^16)")
    ap.add_argument("--tasks-per-worker", type=int, default=4, help="joblib peer: tasks per worker (4)")
    ap.add_argument(
        "--warmup",
        type=lambda text: 0 if text.strip() == "0" else parse_count(text),
        default=parse_count("2e6"),
        help="samples of one unrecorded run of each command first (0: none; default 2e6)",
    )
    ap.add_argument(
        "--interval", type=float, default=0.02, help="tree-RSS polling period of the memory round in s (0.02)"
    )
    ap.add_argument(
        "--timing-interval", type=float, default=0.5, help="tree-RSS polling period of the timed rounds in s (0.5)"
    )
    ap.add_argument("--timeout", type=float, default=1200.0, help="seconds before a run is killed (1200)")
    ap.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args = ap.parse_args(argv)
    if args.workers < 1 or args.repeats < 1 or args.quick_repeats < 1:
        ap.error("--workers, --repeats and --quick-repeats must be >= 1")

    meta = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "argv": sys.argv,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "mc": args.mc,
        "samples": args.samples,
        "workers": args.workers,
        "repeats": args.repeats,
        "seed": args.seed,
        "chunk": args.chunk,
        "tasks_per_worker": args.tasks_per_worker,
        "load_at_start": os.getloadavg(),
    }
    print(
        f"# bench_pi: N={fmt_count(args.samples)} W={args.workers} repeats={args.repeats} "
        f"python {meta['python']} {meta['cpu_count']} cpus load {meta['load_at_start'][0]:.2f}",
        flush=True,
    )

    commands = pi_commands(args)
    byte_compile(args.mc)
    if args.warmup:  # page cache: the first run of a command pays it once
        small = argparse.Namespace(**{**vars(args), "samples": min(args.warmup, args.samples)})
        for name, cmd in pi_commands(small).items():
            rec = measure(cmd, timeout=args.timeout, interval=args.interval)
            print(
                f"  warm-up {name:12s} {rec['wall_s']:6.2f} s" + (f"  {rec['error']}" if "error" in rec else ""),
                flush=True,
            )

    def show(rec: dict) -> None:
        rec["estimate"] = estimate_of(rec["name"], rec, args.samples)
        est = rec["estimate"]
        print(
            f"  round {rec['round'] + 1}/{args.repeats} {rec['name']:12s} wall {rec['wall_s']:7.3f} s  "
            f"cpu {rec['cpu_s']:7.2f} s  tree {rec['peak_tree_mb']:5.0f} MB  "
            + ("pi n/a" if est is None else f"pi {est:.6f}")
            + f"  load {rec['load1']:.2f}"
            + (f"  ERROR {rec['error']}" if "error" in rec else ""),
            flush=True,
        )

    # Timed rounds poll coarsely: polling /proc every 20 ms costs a few per cent
    # of a core, which a run using every core pays and a one-worker run does
    # not. Peak memory comes from one more round polled finely, not timed.
    runs = run_rounds(commands, args.repeats, args.shuffle_seed, args, show, args.timing_interval)
    memory = run_rounds(commands, 1, args.shuffle_seed + 2, args, lambda rec: None, args.interval)
    for name, recs in memory.items():
        peak = max(r["peak_tree_mb"] for r in recs)
        print(f"  memory round {name:12s} peak tree {peak:5.0f} MB (polled every {args.interval:g} s)", flush=True)
        for r in runs[name]:
            r["peak_tree_mb"] = max(r["peak_tree_mb"], peak)

    quick = {"mc --help": [args.mc, "--help"], "mc list": [args.mc, "list"]}

    def show_quick(rec: dict) -> None:
        print(
            f"  {rec['name']:10s} run {rec['round'] + 1}/{args.quick_repeats} wall {rec['wall_s']:.3f} s"
            + (f"  ERROR {rec['error']}" if "error" in rec else ""),
            flush=True,
        )

    runs.update(run_rounds(quick, args.quick_repeats, args.shuffle_seed + 1, args, show_quick, args.interval))

    summary = {name: summarise(name, rs, args.samples if name in commands else None) for name, rs in runs.items()}
    mc_w, mc_1, peer = (summary[k] for k in commands)
    w = args.workers

    def wall(s: dict) -> float | None:
        return s.get("wall_s")

    figures = {
        "mc_over_joblib": wall(mc_w) / wall(peer) if wall(mc_w) and wall(peer) else None,
        "parallel_efficiency": wall(mc_1) / (w * wall(mc_w)) if wall(mc_w) and wall(mc_1) else None,
        "peak_tree_mb": max((s["peak_tree_mb"] for s in (mc_w, mc_1) if s["peak_tree_mb"] is not None), default=None),
        "help_s": wall(summary["mc --help"]),
        "list_s": wall(summary["mc list"]),
    }
    # Not a target: CPU seconds of mc W over mc W=1. Near 1 means parallelism adds
    # little work, so an efficiency below target then points at busy cores.
    cpu_cost = mc_w["cpu_s"] / mc_1["cpu_s"] if mc_w.get("cpu_s") and mc_1.get("cpu_s") else None
    figures["cpu_cost_ratio"] = cpu_cost
    sane = all(s.get("sane") for s in (mc_w, mc_1, peer))
    mc_estimates = {r.get("estimate") for name in list(commands)[:2] for r in runs[name]}
    identical = len(mc_estimates) == 1 and None not in mc_estimates

    print()
    print(
        f"== N={fmt_count(args.samples)} W={w}: median of {args.repeats} interleaved rounds "
        f"(mc --help / mc list: median of {args.quick_repeats}) =="
    )
    print(table(summary))
    print()
    labels = {
        "mc_over_joblib": f"mc W={w} wall / joblib W={w} wall",
        "parallel_efficiency": f"parallel efficiency T1 / ({w} * T{w})",
        "peak_tree_mb": "peak tree MB of mc runs",
        "help_s": "mc --help s",
        "list_s": "mc list s",
    }
    for key, label in labels.items():
        value = figures[key]
        op, target = TARGETS[key]
        shown = "n/a" if value is None else (f"{value:.0f}" if key == "peak_tree_mb" else f"{value:.3f}")
        print(f"  {label:44s} {shown:>8s}   target {op} {target:g}   {verdict(key, value)}")
    shown = "n/a" if cpu_cost is None else f"{cpu_cost:.3f}"
    print(f"  {f'cpu s of mc W={w} / cpu s of mc W=1':44s} {shown:>8s}   (information: 1 = no extra work)")
    print(
        f"  {'estimates within 5 s.e. of pi (all rows)':44s} {'yes' if sane else 'NO':>8s}   "
        f"{'PASS' if sane else 'FAIL'}"
    )
    print(
        f"  {f'mc estimates identical (W={w}, W=1, all runs)':44s} {'yes' if identical else 'NO':>8s}   "
        f"{'PASS' if identical else 'FAIL'}"
    )
    load_end = os.getloadavg()
    print(
        f"  load average at start {meta['load_at_start'][0]:.2f}, at end {load_end[0]:.2f} "
        f"(ratios are meant to hold under load; absolute seconds are not)"
    )

    if args.json:
        meta.update(load_at_end=load_end, finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        for rs in runs.values():
            for r in rs:
                r.pop("stdout", None)
                r.pop("series", None)
        doc = {
            "meta": meta,
            "figures": figures,
            "targets": {
                k: {"op": op, "target": t, "verdict": verdict(k, figures[k])} for k, (op, t) in TARGETS.items()
            },
            "sane": sane,
            "identical_across_workers": identical,
            "summary": summary,
            "runs": runs,
        }
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(doc, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
