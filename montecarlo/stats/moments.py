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

from montecarlo.stats.sums import BatchStats, batch_stats


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
        """Moments of a batch ``x`` of shape ``(n, k)``, in the engine's order (exact for 0/1 data)."""
        return cls.of(batch_stats_of(x))

    @classmethod
    def of(cls, batch: BatchStats) -> Moments:
        """The moments among a batch's statistics."""
        return cls(batch.n, batch.mean, batch.comoment)

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


def batch_stats_of(x: np.ndarray) -> BatchStats:
    """The `BatchStats` of a batch ``x`` of shape ``(n, k)`` in the engine's order (`montecarlo.stats.sums`).

    A single 0/1 output's statistics follow from its hit count, exactly,
    without a float copy of the batch (the hot path of the π model).
    """
    n, k = x.shape
    if x.dtype.kind == "b" and k == 1:
        hits = float(np.count_nonzero(x))
        mean, m2, m3, m4, lo, hi = hit_row(hits, n)
        return BatchStats(
            n, np.array([mean]), np.array([[m2]]), np.array([m3]), np.array([m4]), np.array([lo]), np.array([hi])
        )
    return batch_stats(x)


def hit_row(hits: float, n: int) -> tuple[float, float, float, float, float, float]:
    """``(mean, m2, m3, m4, minimum, maximum)`` of ``n`` 0/1 outcomes with ``hits`` ones: all from the hit count."""
    p = hits / n
    a, b = 1.0 - p, -p  # the deviations of a hit and of a miss
    a2, b2 = a * a, b * b
    return (
        p, hits * (n - hits) / n, hits * a2 * a + (n - hits) * b2 * b,
        hits * a2 * a2 + (n - hits) * b2 * b2, 0.0 if hits < n else 1.0, 1.0 if hits > 0 else 0.0,
    )  # fmt: skip


def fold(parts) -> Moments | None:
    """Merge accumulators left to right (the order fixes the floating-point result)."""
    total = None
    for m in parts:
        total = m if total is None else total.merge(m)
    return total
