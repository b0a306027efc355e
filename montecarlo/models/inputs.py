"""A model's declared inputs: independent random inputs with known distributions.

``@montecarlo.model(inputs={"x1": "uniform(-pi, pi)", "x2": scipy.stats.norm(0, 1)})``
on a function ``f(x, **params)`` that takes an ``(n, d)`` array of input
values (one column per input, in the order declared) and returns ``(n,)`` or
``(n, k)``. Each input is a frozen ``scipy.stats`` distribution, or a string
naming a common one (`NAMED`, or any ``scipy.stats`` distribution with its
own arguments); the inputs are independent, and input ``j`` is
``ppf_j(u_j)`` of a uniform ``u_j``. From ``f`` the declaration builds the
model's ordinary forms (`forms`): ``simulate(rng, n) = f(ppf(rng.random((n,
d))))`` and the uniform form ``f(ppf(u))`` of dimension ``d``, so the model
runs as a plain or quasi-random mean like any other, and an analysis can
evaluate ``f`` on designs of its own (Sobol' indices,
`montecarlo.analyses.sensitivity_model`).

Everything is checked when the model is declared: an unknown distribution or
bad arguments is a `ValidationError` naming the input.
"""

from __future__ import annotations

import ast
import functools
import inspect
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from montecarlo.errors import ValidationError

#: Uniforms are clipped below at 2^-53, as `montecarlo.models.uniforms.normals` does: a
#: coordinate of exactly 0 would give an infinite quantile for an unbounded input.
LOW = 2.0**-53


def _uniform(a: float, b: float) -> tuple[str, tuple, dict, str]:
    return "uniform", (), {"loc": a, "scale": b - a}, "b > a" if not b > a else ""


def _normal(mu: float, sigma: float) -> tuple[str, tuple, dict, str]:
    return "norm", (), {"loc": mu, "scale": sigma}, "" if sigma > 0 else "sigma > 0"


def _lognormal(mu: float, sigma: float) -> tuple[str, tuple, dict, str]:
    return "lognorm", (sigma,), {"scale": math.exp(mu)}, "" if sigma > 0 else "sigma > 0"


def _loguniform(a: float, b: float) -> tuple[str, tuple, dict, str]:
    return "loguniform", (a, b), {}, "" if 0 < a < b else "0 < a < b"


def _triangular(a: float, mode: float, b: float) -> tuple[str, tuple, dict, str]:
    ok = a < b and a <= mode <= b
    c = (mode - a) / (b - a) if a < b else 0.0
    return "triang", (c,), {"loc": a, "scale": b - a}, "" if ok else "a <= mode <= b, a < b"


def _exponential(rate: float) -> tuple[str, tuple, dict, str]:
    return "expon", (), {"scale": 1.0 / rate if rate > 0 else 1.0}, "" if rate > 0 else "rate > 0"


def _beta(alpha: float, beta: float) -> tuple[str, tuple, dict, str]:
    return "beta", (alpha, beta), {}, "" if alpha > 0 and beta > 0 else "alpha > 0, beta > 0"


def _gamma(shape: float, scale: float) -> tuple[str, tuple, dict, str]:
    return "gamma", (shape,), {"scale": scale}, "" if shape > 0 and scale > 0 else "shape > 0, scale > 0"


def _truncnormal(mu: float, sigma: float, a: float, b: float) -> tuple[str, tuple, dict, str]:
    ok = sigma > 0 and a < b
    s = sigma if sigma > 0 else 1.0
    return "truncnorm", ((a - mu) / s, (b - mu) / s), {"loc": mu, "scale": s}, "" if ok else "sigma > 0, a < b"


#: The common distributions a string may name, with their arguments (the rest: scipy.stats by name).
NAMED: dict[str, Callable[..., tuple[str, tuple, dict, str]]] = {
    "uniform": _uniform,
    "normal": _normal,
    "lognormal": _lognormal,
    "loguniform": _loguniform,
    "triangular": _triangular,
    "exponential": _exponential,
    "beta": _beta,
    "gamma": _gamma,
    "truncnormal": _truncnormal,
}

ACCEPTED = (
    "a frozen scipy.stats distribution, or a string: "
    + ", ".join(f"{name}({', '.join(inspect.signature(fn).parameters)})" for name, fn in NAMED.items())
    + ", or a scipy.stats distribution with its arguments ('weibull_min(1.5, scale=2)')"
)

