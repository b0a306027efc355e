"""Sobol' indices shown: the text table of ``mc sensitivity``, HTML, a pandas frame and a bar plot.

Inputs are listed by decreasing total index. Estimates and intervals are
the raw ones, clipped to [0, 1] for display: a clipped value is marked
``*`` and its raw value given under the table (`SensitivityResult.indices`
and the JSON hold the raw values).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from montecarlo.estimation.estimate import Estimate
from montecarlo.reports.plot import _figure, _new_axes, _save, check_path
from montecarlo.reports.table import _footer, continued, digits, number
from montecarlo.reports.text import printable

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.analyses.sensitivity_result import SensitivityResult

METHODS = "first order: centred Saltelli et al. (2010); total: Jansen (1999)"


def _clip(x: float) -> float:
    return x if math.isnan(x) else min(1.0, max(0.0, x))


def _places(e: Estimate) -> int:
    return min(6, max(3, digits(e.standard_error)))


def _cells(e: Estimate) -> tuple[str, str, bool]:
    """``(estimate, interval, clipped)`` as shown: clipped to [0, 1], ``*`` on a clipped number."""
    d = _places(e)
    shown = []
    moved = False
    for x in (e.estimate, *e.interval):
        c = _clip(x)
        mark = "*" if c != x and not math.isnan(x) else ""
        moved = moved or bool(mark)
        shown.append(number(c, d, scientific=False) + mark)
    return shown[0], f"[{shown[1]}, {shown[2]}]", moved


def _raw(e: Estimate) -> str:
    d = _places(e)
    lo, hi = (number(x, d, scientific=False) for x in e.interval)
    return f"{number(e.estimate, d, scientific=False)} [{lo}, {hi}]"


def _variance(e: Estimate) -> str:
    """The variance and its interval to about a tenth of its standard error, in significant digits."""
    x, se = e.estimate, e.standard_error
    sig = 6 if not (se > 0 and x != 0 and math.isfinite(x)) else min(8, max(2, 2 + math.floor(math.log10(abs(x) / se))))
    lo, hi = (f"{v:.{sig}g}" for v in e.interval)
    return f"{x:.{sig}g} [{lo}, {hi}]"


def header(s: SensitivityResult) -> str:
    """The first line: model, base points, evaluations, points, seed."""
    r = s.result
    d = len(s.inputs)
    points = ""
    if r.spec.sampler != "random":
        reps = r.spec.replicates
        points = f" ({r.spec.sampler}: {reps} replicates x {r.samples // reps:,} points)"
    again = continued(r)
    per = f"(2 x {d} + 2)" if s.layout.second else f"({d} + 2)"
    return (
        f"{r.model}: {s.samples:,} base points x {per} = {s.evaluations:,} evaluations{points}{again}, "
        f"seed entropy {r.spec.entropy}, {r.spec.bit_generator}"
    )


def _rows(s: SensitivityResult, output: str) -> tuple[list[list[str]], list[str]]:
    level = f"{s.result.spec.confidence * 100:g}%"
    per = s.indices[output]
    exact = any(p.first.exact is not None or p.total.exact is not None for p in per.values())
    rows = [["input", "first", f"{level} interval", "total", f"{level} interval"]]
    rows[0] += ["exact first", "exact total"] if exact else []
    notes = []
    for i in s.ranking(output):
        pair = per[i]
        row = [i]
        for kind, e in (("first", pair.first), ("total", pair.total)):
            value, interval, moved = _cells(e)
            row += [value, interval]
            if moved:
                notes.append(f"{i} {kind} {_raw(e)}")
        if exact:
            row += ["" if e.exact is None else f"{e.exact:.{_places(e)}f}" for e in (pair.first, pair.total)]
        rows.append(row)
    return rows, notes


def _pair_rows(s: SensitivityResult, output: str) -> tuple[list[list[str]], list[str]]:
    """The second-order indices of ``output``, by decreasing estimate (none without them)."""
    per = s.second.get(output, {})
    if not per:
        return [], []
    level = f"{s.result.spec.confidence * 100:g}%"
    exact = any(e.exact is not None for e in per.values())
    rows = [["inputs", "second", f"{level} interval"] + (["exact"] if exact else [])]
    notes = []
    ordered = sorted(per.items(), key=lambda item: -item[1].estimate if math.isfinite(item[1].estimate) else 0)
    for (j, k), e in ordered:
        value, interval, moved = _cells(e)
        rows.append(
            [f"{j},{k}", value, interval] + (["" if e.exact is None else f"{e.exact:.{_places(e)}f}"] if exact else [])
        )
        if moved:
            notes.append(f"{j},{k} second {_raw(e)}")
    return rows, notes


def _flags(s: SensitivityResult) -> list[str]:
    """The terms whose shape makes the intervals doubtful (`montecarlo.estimation.diagnostics`)."""
    flagged = [f"{name} ({', '.join(d.flags)})" for name, d in s.result.diagnostics.items() if d.flags]
    if not flagged:
        return []
    return [
        "(!) the shape of some terms makes their intervals doubtful: " + "; ".join(flagged[:6])
        + (f"; {len(flagged) - 6} more" if len(flagged) > 6 else "") + " (more points or replicates help)"
    ]  # fmt: skip


def format_sensitivity(s: SensitivityResult) -> str:
    """The table ``mc sensitivity`` prints: per output, inputs by decreasing total index, with intervals."""
    r = s.result
    lines = [header(s)]
    for o in s.outputs:
        lines.append(f"{o}: variance {_variance(s.variance[o])}")
        rows, notes = _rows(s, o)
        rows = [[printable(c) for c in row] for row in rows]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        pairs, more = _pair_rows(s, o)
        notes += more
        if pairs:
            lines.append("second order, by decreasing index (Saltelli 2002):")
            pairs = [[printable(c) for c in row] for row in pairs]
            widths = [max(len(row[i]) for row in pairs) for i in range(len(pairs[0]))]
            lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in pairs]
        if notes:
            lines.append("* clipped to [0, 1] for display; raw: " + "; ".join(notes))
    lines.append(f"{METHODS}; raw estimates can fall below 0 or above 1")
    if r.spec.sampler != "random":
        reps = r.spec.replicates
        lines.append(f"intervals: Student t on the {reps} replicate means ({reps - 1} degrees of freedom)")
    else:
        lines.append("intervals: delta method on the means of the terms")
    if r.spec.sampler == "random":  # (a quasi-random run's are about its replicate means, not the points)
        lines += _flags(s)
    footer = _footer(r.provenance)
    if footer:
        lines.append(footer.replace("samples/s", "base points/s", 1))
    if r.spec.stop and r.stopping.get("message"):
        lines.append(r.stopping["message"].replace("samples", "base points"))
    return "\n".join(lines)


def html_sensitivity(s: SensitivityResult) -> str:
    """An HTML table for notebooks: one table per output, inputs by decreasing total index."""
    from html import escape

    parts = [f'<div class="montecarlo-sensitivity"><p>{escape(header(s))}</p>']
    for o in s.outputs:
        rows, notes = _rows(s, o)
        cap = f"{o}: variance {_variance(s.variance[o])}"
        parts.append(f"<table><caption>{escape(cap)}</caption><thead><tr>")
        parts.append("".join(f"<th>{escape(h)}</th>" for h in rows[0]) + "</tr></thead><tbody>")
        for row in rows[1:]:
            parts.append("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>")
        parts.append("</tbody></table>")
        pairs, more = _pair_rows(s, o)
        if pairs:
            parts.append("<table><caption>second order</caption><thead><tr>")
            parts.append("".join(f"<th>{escape(h)}</th>" for h in pairs[0]) + "</tr></thead><tbody>")
            parts += ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in pairs[1:]]
            parts.append("</tbody></table>")
        notes += more
        if notes:
            parts.append(f"<p>{escape('* clipped to [0, 1] for display; raw: ' + '; '.join(notes))}</p>")
    parts.append(f"<p>{escape(METHODS)}</p></div>")
    return "".join(parts)


def sensitivity_frame(s: SensitivityResult) -> Any:
    """A `pandas.DataFrame`: one row per output, input and index (``first``, ``total``, ``second`` with ``with``)."""
    from montecarlo.reports.frames import _pandas

    every: list[tuple[str, str, str | None, str, Estimate]]
    every = [(o, i, None, kind, e) for o, per in s.indices.items() for i, pair in per.items()
             for kind, e in (("first", pair.first), ("total", pair.total))]  # fmt: skip
    every += [(o, j, k, "second", e) for o, per in s.second.items() for (j, k), e in per.items()]
    records = [
        {
            "output": o,
            "input": i,
            "with": other,
            "index": kind,
            "estimate": e.estimate,
            "standard_error": e.standard_error,
            "lower": e.interval[0],
            "upper": e.interval[1],
            "clipped": _clip(e.estimate),
            "clipped_lower": _clip(e.interval[0]),
            "clipped_upper": _clip(e.interval[1]),
            "confidence": e.confidence,
            "method": e.method,
            "exact": e.exact,
        }  # fmt: skip
        for o, i, other, kind, e in every
    ]
    return _pandas().DataFrame(records)


def plot_sensitivity(s: SensitivityResult, ax: Any = None, output: str | None = None) -> Any:
    """Bars of the first-order and total indices (clipped to [0, 1]) with their intervals, by decreasing total.

    Exact indices, where the model declares them, are drawn as black
    marks. Returns the matplotlib axes.
    """
    from montecarlo.errors import PlotError

    output = output if output is not None else s.outputs[0]
    if output not in s.indices:
        raise PlotError("output", output, ", ".join(s.outputs), "is not an output of this analysis")
    ax = _new_axes(ax)
    names = s.ranking(output)
    per = s.indices[output]
    width = 0.38
    for k, (kind, colour) in enumerate((("first", "C0"), ("total", "C1"))):
        xs = [j + (k - 0.5) * width for j in range(len(names))]
        ests = [per[i][kind] for i in names]
        ys = [_clip(e.estimate) for e in ests]
        lows = [max(0.0, y - _clip(e.interval[0])) for y, e in zip(ys, ests, strict=True)]
        highs = [max(0.0, _clip(e.interval[1]) - y) for y, e in zip(ys, ests, strict=True)]
        ax.bar(xs, ys, width, color=colour, alpha=0.8, label=f"{kind} order" if kind == "first" else "total")
        ax.errorbar(xs, ys, yerr=[lows, highs], fmt="none", ecolor="black", elinewidth=1.0, capsize=3)
        exact = [(x, e.exact) for x, e in zip(xs, ests, strict=True) if e.exact is not None]
        if exact:
            ax.scatter([x for x, _ in exact], [v for _, v in exact], marker="D", s=22, color="C3", zorder=3,
                       label="exact" if kind == "first" else None)  # fmt: skip
    level = f"{s.result.spec.confidence * 100:g}%"
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel(f"Sobol' index ({level} interval)")
    ax.set_title(f"{s.result.model}: {output}, {s.samples:,} base points", fontsize="medium")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def save_sensitivity(s: SensitivityResult, path: str | os.PathLike, output: str | None = None) -> str:
    """Write the bar plot of ``output`` (default: every output) to ``path`` (.png, .svg or .pdf)."""
    path = check_path(path)
    names = s.outputs if output is None else (output,)
    fig, axes = _figure(len(names))
    for ax, name in zip(axes, names, strict=True):
        plot_sensitivity(s, ax=ax, output=name)
    return _save(fig, path)
