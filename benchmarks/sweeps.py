"""Sweeps of many cheap points: the cost of the cache and of the points' record, and of a resume.

    python benchmarks/sweeps.py [--points 2000,10000] [--samples 1000] [--repeats 1]
                                [--baseline-src DIR] [--timeout 600] [--skip N:ROW,...] [--json FILE]

For each point count N, an experiment file sweeps the cheap user model
``exp_uniform`` (``usermodels.py``: ``np.exp(a * rng.random(n))``) over N
values of ``a``, ``--samples`` samples per point, and whole processes of
``mc experiment run FILE -o DIR -q`` are timed, in a seeded shuffled order
each round:

- ``off``: ``--no-cache`` (the default since experiments stopped using the
  cache unless asked; before, it was on);
- ``cache``: ``--cache`` into an empty cache folder (every point stored);
- ``cache again``: the same command once more (every point reused);
- ``resume``: the command run again after a run killed (SIGKILL) once half
  of the points were recorded in its unfinished folder (the time of the
  second command only).

With ``--baseline-src DIR`` (a checkout of another version, such as the
commit before a change) the ``off`` and ``cache`` rows also run with that
source tree first on ``PYTHONPATH``: ``base off``, ``base cache``. A row
that passes ``--timeout`` seconds is stopped and shown as ``> T``.

Figures: median wall and CPU seconds (the process and its workers) of each
row, milliseconds per point, and ratios measured in the same run: each row
against ``off`` of the same N, and each base row against its new row.
Reports, never judges (exit 0).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from proctree import measure

HERE = Path(__file__).resolve().parent
MODEL = f"{HERE / 'usermodels.py'}:exp_uniform"


def sweep_file(folder: Path, points: int, samples: int) -> Path:
    values = ", ".join(f"{1.0 + i / points:.6f}" for i in range(points))
    path = folder / f"sweep{points}.toml"
    path.write_text(
        f'name = "sweep{points}"\nmodel = "{MODEL}"\nsamples = {samples}\nseed = 7\n[sweep.params]\na = [{values}]\n'
    )
    return path


def command(python: str, src: str | None) -> list[str]:
    """``mc`` as this interpreter runs it, from ``src`` when given (its package first on the path)."""
    boot = "import sys; from montecarlo.cli import main; sys.argv[0] = 'mc'; main()"
    # -P: the working directory is not put first on the path (it may hold another montecarlo/)
    return [python, "-P", "-c", boot] if src else [str(Path(python).with_name("mc"))]


def environment(src: str | None, cache: Path) -> dict:
    env = {**os.environ, "MONTECARLO_CACHE": str(cache)}
    env.pop("MONTECARLO_CACHE_MB", None)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
    return env


def timed(cmd: list[str], env: dict, timeout: float) -> dict:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # `measure` starts the command with this process's environment
    try:
        return measure(cmd, timeout=timeout, interval=0.2)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def killed_half_way(cmd: list[str], env: dict, out: Path, name: str, points: int, timeout: float) -> int:
    """Run ``cmd`` and SIGKILL it once half of the points are recorded; the points recorded."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    recorded = 0
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            for record in (out / name).glob("*.partial/points.jsonl"):
                recorded = record.read_bytes().count(b"\n") - 1
            if recorded >= points // 2:
                break
            time.sleep(0.05)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    return recorded


