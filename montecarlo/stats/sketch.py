"""Distribution sketches that merge exactly: bucket counts, and the exact extreme values.

Two parts (`montecarlo.stats.accumulators`) a run keeps when it asks for quantiles,
expected shortfall or its outputs' distribution:

`Sketch`
    Per output, integer counts of the values in log-spaced buckets, with the
    smallest and largest value seen in each bucket. A bucket holds the
    floats whose IEEE 754 bit patterns agree in sign, exponent and the first
    ``bits`` bits of the mantissa: its relative width is at most
    ``2**-bits`` (from 2**-7, 0.78%, to 2**-20; by default finer as the
    run is longer: `montecarlo.core.sampling.resolution_bits`), the scheme of HDR histograms and, with a
    logarithm in place of the bit pattern, of DDSketch (C. Masson, J. Rim
    and H. K. Lee, "DDSketch: a fast and fully-mergeable quantile sketch
    with relative-error guarantees", PVLDB 12 (2019) 2195-2205). The index
    is read from the bits, so it is exact on every machine: no logarithm
    rounds differently on another CPU. Counts add, minima and maxima are
    taken: the merge is exact and associative.
`Extremes`
    Per output, the `TAIL` smallest and `TAIL` largest values exactly, so
    that order statistics that far into either tail are known exactly.

Both hold the values as the run reports them: each output's per-sample
outcome times its ``scale``. Both merge exactly in any grouping, so a quantile of a run is the same for
every worker count, task grouping, checkpoint, resume and extension.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from montecarlo.core.sampling import BITS
from montecarlo.stats.accumulators import Collector, Part
from montecarlo.stats.sums import BatchStats

#: Exact extreme values kept at each end, per output.
TAIL = 64

_SHIFT = 52 - BITS
_MAGNITUDE = np.int64(0x7FFFFFFFFFFFFFFF)


def bucket_keys(x: np.ndarray, bits: int = BITS) -> np.ndarray:
    """Bucket index of each float: non-decreasing in the value (-0.0 just below +0.0).

    The bit pattern of a non-negative float, read as an integer, increases
    with its value; flipping the magnitude bits of a negative one makes the
    whole line monotone. Dropping the low ``52 - bits`` mantissa bits groups
    ``2**(52 - bits)`` consecutive floats into one bucket.
    """
    b = np.ascontiguousarray(x, dtype=np.float64).view(np.int64)
    return (b ^ ((b >> 63) & _MAGNITUDE)) >> (52 - bits)


def bucket_bounds(keys: np.ndarray, bits: int = BITS) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest float of each bucket (a closed interval)."""
    keys = np.asarray(keys, dtype=np.int64)
    shift = 52 - bits

    def value(sortable: np.ndarray) -> np.ndarray:
        b = sortable ^ ((sortable >> 63) & _MAGNITUDE)
        return b.view(np.float64)

    return value(keys << shift), value(((keys + 1) << shift) - 1)


#: The arrays of a `Buckets`, with their little-endian dtypes.
_FIELDS = {"keys": "<i8", "counts": "<i8", "low": "<f8", "high": "<f8"}


def _b64(a: np.ndarray, dtype: str) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=dtype).tobytes()).decode("ascii")


def _unb64(text: Any, dtype: str) -> np.ndarray:
    if not isinstance(text, str):
        raise ValueError("sketch buckets: an array that is not base64 text")
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    if len(raw) % 8:
        raise ValueError("sketch buckets: an array whose length is not a whole number of 8-byte values")
    return np.frombuffer(raw, dtype=dtype).astype(dtype[1:], copy=True)


