"""The engine's own arithmetic: the order of every sum it computes over a batch.

numpy's ``sum``, ``mean`` and ``dot`` choose how to associate their additions
by build and by CPU (pairwise blocks, SIMD width, the BLAS kernel OpenBLAS
picks for the processor), so statistics computed with them differ in their
last bits from one machine to another. The engine defines the order itself,
so that its numbers are the same on every CPU, BLAS and supported numpy,
with or without the compiled kernels (`ARITHMETIC` is this definition's
version, recorded in every result, checkpoint and cache entry):

**Lanes, then halves** (``W = 32``). The sum of ``x[0], ..., x[n-1]``:

1. 32 lane accumulators start at +0.0; for ``i = 0, 1, ..., n - 1`` in
   order, ``s[i mod 32] = s[i mod 32] + x[i]``;
2. the lanes are combined by halving: while the width ``w > 1``,
   ``s[j] = s[j] + s[j + w/2]`` for ``j < w/2`` (32, 16, 8, 4, 2); the sum
   is ``s[0]``.

The statistics of a batch ``X`` of shape ``(n, k)`` (row ``i`` in lane
``i mod 32`` for every column) are, each operation one IEEE 754 double
operation rounded to nearest, no fused multiply-add:

- ``mean_j = sum(X[:, j]) / n``; deviations ``D = X - mean``;
- co-moments ``C[a, b] = sum(D[:, a] * D[:, b])`` (``a <= b``, mirrored);
- ``d2 = D * D``, ``m3 = sum(d2 * D)``, ``m4 = sum(d2 * d2)`` per column;
- minimum and maximum of each column, each ``+ 0.0`` (so -0.0 is reported as
  +0.0 and the result does not depend on the order of comparisons).

Here the order is written with numpy's elementwise operations and
``np.add.accumulate`` (sequential by definition); `montecarlo._kernels`
computes the same bits in one compiled pass, and `batch_stats` uses it when
it is compiled. Merges of batches and blocks are Chan's and Pébay's
formulas, elementwise (`montecarlo.stats.moments`, `montecarlo.stats.shape`).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np

import montecarlo._kernels as kernels

#: The version of the engine's arithmetic (the order above). Files record it; runs of
#: different versions are never mixed (a resume, an extension, the cache).
ARITHMETIC = 2

#: Lanes of the summation order.
W = 32
#: Doubles per ``np.add.accumulate`` call: its output (as large as its input) stays in cache.
_GROUP = 1 << 15


class BatchStats(NamedTuple):
    """The statistics of a batch of ``n`` samples of ``k`` outputs, in the engine's order."""

    n: int
    mean: np.ndarray  # (k,)
    comoment: np.ndarray  # (k, k)
    m3: np.ndarray  # (k,)
    m4: np.ndarray  # (k,)
    minimum: np.ndarray  # (k,)
    maximum: np.ndarray  # (k,)


