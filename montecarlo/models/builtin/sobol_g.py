"""Sobol's G function: a product of kinked factors of decreasing importance, with exact Sobol' indices."""

from __future__ import annotations

import numpy as np

from montecarlo.errors import ParameterError
from montecarlo.models.declare import model
from montecarlo.models.inputs import declare
from montecarlo.models.record import Output
from montecarlo.models.uniforms import row_products

#: The inputs' count, fixed by the declaration (the coefficients give one each).
DIM = 6
DEFAULT = "0,0.5,3,9,99,99"


def coefficients(a: str) -> np.ndarray:
    """The coefficients ``a_i`` from ``"0,0.5,3,9,99,99"``: six numbers >= 0."""
    try:
        values = np.array([float(v) for v in a.split(",")])
    except ValueError:
        raise ParameterError("a", a, f"{DIM} comma-separated numbers >= 0 such as {DEFAULT!r}") from None
    if values.size != DIM or not np.all(np.isfinite(values)) or not np.all(values >= 0):
        raise ParameterError("a", a, f"{DIM} comma-separated numbers >= 0 such as {DEFAULT!r}")
    return values


def _check(a: str) -> None:
    coefficients(a)


def exact_indices(a: str = DEFAULT) -> dict:
    """The exact first-order and total indices ``{input: (S_i, ST_i)}``, and the second-order ones by pair."""
    vi = [1.0 / (3.0 * (1.0 + float(c)) ** 2) for c in coefficients(a)]
    total = 1.0
    for v in vi:
        total *= 1.0 + v
    var = total - 1.0
    out: dict = {f"x{i + 1}": (v / var, v * total / (1.0 + v) / var) for i, v in enumerate(vi)}
    for i in range(DIM):
        for j in range(i + 1, DIM):  # V_ij = V_i V_j: every interaction term is the product of its factors'
            out[(f"x{i + 1}", f"x{j + 1}")] = vi[i] * vi[j] / var
    return out


@model(
    name="sobol_g",
    outputs=[Output("y")],
    exact=lambda: 1.0,
    inputs=declare({f"x{i + 1}": "uniform(0, 1)" for i in range(DIM)}, exact_indices),
    check=_check,
    block_size=1 << 18,
    batch_size=1 << 14,
)
def simulate(x: np.ndarray, a: str = DEFAULT) -> np.ndarray:
    """Sobol's G function f = Π (|4 x_i - 2| + a_i) / (1 + a_i), six inputs uniform on [0, 1].

    The smaller a_i, the more input i matters: a = (0, 0.5, 3, 9, 99, 99)
    gives two important inputs, two minor ones and two nearly inert ones
    (A. Saltelli and I. M. Sobol', Reliab. Eng. Syst. Saf. 50 (1995)
    225-239; I. M. Sobol' and Yu. L. Levitan, Comput. Phys. Commun. 117
    (1999) 52-61; A. Saltelli et al., Comput. Phys. Commun. 181 (2010)
    259-270). Each factor has mean 1, so the exact mean is 1. Exact
    variance and Sobol' indices, with V_i = 1 / (3 (1 + a_i)²):

        V = Π (1 + V_i) - 1,  S_i = V_i / V,  ST_i = V_i Π_{j≠i} (1 + V_j) / V,  S_ij = V_i V_j / V;

    at the default a: S = (0.5868, 0.2608, 0.0367, 0.0059, 0.00006,
    0.00006), ST = (0.6901, 0.3562, 0.0563, 0.0092, 0.0001, 0.0001),
    V = 0.5681. `mc sensitivity sobol_g` estimates them.
    """
    c = coefficients(a)
    return row_products((np.abs(4.0 * x - 2.0) + c) / (1.0 + c))
