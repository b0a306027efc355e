"""The Genz test integrands over the unit cube [0, 1]^d, with their exact integrals."""

from __future__ import annotations

import math

import numpy as np

from montecarlo.errors import ParameterError
from montecarlo.models.declare import model
from montecarlo.models.uniforms import row_products, row_sums

FAMILIES = ("oscillatory", "product_peak", "corner_peak", "gaussian", "continuous", "discontinuous")
MAX_DIM = 100


def coefficient_vector(dim: int, difficulty: float, coefficients: str = "") -> np.ndarray:
    """The coefficient vector ``a`` of the integrand.

    Parsed from ``coefficients`` ("1.5,2,0.3" with ``dim`` values, or one
    value for every axis), else ``a_i = difficulty / dim`` (Genz fixes
    ``||a||_1`` as the difficulty of the integrand).
    """
    text = coefficients.strip()
    if not text:
        return np.full(dim, difficulty / dim)
    try:
        a = np.array([float(x) for x in text.split(",")])
    except ValueError:
        raise ParameterError(
            "coefficients", coefficients, "comma-separated numbers such as '1,2.5,0.3'", "is not a list of numbers"
        ) from None
    if a.size == 1:
        a = np.full(dim, a[0])
    if a.size != dim:
        raise ParameterError(
            "coefficients",
            coefficients,
            f"{dim} values (one per dimension, `dim`) or a single value",
            f"has {a.size} values",
        )
    if not (np.all(np.isfinite(a)) and np.all(a > 0)):
        raise ParameterError("coefficients", coefficients, "positive finite numbers")
    return a


def _check(family: str, dim: int, difficulty: float, shift: float, coefficients: str) -> None:
    coefficient_vector(dim, difficulty, coefficients)


def _corner_peak(a: np.ndarray) -> float:
    """∫ (1 + a·x)^-(d+1) dx over [0,1]^d.

    The textbook closed form is an alternating sum over the 2^d cube
    vertices, useless beyond d ≈ 20. Instead, from
    ``(1+s)^-(d+1) = (1/d!) ∫_0^∞ t^d e^{-t(1+s)} dt`` and
    ``E[e^{-t a·x}] = Π_j (1 - e^{-t a_j}) / (t a_j)``:
    ``I = (1/d!) ∫_0^∞ e^{-t} Π_j (1 - e^{-t a_j}) / a_j dt``, a positive,
    smooth one-dimensional integral evaluated by adaptive quadrature to
    near machine precision.
    """
    from scipy.integrate import quad
    from scipy.special import gammaln

    d = a.size
    log_norm = float(gammaln(d + 1))

    def f(t: float) -> float:
        if t <= 0.0:
            return 0.0
        return math.exp(-t + float(np.sum(np.log(-np.expm1(-t * a) / a))) - log_norm)

    # The integrand is below the Gamma(d+1) density, which peaks at t = d.
    top = d + 1.0 + 40.0 * math.sqrt(d + 1.0)
    mid = min(float(d), top)
    parts = [(0.0, mid), (mid, top)] if mid > 0 else [(0.0, top)]
    total = sum(quad(f, lo, hi, epsabs=0.0, epsrel=1e-13, limit=200)[0] for lo, hi in parts)
    return total + quad(f, top, math.inf, epsabs=0.0, epsrel=1e-13, limit=200)[0]


def genz_integral(family: str, a: np.ndarray, u: np.ndarray) -> float:
    """Exact integral over [0, 1]^d of a Genz family with coefficients ``a`` and shifts ``u``."""
    if family == "oscillatory":
        # Re[e^{2πi u_1} Π_j ∫_0^1 e^{i a_j x} dx], ∫_0^1 e^{iax} dx = (e^{ia} - 1)/(ia)
        factors = np.expm1(1j * a) / (1j * a)
        return float((np.exp(2j * math.pi * u[0]) * np.prod(factors)).real)
    if family == "product_peak":
        return float(np.prod((np.arctan(a * (1.0 - u)) + np.arctan(a * u)) / a))
    if family == "corner_peak":
        return _corner_peak(a)
    if family == "gaussian":
        from scipy.special import erf

        return float(np.prod(math.sqrt(math.pi) / (2.0 * a) * (erf(a * (1.0 - u)) + erf(a * u))))
    if family == "continuous":
        return float(np.prod((2.0 - np.exp(-a * u) - np.exp(-a * (1.0 - u))) / a))
    if family == "discontinuous":
        upper = np.ones_like(a)
        upper[:2] = u[:2]
        return float(np.prod(np.expm1(a * upper) / a))
    raise ValueError(f"`family` = {family!r} is not one of: {', '.join(FAMILIES)}.")