def lanes(a: np.ndarray, scratch: np.ndarray | None = None) -> np.ndarray:
    """The 32 per-lane sequential sums (step 1) of each row of ``a`` of shape ``(q, n)``: shape ``(q, 32)``.

    ``np.add.accumulate`` starts each lane at its first element rather than
    +0.0; adding +0.0 afterwards gives exactly the +0.0 start (they differ
    only for a lane of all -0.0). ``scratch`` of shape ``(g, n // 32, 32)``
    receives the accumulations, ``g`` rows at a time.
    """
    q, n = a.shape
    m, r = divmod(n, W)
    out = np.zeros((q, W))
    if m:
        if scratch is None:
            scratch = np.empty((max(1, min(q, _GROUP // n)), m, W))
        g = scratch.shape[0]
        for i in range(0, q, g):
            j = min(q, i + g)
            acc = np.add.accumulate(a[i:j, : W * m].reshape(j - i, m, W), axis=1, out=scratch[: j - i])
            np.add(acc[:, -1], 0.0, out=out[i:j])
    if r:
        out[:, :r] += a[:, W * m :]
    return out


def halve(s: np.ndarray) -> np.ndarray:
    """The lanes (last axis, 32 wide) combined by halving (step 2); that axis is dropped."""
    w = W
    while w > 1:
        w //= 2
        s = s[..., :w] + s[..., w : 2 * w]
    return s[..., 0]


def lane_sum(x: np.ndarray) -> float:
    """The sum of a vector of ``n >= 1`` float64 values, in the engine's order."""
    x = np.ascontiguousarray(x, dtype=np.float64).reshape(1, -1)
    with np.errstate(all="ignore"):
        return float(halve(lanes(x))[0])


def numpy_batch_stats(x: np.ndarray) -> BatchStats:
    """`BatchStats` of a float64 batch ``x`` of shape ``(n, k)``, written in numpy (the reference).

    Works on the transposed copy ``(k, n)`` so that every loop is
    contiguous; the products and powers go into one array and one pass of
    lane sums.
    """
    n, k = x.shape
    xt = np.ascontiguousarray(x.T)
    with np.errstate(all="ignore"):  # overflow, inf - inf: the run reports them, the order defines them
        mean = halve(lanes(xt)) / n  # one IEEE division each
        d = xt - mean[:, None]
        rows, cols = _pairs(k)
        p = rows.size
        q = np.empty((p + 2 * k, n))
        for a in range(k):  # the rows (a, a), (a, a + 1), ... (a, k - 1)
            i = a * k - a * (a - 1) // 2
            np.multiply(d[a], d[a:], out=q[i : i + k - a])
        d2 = d * d  # the same bits as the diagonal pairs
        np.multiply(d2, d, out=q[p : p + k])
        np.multiply(d2, d2, out=q[p + k :])
        sums = halve(lanes(q))
        comoment = np.empty((k, k))
        comoment[rows, cols] = sums[:p]
        comoment[cols, rows] = sums[:p]
        lo = np.minimum.reduce(xt, axis=1) + 0.0  # the minimum of a set: no order
        hi = np.maximum.reduce(xt, axis=1) + 0.0
    return BatchStats(n, mean, comoment, sums[p : p + k], sums[p + k :], lo, hi)


_PAIRS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _pairs(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major indices of the upper triangle, the order of the co-moment pairs (kept: numpy's costs microseconds)."""
    found = _PAIRS.get(k)
    if found is None:
        found = _PAIRS[k] = np.triu_indices(k)
    return found


class _Buffers(threading.local):
    """Each thread's buffers for one column's powers and their lane sums."""

    n = -1
    powers: np.ndarray
    acc1: np.ndarray
    acc3: np.ndarray


_LOCAL = _Buffers()


def numpy_column_stats(c: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """``(mean, m2, m3, m4, minimum, maximum)`` of one contiguous float64 column, written in numpy.

    The numbers of `numpy_batch_stats` of the column as a ``(n, 1)`` batch,
    as Python floats, with each thread's buffers reused from batch to batch.
    """
    n = c.shape[0]
    b = _LOCAL
    if b.n != n:
        b.powers, b.acc1, b.acc3, b.n = np.empty((3, n)), np.empty((1, n // W, W)), np.empty((3, n // W, W)), n
    with np.errstate(all="ignore"):
        mean = float(halve(lanes(c.reshape(1, n), b.acc1))[0]) / n
        pw = b.powers
        d = pw[1]  # overwritten by d2 * d last
        np.subtract(c, mean, out=d)
        np.multiply(d, d, out=pw[0])
        np.multiply(pw[0], pw[0], out=pw[2])
        np.multiply(pw[0], d, out=pw[1])
        m2, m3, m4 = halve(lanes(pw, b.acc3)).tolist()
        lo = float(np.minimum.reduce(c)) + 0.0
        hi = float(np.maximum.reduce(c)) + 0.0
    return mean, m2, m3, m4, lo, hi


def batch_stats(x: np.ndarray) -> BatchStats:
    """`BatchStats` of a batch ``x`` of shape ``(n, k)`` (any real dtype), compiled where it is.

    The compiled kernels (`montecarlo._kernels`) and `numpy_batch_stats`
    give the same bits; which one runs changes no number.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.shape[1] == 1:
        mean, m2, m3, m4, lo, hi = column_stats(x.reshape(-1))
        return BatchStats(x.shape[0], np.array([mean]), np.array([[m2]]), *(np.array([v]) for v in (m3, m4, lo, hi)))
    compiled = kernels.batch_stats(x)
    return BatchStats(*compiled) if compiled is not None else numpy_batch_stats(x)


def column_stats(c: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """``(mean, m2, m3, m4, minimum, maximum)`` of one contiguous float64 column, compiled where it is."""
    compiled = kernels.column_stats(c)
    return compiled if compiled is not None else numpy_column_stats(c)


def column_means(x: np.ndarray) -> np.ndarray:
    """The mean of each column of ``x`` of shape ``(n, k)``, in the engine's order."""
    xt = np.ascontiguousarray(np.asarray(x, dtype=np.float64).T)
    with np.errstate(all="ignore"):
        return halve(lanes(xt)) / x.shape[0]
