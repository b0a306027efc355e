"""The Sobol' index estimators as functions of term means, with their analytic gradients.

Each index of `montecarlo.analyses.sensitivity_model` is a derived estimate
(`montecarlo.models.derived.Derived`) of the means of the terms; the delta
method needs the function and its gradient at those means. With bars for
means over the base points, ``c`` the shift, ``fB = f(B) - c``,
``D_i = f(AB_i) - f(A)``, ``fBD_i = fB D_i``, ``T_i = D_i^2 / 2``,
``Z = (f(A) - f(B))^2 / 2``, and for second-order indices ``fA = f(A) - c``,
``fBA_j = f(BA_j) - c`` and ``P_jk = fBA_j (f(AB_k) - c)``:

- variance ``V = bar Z``;
- first order ``S_i = (bar fBD_i - bar fB bar D_i) / V``, the sample
  covariance of ``f(B)`` and ``D_i`` over ``V`` (Saltelli et al. 2010,
  Table 2 (b), centred as in Sobol' & Levitan 1999);
- total ``ST_i = bar T_i / V`` (Jansen 1999);
- second order ``S_jk = (bar P_jk - bar fBA_j (bar D_k + bar fA)) / V - S_j - S_k``:
  ``f(BA_j)`` and ``f(AB_k)`` share the columns ``j`` and ``k`` only, so
  their covariance is the closed index ``V_j + V_k + V_jk`` (Saltelli 2002).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from montecarlo.models.derived import Derived

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.analyses.sensitivity_model import Layout
    from montecarlo.models.inputs import Inputs


def first(fbd: float, fb: float, dd: float, z: float) -> float:
    """``S_i`` from the means of ``fBD_i``, ``fB``, ``D_i`` and ``Z``."""
    return (fbd - fb * dd) / z


def first_gradient(fbd: float, fb: float, dd: float, z: float) -> list[float]:
    """The partial derivatives of `first`."""
    s = (fbd - fb * dd) / z
    return [1.0 / z, -dd / z, -fb / z, -s / z]


def total(t: float, z: float) -> float:
    """``ST_i`` from the means of ``T_i`` and ``Z``."""
    return t / z


def total_gradient(t: float, z: float) -> list[float]:
    """The partial derivatives of `total`."""
    return [1.0 / z, -(t / z) / z]


def second(
    p: float, g: float, dk: float, fa: float, yj: float, yk: float, fb: float, dj: float, z: float
) -> float:  # fmt: skip
    """``S_jk`` from the means of ``P_jk``, ``fBA_j``, ``D_k``, ``fA``, ``fBD_j``, ``fBD_k``, ``fB``, ``D_j``, ``Z``."""
    return (p - g * (dk + fa) - (yj - fb * dj) - (yk - fb * dk)) / z


def second_gradient(
    p: float, g: float, dk: float, fa: float, yj: float, yk: float, fb: float, dj: float, z: float
) -> list[float]:  # fmt: skip
    """The partial derivatives of `second`."""
    s = (p - g * (dk + fa) - (yj - fb * dj) - (yk - fb * dk)) / z
    return [1.0 / z, -(dk + fa) / z, (fb - g) / z, -g / z, -1.0 / z, -1.0 / z, (dj + dk) / z, fb / z, -s / z]


def exact_index(inputs: Inputs, outputs: tuple[str, ...], output: str, key: Any, which: int, **params: Any) -> Any:
    """An exact index the model declares (``which``: 0 first order, 1 total, 2 second order of a pair), or None."""
    per = inputs.exact(params, outputs).get(output, {})
    if which < 2:
        found = per.get(key)
        return None if found is None else found[which]
    return inputs.exact_pairs(params, outputs).get(output, {}).get(key)


def indices(layout: Layout, inputs: Inputs) -> tuple[Derived, ...]:
    """The index estimates of an analysis, in order: per output, per input its first and total index, then pairs."""
    out: list[Derived] = []
    for o in layout.outputs:
        exact: Callable[..., Any] = functools.partial(exact_index, inputs, layout.outputs, o)
        for i in layout.inputs:
            out.append(
                Derived(
                    layout.first(o, i),
                    first,
                    inputs=(f"{o}_fBD_{i}", f"{o}_fB", f"{o}_D_{i}", f"{o}_Z"),
                    gradient=first_gradient,
                    exact=functools.partial(exact, i, 0),
                    description=f"first-order Sobol' index of {i} for {o} (centred Saltelli 2010)",
                )  # fmt: skip
            )
            out.append(
                Derived(
                    layout.total(o, i),
                    total,
                    inputs=(f"{o}_T_{i}", f"{o}_Z"),
                    gradient=total_gradient,
                    exact=functools.partial(exact, i, 1),
                    description=f"total Sobol' index of {i} for {o} (Jansen 1999)",
                )  # fmt: skip
            )
        for j, k in layout.pairs():
            means = (f"{o}_P_{j}_{k}", f"{o}_fBA_{j}", f"{o}_D_{k}", f"{o}_fA", f"{o}_fBD_{j}", f"{o}_fBD_{k}",
                     f"{o}_fB", f"{o}_D_{j}", f"{o}_Z")  # fmt: skip
            out.append(
                Derived(
                    layout.second_order(o, j, k),
                    second,
                    inputs=means,
                    gradient=second_gradient,
                    exact=functools.partial(exact, (j, k), 2),
                    description=f"second-order Sobol' index of {j} and {k} for {o} (Saltelli 2002)",
                )  # fmt: skip
            )
    return tuple(out)
