"""Model records, the ``@model`` decorator and model references.

A model is a plain function ``simulate(rng, n, **params) -> ndarray`` returning
per-sample outcomes of shape ``(n,)`` or ``(n, k)``. The `Model` record adds
what the engine and the CLI need to know about it: a name, output names and
kinds, parameter defaults and types (read from the signature), a description
(from the docstring), an optional exact reference value and preferred block
and batch sizes.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OUTPUT_KINDS = ("mean", "probability")
PARAM_TYPES = (int, float, bool, str)

#: Default samples per block and per model call when a model does not say.
DEFAULT_BLOCK_SIZE = 1 << 16
DEFAULT_BATCH_SIZE = 1 << 14


class ModelNotFoundError(LookupError):
    """A model name or reference that does not resolve."""


class ParameterError(ValueError):
    """A model parameter that is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Output:
    """One named output of a model.

    Parameters
    ----------
    name : str
    kind : {"mean", "probability"}
        A probability output returns 0/1 per sample (bool or 0.0/1.0) and gets
        binomial intervals (Wilson by default, valid at zero hits).
    scale : float
        The reported value is ``scale`` times the mean of the per-sample
        outcomes (the π model reports 4 × the hit rate, with the Wilson
        interval scaled by 4).
    """

    name: str
    kind: str = "mean"
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"output name must be an identifier, got {self.name!r}")
        if self.kind not in OUTPUT_KINDS:
            raise ValueError(f"output {self.name!r}: kind must be one of {OUTPUT_KINDS}, got {self.kind!r}")
        if not (isinstance(self.scale, (int, float)) and math.isfinite(self.scale) and self.scale != 0):
            raise ValueError(f"output {self.name!r}: scale must be a finite non-zero number, got {self.scale!r}")


