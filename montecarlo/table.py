"""Text tables of results: what ``mc run`` prints and ``str(result)`` shows.

Numbers are shown to about a tenth of their standard error, in one notation
per column.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from montecarlo.estimate import Estimate

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.experiments import Experiment, ExperimentResult
    from montecarlo.result import Result


def digits(se: float) -> int:
    """Decimals that show the estimate to about a tenth of its standard error."""
    if not (se > 0 and math.isfinite(se)):
        return 6
    return max(0, min(15, 1 - math.floor(math.log10(se))))


def number(x: float, d: int) -> str:
    """``x`` with ``d`` decimals, or in scientific notation when very large or small."""
    if not math.isfinite(x):
        return "inf" if x > 0 else "-inf" if x < 0 else "nan"
    if x != 0 and (abs(x) >= 1e9 or abs(x) < 1e-4):
        return f"{x:.{max(3, min(d, 10))}e}"
    return f"{x:.{d}f}"


def format_result(r: Result) -> str:
    """The table ``mc run`` prints: one row per estimate, with the run's header and timing."""
    conf = f"{r.spec.confidence * 100:g}%"
    rows = [["output", "estimate", "std error", f"{conf} interval", "method"]]
    has_exact = any(e.exact is not None for e in r.estimates)
    if has_exact:
        rows[0] += ["exact", "error/se"]
    for e in r.estimates:
        d = digits(e.standard_error)
        row = [
            e.name,
            number(e.estimate, d),
            f"{e.standard_error:.3g}",
            f"[{number(e.interval[0], d)}, {number(e.interval[1], d)}]",
            e.method + (" (!)" if e.warnings else ""),
        ]
        if has_exact:
            z = e.error_in_se
            row += ["" if e.exact is None else number(e.exact, d), "" if z is None else f"{z:+.2f}"]
        rows.append(row)
    rows += _tail_rows(r, len(rows[0]))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += _estimator_notes(r.estimates)
    lines += _warning_lines(r)
    p = r.provenance
    lines.insert(0, f"{r.model}: {r.samples:,} samples, seed entropy {r.spec.entropy}, {r.spec.bit_generator}")
    if "elapsed_s" in p:
        rate = p.get("throughput", 0.0)
        lines.append(
            f"{p['elapsed_s']:.2f} s, {_rate(rate)} samples/s, "
            f"{p.get('workers', '?')} worker(s) ({p.get('executor', '?')})"
        )
    return "\n".join(lines)


def _estimator_notes(estimates: Sequence[Estimate]) -> list[str]:
    """One line per derived or control-variate estimate: how it was made."""
    notes = []
    for e in estimates:
        d = e.details
        if e.kind == "derived" and d:
            notes.append(f"{e.name} = f({', '.join(d['inputs'])}): delta method, {d['gradient_method']} gradient")
        elif e.kind == "control-variate" and d:
            coef = ", ".join(f"{c:.4g}" if c is not None else "nan" for c in d["coefficients"])
            vrf = d.get("variance_reduction")
            vr = f"{vrf:.3g}x" if isinstance(vrf, float) and math.isfinite(vrf) else "n/a"
            notes.append(
                f"{e.name}: {d['target']} with control(s) {', '.join(d['controls'])}, "
                f"coefficient(s) {coef}, variance reduction {vr}"
            )
        elif e.kind == "two-stage" and d:
            notes.append(
                f"{e.name}: mean of {e.samples:,} fresh samples after a pilot of {d['pilot_samples']:,}; within "
                f"±{d['tolerance']:g} with probability >= {e.confidence:g} if {d['output']}'s excess kurtosis "
                f"<= {d['kurtosis_bound']:g} (the pilot's: {d['pilot_kurtosis']:.3g})"
            )
    return notes


def _tail_rows(r: Result, width: int) -> list[list[str]]:
    """Rows of the quantiles (``price q0.99``) and expected shortfalls (``price ES0.99``)."""
    rows = []
    for tails in (r.quantiles, r.shortfall):
        for estimates in tails.values():
            for t in estimates:
                lo, hi = t.interval
                span = hi - lo if math.isfinite(hi - lo) and hi > lo else abs(t.estimate)
                d = digits(span / 40.0 if span > 0 else 0.0)
                se = "" if not math.isfinite(t.standard_error) else f"{t.standard_error:.3g}"
                row = [t.name, number(t.estimate, d), se, f"[{number(lo, d)}, {number(hi, d)}]",
                       t.method + (" (!)" if t.warnings else "")]  # fmt: skip
                rows.append(row + [""] * (width - len(row)))
    return rows


