"""One output's batch, compiled (the ``jit`` extra): numpy's bits, in two passes where numpy takes five.

A block of one float output folds each batch from its mean, its deviations
``d = c - mean``, their squares ``d * d``, and its minimum and maximum
(`montecarlo.stats.shape.OneOutputFold`). numpy takes five passes over the batch
for those (a sum, a subtraction, a multiplication, a minimum and a maximum),
each behind a ufunc call. The kernel makes the same operations in two:

- the sum, in numpy's own order: ``np.add.reduce`` of a contiguous float64
  column is ``0.0 + pairwise(c, n)``, where ``pairwise`` adds blocks of up to
  128 values with eight accumulators, ``r[j] += c[i + j]``, combines them as
  ``((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, adds the last
  ``n % 8`` values one by one, and halves longer ranges at a multiple of 8.
  The eight accumulators are one vector register of eight lanes here: each
  lane makes exactly the additions of its accumulator, in order;
- the deviations and their squares (IEEE subtraction and multiplication,
  no fused multiply-add), the minimum and the maximum.

The minimum and maximum are exact whatever the order of comparisons, except
for ties between ``-0.0`` and ``+0.0`` and for NaN, where numpy's answer
depends on its own order: the kernel reports either, and the caller then
asks numpy. The dot products of the deviations stay numpy's (BLAS).

Before a process first uses the kernel, it checks the kernel's sums and
passes against numpy's on arrays of awkward lengths: a numpy that sums in
another order keeps its numpy code. Compiling costs 0.1-0.2 s of CPU, so
the kernel runs only once numpy has passed over `COMPILE_AFTER` values in
the process, as for the column sums (`montecarlo._kernels.column_sums`).
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from montecarlo._kernels.llvm import Compiled, Scratch

#: Values a process passes over with numpy before it compiles the kernel.
COMPILE_AFTER = 1 << 23

_LANES = "\n".join(f"  %e{j} = extractelement <8 x double> %rf, i32 {j}" for j in range(8))

IR = (
    """
; numpy's pairwise sum of a[0], ..., a[n - 1] (loops_utils.h.src), n >= 0
define internal double @pairwise(double* nocapture readonly %a, i64 %n) {
entry:
  %small = icmp slt i64 %n, 8
  br i1 %small, label %tiny, label %notsmall

tiny:
  %empty = icmp eq i64 %n, 0
  br i1 %empty, label %tinydone, label %tinyloop

tinyloop:
  %ti = phi i64 [ 0, %tiny ], [ %ti1, %tinyloop ]
  %ts = phi double [ -0.0, %tiny ], [ %ts1, %tinyloop ]
  %tp = getelementptr double, double* %a, i64 %ti
  %tv = load double, double* %tp
  %ts1 = fadd double %ts, %tv
  %ti1 = add i64 %ti, 1
  %tmore = icmp slt i64 %ti1, %n
  br i1 %tmore, label %tinyloop, label %tinydone

tinydone:
  %tr = phi double [ -0.0, %tiny ], [ %ts1, %tinyloop ]
  ret double %tr

notsmall:
  %big = icmp sgt i64 %n, 128
  br i1 %big, label %split, label %block

block:
  %v0p = bitcast double* %a to <8 x double>*
  %r0 = load <8 x double>, <8 x double>* %v0p, align 8
  %rem = srem i64 %n, 8
  %end = sub i64 %n, %rem
  %has = icmp slt i64 8, %end
  br i1 %has, label %bloop, label %bdone

bloop:
  %bi = phi i64 [ 8, %block ], [ %bi1, %bloop ]
  %r = phi <8 x double> [ %r0, %block ], [ %r1, %bloop ]
  %bp = getelementptr double, double* %a, i64 %bi
  %bvp = bitcast double* %bp to <8 x double>*
  %bv = load <8 x double>, <8 x double>* %bvp, align 8
  %r1 = fadd <8 x double> %r, %bv
  %bi1 = add i64 %bi, 8
  %bmore = icmp slt i64 %bi1, %end
  br i1 %bmore, label %bloop, label %bdone

bdone:
  %rf = phi <8 x double> [ %r0, %block ], [ %r1, %bloop ]
"""
    + _LANES
    + """
  %s01 = fadd double %e0, %e1
  %s23 = fadd double %e2, %e3
  %s45 = fadd double %e4, %e5
  %s67 = fadd double %e6, %e7
  %s03 = fadd double %s01, %s23
  %s47 = fadd double %s45, %s67
  %res = fadd double %s03, %s47
  %hasrest = icmp slt i64 %end, %n
  br i1 %hasrest, label %rest, label %restdone

rest:
  %ri = phi i64 [ %end, %bdone ], [ %ri1, %rest ]
  %rs = phi double [ %res, %bdone ], [ %rs1, %rest ]
  %rp = getelementptr double, double* %a, i64 %ri
  %rv = load double, double* %rp
  %rs1 = fadd double %rs, %rv
  %ri1 = add i64 %ri, 1
  %rmore = icmp slt i64 %ri1, %n
  br i1 %rmore, label %rest, label %restdone

restdone:
  %out = phi double [ %res, %bdone ], [ %rs1, %rest ]
  ret double %out

split:
  %half = sdiv i64 %n, 2
  %hrem = srem i64 %half, 8
  %n2 = sub i64 %half, %hrem
  %left = call double @pairwise(double* %a, i64 %n2)
  %ap = getelementptr double, double* %a, i64 %n2
  %nr = sub i64 %n, %n2
  %right = call double @pairwise(double* %ap, i64 %nr)
  %both = fadd double %left, %right
  ret double %both
}

