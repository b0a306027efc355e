"""`Result`: the estimates of a run, how they were made, and their JSON form.

Tables and plots of a result live in `montecarlo.reports`; `Result.table`,
``str(result)`` and `Result.plot` delegate to them lazily.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from montecarlo.core.spec import RunSpec
from montecarlo.errors import FileProblem, ResultFormatError, UnknownNameError, ValidationError, one_line
from montecarlo.estimation.control import control_estimate
from montecarlo.estimation.delta import derived_estimate
from montecarlo.estimation.diagnostics import Diagnosis
from montecarlo.estimation.estimate import Estimate, jsonable
from montecarlo.estimation.quantiles import TailEstimate, tails_from_dict, tails_to_dict
from montecarlo.estimation.rqmc import observations, on_samples
from montecarlo.models.derived import ControlVariate, Derived
from montecarlo.records.integrity import SealedRecord, arithmetic_of, check_record
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.sums import ARITHMETIC

#: JSON document type and version of a result file (see docs/json.md).
SCHEMA = "montecarlo.result"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Result(SealedRecord):
    """The outcome of a run: estimates with intervals, and how they were made.

    ``result.estimate`` (and ``standard_error``, ``interval``) give the first
    output; ``result["name"]`` gives any output's, derived quantity's or
    control-variate estimate's `Estimate`. ``estimates`` holds the outputs
    first (``covariance`` is the covariance matrix of their estimates), then
    the derived and control-variate estimates.
    """

    KIND: ClassVar[str] = "montecarlo result"

    model: str
    estimates: tuple[Estimate, ...]
    covariance: np.ndarray
    spec: RunSpec
    accumulator: Stats
    provenance: dict = field(default_factory=dict)
    #: How the run ended when a stopping rule was in force (rule, target met).
    stopping: dict = field(default_factory=dict)
    #: Convergence trace: points at geometrically spaced sample counts.
    trace: tuple = ()
    #: Where an extension continues: the count of whole blocks folded, and
    #: their accumulator when a short last block makes it differ from
    #: ``accumulator`` (see `montecarlo.extend`).
    continuation: dict = field(default_factory=dict)
    #: Per output: skewness, kurtosis and the flags of `montecarlo.estimation.diagnostics`.
    diagnostics: dict[str, Diagnosis] = field(default_factory=dict)
    #: Per output: the quantiles and expected shortfalls the run asked for
    #: (`montecarlo.estimation.quantiles`).
    quantiles: dict[str, list[TailEstimate]] = field(default_factory=dict)
    shortfall: dict[str, list[TailEstimate]] = field(default_factory=dict)
    #: The version of the engine's arithmetic that computed the numbers (`montecarlo.stats.sums`).
    arithmetic: int = ARITHMETIC
    #: The model's fingerprint when the run was made (`montecarlo.models.fingerprint`; empty when unknown).
    fingerprint: dict = field(default_factory=dict)
    #: What makes the run's numbers untrustworthy or not reproducible, in words (a model drawing from a global generator).
    warnings: tuple[str, ...] = ()

    # -- access -----------------------------------------------------------
    def __getitem__(self, name: str) -> Estimate:
        for e in self.estimates:
            if e.name == name:
                return e
        names = ", ".join(e.name for e in self.estimates)
        raise UnknownNameError("name", name, "one of " + names, "is not an estimate of this result")

    def __iter__(self) -> Iterator[Estimate]:
        """The estimates: outputs first, then derived and control-variate ones."""
        return iter(self.estimates)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the model outputs (not the derived or control-variate estimates)."""
        return tuple(e.name for e in self.estimates if e.is_output)

    @property
    def derived(self) -> tuple[Estimate, ...]:
        """The derived and control-variate estimates, in order."""
        return tuple(e for e in self.estimates if not e.is_output)

    # -- estimators from the folded means (post hoc) --------------------------
    def _basis(self) -> tuple[list[str], np.ndarray]:
        outs = [e for e in self.estimates if e.is_output]
        return [e.name for e in outs], np.array([e.estimate for e in outs])

    def derive(
        self,
        name: str | Any,
        func: Callable[..., Any] | None = None,
        *,
        inputs: Sequence[str] | None = None,
        gradient: Callable[..., Any] | None = None,
        exact: float | Callable[..., Any] | None = None,
    ) -> Estimate:
        """Estimate ``func`` of output means with a delta-method interval.

        Parameters
        ----------
        name : str or montecarlo.models.derived.Derived
            Name of the new estimate, or a complete `Derived` record (then
            give nothing else).
        func : callable
            ``func(*means)`` of the means of ``inputs``; model parameters
            named in its signature are passed by keyword.
        inputs : sequence of str, optional
            Output names, in the order ``func`` takes their means (default:
            every output).
        gradient : callable, optional
            Analytic partial derivatives, ``gradient(*means)``; default:
            central finite differences (`montecarlo.models.derived.gradient`).
        exact : float or callable, optional
            Exact value, shown beside the estimate.

        Returns
        -------
        Estimate
            ``kind="derived"``; the interval uses Student t with ``n - 1``
            degrees of freedom (normal if the run's interval method is
            ``"normal"``). Add it to the result with `with_estimates`.

        Examples
        --------
        >>> import montecarlo
        >>> r = montecarlo.run("buffon", samples=10**5, rng=1, execution="serial")
        >>> e = r.derive("pi_again", lambda p: 2 * 0.5 / p, inputs=["crossing"])
        >>> e.covers(3.14159)
        True
        """
        if isinstance(name, Derived):
            d = name
        elif func is None:
            raise ValidationError(
                "func", None, "derive(name, func, inputs=...), or a complete Derived record", "is required"
            )
        else:
            d = Derived(name, func, None if inputs is None else tuple(inputs), gradient, exact)
        names, means = self._basis()
        e = derived_estimate(
            d, names, means, self.covariance, observations(self.spec, self.samples),
            params=self.spec.params, confidence=self.spec.confidence, interval=self.spec.interval,
        )  # fmt: skip
        return on_samples(self.spec, [e], self.samples)[0]

    def control_variate(
        self,
        target: str,
        controls: str | Sequence[str],
        *,
        means: Sequence[float] | None = None,
        name: str | None = None,
    ) -> Estimate:
        """Control-variate estimate of output ``target`` (see `montecarlo.models.derived`).

        Parameters
        ----------
        target : str
            Output whose mean is estimated.
        controls : str or sequence of str
            Outputs with known means.
        means : sequence of float, optional
            Their known means; default: their exact values in this result.
        name : str, optional
            Default ``"<target>_cv"``.

        Returns
        -------
        Estimate
            ``kind="control-variate"``; ``details["variance_reduction"]`` is
            the plain variance over the control-variate variance and
            ``details["coefficients"]`` the fitted coefficients.
        """
        controls = (controls,) if isinstance(controls, str) else tuple(controls)
        c = ControlVariate(name or f"{target}_cv", target, controls, means)
        names, mvec = self._basis()
        exact = {e.name: e.exact for e in self.estimates if e.is_output}
        e = control_estimate(
            c, names, mvec, self.covariance, observations(self.spec, self.samples),
            params=self.spec.params, confidence=self.spec.confidence, exact=exact, interval=self.spec.interval,
        )  # fmt: skip
        return on_samples(self.spec, [e], self.samples)[0]

    def with_estimates(self, *extra: Estimate) -> Result:
        """A copy with ``extra`` derived or control-variate estimates appended (for the table and JSON)."""
        taken = {e.name for e in self.estimates}
        for e in extra:
            if not isinstance(e, Estimate) or e.is_output:
                raise ValidationError("extra", e, "derived or control-variate Estimates")
            if e.name in taken:
                raise ValidationError("extra", e.name, "a name of its own", "is the name of an estimate already there")
            taken.add(e.name)
        return dataclasses.replace(self, estimates=self.estimates + tuple(extra))

    @property
    def only(self) -> Estimate:
        """The estimate of the model's one output (an error naming them when it has several)."""
        outs = [e for e in self.estimates if e.is_output]
        if len(outs) != 1:
            names = ", ".join(e.name for e in outs)
            raise ValidationError(
                "result", f"(outputs {names})", "result[NAME].estimate for one of them, or result.estimates",
                f"has {len(outs)} outputs, so result.estimate, .standard_error and .interval would not say whose",
            )  # fmt: skip
        return outs[0]

    @property
    def estimate(self) -> float:
        """The estimate of the model's one output (``result[name].estimate`` for one of several)."""
        return self.only.estimate

    @property
    def standard_error(self) -> float:
        """The standard error of the model's one output."""
        return self.only.standard_error

    @property
    def interval(self) -> tuple[float, float]:
        """The confidence interval of the model's one output."""
        return self.only.interval

    @property
    def samples(self) -> int:
        """Samples folded into the estimates."""
        return self.accumulator.count

    @property
    def elapsed(self) -> float:
        """Wall-clock seconds of the run."""
        return float(self.provenance.get("elapsed_s", math.nan))

    @property
    def throughput(self) -> float:
        """Samples per second of wall time."""
        return float(self.provenance.get("throughput", math.nan))

    @property
    def entropy(self) -> int:
        """The root entropy the run used (repeat it with ``rng=entropy``)."""
        assert self.spec.entropy is not None  # a run always records the entropy it used
        return self.spec.entropy

    # -- JSON ---------------------------------------------------------------
    def to_dict(self) -> dict:
        """The JSON form (docs/json.md)."""
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "arithmetic": self.arithmetic,
            **({"model_fingerprint": self.fingerprint} if self.fingerprint else {}),
            **({"warnings": list(self.warnings)} if self.warnings else {}),
            "model": self.model,
            "samples": self.samples,
            "outputs": {e.name: e.to_dict() for e in self.estimates if e.is_output},
            "derived": {e.name: e.to_dict() for e in self.estimates if not e.is_output},
            "covariance": [[jsonable(float(v)) for v in row] for row in self.covariance],
            "spec": self.spec.to_dict(),
            "accumulator": self.accumulator.to_dict(),
            "provenance": self.provenance,
            "stopping": self.stopping,
            "trace": list(self.trace),
            "continuation": self.continuation,
            **({"diagnostics": {k: v.to_dict() for k, v in self.diagnostics.items()}} if self.diagnostics else {}),
            **({"quantiles": tails_to_dict(self.quantiles)} if self.quantiles else {}),
            **({"shortfall": tails_to_dict(self.shortfall)} if self.shortfall else {}),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        """The result back from its `to_dict` form (a `ResultFormatError` if it is not one)."""
        if not isinstance(d, Mapping) or d.get("schema") != SCHEMA:
            raise ResultFormatError('not a montecarlo result (no "schema": "montecarlo.result" field)')
        if d.get("version") != SCHEMA_VERSION:
            raise ResultFormatError(
                f"result format version {d.get('version')!r} is not supported; this release reads version {SCHEMA_VERSION}"
            )
        try:
            check_record(d)
            cov = np.array([[math.nan if v is None else v for v in row] for row in d["covariance"]], dtype=float)
            return cls(
                model=str(d["model"]),
                estimates=tuple(Estimate.from_dict(k, v) for k, v in d["outputs"].items())
                + tuple(Estimate.from_dict(k, v) for k, v in d.get("derived", {}).items()),
                covariance=cov,
                spec=RunSpec.from_dict(d["spec"]),
                accumulator=Stats.from_dict(d["accumulator"]),
                provenance=dict(d.get("provenance", {})),
                stopping=dict(d.get("stopping", {})),
                trace=tuple(d.get("trace", ())),
                continuation=dict(d.get("continuation", {})),
                diagnostics={k: Diagnosis.from_dict(k, v) for k, v in dict(d.get("diagnostics") or {}).items()},
                quantiles=tails_from_dict(d.get("quantiles"), "quantile"),
                shortfall=tails_from_dict(d.get("shortfall"), "shortfall"),
                arithmetic=arithmetic_of(d),
                fingerprint=dict(d.get("model_fingerprint") or {}),
                warnings=tuple(str(w) for w in d.get("warnings") or ()),
            )
        except FileProblem as exc:
            raise ResultFormatError(f"not a consistent montecarlo result: it {exc}") from None
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise ResultFormatError(f"malformed montecarlo result: {type(exc).__name__}: {one_line(exc)}") from None

    def table(self) -> str:
        """The text table ``mc run`` prints."""
        from montecarlo.reports.table import format_result

        return format_result(self)

    def __str__(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        parts = ", ".join(f"{e.name}={e.estimate!r}±{e.standard_error:.3g}" for e in self.estimates)
        return f"<Result {self.model}: {parts} (n={self.samples})>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython
        p.text(str(self))

    def _repr_html_(self) -> str:  # notebooks
        from montecarlo.reports.table import html_result

        return html_result(self)

    def to_frame(self) -> Any:
        """A `pandas.DataFrame` with one row per estimate (needs the ``frames`` extra).

        Columns: ``name``, ``kind``, ``estimate``, ``standard_error``, ``lower``,
        ``upper``, ``confidence``, ``method``, ``samples``, ``exact``, ``error_in_se``.

        Examples
        --------
        >>> import montecarlo
        >>> frame = montecarlo.run("asian_option", 10**4, rng=1, execution="serial").to_frame()
        >>> list(frame["name"])
        ['arithmetic', 'geometric', 'arithmetic_cv']
        """
        from montecarlo.reports.frames import result_frame

        return result_frame(self)

    def plot(self, ax: Any = None, output: str | None = None) -> Any:
        """Convergence plot: estimate and interval band against samples (matplotlib axes; the plot extra)."""
        from montecarlo.reports.plot import plot_convergence

        return plot_convergence(self, ax=ax, output=output)

    def histogram(self, output: str | None = None, bins: int = 60) -> Any:
        """Histogram of an output (default: the first) from the run's bucket counts: a `Histogram`."""
        from montecarlo.estimation.distribution import histogram

        return histogram(self, output, bins)

    def ecdf(self, output: str | None = None) -> Any:
        """Empirical distribution function of an output with its DKW band: an `ECDF`."""
        from montecarlo.estimation.distribution import ecdf

        return ecdf(self, output)
