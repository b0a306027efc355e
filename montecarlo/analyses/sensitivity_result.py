"""`SensitivityResult`: the Sobol' indices of a sensitivity run, read off its ordinary `Result`.

The run of ``"sensitivity(MODEL)"`` is an ordinary run; its derived
estimates are the indices (`montecarlo.analyses.sensitivity_model`). This
record arranges them per model output and input, and writes the ordinary
result's JSON plus a ``"sensitivity"`` section (docs/json.md)::

    "sensitivity": {output: {input: {"first": {...}, "total": {...}}}}

each an estimate object (the raw estimate, its standard error and interval)
with its ``name`` among the result's derived estimates and its values
clipped to [0, 1] (``"clipped"``, ``"clipped_interval"``); with
second-order indices, each input's entry also holds ``"second": {other:
{...}}`` for the inputs after it. The raw values
are the estimates: an index near 0 (or 1) has a raw estimate below 0 (or
above 1) about half the time; clipping is for display only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from montecarlo.analyses.sensitivity_model import Layout
from montecarlo.errors import FileProblem, ResultFormatError, UnknownNameError
from montecarlo.estimation.estimate import Estimate, jsonable
from montecarlo.records.integrity import SealedRecord
from montecarlo.records.result import Result

#: The key of the section a sensitivity result adds to the result's JSON.
SECTION = "sensitivity"


def clip(x: float) -> float:
    """``x`` clipped to [0, 1] (NaN stays NaN)."""
    return x if math.isnan(x) else min(1.0, max(0.0, x))


def clipped(e: Estimate) -> tuple[float, tuple[float, float]]:
    """An index's estimate and interval clipped to [0, 1], for display."""
    return clip(e.estimate), (clip(e.interval[0]), clip(e.interval[1]))


def _entry(e: Estimate) -> dict:
    """One index in the JSON section: its name, its estimate object, and its clipped values."""
    value, (lo, hi) = clipped(e)
    return {"name": e.name, **e.to_dict(), "clipped": jsonable(value), "clipped_interval": [jsonable(lo), jsonable(hi)]}


@dataclass(frozen=True)
class Indices:
    """The first-order and total Sobol' indices of one input for one output (raw `Estimate` records)."""

    first: Estimate
    total: Estimate

    def __getitem__(self, kind: str) -> Estimate:
        """``indices["first"]`` or ``indices["total"]``."""
        if kind not in ("first", "total"):
            raise UnknownNameError("kind", kind, "first or total")
        return self.first if kind == "first" else self.total


