"""`Stopping`: when a run ends -- its stopping rules, with a cap and a floor (part of its `RunSpec`).

The rules themselves are in `montecarlo.core.stopping_rules` (and the
two-stage rule in `montecarlo.core.twostage`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from montecarlo.core.sampling import DEFAULT_MAX_SAMPLES, DEFAULT_SAMPLES
from montecarlo.core.stopping_rules import (
    EVERY_DERIVED,
    RULES,
    RelativeTolerance,
    StoppingRule,
    TimeLimit,
    Tolerance,
    outputs_arg,
    rule_from_dict,
)
from montecarlo.core.twostage import TwoStage
from montecarlo.core.validate import check_count, suggest_keywords
from montecarlo.errors import ValidationError


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
            if r.name not in RULES or RULES.get(r.name) is not type(r):
                raise ValidationError(
                    "rules", r, "a rule registered with montecarlo.register_rule(name, cls) (files record it by name)",
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


def run_stopping(
    samples: Any,
    tolerance: Any,
    rtol: Any,
    stopping: Stopping | None,
    estimates: Sequence[str],
    outputs: Sequence[str],
) -> tuple[Stopping, int]:
    """A run's stopping (its cap folded into ``samples``) and its sample count or cap.

    ``samples``, ``tolerance``, ``rtol`` and ``stopping`` are the arguments of
    `montecarlo.run`; the targets of the rules must be among the model's
    ``estimates`` (the two-stage rule's among its ``outputs``).
    """
    if stopping is None:
        stopping = Stopping(tolerance, rtol)
    elif not isinstance(stopping, Stopping):
        raise ValidationError("stopping", stopping, "a montecarlo.Stopping")
    elif tolerance is not None or rtol is not None:
        given = "tolerance" if tolerance is not None else "rtol"
        raise ValidationError(
            given,
            tolerance if tolerance is not None else rtol,
            f"{given} inside `stopping` when it is given",
            "is given beside `stopping`",
        )
    derived = [e for e in estimates if e not in outputs]
    for rule in stopping.rules:
        # The two-stage rule's guarantee is about means of outputs, not functions of them.
        allowed = outputs if isinstance(rule, TwoStage) else [*estimates, *([EVERY_DERIVED] if derived else [])]
        for name in rule.outputs_named():
            if name not in allowed:
                what = "a model output" if isinstance(rule, TwoStage) else "an estimate of the model"
                raise ValidationError("target", name, "one of " + ", ".join(allowed), f"is not {what}")
    if samples is not None:
        samples = check_count(samples)
    if not stopping:
        return stopping, samples if samples is not None else DEFAULT_SAMPLES
    cap = stopping.max_samples
    if samples is not None and cap is not None and samples != cap:
        raise ValidationError(
            "samples", samples, "one of the two: they are the same setting, the cap of a stopping run",
            f"and {{max_samples}} = {cap} are both given",
        )  # fmt: skip
    cap = cap if cap is not None else samples if samples is not None else DEFAULT_MAX_SAMPLES
    if stopping.min_samples > cap:
        raise ValidationError(
            "min_samples", stopping.min_samples, f"at most the cap, {{samples}} = {cap}", "is larger than the cap"
        )
    return stopping.with_cap(None), cap
