"""Giles' multilevel Monte Carlo arithmetic: decisions and diagnostics from folded level statistics.

Every function here is a function of the folded statistics of whole blocks
of each level (`montecarlo.stats.accumulators.Stats` of a level model's two
outputs, the difference ``P_l - P_{l-1}`` and ``P_l``) and of the levels'
model costs, computed in Python floats with `math.fsum`, `math.sqrt`,
`math.log2` and `math.ceil`: no BLAS, no LAPACK, no timing. So the sample
counts, the level count and the estimate of a multilevel run are the same
bits for every worker count, executor and resume.

The formulas are those of Giles' ``mlmc.m`` and ``mlmc_test.m`` (M. B.
Giles, "Multilevel Monte Carlo path simulation", Oper. Res. 56 (2008)
607-617; "Multilevel Monte Carlo methods", Acta Numerica 24 (2015)
259-328, Algorithm 1), with the variances of ``mlmc.m``: ``V_l = M2 / N``
(divided by ``N``). Where docs/mlmc.md says this code differs from Giles',
it says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from montecarlo.stats.accumulators import Stats

#: Floor of a mean or a variance before its log2 (a level whose corrections are all zero has none).
TINY = 2.0**-1000
#: Rates are capped here so that 2**(k * alpha) cannot overflow on a degenerate model (not in Giles).
RATE_MAX = 16.0
#: Rates are floored here, as ``mlmc.m`` floors its regressed rates.
RATE_MIN = 0.5
#: ``mlmc_test.m``'s floor of the variance of ``P_l`` in the consistency check.
VAR_FLOOR = 1e-10
#: A new level is considered when no level lacks more than this share of its samples (``mlmc.m``).
ALMOST = 0.01
#: ``mlmc_test.m`` warns above these.
KURTOSIS_WARNING = 100.0
CHECK_WARNING = 1.0


@dataclass(frozen=True)
class LevelSummary:
    """What the diagnostics say about one level, from its folded statistics.

    ``variance``, ``variance_fine`` and ``covariance`` (of the difference
    and ``P_l``) divide by ``N`` (Giles' convention, used by the
    decisions); ``kurtosis`` is ``N m4 / m2**2`` of the differences (not
    the excess kurtosis), NaN when they do not vary.
    """

    samples: int
    mean: float
    variance: float
    mean_fine: float
    variance_fine: float
    kurtosis: float
    sample_variance: float
    covariance: float
    variance_fine_se: float


def summary(stats: Stats) -> LevelSummary:
    """The level's sample count, means, variances and kurtosis, in Python floats."""
    n = stats.count
    m = stats.moments
    shape = stats.parts.get("shape")
    m2 = float(m.comoment[0, 0])
    kurt, fine_se = math.nan, math.inf
    if shape is not None:
        s2, s4 = shape.m2[0], shape.m4[0]  # type: ignore[attr-defined]
        kurt = n * s4 / (s2 * s2) if s2 > 0 else math.nan
        f2, f4 = shape.m2[1] / n, shape.m4[1] / n  # type: ignore[attr-defined]
        fine_se = math.sqrt(max(0.0, f4 - f2 * f2) / n)  # of the variance of P_l
    return LevelSummary(
        samples=n,
        mean=float(m.mean[0]),
        variance=m2 / n if n else 0.0,
        mean_fine=float(m.mean[1]),
        variance_fine=float(m.comoment[1, 1]) / n if n else 0.0,
        kurtosis=kurt,
        sample_variance=m2 / (n - 1) if n > 1 else math.inf,
        covariance=float(m.comoment[0, 1]) / n if n else 0.0,
        variance_fine_se=fine_se,
    )


def slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """The least-squares slope of ``ys`` on ``xs`` (what ``polyfit(x, y, 1)[0]`` estimates), in closed form."""
    n = len(xs)
    xb = math.fsum(xs) / n
    yb = math.fsum(ys) / n
    sxy = math.fsum((x - xb) * (y - yb) for x, y in zip(xs, ys, strict=True))
    sxx = math.fsum((x - xb) * (x - xb) for x in xs)
    return sxy / sxx


def regressed_rates(means: Sequence[float], variances: Sequence[float], costs: Sequence[float]) -> tuple[float, ...]:
    """``(alpha, beta, gamma)``: the regressions of log2 |mean|, log2 variance and log2 cost on levels 1..L."""
    xs = [float(level) for level in range(1, len(means))]
    alpha = -slope(xs, [math.log2(max(abs(m), TINY)) for m in means[1:]])
    beta = -slope(xs, [math.log2(max(v, TINY)) for v in variances[1:]])
    gamma = slope(xs, [math.log2(c) for c in costs[1:]])
    return alpha, beta, gamma


def clamp_rate(rate: float) -> float:
    """A regressed rate as the decisions use it: at least `RATE_MIN` (``mlmc.m``), at most `RATE_MAX`."""
    return min(RATE_MAX, max(RATE_MIN, rate))


