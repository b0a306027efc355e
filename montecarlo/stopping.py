"""Stopping rules: end a run when a precision target is met or a budget is spent.

A rule implements one method, `StoppingRule.should_stop`, which looks at the
*folded prefix* of the run -- the blocks merged so far, in block order -- and
says whether the run ends there. The engine asks after every block it folds
(DESIGN.md §1.4), so a rule that depends only on the prefix's numbers stops
every executor, worker count and task grouping at the same block, and every
number of the result is bit-identical.

Two bounds frame the rules, as plain numbers in `Stop`: the run never holds
more than ``RunSpec.samples`` samples (the cap), and target rules are not
consulted before ``min_samples``. The time limit is the one built-in rule that
reads the clock; it is flagged ``reproducible = False`` and a result stopped by
it says so.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:  # spec.py imports this module, and result.py imports spec.py
    from montecarlo.result import Estimate


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
    """

    samples: int
    blocks: int
    estimates: Mapping[str, Estimate]
    elapsed: float

    def __getitem__(self, output: str) -> Estimate:
        return self.estimates[output]


def half_width(e: Estimate) -> float:
    """Half the length of the interval (Wilson intervals are not symmetric)."""
    lo, hi = e.interval
    width = (hi - lo) / 2.0
    return width if math.isfinite(width) else math.inf


class StoppingRule:
    """Base class of stopping rules: implement `should_stop`.

    Subclasses are frozen dataclasses so that a rule is a value: it is part of
    the `RunSpec`, hashed into its digest and written to result files (as its
    ``name`` and fields; a rule defined outside montecarlo is written as its
    ``"module:Class"`` reference and imported back when the file is read).

    Class attributes
    ----------------
    name : str
        How results name the rule that stopped the run.
    target : bool
        True for a precision target (the result reports whether it was met, and
        ``min_samples`` applies); False for a budget such as the time limit.
    reproducible : bool
        False when the decision depends on anything but the prefix's numbers.
    """

    name: ClassVar[str] = "rule"
    target: ClassVar[bool] = True
    reproducible: ClassVar[bool] = True

    def should_stop(self, prefix: Prefix) -> bool:
        """True when the run should end with this prefix."""
        raise NotImplementedError

    # -- helpers shared by every rule (not meant to be overridden) ----------
    def describe(self) -> str:
        fields = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self))
        return f"{self.name}({fields})"

    def to_dict(self) -> dict:
        kind = self.name if RULES.get(self.name) is type(self) else f"{type(self).__module__}:{type(self).__qualname__}"
        d: dict[str, Any] = {"rule": kind}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            d[f.name] = list(v) if isinstance(v, tuple) else v
        return d


