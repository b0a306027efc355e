"""Block statistics: the moments every run keeps, and the named parts some runs add.

Every block returns one `Stats`; the engine merges them strictly in block
order and never looks inside (docs/design.md). A *part* is a further
accumulator a run asks for -- quantile sketches, per-replicate moments --
and obeys the contract of the moments: one per block, merged in block order,
exact whatever the grouping. Parts are values with `Part.merge`,
`Part.to_dict` and `Part.from_dict`, registered by name (`register_part`,
`PARTS`) so that a file is read back without importing code. A worker makes a block's parts with the
`Collector` objects of its job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from montecarlo.core.plugins import Registry
from montecarlo.errors import FileProblem, ValidationError
from montecarlo.stats.moments import Moments, batch_stats_of
from montecarlo.stats.sums import BatchStats


def _check_part(name: str, cls: Any) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Part)):
        raise ValidationError("part", cls, "a subclass of montecarlo.stats.accumulators.Part")
    if cls.name != name:
        raise ValidationError("part", cls, f"a part class whose `name` is {name!r}", f"is named {cls.name!r}")


#: Part classes by the name files record them under (the built-in ones are imported at first use).
PARTS = Registry(
    "accumulator part",
    {
        "shape": "montecarlo.stats.shape:Shape",
        "two_stage": "montecarlo.stats.shape:TwoStageShapes",
        "sketch": "montecarlo.stats.sketch:Sketch",
        "extremes": "montecarlo.stats.sketch:Extremes",
        "replicates": "montecarlo.stats.replicate_means:ReplicateMeans",
    },
    _check_part,
)


def register_part(name: str, part: type[Part]) -> None:
    """Register an accumulator part of your own, so that checkpoints and results holding it can be read back."""
    PARTS.register(name, part)


class Part:
    """Base class of the accumulators a run keeps beside its moments.

    A subclass sets ``name`` (and is registered under it, `register_part`)
    and implements `merge` (``self`` followed by ``other``, in block order),
    `to_dict`, `from_dict` and ``__eq__`` (bitwise equality of every number).
    """

    name: ClassVar[str] = ""

    def merge(self, other: Part) -> Part:
        """``self`` followed by ``other``."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """The JSON form."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Part:
        """The part back from its `to_dict` form."""
        raise NotImplementedError


class Collector:
    """Makes one part from a batch in a worker: picklable, small, set by the run's options.

    A subclass sets ``name`` (the part it makes) and implements `collect`.
    ``finite_only`` is false for a collector that passes NaN and infinities
    through to its part: then a worker checks a batch for them once, from
    its co-moments, instead of a pass over the batch beforehand.
    """

    name: ClassVar[str] = ""
    finite_only: ClassVar[bool] = True

    def collect(self, x: np.ndarray, index: int, batch: BatchStats) -> Part:
        """The part of a batch ``x`` of shape ``(n, k)`` of block ``index``, whose statistics ``batch`` are known.

        ``batch`` holds the batch's count, means, co-moments, third and
        fourth power sums, minima and maxima (`montecarlo.stats.sums`).
        """
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class Stats:
    """The accumulator of a block, or of the folded prefix of a run.

    Attributes
    ----------
    moments : Moments
        Count, means and co-moments of the outputs.
    parts : mapping of str to Part
        Further accumulators, by name (none for a plain run).
    """

    moments: Moments
    parts: Mapping[str, Part] = field(default_factory=dict)

    @property
    def count(self) -> int:
        """Samples accumulated."""
        return self.moments.count

    @classmethod
    def empty(cls, k: int) -> Stats:
        """The statistics of no samples of ``k`` outputs (parts appear with the first block)."""
        return cls(Moments.empty(k))

    @classmethod
    def from_batch(cls, x: np.ndarray, collectors: Iterable[Collector] = (), index: int = 0) -> Stats:
        """The statistics of a batch ``x`` of shape ``(n, k)`` of block ``index``."""
        batch = batch_stats_of(x)
        return cls(Moments.of(batch), {c.name: c.collect(x, index, batch) for c in collectors})

    def merge(self, other: Stats) -> Stats:
        """``self`` followed by ``other`` (a part on one side only is kept as it is)."""
        parts = dict(self.parts)
        for name, part in other.parts.items():
            parts[name] = parts[name].merge(part) if name in parts else part
        return Stats(self.moments.merge(other.moments), parts)

    def __eq__(self, other: object) -> bool:  # bitwise equality of every number
        if not isinstance(other, Stats):
            return NotImplemented
        return self.moments == other.moments and dict(self.parts) == dict(other.parts)

    def to_dict(self) -> dict:
        """The JSON form: the moments' (count, mean, comoment), and ``parts`` when there are any."""
        d = self.moments.to_dict()
        if self.parts:
            d["parts"] = {name: part.to_dict() for name, part in self.parts.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Stats:
        """The statistics back from their `to_dict` form (parts by registered name only)."""
        parts = {}
        for name, part in dict(d.get("parts") or {}).items():
            if name not in PARTS:
                raise FileProblem(
                    f"holds the accumulator part {name!r}, which is not registered (registered: {', '.join(PARTS)}); "
                    "it may come from a newer montecarlo, or a part of your own not registered yet"
                )
            parts[name] = PARTS.get(name).from_dict(part)
        return cls(Moments.from_dict(d), parts)


class BatchFold:
    """The batches of one block folded in order: each batch's `Stats`, merged into the block's.

    A worker adds the batches of a block one by one and takes the block's
    `Stats` at the end; `montecarlo.stats.shape.OneOutputFold` makes the same
    numbers faster for the commonest run.
    """

    def __init__(self, collectors: Iterable[Collector], index: int) -> None:
        self.collectors = tuple(collectors)
        self.index = index
        self.total: Stats | None = None
        self._last = np.zeros((0, 0))

    def add(self, x: np.ndarray) -> None:
        """Fold in the next batch ``x`` of shape ``(n, k)``."""
        batch = Stats.from_batch(x, self.collectors, self.index)
        self._last = batch.moments.comoment
        self.total = batch if self.total is None else self.total.merge(batch)

    def last_finite(self) -> bool:
        """Whether the co-moments of the batch added last are all finite (a NaN or an infinity always reaches them)."""
        # logical_and.reduce is what .all() calls, without its Python wrapper
        return bool(np.logical_and.reduce(np.isfinite(self._last), axis=None))

    def result(self) -> Stats:
        """The block's statistics (at least one batch added)."""
        assert self.total is not None
        return self.total
