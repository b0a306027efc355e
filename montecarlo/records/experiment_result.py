"""`ExperimentResult`: the outcome of an experiment file, as written to ``result.json``.

A record with its JSON round trip (docs/experiments.md); running experiments
lives in `montecarlo.experiments`. Tables and frames of it are in the
presentation layer (`montecarlo.reports.table`, `montecarlo.reports.frames`), loaded lazily.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from montecarlo.errors import ResultFormatError, one_line
from montecarlo.estimation.estimate import jsonable
from montecarlo.records.integrity import sealed
from montecarlo.records.mlmc_result import SCHEMA as MLMC_SCHEMA
from montecarlo.records.mlmc_result import MLMCResult
from montecarlo.records.result import Result

#: JSON document type and version of an experiment result (docs/experiments.md).
SCHEMA = "montecarlo.experiment"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class PointResult:
    """One point of an experiment: swept values, its result, its checks.

    ``result`` is the point's `Result` (for a sensitivity analysis, the run
    of ``"sensitivity(MODEL)"``), or its `MLMCResult` for a multilevel one.
    """

    index: int
    swept: dict
    result: Result | MLMCResult
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
        doc = d["result"]
        result = MLMCResult.from_dict(doc) if doc.get("schema") == MLMC_SCHEMA else Result.from_dict(doc)
        return cls(
            index=int(d["index"]),
            swept=dict(d.get("params") or {}),
            result=result,
            checks=tuple(d.get("checks") or ()),
        )


@dataclass(frozen=True)
class ExperimentResult:
    """The outcome of an experiment file, as written to ``result.json``.

    ``analysis`` is None for plain runs; for an analysis
    (``analysis = "sensitivity"`` or ``"mlmc"`` in the file) it is
    ``{"name": ...}`` plus what reading its points back needs (a sensitivity
    analysis: ``outputs``, ``inputs`` and ``second_order``).
    """

    name: str
    description: str
    model: str
    points: tuple[PointResult, ...]
    sweep: dict | None = None
    config: dict = field(default_factory=dict)
    overrides: dict = field(default_factory=dict)
    git: dict | None = None
    provenance: dict = field(default_factory=dict)
    analysis: dict | None = None
    #: The result folder this result was written to by `run_experiment` (not part of the file).
    folder: str | None = field(default=None, compare=False, repr=False)

    def table(self) -> str:
        """The text table ``mc experiment run`` prints (and ``mc experiment show``); an analysis's per point."""
        if self.analysis is not None:
            from montecarlo.reports.experiment_analyses import format_analyses

            return format_analyses(self)
        from montecarlo.reports.table import format_experiment

        return format_experiment(self)

    def __str__(self) -> str:
        return self.table()

    def _repr_html_(self) -> str:  # notebooks
        if self.analysis is not None:
            from montecarlo.reports.experiment_analyses import html_analyses

            return html_analyses(self)
        from montecarlo.reports.table import html_experiment

        return html_experiment(self)

    def to_frame(self) -> Any:
        """A `pandas.DataFrame` with one row per point and estimate, the swept parameters as columns.

        For an analysis: each point's analysis frame, with the point and its swept values as columns.
        """
        if self.analysis is not None:
            from montecarlo.reports.experiment_analyses import analyses_frame

            return analyses_frame(self)
        from montecarlo.reports.frames import experiment_frame

        return experiment_frame(self)

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
            **({"analysis": self.analysis} if self.analysis is not None else {}),
            "sweep": self.sweep,
            "points": [p.to_dict() for p in self.points],
            "config": self.config,
            "overrides": self.overrides,
            "git": self.git,
            "provenance": self.provenance,
        }

    def to_json(self) -> str:
        """Strict JSON (non-finite numbers as null), indented, with its checksum."""
        d = self.to_dict()
        try:  # the walk that turns non-finite numbers into null is needed only when there are some
            return json.dumps(sealed(d), indent=2, allow_nan=False)
        except (ValueError, TypeError):
            return json.dumps(sealed(jsonable(d)), indent=2, allow_nan=False)

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
                analysis=None if d.get("analysis") is None else dict(d["analysis"]),
            )
        except ResultFormatError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
            raise ResultFormatError(f"malformed experiment result: {type(exc).__name__}: {one_line(exc)}") from None
