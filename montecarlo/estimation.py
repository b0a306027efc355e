"""Estimates from folded moments: outputs, derived quantities and control variates.

Everything here is a function of a run's folded accumulator only (output
means and the covariance matrix of the means), never of per-worker data, so
every estimate inherits the determinism contract: bit-identical for every
worker count and executor.

Outputs
    Student t (or normal) intervals on the standard error; Wilson or
    Clopper-Pearson intervals for probability outputs (`montecarlo.stats`).

Derived quantities
    ``g(mean_1, ..., mean_k)`` with a delta-method standard error
    ``sqrt(grad g' V grad g)``, ``V`` the covariance matrix of the output means
    (e.g. Casella & Berger, *Statistical Inference*, 2nd ed., §5.5.4). The
    gradient is the analytic one when given, else central finite differences
    (see `gradient`).

Control variates
    ``Y - beta' (C - mu_C)`` with the coefficient ``beta`` fitted by least
    squares on the same samples, which is the intercept of the regression of
    ``Y`` on ``C - mu_C``; its standard error and the Student t interval with
    ``n - q - 1`` degrees of freedom are the regression ones (Lavenberg & Welch,
    Management Science 27 (1981) 322-335; Nelson, Operations Research 38 (1990)
    974-992), exact for normal outcomes and asymptotically valid otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from montecarlo.accumulate import Stats
from montecarlo.derived import ControlVariate, Derived
from montecarlo.estimate import Estimate
from montecarlo.model import Model, exact_value
from montecarlo.parameters import call_with_params
from montecarlo.rqmc import on_samples, replicate_outputs
from montecarlo.spec import RunSpec
from montecarlo.stats import interval, normal_quantile, t_quantile

#: Relative step of the central differences: eps**(1/3) balances the O(h**2)
#: truncation error against the O(eps/h) rounding error (Press et al.,
#: *Numerical Recipes*, 3rd ed., §5.7, eq. 5.7.8).
FD_STEP = float(np.finfo(float).eps) ** (1.0 / 3.0)


# --------------------------------------------------------------------------
# estimates of the outputs
# --------------------------------------------------------------------------


def estimates(spec: RunSpec, model: Model, stats: Stats) -> tuple[tuple[Estimate, ...], np.ndarray]:
    """Per-output estimates and the covariance matrix of the (scaled) estimates."""
    if spec.sampler != "random":  # randomized QMC: on the R replicate means (montecarlo.rqmc)
        outs, cov = replicate_outputs(spec, model, stats)
        return outs + on_samples(spec, model_estimators(spec, model, outs, cov, spec.replicates), stats.count), cov
    moments = stats.moments
    n = moments.count
    se = moments.standard_error() if n >= 2 else np.full(len(model.outputs), np.nan)
    scale = np.array([o.scale for o in model.outputs])
    cov = moments.mean_covariance() * np.outer(scale, scale)
    try:
        exact = model.exact_values(spec.params)
    except Exception:  # an exact formula outside its domain: report without it
        exact = {}
    out = []
    for i, o in enumerate(model.outputs):
        method = spec.interval
        if method == "auto" or (method in ("wilson", "clopper-pearson") and o.kind != "probability"):
            method = "wilson" if o.kind == "probability" else "t"
        lo, hi = interval(method, float(moments.mean[i]), float(se[i]), n, spec.confidence)
        lo, hi = sorted((o.scale * lo, o.scale * hi))
        out.append(
            Estimate(
                name=o.name,
                estimate=float(o.scale * moments.mean[i]),
                standard_error=float(abs(o.scale) * se[i]),
                interval=(float(lo), float(hi)),
                samples=n,
                confidence=spec.confidence,
                method=method,
                kind=o.kind,
                exact=exact.get(o.name),
            )
        )
    return tuple(out) + model_estimators(spec, model, tuple(out), cov), cov


def model_estimators(
    spec: RunSpec, model: Model, outputs: Sequence[Estimate], cov: np.ndarray, n: int | None = None
) -> tuple[Estimate, ...]:
    """The derived and control-variate estimates a model declares, from its output estimates.

    Functions of the folded means and covariance only: bit-identical for
    every executor and worker count. ``n`` is the number of independent
    observations behind ``cov`` (default: the outputs' samples).
    """
    names = [e.name for e in outputs]
    means = np.array([e.estimate for e in outputs])
    if n is None:
        n = outputs[0].samples if outputs else 0
    p, conf, how = spec.params, spec.confidence, spec.interval
    out = [derived_estimate(d, names, means, cov, n, params=p, confidence=conf, interval=how) for d in model.derived]
    exact = {e.name: e.exact for e in outputs}
    out += [
        control_estimate(c, names, means, cov, n, params=p, confidence=conf, exact=exact, interval=how)
        for c in model.controls
    ]
    return tuple(out)


# --------------------------------------------------------------------------
# numerics
# --------------------------------------------------------------------------


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
            raise ValueError(
                f"`gradient` returned {g.size} partial derivatives; expected {means.size} (one per input)."
            )
        method = "analytic"
    else:
        g = gradient(func, means, np.sqrt(np.abs(np.diag(cov))), params)
        method = "central-difference"
    with np.errstate(all="ignore"):
        var = float(g @ cov @ g)
    se = math.sqrt(var) if var >= 0 else math.nan
    return value, se, g, method


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
    try:
        beta = np.linalg.solve(v_cc, v_cy)
        w = np.linalg.solve(v_cc, d)
    except np.linalg.LinAlgError:  # a constant or collinear control: nothing to fit
        return out
    residual = max(v_yy - float(v_cy @ beta), 0.0)
    var = (n - 1) / df * residual * (1.0 + float(d @ w) / (n - 1))
    out.update(
        estimate=float(means[target] - beta @ d),
        standard_error=math.sqrt(var),
        coefficients=[float(b) for b in beta],
        variance_reduction=v_yy / var if var > 0 else math.inf,
    )
    return out


# --------------------------------------------------------------------------
# estimates of derived quantities and control variates
# --------------------------------------------------------------------------


def _half_width(method: str, confidence: float, df: int) -> float:
    if method == "normal":
        return normal_quantile(confidence)
    return t_quantile(confidence, df) if df >= 1 else math.inf


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
        raise KeyError(f"derived quantity {d.name!r}: `inputs` {missing} are not outputs; outputs: {', '.join(names)}.")
    idx = [names.index(i) for i in inputs]
    sub = cov[np.ix_(idx, idx)]
    value, se, g, how = delta_method(d.func, means[idx], sub, grad=d.gradient, params=params)
    h = _half_width(interval, confidence, n - 1) * se
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
            raise KeyError(f"control variate {c.name!r}: `{role}` {i!r} is not an output; outputs: {', '.join(names)}.")
    if c.means is None:
        unknown = [x for x in c.controls if exact.get(x) is None]
        if unknown:
            raise ValueError(
                f"control variate {c.name!r}: the mean of control(s) {unknown} is not known; "
                "give `means` (one known mean per control)."
            )
        mu = [float(exact[x]) for x in c.controls]  # type: ignore[arg-type]  # checked just above
    else:
        mu = list(call_with_params(c.means, [], params) if callable(c.means) else c.means)
        if len(mu) != len(c.controls) or not all(isinstance(m, (int, float)) and math.isfinite(m) for m in mu):
            raise ValueError(
                f"control variate {c.name!r}: `means` = {mu!r}; expected {len(c.controls)} finite number(s), "
                "one per control."
            )
    fit = control_variate_fit(n, means, cov, names.index(c.target), [names.index(x) for x in c.controls], mu)
    value, se = fit["estimate"], fit["standard_error"]
    h = _half_width(interval, confidence, fit["df"]) * se
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
