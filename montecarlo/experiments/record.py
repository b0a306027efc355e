"""The record of a sweep in progress: each finished point appended to its unfinished folder, and taken back.

While an experiment runs with an output folder, its finished points go to
``DIR/<experiment>/<UTC timestamp>-<config hash>.partial/points.jsonl``, one
sealed line per point (`PointRecord`): a killed sweep keeps what it
finished, and the same command run again takes those points back -- each
line checked against the point's RunSpec digest and the model's
fingerprint, a torn last line dropped -- and computes only the others. When
every point is done, the result files are written into that folder, the
record is removed and the folder renamed to its final name (the result
folder of `montecarlo.experiments.folder`). A run that ends within
`FIRST_RECORD_S` makes no unfinished folder unless it fails after finishing
a point. The format is in docs/json.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time

from montecarlo.errors import ExperimentError, FileProblem
from montecarlo.estimation.estimate import jsonable
from montecarlo.experiments import folder as folders
from montecarlo.experiments.config import Experiment, Point
from montecarlo.experiments.tables import checks
from montecarlo.records.experiment_result import ExperimentResult, PointResult
from montecarlo.records.integrity import FIELD, PREFIX, parse_sealed

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


#: The note an `OSError` carries when it was raised writing the result folder or its record.
WRITING = "raised while writing the result folder"
#: The record of finished points in an unfinished folder.
POINTS_FILE = "points.jsonl"
#: The suffix of an unfinished folder.
PARTIAL = ".partial"
#: JSON document type and version of the record's first line.
POINTS_SCHEMA = "montecarlo.points"
POINTS_VERSION = 1
#: A run that ends sooner than this (seconds) makes no unfinished folder: computing it again costs less.
FIRST_RECORD_S = 1.0
#: Seconds between fsyncs of the record (every line reaches the kernel at once, which a killed process cannot undo).
SYNC_EVERY_S = 1.0


def plan_of(exp: Experiment, fp: dict) -> str:
    """The plan a record must have been made for to be resumed.

    The experiment's name, its model's fingerprint and every point's RunSpec
    without its entropy (a run without a seed takes the recorded one).
    """
    specs = [{**p.spec.to_dict(), "entropy": None} for p in exp.points]
    text = json.dumps([exp.name, fp.get("digest"), specs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _line(d: dict) -> bytes:
    """``d`` sealed (`montecarlo.records.integrity`) on one line: its canonical JSON, then its checksum.

    The canonical form is the one the checksum is taken of, so one
    serialization serves both (a record of 10,000 points is written as they
    finish). Non-finite numbers are written as null, as in every file.
    """
    try:
        text = json.dumps(d, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError):
        text = json.dumps(jsonable(d), sort_keys=True, separators=(",", ":"), allow_nan=False)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f'{text[:-1]},"{FIELD}":"{PREFIX}{digest}"}}\n'.encode()


def _parse(line: bytes) -> dict | None:
    """A sealed line of the record, or None (torn, edited or not JSON)."""
    try:
        d = parse_sealed(line.decode("utf-8"))
    except (UnicodeDecodeError, FileProblem):
        return None
    return d if isinstance(d, dict) and d.get("checksum") else None


def _lock(fd: int) -> bool:
    """Take the record's lock (held while a run appends to it); False when another live run holds it."""
    if fcntl is None:  # pragma: no cover - Windows
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


