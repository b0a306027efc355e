"""Quantiles and expected shortfall of a run's outputs, from its distribution sketch.

Order statistics
    The parts of `montecarlo.stats.sketch` give every order statistic ``x_(r)``
    of an output (its per-sample values as reported, times its scale)
    within a closed range: exactly in the `TAIL` extremes at
    either end, otherwise between the smallest and largest value seen in
    its bucket (relative width at most ``2**-bits``, `RunSpec.quantile_bits`). `ladder` lays the
    sorted sample out as such ranges.

Quantile intervals (distribution-free)
    For the ``q``-quantile ``ξ_q = inf{x : F(x) >= q}`` of any distribution,
    continuous or not, and ``B ~ Binomial(n, q)``::

        P(x_(l) <= ξ_q <= x_(u)) >= 1 - P(B <= l - 1) - P(B >= u)

    (``x_(l) > ξ_q`` needs fewer than ``l`` samples at or below ``ξ_q``,
    each there with probability ``F(ξ_q) >= q``; ``x_(u) < ξ_q`` needs ``u``
    or more samples below it, each with probability at most ``q``; the two
    events are disjoint. H. A. David and H. N. Nagaraja, *Order Statistics*,
    3rd ed., 2003, §7.1.) `rank_bounds` takes the largest ``l`` and smallest
    ``u`` with each tail at most ``(1 - confidence)/2``, from the exact
    binomial distribution function; the reported interval is the lower end
    of ``x_(l)``'s range to the upper end of ``x_(u)``'s, which contains
    ``[x_(l), x_(u)]``: coverage is at least ``confidence`` for every
    distribution and sample size. A rank outside ``1..n`` leaves that end
    unbounded. The estimate is ``x_(ceil(nq))`` (the inverse of the
    empirical distribution function), to within half its bucket.

Expected shortfall
    ``ES_q = (1/(1 - q)) ∫_q^1 ξ_u du``, the mean of the upper ``1 - q``
    tail (the conditional tail expectation of a continuous output). The
    estimate averages the top ``n(1 - q)`` order statistics (the last one
    with a fractional weight). No interval for a mean of an unbounded tail
    can be distribution-free; this one is the asymptotic normal interval of
    the estimator ``ξ + (1/(n(1 - q))) Σ (x_i - ξ)_+``, standard error
    ``sd((X - ξ)_+) / ((1 - q) sqrt(n))`` (valid with a finite tail
    variance; S. Manistre and G. Hancock, "Variance of the CTE estimator",
    North American Actuarial Journal 9 (2005) 129-156), widened by the
    bucket ranges of the values averaged. It is flagged ``tail-samples``
    when fewer than 100 samples lie in the tail.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from montecarlo.core.spec import RunSpec
from montecarlo.estimation.estimate import jsonable
from montecarlo.estimation.intervals import normal_quantile
from montecarlo.models.record import Model
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.sketch import Extremes, Sketch

#: Samples in the tail below which an expected shortfall is flagged.
MIN_TAIL_SAMPLES = 100


def binomial_cdf(j: int, n: int, q: float) -> float:
    """``P(B <= j)`` for ``B ~ Binomial(n, q)`` (regularised incomplete beta, no ``1 - q`` rounding)."""
    from scipy.special import betaincc

    if j < 0:
        return 0.0
    if j >= n:
        return 1.0
    return float(betaincc(j + 1, n - j, q))


def binomial_sf(j: int, n: int, q: float) -> float:
    """``P(B > j)`` for ``B ~ Binomial(n, q)``."""
    from scipy.special import betainc

    if j < 0:
        return 1.0
    if j >= n:
        return 0.0
    return float(betainc(j + 1, n - j, q))


@functools.lru_cache(maxsize=256)  # runs of one sample count ask the same ranks again and again
def rank_bounds(n: int, q: float, confidence: float) -> tuple[int, int]:
    """Ranks ``(l, u)`` of the order-statistic interval ``[x_(l), x_(u)]`` for the ``q``-quantile.

    ``l`` is the largest rank with ``P(B <= l - 1) <= (1 - confidence)/2``
    and ``u`` the smallest with ``P(B >= u) <= (1 - confidence)/2``,
    ``B ~ Binomial(n, q)``. ``l = 0`` and ``u = n + 1`` mean an unbounded end.
    """
    half = (1.0 - confidence) / 2.0
    lo, hi = -1, n - 1  # the largest j = l - 1 with cdf(j) <= half; cdf(-1) = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if binomial_cdf(mid, n, q) <= half:
            lo = mid
        else:
            hi = mid - 1
    low_rank = lo + 1
    lo, hi = 0, n  # the smallest j = u - 1 with sf(j) <= half; sf(n) = 0
    while lo < hi:
        mid = (lo + hi) // 2
        if binomial_sf(mid, n, q) <= half:
            hi = mid
        else:
            lo = mid + 1
    return low_rank, lo + 1


@dataclass(frozen=True)
class Ladder:
    """The sorted sample of one output as ranges: ``counts[i]`` values, each within ``[low[i], high[i]]``.

    Ranges are in increasing order of value and cover ranks ``1..n``;
    ``low[i] == high[i]`` where the values are known exactly.
    """

    counts: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def samples(self) -> int:
        """``n``."""
        return int(self.counts.sum())

    def at(self, rank: int) -> tuple[float, float]:
        """The range of ``x_(rank)`` (1-based); infinite outside ``1..n``."""
        if rank < 1:
            return (-math.inf, -math.inf)
        if rank > self.samples:
            return (math.inf, math.inf)
        i = int(np.searchsorted(np.cumsum(self.counts), rank))
        return (float(self.low[i]), float(self.high[i]))

    def top(self, weight: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weights, lows and highs of the largest values, down to a total ``weight``."""
        w, lows, highs = [], [], []
        left = weight
        for i in range(self.counts.size - 1, -1, -1):
            if left <= 0:
                break
            take = min(float(self.counts[i]), left)
            w.append(take)
            lows.append(self.low[i])
            highs.append(self.high[i])
            left -= take
        return np.array(w), np.array(lows), np.array(highs)


