"""User models for the benchmarks: plain numpy functions and a numba-compiled one (importable by workers)."""

from __future__ import annotations

import numpy as np

import montecarlo


def exp_uniform(rng, n, a: float = 1.0):
    """A cheap one-output model: E[exp(aU)] for U uniform on [0, 1), exactly (e^a - 1) / a."""
    return np.exp(a * rng.random(n))


@montecarlo.model(outputs=["x", "x2", "exp_half_x"])
def three_floats(rng, n):
    """Three float outputs of one normal draw: X, X², exp(X/2) (means 0, 1, e^(1/8))."""
    x = rng.standard_normal(n)
    out = np.empty((n, 3))
    out[:, 0] = x
    out[:, 1] = x * x
    out[:, 2] = np.exp(0.5 * x)
    return out


def walk_numpy(rng, n, steps: int = 100):
    """Squared distance from the start after `steps` unit steps in random directions (mean: steps)."""
    angle = 2.0 * np.pi * rng.random((n, steps))
    x = np.cos(angle).sum(axis=1)
    y = np.sin(angle).sum(axis=1)
    return x * x + y * y


try:
    import numba
except ImportError:  # pragma: no cover - the jit extra is not installed
    numba = None

if numba is not None:

    @numba.njit(cache=True)
    def walk_numba(rng, n, steps=100):
        """The same walk, compiled: one sample at a time, drawing from the block's Generator."""
        out = np.empty(n)
        for i in range(n):
            x = 0.0
            y = 0.0
            for _ in range(steps):
                angle = 2.0 * np.pi * rng.random()
                x += np.cos(angle)
                y += np.sin(angle)
            out[i] = x * x + y * y
        return out
