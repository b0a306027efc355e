"""`Estimate` and `Result` records: numbers, intervals, provenance, JSON, table."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from montecarlo.model import Model
from montecarlo.spec import RunSpec, to_jsonable
from montecarlo.stats import Moments, interval

#: JSON document type and version of a result file (see docs/json.md).
SCHEMA = "montecarlo.result"
SCHEMA_VERSION = 1


class ResultFormatError(ValueError):
    """A file that is not a montecarlo result of a version this release reads."""


@dataclass(frozen=True)
class Estimate:
    """One output's estimate with its standard error and confidence interval."""

    name: str
    estimate: float
    standard_error: float
    interval: tuple[float, float]
    samples: int
    confidence: float
    method: str  # interval method used for this output
    kind: str = "mean"
    exact: float | None = None

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
            "estimate": self.estimate,
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
        return d

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> Estimate:
        def num(x: Any, missing: float) -> float:
            return missing if x is None else float(x)

        lo, hi = d["interval"]
        return cls(
            name=name,
            estimate=float(d["estimate"]),
            standard_error=num(d["standard_error"], math.nan),
            interval=(num(lo, -math.inf), num(hi, math.inf)),
            samples=int(d["samples"]),
            confidence=float(d["confidence"]),
            method=str(d["interval_method"]),
            kind=str(d.get("kind", "mean")),
            exact=None if d.get("exact") is None else float(d["exact"]),
        )


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
    return tuple(out), cov


@dataclass(frozen=True)
class Result:
    """The outcome of a run: estimates with intervals, and how they were made.

    ``result.estimate`` (and ``standard_error``, ``interval``) give the first
    output; ``result["name"]`` gives any output's `Estimate`.
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

    # -- access -----------------------------------------------------------
    def __getitem__(self, name: str) -> Estimate:
        for e in self.estimates:
            if e.name == name:
                return e
        raise KeyError(f"no output {name!r}; outputs: {', '.join(self.outputs)}")

    def __iter__(self):
        return iter(self.estimates)

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.estimates)

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
            "outputs": {e.name: e.to_dict() for e in self.estimates},
            "covariance": [[to_jsonable(float(v)) for v in row] for row in self.covariance],
            "spec": self.spec.to_dict(),
            "accumulator": self.accumulator.to_dict(),
            "provenance": self.provenance,
            "stopping": self.stopping,
            "trace": list(self.trace),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Result:
        if not isinstance(d, Mapping) or d.get("schema") != SCHEMA:
            raise ResultFormatError("not a montecarlo result (no \"schema\": \"montecarlo.result\" field)")
        if d.get("version") != SCHEMA_VERSION:
            raise ResultFormatError(
                f"result format version {d.get('version')!r} is not supported; this release reads version {SCHEMA_VERSION}"
            )
        try:
            cov = np.array([[math.nan if v is None else v for v in row] for row in d["covariance"]], dtype=float)
            return cls(
                model=str(d["model"]),
                estimates=tuple(Estimate.from_dict(k, v) for k, v in d["outputs"].items()),
                covariance=cov,
                spec=RunSpec.from_dict(d["spec"]),
                accumulator=Moments.from_dict(d["accumulator"]),
                provenance=dict(d.get("provenance", {})),
                stopping=dict(d.get("stopping", {})),
                trace=tuple(d.get("trace", ())),
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
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    p = r.provenance
    lines.insert(0, f"{r.model}: {r.samples:,} samples, seed entropy {r.spec.entropy}, {r.spec.bit_generator}")
    if "elapsed_s" in p:
        rate = p.get("throughput", 0.0)
        lines.append(
            f"{p['elapsed_s']:.2f} s, {_rate(rate)} samples/s, "
            f"{p.get('workers', '?')} worker(s) ({p.get('executor', '?')})"
        )
    return "\n".join(lines)


def _rate(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{x / div:.3g}{unit}"
    return f"{x:.3g}"
