"""`reproduce`: re-run a recorded result from its RunSpecs and compare every number.

The determinism contract (docs/design.md) says the numbers depend on the RunSpec
only, so the comparison is exact: no tolerance, whatever the worker count or
executor of either run. A file written by another version of the engine's
arithmetic (`montecarlo.stats.sums.ARITHMETIC`) cannot be reproduced bit for
bit: then each re-run estimate is checked against the interval the file
recorded, and the report says that the arithmetic changed.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from montecarlo.analyses.mlmc import run_mlmc
from montecarlo.api import run_spec
from montecarlo.core.execution import Execution
from montecarlo.core.multilevel import MultilevelSpec
from montecarlo.core.spec import RunSpec
from montecarlo.engine.backends import make_backend
from montecarlo.errors import ExperimentError, FileProblem, ResultFormatError, ValidationError
from montecarlo.experiments.tables import label
from montecarlo.models.fingerprint import changed_since, fingerprint
from montecarlo.models.registry import load_model
from montecarlo.records.experiment_result import SCHEMA as EXPERIMENT_SCHEMA
from montecarlo.records.experiment_result import ExperimentResult
from montecarlo.records.integrity import read_document
from montecarlo.records.mlmc_result import SCHEMA as MLMC_SCHEMA
from montecarlo.records.mlmc_result import MLMCResult
from montecarlo.records.provenance import software
from montecarlo.records.result import SCHEMA as RESULT_SCHEMA
from montecarlo.records.result import Result
from montecarlo.stats.sums import ARITHMETIC

#: Provenance entries whose change across installs is worth a warning.
VERSIONED = ("montecarlo", "numpy", "blas")
ACCEPTED = (
    "accepted: result.json from `mc experiment run` (or its folder), or a file written by `mc run -o` or `mc mlmc -o`"
)


@dataclass(frozen=True)
class Recorded:
    """What a result file recorded: per point a label, its RunSpec and its numbers."""

    path: str
    kind: str  # "experiment", "result" or "mlmc" (one point: the MultilevelSpec, re-run whole)
    points: tuple[tuple[str, RunSpec | MultilevelSpec, dict], ...]
    provenance: dict
    arithmetic: int = ARITHMETIC


@dataclass
class Reproduction:
    """The outcome of `reproduce`."""

    recorded: Recorded
    compared: int = 0
    mismatches: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    executor: str = ""
    workers: int = 0
    #: ``(recorded, now)`` versions of the arithmetic when they differ: numbers compared within their intervals.
    arithmetic_changed: tuple[int, int] | None = None
    #: What changed in each model whose fingerprint differs from the recorded one (label: changes).
    model_changed: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        """Whether every number was reproduced bit for bit."""
        return not self.mismatches


def load_recorded(path: str) -> Recorded:
    """Read a result file (or a result folder) for `reproduce`."""
    file = os.path.join(path, "result.json") if os.path.isdir(path) else path
    if not os.path.lexists(file):
        raise ExperimentError(f"{file}: no such file; {ACCEPTED}.")
    try:
        data = read_document(file)
    except FileProblem as exc:
        raise ExperimentError(f"{file}: it {exc}; {ACCEPTED}.") from None
    schema = data.get("schema") if isinstance(data, dict) else None
    try:
        if schema == EXPERIMENT_SCHEMA:
            res = ExperimentResult.from_dict(data)
            points = tuple(
                (_label(p.index, p.swept, len(res.points)), p.result.spec, raw["result"])
                for p, raw in zip(res.points, data["points"], strict=True)
            )
            versions = {p.result.arithmetic for p in res.points}
            return Recorded(file, "experiment", points, res.provenance, min(versions))
        if schema == RESULT_SCHEMA:
            r = Result.from_dict(data)
            return Recorded(file, "result", (("", r.spec, data),), r.provenance, r.arithmetic)
        if schema == MLMC_SCHEMA:
            m = MLMCResult.from_dict(data)
            return Recorded(file, "mlmc", (("", m.spec, data),), m.provenance, m.arithmetic)
    except (ResultFormatError, ValidationError) as exc:
        raise ExperimentError(f"{file}: {exc}; {ACCEPTED}.") from None
    raise ExperimentError(f'{file}: not a montecarlo result file ("schema" is {schema!r}); {ACCEPTED}.')


def _label(index: int, swept: dict, n: int) -> str:
    if n == 1 and not swept:
        return ""
    return f"point {index}" + (f" ({label(swept)})" if swept else "") + ": "


def reproduce(path: str, *, execution: Execution | None = None) -> Reproduction:
    """Re-run every RunSpec recorded in ``path`` and compare every number.

    The recorded model is imported to re-run it: a result file is trusted
    input here.

    Parameters
    ----------
    path : str
        ``result.json`` of an experiment (or its folder), or a result file of
        `Result.save` / ``mc run -o``.
    execution : Execution, optional
        Any executor and worker count (default: local processes on every
        core): the numbers must not change.

    Returns
    -------
    Reproduction
        ``identical`` is true when every estimate, standard error, interval
        bound, sample count, covariance and accumulator entry is bit-identical.
    """
    recorded = load_recorded(path)
    out = Reproduction(recorded)
    if recorded.arithmetic != ARITHMETIC:
        out.arithmetic_changed = (recorded.arithmetic, ARITHMETIC)
    now = software()
    for key in VERSIONED:
        if out.arithmetic_changed is not None:
            break  # the numbers differ in their last bits anyway: said once, by the change of arithmetic
        was = recorded.provenance.get(key)
        if was is not None and was != now[key]:
            out.warnings.append(
                f"recorded with {key} {was}, running {key} {now[key]}: numbers may differ in their last bits."
            )
    models = {}
    for _, spec, _ in recorded.points:
        if spec.model not in models:
            try:
                models[spec.model] = load_model(spec.model)
            except ValidationError as exc:
                raise ExperimentError(f"{recorded.path}: cannot re-run: {exc}") from None
    execution = Execution.of(execution)
    backend = make_backend(execution, [s for _, s, _ in recorded.points if isinstance(s, RunSpec)])
    out.executor, out.workers = backend.name, backend.workers
    try:
        for label, spec, numbers in recorded.points:
            if changed := changed_since(numbers.get("model_fingerprint") or {}, fingerprint(models[spec.model])):
                out.model_changed.append(f"{label}{spec.model}: {changed}")
                continue  # another model: its numbers are not the recorded run's to compare
            how = Execution(backend, retries=execution.retries)
            if isinstance(spec, MultilevelSpec):  # the whole algorithm again: every decision, every level
                result: Any = run_mlmc(dataclasses.replace(spec, model_record=models[spec.model]), execution=how)
            else:
                result = run_spec(spec, models[spec.model], execution=how)
            again = json.loads(result.to_json())
            if out.arithmetic_changed is None:
                out.compared += _compare(label, numbers, again, out.mismatches)
            else:
                out.compared += _within(label, numbers, again, out.mismatches)
    finally:
        if backend is not execution.executor:
            backend.close()
    return out


def _compare(label: str, recorded: dict, again: dict, diffs: list[str]) -> int:
    """Append a line per differing number; return how many numbers were compared."""
    if "mlmc" in again:  # a multilevel result: every number of its estimate, diagnostics and levels
        return _differing(label, _nested("", recorded.get("mlmc"), again["mlmc"]), diffs)
    pairs: list[tuple[str, Any, Any]] = [("samples", recorded.get("samples"), again["samples"])]
    # Outputs, then derived and control-variate estimates (functions of the
    # folded moments, so they must match bit for bit as well).
    for section in ("outputs", "derived"):
        rec_sec = recorded.get(section) or {}
        new_sec = again.get(section) or {}
        for name, e in new_sec.items():
            r = rec_sec.get(name) or {}
            for key in ("estimate", "standard_error", "samples"):
                pairs.append((f"{name} {key}", r.get(key), e.get(key)))
            r_iv = r.get("interval") or [None, None]
            e_iv = e.get("interval") or [None, None]
            pairs.append((f"{name} interval low", r_iv[0], e_iv[0]))
            pairs.append((f"{name} interval high", r_iv[1], e_iv[1]))
        for name in rec_sec:
            if name not in new_sec:
                diffs.append(f"{label}{name}: recorded, but the re-run has no such estimate")
    # Quantiles and expected shortfalls, level by level.
    for section in ("quantiles", "shortfall"):
        for name, rows in (again.get(section) or {}).items():
            old_rows = {r.get("q"): r for r in (recorded.get(section) or {}).get(name, [])}
            for row in rows:
                r = old_rows.get(row["q"]) or {}
                what = f"{name} {section} {row['q']:g}"
                pairs.append((f"{what} estimate", r.get("estimate"), row.get("estimate")))
                pairs += _flat(f"{what} interval", r.get("interval"), row.get("interval"))
    pairs += _flat("covariance", recorded.get("covariance"), again["covariance"])
    acc_r, acc_a = recorded.get("accumulator") or {}, again["accumulator"]
    pairs.append(("accumulator count", acc_r.get("count"), acc_a["count"]))
    pairs += _flat("accumulator mean", acc_r.get("mean"), acc_a["mean"])
    pairs += _flat("accumulator comoment", acc_r.get("comoment"), acc_a["comoment"])
    return _differing(label, pairs, diffs)


def _differing(label: str, pairs: list[tuple[str, Any, Any]], diffs: list[str]) -> int:
    """Append a line per pair whose numbers differ; return how many pairs were compared."""
    for what, a, b in pairs:
        # JSON floats round-trip exactly, so == is bit equality (null for NaN on both sides matches).
        if a != b or type(a) is not type(b):
            diffs.append(f"{label}{what}: recorded {a!r}, reproduced {b!r}{_difference(a, b)}")
    return len(pairs)


def _within(label: str, recorded: dict, again: dict, diffs: list[str]) -> int:
    """Across versions of the arithmetic: each re-run estimate inside its recorded interval, the sample counts equal.

    Appends a line per estimate outside; returns how many were compared.
    """
    if "mlmc" in again:  # a multilevel result: its estimate inside the recorded interval
        lo, hi = (recorded.get("mlmc") or {}).get("interval") or [None, None]
        value = again["mlmc"]["estimate"]
        if not ((lo is None or lo <= value) and (hi is None or value <= hi)):
            diffs.append(f"{label}estimate: reproduced {value!r}, outside the recorded interval [{lo!r}, {hi!r}]")
        return 1
    compared = 1
    if recorded.get("samples") != again["samples"]:
        diffs.append(f"{label}samples: recorded {recorded.get('samples')!r}, reproduced {again['samples']!r}")
    for section in ("outputs", "derived"):
        rec_sec = recorded.get(section) or {}
        for name, e in (again.get(section) or {}).items():
            lo, hi = (rec_sec.get(name) or {}).get("interval") or [None, None]
            value = e.get("estimate")
            compared += 1
            inside = value is not None and (lo is None or lo <= value) and (hi is None or value <= hi)
            if not inside:
                diffs.append(f"{label}{name}: reproduced {value!r}, outside the recorded interval [{lo!r}, {hi!r}]")
    return compared


def _flat(name: str, a: Any, b: Any) -> list[tuple[str, Any, Any]]:
    """Element pairs of two nested lists (a missing element compares as None)."""
    if not isinstance(b, list):
        return [(name, a, b)]
    a = a if isinstance(a, list) else []
    out: list[tuple[str, Any, Any]] = []
    for i, bv in enumerate(b):
        av = a[i] if i < len(a) else None
        sub = f"{name}[{i}]"
        out += _flat(sub, av, bv) if isinstance(bv, list) else [(sub, av, bv)]
    return out


def _nested(name: str, a: Any, b: Any) -> list[tuple[str, Any, Any]]:
    """Pairs of the values of two nested JSON values, objects by key and lists by index (missing: None)."""
    if isinstance(b, dict):
        a = a if isinstance(a, dict) else {}
        return [p for k, v in b.items() for p in _nested(f"{name} {k}".strip(), a.get(k), v)]
    if isinstance(b, list):
        a = a if isinstance(a, list) else []
        return [p for i, v in enumerate(b) for p in _nested(f"{name}[{i}]", a[i] if i < len(a) else None, v)]
    return [(name, a, b)]


def _difference(a: Any, b: Any) -> str:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return f" (difference {b - a:.3g})"
    return ""
