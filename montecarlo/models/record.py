"""Model records and the ``@model`` decorator.

A model is a plain function ``simulate(rng, n, **params) -> ndarray`` returning
per-sample outcomes of shape ``(n,)`` or ``(n, k)``. The `Model` record adds
what the engine and the command line need to know about it: a name, output
names and kinds, parameter defaults and types (read from the signature), a
description (from the docstring), an optional exact reference value,
preferred block and batch sizes, the derived quantities and control
variates it reports, and optionally a uniform form for quasi-random points
(a dimension ``d`` and ``uniform(u, **params)`` taking points ``u`` of shape
``(n, d)`` in [0, 1)^d). `montecarlo.models.registry.load_model` resolves what a user
names (a registered name, a reference, a function) into a record.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from montecarlo.core.validate import closest, unknown_keywords
from montecarlo.errors import ParameterError
from montecarlo.models.derived import ControlVariate, Derived
from montecarlo.models.parameters import Param, call_with_params, signature_params

OUTPUT_KINDS = ("mean", "probability")

#: Default samples per block and per model call when a model does not say.
DEFAULT_BLOCK_SIZE = 1 << 16
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
            raise ValueError(f"output name must be an identifier, got {self.name!r}")
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"output {self.name!r}: kind must be one of {OUTPUT_KINDS}, got {self.kind!r}")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale != 0):
            raise ValueError(f"output {self.name!r}: scale must be a finite non-zero number, got {self.scale!r}")


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
        value = call_with_params(self.exact, (), params)  # passes the parameters its signature names
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return {k: float(v) for k, v in value.items() if v is not None}
        if isinstance(value, Sequence):
            return {o.name: float(v) for o, v in zip(self.outputs, value, strict=False) if v is not None}
        return {self.outputs[0].name: float(value)}

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


# --------------------------------------------------------------------------
# building records
# --------------------------------------------------------------------------


def _outputs(spec: Any) -> tuple[Output, ...]:
    if spec is None:
        return (Output("value"),)
    if isinstance(spec, (str, Output)):
        spec = [spec]
    outs = tuple(o if isinstance(o, Output) else Output(str(o)) for o in spec)
    names = [o.name for o in outs]
    if not outs or len(set(names)) != len(names):
        raise ValueError(f"outputs must be distinct names, got {names}")
    return outs


def _estimators(outs: tuple[Output, ...], derived: Any, controls: Any) -> tuple[tuple, tuple]:
    """Check declared derived quantities and control variates against the outputs."""
    derived = tuple(derived or ())
    controls = tuple(controls or ())
    outputs = [o.name for o in outs]
    names = list(outputs)
    for d in derived:
        if not isinstance(d, Derived):
            raise TypeError(f"`derived` must hold montecarlo.models.derived.Derived records, got {d!r}")
        for i in d.inputs or ():
            if i not in outputs:
                raise ValueError(f"derived quantity {d.name!r}: input {i!r} is not an output; outputs: {outputs}")
        names.append(d.name)
    for c in controls:
        if not isinstance(c, ControlVariate):
            raise TypeError(f"`controls` must hold montecarlo.models.derived.ControlVariate records, got {c!r}")
        for i in (c.target, *c.controls):
            if i not in outputs:
                raise ValueError(f"control variate {c.name!r}: {i!r} is not an output; outputs: {outputs}")
        names.append(c.name)
    if len(set(names)) != len(names):
        raise ValueError(f"output, derived and control-variate names must be distinct, got {names}")
    return derived, controls


def reference_of(func: Callable[..., Any]) -> str | None:
    """``"module:qualname"`` when the function can be imported back by that name."""
    mod = getattr(func, "__module__", None)
    qual = getattr(func, "__qualname__", "")
    if not mod or mod == "__main__" or "<" in qual:
        return None
    return f"{mod}:{qual}"


def make_model(
    func: Callable[..., Any],
    *,
    name: str | None = None,
    outputs: Any = None,
    exact: Callable[..., Any] | None = None,
    block_size: int | None = None,
    batch_size: int | None = None,
    ranges: Mapping[str, tuple] | None = None,
    description: str | None = None,
    reference: str | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
    derived: Sequence[Derived] | None = None,
    controls: Sequence[ControlVariate] | None = None,
    check: Callable[..., None] | None = None,
    dimension: int | Callable[..., Any] | None = None,
    uniform: Callable[..., Any] | None = None,
) -> Model:
    """Build a `Model` record around ``func`` (see `model` for the arguments)."""
    if not callable(func):
        raise TypeError(f"a model must be callable, got {func!r}")
    doc = inspect.getdoc(func) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    for arg, v in (("block_size", block_size), ("batch_size", batch_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValueError(f"`{arg}` must be a positive integer, got {v!r}")
    if check is not None and not callable(check):
        raise TypeError(f"`check` must be callable as check(**params), got {check!r}")
    if (uniform is None) != (dimension is None) or (uniform is not None and not callable(uniform)):
        raise TypeError("`uniform` (callable as uniform(u, **params)) and `dimension` go together")
    if not (dimension is None or callable(dimension) or (type(dimension) is int and dimension >= 1)):
        raise ValueError(f"`dimension` must be an integer >= 1 or a function of the parameters, got {dimension!r}")
    outs = _outputs(outputs)
    derived, controls = _estimators(outs, derived, controls)
    return Model(
        name=name or str(getattr(func, "__name__", "model")),
        simulate=func,
        outputs=outs,
        params=signature_params(func, ranges, choices),
        description=description if description is not None else first,
        doc=doc,
        exact=exact,
        block_size=block_size or DEFAULT_BLOCK_SIZE,
        batch_size=batch_size or min(block_size or DEFAULT_BATCH_SIZE, DEFAULT_BATCH_SIZE),
        reference=reference or reference_of(func),
        derived=derived,
        controls=controls,
        check=check,
        dimension=dimension,
        uniform=uniform,
    )


#: The keywords of `model` (checked by hand: it takes ``**kwargs`` to suggest the right one).
MODEL_KEYWORDS = (
    "name",
    "outputs",
    "exact",
    "block_size",
    "batch_size",
    "ranges",
    "description",
    "choices",
    "derived",
    "controls",
    "check",
    "dimension",
    "uniform",
)


def model(func: Callable[..., Any] | None = None, **options: Any) -> Any:
    """Declare a simulation function as a montecarlo model.

    The function keeps working as a plain function; the record is attached as
    ``func.__montecarlo_model__``.

    Parameters
    ----------
    func : callable, optional
        ``simulate(rng, n, **params)`` (when the decorator is used without
        arguments).
    name : str, optional
        Defaults to the function name.
    outputs : str, Output or sequence of them, optional
        Output names (and kinds) in the column order the function returns;
        defaults to a single output ``"value"``.
    exact : callable, optional
        ``exact(**params)`` returns the exact expected value: a float for the
        first output, a sequence aligned with ``outputs`` or a dict by name.
        It receives the parameters its signature names (all of them if it
        takes ``**params``).
    block_size, batch_size : int, optional
        Samples per seeded block, and per call of the function inside a block.
    ranges : dict, optional
        ``{param: (low, high)}`` inclusive bounds (``None`` for no bound), or
        ``(low, high, bounds)`` with ``bounds`` one of ``"[]"``, ``"()"``,
        ``"(]"``, ``"[)"`` (``(0, None, "()")``: strictly positive).
    description : str, optional
        One line for ``mc list``; defaults to the docstring's first paragraph.
    choices : dict, optional
        ``{param: ("a", "b")}`` accepted values of ``str`` parameters.
    derived : sequence of `montecarlo.models.derived.Derived`, optional
        Functions of the output means (ratios, products, ...) reported with
        delta-method intervals beside the outputs, in the table and the JSON.
    controls : sequence of `montecarlo.models.derived.ControlVariate`, optional
        Control-variate estimates of an output, reported beside the outputs.
    check : callable, optional
        ``check(**params)`` is called with the validated parameters and raises
        `montecarlo.errors.ParameterError` for combinations that ``ranges``
        cannot express (for example ``start < goal``).
    dimension : int or callable, optional
        With ``uniform``: the number of uniform coordinates one sample takes,
        or ``dimension(**params)`` computing it.
    uniform : callable, optional
        ``uniform(u, **params)``: the same outcomes as ``simulate``, computed
        from points ``u`` of shape ``(n, dimension)`` in [0, 1)^d instead of
        a generator (normals by ``scipy.special.ndtri``). It lets the model
        run on scrambled Sobol' or Halton points (``sampler="sobol"``).

    Returns
    -------
    callable
        ``func`` itself, or a decorator when ``func`` is not given.

    Raises
    ------
    TypeError
        For a keyword the decorator does not know (with the closest one).

    Examples
    --------
    >>> import numpy as np, montecarlo
    >>> @montecarlo.model(outputs=["area"], exact=lambda: 1 / 3)
    ... def parabola(rng, n):
    ...     '''Area under x**2 on [0, 1].'''
    ...     return rng.random(n) ** 2
    >>> montecarlo.run(parabola, samples=10_000, rng=1, execution="serial")["area"].covers(1 / 3)
    True
    >>> montecarlo.model(ouputs=["a", "b"])
    Traceback (most recent call last):
    ...
    TypeError: model() got an unexpected keyword argument `ouputs`. Did you mean `outputs`? Accepted: name, outputs, exact, block_size, batch_size, ranges, description, choices, derived, controls, check, dimension, uniform.
    """
    error = unknown_keywords(options, MODEL_KEYWORDS, "model()")
    if error is not None:
        raise error

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__montecarlo_model__ = make_model(f, **options)  # type: ignore[attr-defined]
        return f

    return wrap if func is None else wrap(func)
