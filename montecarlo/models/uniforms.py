"""Uniform forms of models: their dimension, and the transforms they build on.

A model that runs on quasi-random points declares a dimension ``d`` (an int
or a function of its parameters) and ``uniform(u, **params)``, the outcomes
at points ``u`` of shape ``(n, d)`` in [0, 1)^d (`montecarlo.model`). This
module checks that a model can run with a quasi-random sampler and offers
the transforms such forms are made of: standard normals by the inverse
normal CDF and the Brownian-bridge construction of a path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from montecarlo.core.layout import (
    DEFAULT_REPLICATES,
    MAX_SOBOL_POINTS,
    default_block_size,
    points_per_replicate,
    power_of_two_at_most,
)
from montecarlo.errors import ValidationError
from montecarlo.models.parameters import call_with_params

if TYPE_CHECKING:  # pragma: no cover
    from montecarlo.models.record import Model

#: Dimensions scipy's Sobol' generator has direction numbers for (Joe & Kuo 2008).
MAX_SOBOL_DIMENSION = 21201
#: Dimensions of scrambled Halton points: scipy's scrambling keeps a permutation per prime base and digit, whose
#: memory grows about as d^2 (measured: 250 MB at d = 1,000, 3.7 GB and 49 s for 64 points at d = 5,000).
MAX_HALTON_DIMENSION = 1000

#: Coordinates are clipped from below at 2^-53, the gap between 1 and the
#: largest double below it, so normals stay within ±8.13 on both sides: a
#: scrambled Sobol' coordinate is exactly 0 with probability 2^-30, and
#: ``ndtri(0)`` is -inf.
LOW = 2.0**-53


def uniform_dimension(rec: Model, params: Mapping[str, Any], sampler: str) -> int:
    """The dimension of ``rec``'s uniform form at ``params``; a `ValidationError` if it cannot run on ``sampler``."""
    if rec.uniform is None or rec.dimension is None:
        raise ValidationError(
            "sampler", sampler, "random for this model",
            f"needs a model with a uniform form (a fixed dimension d and a function of points in [0, 1)^d), "
            f"and model {rec.name!r} has none",
        )  # fmt: skip
    d = call_with_params(rec.dimension, (), params) if callable(rec.dimension) else rec.dimension
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValidationError(
            "dimension", d, "an integer >= 1", f"of model {rec.name!r} at the parameters {dict(params)} is not accepted"
        )
    if sampler == "sobol" and d > MAX_SOBOL_DIMENSION:
        raise ValidationError(
            "sampler", sampler, f"halton, or a model of at most {MAX_SOBOL_DIMENSION} dimensions",
            f"cannot draw the {int(d)} dimensions of model {rec.name!r}",
        )  # fmt: skip
    if sampler == "halton" and d > MAX_HALTON_DIMENSION:
        raise ValidationError(
            "sampler", sampler, f"sobol (up to {MAX_SOBOL_DIMENSION} dimensions), or halton up to {MAX_HALTON_DIMENSION}",
            f"cannot draw the {int(d)} dimensions of model {rec.name!r} in bounded memory "
            "(scrambled Halton points need memory growing as the square of the dimension)",
        )  # fmt: skip
    return int(d)


def quasi_layout(
    rec: Model,
    params: Mapping[str, Any],
    sampling: Any,
    samples: int,
    block_size: int,
    batch_size: int,
    *,
    interval: str,
    capped: bool,
) -> tuple[int, int, int, int]:
    """``(samples, block_size, batch_size, replicates)`` of a quasi-random run of ``rec``.

    ``sampling`` is the run's `montecarlo.core.sampling.Sampling`. ``samples`` is
    rounded up to ``R`` times the points per replicate
    (`montecarlo.core.layout.points_per_replicate`); when it is only a cap
    (``capped``: a stopping run) Sobol' points stop at 2^30 per replicate.
    Raises `ValidationError` for a model without a uniform form and for a
    binomial interval (the interval is on the replicate means).
    """
    sampler = sampling.sampler
    uniform_dimension(rec, params, sampler)
    if interval not in ("auto", "t", "normal"):
        raise ValidationError(
            "interval", interval, f"auto, t or normal with {{sampler}} {sampler} (an interval on the replicate means)",
            "is a binomial interval",
        )  # fmt: skip
    replicates = sampling.replicates or DEFAULT_REPLICATES
    m = points_per_replicate(samples, replicates, sampler)
    if sampler == "sobol" and m > MAX_SOBOL_POINTS:
        if not capped:
            raise ValidationError(
                "samples", samples, f"at most 2^30 = {MAX_SOBOL_POINTS:,} points per replicate "
                f"({replicates * MAX_SOBOL_POINTS:,} samples with {replicates} replicates)",
                f"needs {m:,} Sobol' points per replicate",
            )  # fmt: skip
        m = MAX_SOBOL_POINTS
    if sampling.block_size is None:  # given ones are kept (a power of two for Sobol', checked by Sampling)
        block_size = default_block_size(sampler, block_size)
    if sampling.batch_size is None:
        batch_size = min(batch_size, block_size)
        batch_size = power_of_two_at_most(batch_size) if sampler == "sobol" else batch_size
    return replicates * m, block_size, batch_size, replicates


