"""Results as pandas data frames: one row per estimate (and per point of an experiment).

pandas is an optional dependency (the ``frames`` extra); it is imported only
when a frame is made. `montecarlo.Result.to_frame` and
`montecarlo.records.experiment_result.ExperimentResult.to_frame` delegate here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.records.experiment_result import ExperimentResult
    from montecarlo.records.result import Result

INSTALL_HINT = (
    "data frames need pandas, which is not installed; install it with: pip install 'montecarlo-engine[frames]'"
)

#: Columns of a result's frame, after the estimate's name and kind.
COLUMNS = (
    "estimate",
    "standard_error",
    "lower",
    "upper",
    "confidence",
    "method",
    "samples",
    "exact",
    "error_in_se",
)


def _pandas() -> Any:
    try:
        import pandas
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return pandas


def rows(result: Result) -> list[dict[str, Any]]:
    """One record per estimate of ``result``: outputs, derived quantities, control variates."""
    out = []
    for e in result.estimates:
        out.append(
            {
                "name": e.name,
                "kind": e.kind,
                "estimate": e.estimate,
                "standard_error": e.standard_error,
                "lower": e.interval[0],
                "upper": e.interval[1],
                "confidence": e.confidence,
                "method": e.method,
                "samples": e.samples,
                "exact": e.exact,
                "error_in_se": e.error_in_se,
            }
        )
    return out


def result_frame(result: Result) -> Any:
    """A `pandas.DataFrame` of ``result``: one row per estimate, columns ``name``, ``kind`` and `COLUMNS`."""
    return _pandas().DataFrame(rows(result), columns=["name", "kind", *COLUMNS])


def experiment_frame(res: ExperimentResult) -> Any:
    """A `pandas.DataFrame` of an experiment: one row per point and estimate, swept parameters as columns."""
    swept = list(res.points[0].swept)
    records = []
    for p in res.points:
        for row in rows(p.result):
            records.append({"point": p.index, **p.swept, **row})
    return _pandas().DataFrame(records, columns=["point", *swept, "name", "kind", *COLUMNS])
