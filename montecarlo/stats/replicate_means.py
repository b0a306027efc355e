"""Per-replicate means: the part a randomized quasi-Monte Carlo run keeps beside its moments.

Each block of such a run holds points of one replicate
(`montecarlo.core.layout`); its `ReplicateMeans` has that replicate's count and
mean vector and zeros elsewhere. Merged in block order, the folded part holds
every replicate's count and mean, from which `montecarlo.estimation.rqmc` makes the
estimates (the mean of the replicate means, a Student t interval on them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from montecarlo.stats.accumulators import Collector, Part
from montecarlo.stats.sums import BatchStats


@dataclass(frozen=True, eq=False)
class ReplicateMeans(Part):
    """Count and mean vector of each of ``R`` replicates.

    Attributes
    ----------
    counts : numpy.ndarray
        Shape ``(R,)``: points of each replicate folded so far.
    means : numpy.ndarray
        Shape ``(R, k)``: their mean outputs (zeros where the count is 0).
    """

    name: ClassVar[str] = "replicates"

    counts: np.ndarray
    means: np.ndarray

    @classmethod
    def of_means(cls, n: int, mean: np.ndarray, replicate: int, replicates: int) -> ReplicateMeans:
        """The part of a batch of ``n`` points of one replicate, whose mean outputs are ``mean``."""
        counts = np.zeros(replicates, dtype=np.int64)
        means = np.zeros((replicates, mean.size))
        counts[replicate] = n
        means[replicate] = mean
        return cls(counts, means)

    def merge(self, other: Part) -> ReplicateMeans:
        """``self`` followed by ``other``: each replicate's mean by the pairwise update (Chan et al.)."""
        if not isinstance(other, ReplicateMeans) or other.counts.shape != self.counts.shape:
            raise ValueError("replicate means of runs with different replicate counts cannot be merged")
        n = self.counts + other.counts
        # A replicate absent from one side keeps the other's mean exactly:
        # weight 0 adds (other - self)·0 = ±0, weight 1 gives 0 + other·1.
        w = np.divide(other.counts, n, out=np.zeros(n.shape), where=n > 0)
        return ReplicateMeans(n, self.means + (other.means - self.means) * w[:, None])

    def __eq__(self, other: object) -> bool:  # bitwise equality of every number
        if not isinstance(other, ReplicateMeans):
            return NotImplemented
        return np.array_equal(self.counts, other.counts) and np.array_equal(self.means, other.means)

    def to_dict(self) -> dict:
        """The JSON form: ``counts`` and ``means`` as lists."""
        return {"counts": self.counts.tolist(), "means": self.means.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReplicateMeans:
        """The part back from its `to_dict` form."""
        counts = np.asarray(d["counts"], dtype=np.int64).reshape(-1)
        means = np.asarray(d["means"], dtype=np.float64).reshape(counts.size, -1)
        return cls(counts, means)


@dataclass(frozen=True)
class ReplicateCollector(Collector):
    """Makes a block's `ReplicateMeans`: global block ``index`` belongs to replicate ``index % replicates``."""

    name: ClassVar[str] = ReplicateMeans.name

    replicates: int

    def collect(self, x: np.ndarray, index: int, batch: BatchStats) -> ReplicateMeans:
        """The part of batch ``x`` of block ``index``."""
        return ReplicateMeans.of_means(batch.n, batch.mean, index % self.replicates, self.replicates)
