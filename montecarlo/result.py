"""`Estimate` and `Result` records: numbers, intervals, provenance, JSON, table."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from montecarlo.model import Model
from montecarlo.spec import RunSpec, to_jsonable
from montecarlo.stats import Moments, interval

#: JSON document type and version of a result file (see docs/json.md).
SCHEMA = "montecarlo.result"
SCHEMA_VERSION = 1

#: Kinds of estimates that are not model outputs (functions of the output means).
ESTIMATOR_KINDS = ("derived", "control-variate")


class ResultFormatError(ValueError):
    """A file that is not a montecarlo result of a version this release reads."""


@dataclass(frozen=True)
class Estimate:
    """One estimate with its standard error and confidence interval.

    ``kind`` is ``"mean"`` or ``"probability"`` for a model output,
    ``"derived"`` for a function of output means (delta method) and
    ``"control-variate"`` for a control-variate estimate; ``details`` holds
    how the last two were made (inputs and gradient; controls, coefficients,
    variance-reduction factor).
    """

    name: str
    estimate: float
    standard_error: float
    interval: tuple[float, float]
    samples: int
    confidence: float
    method: str  # interval method used for this output
    kind: str = "mean"
    exact: float | None = None
    details: dict = field(default_factory=dict, hash=False)

    @property
    def is_output(self) -> bool:
        """True for a model output, False for a derived or control-variate estimate."""
        return self.kind not in ESTIMATOR_KINDS

    @property
    def error_in_se(self) -> float | None:
        """(estimate − exact) / standard error, where the exact value is known."""
        if self.exact is None or not self.standard_error > 0:
            return None
        return (self.estimate - self.exact) / self.standard_error

    def covers(self, value: float) -> bool:
        return self.interval[0] <= value <= self.interval[1]

    def to_dict(self) -> dict:
        d = {
            "estimate": to_jsonable(self.estimate),  # NaN for a derived value at a degenerate point
            "standard_error": to_jsonable(self.standard_error),
            "interval": [to_jsonable(self.interval[0]), to_jsonable(self.interval[1])],
            "samples": self.samples,
            "confidence": self.confidence,
            "interval_method": self.method,
            "kind": self.kind,
        }
        if self.exact is not None:
            d["exact"] = self.exact
            d["error_in_se"] = to_jsonable(self.error_in_se)
        if self.details:
            d["details"] = _jsonable(self.details)
        return d

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> Estimate:
        def num(x: Any, missing: float) -> float:
            return missing if x is None else float(x)

        lo, hi = d["interval"]
        return cls(
            name=name,
            estimate=num(d["estimate"], math.nan),
            standard_error=num(d["standard_error"], math.nan),
            interval=(num(lo, -math.inf), num(hi, math.inf)),
            samples=int(d["samples"]),
            confidence=float(d["confidence"]),
            method=str(d["interval_method"]),
            kind=str(d.get("kind", "mean")),
            exact=None if d.get("exact") is None else float(d["exact"]),
            details=dict(d.get("details", {})),
        )


def _jsonable(x: Any) -> Any:
    """Nested details with non-finite floats as None (strict JSON)."""
    if isinstance(x, Mapping):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return to_jsonable(x)


def estimates(spec: RunSpec, model: Model, moments: Moments) -> tuple[tuple[Estimate, ...], np.ndarray]:
    """Per-output estimates and the covariance matrix of the (scaled) estimates."""
    n = moments.count
    se = moments.standard_error() if n >= 2 else np.full(len(model.outputs), np.nan)
    scale = np.array([o.scale for o in model.outputs])
    cov = moments.mean_covariance() * np.outer(scale, scale)
    try:
        exact = model.exact_values(spec.params)
    except Exception:  # an exact formula outside its domain: report without it
        exact = {}
    out = []
    for i, o in enumerate(model.outputs):
        method = spec.interval
        if method == "auto" or (method in ("wilson", "clopper-pearson") and o.kind != "probability"):
            method = "wilson" if o.kind == "probability" else "t"
        lo, hi = interval(method, float(moments.mean[i]), float(se[i]), n, spec.confidence)
        lo, hi = sorted((o.scale * lo, o.scale * hi))
        out.append(
            Estimate(
                name=o.name,
                estimate=float(o.scale * moments.mean[i]),
                standard_error=float(abs(o.scale) * se[i]),
                interval=(float(lo), float(hi)),
                samples=n,
                confidence=spec.confidence,
                method=method,
                kind=o.kind,
                exact=exact.get(o.name),
            )
        )
    return tuple(out) + model_estimators(spec, model, tuple(out), cov), cov


def model_estimators(spec: RunSpec, model: Model, outputs: Sequence[Estimate], cov: np.ndarray) -> tuple[Estimate, ...]:
    """The derived and control-variate estimates a model declares, from its output estimates.

    Functions of the folded means and covariance only: bit-identical for
    every executor and worker count.
    """
    from montecarlo.derived import control_estimate, derived_estimate

    names = [e.name for e in outputs]
    means = np.array([e.estimate for e in outputs])
    n = outputs[0].samples if outputs else 0
    common = {"params": spec.params, "confidence": spec.confidence, "interval": spec.interval}
    out = [derived_estimate(d, names, means, cov, n, **common) for d in model.derived]
    exact = {e.name: e.exact for e in outputs}
    out += [control_estimate(c, names, means, cov, n, exact=exact, **common) for c in model.controls]
    return tuple(out)


@dataclass(frozen=True)
class Result:
    """The outcome of a run: estimates with intervals, and how they were made.

    ``result.estimate`` (and ``standard_error``, ``interval``) give the first
    output; ``result["name"]`` gives any output's, derived quantity's or
    control-variate estimate's `Estimate`. ``estimates`` holds the outputs
    first (``covariance`` is the covariance matrix of their estimates), then
    the derived and control-variate estimates.
    """

    model: str
    estimates: tuple[Estimate, ...]
    covariance: np.ndarray
    spec: RunSpec
    accumulator: Moments
    provenance: dict = field(default_factory=dict)
    #: How the run ended when a stopping rule was in force (rule, target met).
    stopping: dict = field(default_factory=dict)
    #: Convergence trace: points at geometrically spaced sample counts.
    trace: tuple = ()
    #: Where an extension continues: the count of whole blocks folded, and
    #: their accumulator when a short last block makes it differ from
    #: ``accumulator`` (see `montecarlo.extend`).
    continuation: dict = field(default_factory=dict)

    # -- access -----------------------------------------------------------
    def __getitem__(self, name: str) -> Estimate:
        for e in self.estimates:
            if e.name == name:
                return e
        raise KeyError(f"no estimate {name!r}; estimates: {', '.join(e.name for e in self.estimates)}")

    def __iter__(self):
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
        name : str or montecarlo.derived.Derived
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
            central finite differences (`montecarlo.derived.gradient`).
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
        >>> r = montecarlo.run("buffon", samples=10**5, rng=1, executor="serial")
        >>> e = r.derive("pi_again", lambda p: 2 * 0.5 / p, inputs=["crossing"])
        >>> e.covers(3.14159)
        True
        """
        from montecarlo.derived import Derived, derived_estimate

        d = name if isinstance(name, Derived) else Derived(name, func, inputs, gradient, exact)
        names, means = self._basis()
        return derived_estimate(
            d, names, means, self.covariance, self.samples,
            params=self.spec.params, confidence=self.spec.confidence, interval=self.spec.interval,
        )  # fmt: skip

    def control_variate(
        self,
        target: str,
        controls: str | Sequence[str],
        *,
        means: Sequence[float] | None = None,
        name: str | None = None,
    ) -> Estimate:
        """Control-variate estimate of output ``target`` (see `montecarlo.derived`).

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
        from montecarlo.derived import ControlVariate, control_estimate

        c = ControlVariate(name or f"{target}_cv", target, controls, means)
        names, mvec = self._basis()
        exact = {e.name: e.exact for e in self.estimates if e.is_output}
        return control_estimate(
            c, names, mvec, self.covariance, self.samples,
            params=self.spec.params, confidence=self.spec.confidence, exact=exact, interval=self.spec.interval,
        )  # fmt: skip

    def with_estimates(self, *extra: Estimate) -> Result:
        """A copy with ``extra`` derived or control-variate estimates appended (for the table and JSON)."""
        import dataclasses

        taken = {e.name for e in self.estimates}
        for e in extra:
            if not isinstance(e, Estimate) or e.is_output:
                raise TypeError(f"`extra` must be derived or control-variate Estimates, got {e!r}")
            if e.name in taken:
                raise ValueError(f"an estimate named {e.name!r} already exists; give the new one another name.")
            taken.add(e.name)
        return dataclasses.replace(self, estimates=self.estimates + tuple(extra))

    @property
    def estimate(self) -> float:
        return self.estimates[0].estimate

    @property
    def standard_error(self) -> float:
        return self.estimates[0].standard_error

    @property
    def interval(self) -> tuple[float, float]:
        return self.estimates[0].interval

    @property
    def samples(self) -> int:
        return self.accumulator.count

    @property
    def elapsed(self) -> float:
        return float(self.provenance.get("elapsed_s", math.nan))

    @property
    def throughput(self) -> float:
        """Samples per second of wall time."""
        return float(self.provenance.get("throughput", math.nan))

    @property
    def entropy(self) -> int:
        return self.spec.entropy

    # -- JSON ---------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "model": self.model,
            "samples": self.samples,
            "outputs": {e.name: e.to_dict() for e in self.estimates if e.is_output},
            "derived": {e.name: e.to_dict() for e in self.estimates if not e.is_output},
            "covariance": [[to_jsonable(float(v)) for v in row] for row in self.covariance],
            "spec": self.spec.to_dict(),
            "accumulator": self.accumulator.to_dict(),
            "provenance": self.provenance,
            "stopping": self.stopping,
            "trace": list(self.trace),
            "continuation": self.continuation,
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        if not isinstance(d, Mapping) or d.get("schema") != SCHEMA:
            raise ResultFormatError('not a montecarlo result (no "schema": "montecarlo.result" field)')
        if d.get("version") != SCHEMA_VERSION:
            raise ResultFormatError(
                f"result format version {d.get('version')!r} is not supported; this release reads version {SCHEMA_VERSION}"
            )
        try:
            cov = np.array([[math.nan if v is None else v for v in row] for row in d["covariance"]], dtype=float)
            return cls(
                model=str(d["model"]),
                estimates=tuple(Estimate.from_dict(k, v) for k, v in d["outputs"].items())
                + tuple(Estimate.from_dict(k, v) for k, v in d.get("derived", {}).items()),
                covariance=cov,
                spec=RunSpec.from_dict(d["spec"]),
                accumulator=Moments.from_dict(d["accumulator"]),
                provenance=dict(d.get("provenance", {})),
                stopping=dict(d.get("stopping", {})),
                trace=tuple(d.get("trace", ())),
                continuation=dict(d.get("continuation", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultFormatError(f"malformed montecarlo result: {type(exc).__name__}: {exc}") from None

    @classmethod
    def from_json(cls, text: str) -> Result:
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ResultFormatError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
        return cls.from_dict(d)

    @classmethod
    def load(cls, path: str) -> Result:
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())

    def save(self, path: str) -> None:
        """Write the JSON form atomically (a crash never leaves half a file)."""
        from montecarlo.files import write_atomic

        write_atomic(path, self.to_json() + "\n")

    # -- display ------------------------------------------------------------
    def table(self) -> str:
        return format_table(self)

    def __str__(self) -> str:
        return format_table(self)

    def __repr__(self) -> str:
        parts = ", ".join(f"{e.name}={e.estimate!r}±{e.standard_error:.3g}" for e in self.estimates)
        return f"<Result {self.model}: {parts} (n={self.samples})>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:  # IPython
        p.text(str(self))

    # -- plot (montecarlo.plot; needs matplotlib: pip install 'montecarlo[plot]') --
    def plot(self, ax: Any = None, output: str | None = None) -> Any:
        """Convergence plot: estimate and interval band against samples; returns the matplotlib axes."""
        from montecarlo.plot import plot_convergence

        return plot_convergence(self, ax=ax, output=output)


def _digits(se: float) -> int:
    """Decimals that show the estimate to about a tenth of its standard error."""
    if not (se > 0 and math.isfinite(se)):
        return 6
    return max(0, min(15, 1 - math.floor(math.log10(se))))


def _num(x: float, d: int) -> str:
    if not math.isfinite(x):
        return "inf" if x > 0 else "-inf" if x < 0 else "nan"
    if x != 0 and (abs(x) >= 1e9 or abs(x) < 1e-4):
        return f"{x:.{max(3, min(d, 10))}e}"
    return f"{x:.{d}f}"


def format_table(r: Result) -> str:
    conf = f"{r.spec.confidence * 100:g}%"
    rows = [["output", "estimate", "std error", f"{conf} interval", "method"]]
    has_exact = any(e.exact is not None for e in r.estimates)
    if has_exact:
        rows[0] += ["exact", "error/se"]
    for e in r.estimates:
        d = _digits(e.standard_error)
        row = [
            e.name,
            _num(e.estimate, d),
            f"{e.standard_error:.3g}",
            f"[{_num(e.interval[0], d)}, {_num(e.interval[1], d)}]",
            e.method,
        ]
        if has_exact:
            z = e.error_in_se
            row += ["" if e.exact is None else _num(e.exact, d), "" if z is None else f"{z:+.2f}"]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines += _estimator_notes(r.estimates)
    p = r.provenance
    lines.insert(0, f"{r.model}: {r.samples:,} samples, seed entropy {r.spec.entropy}, {r.spec.bit_generator}")
    if "elapsed_s" in p:
        rate = p.get("throughput", 0.0)
        lines.append(
            f"{p['elapsed_s']:.2f} s, {_rate(rate)} samples/s, "
            f"{p.get('workers', '?')} worker(s) ({p.get('executor', '?')})"
        )
    return "\n".join(lines)


def _estimator_notes(estimates: Sequence[Estimate]) -> list[str]:
    """One line per derived or control-variate estimate: how it was made."""
    notes = []
    for e in estimates:
        d = e.details
        if e.kind == "derived" and d:
            notes.append(f"{e.name} = f({', '.join(d['inputs'])}): delta method, {d['gradient_method']} gradient")
        elif e.kind == "control-variate" and d:
            coef = ", ".join(f"{c:.4g}" if c is not None else "nan" for c in d["coefficients"])
            vrf = d.get("variance_reduction")
            vr = f"{vrf:.3g}x" if isinstance(vrf, float) and math.isfinite(vrf) else "n/a"
            notes.append(
                f"{e.name}: {d['target']} with control(s) {', '.join(d['controls'])}, "
                f"coefficient(s) {coef}, variance reduction {vr}"
            )
    return notes


def _rate(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"