def ladder(stats: Stats, column: int) -> Ladder | None:
    """The ladder of output ``column``, or None without a complete sketch."""
    sketch, extremes = stats.parts.get(Sketch.name), stats.parts.get(Extremes.name)
    if not isinstance(sketch, Sketch) or not isinstance(extremes, Extremes):
        return None
    b = sketch.outputs[column]
    n = b.total
    small, large = extremes.smallest[column], extremes.largest[column]
    if n != stats.count or small.size != min(n, extremes.tail) or large.size != small.size:
        return None  # a sketch of only part of the samples (a file from before it was kept)
    if small.size + large.size >= n:  # every value is known exactly
        values = np.concatenate((small, large[small.size + large.size - n :]))
        counts, low, high = np.ones(n, dtype=np.int64), values, values
    else:
        counts = b.counts.copy()
        for k, order in ((small.size, range(counts.size)), (large.size, range(counts.size - 1, -1, -1))):
            for i in order:  # take the exact extremes out of the end buckets
                take = min(k, int(counts[i]))
                counts[i] -= take
                k -= take
                if k == 0:
                    break
        keep = counts > 0
        counts = np.concatenate((np.ones(small.size, np.int64), counts[keep], np.ones(large.size, np.int64)))
        low = np.concatenate((small, b.low[keep], large))
        high = np.concatenate((small, b.high[keep], large))
    return Ladder(counts, low, high)


@dataclass(frozen=True)
class TailEstimate:
    """A quantile or an expected shortfall of one output, with its interval.

    Attributes
    ----------
    output : str
    q : float
        The level.
    kind : {"quantile", "shortfall"}
    estimate : float
    interval : tuple of float
        Infinite ends where the sample cannot bound the value.
    method : str
        ``"order-statistic"`` (distribution-free) or ``"normal"`` (asymptotic).
    confidence : float
    samples : int
    standard_error : float
        The expected shortfall's (NaN for a quantile).
    ranks : tuple of int
        The order statistics of a quantile interval (``0`` or ``n + 1``:
        unbounded); empty for a shortfall.
    warnings : tuple of str
        ``"tail-samples"`` for a shortfall with fewer than 100 tail samples.
    exact : float or None
        The exact value, where the model knows it (``exact_quantile``).
    """

    output: str
    q: float
    kind: str
    estimate: float
    interval: tuple[float, float]
    method: str
    confidence: float
    samples: int
    standard_error: float = math.nan
    ranks: tuple[int, ...] = ()
    warnings: tuple[str, ...] = ()
    exact: float | None = None

    @property
    def name(self) -> str:
        """How the table names the row: ``price q0.99`` or ``price ES0.99``."""
        return f"{self.output} {'q' if self.kind == 'quantile' else 'ES'}{self.q:g}"

    def covers(self, value: float) -> bool:
        """Whether ``value`` lies in the interval (ends included)."""
        return self.interval[0] <= value <= self.interval[1]

    def to_dict(self) -> dict:
        """The JSON form (docs/json.md, "quantiles")."""
        d: dict[str, Any] = {
            "q": self.q,
            "estimate": jsonable(self.estimate),
            "interval": [jsonable(self.interval[0]), jsonable(self.interval[1])],
            "method": self.method,
            "confidence": self.confidence,
            "samples": self.samples,
        }
        if self.kind == "quantile":
            d["ranks"] = list(self.ranks)
        else:
            d["standard_error"] = jsonable(self.standard_error)
        if self.warnings:
            d["warnings"] = list(self.warnings)
        if self.exact is not None:
            d["exact"] = jsonable(self.exact)
        return d

    @classmethod
    def from_dict(cls, output: str, kind: str, d: Mapping[str, Any]) -> TailEstimate:
        """The estimate back from its `to_dict` form."""

        def num(x: Any, missing: float) -> float:
            return missing if x is None else float(x)

        lo, hi = d["interval"]
        return cls(
            output, float(d["q"]), kind, num(d["estimate"], math.nan), (num(lo, -math.inf), num(hi, math.inf)),
            str(d["method"]), float(d["confidence"]), int(d["samples"]), num(d.get("standard_error"), math.nan),
            tuple(int(r) for r in d.get("ranks", ())), tuple(str(w) for w in d.get("warnings", ())),
            None if d.get("exact") is None else float(d["exact"]),
        )  # fmt: skip