@dataclass(frozen=True, eq=False)
class Buckets:
    """One output's buckets: sorted keys, counts, and the smallest and largest value in each."""

    keys: np.ndarray  # int64, strictly increasing
    counts: np.ndarray  # int64
    low: np.ndarray  # float64: smallest value seen in the bucket
    high: np.ndarray  # float64: largest value seen in the bucket

    @classmethod
    def of(cls, values: np.ndarray, bits: int = BITS) -> Buckets:
        """The buckets of a batch of values."""
        # -0.0 == +0.0, so a sort may leave them in either order: count both as +0.0.
        v = np.sort(np.asarray(values, dtype=np.float64)) + 0.0
        keys = bucket_keys(v, bits)
        starts = np.flatnonzero(np.diff(keys)) + 1
        first = np.concatenate(([0], starts))
        last = np.concatenate((starts, [v.size])) - 1
        return cls(keys[first], last - first + 1, v[first], v[last])

    def merge(self, other: Buckets) -> Buckets:
        """The buckets of both (integer sums, minima and maxima: exact in any grouping)."""
        if not other.keys.size or not self.keys.size:
            return self if not other.keys.size else other
        both = np.concatenate((self.keys, other.keys))
        order = np.argsort(both, kind="stable")  # two sorted runs: the stable sort merges them in linear time
        keys = both[order]
        first = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1])))
        counts = np.add.reduceat(np.concatenate((self.counts, other.counts))[order], first)
        low = np.minimum.reduceat(np.concatenate((self.low, other.low))[order], first)
        high = np.maximum.reduceat(np.concatenate((self.high, other.high))[order], first)
        return Buckets(keys[first], counts, low, high)

    @property
    def total(self) -> int:
        """Values counted."""
        return int(self.counts.sum())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Buckets):
            return NotImplemented
        return all(np.array_equal(getattr(self, f), getattr(other, f)) for f in ("keys", "counts", "low", "high"))

    def to_dict(self) -> dict:
        """The JSON form: the four arrays as base64 of their little-endian bytes (exact, and compact).

        A sketch of a long run holds up to a few hundred thousand buckets:
        as text lists it would be ten times the size, and take a second to
        write at every checkpoint.
        """
        return {"encoding": "base64", **{f: _b64(getattr(self, f), t) for f, t in _FIELDS.items()}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Buckets:
        """The buckets back from their `to_dict` form (or the lists of files written before it was base64)."""
        if d.get("encoding") == "base64":
            keys, counts, low, high = (_unb64(d[f], t) for f, t in _FIELDS.items())
        else:
            keys = np.asarray(d["keys"], dtype=np.int64)
            counts = np.asarray(d["counts"], dtype=np.int64)
            low = np.asarray(d["low"], dtype=np.float64)
            high = np.asarray(d["high"], dtype=np.float64)
        if not keys.size == counts.size == low.size == high.size or np.any(np.diff(keys) <= 0):
            raise ValueError("sketch buckets: keys must increase strictly, one count, low and high each")
        return cls(keys, counts, low, high)


@dataclass(frozen=True, eq=False)
class Sketch(Part):
    """Bucket counts of every output (see the module docstring)."""

    outputs: tuple[Buckets, ...]
    bits: int = BITS

    name: ClassVar[str] = "sketch"

    def merge(self, other: Part) -> Sketch:
        """``self`` followed by ``other`` (the same bucket width)."""
        assert isinstance(other, Sketch)
        if other.bits != self.bits or len(other.outputs) != len(self.outputs):
            raise ValueError("cannot merge sketches of different bucket widths or output counts")
        return Sketch(tuple(a.merge(b) for a, b in zip(self.outputs, other.outputs, strict=True)), self.bits)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sketch):
            return NotImplemented
        return self.bits == other.bits and self.outputs == other.outputs

    def to_dict(self) -> dict:
        """The JSON form: the bucket width's ``bits`` and one bucket list per output."""
        return {"bits": self.bits, "outputs": [b.to_dict() for b in self.outputs]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Sketch:
        """The sketch back from its `to_dict` form."""
        return cls(tuple(Buckets.from_dict(b) for b in d["outputs"]), int(d["bits"]))


@dataclass(frozen=True, eq=False)
class Extremes(Part):
    """The ``tail`` smallest and largest values of every output, sorted, exactly."""

    smallest: tuple[np.ndarray, ...]  # ascending
    largest: tuple[np.ndarray, ...]  # ascending
    tail: int = TAIL

    name: ClassVar[str] = "extremes"

    @classmethod
    def of(cls, x: np.ndarray, tail: int = TAIL) -> Extremes:
        """The extremes of a batch ``x`` of shape ``(n, k)``."""
        x = np.asarray(x, dtype=np.float64)
        n = x.shape[0]
        low, high = [], []
        for j in range(x.shape[1]):
            if n <= 2 * tail:
                s = np.sort(x[:, j])
                low.append(s[:tail])
                high.append(s[-tail:])
                continue
            # One selection for both ends, then a sort of the two small ends only.
            p = np.partition(x[:, j], (tail - 1, n - tail))
            low.append(np.sort(p[:tail]))
            high.append(np.sort(p[n - tail :]))
        return cls(tuple(low), tuple(high), tail)

    def merge(self, other: Part) -> Extremes:
        """The extremes of both: the ``tail`` smallest and largest of the union (exact)."""
        assert isinstance(other, Extremes)
        t = min(self.tail, other.tail)
        low = tuple(np.sort(np.concatenate((a, b)))[:t] for a, b in zip(self.smallest, other.smallest, strict=True))
        high = tuple(np.sort(np.concatenate((a, b)))[-t:] for a, b in zip(self.largest, other.largest, strict=True))
        return Extremes(low, high, t)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Extremes):
            return NotImplemented
        mine, theirs = self.smallest + self.largest, other.smallest + other.largest
        same = len(mine) == len(theirs) and all(np.array_equal(a, b) for a, b in zip(mine, theirs, strict=True))
        return self.tail == other.tail and len(self.smallest) == len(other.smallest) and same

    def to_dict(self) -> dict:
        """The JSON form: ``tail`` and the sorted values of each output."""
        return {"tail": self.tail, "smallest": [a.tolist() for a in self.smallest],
                "largest": [a.tolist() for a in self.largest]}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Extremes:
        """The part back from its `to_dict` form."""
        low = tuple(np.asarray(a, dtype=np.float64) for a in d["smallest"])
        high = tuple(np.asarray(a, dtype=np.float64) for a in d["largest"])
        return cls(low, high, int(d["tail"]))


