"""A user model compiled with numba (importable by worker processes and Dask workers)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def walk(rng, n, steps=20):
    """Squared distance after `steps` unit steps in uniformly random directions: exactly `steps` on average."""
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
