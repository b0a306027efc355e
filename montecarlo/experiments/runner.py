"""Running an experiment: every point on one backend, checked against ``[expect]``, with provenance."""

from __future__ import annotations

import time
from collections.abc import Callable

from montecarlo.api import run_spec
from montecarlo.core.execution import Execution
from montecarlo.engine.backends import make_backend
from montecarlo.experiments.config import Experiment
from montecarlo.experiments.git import git_state
from montecarlo.records.experiment_result import ExperimentResult, PointResult
from montecarlo.records.provenance import iso, software


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
    reused = 0
    try:
        for point in exp.points:
            report = None
            if progress is not None:
                offset = done

                def report(d: int, _t: int, offset: int = offset) -> None:
                    progress(offset + d, total)

            result = run_spec(
                point.spec,
                exp.model,
                execution=Execution(backend, retries=execution.retries, progress=report, cache=execution.cache),
            )
            reused += result.provenance.get("cache") == "reused"
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
    if execution.cache:
        prov["reused"] = reused
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
