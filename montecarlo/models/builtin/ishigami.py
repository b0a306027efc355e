"""The Ishigami function: a standard test of global sensitivity analysis, with exact Sobol' indices."""

from __future__ import annotations

import math

import numpy as np

from montecarlo.models.declare import model
from montecarlo.models.inputs import declare
from montecarlo.models.record import Output


def variances(a: float, b: float) -> tuple[float, float, float, float]:
    """``(V, V1, V2, V13)``: the variance of ``f`` and its parts (Sobol' & Levitan 1999, eq. 16)."""
    pi4, pi8 = math.pi**4, math.pi**8
    v1 = (1.0 + b * pi4 / 5.0) ** 2 / 2.0
    v2 = a * a / 8.0
    v13 = b * b * pi8 * (1.0 / 18.0 - 1.0 / 50.0)
    return v1 + v2 + v13, v1, v2, v13


def exact_indices(a: float = 7.0, b: float = 0.1) -> dict:
    """The exact first-order and total indices ``{input: (S_i, ST_i)}``, and the second-order ones by pair."""
    v, v1, v2, v13 = variances(a, b)
    pairs = {("x1", "x2"): 0.0, ("x1", "x3"): v13 / v, ("x2", "x3"): 0.0}
    return {"x1": (v1 / v, (v1 + v13) / v), "x2": (v2 / v, v2 / v), "x3": (0.0, v13 / v), **pairs}


@model(
    name="ishigami",
    outputs=[Output("y")],
    exact=lambda a: a / 2.0,
    inputs=declare({"x1": "uniform(-pi, pi)", "x2": "uniform(-pi, pi)", "x3": "uniform(-pi, pi)"}, exact_indices),
    block_size=1 << 18,
    batch_size=1 << 14,
)
def simulate(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """The Ishigami function f = sin x1 + a sin² x2 + b x3⁴ sin x1, inputs uniform on [-π, π].

    A standard test of global sensitivity analysis (T. Ishigami and T.
    Homma, "An importance quantification technique in uncertainty analysis
    for computer models", Proc. ISUMA '90 (1990) 398-403): strongly
    non-linear and non-monotonic, with an interaction of x1 and x3 and no
    effect of x3 alone. Exact mean a / 2. Exact variance and Sobol' indices
    (I. M. Sobol' and Yu. L. Levitan, Comput. Phys. Commun. 117 (1999)
    52-61; A. Saltelli et al., *Global Sensitivity Analysis: The Primer*,
    2008, §4.9):

        V = a²/8 + b π⁴/5 + b² π⁸/18 + 1/2,
        V1 = (1 + b π⁴/5)² / 2,  V2 = a²/8,  V3 = 0,  V13 = b² π⁸ (1/18 - 1/50),
        S = (V1, V2, 0) / V,  ST = (V1 + V13, V2, V13) / V,  S13 = V13 / V,  S12 = S23 = 0;

    at a = 7, b = 0.1: S = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424,
    0.2437), V = 13.845. `mc sensitivity ishigami` estimates them.
    """
    s1 = np.sin(x[:, 0])
    s2 = np.sin(x[:, 1])
    x3 = x[:, 2] * x[:, 2]
    return s1 + a * (s2 * s2) + b * (x3 * x3) * s1
