"""The monitor: after each folded block, decide stopping and record the trace.

Both come from the folded prefix only (docs/design.md, "Stopping"), so the stopping
block and every trace point are the same for every executor and worker count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from montecarlo.core.spec import RunSpec
from montecarlo.core.stopping import Stopping
from montecarlo.core.stopping_rules import Prefix, StoppingRule, TimeLimit
from montecarlo.estimation.estimate import Estimate, jsonable
from montecarlo.estimation.outputs import estimates
from montecarlo.models.declare import with_columns
from montecarlo.models.record import Model
from montecarlo.stats.accumulators import Stats

#: Trace points per decade of sample count: at most ~20 × 15 = 300 points up
#: to the largest sample count a run accepts (1e15).
TRACE_PER_DECADE = 20


def trace_point(samples: int, ests: Sequence[Estimate]) -> dict:
    """One convergence-trace entry (JSON-ready: non-finite numbers become None)."""
    return {
        "samples": samples,
        "estimate": [jsonable(e.estimate) for e in ests],
        "standard_error": [jsonable(e.standard_error) for e in ests],
        "interval": [[jsonable(e.interval[0]), jsonable(e.interval[1])] for e in ests],
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

    def to_dict(self, cap: int, stop: Stopping) -> dict:
        """The ``stopping`` record of a result (docs/json.md)."""
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

    Parameters
    ----------
    spec : RunSpec
    model : Model
        A plain function's record becomes one with as many outputs as its
        blocks have columns (`with_columns`): the record the result is made
        with is ``monitor.model``.
    clock : callable
        Seconds since the run started.
    """

    def __init__(self, spec: RunSpec, model: Model, clock: Callable[[], float]) -> None:
        self.spec = spec
        self.model = model
        self.stop: Stopping = spec.stop
        self.clock = clock
        self.trace: list[dict] = []
        #: The first precision target's distance, in words, at the last decision (for a progress bar's `note`).
        self.note = ""
        self._next_point = 1  # sample count of the next trace point
        self._i = 0
        #: The estimates of the last prefix asked about, with its sample count and covariance.
        self._last: tuple[int, tuple[Estimate, ...], np.ndarray] | None = None

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

    def _estimates(self, moments: Stats) -> tuple[Estimate, ...]:
        return self.final(moments)[0]

    def final(self, moments: Stats) -> tuple[tuple[Estimate, ...], np.ndarray]:
        """The estimates of a folded prefix and the covariance of its outputs' (computed once per prefix)."""
        if self._last is None or self._last[0] != moments.count:
            self.model = with_columns(self.model, moments.moments.mean.size) if moments.count else self.model
            self._last = (moments.count, *estimates(self.spec, self.model, moments))
        return self._last[1], self._last[2]

    def _prefix(self, moments: Stats, blocks: int, ests: tuple[Estimate, ...]) -> Prefix:
        return Prefix(moments.count, blocks, {e.name: e for e in ests}, self.clock(), moments.parts)

    def after_block(self, moments: Stats, blocks: int) -> Ending | None:
        """Called after block ``blocks - 1`` is folded; returns an Ending to stop there.

        Only where the spec allows estimates (every replicate of a
        quasi-random run at the same point count, `RunSpec.is_stop_point`).
        """
        if not self.spec.is_stop_point(blocks):
            return None
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

    def decide(self, moments: Stats, blocks: int, ests: tuple[Estimate, ...] | None = None) -> Ending | None:
        """Ask the rules about a folded prefix (without recording a trace point)."""
        if not self.stop.rules or moments.count == 0 or not self.spec.is_stop_point(blocks):
            return None
        ests = ests if ests is not None else self._estimates(moments)
        prefix = self._prefix(moments, blocks, ests)
        self.note = next((n for n in (r.progress_note(prefix) for r in self.stop.targets) if n), "")
        if moments.count >= self.stop.min_samples:
            for rule in self.stop.targets:
                if rule.should_stop(prefix):
                    return self._ending(rule, True, prefix)
        return self.check_budgets(moments, blocks, prefix)

    def check_budgets(self, moments: Stats, blocks: int, prefix: Prefix | None = None) -> Ending | None:
        """Ask the budget rules (the engine also calls this while waiting for blocks)."""
        if moments.count == 0 or not self.stop.budgets or not self.spec.is_stop_point(blocks):
            return None
        if prefix is None:
            prefix = self._prefix(moments, blocks, self._estimates(moments))
        for rule in self.stop.budgets:
            if rule.should_stop(prefix):
                return self._ending(rule, False if self.stop.targets else None, prefix)
        return None

    def out_of_time(self) -> TimeLimit | None:
        """The time limit, once it has passed (asked while no block is folded yet)."""
        for rule in self.stop.budgets:
            if isinstance(rule, TimeLimit) and self.clock() >= rule.seconds:
                return rule
        return None

    def _ending(self, rule: StoppingRule, met: bool | None, prefix: Prefix) -> Ending:
        n = prefix.samples
        if met:
            msg = f"target met: {rule.describe()} at {n:,} samples"
        elif isinstance(rule, TimeLimit):
            msg = (
                f"stopped by the time limit ({rule.seconds:g} s) at {n:,} samples"
                + (", before the target was met" if met is False else "")
                + f"; not reproducible: the same seed with {n:,} samples (mc run -n {n}, or samples={n}) and no "
                "time limit repeats these numbers"
            )
        else:
            msg = f"stopped by {rule.describe()} at {n:,} samples"
        return Ending(rule.name, met, rule.reproducible, n, prefix.blocks, msg)

    def finish(self, moments: Stats, blocks: int, ending: Ending | None) -> Ending:
        """The ending of a run (the cap when no rule stopped it); closes the trace."""
        n = moments.count
        if not self.trace or self.trace[-1]["samples"] != n:
            self.trace.append(trace_point(n, self._estimates(moments)))
        if ending is not None:
            return ending
        targets = self.stop.targets
        if targets:
            names = " or ".join(r.describe() for r in targets)
            msg = f"cap reached: max_samples = {n:,} samples taken; target not met ({names})"
        elif self.stop.rules:
            msg = f"cap reached: max_samples = {n:,} samples taken"
        else:
            msg = f"{n:,} samples taken"
        return Ending("max_samples", False if targets else None, True, n, blocks, msg)
