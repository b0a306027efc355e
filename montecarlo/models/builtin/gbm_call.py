"""European call on geometric Brownian motion by the Milstein scheme: Giles' standard multilevel test."""

from __future__ import annotations

import math

import numpy as np

from montecarlo.models.builtin.european_option import MARKET_RANGES, black_scholes
from montecarlo.models.declare import model
from montecarlo.models.levels import Levels
from montecarlo.models.record import Output

#: Levels a built-in level model accepts (level 20 has a million time steps).
MAX_LEVEL = 20


def fine_steps(level: int) -> float:
    """The cost of one sample of ``level``: its ``2**level`` fine time steps (Giles' ``mcqmc06_l``)."""
    return float(2**level)


def increments(rng: np.random.Generator, n: int, level: int, maturity: float) -> tuple[np.ndarray, float]:
    """The fine Brownian increments of ``n`` paths, time-major (shape ``(2**level, n)``), and the step ``h``."""
    steps = 2**level
    h = maturity / steps
    return math.sqrt(h) * rng.standard_normal((steps, n)), h


def coarse(dw: np.ndarray) -> np.ndarray:
    """The coarse path's increments: the sums of consecutive pairs of fine increments."""
    return dw[0::2] + dw[1::2]


def milstein_factors(dw: np.ndarray, h: float, rate: float, volatility: float) -> np.ndarray:
    """Milstein's step for GBM is a product: ``S_(k+1) = S_k (1 + r h + s dW_k + s**2 / 2 (dW_k**2 - h))``."""
    return 1.0 + rate * h + volatility * dw + 0.5 * volatility * volatility * (dw * dw - h)


def terminal(spot: float, factors: np.ndarray) -> np.ndarray:
    """``S_T = S_0 F_0 F_1 ... F_(m-1)``, multiplied in time order (``np.multiply.accumulate``: sequential by definition)."""
    return spot * np.multiply.accumulate(factors, axis=0)[-1]


def _exact(spot, strike, rate, volatility, maturity):
    return black_scholes(spot, strike, rate, volatility, maturity, "call")


@model(
    name="gbm_call",
    outputs=[Output("difference"), Output("fine")],
    levels=Levels(cost=fine_steps, exact=_exact, unit="fine time steps"),
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
    """European call under geometric Brownian motion, Milstein scheme with 2**level steps; a level model.

    Giles' standard test of multilevel Monte Carlo (Giles, Oper. Res. 56
    (2008) 607-617; the ``mcqmc06`` tests of his MLMC code): ``dS = r S dt
    + σ S dW``, and on level ``l`` the Milstein scheme with ``2**l`` steps
    of ``h = T / 2**l``; the coarse path takes ``2**(l-1)`` steps whose
    Brownian increments are the sums of pairs of the fine ones (refinement
    factor 2). Columns: the discounted payoff's difference
    ``P_l - P_(l-1)`` (``P_0`` on level 0) and ``P_l``. A sample of level
    ``l`` costs ``2**l`` fine time steps. Exact limit: the Black–Scholes
    price, 10.450584 at the defaults. The steps use additions and
    multiplications only (no ``exp``), and the product over the steps is
    taken in time order.
    """
    disc = math.exp(-rate * maturity)
    dw, h = increments(rng, n, level, maturity)
    out = np.empty((n, 2))
    out[:, 1] = disc * np.maximum(terminal(spot, milstein_factors(dw, h, rate, volatility)) - strike, 0.0)
    if level == 0:
        out[:, 0] = out[:, 1]
        return out
    coarse_payoff = disc * np.maximum(
        terminal(spot, milstein_factors(coarse(dw), 2.0 * h, rate, volatility)) - strike, 0.0
    )
    out[:, 0] = out[:, 1] - coarse_payoff
    return out
