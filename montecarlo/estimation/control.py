"""Control variates: ``Y - beta' (C - mu_C)`` with ``beta`` fitted on the same samples.

The coefficient ``beta`` is fitted by least squares, which is the intercept
of the regression of ``Y`` on ``C - mu_C``; its standard error and the
Student t interval with ``n - q - 1`` degrees of freedom are the regression
ones (Lavenberg & Welch, Management Science 27 (1981) 322-335; Nelson,
Operations Research 38 (1990) 974-992), exact for normal outcomes and
asymptotically valid otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from montecarlo.errors import SingularMatrixError, UnknownNameError, ValidationError
from montecarlo.estimation.estimate import Estimate
from montecarlo.estimation.intervals import critical_value
from montecarlo.models.derived import ControlVariate
from montecarlo.models.parameters import call_with_params
from montecarlo.stats.linalg import dot, solve


def control_variate_fit(
    n: int, means: np.ndarray, cov: np.ndarray, target: int, controls: Sequence[int], control_means: Sequence[float]
) -> dict:
    """Control-variate estimate from the means and their covariance matrix ``cov``.

    With ``V = cov`` (covariance of the means, i.e. the co-moment matrix over
    ``n (n - 1)``), ``q`` controls and ``d = mean_C - mu_C``:

    - ``beta = V_CC^-1 V_CY`` (least squares; Lavenberg & Welch 1981);
    - estimate ``mean_Y - beta' d``;
    - variance ``(n-1)/(n-q-1) * (V_YY - V_YC beta) * (1 + d' V_CC^-1 d / (n-1))``,
      the variance of the regression intercept (Nelson 1990, eq. 3);
    - Student t with ``n - q - 1`` degrees of freedom.
    """
    q = len(controls)
    c = list(controls)
    d = means[c] - np.asarray(control_means, dtype=float)
    v_cc = cov[np.ix_(c, c)]
    v_cy = cov[c, target]
    v_yy = float(cov[target, target])
    df = n - q - 1
    out = {
        "estimate": math.nan,
        "standard_error": math.nan,
        "coefficients": [math.nan] * q,
        "df": df,
        "plain_standard_error": math.sqrt(v_yy) if v_yy >= 0 else math.nan,
        "variance_reduction": math.nan,
    }
    if df < 1 or not np.all(np.isfinite(v_cc)):
        return out
    try:  # in the engine's own order (montecarlo.stats.linalg): the same bits on every machine
        beta = solve(v_cc, v_cy)
        w = solve(v_cc, d)
    except SingularMatrixError:  # a constant or collinear control: nothing to fit
        return out
    residual = max(v_yy - dot(v_cy, beta), 0.0)
    var = (n - 1) / df * residual * (1.0 + dot(d, w) / (n - 1))
    out.update(
        estimate=float(means[target] - dot(beta, d)),
        standard_error=math.sqrt(var),
        coefficients=[float(b) for b in beta],
        variance_reduction=v_yy / var if var > 0 else math.inf,
    )
    return out


def control_estimate(
    c: ControlVariate,
    names: Sequence[str],
    means: np.ndarray,
    cov: np.ndarray,
    n: int,
    *,
    params: Mapping[str, Any],
    confidence: float,
    exact: Mapping[str, float | None],
    interval: str = "auto",
) -> Estimate:
    """The `Estimate` of control variate ``c``; ``exact`` maps output names to exact values."""
    names = list(names)
    for role, i in [("target", c.target)] + [("controls", x) for x in c.controls]:
        if i not in names:
            raise UnknownNameError(
                role, i, "one of " + ", ".join(names), f"of control variate {c.name!r} is not an output"
            )
    if c.means is None:
        unknown = [x for x in c.controls if exact.get(x) is None]
        if unknown:
            raise ValidationError(
                "means", None, "one known mean per control", f"of control(s) {unknown} of {c.name!r} are not known"
            )
        mu = [float(exact[x]) for x in c.controls]  # type: ignore[arg-type]  # checked just above
    else:
        mu = list(call_with_params(c.means, [], params) if callable(c.means) else c.means)
        if len(mu) != len(c.controls) or not all(isinstance(m, (int, float)) and math.isfinite(m) for m in mu):
            raise ValidationError("means", mu, f"{len(c.controls)} finite number(s), one per control")
    fit = control_variate_fit(n, means, cov, names.index(c.target), [names.index(x) for x in c.controls], mu)
    value, se = fit["estimate"], fit["standard_error"]
    h = critical_value(interval, confidence, fit["df"]) * se
    ok = math.isfinite(value) and math.isfinite(h)
    return Estimate(
        name=c.name,
        estimate=value,
        standard_error=se,
        interval=(value - h, value + h) if ok else (-math.inf, math.inf),
        samples=n,
        confidence=confidence,
        method="control-variate",
        kind="control-variate",
        exact=exact.get(c.target),
        details={
            "target": c.target,
            "controls": list(c.controls),
            "control_means": [float(m) for m in mu],
            "coefficients": fit["coefficients"],
            "df": fit["df"],
            "plain_standard_error": fit["plain_standard_error"],
            "variance_reduction": fit["variance_reduction"],
        },
    )
