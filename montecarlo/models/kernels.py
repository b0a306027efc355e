"""Compiled kernels for built-in models: the optional ``jit`` extra (numba).

With numba installed (``pip install 'montecarlo[jit]'``), the π model counts
its hits in one compiled loop instead of five numpy passes over a 1 MiB
buffer. The loop draws the very doubles the numpy code draws from the
block's Generator, in the same order, and rounds the same operations the
same way, so every number of a run is bit-identical with and without numba
(`tests/test_kernels.py` holds both paths to that). Without numba, or with
the environment variable ``MONTECARLO_JIT=0``, the numpy code runs.

How the doubles are drawn:

- SFC64 (the default bit generator) is stepped inline on the bit
  generator's own state, read and written through its address (numpy's
  ``bit_generator.ctypes.state_address``), so the Generator continues
  exactly where the numpy code would have left it. The step and the
  conversion to a double are numpy's: ``sfc64_next`` (C. Doty-Humphrey's
  Small Fast Chaotic generator, as numpy implements it) and
  ``(x >> 11) * 2**-53``.
- Other bit generators go through numba's support for numpy Generators,
  which calls the bit generator's own ``next_double``.

Only π is compiled: the other built-in models call transcendental functions
(``exp``, ``log``, ``sin``) whose compiled versions round differently from
numpy's vectorised ones, and their numbers must not depend on whether numba
is installed.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np

#: Set to ``0`` to run the numpy code even where numba is installed.
JIT_VARIABLE = "MONTECARLO_JIT"


def enabled() -> bool:
    """Whether built-in models run compiled kernels: numba is installed and ``MONTECARLO_JIT`` is not 0."""
    return os.environ.get(JIT_VARIABLE, "1") != "0" and _numba() is not None


@functools.cache
def _numba() -> Any:
    try:
        import numba
    except ImportError:
        return None
    return numba


def quarter_disc(rng: np.random.Generator, n: int) -> np.ndarray:
    """Compiled: ``x² + y² ≤ 1`` for ``n`` points, x's drawn first, then y's (as `montecarlo.models.pi` draws them)."""
    from montecarlo.models import compiled_pi  # imports numba: only where it is wanted

    bits = rng.bit_generator
    if type(bits) is np.random.SFC64:
        return compiled_pi.sfc64_quarter_disc(bits.ctypes.state_address, n)
    return compiled_pi.generator_quarter_disc(rng, n)