def _outputs_arg(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise TypeError(f"`{name}` = {value!r} must be an output name or a list of output names.")


def _positive(value: Any, name: str, example: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` = {value!r} must be a finite number > 0, such as {example}.")
    return float(value)


class _OnOutputs(StoppingRule):
    """A precision target on some estimates (every model output when ``outputs`` is empty).

    ``outputs`` may also name a derived or control-variate estimate the model
    declares: the target then applies to that estimate's interval.
    """

    outputs: tuple[str, ...]

    def _targets(self, prefix: Prefix) -> Iterable[Estimate]:
        if not self.outputs:
            return (e for e in prefix.estimates.values() if getattr(e, "is_output", True))
        return (prefix.estimates[o] for o in self.outputs)


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
        object.__setattr__(self, "value", _positive(self.value, "tolerance", "1e-3"))
        object.__setattr__(self, "outputs", _outputs_arg(self.outputs, "target"))

    def should_stop(self, prefix: Prefix) -> bool:
        return all(half_width(e) <= self.value for e in self._targets(prefix))


@dataclass(frozen=True)
class RelativeTolerance(_OnOutputs):
    """Stop when every targeted half-width is at most ``value × |estimate|``.

    An estimate of exactly zero never meets a relative target (combine with
    `Tolerance` for outputs that may be zero).
    """

    value: float
    outputs: tuple[str, ...] = ()
    name: ClassVar[str] = "rtol"

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _positive(self.value, "rtol", "1e-4"))
        object.__setattr__(self, "outputs", _outputs_arg(self.outputs, "target"))

    def should_stop(self, prefix: Prefix) -> bool:
        return all(half_width(e) <= self.value * abs(e.estimate) for e in self._targets(prefix))


@dataclass(frozen=True)
class TimeLimit(StoppingRule):
    """Stop once ``seconds`` of wall time have passed (after at least one block).

    The sample count it stops at depends on the machine and its load, so a
    result stopped by it is flagged non-reproducible; its numbers can still be
    repeated exactly by re-running with ``samples`` set to the count reached.
    """

    seconds: float
    name: ClassVar[str] = "time_limit"
    target: ClassVar[bool] = False
    reproducible: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", _positive(self.seconds, "time_limit", "60"))

    def should_stop(self, prefix: Prefix) -> bool:
        return prefix.elapsed >= self.seconds


#: Built-in rules by the name result files use.
RULES: dict[str, type[StoppingRule]] = {r.name: r for r in (Tolerance, RelativeTolerance, TimeLimit)}


@dataclass(frozen=True)
class Stop:
    """The stopping part of a `RunSpec`: rules, and the floor of target rules.

    With no rules the run takes exactly ``RunSpec.samples`` samples. Otherwise
    it ends at the first block boundary, in block order, where a target rule is
    met (once ``min_samples`` are folded) or a budget rule fires, and at the
    latest at ``RunSpec.samples`` (the cap). Several target rules combine with
    "any": ``Tolerance(1e-3)`` with ``RelativeTolerance(1e-4)`` stops when the
    half-width is below ``max(1e-3, 1e-4·|estimate|)``, as QUADPACK combines
    ``epsabs`` and ``epsrel``.
    """

    rules: tuple[StoppingRule, ...] = ()
    min_samples: int = 0

    def __bool__(self) -> bool:
        return bool(self.rules)

    @property
    def targets(self) -> tuple[StoppingRule, ...]:
        return tuple(r for r in self.rules if r.target)

    @property
    def budgets(self) -> tuple[StoppingRule, ...]:
        return tuple(r for r in self.rules if not r.target)

    @property
    def reproducible(self) -> bool:
        return all(r.reproducible for r in self.rules)

    def to_dict(self) -> dict:
        return {"rules": [r.to_dict() for r in self.rules], "min_samples": self.min_samples}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Stop:
        if not d:
            return cls()
        return cls(tuple(rule_from_dict(r) for r in d.get("rules", ())), int(d.get("min_samples", 0)))


def rule_from_dict(d: Mapping[str, Any]) -> StoppingRule:
    """A rule back from its `StoppingRule.to_dict` form."""
    d = dict(d)
    kind = str(d.pop("rule", ""))
    cls = RULES.get(kind)
    if cls is None and ":" in kind:
        module, _, qual = kind.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in qual.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"stopping rule {kind!r} cannot be imported ({type(exc).__name__}: {exc})") from None
        cls = obj if isinstance(obj, type) and issubclass(obj, StoppingRule) else None
    if cls is None:
        raise ValueError(f"unknown stopping rule {kind!r}; known: {', '.join(RULES)} or 'module:Class'")
    for k, v in d.items():
        if isinstance(v, list):
            d[k] = tuple(v)
    return cls(**d)


def make_stop(
    *,
    tolerance: Any = None,
    rtol: Any = None,
    target: Any = None,
    min_samples: Any = None,
    time_limit: Any = None,
    stop: Any = None,
    outputs: Sequence[str],
    samples: int,
) -> Stop:
    """Validate the stopping arguments of a run (one place) and build its `Stop`.

    ``outputs`` are the names a target may name (the model's outputs and the
    estimates it derives from them), ``samples`` the cap.
    """
    from montecarlo.spec import check_samples

    rules: list[StoppingRule] = []
    targets = _outputs_arg(target, "target")
    for name in targets:
        if name not in outputs:
            raise ValueError(f"`target` = {name!r} is not an output of the model; accepted: {', '.join(outputs)}.")
    if tolerance is not None:
        rules.append(Tolerance(tolerance, targets))
    if rtol is not None:
        rules.append(RelativeTolerance(rtol, targets))
    if targets and not rules:
        raise ValueError(f"`target` = {target!r} needs `tolerance` or `rtol` (it names the outputs they apply to).")
    if time_limit is not None:
        rules.append(TimeLimit(time_limit))
    if stop is not None:
        given = [stop] if isinstance(stop, StoppingRule) else stop
        if isinstance(given, (str, bytes)) or not isinstance(given, Iterable):
            raise TypeError(f"`stop` = {stop!r} must be a StoppingRule or a list of them.")
        for r in given:
            if not isinstance(r, StoppingRule):
                raise TypeError(
                    f"`stop` = {stop!r}: {r!r} is not a StoppingRule; accepted: Tolerance, "
                    "RelativeTolerance, TimeLimit or a StoppingRule subclass."
                )
            for name in getattr(r, "outputs", ()):
                if name not in outputs:
                    raise ValueError(
                        f"`stop` rule {r.describe()} names output {name!r}; accepted: {', '.join(outputs)}."
                    )
            rules.append(r)
    floor = 0
    if min_samples is not None:
        floor = check_samples(min_samples, "min_samples")
        if not any(r.target for r in rules):
            raise ValueError(
                f"`min_samples` = {min_samples!r} needs a precision target (`tolerance`, `rtol` or a target rule in `stop`)."
            )
        if floor > samples:
            raise ValueError(
                f"`min_samples` = {floor} is larger than the cap `samples` = {samples}; accepted: at most {samples}."
            )
    return Stop(tuple(rules), floor)


# --------------------------------------------------------------------------
# the monitor: what the engine calls after each folded block
# --------------------------------------------------------------------------

#: Trace points per decade of sample count: at most ~20 × 15 = 300 points up
#: to the largest sample count a run accepts (`spec.MAX_SAMPLES` = 1e15).
TRACE_PER_DECADE = 20


def trace_point(samples: int, estimates: Sequence[Estimate]) -> dict:
    """One convergence-trace entry (JSON-ready: non-finite numbers become None)."""
    from montecarlo.spec import to_jsonable

    return {
        "samples": samples,
        "estimate": [to_jsonable(e.estimate) for e in estimates],
        "standard_error": [to_jsonable(e.standard_error) for e in estimates],
        "interval": [[to_jsonable(e.interval[0]), to_jsonable(e.interval[1])] for e in estimates],
    }


@dataclass(frozen=True)
class Ending:
    """Why a run ended: the rule's name, whether a target was met, and how."""

    rule: str
    target_met: bool | None
    reproducible: bool
    samples: int
    blocks: int
    message: str

    def to_dict(self, cap: int, stop: Stop) -> dict:
        return {
            "rule": self.rule,
            "target_met": self.target_met,
            "reproducible": self.reproducible,
            "samples": self.samples,
            "blocks": self.blocks,
            "max_samples": cap,
            "min_samples": stop.min_samples,
            "rules": [r.to_dict() for r in stop.rules],
            "message": self.message,
        }


class Monitor:
    """Decides stopping and records the trace, from the folded prefix only.

    Trace points fall on the first block boundary at or past each sample count
    ``10**(i / TRACE_PER_DECADE)``, plus the final prefix: which points exist
    and what they hold depends on block sizes and folded numbers alone, never
    on timing, so the trace is as reproducible as the estimates.
    """

    def __init__(self, spec: Any, model: Any, clock: Any) -> None:
        self.spec = spec
        self.model = model
        self.stop: Stop = spec.stop
        self.clock = clock  # seconds since the run started
        self.trace: list[dict] = []
        self._next_point = 1  # sample count of the next trace point
        self._i = 0

    def _advance(self, n: int) -> None:
        while self._next_point <= n:
            self._i += 1
            self._next_point = math.ceil(10 ** (self._i / TRACE_PER_DECADE))

    def resume(self, trace: list[dict], samples: int) -> None:
        """Continue the trace of a folded prefix of ``samples`` samples.

        A final point that `finish` added (not one of the scheduled points)
        is dropped, so the continued trace is the one an uninterrupted run
        records.
        """
        kept: list[dict] = []
        for point in trace:
            if point["samples"] > samples:
                break
            if point["samples"] >= self._next_point:  # a scheduled point
                kept.append(point)
                self._advance(point["samples"])
        self.trace = kept

    @property
    def polls(self) -> bool:
        """True when some rule must also be asked while no block arrives (the clock)."""
        return bool(self.stop.budgets) and not self.stop.reproducible

    def _estimates(self, moments: Any) -> tuple:
        from montecarlo.result import estimates

        return estimates(self.spec, self.model, moments)[0]

    def _prefix(self, moments: Any, blocks: int, ests: tuple) -> Prefix:
        return Prefix(moments.count, blocks, {e.name: e for e in ests}, self.clock())

    def after_block(self, moments: Any, blocks: int) -> Ending | None:
        """Called after block ``blocks - 1`` is folded; returns an Ending to stop there."""
        n = moments.count
        due = n >= self._next_point
        if not (due or self.stop.rules):
            return None
        ests = self._estimates(moments)
        if due:
            self.trace.append(trace_point(n, ests))
            self._advance(n)
        if not self.stop.rules:
            return None
        return self.decide(moments, blocks, ests)

    def decide(self, moments: Any, blocks: int, ests: tuple | None = None) -> Ending | None:
        """Ask the rules about a folded prefix (without recording a trace point)."""
        if not self.stop.rules or moments.count == 0:
            return None
        n = moments.count
        ests = ests if ests is not None else self._estimates(moments)
        prefix = self._prefix(moments, blocks, ests)
        if n >= self.stop.min_samples:
            for rule in self.stop.targets:
                if rule.should_stop(prefix):
                    return self._ending(rule, True, prefix)
        return self.check_budgets(moments, blocks, ests, prefix)

    def check_budgets(
        self, moments: Any, blocks: int, ests: tuple | None = None, prefix: Prefix | None = None
    ) -> Ending | None:
        """Ask the budget rules (the engine also calls this while waiting for blocks)."""
        if moments.count == 0 or not self.stop.budgets:
            return None
        if prefix is None:
            prefix = self._prefix(moments, blocks, ests or self._estimates(moments))
        for rule in self.stop.budgets:
            if rule.should_stop(prefix):
                return self._ending(rule, False if self.stop.targets else None, prefix)
        return None

    def _ending(self, rule: StoppingRule, met: bool | None, prefix: Prefix) -> Ending:
        n = prefix.samples
        if met:
            what = rule.describe() if type(rule) not in RULES.values() else _target_text(rule)
            msg = f"target met: {what} at {n:,} samples"
        elif isinstance(rule, TimeLimit):
            msg = (
                f"stopped by the time limit ({rule.seconds:g} s) at {n:,} samples"
                + (", before the target was met" if met is False else "")
                + f"; not reproducible: repeat these numbers with samples={n} and the same seed, without the limit"
            )
        else:
            msg = f"stopped by {rule.describe()} at {n:,} samples"
        return Ending(rule.name, met, rule.reproducible, n, prefix.blocks, msg)

    def finish(self, moments: Any, blocks: int, ending: Ending | None) -> Ending:
        """The ending of a run (the cap when no rule stopped it); closes the trace."""
        n = moments.count
        if not self.trace or self.trace[-1]["samples"] != n:
            self.trace.append(trace_point(n, self._estimates(moments)))
        if ending is not None:
            return ending
        targets = self.stop.targets
        if targets:
            names = " or ".join(_target_text(r) if type(r) in RULES.values() else r.describe() for r in targets)
            msg = f"cap reached: max_samples = {n:,} samples taken; target not met ({names})"
        elif self.stop.rules:
            msg = f"cap reached: max_samples = {n:,} samples taken"
        else:
            msg = f"{n:,} samples taken"
        return Ending("max_samples", False if targets else None, True, n, blocks, msg)


def _target_text(rule: Any) -> str:
    on = ", ".join(rule.outputs) if rule.outputs else "every output"
    if isinstance(rule, Tolerance):
        return f"interval half-width <= {rule.value:g} on {on}"
    return f"interval half-width <= {rule.value:g} x |estimate| on {on}"