def run_row(row: str, n: int, files: dict, a: argparse.Namespace, work: Path) -> dict:
    base = row.startswith("base ")
    src = a.baseline_src if base else None
    cmd = command(sys.executable, src)
    out = work / f"out-{row.replace(' ', '-')}-{n}"
    cache = work / f"cache-{row.replace(' ', '-')}-{n}"
    shutil.rmtree(out, ignore_errors=True)
    if not row.endswith("again"):
        shutil.rmtree(cache, ignore_errors=True)
    full = [*cmd, "experiment", "run", str(files[n]), "-o", str(out), "-q"]
    full.append("--cache" if "cache" in row else "--no-cache")  # explicit: the default changed over releases
    env = environment(src, cache)
    extra = {}
    if row == "resume":
        extra["killed_at_points"] = killed_half_way(full, env, out, f"sweep{n}", n, a.timeout)
    rec = timed(full, env, a.timeout)
    rec.pop("series", None)
    rec["stdout"] = rec["stdout"][-400:]
    return {**rec, **extra, "row": row, "points": n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", default="2000,10000", help="point counts, comma-separated")
    ap.add_argument("--samples", type=int, default=1000, help="samples per point")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--baseline-src", metavar="DIR", help="a source tree of another version (its montecarlo/)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a row is stopped")
    ap.add_argument("--no-resume", action="store_true", help="skip the resume row")
    ap.add_argument("--skip", default="", metavar="N:ROW,...", help="rows not to run, such as '10000:base cache'")
    ap.add_argument("--seed", type=int, default=1, help="seed of the shuffled order")
    ap.add_argument("--json", metavar="FILE")
    a = ap.parse_args(argv)
    counts = [int(x) for x in a.points.split(",")]
    rows = ["off", "cache", "cache again"] + ([] if a.no_resume else ["resume"])
    if a.baseline_src:
        rows += ["base off", "base cache"]
    rng = random.Random(a.seed)
    work = Path(tempfile.mkdtemp(prefix="mc-sweeps-"))
    files = {n: sweep_file(work, n, a.samples) for n in counts}
    print(f"load {os.getloadavg()[0]:.2f}; {', '.join(map(str, counts))} points of {a.samples} samples; {work}")
    records: list[dict] = []
    try:
        for r in range(a.repeats):
            skipped = {tuple(x.split(":", 1)) for x in a.skip.split(",") if ":" in x}
            plan = [(n, row) for n in counts for row in rows if (str(n), row) not in skipped]
            rng.shuffle(plan)
            # "cache again" needs the cache its "cache" row filled: it runs right after it
            plan = [p for p in plan if p[1] != "cache again"]
            for i in range(len(plan) - 1, -1, -1):
                if plan[i][1] == "cache" and "cache again" in rows:
                    plan.insert(i + 1, (plan[i][0], "cache again"))
            for n, row in plan:
                rec = run_row(row, n, files, a, work)
                rec["round"] = r
                records.append(rec)
                shown = f"> {a.timeout:g}" if "timed out" in rec.get("error", "") else f"{rec['wall_s']:.2f}"
                note = ""
                if row == "resume":
                    taken = rec["stdout"].split(" points taken from an unfinished run")[0].rsplit("\n", 1)[-1]
                    note = f"  killed at {rec['killed_at_points']} recorded points; took back {taken or 0}"
                print(
                    f"  round {r} {n:>6} {row:<12} wall {shown:>7} s  cpu {rec['cpu_s']:6.2f} s  "
                    f"load {rec['load1']:.2f}{note}"
                )
                if rec.get("error") and "timed out" not in rec["error"]:
                    print(f"    {rec['error']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"{'points':>6}  {'row':<12} {'wall s':>8} {'cpu s':>7} {'ms/point':>9} {'x off':>6} {'x new':>6}")
    medians: dict[tuple[int, str], tuple[float, float, bool]] = {}
    for n in counts:
        for row in rows:
            mine = [x for x in records if x["points"] == n and x["row"] == row]
            if not mine:
                continue
            over = any("timed out" in x.get("error", "") for x in mine)
            wall = statistics.median(x["wall_s"] for x in mine)
            cpu = statistics.median(x["cpu_s"] for x in mine)
            medians[(n, row)] = (wall, cpu, over)
    for n in counts:
        off = medians.get((n, "off"))
        for row in rows:
            if (n, row) not in medians:
                continue
            wall, cpu, over = medians[(n, row)]
            vs_off = f"{wall / off[0]:.2f}" if off else "-"
            new = medians.get((n, row[5:])) if row.startswith("base ") else None
            vs_new = f"{wall / new[0]:.2f}" if new else ""
            mark = ">" if over else ""
            wall_text = f"{mark}{wall:.1f}"
            print(
                f"{n:>6}  {row:<12} {wall_text:>8} {cpu:7.1f} {1000 * wall / n:9.2f} "
                f"{(mark + vs_off):>6} {(mark + vs_new) if vs_new else '':>6}"
            )
    print("x off: wall over the `off` row of the same point count; x new: a base row over the same row of this tree.")
    print(f"load {os.getloadavg()[0]:.2f}")
    if a.json:
        Path(a.json).write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
