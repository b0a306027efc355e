"""Models with declared inputs for tests/test_sensitivity.py (importable by name in worker processes and `mc`)."""

from __future__ import annotations

import time

import numpy as np
import scipy.stats

import montecarlo
from montecarlo.models.builtin.ishigami import exact_indices


def ishigami_values(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    s1 = np.sin(x[:, 0])
    return s1 + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * s1


@montecarlo.model(inputs={f"x{i}": "uniform(-pi, pi)" for i in (1, 2, 3)})
def slow_ishigami(x, delay: float = 0.05):
    """Ishigami, slowly (for interrupting analyses part-way)."""
    time.sleep(delay)
    return ishigami_values(x)


@montecarlo.model(inputs={f"x{i}": "uniform(-pi, pi)" for i in (1, 2, 3)})
def offset_ishigami(x, offset: float = 1e8):
    """Ishigami plus a large constant: the same indices, and intervals that need the shift."""
    return ishigami_values(x) + offset


@montecarlo.model(
    outputs=["lin", "prod"],
    inputs={"u": scipy.stats.norm(1.0, 2.0), "v": "uniform(0, 1)", "dummy": "lognormal(0, 0.5)"},
)
def two_outputs(x):
    """lin = u + 2 v (S_u = 4 / (4 + 1/3)), prod = u v; ``dummy`` is not used: its indices are 0."""
    return np.column_stack([x[:, 0] + 2.0 * x[:, 1], x[:, 0] * x[:, 1]])


G20 = np.arange(20) / 2.0


@montecarlo.model(inputs={f"x{j + 1}": "uniform(0, 1)" for j in range(20)})
def g20(x):
    """A G function of 20 inputs, a_j = j / 2 (62 terms per base point)."""
    f = np.ones(x.shape[0])
    for j in range(20):
        f *= (np.abs(4.0 * x[:, j] - 2.0) + G20[j]) / (1.0 + G20[j])
    return f


@montecarlo.model(inputs={"x1": "normal(0, 1)", "x2": "normal(0, 1)"})
def constant(x):
    """No variance at all: the indices are undefined."""
    return np.zeros(x.shape[0])


__all__ = ["constant", "exact_indices", "g20", "offset_ishigami", "slow_ishigami", "two_outputs"]
