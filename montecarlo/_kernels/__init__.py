"""Compiled kernels (private): the one place that says whether a compiled kernel runs.

With the extra installed (``pip install 'montecarlo[jit]'``: numba, and
llvmlite, its code generator), the π model counts its hits in one compiled
loop instead of five numpy passes over a 1 MiB buffer. The loop draws the
very doubles the numpy code draws from the block's Generator, in the same
order, and rounds the same operations the same way, so every number of a
run is bit-identical with and without it (`tests/test_kernels.py` holds both
paths to that). Without llvmlite, or with the environment variable
``MONTECARLO_JIT=0``, the numpy code runs.

The loop is written in LLVM IR and compiled by llvmlite directly
(`montecarlo._kernels.pi`): milliseconds per worker process, where
loading a numba function costs about a second of CPU and twice the memory.
Numba itself is for models of your own (docs/performance.md).

Only π is compiled: the other built-in models call transcendental functions
(``exp``, ``log``, ``sin``) whose compiled versions round differently from
numpy's vectorised ones, and their numbers must not depend on whether the
extra is installed.
"""

from __future__ import annotations

import numpy as np

from montecarlo._kernels.llvm import JIT_VARIABLE, switched_on

__all__ = ["JIT_VARIABLE", "enabled", "quarter_disc"]


def enabled() -> bool:
    """Whether built-in models run compiled kernels: they compile here, and ``MONTECARLO_JIT`` is not 0."""
    if not switched_on():
        return False
    from montecarlo._kernels import pi as compiled_pi  # llvmlite loads only where a kernel is wanted

    return compiled_pi.KERNEL.compiles()


def quarter_disc(rng: np.random.Generator, n: int) -> np.ndarray:
    """Compiled: ``x² + y² ≤ 1`` for ``n`` points, x's drawn first, then y's (as `montecarlo.models.builtin.pi` draws them)."""
    from montecarlo._kernels import pi as compiled_pi

    return compiled_pi.quarter_disc(rng, n)
