"""The π model's compiled hit counters: a few lines of LLVM IR, compiled by llvmlite (see `kernels`).

llvmlite is numba's code generator, installed with it. Compiling this IR
directly takes milliseconds and about 60 MB of a worker's memory, where
loading even a cached numba function takes about a second of CPU and twice
that memory, in every worker process. The IR is what numba makes of the
loop below, written out so that nothing else has to load:

    for i in range(n):               # then the same for y, with
        x = next_double()            #   hit[i] = xx[i] + y * y <= 1.0
        xx[i] = x * x

Both functions draw exactly the doubles numpy's ``Generator.random`` draws
(x's first, then y's, as the numpy code fills its ``(2, n)`` buffer) and
round exactly the same operations: IEEE multiplications and one addition,
no fast-math flags (so no fused multiply-add), and the comparison ``<=``.

- ``sfc64_quarter_disc`` steps SFC64 inline on the bit generator's own
  state words, as numpy's ``sfc64_next`` does (C. Doty-Humphrey's Small
  Fast Chaotic generator), and converts as numpy's ``next_double`` does,
  ``(t >> 11) * 2**-53``; the state is written back, so the Generator
  continues where the numpy code would have left it.
- ``generator_quarter_disc`` calls the bit generator's own ``next_double``
  through its function pointer (numpy's ``bit_generator.ctypes``): any bit
  generator.
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from montecarlo._kernels.llvm import Compiled, Scratch

_STEP = """
  %ab{j} = add i64 %a{j}, %b{j}
  %t{j} = add i64 %ab{j}, %k{j}
  %kn{j} = add i64 %k{j}, 1
  %bs{j} = lshr i64 %b{j}, 11
  %an{j} = xor i64 %b{j}, %bs{j}
  %cs{j} = shl i64 %c{j}, 3
  %bn{j} = add i64 %c{j}, %cs{j}
  %cl{j} = shl i64 %c{j}, 24
  %cr{j} = lshr i64 %c{j}, 40
  %rot{j} = or i64 %cl{j}, %cr{j}
  %cn{j} = add i64 %rot{j}, %t{j}
  %m{j} = lshr i64 %t{j}, 11
  %f{j} = uitofp i64 %m{j} to double
  %u{j} = fmul double %f{j}, 0x3CA0000000000000
"""

_IR = (
    """
define void @sfc64_quarter_disc(i64* nocapture %s, i64 %n, double* nocapture %xx, i8* nocapture %hit) {
entry:
  %p1 = getelementptr i64, i64* %s, i64 1
  %p2 = getelementptr i64, i64* %s, i64 2
  %p3 = getelementptr i64, i64* %s, i64 3
  %a0 = load i64, i64* %s
  %b0 = load i64, i64* %p1
  %c0 = load i64, i64* %p2
  %k0 = load i64, i64* %p3
  %none = icmp sle i64 %n, 0
  br i1 %none, label %done, label %xs

xs:
  %i = phi i64 [ 0, %entry ], [ %i1, %xs ]
  %ax = phi i64 [ %a0, %entry ], [ %anx, %xs ]
  %bx = phi i64 [ %b0, %entry ], [ %bnx, %xs ]
  %cx = phi i64 [ %c0, %entry ], [ %cnx, %xs ]
  %kx = phi i64 [ %k0, %entry ], [ %knx, %xs ]
"""
    + _STEP.format(j="x")
    + """
  %x2 = fmul double %ux, %ux
  %px = getelementptr double, double* %xx, i64 %i
  store double %x2, double* %px
  %i1 = add i64 %i, 1
  %morex = icmp slt i64 %i1, %n
  br i1 %morex, label %xs, label %ys

ys:
  %q = phi i64 [ 0, %xs ], [ %q1, %ys ]
  %ay = phi i64 [ %anx, %xs ], [ %any, %ys ]
  %by = phi i64 [ %bnx, %xs ], [ %bny, %ys ]
  %cy = phi i64 [ %cnx, %xs ], [ %cny, %ys ]
  %ky = phi i64 [ %knx, %xs ], [ %kny, %ys ]
"""
    + _STEP.format(j="y")
    + """
  %y2 = fmul double %uy, %uy
  %pq = getelementptr double, double* %xx, i64 %q
  %xq = load double, double* %pq
  %r2 = fadd double %xq, %y2
  %in = fcmp ole double %r2, 1.0
  %h = zext i1 %in to i8
  %ph = getelementptr i8, i8* %hit, i64 %q
  store i8 %h, i8* %ph
  %q1 = add i64 %q, 1
  %morey = icmp slt i64 %q1, %n
  br i1 %morey, label %ys, label %save

save:
  store i64 %any, i64* %s
  store i64 %bny, i64* %p1
  store i64 %cny, i64* %p2
  store i64 %kny, i64* %p3
  br label %done

done:
  ret void
}

