"""Derived quantities: functions of output means, with delta-method intervals.

``g(mean_1, ..., mean_k)`` with a delta-method standard error
``sqrt(grad g' V grad g)``, ``V`` the covariance matrix of the output means
(e.g. Casella & Berger, *Statistical Inference*, 2nd ed., §5.5.4). The
gradient is the analytic one when given, else central finite differences
(see `gradient`). A function of the run's folded means and covariance only,
so it inherits the determinism contract.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from montecarlo.errors import UnknownNameError, ValidationError
from montecarlo.estimation.estimate import Estimate
from montecarlo.estimation.intervals import critical_value
from montecarlo.models.derived import Derived
from montecarlo.models.parameters import call_with_params
from montecarlo.models.record import exact_value
from montecarlo.stats.linalg import quadratic_form

#: Relative step of the central differences: eps**(1/3) balances the O(h**2)
#: truncation error against the O(eps/h) rounding error (Press et al.,
#: *Numerical Recipes*, 3rd ed., §5.7, eq. 5.7.8).
FD_STEP = float(np.finfo(float).eps) ** (1.0 / 3.0)


def _value(func: Callable[..., Any], x: np.ndarray, params: Mapping[str, Any]) -> float:
    with np.errstate(all="ignore"):
        try:
            return float(call_with_params(func, [float(v) for v in x], params))
        except (ZeroDivisionError, OverflowError, ValueError):
            return math.nan


def gradient(
    func: Callable[..., Any], x: np.ndarray, scale: np.ndarray, params: Mapping[str, Any] | None = None
) -> np.ndarray:
    """Central-difference gradient of ``func`` at ``x``.

    Step ``h_i = FD_STEP * max(|x_i|, scale_i)`` (``FD_STEP`` when both are
    0), then ``h_i = (x_i + h_i) - x_i`` so that the step is exact in floating
    point (Numerical Recipes §5.7). ``scale`` is the standard error of ``x``:
    the distance over which the delta method linearises ``func``.
    """
    params = params or {}
    x = np.asarray(x, dtype=float)
    g = np.empty(x.size)
    for i in range(x.size):
        base = max(abs(x[i]), float(scale[i]) if math.isfinite(scale[i]) else 0.0)
        h = FD_STEP * base if base > 0 else FD_STEP
        up, down = x.copy(), x.copy()
        up[i] = x[i] + h
        down[i] = x[i] - h
        g[i] = (_value(func, up, params) - _value(func, down, params)) / (up[i] - down[i])
    return g


def delta_method(
    func: Callable[..., Any],
    means: np.ndarray,
    cov: np.ndarray,
    *,
    grad: Callable[..., Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> tuple[float, float, np.ndarray, str]:
    """Value, delta-method standard error, gradient and gradient method of ``func(*means)``.

    ``cov`` is the covariance matrix of the means; the variance of the
    derived estimate is ``g' cov g`` with ``g`` the gradient at ``means``.
    """
    params = params or {}
    means = np.asarray(means, dtype=float)
    value = _value(func, means, params)
    if grad is not None:
        with np.errstate(all="ignore"):
            try:
                g = np.asarray(call_with_params(grad, [float(v) for v in means], params), dtype=float).reshape(-1)
            except (ZeroDivisionError, OverflowError):  # e.g. a ratio at a zero mean
                g = np.full(means.size, math.nan)
        if g.size != means.size:
            raise ValidationError(
                "gradient", f"{g.size} partial derivatives", f"{means.size}, one per input", "returned the wrong count"
            )
        method = "analytic"
    else:
        g = gradient(func, means, np.sqrt(np.abs(np.diag(cov))), params)
        method = "central-difference"
    with np.errstate(all="ignore"):
        var = quadratic_form(g, cov)  # in a defined order (montecarlo.stats.linalg)
    se = math.sqrt(var) if var >= 0 else math.nan
    return value, se, g, method


def derived_estimate(
    d: Derived,
    names: Sequence[str],
    means: np.ndarray,
    cov: np.ndarray,
    n: int,
    *,
    params: Mapping[str, Any],
    confidence: float,
    interval: str = "auto",
    exact: float | None = None,
) -> Estimate:
    """The `Estimate` of derived quantity ``d`` from output ``names``' means and covariance."""
    names = list(names)
    inputs = list(d.inputs) if d.inputs is not None else names
    missing = [i for i in inputs if i not in names]
    if missing:
        raise UnknownNameError(
            "inputs", missing[0], "one of " + ", ".join(names), f"of derived quantity {d.name!r} is not an output"
        )
    idx = [names.index(i) for i in inputs]
    sub = cov[np.ix_(idx, idx)]
    value, se, g, how = delta_method(d.func, means[idx], sub, grad=d.gradient, params=params)
    h = critical_value(interval, confidence, n - 1) * se
    ok = math.isfinite(value) and math.isfinite(h)
    return Estimate(
        name=d.name,
        estimate=value,
        standard_error=se,
        interval=(value - h, value + h) if ok else (-math.inf, math.inf),
        samples=n,
        confidence=confidence,
        method="delta" if interval != "normal" else "delta-normal",
        kind="derived",
        exact=exact if exact is not None else exact_value(d.exact, params),
        details={"inputs": inputs, "gradient": [float(x) for x in g], "gradient_method": how},
    )
