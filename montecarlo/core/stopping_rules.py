"""Stopping rules: end a run when a precision target is met or a budget is spent.

A rule implements one method, `StoppingRule.should_stop`, which looks at the
*folded prefix* of the run -- the blocks merged so far, in block order -- and
says whether the run ends there. The engine asks after every block it folds
(docs/design.md, "Stopping"), so a rule that depends only on the prefix's numbers stops
every executor, worker count and task grouping at the same block, and every
number of the result is bit-identical.

`montecarlo.core.stopping.Stopping` gathers the rules of a run with two bounds: the
cap (``max_samples``) and the floor of the target rules (``min_samples``).
Rules are values: part of the `RunSpec`, hashed into its digest and written
to result files by their registered ``name``, and read back by name only:
reading a file never imports code.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from montecarlo.core.plugins import Registry
from montecarlo.core.validate import check_positive, did_you_mean
from montecarlo.errors import FileProblem, ValidationError

if TYPE_CHECKING:  # the records a rule reads (a layer above: only their fields are used)
    from montecarlo.estimation.estimate import Estimate


def _check_rule(name: str, cls: Any) -> None:
    """A registered rule is a `StoppingRule` subclass named ``name`` (the name files record it under)."""
    if not (isinstance(cls, type) and issubclass(cls, StoppingRule)):
        raise ValidationError("rule", cls, "a subclass of montecarlo.StoppingRule")
    if "name" in vars(cls) and cls.name != name:
        raise ValidationError("rule", cls, f"a rule class whose `name` is {name!r}", f"is named {cls.name!r}")


#: Rule classes by the name result files record them under.
RULES = Registry(
    "stopping rule",
    {
        "tolerance": "montecarlo.core.stopping_rules:Tolerance",
        "rtol": "montecarlo.core.stopping_rules:RelativeTolerance",
        "time_limit": "montecarlo.core.stopping_rules:TimeLimit",
        "two_stage": "montecarlo.core.twostage:TwoStage",
    },
    _check_rule,
)


def register_rule(name: str, rule: type[StoppingRule]) -> None:
    """Register a stopping rule of your own under ``name``, so that runs and files can name it.

    Parameters
    ----------
    name : str
        The name result files record the rule under (an identifier); it
        becomes the class's ``name``.
    rule : type
        A frozen dataclass subclassing `StoppingRule` that implements
        `StoppingRule.should_stop`.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Excludes(StoppingRule):
    ...     '''Stop once the interval of `output` excludes `value`.'''
    ...     output: str
    ...     value: float
    ...     def should_stop(self, prefix):
    ...         return not prefix[self.output].covers(self.value)
    >>> register_rule("example_excludes", Excludes)
    >>> RULES.get("example_excludes") is Excludes, Excludes.name
    (True, 'example_excludes')
    """
    RULES.register(name, rule)
    rule.name = name


@dataclass(frozen=True)
class Prefix:
    """What a rule sees: the run after its first ``blocks`` blocks were folded.

    Attributes
    ----------
    samples : int
        Samples in the folded prefix.
    blocks : int
        Blocks folded (in block order).
    estimates : mapping of str to Estimate
        Each output's estimate, standard error and interval on the prefix,
        exactly as the result would report them if the run ended here.
    elapsed : float
        Seconds since the engine started. Reading it makes a rule depend on
        timing: such a rule must set ``reproducible = False``.
    parts : mapping of str to Part
        The prefix's accumulator parts (`montecarlo.stats.accumulators`), by name.
    """

    samples: int
    blocks: int
    estimates: Mapping[str, Estimate]
    elapsed: float
    parts: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __getitem__(self, output: str) -> Estimate:
        """The estimate of ``output`` on the prefix."""
        return self.estimates[output]


def half_width(e: Estimate) -> float:
    """Half the length of the interval (Wilson intervals are not symmetric)."""
    lo, hi = e.interval
    width = (hi - lo) / 2.0
    return width if math.isfinite(width) else math.inf


class StoppingRule:
    """Base class of stopping rules: implement `should_stop`.

    Subclasses are frozen dataclasses, so that a rule is a value: it is part
    of the `RunSpec`, hashed into its digest and written to result files as
    its ``name`` and fields. `register_rule` gives a rule of your own its
    name, so that runs accept it and files naming it can be read.

    Attributes
    ----------
    name : str
        How results name the rule that stopped the run (class attribute).
    target : bool
        True for a precision target (the result reports whether it was met,
        and ``min_samples`` applies); False for a budget such as the time limit.
    reproducible : bool
        False when the decision depends on anything but the prefix's numbers.
    """

    name: ClassVar[str] = "rule"
    target: ClassVar[bool] = True
    reproducible: ClassVar[bool] = True

    def should_stop(self, prefix: Prefix) -> bool:
        """True when the run should end with this prefix."""
        raise NotImplementedError

    def describe(self) -> str:
        """``name(field=value, ...)``."""
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))  # type: ignore[arg-type]
        return f"{self.name}({fields})"

    def progress_note(self, prefix: Prefix) -> str:
        """How far the prefix is from this target, in words, for a progress bar ("" when there is nothing to say)."""
        return ""

    def outputs_named(self) -> tuple[str, ...]:
        """The estimates this rule names (checked against the model's before a run)."""
        return tuple(getattr(self, "outputs", ()))

    def to_dict(self) -> dict:
        """``{"rule": name, field: value, ...}``."""
        d: dict[str, Any] = {"rule": self.name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d


def outputs_arg(value: Any, name: str) -> tuple[str, ...]:
    """An output name or a list of them, as a tuple."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValidationError(name, value, "an output name or a list of output names")


#: A target name that stands for every derived estimate of the model (no estimate can be named so).
EVERY_DERIVED = "@derived"


class _OnOutputs(StoppingRule):
    """A precision target on some estimates (every model output when ``outputs`` is empty).

    ``outputs`` may also name a derived or control-variate estimate the model
    declares: the target then applies to that estimate's interval; the name
    `EVERY_DERIVED` (``"@derived"``) stands for every derived estimate (the
    Sobol' indices of a sensitivity analysis).
    """

    outputs: tuple[str, ...]

    def _targets(self, prefix: Prefix) -> Iterable[Estimate]:
        if not self.outputs:
            return (e for e in prefix.estimates.values() if e.is_output)
        return (
            e
            for o in self.outputs
            for e in (
                [d for d in prefix.estimates.values() if d.kind == "derived"]
                if o == EVERY_DERIVED
                else [prefix.estimates[o]]
            )
        )

    def on(self) -> str:
        """The estimates the target applies to, in words."""
        words = ["every derived estimate" if o == EVERY_DERIVED else o for o in self.outputs]
        return ", ".join(words) if words else "every output"


@dataclass(frozen=True)
class Tolerance(_OnOutputs):
    """Stop when every targeted interval's half-width is at most ``value``.

    Parameters
    ----------
    value : float
        Absolute half-width, in the outputs' own units.
    outputs : str or sequence of str, optional
        Outputs the target applies to (default: all).
    """

    value: float
    outputs: tuple[str, ...] = ()
    name: ClassVar[str] = "tolerance"

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_positive(self.value, "tolerance", "1e-3"))
        object.__setattr__(self, "outputs", outputs_arg(self.outputs, "target"))

    def should_stop(self, prefix: Prefix) -> bool:
        """Every targeted half-width is at most ``value``."""
        return all(half_width(e) <= self.value for e in self._targets(prefix))

    def describe(self) -> str:
        """The target in words."""
        return f"interval half-width <= {self.value:g} on {self.on()}"

    def progress_note(self, prefix: Prefix) -> str:
        """The widest targeted half-width against the target."""
        widest = max((half_width(e) for e in self._targets(prefix)), default=math.nan)
        return f"half-width {widest:.3g} (target {self.value:g})"


@dataclass(frozen=True)
class RelativeTolerance(_OnOutputs):
    """Stop when every targeted half-width is at most ``value × |estimate|``.

    An estimate of exactly zero never meets a relative target (combine with
    `Tolerance` for outputs that may be zero).

    Parameters
    ----------
    value : float
        Half-width relative to the estimate's magnitude.
    outputs : str or sequence of str, optional
        Outputs the target applies to (default: all).
    """

    value: float
    outputs: tuple[str, ...] = ()
    name: ClassVar[str] = "rtol"

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_positive(self.value, "rtol", "1e-4"))
        object.__setattr__(self, "outputs", outputs_arg(self.outputs, "target"))

    def should_stop(self, prefix: Prefix) -> bool:
        """Every targeted half-width is at most ``value × |estimate|``."""
        return all(half_width(e) <= self.value * abs(e.estimate) for e in self._targets(prefix))

    def describe(self) -> str:
        """The target in words."""
        return f"interval half-width <= {self.value:g} x |estimate| on {self.on()}"

    def progress_note(self, prefix: Prefix) -> str:
        """The widest targeted relative half-width against the target."""
        rel = [half_width(e) / abs(e.estimate) if e.estimate else math.inf for e in self._targets(prefix)]
        return f"relative half-width {max(rel, default=math.nan):.3g} (target {self.value:g})"


@dataclass(frozen=True)
class TimeLimit(StoppingRule):
    """Stop once ``seconds`` of wall time have passed (after at least one block).

    The sample count it stops at depends on the machine and its load, so a
    result stopped by it is flagged non-reproducible; its numbers can still be
    repeated exactly by re-running with ``samples`` set to the count reached.

    Parameters
    ----------
    seconds : float
        The budget.
    """

    seconds: float
    name: ClassVar[str] = "time_limit"
    target: ClassVar[bool] = False
    reproducible: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", check_positive(self.seconds, "time_limit", "60"))

    def should_stop(self, prefix: Prefix) -> bool:
        """The budget is spent."""
        return prefix.elapsed >= self.seconds


def rule_from_dict(d: Mapping[str, Any]) -> StoppingRule:
    """A rule back from its `StoppingRule.to_dict` form, by registered name only."""
    if not isinstance(d, Mapping):
        raise FileProblem(f"has a stopping rule {d!r} that is not an object with a `rule` name")
    fields = dict(d)
    kind = fields.pop("rule", None)
    if not isinstance(kind, str) or kind not in RULES:
        raise FileProblem(
            f"names the stopping rule {kind!r}, which is not registered.{did_you_mean(str(kind), RULES)} "
            f"Registered: {', '.join(RULES)}; a rule of your own must be registered (montecarlo.register_rule) "
            "before a file naming it is read"
        )
    cls = RULES.get(kind)
    for k, v in fields.items():
        if isinstance(v, list):
            fields[k] = tuple(v)
    return cls(**fields)
