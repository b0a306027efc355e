"""Option groups of a run: how the samples are drawn, how the run executes, where it checkpoints.

A run is described by values grouped by what they change:

- `Sampling`: how samples are drawn (bit generator, block and batch sizes,
  sampler and replicates); part of the `RunSpec`, so it fixes the numbers.
- `Stopping`: when the run ends (rules from `montecarlo.stopping`); part of
  the RunSpec.
- `montecarlo.execution.Execution` and `montecarlo.execution.Checkpointing`:
  where and how blocks run, where progress is saved; never change a number.

Each checks its fields when it is made, so an invalid combination (a
scheduler without Dask) cannot be written. The names of the fields are the
shared option vocabulary (`montecarlo.vocabulary`): the same word is the
Python keyword, the experiment-file key and, spelt ``--like-this``, the
command-line option.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from montecarlo.errors import ValidationError
from montecarlo.pointset import MAX_REPLICATES, SAMPLERS, is_power_of_two
from montecarlo.stopping import (
    RULES,
    RelativeTolerance,
    StoppingRule,
    TimeLimit,
    Tolerance,
    outputs_arg,
    rule_from_dict,
)
from montecarlo.twostage import TwoStage
from montecarlo.validate import (
    check_bool,
    check_choice,
    check_count,
    check_int,
    check_levels,
    suggest_keywords,
)

#: numpy bit generators a run may use, by the name recorded in its RunSpec
#: (`montecarlo.seeding` maps them to classes).
BIT_GENERATORS = ("sfc64", "pcg64", "pcg64dxsm", "philox")
#: SFC64 is the fastest of the four on the π kernel (README, "Choice of bit
#: generator"); all four pass PractRand/BigCrush in numpy's own testing.
DEFAULT_BIT_GENERATOR = "sfc64"

#: Interval methods by name: "auto" is Wilson for probability outputs and
#: Student t for the others (`montecarlo.stats.interval`).
INTERVAL_METHODS = ("auto", "t", "normal", "wilson", "clopper-pearson")

#: Samples of a run without stopping rules, when none are given.
DEFAULT_SAMPLES = 1_000_000
#: The cap of a run with stopping rules, when none is given: enough for π to
#: ±1e-4 at 95% (about 1.04e9 samples), reached in under a minute by the π
#: model on two cores.
DEFAULT_MAX_SAMPLES = 10**10


@suggest_keywords
@dataclass(frozen=True)
class Sampling:
    """How samples are drawn: part of the `RunSpec`, so it fixes the numbers.

    Parameters
    ----------
    bit_generator : {"sfc64", "pcg64", "pcg64dxsm", "philox"}
        numpy bit generator of every block's stream.
    block_size : int, optional
        Samples per seeded block (default: the model's).
    batch_size : int, optional
        Samples per call of the model inside a block (default: the model's,
        at most the block size).
    sampler : {"random", "sobol", "halton"}
        ``"random"`` (default) draws every block from the bit generator
        (plain Monte Carlo); ``"sobol"`` and ``"halton"`` evaluate the
        model's uniform form on scrambled low-discrepancy points
        (randomized quasi-Monte Carlo, `montecarlo.pointset`).
    replicates : int, optional
        With a quasi-random sampler: independent randomizations of the
        point set (default 16); the interval is Student t on their means.

    quantiles, shortfall : float or sequence of float
        Report these quantiles of every output (distribution-free intervals)
        and expected shortfalls, the means above them (README, "Quantiles").
    distribution : bool
        Keep every output's distribution for `Result.histogram` and
        `Result.ecdf`; implied by the two above.

    Examples
    --------
    >>> Sampling(block_size=10_000).block_size
    10000
    >>> Sampling(sampler="sobol", replicates=8).replicates
    8
    >>> Sampling(quantiles=[0.99, 0.5]).quantiles
    (0.5, 0.99)
    """

    bit_generator: str = DEFAULT_BIT_GENERATOR
    block_size: int | None = None
    batch_size: int | None = None
    sampler: str = "random"
    replicates: int | None = None
    quantiles: tuple[float, ...] = ()
    shortfall: tuple[float, ...] = ()
    distribution: bool = False

    def __post_init__(self) -> None:
        check_choice(self.bit_generator, "bit_generator", BIT_GENERATORS)
        object.__setattr__(self, "quantiles", check_levels(self.quantiles, "quantiles"))
        object.__setattr__(self, "shortfall", check_levels(self.shortfall, "shortfall"))
        check_bool(self.distribution, "distribution")
        for name in ("block_size", "batch_size"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_int(value, name))
        check_choice(self.sampler, "sampler", SAMPLERS)
        if self.replicates is not None:
            object.__setattr__(self, "replicates", check_int(self.replicates, "replicates", 2, MAX_REPLICATES))
            if self.sampler == "random":
                raise ValidationError(
                    "replicates", self.replicates, "a count together with {sampler} sobol or halton",
                    "needs a quasi-random sampler",
                )  # fmt: skip
        for name in ("block_size", "batch_size"):
            value = getattr(self, name)
            if self.sampler == "sobol" and value is not None and not is_power_of_two(value):
                raise ValidationError(name, value, "a power of two with {sampler} sobol (the balance of Sobol' points)")


@suggest_keywords
@dataclass(frozen=True, init=False)
class Stopping:
    """When a run ends: stopping rules, with a cap and a floor.

    With no rules a run takes exactly its ``samples``. Otherwise it ends at
    the first block boundary, in block order, where a target rule is met
    (once ``min_samples`` are folded) or a budget rule fires, and at the
    latest at ``max_samples`` (the cap). Several target rules combine with
    "any": ``tolerance=1e-3, rtol=1e-4`` stops when the half-width is below
    ``max(1e-3, 1e-4·|estimate|)``, as QUADPACK combines ``epsabs`` and
    ``epsrel``.

    Parameters
    ----------
    tolerance : float, optional
        Stop once every targeted interval's half-width is at most this
        (`Tolerance`).
    rtol : float, optional
        Stop once every targeted half-width is at most ``rtol × |estimate|``
        (`RelativeTolerance`).
    target : str or sequence of str, optional
        The outputs (or derived estimates) ``tolerance`` and ``rtol`` apply
        to; default every model output.
    min_samples : int, optional
        Precision targets are not checked before this many samples (limits
        the bias of sequential stopping; docs/stopping.md).
    max_samples : int, optional
        The cap (default 1e10). The run's ``samples`` is the same setting:
        give one of them.
    time_limit : float, optional
        Stop after this many seconds of wall time (`TimeLimit`); the only
        rule whose stopping point is not reproducible, and flagged so.
    kurtosis_bound : float, optional
        With ``tolerance``: the opt-in two-stage rule (`TwoStage`). Assuming
        every targeted output's excess kurtosis is at most this, a pilot of
        blocks bounds σ and fresh blocks give means guaranteed within
        ``tolerance`` with the run's confidence (docs/stopping.md).
    rules : StoppingRule or sequence of them, optional
        Rule objects of your own (subclasses of `StoppingRule`), combined
        with the ones above.

    Examples
    --------
    >>> Stopping(tolerance=1e-4)
    Stopping(rules=(Tolerance(value=0.0001, outputs=()),), min_samples=0, max_samples=None)
    >>> Stopping(rtol=1e-3, target="price", min_samples=10**5, max_samples=10**8).max_samples
    100000000
    >>> Stopping(target="price")
    Traceback (most recent call last):
    ...
    montecarlo.errors.ValidationError: `target` = 'price' needs a precision target; accepted: an output name together with tolerance or rtol.
    """

    rules: tuple[StoppingRule, ...]
    min_samples: int
    max_samples: int | None

    def __init__(
        self,
        tolerance: float | None = None,
        rtol: float | None = None,
        *,
        target: str | Iterable[str] | None = None,
        min_samples: int | str | None = None,
        max_samples: int | str | None = None,
        time_limit: float | None = None,
        kurtosis_bound: float | None = None,
        rules: StoppingRule | Iterable[StoppingRule] = (),
    ) -> None:
        built: list[StoppingRule] = []
        targets = outputs_arg(target, "target")
        if kurtosis_bound is not None:
            built.append(TwoStage.of(tolerance, rtol, kurtosis_bound, targets))
        elif tolerance is not None:
            built.append(Tolerance(tolerance, targets))
        if rtol is not None and kurtosis_bound is None:
            built.append(RelativeTolerance(rtol, targets))
        if targets and not built:
            raise ValidationError(
                "target", target, "an output name together with tolerance or rtol", "needs a precision target"
            )
        if time_limit is not None:
            built.append(TimeLimit(time_limit))
        given = [rules] if isinstance(rules, StoppingRule) else rules
        if isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Iterable):
            raise ValidationError("rules", rules, "a StoppingRule or a list of them")
        for r in given:
            if not isinstance(r, StoppingRule):
                raise ValidationError(
                    "rules", r, "Tolerance, RelativeTolerance, TimeLimit or a StoppingRule subclass", "is not a rule"
                )
            if RULES.get(r.name) is not type(r):
                raise ValidationError(
                    "rules", r, "a rule whose class sets its own `name` (result files record it by that name)",
                    f"is a {type(r).__name__}, which is not registered under its name {r.name!r}",
                )  # fmt: skip
            built.append(r)
        floor = 0
        if min_samples is not None:
            floor = check_count(min_samples, "min_samples")
            if not any(r.target for r in built):
                raise ValidationError(
                    "min_samples", min_samples, "a count together with a precision target", "needs a precision target"
                )
        cap = None
        if max_samples is not None:
            cap = check_count(max_samples, "max_samples")
            if not built:
                raise ValidationError("max_samples", max_samples, "a cap together with a stopping rule", "needs a rule")
            if floor > cap:
                raise ValidationError(
                    "min_samples", floor, f"at most {{max_samples}} = {cap}", "is larger than the cap"
                )
        object.__setattr__(self, "rules", tuple(built))
        object.__setattr__(self, "min_samples", floor)
        object.__setattr__(self, "max_samples", cap)

    def __bool__(self) -> bool:
        """True when the run has any rule."""
        return bool(self.rules)

    @property
    def targets(self) -> tuple[StoppingRule, ...]:
        """The precision-target rules."""
        return tuple(r for r in self.rules if r.target)

    @property
    def budgets(self) -> tuple[StoppingRule, ...]:
        """The budget rules (the time limit)."""
        return tuple(r for r in self.rules if not r.target)

    @property
    def reproducible(self) -> bool:
        """False when a rule reads the clock."""
        return all(r.reproducible for r in self.rules)

    def with_cap(self, cap: int | None) -> Stopping:
        """A copy with ``max_samples`` set to ``cap``."""
        copy = object.__new__(Stopping)
        for name in ("rules", "min_samples"):
            object.__setattr__(copy, name, getattr(self, name))
        object.__setattr__(copy, "max_samples", cap)
        return copy

    def to_dict(self) -> dict:
        """The JSON form: rules and ``min_samples`` (the cap is the RunSpec's ``samples``)."""
        return {"rules": [r.to_dict() for r in self.rules], "min_samples": self.min_samples}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Stopping:
        """The stopping back from its `to_dict` form (rules by registered name only)."""
        if not d:
            return cls()
        rules = tuple(rule_from_dict(r) for r in d.get("rules", ()))
        floor = d.get("min_samples", 0)
        return cls(rules=rules, min_samples=floor or None)
