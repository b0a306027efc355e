"""The two-stage rule: a fixed-width interval with a stated guarantee, under a bound on the kurtosis.

A t interval's coverage is only asymptotic, and the checks of
`montecarlo.estimation.diagnostics` only read the sample. With `TwoStage` the run
instead guarantees, for every output it targets,

    P(|mean_hat - mean| <= tolerance) >= confidence

for every distribution whose excess kurtosis is at most ``kurtosis``. This
is the two-stage algorithm of F. J. Hickernell, L. Jiang, Y. Liu and
A. B. Owen, "Guaranteed conservative fixed width confidence intervals via
Monte Carlo sampling", *Monte Carlo and Quasi-Monte Carlo Methods 2012*
(2013) 105-128 (QMCPy's ``CubMCG``), on blocks:

1. **Pilot.** The first blocks, at least `pilot_samples` samples, give the
   sample variance ``s²``; ``σ_up = INFLATION · s``. By Cantelli's
   inequality applied to ``s²``, whose variance is
   ``σ⁴ (κ - (n - 3)/(n - 1)) / n`` (``κ`` the kurtosis, 3 for normal
   outcomes), ``P(σ <= σ_up) >= 1 - α₁`` whenever
   ``κ <= (n - 3)/(n - 1) + (α₁ n / (1 - α₁)) (1 - 1/INFLATION²)²``;
   the pilot is the smallest ``n`` for which the bound covers ``kurtosis + 3``.
2. **Fresh blocks.** The blocks after the pilot, independent of it, give the
   mean. Their count `fresh_samples` is the smaller of Chebyshev's
   ``σ_up² / (α₂ tolerance²)`` and the smallest ``n`` with
   ``2 Φ(-sqrt(n) tolerance / σ_up) + 2 C ρ / sqrt(n) <= α₂``, the
   Berry-Esseen bound with ``ρ <= κ^(3/4)`` (Lyapunov) and ``C = 0.4748``
   (I. Shevtsova, "On the absolute constants in the Berry-Esseen type
   inequalities for identically distributed summands", 2011,
   arXiv:1111.6554). Both fix the sample count from the pilot alone, so
   stopping carries no sequential bias.

With ``α₁ = α₂ = 1 - sqrt(confidence)`` the two stages together hold with
probability at least ``confidence``. The assumption -- the kurtosis bound --
cannot be checked from the data; the run reports the pilot's own excess
kurtosis and flags an estimate whose pilot exceeds the bound.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, ClassVar

from montecarlo.core.stopping_rules import Prefix, _OnOutputs, outputs_arg
from montecarlo.core.validate import check_positive
from montecarlo.errors import ValidationError

#: ``σ_up = INFLATION · s``: the factor by which the pilot's standard deviation is inflated.
INFLATION = 1.2
#: The Berry-Esseen constant for identically distributed summands (Shevtsova 2011).
BERRY_ESSEEN = 0.4748


def stage_uncertainty(confidence: float) -> float:
    """``α₁ = α₂``: each stage's failure probability, ``1 - sqrt(confidence)``."""
    return 1.0 - math.sqrt(confidence)


def kurtosis_covered(n: int, confidence: float, inflation: float = INFLATION) -> float:
    """The largest kurtosis (not excess) for which a pilot of ``n`` samples bounds σ (Cantelli)."""
    a = stage_uncertainty(confidence)
    return (n - 3) / (n - 1) + (a * n / (1.0 - a)) * (1.0 - 1.0 / inflation**2) ** 2


#: The largest kurtosis bound: its pilot (about 4e14 samples at 95%) is already beyond any run.
MAX_KURTOSIS = 1e12


def pilot_samples(kurtosis: float, confidence: float, inflation: float = INFLATION) -> int:
    """The smallest pilot whose variance bound holds for every excess kurtosis up to ``kurtosis``."""
    n = 4
    while kurtosis_covered(n, confidence, inflation) < kurtosis + 3.0:
        n *= 2
    lo, hi = n // 2, n
    while lo < hi:
        mid = (lo + hi) // 2
        if kurtosis_covered(mid, confidence, inflation) >= kurtosis + 3.0:
            hi = mid
        else:
            lo = mid + 1
    return max(lo, 4)


