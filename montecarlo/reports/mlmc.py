"""A multilevel result as text, HTML, a data frame and Giles' figure.

`montecarlo.records.mlmc_result.MLMCResult` delegates here lazily. The
per-level table has the columns of Giles' ``mlmc_test`` output; the figure
is his: log2 of the variances and of the absolute means of ``P_l`` and of
``P_l - P_{l-1}`` against the level ``l``.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from montecarlo.reports.table import digits, number
from montecarlo.reports.text import printable

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.records.mlmc_result import MLMCResult

#: Columns of the per-level table and frame.
COLUMNS = (
    "level", "samples", "blocks", "block_size", "cost", "mean", "variance", "mean_fine", "variance_fine", "kurtosis",
    "check",
)  # fmt: skip
#: How the text table heads them (Giles' ``mlmc_test`` names).
HEADS = ("l", "N_l", "blocks", "size", "C_l", "ave(Pf-Pc)", "var(Pf-Pc)", "ave(Pf)", "var(Pf)", "kurtosis", "check")


def _g(x: float | None, fmt: str = ".4e") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, fmt)


def level_rows(r: MLMCResult) -> list[list[str]]:
    """The per-level table as text cells, with its heading."""
    rows = [list(HEADS)]
    for lv in r.levels:
        rows.append([
            str(lv.level), f"{lv.samples:,}", str(lv.blocks), str(lv.block_size), f"{lv.cost:g}", _g(lv.mean),
            _g(lv.variance), _g(lv.mean_fine), _g(lv.variance_fine), _g(lv.kurtosis, ".3g"), _g(lv.check, ".3f"),
        ])  # fmt: skip
    return rows


def summary_lines(r: MLMCResult) -> list[str]:
    """The header: what was run, the estimate with its interval, how the run ended, rates and costs."""
    s = r.spec
    d = digits(r.standard_error)
    lo, hi = (number(v, d) for v in r.interval)
    head = (
        f"{r.model}: multilevel Monte Carlo to RMSE {s.rmse:g} (theta {s.theta:g}), levels 0-{r.finest}, "
        f"seed entropy {s.entropy}, {s.bit_generator}"
    )
    est = f"estimate {number(r.estimate, d)}  std error {r.standard_error:.3g}  {s.confidence * 100:g}% interval [{lo}, {hi}]"
    if r.exact is not None:
        z = (r.estimate - r.exact) / r.standard_error if r.standard_error > 0 else math.nan
        est += f"  exact {number(r.exact, d)}  error/se {z:+.2f}"
    return [
        head,
        est,
        r.message,
        f"alpha {r.alpha:.3f}  beta {r.beta:.3f}  gamma {r.gamma:.3f}  (regressed on levels 1-{r.finest})  "
        f"bias estimate {r.bias:.3g}",
        f"cost {r.cost:.4g} {r.unit}; plain Monte Carlo on level {r.finest} at the same RMSE: {r.plain_cost:.4g}; "
        f"savings {r.savings:.1f}x",
    ]


def format_mlmc(r: MLMCResult) -> str:
    """The text ``mc mlmc`` prints: the summary, Giles' per-level table, the warnings and the time taken."""
    rows = level_rows(r)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    lines = summary_lines(r) + [""] + table
    lines += [f"warning: {w}" for w in r.warnings]
    p = r.provenance
    if "elapsed_s" in p:
        again = ", resumed" if p.get("resumed") else ""
        lines.append(
            f"{p['elapsed_s']:.2f} s, {r.rounds} rounds, {p.get('workers', '?')} worker(s) ({p.get('executor', '?')}){again}"
        )
    return "\n".join(printable(line) for line in lines)


def html_mlmc(r: MLMCResult) -> str:
    """An HTML table of ``r`` for notebooks: the summary as its caption, one row per level."""
    from html import escape

    rows = level_rows(r)
    caption = "<br>".join(escape(line) for line in summary_lines(r) + [f"warning: {w}" for w in r.warnings])
    return (
        f'<table class="montecarlo-mlmc"><caption>{caption}</caption><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in rows[0])
        + "</tr></thead><tbody>"
        + "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows[1:])
        + "</tbody></table>"
    )


def mlmc_frame(r: MLMCResult) -> Any:
    """A `pandas.DataFrame` with one row per level and the columns `COLUMNS`."""
    from montecarlo.reports.frames import _pandas

    records = [{c: getattr(lv, c) for c in COLUMNS} for lv in r.levels]
    return _pandas().DataFrame(records, columns=list(COLUMNS))


def _log2(x: float) -> float:
    return math.log2(abs(x)) if x != 0 and math.isfinite(x) else math.nan


def draw(r: MLMCResult, axes: Any) -> Any:
    """Giles' figure on a pair of axes: log2 variances (left) and log2 absolute means (right) against ``l``."""
    left, right = axes
    levels = [lv.level for lv in r.levels]
    fine, diff = r.levels, r.levels[1:]
    for ax, what, key, key_fine in (
        (left, "variance", "variance", "variance_fine"),
        (right, "|mean|", "mean", "mean_fine"),
    ):
        ax.plot(levels, [_log2(getattr(lv, key_fine)) for lv in fine], "--*", color="C0", label="$P_l$")
        ax.plot([lv.level for lv in diff], [_log2(getattr(lv, key)) for lv in diff], "-*", color="C1",
                label="$P_l - P_{l-1}$")  # fmt: skip
        ax.set_xlabel("level $l$")
        ax.set_ylabel(f"$\\log_2$ {what}")
        ax.set_xticks(levels)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize="small")
    left.set_title(f"beta = {r.beta:.2f}", fontsize="medium")
    right.set_title(f"alpha = {r.alpha:.2f}", fontsize="medium")
    return axes


def plot_mlmc(r: MLMCResult, axes: Any = None, output: str | os.PathLike | None = None) -> Any:
    """Draw Giles' figure on ``axes`` (a pair; default: a new figure) and write it to ``output`` when given."""
    from montecarlo.reports.plot import _matplotlib, _save, check_path

    path = check_path(output) if output is not None else None
    if axes is None:
        _matplotlib()
        if path is not None:
            from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

            fig = Figure(figsize=(9, 3.8), layout="constrained")
        else:
            import matplotlib.pyplot as plt  # interactive use: the figure shows in a notebook

            fig = plt.figure(figsize=(9, 3.8), layout="constrained")
        axes = fig.subplots(1, 2)
    draw(r, axes)
    fig = axes[0].figure
    fig.suptitle(f"{r.model}: multilevel Monte Carlo, levels 0-{r.finest}", fontsize="medium")
    if path is not None:
        _save(fig, path)
    return axes