; n >= 1 values c. out[0] = mean = (0.0 + pairwise(c, n)) / n; d[i] = c[i] - mean;
; d2[i] = d[i] * d[i]; out[1] = min, out[2] = max. Returns 1 when those are
; numpy's minimum and maximum: no NaN and no -0.0 among the values; else 0.
define i32 @column_pass(double* noalias nocapture readonly %c, i64 %n, double* noalias nocapture %d,
                        double* noalias nocapture %d2, double* noalias nocapture %out) {
entry:
  %pw = call double @pairwise(double* %c, i64 %n)
  %sum = fadd double 0.0, %pw
  %nf = sitofp i64 %n to double
  %mean = fdiv double %sum, %nf
  store double %mean, double* %out
  br label %loop

loop:
  %i = phi i64 [ 0, %entry ], [ %i1, %loop ]
  %lo = phi double [ 0x7FF0000000000000, %entry ], [ %lo1, %loop ]
  %hi = phi double [ 0xFFF0000000000000, %entry ], [ %hi1, %loop ]
  %odd = phi i64 [ 0, %entry ], [ %odd1, %loop ]
  %p = getelementptr double, double* %c, i64 %i
  %v = load double, double* %p
  %dv = fsub double %v, %mean
  %pd = getelementptr double, double* %d, i64 %i
  store double %dv, double* %pd
  %sq = fmul double %dv, %dv
  %pq = getelementptr double, double* %d2, i64 %i
  store double %sq, double* %pq
  %lt = fcmp nnan nsz olt double %v, %lo
  %lo1 = select nnan nsz i1 %lt, double %v, double %lo
  %gt = fcmp nnan nsz ogt double %v, %hi
  %hi1 = select nnan nsz i1 %gt, double %v, double %hi
  %bits = bitcast double %v to i64
  %negzero = icmp eq i64 %bits, -9223372036854775808
  %nan = fcmp uno double %v, 0.0
  %bad = or i1 %negzero, %nan
  %bad64 = zext i1 %bad to i64
  %odd1 = or i64 %odd, %bad64
  %i1 = add i64 %i, 1
  %more = icmp slt i64 %i1, %n
  br i1 %more, label %loop, label %done

done:
  %plo = getelementptr double, double* %out, i64 1
  store double %lo1, double* %plo
  %phi = getelementptr double, double* %out, i64 2
  store double %hi1, double* %phi
  %ok = icmp eq i64 %odd1, 0
  %ret = zext i1 %ok to i32
  ret i32 %ret
}
"""
)


def prototypes() -> dict[str, Any]:
    """``int32 column_pass(double* c, int64 n, double* d, double* d2, double* out)``."""
    void_p, i64 = ctypes.c_void_p, ctypes.c_int64
    return {"column_pass": ctypes.CFUNCTYPE(ctypes.c_int32, void_p, i64, void_p, void_p, void_p)}


#: The kernel, compiled once per process at its first use.
KERNEL = Compiled(IR, prototypes)
_agrees: bool | None = None  # whether the kernel gives numpy's bits here (checked once)
#: Each thread's buffers: deviations, their squares, and the three results (mean, minimum, maximum).
_SCRATCH = Scratch(np.float64, np.float64, np.float64, least=1 << 14)


def _address(c: np.ndarray) -> int:
    """The address of ``c``'s data (a writable array's by ctypes, in a fraction of ``c.ctypes.data``'s time)."""
    if c.flags.writeable:
        return ctypes.addressof(ctypes.c_char.from_buffer(c))  # type: ignore[arg-type]  # an ndarray is a buffer
    return int(c.__array_interface__["data"][0])