def genz_values(family: str, x: np.ndarray, a: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The integrand at the rows of ``x`` (shape ``(n, d)``)."""
    if family == "oscillatory":
        return np.cos(2.0 * math.pi * u[0] + row_sums(x, a))
    if family == "product_peak":
        return row_products(1.0 / (1.0 + (a * (x - u)) ** 2))
    if family == "corner_peak":
        return (1.0 + row_sums(x, a)) ** (-(a.size + 1.0))
    if family == "gaussian":
        return np.exp(-row_sums((a * (x - u)) ** 2))
    if family == "continuous":
        return np.exp(-row_sums(np.abs(x - u), a))
    if family == "discontinuous":
        inside = x[:, 0] <= u[0]
        if a.size > 1:
            inside &= x[:, 1] <= u[1]
        return np.where(inside, np.exp(row_sums(x, a)), 0.0)
    raise ValueError(f"`family` = {family!r} is not one of: {', '.join(FAMILIES)}.")


def _exact(family: str, dim: int, difficulty: float, shift: float, coefficients: str) -> float:
    a = coefficient_vector(dim, difficulty, coefficients)
    return genz_integral(family, a, np.full(dim, shift))


def integrand_at(
    u: np.ndarray, family: str, dim: int, difficulty: float, shift: float, coefficients: str
) -> np.ndarray:
    """The uniform form: the integrand at the points ``u`` of [0, 1)^dim themselves."""
    return genz_values(family, u, coefficient_vector(dim, difficulty, coefficients), np.full(dim, shift))


def _dim(dim: int) -> int:
    return dim


@model(
    name="integrate",
    exact=_exact,
    ranges={"dim": (1, MAX_DIM), "difficulty": (0.0, 1000.0, "(]"), "shift": (0.0, 1.0)},
    choices={"family": FAMILIES},
    check=_check,
    block_size=1 << 16,
    batch_size=1 << 12,
    dimension=_dim,
    uniform=integrand_at,
)
def simulate(
    rng: np.random.Generator,
    n: int,
    family: str = "oscillatory",
    dim: int = 5,
    difficulty: float = 5.0,
    shift: float = 0.5,
    coefficients: str = "",
) -> np.ndarray:
    """Integral of a Genz test function over [0, 1]^d by plain Monte Carlo; exact closed forms.

    The six families of A. Genz, "Testing multidimensional integration
    routines", in *Tools, Methods and Languages for Scientific and
    Engineering Computation* (1984) 81-94, with coefficients ``a`` and shifts
    ``u`` (every ``u_i = shift``):

    - oscillatory ``cos(2π u_1 + a·x)``;
    - product peak ``Π 1 / (1 + a_i² (x_i - u_i)²)`` (Genz's
      ``Π (a_i^-2 + (x_i - u_i)²)^-1`` times ``Π a_i^-2``, so that the peak
      value is 1 and high dimensions do not underflow);
    - corner peak ``(1 + a·x)^-(d+1)``;
    - Gaussian ``exp(-Σ a_i² (x_i - u_i)²)``;
    - continuous ``exp(-Σ a_i |x_i - u_i|)``;
    - discontinuous ``exp(a·x)`` where ``x_1 <= u_1`` and ``x_2 <= u_2``, else 0.

    Exact integrals are products of one-dimensional integrals, except the
    corner peak (a one-dimensional Laplace-type integral, see
    `_corner_peak`). Default coefficients ``a_i = difficulty / dim`` (Genz's
    ``||a||_1 = difficulty``); ``coefficients`` overrides them with
    comma-separated positive numbers (``dim`` values, or one for all).
    """
    a = coefficient_vector(dim, difficulty, coefficients)
    return genz_values(family, rng.random((n, dim)), a, np.full(dim, shift))
