"""Shape of each output's distribution: third and fourth central moments, minimum and maximum.

`Shape` is a part (`montecarlo.stats.accumulators`) every run keeps beside its
moments. Skewness and kurtosis tell when a normal or Student t interval of a
mean cannot be trusted (`montecarlo.estimation.diagnostics`); the extremes bound the
largest single contribution to the variance.

Sums of powers of deviations are merged with the pairwise updates of
P. Pébay, "Formulas for robust, one-pass parallel computation of covariances
and arbitrary-order statistical moments", Sandia report SAND2008-6212
(2008), eqs. (3.1)-(3.3), which extend Chan et al.'s update of the second
moment; like it they never form raw power sums. The merge is folded in
block order, as the moments are, so the numbers are the same for every
worker count and task grouping.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import montecarlo._kernels as kernels
from montecarlo.stats.accumulators import Collector, Part, Stats
from montecarlo.stats.moments import Moments, batch_stats_of, hit_row, merge_one
from montecarlo.stats.sums import BatchStats, column_stats

F64 = np.dtype(np.float64)

#: The fields of `Shape` that hold one number per output.
FIELDS = ("mean", "m2", "m3", "m4", "minimum", "maximum")


Row = tuple[float, float, float, float, float, float]  # one output's mean, m2, m3, m4, minimum, maximum


def merge_rows(na: float, nb: float, a: Row, b: Row) -> Row:
    """Pébay's pairwise update of one output: row ``a`` of ``na`` samples followed by row ``b`` of ``nb``."""
    ma, m2a, m3a, m4a, lo_a, hi_a = a
    mb, m2b, m3b, m4b, lo_b, hi_b = b
    n = na + nb
    ab = na * nb
    delta = mb - ma
    d_n = delta / n
    d_n2 = d_n * d_n
    return (
        ma + d_n * nb,
        m2a + m2b + delta * d_n * ab,
        m3a + m3b + delta * d_n2 * ab * (na - nb) + 3.0 * d_n * (na * m2b - nb * m2a),
        m4a + m4b + delta * d_n2 * d_n * ab * (na * na - ab + nb * nb)
        + 6.0 * d_n2 * (na * na * m2b + nb * nb * m2a) + 4.0 * d_n * (na * m3b - nb * m3a),
        min(lo_a, lo_b),
        max(hi_a, hi_b),
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class Shape(Part):
    """Count, mean, sums of 2nd/3rd/4th powers of deviations, minimum and maximum, per output.

    ``m2[i] = sum_s (x_si - mean_i)^2``, and likewise ``m3`` and ``m4``.
    The sums are plain Python floats (one tuple per field, one entry per
    output): a run folds one part per batch, and for the few outputs of a
    model scalar arithmetic is several times faster than numpy's.
    """

    count: int
    mean: tuple[float, ...]
    m2: tuple[float, ...]
    m3: tuple[float, ...]
    m4: tuple[float, ...]
    minimum: tuple[float, ...]
    maximum: tuple[float, ...]

    name: ClassVar[str] = "shape"

    @classmethod
    def empty(cls, k: int) -> Shape:
        """The shape of no samples of ``k`` outputs."""
        zeros = (0.0,) * k
        return cls(0, zeros, zeros, zeros, zeros, (math.inf,) * k, (-math.inf,) * k)

    @classmethod
    def from_batch(cls, x: np.ndarray, batch: BatchStats | None = None) -> Shape:
        """The shape of a batch ``x`` of shape ``(n, k)``, from its statistics ``batch`` when they are known.

        The statistics of a batch (`montecarlo.stats.sums`) hold every sum a
        shape keeps, computed once with the batch's moments.
        """
        b = batch if batch is not None else batch_stats_of(x)
        m2 = tuple(float(b.comoment[j, j]) for j in range(b.comoment.shape[0]))
        return cls(b.n, tuple(b.mean.tolist()), m2, tuple(b.m3.tolist()), tuple(b.m4.tolist()),
                   tuple(b.minimum.tolist()), tuple(b.maximum.tolist()))  # fmt: skip

    def merge(self, other: Part) -> Shape:
        """Pébay's pairwise update: ``self`` followed by ``other``."""
        assert isinstance(other, Shape)
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        na, nb = float(self.count), float(other.count)
        rows = [merge_rows(na, nb, a, b) for a, b in zip(self.rows(), other.rows(), strict=True)]
        return Shape(self.count + other.count, *zip(*rows, strict=True))

    def rows(self) -> Iterator[Row]:
        """One `Row` per output."""
        return zip(self.mean, self.m2, self.m3, self.m4, self.minimum, self.maximum, strict=True)

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return tuple(np.asarray(getattr(self, f), dtype=np.float64) for f in FIELDS)

    def skewness(self) -> np.ndarray:
        """Sample skewness ``g1 = sqrt(n) m3 / m2^(3/2)`` (NaN where ``m2 = 0``)."""
        _, m2, m3, *_ = self._arrays()
        with np.errstate(all="ignore"):
            return np.where(m2 > 0, np.sqrt(float(self.count)) * m3 / m2**1.5, np.nan)

    def kurtosis(self) -> np.ndarray:
        """Sample excess kurtosis ``g2 = n m4 / m2^2 - 3`` (NaN where ``m2 = 0``)."""
        _, m2, _, m4, *_ = self._arrays()
        with np.errstate(all="ignore"):
            return np.where(m2 > 0, float(self.count) * m4 / m2**2 - 3.0, np.nan)

    def largest_share(self) -> np.ndarray:
        """The largest single sample's share of ``m2``: ``max((max - mean)^2, (min - mean)^2) / m2``."""
        mean, m2, _, _, lo, hi = self._arrays()
        far = np.maximum((hi - mean) ** 2, (lo - mean) ** 2)
        with np.errstate(all="ignore"):
            return np.where(m2 > 0, far / m2, 0.0)

    def __eq__(self, other: object) -> bool:  # bitwise equality of every number
        if not isinstance(other, Shape):
            return NotImplemented
        return self.count == other.count and all(getattr(self, f) == getattr(other, f) for f in FIELDS)

    def to_dict(self) -> dict:
        """The JSON form: count and one list per sum (floats round-trip exactly)."""
        d: dict[str, Any] = {"count": self.count}
        for f in FIELDS:
            d[f] = list(getattr(self, f))
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Shape:
        """The part back from its `to_dict` form."""
        return cls(int(d["count"]), *(tuple(float(v) for v in d[f]) for f in FIELDS))


class ShapeCollector(Collector):
    """Makes the `Shape` of every batch (every run keeps one)."""

    name: ClassVar[str] = "shape"
    finite_only: ClassVar[bool] = False  # a NaN or an infinity only makes its sums NaN or infinite

    def collect(self, x: np.ndarray, index: int, batch: BatchStats) -> Part:
        """The shape of batch ``x``, from its statistics (computed once with its moments)."""
        return Shape.from_batch(x, batch)


class OneOutputFold:
    """The batches of one block of one output, folded in order into its moments and shape.

    The numbers of `montecarlo.stats.accumulators.BatchFold` with the shape collector
    alone -- each batch's moments and `Shape`, merged batch by batch -- bit
    for bit, from the same functions (`hit_row`, `column_stats`,
    `merge_one`, `merge_rows`), on Python floats and without the objects
    each batch would make: the per-batch cost of the engine is most of what
    it adds to a cheap model (tests/test_batch_bits.py holds both to the
    same bits). Where the statistics kernel is compiled, `add_column` is its
    ``fold_column``, which computes a column's statistics and both merges in
    one call (`montecarlo._kernels.column_fold`).

    Parameters
    ----------
    samples, batch : int
        The block's samples and its batch size (0: the Python fold).
    """

    #: Fold in the next batch, a contiguous float64 column (a model's commonest output); whether its m2 is finite.
    add_column: Callable[[np.ndarray], bool]

    def __init__(self, samples: int = 0, batch: int = 0) -> None:
        self.count = 0
        self.mean = self.comoment = self._last = 0.0
        self.row: Row = (0.0,) * 6
        self._compiled = kernels.column_fold(samples, batch) if samples else None
        self.add_column = self._add_column if self._compiled is None else self._compiled.add

    def add(self, x: np.ndarray) -> None:
        """Fold in the next batch ``x`` of shape ``(n, 1)``."""
        n = x.shape[0]
        if x.dtype.kind == "b":
            self._fold(n, hit_row(float(np.count_nonzero(x)), n))
        else:
            c = x[:, 0] if x.dtype is F64 and x.strides[0] == 8 else np.ascontiguousarray(x[:, 0], F64)
            self._last = 0.0 if self.add_column(c) else math.inf

    def _add_column(self, c: np.ndarray) -> bool:
        self._fold(c.shape[0], column_stats(c))  # in the engine's order, compiled where it is
        return math.isfinite(self._last)

    def _fold(self, n: int, row: Row) -> None:
        if self._compiled is not None:  # a batch the kernel does not take: go on in Python from its state
            state = self._compiled.state()
            if state[0]:
                self.count, self.mean, self.comoment, self.row = state
            self._compiled = None
            self.add_column = self._add_column
        mean, comoment = row[0], row[1]
        self._last = comoment
        if self.count == 0:
            self.count, self.mean, self.comoment, self.row = n, mean, comoment, row
            return
        self.mean, self.comoment = merge_one(self.count, self.mean, self.comoment, n, mean, comoment)
        self.row = merge_rows(float(self.count), float(n), self.row, row)
        self.count += n

    def last_finite(self) -> bool:
        """Whether the co-moment of the batch added last is finite."""
        return math.isfinite(self._last)

    def result(self) -> Stats:
        """The block's statistics (at least one batch added)."""
        if self._compiled is not None:
            self.count, self.mean, self.comoment, self.row = self._compiled.state()
        assert self.count > 0
        moments = Moments(self.count, np.array([self.mean]), np.array([[self.comoment]]))
        return Stats(moments, {ShapeCollector.name: Shape(self.count, *((v,) for v in self.row))})


@dataclass(frozen=True, eq=False)
class TwoStageShapes(Part):
    """The pilot blocks' shape and the fresh blocks' shape, apart (`montecarlo.core.twostage`).

    ``pilot_target`` is the pilot's sample count (whole blocks): the pilot is
    complete once that many samples are folded into ``pilot``.
    """

    pilot_target: int
    pilot: Shape
    fresh: Shape

    name: ClassVar[str] = "two_stage"

    @property
    def pilot_complete(self) -> bool:
        """Every pilot block is folded."""
        return self.pilot.count >= self.pilot_target

    def pilot_sd(self, i: int) -> float:
        """The pilot's sample standard deviation of output ``i``."""
        n = self.pilot.count
        return math.sqrt(self.pilot.m2[i] / (n - 1)) if n > 1 else math.inf

    def merge(self, other: Part) -> TwoStageShapes:
        """``self`` followed by ``other``: pilots and fresh blocks merged apart."""
        assert isinstance(other, TwoStageShapes)
        return TwoStageShapes(self.pilot_target, self.pilot.merge(other.pilot), self.fresh.merge(other.fresh))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TwoStageShapes):
            return NotImplemented
        return (self.pilot_target, self.pilot, self.fresh) == (other.pilot_target, other.pilot, other.fresh)

    def to_dict(self) -> dict:
        """The JSON form."""
        return {"pilot_target": self.pilot_target, "pilot": self.pilot.to_dict(), "fresh": self.fresh.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TwoStageShapes:
        """The part back from its `to_dict` form."""
        return cls(int(d["pilot_target"]), Shape.from_dict(d["pilot"]), Shape.from_dict(d["fresh"]))


class TwoStageCollector(Collector):
    """Makes the `TwoStageShapes` of a batch: pilot for blocks before ``pilot_blocks``, fresh after.

    Shapes are of the values as the run reports them (times each output's scale).
    """

    name: ClassVar[str] = "two_stage"

    def __init__(self, pilot_blocks: int, block_size: int, scales: tuple[float, ...] = ()) -> None:
        self.pilot_blocks = pilot_blocks
        self.block_size = block_size
        self.scales = tuple(scales)

    def collect(self, x: np.ndarray, index: int, batch: BatchStats) -> Part:
        """The batch's shape, on the pilot's side or the fresh blocks'."""
        if self.scales and any(s != 1.0 for s in self.scales):
            x = np.asarray(x, dtype=np.float64) * np.asarray(self.scales, dtype=np.float64)
        shape, empty = Shape.from_batch(x), Shape.empty(x.shape[1])
        target = self.pilot_blocks * self.block_size
        if index < self.pilot_blocks:
            return TwoStageShapes(target, shape, empty)
        return TwoStageShapes(target, empty, shape)
