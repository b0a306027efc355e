"""Compiled kernels (private): the one place that says whether a compiled kernel runs.

Two kernels, each written in LLVM IR and compiled by llvmlite at first use
in a process (`montecarlo._kernels.llvm`), each giving its numpy code's
numbers bit for bit:

- the π model's hit counter (`montecarlo._kernels.pi`): it draws the very
  doubles the numpy code draws from the block's Generator and rounds the same
  operations the same way; it buys 2.2x on a whole π run;
- a batch's statistics in the engine's own order (`montecarlo._kernels.stats`,
  the order of `montecarlo.stats.sums`): one or two passes over the batch
  where the numpy code takes a dozen, and for one float output the merge
  into the block's running statistics in the same call.

Without llvmlite, where a kernel does not compile, or with the environment
variable ``MONTECARLO_JIT=0``, the numpy code runs. The statistics kernel
compiles only once numpy has handled `COMPILE_AFTER` values in the process:
compiling costs about 0.2 s of CPU, which a short run never pays. A run
known to be longer compiles it at its start, in the driver (`compile_for`),
so that the worker processes it forks inherit the machine code rather than
each compiling it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from montecarlo._kernels.llvm import JIT_VARIABLE, switched_on

__all__ = [
    "COMPILE_AFTER",
    "JIT_VARIABLE",
    "batch_stats",
    "column_fold",
    "column_stats",
    "compile_for",
    "enabled",
    "quarter_disc",
]

#: Values a process hands to the numpy statistics before it compiles the kernel: about the
#: CPU time compiling takes (so a run spends at most twice what it would with hindsight).
COMPILE_AFTER = 1 << 23


def enabled() -> bool:
    """Whether the π model runs its compiled kernel: it compiles here, and ``MONTECARLO_JIT`` is not 0."""
    if not switched_on():
        return False
    from montecarlo._kernels import pi as compiled_pi  # llvmlite loads only where a kernel is wanted

    return compiled_pi.KERNEL.compiles()


def quarter_disc(rng: np.random.Generator, n: int) -> np.ndarray:
    """Compiled: ``x² + y² ≤ 1`` for ``n`` points, x's drawn first, then y's (as `montecarlo.models.builtin.pi` draws them)."""
    from montecarlo._kernels import pi as compiled_pi

    return compiled_pi.quarter_disc(rng, n)


def compile_for(values: int) -> None:
    """Compile the statistics kernel now if a run is to hand it more than `COMPILE_AFTER` values.

    Called by the driver before its workers start: processes forked from it
    then run the kernel from their first batch, instead of each spending
    about 0.3 s (numpy's statistics until the threshold, then compiling)
    before it reaches full speed, while a serial run paid that once.
    """
    if values > COMPILE_AFTER and switched_on():
        from montecarlo._kernels import stats

        stats.KERNEL.compiles()


def _stats_functions(values: int) -> dict[str, Any] | None:
    """The compiled statistics functions, if they may run on the next ``values`` values (`Compiled.ready`)."""
    from montecarlo._kernels import stats

    return stats.KERNEL.functions() if stats.KERNEL.ready(values, COMPILE_AFTER) else None


#: The compiled column pass, once this process has compiled it (then only ``MONTECARLO_JIT`` is asked).
_column: Any = None


def column_stats(c: np.ndarray) -> tuple[float, float, float, float, float, float] | None:
    """Compiled ``(mean, m2, m3, m4, minimum, maximum)`` of a contiguous float64 column, or None."""
    global _column
    if _column is not None:
        return _column(c) if switched_on() else None
    functions = _stats_functions(c.shape[0])
    if functions is None:
        return None
    from montecarlo._kernels.stats import ColumnPass

    _column = ColumnPass(functions)
    return _column(c)


def column_fold(values: int, batch: int) -> Any:
    """A compiled `montecarlo._kernels.stats.ColumnFold` for a block of ``values`` values in batches of ``batch``, or None.

    Asked once per block, so ``MONTECARLO_JIT`` is read once per block.
    None until `column_stats` has compiled the kernel (it counts the values
    that decide when), and where the counts' products could pass 2**53 (only
    Python's integers are exact beyond).
    """
    from montecarlo._kernels import stats

    if values * batch >= 1 << 53 or not stats.KERNEL.compiled or not switched_on():
        return None
    return stats.ColumnFold(stats.KERNEL.functions())


def batch_stats(x: np.ndarray) -> tuple[Any, ...] | None:
    """Compiled ``(n, mean, comoment, m3, m4, minimum, maximum)`` of a C-ordered float64 batch, or None."""
    functions = _stats_functions(x.size)
    if functions is None:
        return None
    from montecarlo._kernels.stats import k_outputs

    return k_outputs(functions, x)
