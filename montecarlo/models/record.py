"""Model records: `Model` and `Output`.

A model is a plain function ``simulate(rng, n, **params) -> ndarray`` returning
per-sample outcomes of shape ``(n,)`` or ``(n, k)``. The `Model` record adds
what the engine and the command line need to know about it: a name, output
names and kinds, parameter defaults and types (read from the signature), a
description (from the docstring), an optional exact reference value,
preferred block and batch sizes, the derived quantities and control
variates it reports, and optionally a uniform form for quasi-random points
(a dimension ``d`` and ``uniform(u, **params)`` taking points ``u`` of shape
``(n, d)`` in [0, 1)^d). The ``@model`` decorator builds one
(`montecarlo.models.declare`); `montecarlo.models.registry.load_model`
resolves what a user names (a registered name, a reference, a function)
into a record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from montecarlo.core.validate import closest
from montecarlo.errors import ParameterError, ValidationError
from montecarlo.models.derived import ControlVariate, Derived
from montecarlo.models.parameters import Param, call_with_params

if TYPE_CHECKING:  # pragma: no cover - loaded with numpy, only where a model declares inputs
    from montecarlo.models.inputs import Inputs
    from montecarlo.models.levels import Levels

OUTPUT_KINDS = ("mean", "probability")

#: Default samples per block and per model call when a model does not say.
DEFAULT_BLOCK_SIZE = 1 << 18
DEFAULT_BATCH_SIZE = 1 << 14


@dataclass(frozen=True)
class Output:
    """One named output of a model.

    Parameters
    ----------
    name : str
        An identifier.
    kind : {"mean", "probability"}
        A probability output returns 0/1 per sample (bool or 0.0/1.0) and gets
        binomial intervals (Wilson by default, valid at zero hits).
    scale : float
        The reported value is ``scale`` times the mean of the per-sample
        outcomes (the π model reports 4 × the hit rate, with the Wilson
        interval scaled by 4).
    likelihood_ratio : bool
        The outcomes are weighted by a likelihood ratio (importance
        sampling): the run reports their effective sample size
        ``(Σx)² / Σx²`` and flags the estimate when it is small
        (`montecarlo.estimation.diagnostics`).
    """

    name: str
    kind: str = "mean"
    scale: float = 1.0
    likelihood_ratio: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValidationError("outputs", self.name, "names that are Python identifiers")
        if self.kind not in OUTPUT_KINDS:
            raise ValidationError(
                "kind", self.kind, "one of " + ", ".join(OUTPUT_KINDS), f"of output {self.name!r} is not accepted"
            )
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale != 0):
            raise ValidationError(
                "scale", self.scale, "a finite non-zero number", f"of output {self.name!r} is not accepted"
            )


def exact_value(value: Any, params: Mapping[str, Any]) -> float | None:
    """A declared exact value (a number or ``f(**params)``), or None where it is undefined."""
    if value is None:
        return None
    try:
        v = call_with_params(value, (), params) if callable(value) else value
        return None if v is None else float(v)
    except Exception:  # an exact formula outside its domain: report without it
        return None


@dataclass(frozen=True)
class Model:
    """A simulation function with everything the engine needs to know about it.

    Build one with the `model` decorator (or `montecarlo.models.registry.load_model`
    for a plain function); the fields are those of the decorator.
    """

    name: str
    simulate: Callable[..., Any]
    outputs: tuple[Output, ...]
    params: tuple[Param, ...]
    description: str = ""
    doc: str = ""
    exact: Callable[..., Any] | None = None
    block_size: int = DEFAULT_BLOCK_SIZE
    batch_size: int = DEFAULT_BATCH_SIZE
    #: ``"pkg.module:function"`` or a registered name; None when the function
    #: cannot be imported by name (defined in ``__main__`` or a notebook).
    reference: str | None = None
    derived: tuple[Derived, ...] = ()
    controls: tuple[ControlVariate, ...] = ()
    #: ``check(**params)`` raises `ParameterError` for combinations the ranges cannot express.
    check: Callable[..., None] | None = None
    #: The uniform form's dimension: an int, or ``dimension(**params)``; None without a uniform form.
    dimension: int | Callable[..., Any] | None = None
    #: ``uniform(u, **params)``: the outcomes at points ``u`` of shape ``(n, dimension)`` in [0, 1)^d.
    uniform: Callable[..., Any] | None = None
    #: ``exact_quantile(q, **params)``: the exact ``q``-quantile per output (a value, a sequence or a mapping).
    exact_quantile: Callable[..., Any] | None = None
    #: A plain function, not declared with ``@model``: its outputs are as many as the columns it returns
    #: (`montecarlo.models.declare.with_columns`: one ``value``, or ``y0, y1, ...``), seen in the workers.
    undeclared: bool = False
    #: The declared inputs (``@model(inputs=...)``, `montecarlo.models.inputs.Inputs`): their names and
    #: distributions, and ``f(x, **params)`` the forms above are built from; None for a model without them.
    inputs: Inputs | None = None
    #: The declared levels (``@model(levels=Levels(...))``, `montecarlo.models.levels`): the model is a level
    #: model of multilevel Monte Carlo, ``simulate(rng, n, level, **params)``; None for a model without them.
    levels: Levels | None = None

    @property
    def output_names(self) -> tuple[str, ...]:
        """The outputs' names, in column order."""
        return tuple(o.name for o in self.outputs)

    @property
    def estimate_names(self) -> tuple[str, ...]:
        """Outputs, then derived quantities, then control-variate estimates."""
        return self.output_names + tuple(d.name for d in self.derived) + tuple(c.name for c in self.controls)

    @property
    def recorded_name(self) -> str:
        """How a RunSpec names the model: its reference, else ``module:qualname`` (for the record)."""
        if self.reference:
            return self.reference
        fn = self.simulate
        return f"{getattr(fn, '__module__', None) or '__main__'}:{getattr(fn, '__qualname__', self.name)}"

    def param(self, name: str, value: Any = None) -> Param:
        """The parameter called ``name`` (a `ParameterError` with a suggestion if there is none).

        ``value``, the value given for it, is only shown in that error.
        """
        for p in self.params:
            if p.name == name:
                return p
        names = [p.name for p in self.params]
        near = closest(name, names)
        raise ParameterError(
            name,
            value,
            "one of " + ", ".join(names) if names else "none (the model has no parameters)",
            f"is not a parameter of model {self.name!r}" + (f" (did you mean `{near}`?)" if near else ""),
        )

    def bind(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validated parameters with defaults filled in, in signature order."""
        given = dict(params or {})
        for name, value in given.items():
            self.param(name, value)  # raises for unknown names
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in given:
                out[p.name] = p.convert(given[p.name])
            elif p.required:
                raise ParameterError(p.name, None, p.accepted(), f"is required by model {self.name!r}")
            else:
                out[p.name] = p.default
        if self.check is not None:
            self.check(**out)
        return out

    def exact_values(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Exact reference value per output, where the model knows one."""
        if self.exact is None:
            return {}
        return self._per_output(call_with_params(self.exact, (), params))  # the parameters its signature names

    def _per_output(self, value: Any) -> dict[str, float]:
        """A value per output from a function's answer: one value (the first output's), a sequence or a mapping."""
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return {k: float(v) for k, v in value.items() if v is not None}
        if isinstance(value, Sequence):
            return {o.name: float(v) for o, v in zip(self.outputs, value, strict=False) if v is not None}
        return {self.outputs[0].name: float(value)}

    def exact_quantiles(self, q: float, params: Mapping[str, Any]) -> dict[str, float]:
        """Exact ``q``-quantile per output, where the model knows one (none when its formula fails)."""
        if self.exact_quantile is None:
            return {}
        try:
            value = call_with_params(self.exact_quantile, (q,), params)
        except Exception:  # a formula outside its domain: report without it
            return {}
        return self._per_output(value)

    def exact_estimates(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Exact values of the outputs, derived quantities and control-variate estimates."""
        exact = self.exact_values(params)
        for d in self.derived:
            v = exact_value(d.exact, params)
            if v is not None:
                exact[d.name] = v
        for c in self.controls:
            if c.target in exact:
                exact[c.name] = exact[c.target]
        return exact
