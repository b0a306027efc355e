"""Digital call on geometric Brownian motion, smoothed by a conditional expectation: a multilevel test."""

from __future__ import annotations

import math

import numpy as np

from montecarlo.models.builtin.european_option import MARKET_RANGES
from montecarlo.models.builtin.gbm_call import MAX_LEVEL, coarse, fine_steps, increments, milstein_factors
from montecarlo.models.declare import model
from montecarlo.models.levels import Levels
from montecarlo.models.record import Output


def digital_price(spot: float, strike: float, rate: float, volatility: float, maturity: float) -> float:
    """``K e^(-rT) N(d2)``: the price of the payoff ``K 1{S_T > K}`` (Black–Scholes)."""
    from scipy.special import ndtr

    d2 = (math.log(spot / strike) + (rate - 0.5 * volatility**2) * maturity) / (volatility * math.sqrt(maturity))
    return float(strike * math.exp(-rate * maturity) * ndtr(d2))


def _before_last(spot: float, factors: np.ndarray, n: int) -> np.ndarray:
    """The path after all but its last step (``S_0`` itself for a path of one step)."""
    if factors.shape[0] == 1:
        return np.full(n, spot)
    return spot * np.multiply.accumulate(factors[:-1], axis=0)[-1]


@model(
    name="digital_call",
    outputs=[Output("difference"), Output("fine")],
    levels=Levels(cost=fine_steps, exact=digital_price, unit="fine time steps"),
    ranges={**MARKET_RANGES, "level": (0, MAX_LEVEL)},
    block_size=1 << 12,
    batch_size=1 << 12,
)
def simulate(
    rng: np.random.Generator,
    n: int,
    level: int = 0,
    spot: float = 100.0,
    strike: float = 100.0,
    rate: float = 0.05,
    volatility: float = 0.2,
    maturity: float = 1.0,
) -> np.ndarray:
    """Digital call paying K when S_T > K under geometric Brownian motion, Milstein, smoothed last step; a level model.

    Giles' digital option (Giles, "Improved multilevel Monte Carlo
    convergence using the Milstein scheme", MCQMC 2006, Springer 2008;
    option 4 of his ``mcqmc06`` tests): the path takes ``2**l - 1`` Milstein
    steps, and the last step, taken as an Euler step, is integrated out:
    ``P = K e^(-rT) N((S + r S h - K) / (σ S √h))``. The coarse path
    conditions its last step (of ``2h``) on the first of the two fine
    increments it spans, leaving the second: ``N((S + 2 r S h + σ S dW - K)
    / (σ S √h))``. The smoothed payoff makes the level variances decay like
    ``2**(-1.5 l)`` instead of ``2**(-l)`` for the plain indicator. Level
    0 is deterministic. Columns: ``P_l - P_(l-1)`` (``P_0`` on level 0) and
    ``P_l``; a sample of level ``l`` costs ``2**l`` fine steps. Exact limit:
    ``K e^(-rT) N(d2)``, 53.232482 at the defaults.
    """
    from scipy.special import ndtr

    level_pay = strike * math.exp(-rate * maturity)
    dw, h = increments(rng, n, level, maturity)
    s = _before_last(spot, milstein_factors(dw, h, rate, volatility), n)
    out = np.empty((n, 2))
    out[:, 1] = level_pay * ndtr((s + rate * s * h - strike) / (volatility * s * math.sqrt(h)))
    if level == 0:
        out[:, 0] = out[:, 1]
        return out
    sc = _before_last(spot, milstein_factors(coarse(dw), 2.0 * h, rate, volatility), n)
    arg = (sc + 2.0 * rate * sc * h + volatility * sc * dw[-2] - strike) / (volatility * sc * math.sqrt(h))
    out[:, 0] = out[:, 1] - level_pay * ndtr(arg)
    return out
