"""Declaring a model: the ``@model`` decorator, and `make_model` behind it.

Every argument is checked when the model is declared, so a mistake in a
declaration (two outputs of one name, a derived quantity of an output that
does not exist) is an error at import, naming the argument.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from montecarlo.core.validate import unknown_keywords
from montecarlo.errors import UnknownNameError, ValidationError
from montecarlo.models.derived import ControlVariate, Derived
from montecarlo.models.levels import check_levels
from montecarlo.models.parameters import signature_params
from montecarlo.models.record import DEFAULT_BATCH_SIZE, DEFAULT_BLOCK_SIZE, Model, Output


def _outputs(spec: Any) -> tuple[Output, ...]:
    if spec is None:
        return (Output("value"),)
    if isinstance(spec, (str, Output)):
        spec = [spec]
    outs = tuple(o if isinstance(o, Output) else Output(str(o)) for o in spec)
    names = [o.name for o in outs]
    if not outs or len(set(names)) != len(names):
        raise ValidationError("outputs", names, "one or more distinct names")
    return outs


def _estimators(outs: tuple[Output, ...], derived: Any, controls: Any) -> tuple[tuple, tuple]:
    """Check declared derived quantities and control variates against the outputs."""
    derived = tuple(derived or ())
    controls = tuple(controls or ())
    outputs = [o.name for o in outs]
    names = list(outputs)
    for d in derived:
        if not isinstance(d, Derived):
            raise ValidationError("derived", d, "montecarlo.Derived records")
        for i in d.inputs or ():
            if i not in outputs:
                raise UnknownNameError(
                    "inputs", i, "one of " + ", ".join(outputs), f"of derived quantity {d.name!r} is not an output"
                )
        names.append(d.name)
    for c in controls:
        if not isinstance(c, ControlVariate):
            raise ValidationError("controls", c, "montecarlo.ControlVariate records")
        for i in (c.target, *c.controls):
            if i not in outputs:
                raise UnknownNameError(
                    "controls", i, "one of " + ", ".join(outputs), f"of control variate {c.name!r} is not an output"
                )
        names.append(c.name)
    if len(set(names)) != len(names):
        raise ValidationError("outputs", names, "distinct names of outputs, derived quantities and control variates")
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
    exact_quantile: Callable[..., Any] | None = None,
    inputs: Any = None,
    levels: Any = None,
) -> Model:
    """Build a `Model` record around ``func`` (see `model` for the arguments)."""
    if not callable(func):
        raise ValidationError("model", func, "a function simulate(rng, n, **params)")
    declared = None
    if inputs is not None:  # func is f(x, **params) of declared inputs: its ordinary forms are built from it
        if uniform is not None or dimension is not None:
            raise ValidationError(
                "uniform" if uniform is not None else "dimension", uniform if uniform is not None else dimension,
                "inputs alone: they make the uniform form and its dimension", "is given together with `inputs`",
            )  # fmt: skip
        from montecarlo.models.inputs import declare, forms

        func, uniform, declared = forms(func, declare(inputs))
        dimension = declared.dimension
    doc = inspect.getdoc(func) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    for arg, v in (("block_size", block_size), ("batch_size", batch_size)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            raise ValidationError(arg, v, "an integer >= 1")
    if check is not None and not callable(check):
        raise ValidationError("check", check, "a function check(**params)")
    if exact_quantile is not None and not callable(exact_quantile):
        raise ValidationError("exact_quantile", exact_quantile, "a function exact_quantile(q, **params)")
    if (uniform is None) != (dimension is None) or (uniform is not None and not callable(uniform)):
        given = "uniform" if uniform is not None else "dimension"
        raise ValidationError(
            given, uniform if uniform is not None else dimension,
            "a function uniform(u, **params) together with `dimension`", "is given without the other",
        )  # fmt: skip
    if not (dimension is None or callable(dimension) or (type(dimension) is int and dimension >= 1)):
        raise ValidationError("dimension", dimension, "an integer >= 1 or a function of the parameters")
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
        exact_quantile=exact_quantile,
        inputs=declared,
        levels=check_levels(levels, signature_params(func, ranges, choices), outs),
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
    "exact_quantile",
    "inputs",
    "levels",
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
    exact_quantile : callable, optional
        ``exact_quantile(q, **params)``: the exact ``q``-quantile of the
        outputs (one value for the first output, a sequence, or a mapping by
        name), shown beside the estimated quantiles.
    inputs : dict, optional
        ``{name: distribution}``: the model's independent random inputs, in
        the column order of ``x``, each a frozen ``scipy.stats``
        distribution or a string such as ``"uniform(-pi, pi)"``,
        ``"normal(0, 1)"``, ``"lognormal(0, 0.5)"``
        (`montecarlo.models.inputs`). The function is then ``f(x, **params)``
        of an ``(n, d)`` array of input values; the declaration builds
        ``simulate`` and the uniform form from it (so no ``uniform`` or
        ``dimension``), and `montecarlo.sensitivity` can compute its Sobol'
        indices.
    levels : montecarlo.Levels, optional
        The model is a level model of multilevel Monte Carlo
        (`montecarlo.mlmc`): ``simulate(rng, n, level, **params)`` returns
        two columns, the difference ``P_l - P_{l-1}`` of the fine and coarse
        approximations from the same random inputs (``P_0`` on level 0) and
        ``P_l``; `montecarlo.models.levels.Levels` gives the cost of a
        sample of each level in model units (docs/mlmc.md).

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
    TypeError: model() got an unexpected keyword argument `ouputs`. Did you mean `outputs`? Accepted: name, outputs, exact, block_size, batch_size, ranges, description, choices, derived, controls, check, dimension, uniform, exact_quantile, inputs, levels.
    """
    error = unknown_keywords(options, MODEL_KEYWORDS, "model()")
    if error is not None:
        raise error

    def wrap(f: Callable[..., Any]) -> Callable[..., Any]:
        f.__montecarlo_model__ = make_model(f, **options)  # type: ignore[attr-defined]
        return f

    return wrap if func is None else wrap(func)


def with_columns(rec: Model, k: int) -> Model:
    """A plain function's record with ``k`` outputs: ``value`` for one column, ``y0, y1, ...`` for several.

    A function not declared with ``@model`` gets its outputs from what it
    returns, in the workers (a block's first batch); a record declared with
    ``@model``, or one that already has ``k`` outputs, is returned as it is.
    """
    if not rec.undeclared or k == len(rec.outputs):
        return rec
    outs = (Output("value"),) if k == 1 else tuple(Output(f"y{i}") for i in range(k))
    return dataclasses.replace(rec, outputs=outs)
