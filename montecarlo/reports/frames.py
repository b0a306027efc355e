"""Results as pandas data frames: one row per estimate (and per point of an experiment).

pandas is an optional dependency (the ``frames`` extra); it is imported only
when a frame is made. `montecarlo.Result.to_frame` and
`montecarlo.records.experiment_result.ExperimentResult.to_frame` delegate here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

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
    """One record per estimate of ``result``.

    Outputs, derived quantities and control variates, then quantiles (kind
    ``quantile``, name ``price q0.99``) and expected shortfalls (kind
    ``shortfall``).
    """
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
    for part in (result.quantiles, result.shortfall):
        for tails in part.values():
            for t in tails:
                out.append(
                    {"name": t.name, "kind": t.kind, "estimate": t.estimate, "standard_error": t.standard_error,
                     "lower": t.interval[0], "upper": t.interval[1], "confidence": t.confidence, "method": t.method,
                     "samples": t.samples, "exact": t.exact, "error_in_se": None}
                )  # fmt: skip
    return out


def result_frame(result: Result) -> Any:
    """A `pandas.DataFrame` of ``result``: one row per estimate, columns ``name``, ``kind`` and `COLUMNS`."""
    return _pandas().DataFrame(rows(result), columns=["name", "kind", *COLUMNS])


def experiment_frame(res: ExperimentResult) -> Any:
    """A `pandas.DataFrame` of an experiment: one row per point and estimate, swept parameters as columns.

    A swept parameter whose name is one of the frame's own columns
    (``point``, ``name``, ``estimate``, ...) is the column ``param_NAME``;
    a point without one of the swept parameters has NaN there.
    """
    from montecarlo.reports.table import swept_names

    own = {"point", "name", "kind", *COLUMNS}
    column = {k: f"param_{k}" if k in own else k for k in swept_names(res)}
    records = []
    for p in res.points:
        swept = {column[k]: v for k, v in p.swept.items()}
        for row in rows(cast("Result", p.result)):
            records.append({"point": p.index, **swept, **row})
    return _pandas().DataFrame(records, columns=["point", *column.values(), "name", "kind", *COLUMNS])
