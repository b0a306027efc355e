"""A batch's statistics in the engine's order, compiled: the same bits as `montecarlo.stats.sums`.

The IR is in ``stats_common.ll``, ``stats_one_output.ll`` and
``stats_k_outputs.ll`` beside this module (their comments say how the order
is kept): ``one_output`` takes one contiguous column in two passes with every
accumulator of its 32 lanes in registers, ``fold_column`` folds such a
column into a block's running moments and shape (the merges of
`montecarlo.stats.shape.OneOutputFold`, in its order), ``k_outputs`` a
C-ordered ``(n, k)`` batch with its accumulators in a scratch buffer. The lanes are
independent and no operation is fused or reassociated, so the vector width
of the processor (AVX-512, AVX2 or SSE2) never changes a bit
(tests/test_arithmetic.py compiles for each and compares).
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable
from importlib.resources import files
from typing import Any

import numpy as np

from montecarlo._kernels.llvm import Compiled, Scratch, assembly_of, compile_functions

#: The IR files, in the order they are joined into one module.
IR_FILES = ("stats_common.ll", "stats_one_output.ll", "stats_k_outputs.ll")

W = 32


def ir() -> str:
    """The module's IR: the three files joined."""
    here = files("montecarlo._kernels")
    return "\n".join(here.joinpath(name).read_text(encoding="utf-8") for name in IR_FILES)


def prototypes() -> dict[str, Any]:
    """The ctypes prototypes of the functions."""
    void_p, i64 = ctypes.c_void_p, ctypes.c_int64
    return {
        "one_output": ctypes.CFUNCTYPE(None, void_p, i64, void_p),
        "fold_column": ctypes.CFUNCTYPE(ctypes.c_bool, void_p, void_p, i64),
        "fold_array": ctypes.CFUNCTYPE(ctypes.c_bool, void_p, i64, ctypes.py_object, i64),
        "k_outputs": ctypes.CFUNCTYPE(None, void_p, i64, i64, void_p, void_p),
    }


#: The functions, compiled once per process.
KERNEL = Compiled(ir, prototypes)


class ColumnPass:
    """``one_output`` as a callable: ``(mean, m2, m3, m4, minimum, maximum)`` of a contiguous float64 column.

    Each thread writes into its own buffer of six doubles, whose address is
    kept: a worker calls this once per batch, and numpy takes microseconds
    to tell an array's address.
    """

    def __init__(self, functions: dict[str, Any]) -> None:
        self._one = functions["one_output"]
        self._out = Scratch(np.float64, least=6)

    def __call__(self, c: np.ndarray) -> tuple[float, float, float, float, float, float]:
        (out,), (address,) = self._out.get(6)
        self._one(c.ctypes.data, c.shape[0], address)
        mean, m2, m3, m4, lo, hi = out[:6].tolist()
        return mean, m2, m3, m4, lo, hi


def data_offset() -> int | None:
    """Where a numpy array object holds its data pointer (bytes from its start), or None if not found.

    numpy's C structure of an array begins with the Python object header and
    then the data pointer (``PyArray_DATA`` reads it there); the offset is
    searched for, and kept only if it gives the address numpy tells for
    arrays of several shapes and origins (views included).
    """
    probes = [np.empty(n) for n in (1, 7, 4096)]
    probes += [probes[2][5:], np.arange(12.0).reshape(3, 4)[1]]
    for offset in range(8, 65, 8):
        try:
            if all(ctypes.c_void_p.from_address(id(a) + offset).value == a.ctypes.data for a in probes):
                return offset
        except (ValueError, OSError):  # pragma: no cover - an address ctypes refuses to read
            return None
    return None


#: `data_offset`, found at first use in a process (-1: not yet looked for).
_OFFSET = -1


class ColumnFold:
    """``fold_column`` for one block: its batches, contiguous float64 columns, folded in order.

    ``add(c)`` folds column ``c`` (a `numpy.ndarray`) into the block's state
    and returns whether its m2 is finite; `state` gives ``(count, mean,
    comoment, row)``, row the shape's ``(mean, m2, m3, m4, minimum,
    maximum)``. The caller keeps ``count * len(c)`` below 2**53 (products
    of counts are exact in doubles). The array goes to the kernel as the
    object itself (``fold_array``) where `data_offset` is known.
    """

    add: Callable[[np.ndarray], bool]

    def __init__(self, functions: dict[str, Any], by_object: bool = True) -> None:
        global _OFFSET
        if _OFFSET == -1:
            _OFFSET = data_offset() or 0
        self._state = np.zeros(9)
        address = self._state.ctypes.data
        if by_object and _OFFSET:
            by_array = functools.partial(functions["fold_array"], address, _OFFSET)
            self.add = lambda c: by_array(c, c.shape[0])
        else:
            by_address = functools.partial(functions["fold_column"], address)
            self.add = lambda c: by_address(c.ctypes.data, c.shape[0])

    def state(self) -> tuple[int, float, float, tuple[float, float, float, float, float, float]]:
        """``(count, mean, comoment, row)`` of the batches folded so far."""
        count, mean, comoment, *row = self._state.tolist()
        return int(count), mean, comoment, tuple(row)  # type: ignore[return-value]


#: Each thread's buffer for ``k_outputs``: its scratch (64-byte aligned) then its output.
_K_BUFFERS = Scratch(np.float64, least=1024)
#: Row-major indices of the upper triangle of a k x k matrix, by k (numpy takes microseconds to make them).
_PAIRS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def k_outputs(functions: dict[str, Any], x: np.ndarray) -> tuple[Any, ...]:
    """``(n, mean, comoment, m3, m4, minimum, maximum)`` of a C-ordered float64 batch ``x`` of shape ``(n, k)``.

    The kernel writes into the calling thread's buffer (`Scratch`), read
    before the thread's next call; the arrays returned are the caller's own.
    """
    n, k = x.shape
    p = k * (k + 1) // 2
    work = W * (9 * k + p)
    (buffer,), (address,) = _K_BUFFERS.get(work + 8 + 6 * k + p)
    start = (-address % 64) // 8  # 64-byte aligned: its vectors never split a cache line
    out_at = start + work
    functions["k_outputs"](x.ctypes.data, n, k, address + 8 * start, address + 8 * out_at)
    out = buffer[out_at : out_at + 6 * k + p].copy()
    pairs = _PAIRS.get(k)
    if pairs is None:
        pairs = _PAIRS[k] = np.triu_indices(k)
    rows, cols = pairs
    comoment = np.empty((k, k))
    comoment[rows, cols] = out[2 * k : 2 * k + p]
    comoment[cols, rows] = out[2 * k : 2 * k + p]
    m3, m4, lo, hi = out[2 * k + p :].reshape(4, k)
    return n, out[k : 2 * k], comoment, m3, m4, lo, hi


def compiled_for(cpu: str, features: str) -> dict[str, Any]:
    """The functions compiled for another processor (``""``, ``""``: the architecture's baseline), for tests."""
    return compile_functions(ir(), prototypes(), cpu, features)


def assembly(cpu: str | None = None, features: str | None = None) -> str:
    """The machine code of the functions, as assembly text (for this machine by default)."""
    return assembly_of(ir(), cpu, features)