define void @generator_quarter_disc(double (i8*)* %next, i8* %state, i64 %n, double* nocapture %xx,
                                    i8* nocapture %hit) {
entry:
  %none = icmp sle i64 %n, 0
  br i1 %none, label %done, label %xs

xs:
  %i = phi i64 [ 0, %entry ], [ %i1, %xs ]
  %x = call double %next(i8* %state)
  %x2 = fmul double %x, %x
  %px = getelementptr double, double* %xx, i64 %i
  store double %x2, double* %px
  %i1 = add i64 %i, 1
  %morex = icmp slt i64 %i1, %n
  br i1 %morex, label %xs, label %ys

ys:
  %q = phi i64 [ 0, %xs ], [ %q1, %ys ]
  %y = call double %next(i8* %state)
  %y2 = fmul double %y, %y
  %pq = getelementptr double, double* %xx, i64 %q
  %xq = load double, double* %pq
  %r2 = fadd double %xq, %y2
  %in = fcmp ole double %r2, 1.0
  %h = zext i1 %in to i8
  %ph = getelementptr i8, i8* %hit, i64 %q
  store i8 %h, i8* %ph
  %q1 = add i64 %q, 1
  %morey = icmp slt i64 %q1, %n
  br i1 %morey, label %ys, label %done

done:
  ret void
}
"""
)


def prototypes() -> dict[str, Any]:
    """The ctypes prototypes of both functions."""
    void_p, i64 = ctypes.c_void_p, ctypes.c_int64
    return {
        "sfc64_quarter_disc": ctypes.CFUNCTYPE(None, void_p, i64, void_p, void_p),
        "generator_quarter_disc": ctypes.CFUNCTYPE(None, void_p, void_p, i64, void_p, void_p),
    }


#: Both functions, compiled once per process at the first use of either.
KERNEL = Compiled(_IR, prototypes)


def assembly() -> str:
    """The machine code of both functions as assembly text, compiled as `quarter_disc` runs it."""
    return KERNEL.assembly()


#: Each thread's buffers: the squares of the x's, and the hits.
_SCRATCH = Scratch(np.float64, np.bool_, least=1 << 16)


def quarter_disc(rng: np.random.Generator, n: int) -> np.ndarray:
    """``x² + y² ≤ 1`` for ``n`` points of ``rng`` (x's first, then y's), as a fresh bool array."""
    functions = KERNEL.functions()
    (_, hit), (xx_address, hit_address) = _SCRATCH.get(n)
    bits = rng.bit_generator
    handles = bits.ctypes
    if type(bits) is np.random.SFC64:
        functions["sfc64_quarter_disc"](handles.state_address, n, xx_address, hit_address)
    else:
        next_double = ctypes.cast(handles.next_double, ctypes.c_void_p).value
        functions["generator_quarter_disc"](next_double, handles.state_address, n, xx_address, hit_address)
    return hit[:n].copy()
