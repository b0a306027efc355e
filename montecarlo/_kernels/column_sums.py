"""Column sums of a batch, compiled (the ``jit`` extra): numpy's bits, at a fraction of its time.

`montecarlo.stats.moments.batch_moments` takes a batch's means from its column sums.
For a C-ordered ``(n, k)`` float64 array, ``np.add.reduce(x, axis=0)`` adds
the rows in order to an accumulator that starts at ``+0.0``, one inner loop
of length ``k`` per row: for small ``k`` numpy spends its time starting
loops, about 20 ns a row. The published numbers are those sums' bits, so the
kernel makes the same additions in the same order:

    out[j] = +0.0                          # a column of -0.0 sums to +0.0
    for i in range(n):
        for j in range(k):
            out[j] = out[j] + x[i * k + j]

and nothing else: no fast-math flags, so LLVM neither reassociates the
additions nor fuses them. It keeps the ``k`` chains in registers and may
interleave them (for ``k`` from 2 to 8 the loop is written out per ``k``), it
never changes the order of any one column's additions. Pairwise summation,
numpy's order for a contiguous column, would give other bits.

The kernel also reports whether every sum is finite: where one is not, the
caller goes back to numpy (`compiled_sums` returns ``None``), which then
warns of an overflow just as before and leaves a NaN's payload as numpy
leaves it.

Compiling costs a process about 0.1 to 0.2 s of CPU and, where llvmlite was
not loaded yet, some 75 MB; the kernel saves about 18 ns a row. So a process
compiles it only once numpy has summed `COMPILE_AFTER` rows there (about
0.15 s of numpy's summing): short runs never pay for it, and a long one
loses at most those 0.15 s against compiling at once. The sums are the
same bits either way, so when the kernel starts changes no number.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from montecarlo._kernels.llvm import Compiled, switched_on

#: ``k`` from 2 to this have a loop of their own, with the sums in registers.
WRITTEN_OUT = 8

#: Rows a process sums with numpy before it compiles the kernel (once compiled, it sums every batch).
COMPILE_AFTER = 1 << 23


def _fixed(k: int) -> str:
    """``@sums_k``: the sums of ``k`` columns held in registers (phi nodes), stored at the end."""
    cols = range(k)
    phis = "\n".join(f"  %s{j} = phi double [ 0.0, %entry ], [ %t{j}, %rows ]" for j in cols)
    adds = "\n".join(
        f"  %p{j} = getelementptr double, double* %row, i64 {j}\n"
        f"  %v{j} = load double, double* %p{j}\n"
        f"  %t{j} = fadd double %s{j}, %v{j}"
        for j in cols
    )
    outs = "\n".join(f"  %r{j} = phi double [ 0.0, %entry ], [ %t{j}, %rows ]" for j in cols) + "\n"
    outs += "\n".join(
        f"  %o{j} = getelementptr double, double* %out, i64 {j}\n  store double %r{j}, double* %o{j}" for j in cols
    )
    return f"""
define internal void @sums_{k}(double* noalias nocapture readonly %x, i64 %n, double* noalias nocapture %out) {{
entry:
  %none = icmp sle i64 %n, 0
  br i1 %none, label %done, label %rows

rows:
  %i = phi i64 [ 0, %entry ], [ %i1, %rows ]
  %row = phi double* [ %x, %entry ], [ %next, %rows ]
{phis}
{adds}
  %next = getelementptr double, double* %row, i64 {k}
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %n
  br i1 %more, label %rows, label %done

done:
{outs}
  ret void
}}
"""


_ANY_K = """
define internal void @sums_any(double* noalias nocapture readonly %x, i64 %n, i64 %k,
                               double* noalias nocapture %out) {
entry:
  br label %zero

zero:
  %z = phi i64 [ 0, %entry ], [ %z1, %zero ]
  %pz = getelementptr double, double* %out, i64 %z
  store double 0.0, double* %pz
  %z1 = add i64 %z, 1
  %morez = icmp slt i64 %z1, %k
  br i1 %morez, label %zero, label %start

start:
  %none = icmp sle i64 %n, 0
  br i1 %none, label %done, label %row

row:
  %i = phi i64 [ 0, %start ], [ %i1, %rowend ]
  %base = phi double* [ %x, %start ], [ %nextbase, %rowend ]
  br label %col

col:
  %j = phi i64 [ 0, %row ], [ %j1, %col ]
  %pv = getelementptr double, double* %base, i64 %j
  %v = load double, double* %pv
  %po = getelementptr double, double* %out, i64 %j
  %s = load double, double* %po
  %t = fadd double %s, %v
  store double %t, double* %po
  %j1 = add i64 %j, 1
  %morej = icmp slt i64 %j1, %k
  br i1 %morej, label %col, label %rowend

rowend:
  %nextbase = getelementptr double, double* %base, i64 %k
  %i1 = add i64 %i, 1
  %morei = icmp slt i64 %i1, %n
  br i1 %morei, label %row, label %done

done:
  ret void
}
"""

_ENTRY = """
declare double @llvm.fabs.f64(double)

