"""Overflow of block statistics: a model error at once, never a ``nan`` estimate.

Finite model values can still be too large to average in float64 (1e308
twice is ``inf``): the block's mean or co-moments, or the folded prefix's,
are then ``inf`` or ``nan``. A run reports it as the model's error, naming
the block, instead of printing ``nan`` with an interval of ``[-inf, inf]``.
"""

from __future__ import annotations

import math

import numpy as np

from montecarlo.errors import ModelError
from montecarlo.stats.accumulators import Stats


def is_finite(stats: Stats) -> bool:
    """Whether the mean and co-moments of ``stats`` are finite numbers."""
    m = stats.moments
    if m.mean.size == 1:  # the commonest run: two Python floats, without numpy's overhead
        return math.isfinite(m.mean.item(0)) and math.isfinite(m.comoment.item(0))
    return bool(np.isfinite(m.mean).all() and np.isfinite(m.comoment).all())


def overflow_error(index: int, key: tuple[int, ...], where: str) -> ModelError:
    """The `ModelError` of block ``index`` whose statistics overflowed ``where``."""
    return ModelError(
        f"the model's values overflowed {where}: they are too large to average in float64 "
        f"(block {index}, spawn key {key}); scale them down",
        index,
        key,
    )
