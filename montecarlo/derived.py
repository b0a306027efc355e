"""Derived quantities and control variates: estimators built from the folded moments.

Both are functions of the run's folded accumulator only (output means and the
covariance matrix of the means), never of per-worker data, so they inherit the
determinism contract: bit-identical for every worker count and executor.

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

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from montecarlo.stats import normal_quantile, t_quantile

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.result import Estimate

#: Relative step of the central differences: eps**(1/3) balances the O(h**2)
#: truncation error against the O(eps/h) rounding error (Press et al.,
#: *Numerical Recipes*, 3rd ed., §5.7, eq. 5.7.8).
FD_STEP = float(np.finfo(float).eps) ** (1.0 / 3.0)


@dataclass(frozen=True)
class Derived:
    """A function of output means, reported with a delta-method interval.

    Parameters
    ----------
    name : str
        Name of the derived estimate (distinct from the output names).
    func : callable
        ``func(*means, **params)``: the means of ``inputs`` positionally; model
        parameters are passed by keyword when ``func``'s signature names them
        (or takes ``**kwargs``).
    inputs : sequence of str, optional
        Output names whose means ``func`` takes, in order; default: every output.
    gradient : callable, optional
        ``gradient(*means, **params)`` returns the partial derivatives of
        ``func`` with respect to each input. Default: central finite
        differences, step ``h_i = eps**(1/3) * max(|m_i|, se_i)`` (``se_i`` the
        standard error of mean ``i``; ``eps**(1/3)`` when both are 0), rounded
        so that ``m_i + h_i`` is exactly representable.
    exact : float or callable, optional
        The exact value, or ``exact(**params)`` computing it.
    description : str
        One line for ``mc show``.
    """

    name: str
    func: Callable[..., Any]
    inputs: tuple[str, ...] | None = None
    gradient: Callable[..., Any] | None = None
    exact: float | Callable[..., Any] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"`name` = {self.name!r} must be an identifier.")
        if not callable(self.func):
            raise TypeError(f"`func` = {self.func!r} must be callable as func(*means).")
        if self.gradient is not None and not callable(self.gradient):
            raise TypeError(f"`gradient` = {self.gradient!r} must be callable as gradient(*means).")
        if self.inputs is not None:
            if isinstance(self.inputs, str):
                object.__setattr__(self, "inputs", (self.inputs,))
            object.__setattr__(self, "inputs", tuple(self.inputs))
            if not self.inputs:
                raise ValueError(f"`inputs` of {self.name!r} must name at least one output.")


@dataclass(frozen=True)
class ControlVariate:
    """A control-variate estimate of output ``target``.

    Parameters
    ----------
    name : str
        Name of the adjusted estimate (distinct from the output names).
    target : str
        Output whose mean is estimated.
    controls : sequence of str
        Outputs with known means, correlated with ``target``.
    means : sequence of float or callable, optional
        Known means of ``controls`` (a sequence, or ``means(**params)``);
        default: their exact values from the model (or the result).
    description : str
        One line for ``mc show``.
    """

    name: str
    target: str
    controls: tuple[str, ...]
    means: Sequence[float] | Callable[..., Any] | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"`name` = {self.name!r} must be an identifier.")
        controls = (self.controls,) if isinstance(self.controls, str) else tuple(self.controls)
        object.__setattr__(self, "controls", controls)
        if not controls:
            raise ValueError(f"`controls` of {self.name!r} must name at least one output.")
        if self.target in controls:
            raise ValueError(f"`target` = {self.target!r} cannot also be one of its `controls`.")
        if len(set(controls)) != len(controls):
            raise ValueError(f"`controls` = {list(controls)} must be distinct outputs.")


# --------------------------------------------------------------------------
# numerics
# --------------------------------------------------------------------------


def _call(func: Callable[..., Any], args: Sequence[float], params: Mapping[str, Any]) -> Any:
    """``func(*args, **params)`` passing only the parameters its signature names."""
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):  # builtins without a signature
        return func(*args)
    ps = sig.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in ps):
        return func(*args, **params)
    named = {p.name for p in ps if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return func(*args, **{k: v for k, v in params.items() if k in named})


def _value(func: Callable[..., Any], x: np.ndarray, params: Mapping[str, Any]) -> float:
    with np.errstate(all="ignore"):
        try:
            return float(_call(func, [float(v) for v in x], params))
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
                g = np.asarray(_call(grad, [float(v) for v in means], params), dtype=float).reshape(-1)
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
# Estimate records
# --------------------------------------------------------------------------


def _half_width(method: str, confidence: float, df: int) -> float:
    if method == "normal":
        return normal_quantile(confidence)
    return t_quantile(confidence, df) if df >= 1 else math.inf


def _exact(value: Any, params: Mapping[str, Any]) -> float | None:
    if value is None:
        return None
    try:
        v = _call(value, [], params) if callable(value) else value
        return None if v is None else float(v)
    except Exception:  # an exact formula outside its domain: report without it
        return None


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
    from montecarlo.result import Estimate

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
        exact=exact if exact is not None else _exact(d.exact, params),
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
    from montecarlo.result import Estimate

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
        mu = [float(exact[x]) for x in c.controls]
    else:
        mu = list(_call(c.means, [], params) if callable(c.means) else c.means)
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