@dataclass(frozen=True)
class Param:
    """One model parameter, read from the signature of ``simulate``."""

    name: str
    type: type
    default: Any = inspect.Parameter.empty
    low: float | None = None
    high: float | None = None
    #: Accepted values of a ``str`` parameter (``None``: any string).
    choices: tuple[str, ...] | None = None
    #: Which bounds are included: "[]" (both), "()" (neither), "(]" or "[)".
    bounds: str = "[]"

    @property
    def required(self) -> bool:
        return self.default is inspect.Parameter.empty

    def accepted(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        what = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}[self.type]
        left, right = self.bounds
        if self.low is not None and self.high is not None:
            return f"{what} in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{what} {'>=' if left == '[' else '>'} {self.low}"
        if self.high is not None:
            return f"{what} {'<=' if right == ']' else '<'} {self.high}"
        return what

    def _outside(self, value: Any) -> bool:
        left, right = self.bounds
        below = self.low is not None and (value < self.low if left == "[" else value <= self.low)
        above = self.high is not None and (value > self.high if right == "]" else value >= self.high)
        return below or above

    def convert(self, value: Any) -> Any:
        """Check (and for strings from the CLI or a file, parse) one value."""
        value = _parse(self, value) if isinstance(value, str) and self.type is not str else value
        t = self.type
        ok = (
            (t is bool and isinstance(value, bool))
            or (t is int and isinstance(value, int) and not isinstance(value, bool))
            or (t is float and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (t is str and isinstance(value, str))
        )
        if not ok:
            raise ParameterError(f"parameter `{self.name}` = {value!r}: expected {self.accepted()}.")
        if t is float:
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(f"parameter `{self.name}` = {value!r}: expected a finite number.")
        if self._outside(value):
            raise ParameterError(f"parameter `{self.name}` = {value!r} is out of range: expected {self.accepted()}.")
        if self.choices is not None and value not in self.choices:
            raise ParameterError(f"parameter `{self.name}` = {value!r} is not accepted: expected {self.accepted()}.")
        return value


def _parse(param: Param, text: str) -> Any:
    s = text.strip()
    try:
        if param.type is bool:
            low = s.lower()
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if param.type is int:
            from montecarlo.spec import parse_count_text  # exact: "1e6" and "1_000" are fine

            return parse_count_text(s, allow_negative=True)
        return float(s)
    except ValueError:
        raise ParameterError(f"parameter `{param.name}` = {text!r}: expected {param.accepted()}.") from None


@dataclass(frozen=True)
class Model:
    """A simulation function with everything the engine needs to know about it."""

    name: str
    simulate: Callable[..., Any]
    outputs: tuple[Output, ...]
    params: tuple[Param, ...]
    description: str = ""
    doc: str = ""
    exact: Callable[..., Any] | None = None
    block_size: int = DEFAULT_BLOCK_SIZE
    batch_size: int = DEFAULT_BATCH_SIZE
    reference: str | None = None  # "pkg.module:function" or a registered name
    extra: Mapping[str, Any] = field(default_factory=dict)
    #: Functions of the output means reported beside the outputs (`montecarlo.derived.Derived`).
    derived: tuple = ()
    #: Control-variate estimates reported beside the outputs (`montecarlo.derived.ControlVariate`).
    controls: tuple = ()
    #: ``check(**params)`` raises `ParameterError` for combinations the ranges cannot express.
    check: Callable[..., None] | None = None

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params) or "none"
        hint = difflib.get_close_matches(name, [p.name for p in self.params], n=1)
        did = f" Did you mean `{hint[0]}`?" if hint else ""
        raise ParameterError(f"model {self.name!r} has no parameter `{name}`.{did} Valid parameters: {valid}.")

    def bind(self, params: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validated parameters with defaults filled in, in signature order."""
        given = dict(params or {})
        for name in given:
            self.param(name)  # raises for unknown names
        out: dict[str, Any] = {}
        for p in self.params:
            if p.name in given:
                out[p.name] = p.convert(given[p.name])
            elif p.required:
                raise ParameterError(f"model {self.name!r} needs parameter `{p.name}` ({p.accepted()}).")
            else:
                out[p.name] = p.default
        if self.check is not None:
            self.check(**out)
        return out

    def exact_values(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Exact reference value per output, where the model knows one."""
        if self.exact is None:
            return {}
        from montecarlo.derived import _call

        value = _call(self.exact, (), params)  # passes the parameters its signature names
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return {k: float(v) for k, v in value.items() if v is not None}
        if isinstance(value, Sequence):
            return {o.name: float(v) for o, v in zip(self.outputs, value, strict=False) if v is not None}
        return {self.outputs[0].name: float(value)}

    def exact_estimates(self, params: Mapping[str, Any]) -> dict[str, float]:
        """Exact values of the outputs, derived quantities and control-variate estimates."""
        from montecarlo.derived import _exact

        exact = self.exact_values(params)
        for d in self.derived:
            v = _exact(d.exact, params)
            if v is not None:
                exact[d.name] = v
        for c in self.controls:
            if c.target in exact:
                exact[c.name] = exact[c.target]
        return exact

    @property
    def estimate_names(self) -> tuple[str, ...]:
        """Outputs, then derived quantities, then control-variate estimates."""
        return self.output_names + tuple(d.name for d in self.derived) + tuple(c.name for c in self.controls)


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


def _params(
    func: Callable[..., Any], ranges: Mapping[str, tuple], choices: Mapping[str, Sequence[str]] | None = None
) -> tuple[Param, ...]:
    choices = choices or {}
    sig = inspect.signature(func)
    ps = list(sig.parameters.values())
    if len(ps) < 2 or any(p.kind not in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY) for p in ps[:2]):
        raise TypeError(f"a model must have the signature simulate(rng, n, **params); got {func.__name__}{sig}")
    out = []
    for p in ps[2:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        ann = p.annotation
        if isinstance(ann, str):  # postponed annotations
            ann = {"int": int, "float": float, "bool": bool, "str": str}.get(ann, inspect.Parameter.empty)
        if ann in PARAM_TYPES:
            t = ann
        elif p.default is not p.empty and type(p.default) in PARAM_TYPES:
            t = type(p.default)
        else:
            t = float
        low, high, bounds = _range(p.name, ranges.get(p.name, (None, None)))
        allowed = choices.get(p.name)
        if allowed is not None:
            allowed = tuple(allowed)
            if t is not str or not allowed or not all(isinstance(c, str) for c in allowed):
                raise ValueError(f"choices for parameter {p.name!r} must be non-empty strings of a str parameter")
        out.append(Param(p.name, t, p.default, low, high, allowed, bounds))
    for arg, given in (("ranges", ranges), ("choices", choices)):
        unknown = set(given) - {p.name for p in out}
        if unknown:
            raise ValueError(f"{arg} name unknown parameters: {sorted(unknown)}")
    return tuple(out)


def _range(name: str, spec: Sequence[Any]) -> tuple[Any, Any, str]:
    """``(low, high)`` inclusive, or ``(low, high, bounds)`` with bounds "[]", "()", "(]" or "[)"."""
    spec = tuple(spec)
    bounds = spec[2] if len(spec) == 3 else "[]"
    if len(spec) not in (2, 3) or bounds not in ("[]", "()", "(]", "[)"):
        raise ValueError(
            f"range of parameter {name!r} must be (low, high) or (low, high, '[]'|'()'|'(]'|'[)'), got {spec!r}"
        )
    return spec[0], spec[1], bounds


def _estimators(outs: tuple[Output, ...], derived: Any, controls: Any) -> tuple[tuple, tuple]:
    """Check declared derived quantities and control variates against the outputs."""
    from montecarlo.derived import ControlVariate, Derived

    derived = tuple(derived or ())
    controls = tuple(controls or ())
    names = [o.name for o in outs]
    for d in derived:
        if not isinstance(d, Derived):
            raise TypeError(f"`derived` must hold montecarlo.derived.Derived records, got {d!r}")
        for i in d.inputs or ():
            if i not in names:
                raise ValueError(f"derived quantity {d.name!r}: input {i!r} is not an output; outputs: {names}")
        names.append(d.name)
    for c in controls:
        if not isinstance(c, ControlVariate):
            raise TypeError(f"`controls` must hold montecarlo.derived.ControlVariate records, got {c!r}")
        for i in (c.target, *c.controls):
            if i not in [o.name for o in outs]:
                raise ValueError(
                    f"control variate {c.name!r}: {i!r} is not an output; outputs: {[o.name for o in outs]}"
                )
        names.append(c.name)
    if len(set(names)) != len(names):
        raise ValueError(f"output, derived and control-variate names must be distinct, got {names}")
    return derived, controls


def _describe(func: Callable[..., Any]) -> tuple[str, str]:
    doc = inspect.getdoc(func) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return first, doc


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
    derived: Sequence[Any] | None = None,
    controls: Sequence[Any] | None = None,
    check: Callable[..., None] | None = None,
    **extra: Any,
) -> Model:
    """Build a `Model` record around ``func`` (see `model` for the arguments)."""
    if not callable(func):
        raise TypeError(f"a model must be callable, got {func!r}")
    first, doc = _describe(func)
    for arg, v in (("block_size", block_size), ("batch_size", batch_size)):
        if v is not None and (not isinstance(v, int) or v < 1):
            raise ValueError(f"`{arg}` must be a positive integer, got {v!r}")
    if check is not None and not callable(check):
        raise TypeError(f"`check` must be callable as check(**params), got {check!r}")
    outs = _outputs(outputs)
    derived, controls = _estimators(outs, derived, controls)
    return Model(
        name=name or getattr(func, "__name__", "model"),
        simulate=func,
        outputs=outs,
        params=_params(func, ranges or {}, choices),
        description=description if description is not None else first,
        doc=doc,
        exact=exact,
        block_size=block_size or DEFAULT_BLOCK_SIZE,
        batch_size=batch_size or min(block_size or DEFAULT_BATCH_SIZE, DEFAULT_BATCH_SIZE),
        reference=reference or _reference_of(func),
        extra=extra,
        derived=derived,
        controls=controls,
        check=check,
    )


