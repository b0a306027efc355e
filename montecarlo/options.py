"""Option groups of a run: how the samples are drawn, how the run executes, where it checkpoints.

A run is described by values grouped by what they change:

- `Sampling`: how samples are drawn (bit generator, block and batch sizes);
  part of the `RunSpec`, so it fixes the numbers.
- `Stopping`: when the run ends (rules from `montecarlo.stopping`); part of
  the RunSpec.
- `Execution`: where and how blocks run (executor, workers, scheduler,
  retries, progress); never changes a number.
- `Checkpointing`: where progress is saved and whether to resume; never
  changes a number.

Each checks its fields when it is made, so an invalid combination (a
scheduler without Dask) cannot be written. The names of the fields are the
shared option vocabulary (`montecarlo.vocabulary`): the same word is the
Python keyword, the experiment-file key and, spelt ``--like-this``, the
command-line option.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from montecarlo.errors import ValidationError
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
    check_positive,
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

#: Executors by name; an executor object (a `concurrent.futures.Executor`, a
#: ``distributed.Client`` or a `montecarlo.executors.Backend`) is accepted too.
EXECUTORS = ("processes", "threads", "serial", "dask")

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
    >>> Sampling(quantiles=[0.99, 0.5]).quantiles
    (0.5, 0.99)
    """

    bit_generator: str = DEFAULT_BIT_GENERATOR
    block_size: int | None = None
    batch_size: int | None = None
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


def _is_executor_object(obj: Any) -> bool:
    """A `concurrent.futures.Executor`, a ``distributed.Client`` or a backend: anything that submits."""
    return not isinstance(obj, str) and callable(getattr(obj, "submit", None))


def is_dask_client(obj: Any) -> bool:
    """Whether ``obj`` is a ``distributed.Client`` (without importing distributed)."""
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


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


@suggest_keywords
@dataclass(frozen=True)
class Execution:
    """Where and how blocks run. Never changes a number of the result.

    Parameters
    ----------
    executor : {"processes", "threads", "serial", "dask"} or executor object
        ``"processes"`` (default) runs blocks on local worker processes;
        ``"dask"`` on a Dask cluster (a ``LocalCluster`` of ``workers``
        processes, or the one at ``scheduler``). A
        `concurrent.futures.Executor` or a ``distributed.Client`` of your own
        is used as given and left open.
    workers : int, optional
        Parallel workers (default: every core this process may use).
    scheduler : str, optional
        With ``executor="dask"``: the address of a running scheduler, such as
        ``"tcp://HOST:8786"``.
    retries : int
        Times dead worker processes are replaced (their blocks re-run with the
        same seeds) before the run fails.
    progress : callable, optional
        ``progress(samples_done, samples_total)``, called from the calling
        thread as blocks are folded.

    Examples
    --------
    >>> Execution("threads", workers=4).workers
    4
    >>> Execution("processes", scheduler="tcp://10.0.0.5:8786")
    Traceback (most recent call last):
    ...
    montecarlo.errors.ValidationError: `scheduler` = 'tcp://10.0.0.5:8786' needs the dask executor; accepted: an address, with the dask executor.
    """

    executor: Any = "processes"
    workers: int | None = None
    scheduler: str | None = None
    retries: int = 2
    progress: Callable[[int, int], None] | None = None

    def __post_init__(self) -> None:
        if not _is_executor_object(self.executor):
            check_choice(self.executor, "executor", EXECUTORS)
        if self.workers is not None:
            object.__setattr__(self, "workers", check_int(self.workers, "workers"))
        if self.scheduler is not None:
            if self.executor != "dask":
                raise ValidationError(
                    "scheduler", self.scheduler, "an address, with the dask executor", "needs the dask executor"
                )
            if not isinstance(self.scheduler, str) or not self.scheduler.strip():
                raise ValidationError("scheduler", self.scheduler, "an address such as tcp://HOST:8786")
        object.__setattr__(self, "retries", check_int(self.retries, "retries", low=0))
        if self.progress is not None and not callable(self.progress):
            raise ValidationError("progress", self.progress, "a function progress(done, total)")

    @classmethod
    def of(cls, value: Execution | str | Any | None) -> Execution:
        """An `Execution` from the shorthands `montecarlo.run` accepts.

        ``None`` is the default, a name or an executor object is
        ``Execution(executor=value)``.
        """
        if value is None:
            return cls()
        if isinstance(value, Execution):
            return value
        return cls(executor=value)


@suggest_keywords
@dataclass(frozen=True)
class Checkpointing:
    """Where a run saves its progress, so that a killed run resumes to the same numbers.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file (JSON, written atomically).
    every : float
        Seconds between writes (also written when the run ends, fails or is
        interrupted).
    resume : bool
        Continue the run saved in ``path``. Without a seed of its own, the run
        takes the entropy recorded in the file.

    Examples
    --------
    >>> Checkpointing("pi.ckpt", resume=True)
    Checkpointing(path='pi.ckpt', every=5.0, resume=True)
    """

    path: str
    every: float = 5.0
    resume: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, os.PathLike)) or not os.fspath(self.path):
            raise ValidationError("checkpoint", self.path, "a file path")
        object.__setattr__(self, "path", os.fspath(self.path))
        object.__setattr__(self, "every", check_positive(self.every, "checkpoint_every", "5"))
        if not isinstance(self.resume, bool):
            raise ValidationError("resume", self.resume, "true or false")

    @classmethod
    def of(cls, value: Checkpointing | str | os.PathLike | None) -> Checkpointing | None:
        """A `Checkpointing` from a path (or None for no checkpoint)."""
        if value is None or isinstance(value, Checkpointing):
            return value
        return cls(value)  # type: ignore[arg-type]
