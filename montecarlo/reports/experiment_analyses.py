"""An experiment of an analysis shown: each point as its analysis's own table, HTML and frame.

An experiment file with ``analysis = "sensitivity"`` records each point as
the run of ``"sensitivity(MODEL)"`` and the result's ``analysis`` entry
says how to read it back (`point_analysis`: a `SensitivityResult`); one with
``analysis = "mlmc"`` records each point as its `MLMCResult`. The table of
such an experiment is one block per point: the point's swept values, then
the table ``mc sensitivity`` or ``mc mlmc`` prints, then its checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from montecarlo.analyses.sensitivity_model import Layout
from montecarlo.analyses.sensitivity_result import SensitivityResult
from montecarlo.estimation.estimate import Estimate
from montecarlo.records.mlmc_result import MLMCResult
from montecarlo.records.result import Result
from montecarlo.reports.text import printable

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.records.experiment_result import ExperimentResult, PointResult

#: The name of a multilevel estimate in ``[expect]``, checks and tables.
MLMC_ESTIMATE = "value"


def mlmc_estimate(r: MLMCResult) -> Estimate:
    """The estimate of a multilevel result as an `Estimate` named `MLMC_ESTIMATE` (its interval: statistical error)."""
    n = sum(r.samples)
    return Estimate(MLMC_ESTIMATE, r.estimate, r.standard_error, r.interval, n, r.spec.confidence, "normal",
                    exact=r.exact)  # fmt: skip


def point_analysis(res: ExperimentResult, point: PointResult) -> SensitivityResult | MLMCResult | Result:
    """A point's result as its analysis's record: a `SensitivityResult`, an `MLMCResult`, or the plain `Result`."""
    analysis = res.analysis or {}
    if analysis.get("name") == "sensitivity" and isinstance(point.result, Result):
        layout = Layout(tuple(analysis["outputs"]), tuple(analysis["inputs"]), bool(analysis.get("second_order")))
        return SensitivityResult.of(point.result, layout)
    return point.result


def estimates(res: ExperimentResult, point: PointResult) -> list[Estimate]:
    """The estimates a point reports: an analysis's indices and variances, a multilevel estimate, or every estimate."""
    r = point.result
    if isinstance(r, MLMCResult):
        return [mlmc_estimate(r)]
    if res.analysis is not None:  # a sensitivity run: its derived estimates are the indices (not its raw terms)
        return list(r.derived)
    return list(r.estimates)


def _title(res: ExperimentResult, point: PointResult) -> str:
    swept = ", ".join(f"{printable(k)}={v!r}" for k, v in point.swept.items())
    return f"-- point {point.index}" + (f" ({swept})" if swept else "") + " --"


def check_lines(point: PointResult) -> list[str]:
    """The checks of a point: one line when all pass, else one per miss."""
    from montecarlo.reports.table import check_line

    if not point.checks:
        return []
    missed = [c for c in point.checks if not c["passed"]]
    if len(point.checks) > 1 and not missed:
        sources = sorted({c["source"] for c in point.checks})
        return [f"  expect: all {len(point.checks)} values ({', '.join(sources)}) within their intervals: ok"]
    return [f"  {check_line(c)}" for c in (missed or point.checks)]


def format_analyses(res: ExperimentResult) -> str:
    """The table of an experiment of an analysis: the analysis's table per point, with the point's checks."""
    head = printable(f"== {res.name} ({res.config.get('path', '?')}) ==")
    if res.description:
        head += "\n" + printable(res.description, keep="\n")
    lines = [head]
    single = len(res.points) == 1 and not res.points[0].swept
    if not single:
        sweep = res.sweep or {}
        crn = ", common random numbers" if sweep.get("common_random_numbers") else ""
        name = (res.analysis or {}).get("name", "")
        lines.append(printable(f"{res.model}: {name} at {len(res.points)} points ({sweep.get('mode', '')} sweep{crn})"))
    for p in res.points:
        if not single:
            lines.append(printable(_title(res, p)))
        lines.append(point_analysis(res, p).table())
        lines += [printable(line) for line in check_lines(p)]
    if not single:
        prov = res.provenance
        lines.append(
            printable(
                f"{prov.get('elapsed_s', 0.0):.2f} s in all, {prov.get('workers', '?')} worker(s) "
                f"({prov.get('executor', '?')})"
            )  # fmt: skip
        )
    reused = res.provenance.get("reused")
    if reused is not None:
        lines.append(printable(f"{reused} of {len(res.points)} points reused from the cache"))
    return "\n".join(lines)


def html_analyses(res: ExperimentResult) -> str:
    """HTML for notebooks: each point's analysis table under its swept values."""
    from html import escape

    caption = escape(f"{res.name}: {res.description}" if res.description else res.name)
    parts = [f'<div class="montecarlo-experiment"><p>{caption}</p>']
    for p in res.points:
        if p.swept:
            parts.append(f"<p>{escape(_title(res, p))}</p>")
        parts.append(point_analysis(res, p)._repr_html_())
    return "".join(parts) + "</div>"


def analyses_frame(res: ExperimentResult) -> Any:
    """A `pandas.DataFrame`: each point's analysis frame (`SensitivityResult.to_frame`, `MLMCResult.to_frame`).

    Rows are tagged with the point's index and swept values (as
    ``param_NAME`` where a name is one of the frame's own columns).
    """
    from montecarlo.reports.frames import _pandas

    pd = _pandas()
    frames = []
    for p in res.points:
        frame = point_analysis(res, p).to_frame()
        own = set(frame.columns) | {"point"}
        for k, v in reversed(list(p.swept.items())):
            frame.insert(0, f"param_{k}" if k in own else k, v)
        frame.insert(0, "point", p.index)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