def model(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    outputs: Any = None,
    exact: Callable[..., Any] | None = None,
    block_size: int | None = None,
    batch_size: int | None = None,
    ranges: Mapping[str, tuple] | None = None,
    description: str | None = None,
    choices: Mapping[str, Sequence[str]] | None = None,
    derived: Sequence[Any] | None = None,
    controls: Sequence[Any] | None = None,
    check: Callable[..., None] | None = None,
    **extra: Any,
):
    """Declare a simulation function as a montecarlo model.

    The function keeps working as a plain function; the record is attached as
    ``func.__montecarlo_model__``.

    Parameters
    ----------
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
    derived : sequence of `montecarlo.derived.Derived`, optional
        Functions of the output means (ratios, products, ...) reported with
        delta-method intervals beside the outputs, in the table and the JSON.
    controls : sequence of `montecarlo.derived.ControlVariate`, optional
        Control-variate estimates of an output, reported beside the outputs.
    check : callable, optional
        ``check(**params)`` is called with the validated parameters and raises
        `ParameterError` for combinations that ``ranges`` cannot express
        (for example ``start < target``).

    Examples
    --------
    >>> import numpy as np, montecarlo
    >>> @montecarlo.model(outputs=["area"], exact=lambda: 1 / 3)
    ... def parabola(rng, n):
    ...     '''Area under x**2 on [0, 1].'''
    ...     return rng.random(n) ** 2
    >>> round(montecarlo.run(parabola, samples=10_000, rng=1, workers=1).estimate, 2)
    0.33
    """

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__montecarlo_model__ = make_model(  # type: ignore[attr-defined]
            f,
            name=name,
            outputs=outputs,
            exact=exact,
            block_size=block_size,
            batch_size=batch_size,
            ranges=ranges,
            description=description,
            choices=choices,
            derived=derived,
            controls=controls,
            check=check,
            **extra,
        )
        return f

    return wrap if func is None else wrap(func)


