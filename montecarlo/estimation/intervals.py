"""Confidence intervals of a mean: Student t, normal, Wilson and Clopper-Pearson, and their critical values."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from statistics import NormalDist

from montecarlo.core.sampling import INTERVAL_METHODS


def normal_quantile(confidence: float) -> float:
    """Two-sided standard normal critical value ``z`` for ``confidence``."""
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


@contextlib.contextmanager
def loading_scipy() -> Iterator[None]:
    """Import scipy.special on another thread while the block runs; joined before the block ends.

    A run of float outputs needs it for its t intervals, and importing it
    costs about 0.17 s of CPU, which a thread holding the GIL would add to
    the run; beside code that releases the GIL (compiling a kernel) it costs
    no time. Joined so that no import is under way when worker processes fork.
    """
    import threading

    def load() -> None:
        with contextlib.suppress(Exception):  # a missing or broken scipy: the t interval says so when it is asked
            import scipy.special  # noqa: F401

    thread = threading.Thread(target=load, name="montecarlo-scipy", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def t_quantile(confidence: float, df: int) -> float:
    """Two-sided Student t critical value with ``df`` degrees of freedom."""
    from scipy.special import stdtrit  # scipy loads lazily: keeps `mc --help` fast

    return float(stdtrit(df, 0.5 + confidence / 2.0))


def t_interval(mean: float, se: float, n: int, confidence: float) -> tuple[float, float]:
    """Student t interval with ``n - 1`` degrees of freedom (unbounded below two samples)."""
    if n < 2 or not math.isfinite(se):
        return (-math.inf, math.inf)
    h = t_quantile(confidence, n - 1) * se
    return (mean - h, mean + h)


def normal_interval(mean: float, se: float, n: int, confidence: float) -> tuple[float, float]:
    """Normal interval ``mean ± z se`` (unbounded below two samples)."""
    if n < 2 or not math.isfinite(se):
        return (-math.inf, math.inf)
    h = normal_quantile(confidence) * se
    return (mean - h, mean + h)


def wilson_interval(p: float, n: int, confidence: float) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (valid at 0 and n hits).

    E. B. Wilson, "Probable inference, the law of succession, and statistical
    inference", JASA 22 (1927) 209-212.
    """
    z = normal_quantile(confidence)
    z2n = z * z / n
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(p * (1.0 - p) / n + z2n / (4.0 * n))
    # At 0 or n hits the bound is exactly 0 or 1 (the formula leaves rounding dust).
    lo = 0.0 if p <= 0.0 else max(0.0, centre - half)
    hi = 1.0 if p >= 1.0 else min(1.0, centre + half)
    return (lo, hi)


def clopper_pearson_interval(p: float, n: int, confidence: float) -> tuple[float, float]:
    """Exact (conservative) binomial interval from Beta quantiles.

    C. J. Clopper and E. S. Pearson, Biometrika 26 (1934) 404-413.
    """
    from scipy.special import betaincinv

    k = round(p * n)
    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else float(betaincinv(k, n - k + 1, alpha / 2.0))
    hi = 1.0 if k == n else float(betaincinv(k + 1, n - k, 1.0 - alpha / 2.0))
    return (lo, hi)


def interval(method: str, mean: float, se: float, n: int, confidence: float) -> tuple[float, float]:
    """Confidence interval by ``method`` (one of `INTERVAL_METHODS` except "auto").

    For the binomial methods ``mean`` is the proportion of hits.
    """
    if method == "t":
        return t_interval(mean, se, n, confidence)
    if method == "normal":
        return normal_interval(mean, se, n, confidence)
    if method == "wilson":
        return wilson_interval(mean, n, confidence)
    if method == "clopper-pearson":
        return clopper_pearson_interval(mean, n, confidence)
    raise ValueError(f"unknown interval method {method!r}; accepted: {', '.join(INTERVAL_METHODS)}")


def critical_value(method: str, confidence: float, df: int) -> float:
    """The two-sided critical value of an interval of ``method`` with ``df`` degrees of freedom (infinite below one)."""
    if method == "normal":
        return normal_quantile(confidence)
    return t_quantile(confidence, df) if df >= 1 else math.inf