def decimal_level(q: float) -> Fraction:
    """The level ``q`` as the decimal it was written as: ``0.9`` is 9/10, not the binary double just above it.

    ``Fraction(0.9)`` is 0.90000000000000002220..., so ``ceil(Fraction(0.9) *
    1000)`` would be 901; the user meant the 900th order statistic, as
    numpy's ``inverted_cdf`` gives. The shortest decimal that reads back as
    ``q`` (``repr``) is the level meant.
    """
    return Fraction(repr(float(q)))


def quantile_rank(n: int, q: float) -> int:
    """The rank of the ``q``-quantile among ``n`` samples: ``ceil(n q)`` with ``q`` decimal, at least 1."""
    return max(1, math.ceil(decimal_level(q) * n))


def quantile_estimate(lad: Ladder, output: str, q: float, confidence: float) -> TailEstimate:
    """The ``q``-quantile of a ladder, with its distribution-free interval."""
    n = lad.samples
    rank = quantile_rank(n, q)
    lo, hi = lad.at(rank)
    l_rank, u_rank = rank_bounds(n, q, confidence)
    interval = (lad.at(l_rank)[0], lad.at(u_rank)[1])
    return TailEstimate(
        output, q, "quantile", lo if lo == hi else 0.5 * (lo + hi), interval, "order-statistic", confidence, n,
        ranks=(l_rank, u_rank),
    )  # fmt: skip


def shortfall_estimate(lad: Ladder, output: str, q: float, confidence: float) -> TailEstimate:
    """The expected shortfall at level ``q`` of a ladder, with its asymptotic interval."""
    n = lad.samples
    m = float(n * (1 - decimal_level(q)))  # samples in the tail, n (1 - q)
    w, low, high = lad.top(m)
    mid = np.where(low == high, low, 0.5 * (low + high))
    estimate = float(w @ mid) / m
    lo_sum, hi_sum = float(w @ low) / m, float(w @ high) / m
    # Var((X - ξ)_+) from the same top values, with ξ the quantile estimate.
    xi_lo, xi_hi = lad.at(quantile_rank(n, q))
    xi = xi_lo if xi_lo == xi_hi else 0.5 * (xi_lo + xi_hi)
    excess = np.maximum(mid - xi, 0.0)
    mean_excess = float(w @ excess) / n
    var = max(float(w @ (excess * excess)) / n - mean_excess**2, 0.0)
    se = math.sqrt(var / n) / (1.0 - q) if n > 1 else math.nan
    z = normal_quantile(confidence)
    ok = math.isfinite(se)
    interval = (lo_sum - z * se, hi_sum + z * se) if ok else (-math.inf, math.inf)
    warnings = ("tail-samples",) if m < MIN_TAIL_SAMPLES else ()
    return TailEstimate(output, q, "shortfall", estimate, interval, "normal", confidence, n, se, (), warnings)


def tail_estimates(spec: RunSpec, model: Model, stats: Stats) -> tuple[dict, dict]:
    """Quantiles and expected shortfalls of every output: ``({output: [..]}, {output: [..]})``.

    Empty when the run asked for none, or when its sketch does not cover
    every sample (a result extended from a file written without one).
    """
    quantiles: dict[str, list[TailEstimate]] = {}
    shortfall: dict[str, list[TailEstimate]] = {}
    if not (spec.quantiles or spec.shortfall) or stats.count == 0:
        return quantiles, shortfall
    for i, o in enumerate(model.outputs):
        lad = ladder(stats, i)
        if lad is None:
            continue
        if spec.quantiles:
            quantiles[o.name] = [
                dataclasses.replace(
                    quantile_estimate(lad, o.name, q, spec.confidence),
                    exact=model.exact_quantiles(q, spec.params).get(o.name),
                )
                for q in spec.quantiles
            ]
        if spec.shortfall:
            shortfall[o.name] = [shortfall_estimate(lad, o.name, q, spec.confidence) for q in spec.shortfall]
    return quantiles, shortfall


def tails_to_dict(tails: Mapping[str, Sequence[TailEstimate]]) -> dict:
    """``{output: [estimate objects]}``."""
    return {name: [t.to_dict() for t in rows] for name, rows in tails.items()}


def tails_from_dict(d: Mapping[str, Any] | None, kind: str) -> dict[str, list[TailEstimate]]:
    """The estimates back from `tails_to_dict`."""
    return {name: [TailEstimate.from_dict(name, kind, t) for t in rows] for name, rows in dict(d or {}).items()}