@dataclass(frozen=True)
class SensitivityResult(SealedRecord):
    """The Sobol' indices of a model's declared inputs, with intervals, from one ordinary run.

    Attributes
    ----------
    result : Result
        The run of ``"sensitivity(MODEL)"``: its RunSpec, accumulator,
        provenance, and every term and index as estimates.
    layout : Layout
        The model's outputs and inputs, in order.
    indices : dict
        ``indices[output][input]`` -> `Indices` with ``.first`` and
        ``.total`` (`Estimate`), raw: they may fall below 0 or above 1.
    variance : dict
        ``variance[output]``: the estimate of the output's variance ``V``.
    second : dict
        ``second[output][(j, k)]``: the second-order index of inputs ``j``
        and ``k`` (``j`` declared before ``k``), raw; empty unless asked for.
    """

    result: Result
    layout: Layout
    indices: dict[str, dict[str, Indices]] = field(repr=False)
    variance: dict[str, Estimate] = field(repr=False)
    second: dict[str, dict[tuple[str, str], Estimate]] = field(default_factory=dict, repr=False)

    KIND: ClassVar[str] = "sensitivity result"

    @classmethod
    def of(cls, result: Result, layout: Layout) -> SensitivityResult:
        """Arrange ``result``'s derived estimates by ``layout`` (an `UnknownNameError` for a missing one)."""
        indices = {
            o: {i: Indices(result[layout.first(o, i)], result[layout.total(o, i)]) for i in layout.inputs}
            for o in layout.outputs
        }
        variance = {o: result[layout.variance(o)] for o in layout.outputs}
        pairs = layout.pairs()
        second = {o: {p: result[layout.second_order(o, *p)] for p in pairs} for o in layout.outputs} if pairs else {}
        return cls(result, layout, indices, variance, second)

    def with_run(self, result: Result) -> SensitivityResult:
        """The indices of ``result``, a continuation of this record's run (`montecarlo.extend`)."""
        return type(self).of(result, self.layout)

    # -- what the run was -------------------------------------------------
    @property
    def spec(self) -> Any:
        """The run's `RunSpec` (model ``"sensitivity(MODEL)"``)."""
        return self.result.spec

    @property
    def model(self) -> str:
        """The analysed model's reference (``"ishigami"`` for ``"sensitivity(ishigami)"``)."""
        name = self.result.model
        return name[name.index("(") + 1 : -1] if name.endswith(")") and "(" in name else name

    @property
    def samples(self) -> int:
        """Base points of the pick-freeze design."""
        return self.result.samples

    @property
    def evaluations(self) -> int:
        """Model evaluations: base points x (d + 2), or x (2d + 2) with second-order indices."""
        return self.result.samples * self.layout.evaluations

    @property
    def outputs(self) -> tuple[str, ...]:
        """The analysed model's outputs."""
        return self.layout.outputs

    @property
    def inputs(self) -> tuple[str, ...]:
        """The analysed model's inputs, in declaration order."""
        return self.layout.inputs

    def ranking(self, output: str | None = None) -> list[str]:
        """The inputs by decreasing total index of ``output`` (default: the first output)."""
        per = self.indices[output or self.outputs[0]]
        return sorted(self.inputs, key=lambda i: -per[i].total.estimate if math.isfinite(per[i].total.estimate) else 0)

    def max_half_width(self) -> float:
        """The largest interval half-width of any index (what ``tolerance`` bounds)."""
        every = [e for per in self.indices.values() for pair in per.values() for e in (pair.first, pair.total)]
        every += [e for per in self.second.values() for e in per.values()]
        widths = [(e.interval[1] - e.interval[0]) / 2.0 for e in every]
        return max(widths) if widths else math.nan

    # -- JSON ---------------------------------------------------------------
    def section(self) -> dict:
        """The ``"sensitivity"`` section: ``{output: {input: {"first": {...}, "total": {...}}}}``."""
        out: dict[str, dict] = {}
        for o, per in self.indices.items():
            out[o] = {i: {"first": _entry(pair.first), "total": _entry(pair.total)} for i, pair in per.items()}
            for (j, k), e in self.second.get(o, {}).items():
                out[o][j].setdefault("second", {})[k] = _entry(e)
        return out

    def to_dict(self) -> dict:
        """The result's JSON form plus the ``"sensitivity"`` section (docs/json.md)."""
        return {**self.result.to_dict(), SECTION: self.section()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SensitivityResult:
        """The sensitivity result back from its `to_dict` form (a `ResultFormatError` if it is not one)."""
        result = Result.from_dict(d)
        part = d.get(SECTION)
        try:
            if not isinstance(part, Mapping) or not part:
                raise FileProblem(f'has no "{SECTION}" section of outputs')
            outputs = tuple(str(o) for o in part)
            first = part[outputs[0]]
            if not isinstance(first, Mapping) or not first:
                raise FileProblem(f'has a "{SECTION}" section without inputs')
            second = any(isinstance(e, Mapping) and "second" in e for e in first.values())
            layout = Layout(outputs, tuple(str(i) for i in first), second)
            for o in outputs:
                per = part[o]
                if not isinstance(per, Mapping) or tuple(per) != layout.inputs:
                    raise FileProblem(f'has a "{SECTION}" section whose outputs name other inputs')
                named: list[tuple[str, str, str | None, str]] = [
                    (i, "first", None, layout.first(o, i)) for i in layout.inputs
                ]
                named += [(i, "total", None, layout.total(o, i)) for i in layout.inputs]
                named += [(j, "second", k, layout.second_order(o, j, k)) for j, k in layout.pairs()]
                for i, kind, other, name in named:
                    entry = per[i].get(kind) if isinstance(per[i], Mapping) else None
                    entry = entry.get(other) if other is not None and isinstance(entry, Mapping) else entry
                    if not isinstance(entry, Mapping) or entry.get("name") != name:
                        where = f"{o}.{i}.{kind}" + (f".{other}" if other else "")
                        raise FileProblem(f'has a "{SECTION}" entry {where} that is not the estimate {name}')
            return cls.of(result, layout)
        except (FileProblem, UnknownNameError) as exc:
            raise ResultFormatError(f"not a consistent sensitivity result: it {exc}") from None

    # -- presentation (montecarlo.reports.sensitivity, loaded when asked for) --
    def table(self) -> str:
        """The text table ``mc sensitivity`` prints: inputs by decreasing total index, with intervals."""
        from montecarlo.reports.sensitivity import format_sensitivity

        return format_sensitivity(self)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        o = self.outputs[0]
        parts = ", ".join(
            f"{i}: S={self.indices[o][i].first.estimate:.3g} ST={self.indices[o][i].total.estimate:.3g}"
            for i in self.ranking(o)
        )
        return f"<SensitivityResult {self.result.model}, {self.samples:,} base points, {o}: {parts}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython
        p.text(str(self))

    def _repr_html_(self) -> str:  # notebooks
        from montecarlo.reports.sensitivity import html_sensitivity

        return html_sensitivity(self)

    def to_frame(self) -> Any:
        """A `pandas.DataFrame`, one row per output, input and index (needs the ``frames`` extra).

        Columns: ``output``, ``input``, ``index`` (``first`` or ``total``),
        ``estimate``, ``standard_error``, ``lower``, ``upper`` (raw),
        ``clipped``, ``clipped_lower``, ``clipped_upper``, ``confidence``,
        ``method``, ``exact``.
        """
        from montecarlo.reports.sensitivity import sensitivity_frame

        return sensitivity_frame(self)

    def plot(self, ax: Any = None, output: str | None = None) -> Any:
        """Bar plot of the first-order and total indices with their intervals (matplotlib; the plot extra)."""
        from montecarlo.reports.sensitivity import plot_sensitivity

        return plot_sensitivity(self, ax=ax, output=output)
