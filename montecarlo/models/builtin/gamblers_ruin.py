"""Gambler's ruin: ruin probability and expected duration of a simple random walk."""

from __future__ import annotations

import math

import numpy as np

from montecarlo.errors import ParameterError
from montecarlo.models.declare import model
from montecarlo.models.record import Output

#: Steps drawn at once for every walk still running: a walk's absorption step
#: is found inside the chunk, so Python iterates duration / CHUNK times, not
#: duration times.
CHUNK = 64


def _check(start: int, goal: int, p: float) -> None:
    if not 0 < start < goal:
        raise ParameterError(
            "start", start, f"an integer in [1, {goal - 1}] (strictly between 0 and `goal` = {goal})", "is out of range"
        )


def ruin_exact(start: int, goal: int, p: float) -> dict[str, float]:
    """Ruin probability and expected duration, exactly, for every ``p`` in (0, 1).

    From Feller, *An Introduction to Probability Theory and Its
    Applications*, vol. I, 3rd ed., 1968, §XIV.2-3.

    With ``q = 1 - p`` and ``r = q / p``: fair game (``p = 1/2``) ruin
    ``1 - k/N`` and duration ``k (N - k)``; otherwise ruin
    ``(r^k - r^N) / (1 - r^N)`` and duration
    ``k / (q - p) - (N / (q - p)) (1 - r^k) / (1 - r^N)``.

    Both are accurate to about 1e-13 relative for every ``p`` (checked
    against rational arithmetic). Away from ``p = 1/2`` (``|N log r| >= 1``)
    the formulas are evaluated as they stand, with ``r^x - 1 = expm1(x log r)``;
    rounding errors are not amplified there. Next to ``1/2`` the duration's
    two terms nearly cancel (each is about ``k / |q - p|``), so there
    ``q - p`` and ``log r`` are formed without cancellation and the
    difference of the two terms is summed as a series (`_duration_series`).
    """
    k, big_n = start, goal
    if p == 0.5:
        return {"ruin": 1.0 - k / big_n, "duration": float(k * (big_n - k))}
    # q - p = 1 - 2p is exact for p >= 1/4 (Sterbenz) and has no cancellation
    # below; log r = log(1 + (q - p)/p) with log1p. Forming q = 1 - p first
    # and subtracting logs loses the digits that q and p share, which the
    # cancellation of the duration's terms then magnifies.
    eps = 1.0 - 2.0 * p
    lam = math.log1p(eps / p)
    if abs(big_n * lam) < 1.0:
        ruin = math.expm1((big_n - k) * lam) / math.expm1(big_n * lam) * math.exp(k * lam)
        duration = _duration_series(k, big_n, lam) / (math.expm1(big_n * lam) * eps)
        return {"ruin": ruin, "duration": duration}
    q = 1.0 - p
    # r^x - 1 = expm1(x log r) avoids cancellation when r is close to 1; for
    # r > 1 numerator and denominator are divided by r^N so nothing overflows.
    lr = math.log(q) - math.log(p)
    if lr < 0:
        ruin = math.exp(k * lr) * math.expm1((big_n - k) * lr) / math.expm1(big_n * lr)
        ratio = math.expm1(k * lr) / math.expm1(big_n * lr)  # (1 - r^k) / (1 - r^N)
    else:
        ruin = math.expm1((k - big_n) * lr) / math.expm1(-big_n * lr)
        ratio = math.exp((k - big_n) * lr) * math.expm1(-k * lr) / math.expm1(-big_n * lr)
    duration = k / (q - p) - (big_n / (q - p)) * ratio
    return {"ruin": ruin, "duration": duration}


def _duration_series(k: int, big_n: int, lam: float) -> float:
    """``k (e^{N lam} - 1) - N (e^{k lam} - 1)`` without cancellation, for ``|N lam| < 1``.

    The duration is ``(k/(q - p)) - (N/(q - p)) expm1(k lam)/expm1(N lam)``
    with ``lam = log r``; over the common denominator its numerator is this
    difference, which is O(lam^2) while each term is O(lam). Expanding both
    exponentials, the terms of degree 0 and 1 cancel exactly and
    ``sum_{j >= 2} k N (N^(j-1) - k^(j-1)) lam^j / j!`` remains; the
    coefficients are exact integers, the terms fall by at least ``|N lam| / j``
    each, and for ``lam < 0`` the alternating sum is dominated by its first term.
    """
    total = 0.0
    power = lam  # lam^j / j!, built up term by term
    for j in range(2, 60):
        power *= lam / j
        term = float(k * big_n * (big_n ** (j - 1) - k ** (j - 1))) * power
        total += term
        if abs(term) <= 1e-18 * abs(total):
            break
    return total


@model(
    name="gamblers_ruin",
    outputs=[Output("ruin", kind="probability"), Output("duration")],
    exact=ruin_exact,
    ranges={"start": (1, None), "goal": (2, 1000), "p": (0.0, 1.0, "()")},
    check=_check,
    block_size=1 << 16,
    batch_size=1 << 12,
)
def simulate(rng: np.random.Generator, n: int, start: int = 5, goal: int = 10, p: float = 0.5) -> np.ndarray:
    """Gambler's ruin: a fortune starting at `start` moves +1 with probability p, else -1, until 0 or `goal`.

    With ``k = start`` and ``N = goal``, outputs per walk: ``ruin`` (1 if
    the fortune reaches 0 before N) and ``duration`` (number of steps until either). Exact values
    (Feller 1968, vol. I, §XIV.2-3), with ``q = 1 - p``, ``r = q/p``: fair
    game ``P(ruin) = 1 - k/N``, ``E[duration] = k (N - k)``; unfair game
    ``P(ruin) = (r^k - r^N) / (1 - r^N)`` and
    ``E[duration] = k/(q - p) - (N/(q - p)) (1 - r^k)/(1 - r^N)``. The cost
    per sample is the duration, up to ``k (N - k)`` steps.
    """
    pos = np.full(n, start, dtype=np.int64)
    dur = np.zeros(n, dtype=np.int64)
    live = np.arange(n)
    while live.size:
        # CHUNK steps for every live walk at once; absorption inside the chunk
        # is found with argmax on the first boundary hit.
        steps = np.where(rng.random((live.size, CHUNK)) < p, 1, -1)
        path = np.cumsum(steps, axis=1)
        path += pos[live, None]
        hit = (path <= 0) | (path >= goal)
        done = hit.any(axis=1)
        first = hit.argmax(axis=1)
        idx = live[done]
        pos[idx] = path[done, first[done]]
        dur[idx] += first[done] + 1
        still = ~done
        live = live[still]
        pos[live] = path[still, -1]
        dur[live] += CHUNK
    out = np.empty((n, 2))
    out[:, 0] = pos <= 0
    out[:, 1] = dur
    return out
