"""Level models: models that declare levels for multilevel Monte Carlo (`montecarlo.mlmc`).

A level model is an ordinary model ``simulate(rng, n, level, **params)``
with two outputs, in this column order: the difference ``P_l - P_{l-1}`` of
the level's fine and coarse approximations, computed from the same random
inputs (``P_0`` itself on level 0), and the fine approximation ``P_l``
(used by the diagnostics). `Levels` declares what one sample of each level
costs in model units (time steps, grid cells), so that the sample counts
the algorithm chooses depend on the model and the numbers only, never on
timing; and, when it is known, the exact value the levels converge to.

Each level is run as a plain run of the model with ``level`` among its
parameters: ``mc run gbm_call -p level=3`` runs level 3 alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from montecarlo.errors import ValidationError
from montecarlo.models.parameters import Param, call_with_params

#: The parameter a level model takes its level from.
LEVEL = "level"
#: The levels a declaration's cost is checked on (every run checks the levels it may use).
CHECKED_LEVELS = (0, 1, 2)
#: Column order of a level model's outputs.
COLUMNS = ("the difference P_l - P_(l-1)", "the fine approximation P_l")


@dataclass(frozen=True)
class Levels:
    """How a model's levels cost, and what they converge to.

    Parameters
    ----------
    cost : callable
        ``cost(level)`` (or ``cost(level, **params)``, receiving the
        parameters its signature names): the cost of one sample of that
        level in model units, a finite number > 0. Giles' convention for a
        time-stepping scheme is the number of fine steps, ``2**level``.
    exact : float or callable, optional
        The limit of ``E[P_l]`` as the level grows (what multilevel Monte
        Carlo estimates), a number or ``exact(**params)``.
    unit : str
        What a model unit is, for messages and tables.

    Examples
    --------
    >>> levels = Levels(cost=lambda level: 2**level, unit="time steps")
    >>> [level_cost(levels, level, {}) for level in range(4)]
    [1.0, 2.0, 4.0, 8.0]
    """

    cost: Callable[..., Any]
    exact: float | Callable[..., Any] | None = None
    unit: str = "model units"


def level_cost(levels: Levels, level: int, params: Mapping[str, Any]) -> float:
    """The cost of one sample of ``level``: a finite number > 0, else a `ValidationError` naming the level."""
    try:
        value = call_with_params(levels.cost, (level,), {k: v for k, v in params.items() if k != LEVEL})
    except Exception as exc:
        raise ValidationError(
            "levels", levels.cost, "a function cost(level) of finite numbers > 0",
            f"raised {type(exc).__name__} at level {level}",
        ) from None  # fmt: skip
    try:
        number = math.nan if isinstance(value, bool) else float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and number > 0):
        raise ValidationError(
            "levels", levels.cost, "a function cost(level) of finite numbers > 0", f"gives {value!r} at level {level}"
        )
    return number


def limit_value(levels: Levels, params: Mapping[str, Any]) -> float | None:
    """The declared limit of ``E[P_l]`` at ``params`` (None when unknown or undefined there)."""
    value = levels.exact
    if value is None:
        return None
    try:
        v = call_with_params(value, (), params) if callable(value) else value
        return None if v is None else float(v)
    except Exception:  # a formula outside its domain: reported without it
        return None


def check_levels(levels: Any, params: tuple[Param, ...], outputs: tuple[Any, ...]) -> Levels | None:
    """The `Levels` of a declaration, checked against the function's parameters and outputs (None: no levels)."""
    if levels is None:
        return None
    if not isinstance(levels, Levels):
        raise ValidationError("levels", levels, "a montecarlo.Levels(cost=...) record")
    if not callable(levels.cost):
        raise ValidationError("levels", levels.cost, "a function cost(level) of finite numbers > 0", "is not callable")
    if not (levels.exact is None or callable(levels.exact) or _is_number(levels.exact)):
        raise ValidationError("levels", levels.exact, "a finite number or a function exact(**params)")
    if not isinstance(levels.unit, str) or not levels.unit:
        raise ValidationError("levels", levels.unit, "a non-empty string naming the model unit")
    level = next((p for p in params if p.name == LEVEL), None)
    if level is None:
        raise ValidationError(
            "levels",
            [p.name for p in params],
            "a function simulate(rng, n, level, **params)",
            "has no `level` parameter",
        )
    if level.type is not int:
        raise ValidationError(
            "levels", level.type.__name__, "an int parameter `level` (annotated `level: int` or defaulting to 0)",
            "is the type of `level`",
        )  # fmt: skip
    if len(outputs) != 2 or any(o.kind != "mean" or o.scale != 1.0 for o in outputs):
        raise ValidationError(
            "outputs", [o.name for o in outputs],
            f"two outputs of kind mean (unscaled): {COLUMNS[0]} and {COLUMNS[1]}, in that order",
        )  # fmt: skip
    defaults = {p.name: p.default for p in params if not p.required and p.name != LEVEL}
    for lv in CHECKED_LEVELS:
        level_cost(levels, lv, defaults)
    return levels


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def describe(levels: Levels, params: Mapping[str, Any], shown: int = 5) -> list[str]:
    """Lines for ``mc show``: that the model has levels, their costs, and the limit when known."""
    try:
        costs = ", ".join(f"{level_cost(levels, lv, params):g}" for lv in range(shown))
    except ValidationError:
        costs = "set by the parameters"
    lines = [
        f"  cost per sample of levels 0, 1, 2, ...: {costs}, ... {levels.unit}",
        f"  outputs: {COLUMNS[0]}, then {COLUMNS[1]}",
    ]
    limit = limit_value(levels, params)
    if limit is not None:
        lines.append(f"  exact limit at the defaults: {limit!r}")
    lines.append("  run it with: mc mlmc MODEL --rmse EPS (one level alone: mc run MODEL -p level=L)")
    return lines