_CONSTANTS = {"pi": math.pi, "e": math.e, "inf": math.inf}
_OPERATORS: dict[type, Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _number(node: ast.AST) -> float:
    """The value of a numeric expression: numbers, ``pi``, ``e``, ``+ - * / **`` (nothing is executed)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in _CONSTANTS:
        return _CONSTANTS[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return float(_OPERATORS[type(node.op)](_number(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return float(_OPERATORS[type(node.op)](_number(node.left), _number(node.right)))
    raise ValueError(ast.unparse(node))


def _from_text(text: str, name: str) -> Any:
    """The frozen distribution a string names (a `ValidationError` naming input ``name`` if it names none)."""
    from scipy import stats

    def refuse(problem: str) -> ValidationError:
        return ValidationError("inputs", text, ACCEPTED, f"of input {name!r} {problem}")

    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise refuse("is not a distribution such as 'normal(0, 1)'") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name)):
        raise refuse("is not a distribution such as 'normal(0, 1)'")
    kind = call.func.id
    try:
        args = [_number(a) for a in call.args]
        kwargs = {k.arg: _number(k.value) for k in call.keywords if k.arg is not None}
    except (ValueError, ZeroDivisionError, OverflowError) as exc:
        raise refuse(f"has an argument that is not a number ({exc})") from None
    if len(kwargs) != len(call.keywords):
        raise refuse("has an argument that is not a number")
    if not all(math.isfinite(v) for v in [*args, *kwargs.values()]):
        raise refuse("has an argument that is not finite")
    if kind in NAMED:
        try:
            scipy_name, shapes, scale, condition = NAMED[kind](*args, **kwargs)
        except TypeError:
            wanted = ", ".join(inspect.signature(NAMED[kind]).parameters)
            raise refuse(f"takes the arguments ({wanted})") from None
        if condition:
            raise refuse(f"has bad arguments (needs {condition})")
        return getattr(stats, scipy_name)(*shapes, **scale)
    family = getattr(stats, kind, None)
    if not isinstance(family, (stats.rv_continuous, stats.rv_discrete)):
        raise refuse("is not a known distribution (scipy.stats has none of that name)")
    try:
        return family(*args, **kwargs)
    except TypeError as exc:
        raise refuse(f"has bad arguments ({exc})") from None


def describe(dist: Any) -> str:
    """A frozen distribution as scipy names it: ``uniform(loc=-3.14159..., scale=6.28318...)`` (exact reprs)."""
    family = getattr(dist, "dist", None)
    name = getattr(family, "name", type(dist).__name__)
    args = [repr(float(a)) if isinstance(a, (int, float)) else repr(a) for a in getattr(dist, "args", ())]
    kwds = getattr(dist, "kwds", {}) or {}
    args += [f"{k}={float(v)!r}" if isinstance(v, (int, float)) else f"{k}={v!r}" for k, v in sorted(kwds.items())]
    return f"{name}({', '.join(args)})"


def distribution(spec: Any, name: str) -> Any:
    """A frozen distribution from a declaration (a string or a frozen scipy.stats distribution), checked."""
    dist = _from_text(spec, name) if isinstance(spec, str) else spec
    if not callable(getattr(dist, "ppf", None)) or not hasattr(dist, "dist"):
        raise ValidationError("inputs", spec, ACCEPTED, f"of input {name!r} is not a distribution")
    with np.errstate(all="ignore"):
        try:
            probe = np.asarray(dist.ppf(np.array([1e-3, 0.5, 1 - 1e-3])), dtype=float)
        except Exception as exc:  # scipy refused the arguments
            raise ValidationError("inputs", spec, ACCEPTED, f"of input {name!r} has bad arguments ({exc})") from None
    if probe.shape != (3,) or not np.all(np.isfinite(probe)) or not np.all(np.diff(probe) >= 0):
        raise ValidationError("inputs", spec, ACCEPTED, f"of input {name!r} has bad arguments (no finite quantiles)")
    return dist


@dataclass(frozen=True)
class Inputs:
    """The inputs a model declares: names, distributions, and optionally their exact Sobol' indices.

    Parameters
    ----------
    names : tuple of str
        One per column of ``x``, in order.
    distributions : tuple
        Frozen ``scipy.stats`` distributions, independent.
    given : tuple of str
        How each was declared (the string, or scipy's name and arguments).
    function : callable, optional
        ``f(x, **params)``: set by the declaration (`forms`).
    indices : callable, optional
        ``indices(**params)`` -> ``{input: (first, total)}``, or
        ``{output: {input: (first, total)}}``: the exact first-order and
        total Sobol' indices, where a closed form is known (test functions);
        entries ``{(input_j, input_k): value}`` beside them give exact
        second-order indices.
    """

    names: tuple[str, ...]
    distributions: tuple[Any, ...]
    given: tuple[str, ...]
    function: Callable[..., Any] | None = None
    indices: Callable[..., Any] | None = None

    @property
    def dimension(self) -> int:
        """The number of inputs, ``d``."""
        return len(self.names)

    @property
    def described(self) -> tuple[str, ...]:
        """Each distribution as scipy names it (what the model's fingerprint records)."""
        return tuple(describe(d) for d in self.distributions)

    def values(self, u: np.ndarray) -> np.ndarray:
        """Input values ``x`` of shape ``(n, d)`` at uniforms ``u`` in [0, 1): column ``j`` is ``ppf_j(u_j)``."""
        x = np.empty(u.shape, dtype=np.float64)
        for j, dist in enumerate(self.distributions):
            x[:, j] = dist.ppf(np.maximum(u[:, j], LOW))
        return x

    def _declared(self, params: Mapping[str, Any], outputs: tuple[str, ...]) -> dict[str, Mapping]:
        """What ``indices(**params)`` returns, per output; empty where unknown."""
        if self.indices is None:
            return {}
        from montecarlo.models.parameters import call_with_params

        try:
            found = call_with_params(self.indices, (), params)
        except Exception:  # a formula outside its domain: reported without it
            return {}
        if not isinstance(found, Mapping) or not found:
            return {}
        if all(k in self.names or isinstance(k, tuple) for k in found):  # one output's
            found = {outputs[0]: found}
        return {str(o): per for o, per in found.items() if isinstance(per, Mapping)}

    def exact(self, params: Mapping[str, Any], outputs: tuple[str, ...]) -> dict[str, dict[str, tuple[float, float]]]:
        """The exact indices at ``params`` as ``{output: {input: (first, total)}}``; empty where unknown."""
        declared = self._declared(params, outputs).items()
        return {o: {i: (float(v[0]), float(v[1])) for i, v in per.items() if isinstance(i, str)} for o, per in declared}

    def exact_pairs(self, params: Mapping[str, Any], outputs: tuple[str, ...]) -> dict[str, dict[tuple, float]]:
        """The exact second-order indices at ``params`` as ``{output: {(j, k): value}}``; empty where unknown."""
        declared = self._declared(params, outputs).items()
        return {o: {tuple(i): float(v) for i, v in per.items() if isinstance(i, tuple)} for o, per in declared}


def declare(spec: Any, indices: Callable[..., Any] | None = None) -> Inputs:
    """Check an ``inputs=`` declaration: a mapping of input names to distributions (or an `Inputs`).

    Examples
    --------
    >>> inputs = declare({"x1": "uniform(-pi, pi)", "x2": "normal(0, 2)"})
    >>> inputs.names, inputs.described[1]
    (('x1', 'x2'), 'norm(loc=0.0, scale=2.0)')
    >>> declare({"x": "normall(0, 1)"})
    Traceback (most recent call last):
    ...
    montecarlo.errors.ValidationError: `inputs` = 'normall(0, 1)' of input 'x' is not a known distribution (scipy.stats has none of that name); accepted: ...
    """
    if isinstance(spec, Inputs):
        return spec if indices is None else Inputs(spec.names, spec.distributions, spec.given, spec.function, indices)
    if not isinstance(spec, Mapping) or not spec:
        raise ValidationError("inputs", spec, "a dict of input names to distributions, one or more")
    names, dists, given = [], [], []
    for name, value in spec.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValidationError("inputs", name, "input names that are Python identifiers")
        dist = distribution(value, name)
        names.append(name)
        dists.append(dist)
        given.append(value if isinstance(value, str) else describe(dist))
    if indices is not None and not callable(indices):
        raise ValidationError("indices", indices, "a function indices(**params) returning the exact indices")
    return Inputs(tuple(names), tuple(dists), tuple(given), None, indices)


def forms(f: Callable[..., Any], inputs: Inputs) -> tuple[Callable[..., Any], Callable[..., Any], Inputs]:
    """``(simulate, uniform, inputs)``: the ordinary forms of ``f(x, **params)`` on ``inputs``.

    ``simulate(rng, n, **params) = f(ppf(rng.random((n, d))))`` and
    ``uniform(u, **params) = f(ppf(u))``; ``simulate`` carries ``f``'s name,
    module, docstring and its parameters after ``x`` (what the declaration
    reads), and ``inputs`` gets ``f`` as its ``function``.
    """
    if not callable(f):
        raise ValidationError("model", f, "a function f(x, **params) of the input values")
    sig = inspect.signature(f)
    ps = list(sig.parameters.values())
    if not ps or ps[0].kind not in (ps[0].POSITIONAL_ONLY, ps[0].POSITIONAL_OR_KEYWORD):
        raise ValidationError(
            "model", f"{getattr(f, '__name__', f)}{sig}", "a function f(x, **params) with `inputs`",
            "has another signature",
        )  # fmt: skip
    inputs = Inputs(inputs.names, inputs.distributions, inputs.given, f, inputs.indices)
    d = inputs.dimension

    def simulate(rng: np.random.Generator, n: int, **params: Any) -> Any:
        return inputs.function(inputs.values(rng.random((n, d))), **params)  # type: ignore[misc]

    def uniform(u: np.ndarray, **params: Any) -> Any:
        return inputs.function(inputs.values(u), **params)  # type: ignore[misc]

    functools.update_wrapper(simulate, f)
    pos = inspect.Parameter.POSITIONAL_OR_KEYWORD
    head = [inspect.Parameter("rng", pos), inspect.Parameter("n", pos)]
    simulate.__signature__ = sig.replace(parameters=head + ps[1:])  # type: ignore[attr-defined]
    return simulate, uniform, inputs
