"""Normal tail probability P(Z > c): plain Monte Carlo and importance sampling."""

from __future__ import annotations

import numpy as np

from montecarlo.model import Output, model


def _exact(c: float, shift: float | None = None) -> dict[str, float]:
    from scipy.special import ndtr

    p = float(ndtr(-c))  # ndtr(-c) = 1 - Φ(c) without cancellation for large c
    return {"plain": p, "importance": p}


def tail_at(u: np.ndarray, c: float, shift: float | None) -> np.ndarray:
    """The uniform form: both estimators from normals ``ndtri(u)`` (two dimensions, one per output)."""
    from montecarlo.uniforms import normals

    mu = c if shift is None else shift
    z = normals(u)
    out = np.empty((u.shape[0], 2))
    out[:, 0] = z[:, 0] > c
    y = z[:, 1] + mu
    out[:, 1] = np.where(y > c, np.exp(-mu * y + 0.5 * mu * mu), 0.0)
    return out


@model(
    name="tail_probability",
    outputs=[Output("plain", kind="probability"), Output("importance")],
    exact=_exact,
    ranges={"c": (-10.0, 10.0), "shift": (-20.0, 20.0)},
    block_size=1 << 20,
    batch_size=1 << 15,
    dimension=2,
    uniform=tail_at,
)
def simulate(rng: np.random.Generator, n: int, c: float = 4.0, shift: float | None = None) -> np.ndarray:
    """P(Z > c) for a standard normal Z: plain indicator and importance sampling by mean shift.

    ``plain`` is the indicator ``1{Z > c}`` (a probability output: Wilson
    interval, valid with zero hits). ``importance`` draws ``Y ~ N(μ, 1)``
    with ``μ = shift`` (default ``c``, the dominating point of the tail
    event) and reports ``1{Y > c} exp(-μ Y + μ²/2)``, the indicator times
    the likelihood ratio φ(Y)/φ(Y - μ); its mean is also ``P(Z > c)``
    (Glasserman, *Monte Carlo Methods in Financial Engineering*, 2004,
    §4.6.1; Asmussen & Glynn, *Stochastic Simulation*, 2007, §V.1). Exact
    value: ``1 - Φ(c)``, computed as ``scipy.special.ndtr(-c)``. At ``c = 6``
    (p ≈ 9.9e-10) a million plain samples almost surely see no hit, while the
    importance estimate has a relative standard error near 0.3 %.
    """
    mu = c if shift is None else shift
    z = rng.standard_normal((2, n))
    out = np.empty((n, 2))
    out[:, 0] = z[0] > c
    y = z[1] + mu
    out[:, 1] = np.where(y > c, np.exp(-mu * y + 0.5 * mu * mu), 0.0)
    return out