def _warning_lines(r: Result) -> list[str]:
    """One line per raised flag: why that interval may not hold."""
    lines = [f"(!) {name}: {text}" for name, d in r.diagnostics.items() for text in d.flags.values()]
    lines += [f"(!) {e.name}: {text}" for e in r.derived for text in e.details.get("flags", {}).values()]
    for estimates in r.shortfall.values():
        for t in estimates:
            if t.warnings:
                m = t.samples * (1.0 - t.q)
                lines.append(f"(!) {t.name}: only {m:.3g} samples in the tail; the normal interval needs many more")
    return lines


def _rate(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"


# --------------------------------------------------------------------------
# experiments
# --------------------------------------------------------------------------


def check_miss(c: dict) -> str:
    """One missed expectation, in words."""
    if c["expected"] is None:
        return f"output {c['output']}: the run reports no exact value to compare with"
    z = c["error_in_se"]
    dist = "an undefined number of" if z is None else f"{abs(z):.2f}"
    lo, hi = c["interval"]
    tol = f" widened by {c['tolerance']:g}" if c["tolerance"] else ""
    return (
        f"output {c['output']} = {c['estimate']!r} is {dist} standard errors from the expected "
        f"{c['expected']!r} ({c['source']}), outside the interval [{lo!r}, {hi!r}]{tol}"
    )


def format_experiment(exp: Experiment, res: ExperimentResult) -> str:
    """A run's table: the result table for one point; one row per point for a sweep."""
    head = f"== {exp.name} ({exp.path}) =="
    if exp.description:
        head += f"\n{exp.description}"
    if len(res.points) == 1 and not res.points[0].swept:
        lines = [head, res.points[0].result.table()]
        lines += [f"  {check_line(c)}" for c in res.points[0].checks]
        return "\n".join(lines)
    params = list(res.points[0].swept)
    outs = [e.name for e in res.points[0].result.estimates]  # outputs, then derived
    rows = [["point", *params]]
    for o in outs:
        rows[0] += [o, "std error", "interval"]
    has_checks = any(p.checks for p in res.points)
    if has_checks:
        rows[0] += ["expected", "error/se", "check"]
    for p in res.points:
        row = [str(p.index), *(f"{p.swept[k]:g}" if isinstance(p.swept[k], float) else str(p.swept[k]) for k in params)]
        for o in outs:
            e = p.result[o]
            d = digits(e.standard_error)
            row += [
                number(e.estimate, d),
                f"{e.standard_error:.3g}",
                f"[{number(e.interval[0], d)}, {number(e.interval[1], d)}]",
            ]
        if has_checks:
            exp_txt = "; ".join("?" if c["expected"] is None else f"{c['expected']:.6g}" for c in p.checks)
            z_txt = "; ".join("" if c["error_in_se"] is None else f"{c['error_in_se']:+.2f}" for c in p.checks)
            ok = "ok" if all(c["passed"] for c in p.checks) else "MISS"
            row += [exp_txt, z_txt, ok if p.checks else ""]
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    spec = res.points[0].result.spec
    sweep = res.sweep or {}
    crn = ", common random numbers" if sweep.get("common_random_numbers") else ""
    info = (
        f"{exp.model.name}: {len(res.points)} points ({sweep.get('mode', '')} sweep{crn}), "
        f"{spec.samples:,} samples each, seed entropy {spec.entropy}, {spec.bit_generator}"
    )
    prov = res.provenance
    tail = f"{prov['elapsed_s']:.2f} s, {prov['workers']} worker(s) ({prov['executor']})"
    return "\n".join([head, info, *body, tail])


def check_line(c: dict) -> str:
    """One expectation and its outcome."""
    z = "" if c["error_in_se"] is None else f", {c['error_in_se']:+.2f} se"
    state = "ok" if c["passed"] else "MISS"
    return f"expect {c['output']} = {c['expected']!r} ({c['source']}): {state}{z}"
