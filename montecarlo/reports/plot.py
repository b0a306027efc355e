"""Plots of results: convergence traces and parameter sweeps (matplotlib).

matplotlib is an optional dependency (``pip install 'montecarlo-engine[plot]'``); it
is imported only when a plot is drawn. Functions that are given ``ax`` draw
on it and return it; without one they make a new figure. `save` and the
``mc plot`` command build figures without pyplot, so they work on machines
with no display and never touch the global pyplot state.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from montecarlo.errors import MatplotlibMissing, PlotError

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.records.result import Result

#: File formats `save` writes, by file extension.
FORMATS = ("png", "svg", "pdf")

INSTALL_HINT = (
    "plotting needs matplotlib, which is not installed; install it with: pip install 'montecarlo-engine[plot]'"
)


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise MatplotlibMissing(INSTALL_HINT) from None
    return matplotlib


def _new_axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    _matplotlib()
    import matplotlib.pyplot as plt  # interactive use: the figure shows in a notebook

    _, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    return ax


def _output_index(result: Result, output: str | None) -> int:
    """Position in ``result.estimates`` (model outputs first, then derived ones)."""
    if output is None:
        return 0
    names = [e.name for e in result.estimates]
    if output not in names:
        raise PlotError("output", output, ", ".join(names), "is not an estimate of this result")
    return names.index(output)


def _num(x: Any) -> float:
    return math.nan if x is None else float(x)


# --------------------------------------------------------------------------
# convergence
# --------------------------------------------------------------------------


def plot_convergence(result: Result, ax: Any = None, output: str | None = None) -> Any:
    """Estimate and its interval band against sample count, on a log axis.

    Draws the trace of ``result`` (``result.trace``), the exact value as a
    horizontal line when the model knows it, and the 1/√n envelope: the final
    interval's half-width ``h`` scaled to ``h·√(N/n)`` around the exact value
    (or the final estimate), which the band should follow.

    Parameters
    ----------
    result : Result
    ax : matplotlib Axes, optional
        Axes to draw on (default: a new figure).
    output : str, optional
        Output to plot (default: the first).

    Returns
    -------
    matplotlib Axes
    """
    if not result.trace:
        raise PlotError("result", result.model, "a result with a convergence trace (run it again)", "has no trace")
    i = _output_index(result, output)
    est = result.estimates[i]
    if i >= len(result.trace[0]["estimate"]):
        raise PlotError("output", est.name, "an estimate the run made", "was added after the run and has no trace")
    ax = _new_axes(ax)
    n = [int(p["samples"]) for p in result.trace]
    y = [_num(p["estimate"][i]) for p in result.trace]
    lo = [_num(p["interval"][i][0]) for p in result.trace]
    hi = [_num(p["interval"][i][1]) for p in result.trace]
    # Points with an infinite interval (fewer than two samples) have no band.
    keep = [k for k in range(len(n)) if math.isfinite(lo[k]) and math.isfinite(hi[k])]
    level = f"{est.confidence * 100:g}%"
    ax.fill_between(
        [n[k] for k in keep],
        [lo[k] for k in keep],
        [hi[k] for k in keep],
        color="C0",
        alpha=0.25,
        linewidth=0,
        label=f"{level} interval ({est.method})",
    )
    ax.plot(n, y, color="C0", marker="." if len(n) < 60 else None, linewidth=1.2, label="estimate")
    centre = est.exact if est.exact is not None else est.estimate
    h = (est.interval[1] - est.interval[0]) / 2.0
    if keep and math.isfinite(h) and h > 0:
        nn = [n[k] for k in keep]
        env = [h * math.sqrt(est.samples / m) for m in nn]
        ax.plot(nn, [centre + e for e in env], color="0.35", linestyle=":", linewidth=1.0, label="1/√n envelope")
        ax.plot(nn, [centre - e for e in env], color="0.35", linestyle=":", linewidth=1.0)
        # Frame the band, not the wide envelope at the first few points.
        span = [v for k in keep for v in (lo[k], hi[k])] + [centre]
        pad = 0.08 * (max(span) - min(span) or abs(centre) or 1.0)
        ax.set_ylim(min(span) - pad, max(span) + pad)
    if est.exact is not None:
        ax.axhline(est.exact, color="C3", linestyle="--", linewidth=1.0, label=f"exact {est.exact:.6g}")
    ax.set_xscale("log")
    ax.set_xlabel("samples")
    ax.set_ylabel(est.name)
    ax.set_title(_convergence_title(result, est.name), fontsize="medium")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def _convergence_title(result: Result, name: str) -> str:
    what = result.model if name == result.model else f"{result.model}: {name}"
    title = f"{what}, {result.samples:,} samples"
    s = result.stopping
    if s.get("rule") and s.get("rule") != "max_samples":
        met = {True: ", target met", False: ", target not met", None: ""}[s.get("target_met")]
        title += f" (stopped by {s['rule']}{met})"
    elif s.get("target_met") is False:
        title += " (cap reached, target not met)"
    return title


# --------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------


def sweep_parameter(results: Sequence[Result]) -> str:
    """The one model parameter that differs between ``results``."""
    keys = sorted({k for r in results for k in r.spec.params})
    varying = [k for k in keys if len({repr(r.spec.params.get(k)) for r in results}) > 1]
    if len(varying) != 1:
        found = ", ".join(varying) if varying else "none"
        raise PlotError(
            "parameter", None, "the name of the swept parameter", f"cannot be told: parameters that differ: {found}"
        )
    return varying[0]


def plot_sweep(
    results: Sequence[Result],
    parameter: str | None = None,
    ax: Any = None,
    output: str | None = None,
) -> Any:
    """Estimates with their intervals as error bars against a swept parameter.

    The exact value is drawn as a curve when the model knows it: evaluated on
    a fine grid when the model can be loaded and the other parameters are the
    same in every result, otherwise through the swept points.

    Parameters
    ----------
    results : sequence of Result
        One result per parameter value, of the same model.
    parameter : str, optional
        The swept model parameter (default: the one that differs).
    ax : matplotlib Axes, optional
    output : str, optional
        Output to plot (default: the first).

    Returns
    -------
    matplotlib Axes
    """
    results = list(results)
    if not results:
        raise PlotError("results", [], "one or more results of the same model", "is empty")
    models = sorted({r.model for r in results})
    if len(models) > 1:
        raise PlotError("results", models, "results of one model", "mix models")
    if parameter is None:
        parameter = sweep_parameter(results)
    for r in results:
        if parameter not in r.spec.params:
            raise PlotError(
                "parameter", parameter, ", ".join(r.spec.params) or "none", f"is not a parameter of model {r.model!r}"
            )
        value = r.spec.params[parameter]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise PlotError("parameter", parameter, "a numeric parameter", f"has the value {value!r}")
    if len(results) > 1 and len({r.spec.params[parameter] for r in results}) == 1:
        raise PlotError(
            "parameter", parameter, "a parameter that differs between the results",
            f"has the same value {results[0].spec.params[parameter]!r} in every result",
        )  # fmt: skip
    i = _output_index(results[0], output)
    rows = sorted(results, key=lambda r: r.spec.params[parameter])
    x = [float(r.spec.params[parameter]) for r in rows]
    ests = [r.estimates[i] for r in rows]
    y = [e.estimate for e in ests]
    below = [max(0.0, e.estimate - e.interval[0]) for e in ests]
    above = [max(0.0, e.interval[1] - e.estimate) for e in ests]
    ax = _new_axes(ax)
    level = f"{ests[0].confidence * 100:g}%"
    curve = _exact_curve(rows, parameter, ests[0].name, x)
    if curve is not None:
        ax.plot(curve[0], curve[1], color="C3", linestyle="--", linewidth=1.0, label="exact", zorder=1)
    ax.errorbar(
        x,
        y,
        yerr=[below, above],
        fmt="o",
        color="C0",
        markersize=4,
        capsize=3,
        label=f"estimate, {level} interval",
        zorder=2,
    )
    ax.set_xlabel(parameter)
    ax.set_ylabel(ests[0].name)
    ax.set_title(f"{rows[0].model}: {ests[0].name} against {parameter}", fontsize="medium")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return ax


def _exact_curve(rows: list, parameter: str, name: str, x: list[float]) -> tuple[list, list] | None:
    """The exact curve: on a fine grid for a built-in model, else through the recorded exact values.

    A model named in a result file is never imported to draw it (reading a
    file runs no code); built-in models are part of this package.
    """
    from montecarlo.models.registry import BUILTIN, load_model

    others = {repr({k: v for k, v in r.spec.params.items() if k != parameter}) for r in rows}
    if len(others) == 1 and len(x) > 1 and rows[0].spec.model in BUILTIN:
        try:
            rec = load_model(rows[0].spec.model)
            base = dict(rows[0].spec.params)
            integer = isinstance(base[parameter], int)
            lo, hi = x[0], x[-1]
            grid = (
                sorted({round(lo + (hi - lo) * k / 200) for k in range(201)})
                if integer
                else [lo + (hi - lo) * k / 200 for k in range(201)]
            )
            ys = [rec.exact_values({**base, parameter: int(g) if integer else g}).get(name) for g in grid]
            if all(v is not None and math.isfinite(v) for v in ys):
                return list(grid), ys
        except Exception:  # an exact formula outside its domain: use the recorded values
            pass
    pts = [(xi, r[name].exact) for xi, r in zip(x, rows, strict=True) if r[name].exact is not None]
    if len(pts) < 1:
        return None
    return [p[0] for p in pts], [p[1] for p in pts]


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------


def check_path(path: str | os.PathLike, name: str = "output") -> str:
    """A plot file name whose extension is one of `FORMATS`."""
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise PlotError(
            name, path, "a file name ending in " + ", ".join("." + f for f in FORMATS), "has no plot file extension"
        )
    return path


def _figure(rows: int) -> tuple[Any, list]:
    _matplotlib()
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(7, 3.6 * rows + 0.6), layout="constrained")
    axes = fig.subplots(rows, 1, squeeze=False)[:, 0]
    return fig, list(axes)


def save_convergence(result: Result, path: str | os.PathLike, output: str | None = None) -> str:
    """Write the convergence plot of ``output`` (default: every model output) to ``path``."""
    path = check_path(path)
    names = result.outputs if output is None else (output,)
    for name in names:
        _output_index(result, name)  # a bad name fails before a figure is made
    fig, axes = _figure(len(names))
    for ax, name in zip(axes, names, strict=True):
        plot_convergence(result, ax=ax, output=name)
    return _save(fig, path)


def save_sweep(
    results: Sequence[Result], path: str | os.PathLike, parameter: str | None = None, output: str | None = None
) -> str:
    """Write the sweep plot of ``results`` to ``path``."""
    path = check_path(path)
    fig, axes = _figure(1)
    plot_sweep(results, parameter, ax=axes[0], output=output)
    return _save(fig, path)


def _save(fig: Any, path: str) -> str:
    # Written as result files are: a failed or interrupted save never leaves half an image.
    from montecarlo.records.files import write_atomic

    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    write_atomic(path, lambda f: fig.savefig(f, dpi=110, format=fmt))
    return path
