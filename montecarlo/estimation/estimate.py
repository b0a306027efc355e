"""`Estimate`: one number with its standard error and confidence interval."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Kinds of estimates that are not model outputs (functions of the output means,
#: and the two-stage rule's means of fresh blocks).
ESTIMATOR_KINDS = ("derived", "control-variate", "two-stage")


def jsonable(value: Any) -> Any:
    """``value`` for strict JSON: non-finite floats become None, tuples lists (recursively)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Estimate:
    """One estimate with its standard error and confidence interval.

    Parameters
    ----------
    name : str
        The output's, derived quantity's or control variate's name.
    estimate : float
        The estimate.
    standard_error : float
        Its standard error (NaN when undefined, for example with one sample).
    interval : tuple of float
        ``(low, high)`` at ``confidence``; infinite ends when undefined.
    samples : int
        Samples behind the estimate.
    confidence : float
        Confidence level of ``interval``.
    method : str
        Interval method: ``"t"``, ``"normal"``, ``"wilson"``,
        ``"clopper-pearson"``, ``"delta"`` or ``"control-variate"``.
    kind : str
        ``"mean"`` or ``"probability"`` for a model output, ``"derived"`` for
        a function of output means (delta method), ``"control-variate"``, and
        ``"two-stage"`` for the mean of the two-stage rule's fresh blocks.
    exact : float, optional
        The exact value, where the model knows it.
    details : dict
        How a derived or control-variate estimate was made (inputs and
        gradient; controls, coefficients, variance-reduction factor).
    warnings : tuple of str
        Why the interval may not hold: flags of `montecarlo.estimation.diagnostics`
        (``"heavy-tail"``, ``"kurtosis"``, ``"effective-samples"``).

    Examples
    --------
    >>> e = Estimate("pi", 3.1416, 0.0005, (3.1406, 3.1426), 10**7, 0.95, "wilson", exact=3.14159)
    >>> e.covers(3.14159), round(e.error_in_se, 2)
    (True, 0.02)
    """

    name: str
    estimate: float
    standard_error: float
    interval: tuple[float, float]
    samples: int
    confidence: float
    method: str
    kind: str = "mean"
    exact: float | None = None
    details: dict = field(default_factory=dict, hash=False)
    warnings: tuple[str, ...] = ()

    @property
    def is_output(self) -> bool:
        """True for a model output, False for a derived or control-variate estimate."""
        return self.kind not in ESTIMATOR_KINDS

    @property
    def error_in_se(self) -> float | None:
        """``(estimate - exact) / standard_error``, where the exact value is known."""
        if self.exact is None or not self.standard_error > 0:
            return None
        return (self.estimate - self.exact) / self.standard_error

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the interval (ends included)."""
        return self.interval[0] <= value <= self.interval[1]

    def to_dict(self) -> dict:
        """The JSON form (docs/json.md, "Estimate object")."""
        d = {
            "estimate": jsonable(self.estimate),  # NaN for a derived value at a degenerate point
            "standard_error": jsonable(self.standard_error),
            "interval": [jsonable(self.interval[0]), jsonable(self.interval[1])],
            "samples": self.samples,
            "confidence": self.confidence,
            "interval_method": self.method,
            "kind": self.kind,
        }
        if self.exact is not None:
            d["exact"] = self.exact
            d["error_in_se"] = jsonable(self.error_in_se)
        if self.details:
            d["details"] = jsonable(self.details)
        if self.warnings:
            d["warnings"] = list(self.warnings)
        return d

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> Estimate:
        """The estimate back from its `to_dict` form."""

        def num(x: Any, missing: float) -> float:
            return missing if x is None else float(x)

        lo, hi = d["interval"]
        return cls(
            name=name,
            estimate=num(d["estimate"], math.nan),
            standard_error=num(d["standard_error"], math.nan),
            interval=(num(lo, -math.inf), num(hi, math.inf)),
            samples=int(d["samples"]),
            confidence=float(d["confidence"]),
            method=str(d["interval_method"]),
            kind=str(d.get("kind", "mean")),
            exact=None if d.get("exact") is None else float(d["exact"]),
            details=dict(d.get("details", {})),
            warnings=tuple(str(w) for w in d.get("warnings", ())),
        )