def normals(u: np.ndarray) -> np.ndarray:
    """Standard normals ``ndtri(u)`` of uniforms ``u`` in [0, 1) (inverse CDF, so order is kept)."""
    from scipy.special import ndtri

    return ndtri(np.maximum(u, LOW))


def bridge_order(steps: int) -> list[tuple[int, int, int]]:
    """The Brownian-bridge construction order of ``steps`` equally spaced times.

    A list of ``(j, left, right)``: point ``j`` is drawn given the points
    ``left`` and ``right`` already built (``-1`` is time 0, where the path is
    0). The last time comes first, then midpoints breadth-first, so the first
    coordinates of ``u`` fix the coarse shape of the path (Moskowitz &
    Caflisch, J. Comput. Appl. Math. 66 (1996) 473-486; Glasserman, *Monte
    Carlo Methods in Financial Engineering*, 2004, §3.1.2 and §5.5.1).
    """
    order = [(steps - 1, -1, -1)]
    todo = deque([(-1, steps - 1)])
    while todo:
        left, right = todo.popleft()
        if right - left < 2:
            continue
        j = (left + right) // 2
        order.append((j, left, right))
        todo.extend(((left, j), (j, right)))
    return order


def brownian_bridge(z: np.ndarray, dt: float) -> np.ndarray:
    """Brownian motion at times ``dt, 2 dt, ..., m dt`` from normals ``z`` of shape ``(n, m)``, bridge order.

    Column ``i`` of ``z`` drives the ``i``-th point of `bridge_order`; with
    ``t_l < t_j < t_r``, ``W(t_j) = ((t_r - t_j) W(t_l) + (t_j - t_l) W(t_r)) / (t_r - t_l)
    + sqrt((t_j - t_l)(t_r - t_j) / (t_r - t_l)) Z``.
    """
    n, m = z.shape
    w = np.empty((n, m))
    for i, (j, left, right) in enumerate(bridge_order(m)):
        tj = (j + 1) * dt
        if right < 0:  # the end point: W(T) = sqrt(T) Z
            w[:, j] = np.sqrt(tj) * z[:, i]
            continue
        tl, tr = (left + 1) * dt, (right + 1) * dt
        base = w[:, right] * ((tj - tl) / (tr - tl))
        if left >= 0:
            base += w[:, left] * ((tr - tj) / (tr - tl))
        w[:, j] = base + np.sqrt((tj - tl) * (tr - tj) / (tr - tl)) * z[:, i]
    return w


def row_sums(x: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """The sum of each row of ``x`` of shape ``(n, d)`` (weighted by ``weights`` of shape ``(d,)``), left to right.

    Column by column, ``s = x[:, 0] * w[0]; s = s + x[:, 1] * w[1]; ...``:
    a defined order, the same on every machine, where ``x @ w`` adds in the
    order the CPU's BLAS kernel picks and ``x.sum(axis=1)`` in numpy's.
    Built-in models use it for their sums over coordinates and time steps.
    """
    s = x[:, 0] * weights[0] if weights is not None else x[:, 0].astype(np.float64, copy=True)
    for j in range(1, x.shape[1]):
        s += x[:, j] * weights[j] if weights is not None else x[:, j]
    return s


def row_products(x: np.ndarray) -> np.ndarray:
    """The product of each row of ``x`` of shape ``(n, d)``, left to right (a defined order, as `row_sums`)."""
    p = x[:, 0].astype(np.float64, copy=True)
    for j in range(1, x.shape[1]):
        p *= x[:, j]
    return p
