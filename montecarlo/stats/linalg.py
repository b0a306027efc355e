"""Small linear algebra in a defined order: dot products, quadratic forms and solves of a few unknowns.

The estimates of a run (delta method, control variates, expected
shortfall) combine a handful of numbers. A BLAS call or ``numpy.dot`` adds
them in an order its kernel picks for the CPU, and LAPACK's solver pivots and
sums as its build does: the last bits would depend on the machine. Here every
sum of products is `math.fsum` of the products (each product rounded once):
the correctly rounded sum, whatever the order, on every IEEE 754 machine.
The solver is Gaussian elimination with partial pivoting written out, for
the few controls a control-variate estimate has.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

from montecarlo.errors import SingularMatrixError


def dot(a: Iterable[float], b: Iterable[float]) -> float:
    """``sum a_i b_i``: each product rounded once, then their correctly rounded sum."""
    return math.fsum(float(x) * float(y) for x, y in zip(a, b, strict=True))


def quadratic_form(g: Sequence[float] | np.ndarray, m: np.ndarray) -> float:
    """``g' m g`` as one correctly rounded sum of the products ``g_i m_ij g_j`` (each rounded left to right)."""
    k = len(g)
    return math.fsum(float(g[i]) * float(m[i, j]) * float(g[j]) for i in range(k) for j in range(k))


def solve(a: np.ndarray, b: Sequence[float] | np.ndarray) -> list[float]:
    """``x`` with ``a x = b`` for a small square ``a``: Gaussian elimination with partial pivoting.

    The pivot of each column is the first largest magnitude at or below the
    diagonal; every update subtracts one rounded product. Raises
    `montecarlo.errors.SingularMatrixError` when a pivot is zero or not finite.
    """
    k = len(b)
    m = [[float(a[i, j]) for j in range(k)] + [float(b[i])] for i in range(k)]
    for col in range(k):
        pivot = max(range(col, k), key=lambda r: abs(m[r][col]))  # the first largest: ties keep the lower row
        p = m[pivot][col]
        if p == 0.0 or not math.isfinite(p):
            raise SingularMatrixError(f"the matrix is singular at column {col}")
        m[col], m[pivot] = m[pivot], m[col]
        for r in range(col + 1, k):
            f = m[r][col] / p
            for c in range(col, k + 1):
                m[r][c] = m[r][c] - f * m[col][c]
    x = [0.0] * k
    for r in range(k - 1, -1, -1):
        x[r] = (m[r][k] - math.fsum(m[r][c] * x[c] for c in range(r + 1, k))) / m[r][r]
    return x