def guarded(means: Sequence[float], variances: Sequence[float], alpha: float, beta: float) -> tuple[list, list]:
    """``mlmc.m``'s fix of zero means and variances on levels 2..L, with the previous pass's rates.

    ``|mean_l| >= |mean_(l-1)| / 2**(alpha + 1)`` and
    ``V_l >= V_(l-1) / 2**(beta + 1)``, level by level in order.
    """
    ml = [abs(m) for m in means]
    vl = list(variances)
    for level in range(2, len(ml)):
        ml[level] = max(ml[level], 0.5 * ml[level - 1] / 2.0**alpha)
        vl[level] = max(vl[level], 0.5 * vl[level - 1] / 2.0**beta)
    return ml, vl


def optimal_samples(variances: Sequence[float], costs: Sequence[float], rmse: float, theta: float) -> list[int]:
    """Giles' ``N_l = ceil(sqrt(V_l / C_l) * sum_k sqrt(V_k C_k) / ((1 - theta) eps**2))``."""
    total = math.fsum(math.sqrt(v * c) for v, c in zip(variances, costs, strict=True))
    scale = total / ((1.0 - theta) * rmse * rmse)
    return [math.ceil(math.sqrt(v / c) * scale) for v, c in zip(variances, costs, strict=True)]


def bias_estimate(means: Sequence[float], alpha: float) -> float:
    """``mlmc.m``'s remaining bias: ``max_k |mean_(L-k)| / 2**(k alpha)`` over ``k <= min(2, L - 1)``, over ``2**alpha - 1``."""
    top = len(means) - 1
    largest = max(abs(means[top - k]) / 2.0 ** (k * alpha) for k in range(min(2, top - 1) + 1))
    return largest / (2.0**alpha - 1.0)


def consistency(levels: Sequence[LevelSummary]) -> list[float | None]:
    """``mlmc_test.m``'s check of ``E[P_l - P_(l-1)] = E[P_l] - E[P_(l-1)]`` per level (None on level 0).

    ``|mean_l + mean_fine_(l-1) - mean_fine_l|`` over three times the
    standard error of that sum, ``sqrt(V_l / N_l) + sqrt(V[P_(l-1)] /
    N_(l-1)) + sqrt(V[P_l] / N_l)``: Giles' denominator, written for levels
    of different sample counts. Above 1, the level model's coarse
    approximation is not the previous level's fine one.
    """
    out: list[float | None] = [None]
    for a, b in zip(levels, levels[1:], strict=False):
        num = abs(b.mean + a.mean_fine - b.mean_fine)
        den = 3.0 * (
            math.sqrt(b.variance) / math.sqrt(b.samples)
            + math.sqrt(max(a.variance_fine, VAR_FLOOR)) / math.sqrt(a.samples)
            + math.sqrt(max(b.variance_fine, VAR_FLOOR)) / math.sqrt(b.samples)
        )
        out.append(num / den)
    return out


def finest_variance(levels: Sequence[LevelSummary]) -> float:
    """``V[P_L]``, for the cost of plain Monte Carlo: from every level's samples where the levels allow it.

    On level ``l`` the coarse approximation is ``P_l`` minus the difference,
    and its variance ``V[P_l] - 2 Cov(P_l, P_l - P_(l-1)) + V[P_l - P_(l-1)]``
    is that of level ``l - 1``'s ``P`` when the coarse approximation follows
    the previous level's law (as in ``gbm_call``). Then ``V[P_L] = V[P_0] +
    sum_l (2 Cov(P_l, P_l - P_(l-1)) - V[P_l - P_(l-1)])`` rests mostly on
    level 0's millions of samples, where the finest level's own few samples
    (160 of them at ``eps = 0.01`` for ``gbm_call``) leave ``V[P_L]`` off by
    up to a quarter. Where some level's coarse variance differs from the
    previous level's by more than four standard errors (a coarse
    approximation smoothed another way, as in ``digital_call``), the finest
    level's own ``V[P_L]`` is used.
    """
    total = [levels[0].variance_fine]
    for a, b in zip(levels, levels[1:], strict=False):
        coarse = b.variance_fine - 2.0 * b.covariance + b.variance
        if abs(coarse - a.variance_fine) > 4.0 * math.hypot(a.variance_fine_se, b.variance_fine_se):
            return levels[-1].variance_fine
        total.append(2.0 * b.covariance - b.variance)
    return max(0.0, math.fsum(total))


def plain_cost(variance_fine: float, cost: float, rmse: float, theta: float) -> float:
    """``mlmc_test.m``'s cost of plain Monte Carlo on the finest level: ``V[P_L] C_L / ((1 - theta) eps**2)``."""
    return variance_fine * cost / ((1.0 - theta) * rmse * rmse)


def estimate(levels: Sequence[LevelSummary]) -> tuple[float, float]:
    """The estimate ``sum_l mean_l`` and its standard error ``sqrt(sum_l s_l**2 / N_l)`` (sample variances)."""
    value = math.fsum(s.mean for s in levels)
    se = math.sqrt(math.fsum(s.sample_variance / s.samples for s in levels))
    return value, se
