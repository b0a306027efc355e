"""Derived quantities and control variates: what a model (or a user, post hoc) declares.

These records name estimators built from a run's folded moments; the
numerics that compute them live in `montecarlo.estimation.outputs`.

Both are functions of the run's folded accumulator only (output means and the
covariance matrix of the means), never of per-worker data, so they inherit the
determinism contract: bit-identical for every worker count and executor.

Derived quantities
    ``g(mean_1, ..., mean_k)`` with a delta-method standard error
    ``sqrt(grad g' V grad g)``, ``V`` the covariance matrix of the output means
    (e.g. Casella & Berger, *Statistical Inference*, 2nd ed., §5.5.4). The
    gradient is the analytic one when given, else central finite differences
    (see `montecarlo.estimation.delta.gradient`).

Control variates
    ``Y - beta' (C - mu_C)`` with the coefficient ``beta`` fitted by least
    squares on the same samples, which is the intercept of the regression of
    ``Y`` on ``C - mu_C``; its standard error and the Student t interval with
    ``n - q - 1`` degrees of freedom are the regression ones (Lavenberg & Welch,
    Management Science 27 (1981) 322-335; Nelson, Operations Research 38 (1990)
    974-992), exact for normal outcomes and asymptotically valid otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from montecarlo.errors import ValidationError


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
            raise ValidationError("name", self.name, "a Python identifier")
        if not callable(self.func):
            raise ValidationError("func", self.func, "a function func(*means)")
        if self.gradient is not None and not callable(self.gradient):
            raise ValidationError("gradient", self.gradient, "a function gradient(*means)")
        if self.inputs is not None:
            if isinstance(self.inputs, str):
                object.__setattr__(self, "inputs", (self.inputs,))
            object.__setattr__(self, "inputs", tuple(self.inputs))
            if not self.inputs:
                raise ValidationError("inputs", (), "one or more output names", f"of {self.name!r} names no output")


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
            raise ValidationError("name", self.name, "a Python identifier")
        controls = (self.controls,) if isinstance(self.controls, str) else tuple(self.controls)
        object.__setattr__(self, "controls", controls)
        if not controls:
            raise ValidationError("controls", (), "one or more output names", f"of {self.name!r} names no output")
        if self.target in controls:
            raise ValidationError("target", self.target, "an output that is not one of its `controls`")
        if len(set(controls)) != len(controls):
            raise ValidationError("controls", list(controls), "distinct output names")
