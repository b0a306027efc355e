"""Tables of results: the text ``mc run`` prints and ``str(result)`` shows, and HTML for notebooks.

Numbers are shown to about a tenth of their standard error, an estimate and
its interval in one notation. Text that comes from files (names, values, a
description) is shown with its control characters escaped (`printable`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from montecarlo.estimation.estimate import Estimate
from montecarlo.reports.text import printable

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.estimation.quantiles import TailEstimate
    from montecarlo.records.experiment_result import ExperimentResult
    from montecarlo.records.result import Result


def digits(se: float) -> int:
    """Decimals that show the estimate to about a tenth of its standard error."""
    if not (se > 0 and math.isfinite(se)):
        return 6
    return max(0, min(15, 1 - math.floor(math.log10(se))))


def _scientific(x: float) -> bool:
    return math.isfinite(x) and x != 0 and (abs(x) >= 1e9 or abs(x) < 1e-4)


def number(x: float, d: int, scientific: bool | None = None) -> str:
    """``x`` with ``d`` decimals, or in scientific notation (by default when very large or small)."""
    if not math.isfinite(x):
        return "inf" if x > 0 else "-inf" if x < 0 else "nan"
    if scientific if scientific is not None else _scientific(x):
        return f"{x:.{max(3, min(d, 10))}e}"
    return f"{x:.{d}f}"


def shown(e: Estimate) -> tuple[str, str, str]:
    """Estimate, interval and exact value of ``e`` as text, in one notation and precision."""
    d = digits(e.standard_error)
    sci = any(_scientific(v) for v in (e.estimate, *e.interval))
    lo, hi = (number(v, d, sci) for v in e.interval)
    exact = "" if e.exact is None else number(e.exact, d, sci)
    return number(e.estimate, d, sci), f"[{lo}, {hi}]", exact


def format_result(r: Result, advice: str = "") -> str:
    """The table ``mc run`` prints: one row per estimate, with the run's header and timing.

    ``advice`` ends the footer's note on why fewer workers ran than were
    asked for, where there is one: the command line names its option there.
    """
    conf = f"{r.spec.confidence * 100:g}%"
    rows = [["output", "estimate", "std error", f"{conf} interval", "method"]]
    has_exact = any(e.exact is not None for e in r.estimates) or any(t.exact is not None for t in _tails(r))
    if has_exact:
        rows[0] += ["exact", "error/se"]
    for e in r.estimates:
        estimate, interval, exact = shown(e)
        row = [e.name, estimate, f"{e.standard_error:.3g}", interval, e.method + (" (!)" if e.warnings else "")]
        if has_exact:
            z = e.error_in_se
            row += [exact, "" if z is None else f"{z:+.2f}"]
        rows.append(row)
    rows += _tail_rows(r, len(rows[0]))
    rows = [[printable(c) for c in row] for row in rows]  # names and methods may come from a file
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += _estimator_notes(r.estimates)
    lines += _warning_lines(r)
    if r.spec.sampler != "random":  # randomized QMC: estimates on the replicate means
        reps = r.spec.replicates
        lines.append(f"intervals on the {reps} replicate means ({reps - 1} degrees of freedom)")
    lines.insert(0, _header(r))
    footer = _footer(r.provenance, advice)
    if footer:
        lines.append(footer)
    return "\n".join(printable(line) for line in lines)


def continued(r: Result) -> str:
    """``", resumed at N"`` or ``", extended from N"`` for a run that went on from another, else ``""``."""
    resumed = r.provenance.get("resumed_at_samples")
    extended = r.provenance.get("extended_from_samples")
    if extended:  # an extension keeps the whole blocks and runs a short last block again, whole
        kept = f" ({resumed:,} in whole blocks kept)" if resumed != extended else ""
        return f", extended from {extended:,}{kept}"
    return f", resumed at {resumed:,}" if resumed else ""


def _header(r: Result) -> str:
    again = continued(r)
    points = ""
    if r.spec.sampler != "random":
        reps = r.spec.replicates
        points = f" ({r.spec.sampler}: {reps} replicates x {r.samples // reps:,} points)"
    return f"{r.model}: {r.samples:,} samples{points}{again}, seed entropy {r.spec.entropy}, {r.spec.bit_generator}"


def _footer(p: dict, advice: str = "") -> str:
    if "elapsed_s" not in p:
        return ""
    rate = p.get("throughput") or 0.0
    fewer = p.get("fewer_workers") or {}
    blocks = fewer.get("blocks") if isinstance(fewer, dict) else None
    why = f"; {fewer.get('asked')} asked for, the run has {blocks} block{'s' if blocks != 1 else ''}" if blocks else ""
    why += f": {advice}" if blocks and advice else ""
    timing = f"{p['elapsed_s']:.2f} s, {_rate(rate)} samples/s, {p.get('workers', '?')} worker(s) ({p.get('executor', '?')}{why})"
    if p.get("cache") == "reused":  # the time is the run's that computed it, not this one's
        return f"reused from the cache; computed in {timing}"
    return timing


def html_result(r: Result) -> str:
    """An HTML table of ``r`` for notebooks: every estimate with its interval and its distance to the exact value."""
    from html import escape

    level = f"{r.spec.confidence * 100:g}%"
    head = ["estimate", "value", "std error", f"{level} interval", "method", "exact", "error/se"]
    body = []
    for e in r.estimates:
        estimate, interval, exact = shown(e)
        z = e.error_in_se
        cells = [
            e.name,
            estimate,
            f"{e.standard_error:.3g}",
            interval,
            e.method,
            exact,
            "" if z is None else f"{z:+.2f}",
        ]
        body.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    for cells in _tail_rows(r, len(head)):  # quantiles and expected shortfalls
        body.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>")
    caption = escape(_header(r) + (f"; {_footer(r.provenance)}" if _footer(r.provenance) else ""))
    return (
        f'<table class="montecarlo-result"><caption>{caption}</caption><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table>"
    )


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


def _tails(r: Result) -> list[TailEstimate]:
    """The quantiles, then the expected shortfalls, of every output."""
    return [t for part in (r.quantiles, r.shortfall) for rows in part.values() for t in rows]


def swept_names(res: ExperimentResult) -> list[str]:
    """The swept parameters of every point, in first-seen order (points of one sweep may differ)."""
    names: dict[str, None] = {}
    for p in res.points:
        names.update(dict.fromkeys(p.swept))
    return list(names)


def _tail_cells(t: TailEstimate) -> tuple[str, str, str, str]:
    """A quantile's or shortfall's estimate, standard error, interval and exact value, to a tenth of its interval."""
    lo, hi = t.interval
    span = hi - lo if math.isfinite(hi - lo) and hi > lo else abs(t.estimate)
    d = digits(span / 40.0) if span > 0 else 0  # an exact 0 (an atom of the distribution) shows as 0
    se = "" if not math.isfinite(t.standard_error) else f"{t.standard_error:.3g}"
    exact = "" if t.exact is None else number(t.exact, d)
    return number(t.estimate, d), se, f"[{number(lo, d)}, {number(hi, d)}]", exact


def _tail_rows(r: Result, width: int) -> list[list[str]]:
    """Rows of the quantiles (``price q0.99``) and expected shortfalls (``price ES0.99``)."""
    rows = []
    for t in _tails(r):
        estimate, se, interval, exact = _tail_cells(t)
        row = [t.name, estimate, se, interval, t.method + (" (!)" if t.warnings else "")]
        if width > len(row) and exact:
            row.append(exact)
        rows.append(row + [""] * (width - len(row)))
    return rows


def _warning_lines(r: Result) -> list[str]:
    """One line per raised flag: why that interval may not hold."""
    lines = [f"(!) {text}" for text in r.warnings]
    lines += [f"(!) {name}: {text}" for name, d in r.diagnostics.items() for text in d.flags.values()]
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


def format_experiment(res: ExperimentResult) -> str:
    """An experiment's table: the result table for one point; one row per point for a sweep.

    (An experiment of an analysis has its own: `montecarlo.reports.experiment_analyses`.)
    """
    head = printable(f"== {res.name} ({res.config.get('path', '?')}) ==")
    if res.description:  # its line breaks are kept, its other controls escaped
        head += "\n" + printable(res.description, keep="\n")
    if len(res.points) == 1 and not res.points[0].swept:
        lines = [head, res.points[0].result.table()]
        lines += [printable(f"  {check_line(c)}") for c in res.points[0].checks]
        return "\n".join(lines + _reuse(res))
    rows = [[printable(c) for c in row] for row in _experiment_rows(res)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    body = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    spec = res.points[0].result.spec
    sweep = res.sweep or {}
    crn = ", common random numbers" if sweep.get("common_random_numbers") else ""
    ran = {p.result.samples for p in res.points}  # a Sobol' point rounds up; a stopping rule stops early
    each = f"{ran.pop():,} samples each" if len(ran) == 1 else "samples as listed"
    info = (
        f"{res.points[0].result.model}: {len(res.points)} points ({sweep.get('mode', '')} sweep{crn}), "
        f"{each}, seed entropy {spec.entropy}, {spec.bit_generator}"
    )
    prov = res.provenance
    tail = f"{prov.get('elapsed_s', 0.0):.2f} s, {prov.get('workers', '?')} worker(s) ({prov.get('executor', '?')})"
    return "\n".join([head, printable(info), *body, printable(tail), *_reuse(res)])


def _reuse(res: ExperimentResult) -> list[str]:
    reused = res.provenance.get("reused")
    return [printable(f"{reused} of {len(res.points)} points reused from the cache")] if reused is not None else []


def _experiment_rows(res: ExperimentResult) -> list[list[str]]:
    """Header and one row per point: swept values, then estimate, standard error and interval per estimate.

    Quantiles and expected shortfalls follow, each with its interval.
    """
    params = swept_names(res)
    runs = [cast("Result", p.result) for p in res.points]  # plain runs (an analysis has its own table)
    outs = [e.name for e in runs[0].estimates]  # outputs, then derived
    tails = [t.name for t in _tails(runs[0])]
    level = f"{res.points[0].result.spec.confidence * 100:g}%"
    rows = [["point", *params]]
    by_point = len({p.result.samples for p in res.points}) > 1
    if by_point:
        rows[0].append("samples")
    for o in outs:
        rows[0] += [o, "std error", f"{level} interval"]
    for name in tails:
        rows[0] += [name, f"{level} interval"]
    has_checks = any(p.checks for p in res.points)
    if has_checks:
        rows[0] += ["expected", "error/se", "check"]
    for p, r in zip(res.points, runs, strict=True):
        values = (p.swept.get(k, "") for k in params)  # a point without a swept name shows it empty
        row = [str(p.index), *(f"{v:g}" if isinstance(v, float) else str(v) for v in values)]
        row += [f"{r.samples:,}"] if by_point else []
        for o in outs:
            e = r[o]
            estimate, interval, _ = shown(e)
            row += [estimate, f"{e.standard_error:.3g}", interval]
        by_name = {t.name: t for t in _tails(r)}
        for name in tails:
            t = by_name.get(name)
            row += [_tail_cells(t)[0], _tail_cells(t)[2]] if t is not None else ["", ""]
        if has_checks:
            exp_txt = "; ".join("?" if c["expected"] is None else f"{c['expected']:.6g}" for c in p.checks)
            z_txt = "; ".join("" if c["error_in_se"] is None else f"{c['error_in_se']:+.2f}" for c in p.checks)
            ok = "ok" if all(c["passed"] for c in p.checks) else "MISS"
            row += [exp_txt, z_txt, ok if p.checks else ""]
        rows.append(row)
    return rows


def html_experiment(res: ExperimentResult) -> str:
    """An HTML table of an experiment for notebooks: one row per point."""
    from html import escape

    rows = _experiment_rows(res)
    caption = escape(f"{res.name}: {res.description}" if res.description else res.name)
    return (
        f'<table class="montecarlo-experiment"><caption>{caption}</caption><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in rows[0])
        + "</tr></thead><tbody>"
        + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
        + "</tbody></table>"
    )


def check_line(c: dict) -> str:
    """One expectation and its outcome."""
    z = "" if c["error_in_se"] is None else f", {c['error_in_se']:+.2f} se"
    state = "ok" if c["passed"] else "MISS"
    return f"expect {c['output']} = {c['expected']!r} ({c['source']}): {state}{z}"
