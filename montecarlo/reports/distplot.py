"""Plots of an output's distribution: histogram, and the empirical distribution function with its band.

Both are drawn from `Result.histogram` and `Result.ecdf` (`montecarlo.estimation.distribution`),
so they need a result that kept its distribution (``--distribution``,
``--quantile`` or ``--shortfall``). Requested quantiles are marked with their
intervals. matplotlib is imported only when a plot is drawn, as in
`montecarlo.reports.plot`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from montecarlo.reports.plot import _figure, _new_axes, _save, check_path

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.records.result import Result


def plot_histogram(result: Result, ax: Any = None, output: str | None = None, bins: int = 60) -> Any:
    """The histogram of ``output`` (default: the first) as a density, with its quantiles marked."""
    h = result.histogram(output, bins)
    ax = _new_axes(ax)
    width = np.diff(h.edges)
    ax.stairs(h.density, h.edges, fill=True, color="C0", alpha=0.6, label=f"{h.samples:,} samples")
    ax.set_ylabel("density")
    _mark_quantiles(ax, result, h.output)
    ax.set_xlabel(h.output)
    ax.set_title(f"{result.model}: {h.output}, {len(width)} bins of whole buckets", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_ecdf(result: Result, ax: Any = None, output: str | None = None) -> Any:
    """The empirical distribution function of ``output`` with its DKW band, quantiles marked."""
    e = result.ecdf(output)
    ax = _new_axes(ax)
    # F_n is exact at each range's low (just below) and high; draw the step through them.
    x = np.column_stack([e.low, e.high]).ravel()
    y = np.column_stack([e.before, e.value]).ravel()
    band = f"{e.confidence * 100:g}% band (DKW, ±{e.epsilon:.2g})"
    ax.fill_between(x, np.clip(y - e.epsilon, 0, 1), np.clip(y + e.epsilon, 0, 1), color="C0", alpha=0.2,
                    linewidth=0, label=band)  # fmt: skip
    ax.plot(x, y, color="C0", linewidth=1.2, label="empirical distribution function")
    _mark_quantiles(ax, result, e.output)
    ax.set_xlabel(e.output)
    ax.set_ylabel("F(x)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{result.model}: {e.output}, {e.samples:,} samples", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def _mark_quantiles(ax: Any, result: Result, name: str) -> None:
    for i, t in enumerate(result.quantiles.get(name, [])):
        ax.axvline(t.estimate, color="C3", linestyle="--", linewidth=1.0, label=f"q{t.q:g} {t.estimate:.4g}")
        lo, hi = (max(t.interval[0], ax.get_xlim()[0]), min(t.interval[1], ax.get_xlim()[1]))
        ax.axvspan(lo, hi, color="C3", alpha=0.12, linewidth=0, label="quantile intervals" if i == 0 else None)


def save_distribution(result: Result, path: str | os.PathLike, output: str | None = None) -> str:
    """Write the histogram and ECDF of ``output`` (default: every model output) to ``path``."""
    path = check_path(path)
    names = result.outputs if output is None else (output,)
    for name in names:
        result.ecdf(name)  # a bad name, or no distribution, fails before a figure is made
    fig, axes = _figure(2 * len(names))
    for k, name in enumerate(names):
        plot_histogram(result, ax=axes[2 * k], output=name)
        plot_ecdf(result, ax=axes[2 * k + 1], output=name)
    return _save(fig, path)