; out[j] = sum of column j of the C-ordered (n, k) array x, for k >= 1;
; returns 1 if every sum is finite, else 0.
define i32 @column_sums(double* noalias nocapture readonly %x, i64 %n, i64 %k, double* noalias nocapture %out) {{
entry:
  switch i64 %k, label %any [
{cases}
  ]

any:
  call void @sums_any(double* %x, i64 %n, i64 %k, double* %out)
  br label %check
{calls}
check:
  br label %each

each:
  %c = phi i64 [ 0, %check ], [ %c1, %finite ]
  %pc = getelementptr double, double* %out, i64 %c
  %r = load double, double* %pc
  %a = call double @llvm.fabs.f64(double %r)
  %ok = fcmp olt double %a, 0x7FF0000000000000
  br i1 %ok, label %finite, label %not

finite:
  %c1 = add i64 %c, 1
  %more = icmp slt i64 %c1, %k
  br i1 %more, label %each, label %all

all:
  ret i32 1

not:
  ret i32 0
}}
"""


def _ir() -> str:
    ks = range(2, WRITTEN_OUT + 1)
    cases = "\n".join(f"    i64 {k}, label %k{k}" for k in ks)
    calls = "".join(
        f"\nk{k}:\n  call void @sums_{k}(double* %x, i64 %n, double* %out)\n  br label %check\n" for k in ks
    )
    return "".join(_fixed(k) for k in ks) + _ANY_K + _ENTRY.format(cases=cases, calls=calls)


IR = _ir()


def prototypes() -> dict[str, Any]:
    """The kernel's ctypes prototype: ``int32 column_sums(double* x, int64 n, int64 k, double* out)``."""
    void_p, i64 = ctypes.c_void_p, ctypes.c_int64
    return {"column_sums": ctypes.CFUNCTYPE(ctypes.c_int32, void_p, i64, i64, void_p)}


#: The kernel, compiled once per process at its first use.
KERNEL = Compiled(IR, prototypes)


def assembly() -> str:
    """The kernel's machine code as assembly text, compiled as `kernel` runs it."""
    return KERNEL.assembly()


def kernel(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """The compiled loop itself: the column sums of ``x``, and whether all are finite.

    ``x`` must be a C-contiguous, aligned, native float64 array of shape
    ``(n, k)`` with ``k >= 1``: nothing is checked here.
    """
    n, k = x.shape
    out = np.empty(k)
    finite = KERNEL.functions()["column_sums"](x.ctypes.data, n, k, out.ctypes.data)
    return out, bool(finite)


def compiled_sums(x: np.ndarray) -> np.ndarray | None:
    """``np.add.reduce(x, axis=0)``, bit for bit, by the kernel; ``None`` to leave the sums to numpy.

    ``None`` where a sum is not finite, where the kernel is not `enabled`,
    and until numpy has summed `COMPILE_AFTER` rows in this process. As for
    `kernel`, ``x`` must be a C-contiguous, aligned, native float64
    array of shape ``(n, k)``.
    """
    if not KERNEL.ready(x.shape[0], COMPILE_AFTER):
        return None
    out, finite = kernel(x)
    return out if finite else None


def enabled() -> bool:
    """Whether the kernel may sum: ``MONTECARLO_JIT`` is not 0, and it compiles here (compiling it now)."""
    return switched_on() and KERNEL.compiles()