class SketchCollector(Collector):
    """Makes the `Sketch` of a batch, of the values as the run reports them (times each output's scale)."""

    name: ClassVar[str] = "sketch"

    def __init__(self, scales: tuple[float, ...] = (), bits: int = BITS) -> None:
        self.scales = tuple(scales)
        self.bits = bits

    def collect(self, x: np.ndarray, index: int, batch: BatchStats) -> Part:
        """The buckets of each column of ``x``."""
        x = _scaled(x, self.scales)
        return Sketch(tuple(Buckets.of(x[:, j], self.bits) for j in range(x.shape[1])), self.bits)


class ExtremesCollector(Collector):
    """Makes the `Extremes` of a batch, of the values as the run reports them."""

    name: ClassVar[str] = "extremes"

    def __init__(self, scales: tuple[float, ...] = ()) -> None:
        self.scales = tuple(scales)

    def collect(self, x: np.ndarray, index: int, batch: BatchStats) -> Part:
        """The exact extremes of each column of ``x``."""
        return Extremes.of(_scaled(x, self.scales))


def _scaled(x: np.ndarray, scales: tuple[float, ...]) -> np.ndarray:
    """``x`` times each output's scale (the π model reports 4 x its 0/1 outcomes)."""
    x = np.asarray(x, dtype=np.float64)
    if scales and any(s != 1.0 for s in scales):
        x = x * np.asarray(scales, dtype=np.float64)
    return x
