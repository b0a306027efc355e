"""`MLMCResult`: the estimate of a multilevel Monte Carlo run, its diagnostics, and their JSON form.

`montecarlo.mlmc` makes one; `montecarlo.load` reads its file back
(``"schema": "montecarlo.mlmc"``, docs/json.md). Every level's folded
accumulator is kept, and a reader recomputes each level's means and
variances and the estimate from them: a file whose numbers contradict each
other is refused. Tables, frames and the plot live in
`montecarlo.reports.mlmc`; the methods here delegate to it lazily.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from montecarlo.core.multilevel import MultilevelSpec
from montecarlo.errors import FileProblem, ResultFormatError, one_line
from montecarlo.estimation.estimate import jsonable
from montecarlo.estimation.multilevel import estimate, finest_variance, summary
from montecarlo.records.integrity import SealedRecord, arithmetic_of, check_stats, count
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.sums import ARITHMETIC

#: JSON document type and version of a multilevel result file (docs/json.md).
SCHEMA = "montecarlo.mlmc"
SCHEMA_VERSION = 1

#: How a multilevel run ends: its target met, its finest level reached with the bias still too large, its budget.
STOPS = ("converged", "max_level", "max_cost")


@dataclass(frozen=True)
class LevelRecord:
    """One level of a multilevel run: its samples and what they say (docs/mlmc.md, "Diagnostics").

    ``mean`` and ``variance`` are those of the differences ``P_l - P_{l-1}``,
    ``mean_fine`` and ``variance_fine`` those of ``P_l``; variances divide by
    the sample count (Giles' convention). ``kurtosis`` is that of the
    differences (``N m4 / m2**2``), ``check`` the consistency check of
    ``mlmc_test`` (None on level 0), ``cost`` the cost of one sample in
    model units.
    """

    level: int
    samples: int
    blocks: int
    block_size: int
    cost: float
    mean: float
    variance: float
    mean_fine: float
    variance_fine: float
    kurtosis: float
    check: float | None
    accumulator: Stats

    def to_dict(self, spawn_key: tuple[int, ...]) -> dict:
        """The JSON form of one entry of ``"levels"``."""
        return {
            "level": self.level,
            "samples": self.samples,
            "blocks": self.blocks,
            "block_size": self.block_size,
            "cost": self.cost,
            "mean": self.mean,
            "variance": self.variance,
            "mean_fine": self.mean_fine,
            "variance_fine": self.variance_fine,
            "kurtosis": jsonable(self.kurtosis),
            "check": jsonable(self.check),
            "spawn_key": [*spawn_key, self.level],
            "accumulator": self.accumulator.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], index: int) -> LevelRecord:
        """One level back, its numbers checked against its accumulator."""
        what = f"levels[{index}]"
        if not isinstance(d, Mapping) or d.get("level") != index:
            raise FileProblem(f"has {what} that is not the record of level {index}")
        n = check_stats(d["accumulator"], f"{what}.accumulator")
        blocks, size = count(d["blocks"], f"{what}.blocks"), count(d["block_size"], f"{what}.block_size")
        if d["samples"] != n or n != blocks * size or n == 0:
            raise FileProblem(f"has {what}.samples = {d['samples']!r}, not the {n:,} samples of its {blocks} blocks")
        stats = Stats.from_dict(d["accumulator"])
        s = summary(stats)
        for key in ("mean", "variance", "mean_fine", "variance_fine"):
            if d[key] != getattr(s, key):
                raise FileProblem(f"has {what}.{key} = {d[key]!r}, not its accumulator's {getattr(s, key)!r}")
        cost = d["cost"]
        if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not (math.isfinite(cost) and cost > 0):
            raise FileProblem(f"has {what}.cost = {cost!r}, which is not a finite number > 0")
        kurt, check = d.get("kurtosis"), d.get("check")
        return cls(
            level=index, samples=n, blocks=blocks, block_size=size, cost=float(cost), mean=s.mean,
            variance=s.variance, mean_fine=s.mean_fine, variance_fine=s.variance_fine,
            kurtosis=math.nan if kurt is None else float(kurt), check=None if check is None else float(check),
            accumulator=stats,
        )  # fmt: skip


@dataclass(frozen=True)
class MLMCResult(SealedRecord):
    """The outcome of a multilevel Monte Carlo run (`montecarlo.mlmc`).

    ``estimate`` is ``sum_l mean_l``, the estimate of ``E[P_L]`` on the
    finest level ``L``; ``standard_error`` its standard error and
    ``interval`` its normal confidence interval (statistical error only);
    ``bias`` Giles' estimate of ``|E[P] - E[P_L]|``. ``alpha``, ``beta`` and
    ``gamma`` are the regressed rates of the last decision (floored at 0.5
    as Giles' ``mlmc.m`` does); ``cost`` the model units spent (``unit``
    names them);
    ``plain_cost`` what plain Monte Carlo on level ``L`` would need for the
    same ``rmse`` and ``theta``, ``V[P_L] C_L / ((1 - theta) eps**2)``
    with ``V[P_L]`` from every level's samples (`finest_variance`).
    ``stopped`` is one of `STOPS`;
    ``message`` says it in words.
    """

    KIND: ClassVar[str] = "multilevel result"

    model: str
    spec: MultilevelSpec
    levels: tuple[LevelRecord, ...]
    estimate: float
    standard_error: float
    interval: tuple[float, float]
    alpha: float
    beta: float
    gamma: float
    cost: float
    plain_cost: float
    bias: float
    stopped: str
    message: str
    rounds: int
    exact: float | None = None
    unit: str = "model units"
    warnings: tuple[str, ...] = ()
    provenance: dict = field(default_factory=dict)
    fingerprint: dict = field(default_factory=dict)
    arithmetic: int = ARITHMETIC

    @property
    def savings(self) -> float:
        """``plain_cost / cost``: how many times cheaper than plain Monte Carlo at the same accuracy."""
        return self.plain_cost / self.cost

    @property
    def finest_variance(self) -> float:
        """``V[P_L]``, estimated from every level's samples (`montecarlo.estimation.multilevel.finest_variance`)."""
        return finest_variance([summary(level.accumulator) for level in self.levels])

    @property
    def samples(self) -> tuple[int, ...]:
        """``N_l`` of every level."""
        return tuple(level.samples for level in self.levels)

    @property
    def finest(self) -> int:
        """The finest level ``L``."""
        return len(self.levels) - 1

    @property
    def converged(self) -> bool:
        """Whether the run met its target: variance and bias estimates within ``rmse``."""
        return self.stopped == "converged"

    @property
    def rmse_estimate(self) -> float:
        """``sqrt(standard_error**2 + bias**2)``: the run's own estimate of its root mean squared error."""
        return math.sqrt(self.standard_error**2 + self.bias**2)

    @property
    def entropy(self) -> int:
        """The root entropy the run used (repeat it with ``rng=entropy``)."""
        assert self.spec.entropy is not None  # a run always records the entropy it used
        return self.spec.entropy

    # -- JSON ---------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON form (docs/json.md, "Multilevel result")."""
        body = {
            "estimate": self.estimate,
            "standard_error": self.standard_error,
            "interval": [jsonable(self.interval[0]), jsonable(self.interval[1])],
            "confidence": self.spec.confidence,
            "rmse": self.spec.rmse,
            "theta": self.spec.theta,
            "bias": jsonable(self.bias),
            "alpha": self.alpha,
            "beta": self.beta,
            "gamma": self.gamma,
            "cost": self.cost,
            "plain_cost": self.plain_cost,
            "finest_variance": self.finest_variance,
            "savings": self.savings,
            **({"exact": self.exact} if self.exact is not None else {}),
            "unit": self.unit,
            "stopped": self.stopped,
            "message": self.message,
            "rounds": self.rounds,
            "levels": [level.to_dict(self.spec.spawn_key) for level in self.levels],
        }
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "arithmetic": self.arithmetic,
            **({"model_fingerprint": self.fingerprint} if self.fingerprint else {}),
            **({"warnings": list(self.warnings)} if self.warnings else {}),
            "model": self.model,
            "mlmc": body,
            "spec": self.spec.to_dict(),
            "provenance": self.provenance,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MLMCResult:
        """The result back from its `to_dict` form (a `ResultFormatError` if it is not one, or not consistent)."""
        if not isinstance(d, Mapping) or d.get("schema") != SCHEMA:
            raise ResultFormatError(f'not a multilevel result (no "schema": "{SCHEMA}" field)')
        if d.get("version") != SCHEMA_VERSION:
            raise ResultFormatError(
                f"multilevel result format version {d.get('version')!r} is not supported; "
                f"this release reads version {SCHEMA_VERSION}"
            )
        try:
            return cls._checked(d)
        except FileProblem as exc:
            raise ResultFormatError(f"not a consistent multilevel result: it {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise ResultFormatError(f"malformed multilevel result: {type(exc).__name__}: {one_line(exc)}") from None

    @classmethod
    def _checked(cls, d: Mapping[str, Any]) -> MLMCResult:
        body = d["mlmc"]
        spec = MultilevelSpec.from_dict(d["spec"])
        if not isinstance(body["levels"], list) or len(body["levels"]) < 3:
            raise FileProblem("has `levels` that is not a list of at least three levels")
        levels = tuple(LevelRecord.from_dict(level, i) for i, level in enumerate(body["levels"]))
        value, se = estimate([summary(level.accumulator) for level in levels])
        if body["estimate"] != value or body["standard_error"] != se:
            raise FileProblem(f"has estimate {body['estimate']!r}, not the sum {value!r} of its levels' means")
        spent = math.fsum(level.samples * level.cost for level in levels)
        if body["cost"] != spent:
            raise FileProblem(f"has cost {body['cost']!r}, not the {spent!r} model units of its levels' samples")
        if body["stopped"] not in STOPS:
            raise FileProblem(f"has stopped = {body['stopped']!r}, not one of {', '.join(STOPS)}")
        low, high = body["interval"]
        exact = body.get("exact")
        return cls(
            model=str(d["model"]), spec=spec, levels=levels, estimate=value, standard_error=se,
            interval=(-math.inf if low is None else float(low), math.inf if high is None else float(high)),
            alpha=float(body["alpha"]), beta=float(body["beta"]), gamma=float(body["gamma"]), cost=spent,
            plain_cost=float(body["plain_cost"]), bias=math.nan if body["bias"] is None else float(body["bias"]),
            stopped=body["stopped"], message=str(body["message"]), rounds=count(body["rounds"], "rounds"),
            exact=None if exact is None else float(exact), unit=str(body.get("unit", "model units")), warnings=tuple(str(w) for w in d.get("warnings") or ()),
            provenance=dict(d.get("provenance") or {}), fingerprint=dict(d.get("model_fingerprint") or {}),
            arithmetic=arithmetic_of(d),
        )  # fmt: skip

    # -- presentation (montecarlo.reports.mlmc) -------------------------------
    def table(self) -> str:
        """The text ``mc mlmc`` prints: the estimate, the rates, the savings and Giles' per-level table."""
        from montecarlo.reports.mlmc import format_mlmc

        return format_mlmc(self)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        return (
            f"<MLMCResult {self.model}: {self.estimate!r}±{self.standard_error:.3g} "
            f"(L={self.finest}, N={list(self.samples)}, {self.stopped})>"
        )

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython
        p.text(str(self))

    def _repr_html_(self) -> str:  # notebooks
        from montecarlo.reports.mlmc import html_mlmc

        return html_mlmc(self)

    def to_frame(self) -> Any:
        """A `pandas.DataFrame` with one row per level (needs the ``frames`` extra).

        Columns: ``level``, ``samples``, ``blocks``, ``block_size``,
        ``cost``, ``mean``, ``variance``, ``mean_fine``, ``variance_fine``,
        ``kurtosis``, ``check``.
        """
        from montecarlo.reports.mlmc import mlmc_frame

        return mlmc_frame(self)

    def plot(self, axes: Any = None, output: str | None = None) -> Any:
        """Giles' figure: log2 of the variances and of the absolute means of ``P_l - P_{l-1}`` and ``P_l`` against ``l``.

        ``axes``: a pair of matplotlib Axes to draw on (default: a new
        figure); ``output``: also write the figure to this file. Needs the
        ``plot`` extra. Returns the pair of Axes.
        """
        from montecarlo.reports.mlmc import plot_mlmc

        return plot_mlmc(self, axes=axes, output=output)
