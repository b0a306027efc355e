"""Histograms and empirical distribution functions of a run's outputs, from its bucket counts.

Both come from the same parts as the quantiles (`montecarlo.stats.sketch`,
`montecarlo.estimation.quantiles.ladder`), so they are bit-identical for every worker
count, checkpoint, resume and extension.

Histogram
    Bins are unions of whole buckets, cut as near as possible to equal
    widths between the smallest and largest value: every count is exact
    (no value is split between bins), and bin edges fall between values.
ECDF
    The empirical distribution function ``F_n`` is known exactly at the
    largest value of each bucket (and just below its smallest); between the
    two it rises by the bucket's count. The band ``F_n ± ε`` with
    ``ε = sqrt(log(2/α) / (2n))``, ``α = 1 - confidence``, holds the true
    distribution function everywhere at once with probability at least
    ``confidence``, for every distribution (the Dvoretzky-Kiefer-Wolfowitz
    inequality with Massart's constant: P. Massart, "The tight constant in
    the Dvoretzky-Kiefer-Wolfowitz inequality", Annals of Probability 18
    (1990) 1269-1283).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from montecarlo.core.sampling import BITS
from montecarlo.errors import ValidationError
from montecarlo.estimation.quantiles import Ladder, ladder

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.records.result import Result


@dataclass(frozen=True)
class Histogram:
    """Counts of one output's values in bins ``[edges[i], edges[i + 1])``.

    Attributes
    ----------
    output : str
    edges : numpy.ndarray
        ``bins + 1`` increasing edges; every value lies at or above the first
        and below the last.
    counts : numpy.ndarray
        Exact integer counts; they sum to ``samples``.
    samples : int
    """

    output: str
    edges: np.ndarray
    counts: np.ndarray
    samples: int

    @property
    def density(self) -> np.ndarray:
        """``counts / (samples x width)``: integrates to 1."""
        return self.counts / (self.samples * np.diff(self.edges))


@dataclass(frozen=True)
class ECDF:
    """The empirical distribution function of one output, with its DKW band.

    Attributes
    ----------
    output : str
    low, high : numpy.ndarray
        Value ranges, increasing: ``F_n`` is ``before[i]`` just below
        ``low[i]`` and ``value[i]`` at ``high[i]`` (exactly).
    before, value : numpy.ndarray
        ``F_n`` just below ``low[i]`` and at ``high[i]``.
    epsilon : float
        Half-width of the band: the true distribution function lies within
        ``F_n ± epsilon`` everywhere with probability ``confidence`` or more.
    confidence : float
    samples : int
    """

    output: str
    low: np.ndarray
    high: np.ndarray
    before: np.ndarray
    value: np.ndarray
    epsilon: float
    confidence: float
    samples: int

    @property
    def lower(self) -> np.ndarray:
        """The band's lower edge at ``high``."""
        return np.maximum(self.value - self.epsilon, 0.0)

    @property
    def upper(self) -> np.ndarray:
        """The band's upper edge at ``high``."""
        return np.minimum(self.value + self.epsilon, 1.0)

    def at(self, x: float) -> tuple[float, float]:
        """``F_n(x)``, as the range it is known to within (one number outside any bucket)."""
        i = int(np.searchsorted(self.high, x, side="right"))  # ranges wholly at or below x
        known = float(self.value[i - 1]) if i > 0 else 0.0
        if i < self.low.size and self.low[i] <= x:
            return (known, float(self.value[i]))
        return (known, known)


def dkw_epsilon(n: int, confidence: float) -> float:
    """``sqrt(log(2/α) / (2n))``, ``α = 1 - confidence`` (Massart's constant)."""
    return math.sqrt(math.log(2.0 / (1.0 - confidence)) / (2.0 * n))


def _ladder(result: Result, output: str | None) -> tuple[str, Ladder]:
    names = list(result.outputs)
    name = names[0] if output is None else output
    if name not in names:
        raise ValidationError("output", name, "one of " + ", ".join(names), "is not an output of this result")
    i = names.index(name)
    lad = ladder(result.accumulator, i)
    if lad is None:
        raise ValidationError(
            "result", result.model,
            "a result of a run with distribution=True, quantiles or shortfall (mc run --distribution, "
            "--quantile or --shortfall)",
            "kept no distribution of its outputs",
        )  # fmt: skip
    return name, lad


def _groups(lad: Ladder) -> list[tuple[int, int]]:
    """Runs of ranges ``[start, stop)`` that share no value with their neighbours."""
    out = []
    start = 0
    for i in range(1, lad.counts.size):
        if lad.low[i] > lad.high[i - 1]:
            out.append((start, i))
            start = i
    out.append((start, lad.counts.size))
    return out


def histogram(result: Result, output: str | None = None, bins: int = 60) -> Histogram:
    """The `Histogram` of ``output`` (default: the first) in about ``bins`` bins."""
    name, lad = _ladder(result, output)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValidationError("bins", bins, "an integer >= 1")
    groups = _groups(lad)
    lo, hi = float(lad.low[0]), float(lad.high[-1])
    width = (hi - lo) / bins
    edges, counts = [lo], list[int]()
    count, current = 0, 0
    for start, stop in groups:
        first = float(lad.low[start])
        # The target bin of the group's smallest value; a group past the
        # current bin starts a new one, at its own smallest value.
        target = min(int((first - lo) / width), bins - 1) if width > 0 else 0
        if count and target > current:
            counts.append(count)
            edges.append(first)
            count, current = 0, target
        count += int(lad.counts[start:stop].sum())
    counts.append(count)
    # The last bin is closed at the largest value; give it the target width
    # (or, when every value is the same, one bucket's) so it is not empty of width.
    edges.append(max(hi, edges[-1] + width) if width > 0 else hi + max(abs(hi), 1.0) * 2.0**-BITS)
    return Histogram(name, np.array(edges), np.array(counts, dtype=np.int64), lad.samples)


def ecdf(result: Result, output: str | None = None) -> ECDF:
    """The `ECDF` of ``output`` (default: the first) with its band at the run's confidence."""
    name, lad = _ladder(result, output)
    groups = _groups(lad)
    n = lad.samples
    cum = np.cumsum(lad.counts)
    low = np.array([lad.low[a] for a, _ in groups])
    high = np.array([lad.high[b - 1] for _, b in groups])
    value = np.array([cum[b - 1] for _, b in groups]) / n
    before = np.concatenate(([0.0], value[:-1]))
    conf = result.spec.confidence
    return ECDF(name, low, high, before, value, dkw_epsilon(n, conf), conf, n)