class PointRecord:
    """The finished points of one experiment run, in ``DIR/<name>/<stamp>-<hash>.partial/points.jsonl``.

    Made by `PointRecord.open`, which takes back the points of an unfinished
    folder of the same plan (`plan_of`), if there is one. Attributes:
    ``points`` (the experiment's points: with the recorded entropy when the
    experiment has no seed of its own and resumes), ``done`` (the points
    taken back, by index), ``path`` (the unfinished folder, or None until one
    is made).
    """

    def __init__(self, exp: Experiment, output_dir: str, fp: dict) -> None:
        self.exp = exp
        self.output_dir = output_dir
        self.fp = fp
        self.plan = plan_of(exp, fp)
        self.points: tuple[Point, ...] = exp.points
        self.done: dict[int, PointResult] = {}
        self.path: str | None = None
        self._fd: int | None = None
        self._pending: list[bytes] = []
        self._t0 = time.monotonic()
        self._synced = self._t0
        self._digests: list[str] = []
        #: Points this run recorded (pending or written).
        self.recorded = 0
        #: Whether points are recorded (`open`).
        self.enabled = True

    @classmethod
    def open(cls, exp: Experiment, output_dir: str, fp: dict) -> PointRecord:
        """The record of a run of ``exp`` into ``output_dir``: an unfinished folder of the same plan is resumed.

        Of several, the one holding the most points is taken; one that
        another live run is appending to is left to it. Nothing is made
        until a point has finished (`add`).
        """
        rec = cls(exp, output_dir, fp)
        # A model whose fingerprint cannot see every value it reads (one that cannot be pickled) is
        # never resumed, so its points are not recorded: the result folder is written at the end.
        # (Nor are they when the config's copy would take the record's name.)
        rec.enabled = bool(fp.get("complete", False)) and os.path.basename(exp.path) != POINTS_FILE
        if rec.enabled:
            rec._resume()
            rec._digests = [p.spec.digest() for p in rec.points]
        return rec

    # -- taking back an unfinished folder ------------------------------------

    def _resume(self) -> None:
        parent = os.path.join(self.output_dir, self.exp.name)
        try:
            names = sorted(n for n in os.listdir(parent) if n.endswith(PARTIAL))
        except OSError:
            return
        best: tuple[int, str, int, tuple[Point, ...], dict[int, PointResult]] | None = None
        for name in names:
            folder = os.path.join(parent, name)
            found = self._read(folder)
            if found is None:
                continue
            fd, points, done = found
            if best is None or len(done) > len(best[4]):
                if best is not None:
                    os.close(best[2])
                best = (len(done), folder, fd, points, done)
            else:
                os.close(fd)
        if best is not None:
            _, self.path, self._fd, self.points, self.done = best

    def _read(self, folder: str) -> tuple[int, tuple[Point, ...], dict[int, PointResult]] | None:
        """The locked record of ``folder``, its points and the finished ones, when it was made for this plan."""
        path = os.path.join(folder, POINTS_FILE)
        if os.path.islink(folder) or os.path.islink(path) or not os.path.isfile(path):
            return None
        try:
            with open(path, "rb") as f:
                header = _parse(f.readline(1 << 20))
        except OSError:
            return None
        if header is None or header.get("schema") != POINTS_SCHEMA or header.get("version") != POINTS_VERSION:
            return None
        entropy = header.get("entropy")
        if header.get("plan") != self.plan or not isinstance(entropy, int) or isinstance(entropy, bool):
            return None
        if not self.exp.fresh_seed and entropy != self.exp.points[0].spec.entropy:
            return None  # another seed: other numbers
        try:
            fd = os.open(path, os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        if not _lock(fd):
            os.close(fd)
            return None
        try:
            points = tuple(
                dataclasses.replace(p, spec=dataclasses.replace(p.spec, entropy=entropy)) for p in self.exp.points
            )
            done = self._finished(fd, points)
        except (OSError, MemoryError):
            os.close(fd)
            return None
        return fd, points, done

    def _finished(self, fd: int, points: tuple[Point, ...]) -> dict[int, PointResult]:
        """The points of the record that check out; a torn last line is cut off (the next line follows a newline)."""
        data = b""
        while chunk := os.pread(fd, 1 << 24, len(data)):
            data += chunk
        end = data.rfind(b"\n") + 1
        if end < len(data):
            os.ftruncate(fd, end)  # killed half-way through a line: it goes
        digests = [p.spec.digest() for p in points]
        done: dict[int, PointResult] = {}
        for raw in data[:end].split(b"\n")[1:-1]:
            d = _parse(raw)
            if d is None:
                continue
            try:
                i = d["index"]
                if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < len(points) or i in done:
                    continue
                if d.get("spec") != digests[i] or d.get("model") != self.fp["digest"]:
                    continue  # another RunSpec or another model: computed again
                pr = PointResult.from_dict(d["point"])
                if pr.result.spec != points[i].spec or pr.result.fingerprint.get("digest") != self.fp["digest"]:
                    continue
            except (KeyError, TypeError, ValueError, AttributeError, RecursionError):
                continue
            point = points[i]
            outcome = checks(point.expect, pr.result)  # the file's [expect], as it is now
            result = dataclasses.replace(pr.result, provenance={**pr.result.provenance, "folder": "resumed"})
            done[i] = PointResult(i, point.swept, result, outcome)
        return done

    # -- appending -------------------------------------------------------------

    def add(self, point: PointResult) -> None:
        """Record a finished point (the unfinished folder is made once the run has lasted `FIRST_RECORD_S`)."""
        if not self.enabled:
            return
        line = _line(
            {"index": point.index, "spec": self._digests[point.index], "model": self.fp.get("digest"),
             "point": point.to_dict()}
        )  # fmt: skip
        if self._fd is None:
            self._pending.append(line)
            self.recorded += 1
            if time.monotonic() - self._t0 >= FIRST_RECORD_S:
                self._make()
            return
        _write_all(self._fd, line)
        self.recorded += 1
        now = time.monotonic()
        if now - self._synced >= SYNC_EVERY_S:
            os.fsync(self._fd)
            self._synced = now

    def _make(self) -> None:
        """Make the unfinished folder, with the record's header and the points finished so far."""
        parent = os.path.join(self.output_dir, self.exp.name)
        os.makedirs(parent, exist_ok=True)
        leaf = f"{folders.folder_stamp(time.time())}-{self.exp.sha256[:8]}"
        for n in range(1, 1000):
            folder = os.path.join(parent, f"{leaf}{'' if n == 1 else f'-{n}'}{PARTIAL}")
            try:
                os.mkdir(folder)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover
            raise ExperimentError(f"too many unfinished folders named {leaf!r} in {parent!r}")
        path = os.path.join(folder, POINTS_FILE)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0), 0o666)
        _lock(fd)
        header = {
            "schema": POINTS_SCHEMA, "version": POINTS_VERSION, "name": self.exp.name, "plan": self.plan,
            "entropy": self.points[0].spec.entropy, "points": len(self.points),
            "model_fingerprint": self.fp.get("digest"), "config_sha256": self.exp.sha256,
        }  # fmt: skip
        _write_all(fd, _line(header) + b"".join(self._pending))
        self._pending = []
        os.fsync(fd)
        _sync_folder(folder)
        self.path, self._fd = folder, fd
        self._synced = time.monotonic()

    def keep(self) -> str | None:
        """After a failure: make sure the points finished so far are on disk; the unfinished folder, if any."""
        try:
            if self._fd is None and self._pending:
                self._make()
            if self._fd is not None:
                os.fsync(self._fd)
        except OSError:
            pass
        self.close()
        return self.path

    def close(self) -> None:
        """Release the record (its lock goes with the descriptor)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def finish(self, res: ExperimentResult) -> str:
        """Write the result folder; return its path.

        Without an unfinished folder this is `write_folder`. With one, the
        result files are written into it, it is renamed to its final name and
        the record removed; if that fails, the files written are removed and
        the record stays, to be resumed.
        """
        if self.path is None:
            self.close()
            return folders.write_folder(res, self.output_dir)
        written = []
        try:
            if self._fd is not None:
                os.fsync(self._fd)
            for name, text in folders.result_files(res):
                folders._write(self.path, name, text)
                written.append(name)
            final = folders.rename_unique(self.path, os.path.join(os.path.dirname(self.path), folders.leaf(res)))
        except BaseException:
            for name in written:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(self.path, name))
            self.close()
            raise
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(final, POINTS_FILE))  # result.json holds every point now
        self.close()
        _sync_folder(os.path.dirname(final))
        self.path = None
        return final


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync_folder(folder: str) -> None:
    """Make the entries of ``folder`` (a new file, a rename) durable."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - some filesystems refuse directory fsync
        pass
