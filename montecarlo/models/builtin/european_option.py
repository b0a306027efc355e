"""European call or put under geometric Brownian motion (Black–Scholes)."""

from __future__ import annotations

import math

import numpy as np

from montecarlo.models.declare import model
from montecarlo.models.record import Output
from montecarlo.models.uniforms import normals

#: Bounds of the market parameters (shared by the option models).
MARKET_RANGES = {
    "spot": (0.0, None, "()"),
    "strike": (0.0, None, "()"),
    "rate": (-1.0, 1.0),
    "volatility": (0.0, 5.0, "(]"),
    "maturity": (0.0, 100.0, "(]"),
}


def black_scholes(
    spot: float, strike: float, rate: float, volatility: float, maturity: float, kind: str = "call"
) -> float:
    """Black–Scholes price of a European call or put (Black & Scholes, J. Polit. Econ. 81 (1973) 637-654)."""
    from scipy.special import ndtr

    sd = volatility * math.sqrt(maturity)
    d1 = (math.log(spot / strike) + (rate + 0.5 * volatility**2) * maturity) / sd
    d2 = d1 - sd
    disc = math.exp(-rate * maturity)
    if kind == "call":
        return float(spot * ndtr(d1) - strike * disc * ndtr(d2))
    return float(strike * disc * ndtr(-d2) - spot * ndtr(-d1))


def _exact(spot, strike, rate, volatility, maturity, kind, antithetic):
    return black_scholes(spot, strike, rate, volatility, maturity, kind)


def _exact_quantile(q, spot, strike, rate, volatility, maturity, kind, antithetic):
    """The discounted payoff at Z's quantile: the payoff is monotone in Z (a call rises with it, a put falls).

    None with antithetic pairs, whose mean of two payoffs is not monotone in Z.
    """
    if antithetic:
        return None
    from scipy.special import ndtri

    z = float(ndtri(q if kind == "call" else 1.0 - q))
    s = spot * math.exp((rate - 0.5 * volatility**2) * maturity + volatility * math.sqrt(maturity) * z)
    payoff = max(s - strike, 0.0) if kind == "call" else max(strike - s, 0.0)
    return math.exp(-rate * maturity) * payoff


def price_at(
    u: np.ndarray,
    spot: float,
    strike: float,
    rate: float,
    volatility: float,
    maturity: float,
    kind: str,
    antithetic: bool,
) -> np.ndarray:
    """The uniform form: the discounted payoff at ``Z = ndtri(u)`` (one dimension; antithetic: ``Z`` and ``-Z``)."""
    z = normals(u[:, 0])
    drift = (rate - 0.5 * volatility**2) * maturity
    sd = volatility * math.sqrt(maturity)

    def payoff(w: np.ndarray) -> np.ndarray:
        s = spot * np.exp(drift + sd * w)
        return np.maximum(s - strike, 0.0) if kind == "call" else np.maximum(strike - s, 0.0)

    disc = math.exp(-rate * maturity)
    return disc * 0.5 * (payoff(z) + payoff(-z)) if antithetic else disc * payoff(z)


@model(
    name="european_option",
    outputs=[Output("price")],
    exact=_exact,
    exact_quantile=_exact_quantile,
    ranges=MARKET_RANGES,
    choices={"kind": ("call", "put")},
    block_size=1 << 20,
    batch_size=1 << 15,
    dimension=1,
    uniform=price_at,
)
def simulate(
    rng: np.random.Generator,
    n: int,
    spot: float = 100.0,
    strike: float = 100.0,
    rate: float = 0.05,
    volatility: float = 0.2,
    maturity: float = 1.0,
    kind: str = "call",
    antithetic: bool = False,
) -> np.ndarray:
    """European call or put on a stock following geometric Brownian motion; exact Black–Scholes value.

    Under the risk-neutral measure ``S_T = S_0 exp((r - σ²/2) T + σ √T Z)``,
    ``Z ~ N(0, 1)``; each sample is the discounted payoff
    ``e^{-rT} max(S_T - K, 0)`` (call) or ``e^{-rT} max(K - S_T, 0)`` (put).
    Exact value: the Black–Scholes formula (Black & Scholes, J. Polit. Econ.
    81 (1973) 637-654). With ``antithetic=true`` each sample averages the
    payoffs at ``Z`` and ``-Z``, which are negatively correlated for a
    monotone payoff (Glasserman, *Monte Carlo Methods in Financial
    Engineering*, 2004, §4.2): one sample then costs two payoffs but one
    normal draw.
    """
    z = rng.standard_normal(n)
    drift = (rate - 0.5 * volatility**2) * maturity
    sd = volatility * math.sqrt(maturity)
    disc = math.exp(-rate * maturity)

    def payoff(w: np.ndarray) -> np.ndarray:
        s = spot * np.exp(drift + sd * w)
        return np.maximum(s - strike, 0.0) if kind == "call" else np.maximum(strike - s, 0.0)

    if antithetic:
        return disc * 0.5 * (payoff(z) + payoff(-z))
    return disc * payoff(z)
