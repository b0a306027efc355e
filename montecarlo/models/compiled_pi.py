"""The π model's compiled hit counters (imported only where numba is installed; see `kernels`).

Module-level functions, so that numba caches their machine code on disk and
a worker loads it instead of compiling it again.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import types, uint64
from numba.extending import intrinsic


@intrinsic
def _state_pointer(typingctx: Any, address: Any) -> Any:
    """The address of a bit generator's state, as a pointer to its 64-bit words."""
    sig = types.CPointer(types.uint64)(address)

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        return builder.inttoptr(args[0], context.get_value_type(types.CPointer(types.uint64)))

    return sig, codegen


# nogil: the thread executor runs kernels side by side. No fastmath: the
# arithmetic must round as numpy's does (no fused multiply-add, no reordering).
@numba.njit(cache=True, nogil=True)
def sfc64_quarter_disc(address: int, n: int) -> np.ndarray:  # pragma: no cover - compiled
    """Hits of ``n`` points drawn from the SFC64 state at ``address`` (x's first, then y's), state advanced."""
    s = numba.carray(_state_pointer(address), 4)  # type: ignore[call-arg]  # numba passes the typing context
    a, b, c, counter = s[0], s[1], s[2], s[3]
    one, s3, s11, s24, s40 = uint64(1), uint64(3), uint64(11), uint64(24), uint64(40)
    unit = 1.0 / 9007199254740992.0  # 2**-53: numpy's next_double
    xx = np.empty(n)
    # The numpy code fills a (2, n) array: all n x's first, then the y's.
    for i in range(n):
        t = a + b + counter  # numpy's sfc64_next
        counter += one
        a = b ^ (b >> s11)
        b = c + (c << s3)
        c = ((c << s24) | (c >> s40)) + t
        x = (t >> s11) * unit
        xx[i] = x * x
    hit = np.empty(n, np.bool_)
    for i in range(n):
        t = a + b + counter
        counter += one
        a = b ^ (b >> s11)
        b = c + (c << s3)
        c = ((c << s24) | (c >> s40)) + t
        y = (t >> s11) * unit
        hit[i] = xx[i] + y * y <= 1.0
    s[0], s[1], s[2], s[3] = a, b, c, counter
    return hit


@numba.njit(cache=True, nogil=True)
def generator_quarter_disc(rng: Any, n: int) -> np.ndarray:  # pragma: no cover - compiled
    """Hits of ``n`` points drawn with ``rng.random()`` (any bit generator; x's first, then y's)."""
    xx = np.empty(n)
    for i in range(n):
        x = rng.random()
        xx[i] = x * x
    hit = np.empty(n, np.bool_)
    for i in range(n):
        y = rng.random()
        hit[i] = xx[i] + y * y <= 1.0
    return hit