def kernel(c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float, float, bool]:
    """The compiled pass itself over a contiguous, aligned, native float64 1-D array ``c`` of at least one value.

    Returns the mean, the deviations and their squares (views of the calling
    thread's buffers, valid until its next pass), the minimum, the maximum,
    and whether those two are numpy's. Nothing is checked here.
    """
    n = c.shape[0]
    (d, d2, out), (d_at, d2_at, out_at) = _SCRATCH.get(n)
    exact = KERNEL.functions()["column_pass"](_address(c), n, d_at, d2_at, out_at)
    return out.item(0), d[:n], d2[:n], out.item(1), out.item(2), bool(exact)


def squares_and_bounds(c: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, float, float]:
    """By numpy: the squares of the deviations ``d`` of column ``c``, and its minimum and maximum."""
    # minimum.reduce is what c.min() calls, without its Python wrapper
    return d * d, float(np.minimum.reduce(c)), float(np.maximum.reduce(c))


def numpy_pass(c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float, float]:
    """What `kernel` computes, by numpy: mean, deviations, their squares, minimum, maximum."""
    mean = float(np.add.reduce(c)) / c.shape[0]
    d = c - mean
    return (mean, d, *squares_and_bounds(c, d))


def _agrees_with_numpy() -> bool:
    """Whether the kernel gives numpy's bits on arrays of awkward lengths (once per process)."""
    global _agrees
    if _agrees is None:
        rng = np.random.Generator(np.random.SFC64(20261126))
        _agrees = True
        for n in (1, 7, 8, 9, 127, 128, 129, 136, 255, 256, 1000, 4097, 16384, 65537):
            c = rng.standard_normal(n) * np.exp(8.0 * rng.standard_normal(n))
            mean, d, d2, lo, hi, exact = kernel(c)
            want = numpy_pass(c)
            same = exact and (mean, lo, hi) == (want[0], want[3], want[4])
            if not (same and np.array_equal(d, want[1]) and np.array_equal(d2, want[2])):
                _agrees = False
                break
    return _agrees


def column_pass(c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, float, float]:
    """``numpy_pass(c)`` for a float64 column ``c`` of at least one value, by the kernel where it may run.

    The kernel runs where ``MONTECARLO_JIT`` allows it, it compiles and
    agrees with numpy here, numpy has passed over `COMPILE_AFTER` values in
    this process, and ``c`` is contiguous, aligned and native; numpy
    otherwise, and for the minimum and maximum of a column holding NaN or
    ``-0.0``. The kernel's deviations and squares are the calling thread's
    buffers: use them before its next pass.
    """
    if not (c.flags.c_contiguous and c.flags.aligned and c.dtype.isnative):
        return numpy_pass(c)
    if not (KERNEL.ready(c.shape[0], COMPILE_AFTER) and _agrees_with_numpy()):
        return numpy_pass(c)
    mean, d, d2, lo, hi, exact = kernel(c)
    if not exact:
        lo, hi = float(np.minimum.reduce(c)), float(np.maximum.reduce(c))
    return mean, d, d2, lo, hi


def assembly() -> str:
    """The kernel's machine code as assembly text, compiled as `kernel` runs it."""
    return KERNEL.assembly()