def fresh_samples(sigma_up: float, tolerance: float, kurtosis: float, confidence: float) -> int:
    """Fresh samples that put the mean within ``tolerance`` with probability ``sqrt(confidence)``, given σ <= σ_up."""
    if sigma_up <= 0.0:
        return 1
    a = stage_uncertainty(confidence)
    chebyshev = math.ceil((sigma_up / tolerance) ** 2 / a)
    rho = (kurtosis + 3.0) ** 0.75
    phi = NormalDist().cdf

    def fails(n: int) -> bool:
        return 2.0 * phi(-math.sqrt(n) * tolerance / sigma_up) + 2.0 * BERRY_ESSEEN * rho / math.sqrt(n) > a

    if fails(chebyshev):
        return chebyshev
    lo, hi = 1, chebyshev  # the bound falls with n: the smallest n where it holds
    while lo < hi:
        mid = (lo + hi) // 2
        if fails(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


@dataclass(frozen=True)
class TwoStage(_OnOutputs):
    """Stop when the fresh blocks after a pilot are enough for a guaranteed fixed-width interval.

    Parameters
    ----------
    tolerance : float
        The guaranteed half-width, in the outputs' units.
    kurtosis : float
        The assumed bound on every targeted output's excess kurtosis
        (0 for normal outcomes, 6 for exponential ones).
    outputs : str or sequence of str, optional
        Model outputs the guarantee covers (default: all).

    Notes
    -----
    The pilot blocks and the fresh blocks are kept apart by the
    ``two_stage`` part of the run (`montecarlo.stats.shape.TwoStageShapes`);
    the result reports ``<output>_two_stage`` estimates, each the mean of
    the fresh blocks with the interval ``estimate ± tolerance``.
    """

    tolerance: float
    kurtosis: float
    outputs: tuple[str, ...] = ()
    name: ClassVar[str] = "two_stage"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tolerance", check_positive(self.tolerance, "tolerance", "1e-3"))
        object.__setattr__(self, "kurtosis", check_positive(self.kurtosis, "kurtosis_bound", "10"))
        if self.kurtosis > MAX_KURTOSIS:
            raise ValidationError(
                "kurtosis_bound", self.kurtosis, f"a bound up to {MAX_KURTOSIS:g}",
                f"needs a pilot of more than {pilot_samples(MAX_KURTOSIS, 0.95):,} samples",
            )  # fmt: skip
        object.__setattr__(self, "outputs", outputs_arg(self.outputs, "target"))

    @classmethod
    def of(cls, tolerance: Any, rtol: Any, kurtosis_bound: Any, targets: tuple[str, ...]) -> TwoStage:
        """The rule `montecarlo.Stopping` builds from its ``kurtosis_bound`` (checked against its other options)."""
        if tolerance is None:
            raise ValidationError(
                "kurtosis_bound", kurtosis_bound, "a bound together with {tolerance}", "needs a tolerance"
            )
        if rtol is not None:
            raise ValidationError(
                "rtol", rtol, "rtol or the two-stage rule, not both", "cannot stop a two-stage run early"
            )
        return cls(tolerance, kurtosis_bound, targets)

    def targets_of(self, names: tuple[str, ...]) -> list[int]:
        """Positions of the targeted outputs among ``names`` (every output when none are named)."""
        return [names.index(o) for o in self.outputs] if self.outputs else list(range(len(names)))

    def fresh_needed(self, parts: Any, names: tuple[str, ...], confidence: float) -> int | None:
        """Fresh samples the pilot in ``parts`` asks for (None while the pilot is incomplete)."""
        if parts is None or not parts.pilot_complete:
            return None
        need = 1
        for i in self.targets_of(names):
            sigma_up = INFLATION * parts.pilot_sd(i)
            need = max(need, fresh_samples(sigma_up, self.tolerance, self.kurtosis, confidence))
        return need

    def should_stop(self, prefix: Prefix) -> bool:
        """The pilot is complete and the fresh blocks hold the samples it asks for."""
        parts = prefix.parts.get(self.name) if prefix.parts else None
        names = tuple(e.name for e in prefix.estimates.values() if e.is_output)
        confidence = next(iter(prefix.estimates.values())).confidence
        need = self.fresh_needed(parts, names, confidence)
        return need is not None and parts is not None and parts.fresh.count >= need

    def describe(self) -> str:
        """The target in words."""
        return f"two-stage |mean - true| <= {self.tolerance:g} on {self.on()}, if excess kurtosis <= {self.kurtosis:g}"

    def outputs_named(self) -> tuple[str, ...]:
        """The outputs this rule names."""
        return self.outputs


def two_stage_rule(rules: Mapping[str, Any] | Any) -> TwoStage | None:
    """The `TwoStage` rule among ``rules`` (a `Stopping`'s), if any."""
    for r in getattr(rules, "rules", rules):
        if isinstance(r, TwoStage):
            return r
    return None
