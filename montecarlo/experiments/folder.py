"""Result folders: ``DIR/<experiment>/<UTC timestamp>-<config hash>/``, all or nothing.

The folder is assembled under a hidden temporary name inside ``DIR`` and
renamed into place only when every file is written and synced, so a failure
or Ctrl-C never leaves a half-written result folder behind (a rename within
one file system is atomic). A sweep in progress records its finished points
in an unfinished folder beside the result folders
(`montecarlo.experiments.record`), which becomes the result folder at the end.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime

from montecarlo.errors import NO_SPACE, ExperimentError, NoSpaceError
from montecarlo.records.experiment_result import ExperimentResult
from montecarlo.records.files import umask
from montecarlo.records.result import Result
from montecarlo.reports.experiment_analyses import estimates

RESULT_FILE = "result.json"
SWEEP_FILE = "sweep.csv"


def folder_stamp(t: float) -> str:
    """A POSIX time as a compact UTC timestamp for folder names (sorts by time)."""
    return datetime.fromtimestamp(t, UTC).strftime("%Y%m%dT%H%M%SZ")


def check_output_dir(path: str) -> None:
    """Fail before anything runs when ``path`` cannot hold result folders.

    The nearest existing ancestor must be a directory in which a folder can
    actually be created (a probe: permission bits say little for root, or on
    read-only mounts).
    """
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if not os.path.isdir(probe):
        raise ExperimentError(
            f"--output-dir {path!r}: {probe!r} is not a directory; accepted: a writable directory (created if missing)."
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".mc-probe-", dir=probe))
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise NoSpaceError(f"--output-dir {path!r}: {exc.strerror} (the disk or quota is full)") from None
        raise ExperimentError(
            f"--output-dir {path!r}: cannot write in {probe!r} ({exc.strerror}); accepted: a writable directory."
        ) from None


def sweep_csv(res: ExperimentResult) -> str:
    """The sweep as CSV, one row per point, numbers in full precision.

    Columns: the swept parameters, then per output the estimate, standard
    error, interval bounds and exact value. For an analysis: its estimates
    (a sensitivity analysis's indices; a multilevel run's ``value``, whose
    ``samples`` are those of every level).
    """
    params = list(res.points[0].swept)
    per_point = [{e.name: e for e in estimates(res, p)} for p in res.points]
    outputs = list(per_point[0])  # outputs, then derived
    header = ["point", *params, "samples"]
    for o in outputs:
        header += [o, f"{o}_se", f"{o}_low", f"{o}_high", f"{o}_exact"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for p, by_name in zip(res.points, per_point, strict=True):
        n = p.result.samples if isinstance(p.result, Result) else sum(p.result.samples)
        row = [p.index, *(p.swept[k] for k in params), n]
        for o in outputs:
            e = by_name[o]
            row += [repr(e.estimate), repr(e.standard_error), repr(e.interval[0]), repr(e.interval[1])]
            row.append("" if e.exact is None else repr(e.exact))
        w.writerow(row)
    return buf.getvalue()


def _write(folder: str, name: str, text: str) -> None:
    with open(os.path.join(folder, name), "w", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def leaf(res: ExperimentResult) -> str:
    """``<UTC start time>-<first 8 hex digits of the config's sha256>``."""
    started = datetime.fromisoformat(res.provenance["started"]).timestamp()
    return f"{folder_stamp(started)}-{res.config['sha256'][:8]}"


def result_files(res: ExperimentResult) -> Iterator[tuple[str, str]]:
    """The files of a result folder, by name: ``result.json``, the config copy, ``sweep.csv`` for sweeps."""
    yield RESULT_FILE, res.to_json() + "\n"
    yield os.path.basename(res.config["path"]) or "config.toml", res.config["text"]
    if res.sweep is not None:
        yield SWEEP_FILE, sweep_csv(res)


def write_folder(res: ExperimentResult, output_dir: str) -> str:
    """Write a new result folder; return its path.

    It holds ``result.json``, the config copy and (for sweeps) ``sweep.csv``.
    """
    final_name = leaf(res)
    created = []  # folders this call made, removed again if it fails
    head = os.path.abspath(output_dir)
    while not os.path.isdir(head):
        created.append(head)
        head = os.path.dirname(head)
    parent = os.path.join(output_dir, res.name)
    tmp = None
    try:
        os.makedirs(output_dir, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{res.name}-", suffix=".partial", dir=output_dir)
        os.chmod(tmp, 0o777 & ~umask())  # as a plain mkdir would make it: readable by collaborators
        for name, text in result_files(res):
            _write(tmp, name, text)
        if not os.path.isdir(parent):
            os.makedirs(parent)
            created.append(os.path.abspath(parent))
        final = rename_unique(tmp, os.path.join(parent, final_name))
        tmp = None
        return final
    except BaseException:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        for folder in sorted(created, key=len, reverse=True):
            try:
                os.rmdir(folder)  # only if still empty
            except OSError:
                pass
        raise


def rename_unique(src: str, dest: str) -> str:
    """Rename ``src`` to ``dest``, or ``dest-2``, ``dest-3`` … when taken.

    Two runs of one config can end within a second.
    """
    for n in range(1, 1000):
        target = dest if n == 1 else f"{dest}-{n}"
        if os.path.exists(target):
            continue
        try:
            os.rename(src, target)
        except OSError:
            if os.path.exists(target):  # lost a race to another run
                continue
            raise
        return target
    raise ExperimentError(f"too many result folders named {dest!r}")
