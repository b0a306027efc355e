"""Streaming moments: the accumulator every block returns, and its merge.

`Moments` is the accumulator every block returns: sample count, mean vector
and co-moment matrix (sum of outer products of deviations from the mean).
Accumulators are merged with the pairwise update of Chan, Golub & LeVeque,
"Algorithms for computing the sample variance" (1979/1983), which never forms
raw sums of squares and so stays accurate for any sample count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from montecarlo._kernels.column_sums import compiled_sums  # loads no llvmlite: the first compiled sum does


@dataclass(frozen=True, eq=False)
class Moments:
    """Count, mean vector and co-moment matrix of ``k`` outputs.

    ``comoment[i, j] = sum_s (x_si - mean_i) (x_sj - mean_j)``.
    """

    count: int
    mean: np.ndarray  # (k,)
    comoment: np.ndarray  # (k, k)

    @classmethod
    def empty(cls, k: int) -> Moments:
        """The accumulator of no samples of ``k`` outputs."""
        return cls(0, np.zeros(k), np.zeros((k, k)))

    @classmethod
    def from_batch(cls, x: np.ndarray) -> Moments:
        """Moments of a batch ``x`` of shape ``(n, k)`` (two-pass, exact for 0/1 data)."""
        return batch_moments(x)[0]

    def merge(self, other: Moments) -> Moments:
        """Chan et al. pairwise update: ``self`` followed by ``other``."""
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        if self.mean.size == 1:
            mean, comoment = merge_one(
                self.count,
                self.mean.item(),
                self.comoment.item(),
                other.count,
                other.mean.item(),
                other.comoment.item(),
            )
            return Moments(n, np.array([mean]), np.array([[comoment]]))
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        # delta[:, None] * delta is np.outer(delta, delta), without its Python wrapper
        comoment = self.comoment + other.comoment + delta[:, None] * delta * (self.count * other.count / n)
        return Moments(n, mean, comoment)

    def covariance(self) -> np.ndarray:
        """Unbiased sample covariance of the outputs (NaN when count < 2)."""
        if self.count < 2:
            return np.full_like(self.comoment, np.nan)
        return self.comoment / (self.count - 1)

    def mean_covariance(self) -> np.ndarray:
        """Covariance matrix of the mean estimates: ``covariance / count``."""
        return self.covariance() / self.count

    def standard_error(self) -> np.ndarray:
        """Standard error of each output's mean."""
        return np.sqrt(np.diag(self.mean_covariance()))

    def __eq__(self, other: object) -> bool:  # bitwise equality of every number
        if not isinstance(other, Moments):
            return NotImplemented
        return (
            self.count == other.count
            and np.array_equal(self.mean, other.mean)
            and np.array_equal(self.comoment, other.comoment)
        )

    def to_dict(self) -> dict:
        """The JSON form: count, mean and co-moment matrix as lists."""
        return {"count": self.count, "mean": self.mean.tolist(), "comoment": self.comoment.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Moments:
        """The accumulator back from its `to_dict` form."""
        mean = np.asarray(d["mean"], dtype=np.float64)
        return cls(int(d["count"]), mean, np.asarray(d["comoment"], dtype=np.float64).reshape(mean.size, mean.size))


def merge_one(
    na: int, mean_a: float, comoment_a: float, nb: int, mean_b: float, comoment_b: float
) -> tuple[float, float]:
    """`Moments.merge` of one output: the mean and co-moment of ``na`` samples followed by ``nb``.

    One output, as most models have: the operations of the general merge, in
    the same order, on Python floats. They round as numpy's float64
    operations do (the same bits), at a fraction of the cost of numpy's on
    1-element arrays; a worker merges once per batch.
    """
    n = na + nb
    delta = mean_b - mean_a
    return mean_a + delta * (nb / n), comoment_a + comoment_b + delta * delta * (na * nb / n)


def hit_moments(hits: float, n: int) -> tuple[float, float]:
    """Mean and co-moment of ``n`` 0/1 outcomes with ``hits`` ones (exact up to one rounding each)."""
    return hits / n, hits * (n - hits) / n


def batch_moments(x: np.ndarray) -> tuple[Moments, np.ndarray | None]:
    """The `Moments` of a batch ``x`` of shape ``(n, k)``, and its deviations from their means.

    The deviations ``x - mean`` (float64, shape ``(n, k)``) are the ones the
    co-moments are made of, handed on so that other statistics of the batch
    need not form them again; ``None`` for a single 0/1 output, whose
    moments follow from the hit count.
    """
    n, k = x.shape
    if x.dtype.kind == "b" and k == 1:
        # 0/1 outcomes: the hit count gives the moments exactly, without
        # converting the batch to floats (the hot path of the π model).
        mean, comoment = hit_moments(float(np.count_nonzero(x)), n)
        return Moments(n, np.array([mean]), np.array([[comoment]])), None
    if x.dtype != np.float64:  # another type, or float64 of the other byte order
        x = x.astype(np.float64)
    rows = k >= 2 and type(x) is np.ndarray and x.flags.c_contiguous and x.flags.aligned
    # numpy's row-by-row sums of a C-ordered batch, bit for bit, compiled
    # (the jit extra, unless MONTECARLO_JIT=0, once the process has summed
    # 2**23 rows); None where a sum is not finite, or not compiled.
    sums = compiled_sums(x) if rows else None
    if sums is None:
        # x.mean(axis=0) without numpy's Python wrapper: the same sum, divided by n.
        sums = np.add.reduce(x, axis=0)
    mean = sums / n
    if rows and k <= 4:
        # numpy subtracts a row of means row by row, a loop of k per row;
        # column by column it runs k long loops, 2-4 times faster for up to
        # four outputs (slower beyond). The same subtractions into the same
        # C-ordered array: the same bits.
        d = np.empty_like(x)
        for j in range(k):
            np.subtract(x[:, j], mean[j], out=d[:, j])
    else:
        d = x - mean
    return Moments(n, mean, d.T @ d), d


def fold(parts) -> Moments | None:
    """Merge accumulators left to right (the order fixes the floating-point result)."""
    total = None
    for m in parts:
        total = m if total is None else total.merge(m)
    return total