def _reference_of(func: Callable[..., Any]) -> str | None:
    """``"module:qualname"`` when the function can be imported back by that name."""
    mod = getattr(func, "__module__", None)
    qual = getattr(func, "__qualname__", "")
    if not mod or mod == "__main__" or "<" in qual:
        return None
    return f"{mod}:{qual}"


# --------------------------------------------------------------------------
# resolving what a user names
# --------------------------------------------------------------------------


def load_model(obj: Any) -> Model:
    """Resolve a registered name, a ``"package.module:function"`` reference, a
    (decorated or plain) function or a `Model` into a `Model`."""
    if isinstance(obj, Model):
        return obj
    if isinstance(obj, str):
        return _load_reference(obj)
    if callable(obj):
        rec = getattr(obj, "__montecarlo_model__", None)
        return rec if isinstance(rec, Model) else make_model(obj)
    raise TypeError(
        f"`model` must be a model name, a 'package.module:function' reference or a callable, not {type(obj).__name__}."
    )


def _load_reference(ref: str) -> Model:
    from montecarlo.models import BUILTIN

    if ref in BUILTIN:
        rec = load_model(_import(BUILTIN[ref], ref))
        return rec if rec.reference == ref else _replace(rec, reference=ref)
    if ":" not in ref:
        close = difflib.get_close_matches(ref, list(BUILTIN), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ModelNotFoundError(
            f"unknown model {ref!r}.{hint} Known models: {', '.join(sorted(BUILTIN))}; "
            "or give a 'package.module:function' reference."
        )
    rec = load_model(_import(ref, ref))
    return rec if rec.reference == ref else _replace(rec, reference=ref)


def _import(target: str, shown: str) -> Any:
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ModelNotFoundError(f"model reference {shown!r} must look like 'package.module:function'.")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or the module's own error on import
        raise ModelNotFoundError(
            f"model {shown!r}: cannot import module {module_name!r} ({type(exc).__name__}: {exc})."
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ModelNotFoundError(f"model {shown!r}: module {module_name!r} has no attribute {attr!r}.") from None
    return obj


def _replace(rec: Model, **changes: Any) -> Model:
    import dataclasses

    return dataclasses.replace(rec, **changes)


def builtin_models() -> list[Model]:
    """Every built-in model, in name order."""
    from montecarlo.models import BUILTIN

    return [load_model(name) for name in sorted(BUILTIN)]
