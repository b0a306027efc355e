"""Running an experiment: every point on one backend, checked against ``[expect]``, with provenance."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from montecarlo.api import run_spec
from montecarlo.errors import ResultFormatError, one_line
from montecarlo.estimate import jsonable
from montecarlo.executors import make_backend
from montecarlo.experiments.config import Experiment
from montecarlo.experiments.provenance import git_state
from montecarlo.integrity import sealed
from montecarlo.options import Execution
from montecarlo.provenance import iso, software
from montecarlo.result import Result

#: JSON document type and version of an experiment result (docs/experiments.md).
SCHEMA = "montecarlo.experiment"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class PointResult:
    """One point of an experiment: swept values, its `Result`, its checks."""

    index: int
    swept: dict
    result: Result
    checks: tuple[dict, ...] = ()

    def to_dict(self) -> dict:
        """The JSON form: index, swept parameters, the point's result and its checks."""
        return {
            "index": self.index,
            "params": self.swept,
            "result": self.result.to_dict(),
            "checks": list(self.checks),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PointResult:
        """The point back from its `to_dict` form."""
        return cls(
            index=int(d["index"]),
            swept=dict(d.get("params") or {}),
            result=Result.from_dict(d["result"]),
            checks=tuple(d.get("checks") or ()),
        )


@dataclass(frozen=True)
class ExperimentResult:
    """The outcome of an experiment file, as written to ``result.json``."""

    name: str
    description: str
    model: str
    points: tuple[PointResult, ...]
    sweep: dict | None = None
    config: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    git: dict | None = None
    provenance: dict = field(default_factory=dict)

    @property
    def checks(self) -> list[tuple[PointResult, dict]]:
        """Every expectation's outcome, with its point."""
        return [(p, c) for p in self.points for c in p.checks]

    @property
    def misses(self) -> list[tuple[PointResult, dict]]:
        """The expectations that were missed, with their points."""
        return [(p, c) for p, c in self.checks if not c["passed"]]

    def to_dict(self) -> dict:
        """The JSON form of ``result.json`` (docs/experiments.md)."""
        return {
            "schema": SCHEMA,
            "version": SCHEMA_VERSION,
            "name": self.name,
            "description": self.description,
            "model": self.model,
            "sweep": self.sweep,
            "points": [p.to_dict() for p in self.points],
            "config": self.config,
            "overrides": self.overrides,
            "git": self.git,
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        """Strict JSON (non-finite numbers as null), indented, with its checksum."""
        return json.dumps(sealed(jsonable(self.to_dict())), indent=2, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ExperimentResult:
        """The experiment result back from its `to_dict` form (a `ResultFormatError` if it is not one)."""
        if not isinstance(d, Mapping) or d.get("schema") != SCHEMA:
            raise ResultFormatError(f'not a montecarlo experiment result (no "schema": "{SCHEMA}" field)')
        if d.get("version") != SCHEMA_VERSION:
            raise ResultFormatError(
                f"experiment result version {d.get('version')!r} is not supported; this release reads version {SCHEMA_VERSION}"
            )
        try:
            points = tuple(PointResult.from_dict(p) for p in d["points"])
            if not points:
                raise ValueError("no points")
            return cls(
                name=str(d["name"]),
                description=str(d.get("description", "")),
                model=str(d["model"]),
                points=points,
                sweep=d.get("sweep"),
                config=dict(d.get("config") or {}),
                overrides=dict(d.get("overrides") or {}),
                git=d.get("git"),
                provenance=dict(d.get("provenance") or {}),
            )
        except ResultFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise ResultFormatError(f"malformed experiment result: {type(exc).__name__}: {one_line(exc)}") from None


def run_experiment(
    exp: Experiment,
    *,
    execution: Execution | None = None,
    on_point: Callable[[PointResult], None] | None = None,
) -> ExperimentResult:
    """Run every point of ``exp`` on one backend and check its expectations.

    Parameters
    ----------
    exp : Experiment
        From `load_experiment`.
    execution : Execution, optional
        Default: the file's (``executor``, ``workers`` ... keys). The numbers
        never depend on it. Its ``progress`` sees the whole experiment.
    on_point : callable, optional
        Called with each `PointResult` as it completes.

    Returns
    -------
    ExperimentResult
    """
    execution = Execution.of(execution) if execution is not None else exp.execution
    progress = execution.progress
    total = sum(p.spec.samples for p in exp.points)
    started = time.time()
    t0 = time.perf_counter()
    backend = make_backend(execution, [p.spec for p in exp.points])
    points = []
    done = 0
    try:
        for point in exp.points:
            report = None
            if progress is not None:
                offset = done

                def report(d: int, _t: int, offset: int = offset) -> None:
                    progress(offset + d, total)

            result = run_spec(
                point.spec, exp.model, execution=Execution(backend, retries=execution.retries, progress=report)
            )
            done += result.samples
            pr = PointResult(point.index, point.swept, result, tuple(e.check(result[e.output]) for e in point.expect))
            points.append(pr)
            if on_point is not None:
                on_point(pr)
    finally:
        if backend is not execution.executor:
            backend.close()
    elapsed = time.perf_counter() - t0
    prov = {
        **software(),
        "executor": backend.name,
        "workers": backend.workers,
        "started": iso(started),
        "finished": iso(started + elapsed),
        "elapsed_s": elapsed,
    }
    return ExperimentResult(
        name=exp.name,
        description=exp.description,
        model=exp.points[0].spec.model,
        points=tuple(points),
        sweep=exp.sweep.to_dict() if exp.sweep else None,
        config={"path": exp.path, "sha256": exp.sha256, "text": exp.text},
        overrides=exp.overrides,
        git=git_state(exp.path),
        provenance=prov,
    )
