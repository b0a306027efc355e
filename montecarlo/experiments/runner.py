"""Running an experiment: every point on one backend, checked against ``[expect]``, with provenance.

With an output folder, each finished point is recorded as it finishes
(`montecarlo.experiments.record.PointRecord`) and a sweep that was killed
resumes from what it recorded; the result folder is written at the end.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

from montecarlo.analyses.mlmc import run_mlmc
from montecarlo.api import run_spec
from montecarlo.core.execution import Execution
from montecarlo.core.multilevel import MultilevelSpec
from montecarlo.core.spec import RunSpec
from montecarlo.engine.backends import make_backend
from montecarlo.engine.progress import progress_for
from montecarlo.experiments.config import Experiment, Point
from montecarlo.experiments.folder import check_output_dir
from montecarlo.experiments.git import git_state
from montecarlo.experiments.record import WRITING, PointRecord
from montecarlo.experiments.tables import checks
from montecarlo.models.fingerprint import fingerprint
from montecarlo.records.cache import Cache
from montecarlo.records.experiment_result import ExperimentResult, PointResult
from montecarlo.records.mlmc_result import MLMCResult
from montecarlo.records.provenance import iso, software
from montecarlo.records.result import Result


def run_experiment(
    exp: Experiment,
    *,
    execution: Execution | None = None,
    on_point: Callable[[PointResult], None] | None = None,
    output_dir: str | None = None,
) -> ExperimentResult:
    """Run every point of ``exp`` on one backend and check its expectations.

    Parameters
    ----------
    exp : Experiment
        From `load_experiment`.
    execution : Execution, optional
        Default: the file's (``executor``, ``workers``, ``cache`` ... keys).
        The numbers never depend on it. Its ``progress`` sees the whole
        experiment.
    on_point : callable, optional
        Called with each `PointResult` as it completes (points taken back
        from an unfinished folder first, in point order).
    output_dir : str, optional
        Write the result folder under ``output_dir`` (as `write_folder`),
        recording each point as it finishes in an unfinished folder there;
        an unfinished folder of the same points and model (left by a killed
        or failed run) is resumed: its points are taken back, not computed.
        The folder written is ``result.folder``.

    Returns
    -------
    ExperimentResult
        ``provenance["reused"]``: points taken from the cache (with the
        cache on); ``provenance["resumed"]``: points taken back from an
        unfinished folder (with ``output_dir``).
    """
    execution = Execution.of(execution) if execution is not None else exp.execution
    if execution.cache:  # a folder that is not a cache, or a bad $MONTECARLO_CACHE_MB: refused before anything runs
        Cache(execution.cache if isinstance(execution.cache, str) else None)
    record = None
    if output_dir is not None:
        check_output_dir(output_dir)
        record = PointRecord.open(exp, output_dir, fingerprint(exp.points[0].spec.model_record))
    try:
        with progress_for(execution.progress, open_ended=False) as progress:  # one bar for the whole experiment
            res = _run(exp, execution, on_point, record, progress)
    except BaseException as exc:
        if record is not None and record.keep() is not None:
            _kept_note(exc, record)
        raise
    if record is None:
        return res
    try:
        folder = record.finish(res)
    except BaseException as exc:
        if isinstance(exc, OSError):
            exc.add_note(WRITING)
        if record.path is not None:
            _kept_note(exc, record)
        raise
    return dataclasses.replace(res, folder=folder)


def _size(spec: RunSpec | MultilevelSpec) -> int:
    """A point's share of the progress bar: its samples; a multilevel run counts one (its cost is not known ahead)."""
    return spec.samples if isinstance(spec, RunSpec) else 1


def _finished(point: Point, result: Result | MLMCResult, record: PointRecord | None) -> PointResult:
    """The point's result with its checks, recorded as it finishes."""
    pr = PointResult(point.index, point.swept, result, checks(point.expect, result))
    if record is not None:
        try:
            record.add(pr)
        except OSError as exc:
            exc.add_note(WRITING)
            raise
    return pr


def _kept_note(exc: BaseException, record: PointRecord) -> None:
    """Say where the points finished so far are kept, and how to resume from them."""
    exc.add_note(
        f"{len(record.done) + record.recorded} finished point(s) are kept in {record.path}: "
        "the same command resumes from them."
    )


def _run(
    exp: Experiment,
    execution: Execution,
    on_point: Callable[[PointResult], None] | None,
    record: PointRecord | None,
    progress: Callable[[int, int], None] | None,
) -> ExperimentResult:
    points = record.points if record is not None else exp.points
    done_before = record.done if record is not None else {}
    total = sum(_size(p.spec) for p in points)
    started = time.time()
    t0 = time.perf_counter()
    runs = [p.spec for p in points if isinstance(p.spec, RunSpec)]  # a multilevel run sizes its own rounds
    todo = [p.spec for p in points if isinstance(p.spec, RunSpec) and p.index not in done_before]
    backend = make_backend(execution, todo or runs[:1])
    results = []
    done = 0
    reused = 0
    try:
        for point in points:
            if point.index in done_before:
                pr = done_before[point.index]
                done += _size(point.spec)
                if progress is not None:
                    progress(done, total)
            elif isinstance(point.spec, MultilevelSpec):  # the whole algorithm, its levels on the shared backend
                result: Result | MLMCResult = run_mlmc(
                    point.spec, execution=Execution(backend, retries=execution.retries)
                )
                done += 1
                if progress is not None:
                    progress(done, total)
                pr = _finished(point, result, record)
            else:
                report: Callable[[int, int], None] | bool = False  # no bar of its own: the experiment's shows all
                if progress is not None:
                    offset = done

                    def moved(d: int, _t: int, offset: int = offset) -> None:
                        progress(offset + d, total)

                    report = moved
                result = run_spec(
                    point.spec,
                    exp.model,
                    execution=Execution(backend, retries=execution.retries, progress=report, cache=execution.cache),
                )
                reused += result.provenance.get("cache") == "reused"
                done += _size(point.spec)
                pr = _finished(point, result, record)
            results.append(pr)
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
    if record is not None:
        prov["resumed"] = len(done_before)
    return ExperimentResult(
        analysis=exp.analysis,
        name=exp.name,
        description=exp.description,
        model=points[0].spec.model,
        points=tuple(results),
        sweep=exp.sweep.to_dict() if exp.sweep else None,
        config={"path": exp.path, "sha256": exp.sha256, "text": exp.text},
        overrides=exp.overrides,
        git=git_state(exp.path),
        provenance=prov,
    )
