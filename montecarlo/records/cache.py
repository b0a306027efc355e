"""A cache of finished runs: equal RunSpecs give bit-identical numbers, so a finished run is reused.

An entry is the result JSON of one run, stored under a key of everything
that could change a number: the RunSpec's digest, the model's fingerprint
(its code, closures, defaults, the globals it reads and its module's source:
`montecarlo.models.fingerprint`), the engine's arithmetic, and the versions
of montecarlo, numpy and scipy. An edited
model, a changed parameter or another version is a different key, so it is
computed again. Entries are written atomically and carry the sha256 of their
result; an entry that does not verify is ignored (and replaced by the next
run), never trusted. Reading an entry never imports code.

The cache lives in ``$MONTECARLO_CACHE``, else ``$XDG_CACHE_HOME/montecarlo``,
else ``~/.cache/montecarlo``. Each entry is one result (5 to 100 kB, the
convergence trace included); the oldest entries are removed once the cache
passes ``$MONTECARLO_CACHE_MB`` megabytes (default 500).

The cache touches only what it wrote: a folder it marked, entries it named
(`montecarlo.records.cachedir`); a folder that holds other files and no
marker is refused (`montecarlo.errors.InputError`), never written to. A
write costs O(1) amortised: the folder is measured once, then the size kept
up to date, and pruned when it passes the limit.

A cache that cannot be read or written (a read-only file system, a path
that names a file) never costs a result: the run is computed and returned
as without the cache, and a `montecarlo.errors.MonteCarloWarning` says so,
once per folder and process, before the first run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import stat
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from montecarlo._version import __version__
from montecarlo.core.spec import RunSpec
from montecarlo.errors import InputError, MonteCarloWarning
from montecarlo.records import cachedir
from montecarlo.records.cachedir import ENTRY_TEMP, MARKER
from montecarlo.records.files import read_json
from montecarlo.records.provenance import version_of
from montecarlo.records.result import Result
from montecarlo.stats.sums import ARITHMETIC

SCHEMA = "montecarlo.cache"
DEFAULT_MB = 500
#: The environment variables that place and size the cache.
FOLDER_VARIABLE = "MONTECARLO_CACHE"
SIZE_VARIABLE = "MONTECARLO_CACHE_MB"

#: A pruning leaves the cache at this fraction of its limit, so that the next one waits for new entries.
LOW_WATER = 0.9
#: Leftover temporary files older than this (seconds) are removed by `Cache.clear`.
STALE_TEMP_S = 3600.0


def default_folder() -> Path:
    """Where the cache lives (see the module's documentation)."""
    if os.environ.get(FOLDER_VARIABLE):
        return Path(os.environ[FOLDER_VARIABLE])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "montecarlo"


def size_limit_mb(value: float | str | None = None) -> float:
    """The cache's size limit in megabytes: ``value``, else ``$MONTECARLO_CACHE_MB``, else 500.

    Raises
    ------
    InputError
        (a `ValidationError`) for anything but a finite number > 0, naming
        the variable (or ``max_mb``), the value and what is accepted.
    """
    accepted = f"a finite number of megabytes > 0, such as {DEFAULT_MB} (the default)"
    if value is None:
        text = os.environ.get(SIZE_VARIABLE)
        if text is None or not text.strip():
            return float(DEFAULT_MB)
        try:
            mb = float(text)
        except ValueError:
            mb = math.nan
        if not (math.isfinite(mb) and mb > 0):
            raise InputError(
                f"the environment variable {SIZE_VARIABLE}={text!r} is not a cache size; accepted: {accepted}.",
                SIZE_VARIABLE,
            )
        return mb
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise InputError(f"`max_mb` = {value!r} is not a cache size; accepted: {accepted}.", "max_mb")
    return float(value)


def key(spec: RunSpec, fingerprint: dict) -> str | None:
    """The cache key of a run, or None when the run cannot be cached.

    A run is cached when its entropy is known and its model's fingerprint
    sees every value the model reads (`montecarlo.models.fingerprint`: a
    value that cannot be pickled is seen only by its text, which may not
    change when the value does).
    """
    if spec.entropy is None or not fingerprint.get("complete", False):
        return None
    parts = {
        "arithmetic": ARITHMETIC,
        "spec": spec.digest(),
        "model": fingerprint["digest"],
        "montecarlo": __version__,
        "numpy": version_of("numpy"),
        "scipy": version_of("scipy"),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class CacheInfo:
    """What ``mc cache info`` prints."""

    folder: Path
    entries: int
    bytes: int


# What this process knows of each cache folder (by absolute path): the
# estimated size of its entries (measured at the first write, kept up to date
# by this process's writes) and the writes since the last measure, whether it
# has warned about it, and whether it has tried to write in it.
_USAGE: dict[str, list[int]] = {}  # folder -> [estimated bytes, writes since measured, entries when measured]
_WARNED: set[str] = set()
_PROBED: set[str] = set()


class Cache:
    """The cache in ``folder`` (default: `default_folder`).

    Parameters
    ----------
    folder : str or Path, optional
        Where entries are stored: a folder montecarlo made its cache (it
        holds ``CACHEDIR.TAG``), an empty one, or one that does not exist yet.
    max_mb : float, optional
        Size above which the oldest entries are removed after a write
        (default: ``$MONTECARLO_CACHE_MB`` or 500).

    Raises
    ------
    InputError
        (a `ValidationError`) when ``folder`` is a folder that holds other
        files and no marker, or the size limit is not a number > 0: checked
        when the cache is made, before anything runs.
    """

    def __init__(self, folder: str | os.PathLike | None = None, max_mb: float | None = None) -> None:
        self.origin = f"${FOLDER_VARIABLE}" if folder is None and os.environ.get(FOLDER_VARIABLE) else ""
        self.folder = Path(folder) if folder is not None else default_folder()
        self.max_bytes = int(size_limit_mb(max_mb) * 2**20)
        self._id = os.path.abspath(self.folder)
        self._check()

    # -- what the folder is ---------------------------------------------------

    def _kind(self) -> str:
        return cachedir.kind(self._id)

    def _check(self) -> None:
        """Refuse a folder that is not a cache (it holds other files and no marker)."""
        if self._kind() == "foreign":
            raise self._refusal()

    def _refusal(self) -> InputError:
        where = f" ({self.origin})" if self.origin else ""
        marker = os.path.join(self._id, MARKER)
        why = (
            f"its {MARKER} was written by another program"
            if os.path.lexists(marker)
            else f"it holds other files and no {MARKER}"
        )
        return InputError(
            f"the cache folder {str(self.folder)!r}{where} is not a montecarlo cache: {why}, and the cache never "
            "writes or removes files it did not make; accepted: an empty or new folder, or a folder montecarlo "
            f"made its cache (it holds {MARKER}).",
            "cache",
        )

    def _usable(self, action: str) -> bool:
        """Whether entries can be read or written here: a folder that is a cache, or none yet (else a warning)."""
        kind = self._kind()
        if kind == "foreign":  # refused when the cache was made: files were added since
            self._warn(action, "it is not a montecarlo cache")
        elif kind == "unusable":
            self._warn(action, "it is not a folder" if os.path.lexists(self._id) else "it cannot be looked at")
        return kind not in ("foreign", "unusable")

    def _warn(self, action: str, reason: str) -> None:
        """Say once per folder and process that the cache cannot be used (the run goes on without it)."""
        if self._id in _WARNED:
            return
        _WARNED.add(self._id)
        what = "use" if action == "read" else "store runs in"
        warnings.warn(
            MonteCarloWarning(
                f"cannot {what} the cache {str(self.folder)!r} ({reason}): runs are computed as without the "
                f"cache and not stored; point ${FOLDER_VARIABLE} at a writable folder, or run without the cache."
            ),
            stacklevel=3,
        )

    def _path(self, k: str) -> Path:
        return self.folder / k[:2] / f"{k}.json"

    # -- reading and writing ------------------------------------------------

    def _probe(self) -> None:
        """Once per folder and process, before the first run: warn now if runs cannot be stored here."""
        if self._id not in _PROBED:
            _PROBED.add(self._id)
            reason = cachedir.probe(self._id)
            if reason is not None:
                self._warn("write", reason)

    def get(self, spec: RunSpec, fingerprint: dict) -> Result | None:
        """The stored result of ``spec`` with a model of this ``fingerprint``, or None (a miss)."""
        k = key(spec, fingerprint)
        if k is None or not self._usable("read"):
            return None
        self._probe()
        path = self._path(k)
        try:
            mode = os.lstat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            self._warn("read", exc.strerror or str(exc))
            return None
        if not stat.S_ISREG(mode):
            return None  # not an entry this cache wrote: left alone
        try:
            entry = read_json(path)  # a FileProblem (a ValueError) for anything but a small regular file
            text = entry["result"]
            if entry.get("schema") != SCHEMA or entry.get("key") != k:
                raise ValueError("not an entry of this key")
            if hashlib.sha256(text.encode("utf-8")).hexdigest() != entry.get("sha256"):
                raise ValueError("checksum mismatch")
            result = Result.from_json(text)
            if result.spec != spec or result.arithmetic != ARITHMETIC or result.fingerprint != fingerprint:
                raise ValueError("another RunSpec, arithmetic or model")
        except (OSError, ValueError, KeyError, TypeError):
            self._discard(path)  # never trusted; the next run replaces it
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last (a read-only cache keeps its times)
        return result

    def put(self, result: Result) -> bool:
        """Store ``result``; False when it cannot be cached (`key`) or the cache cannot be written (a warning)."""
        k = key(result.spec, result.fingerprint)
        if k is None or not self._usable("write"):
            return False
        text = result.to_json(indent=None)
        entry = {"schema": SCHEMA, "key": k, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "result": text}
        data = (json.dumps(entry) + "\n").encode("utf-8")
        path = self._path(k)
        try:
            cachedir.mark(self._id)
            path.parent.mkdir(exist_ok=True)
            try:
                replaced = os.lstat(path).st_size
            except FileNotFoundError:
                replaced = 0
            cachedir.write_entry(str(path), data)
            self._account(len(data) - replaced)
        except OSError as exc:
            self._warn("write", exc.strerror or str(exc))
            return False
        return True

    def _account(self, added: int) -> None:
        """Keep the estimated size up to date; prune when it passes the limit.

        The folder is measured at this process's first write, after each
        pruning, and again once it has written as many entries as the folder
        held when last measured (entries that other processes add): a write
        costs O(1) amortised, however large the cache.
        """
        usage = _USAGE.get(self._id)
        if usage is None:
            usage = _USAGE[self._id] = self._measure()
        else:
            usage[0] += added
            usage[1] += 1
            if usage[1] >= max(1000, usage[2]):
                usage[:] = self._measure()
        if usage[0] > self.max_bytes:
            usage[:] = self._prune()

    def _measure(self) -> list[int]:
        sizes = [size for _, size, _ in self._stats()]
        return [sum(sizes), 0, len(sizes)]

    def _stats(self) -> list[tuple[float, int, str]]:
        """``(modified, size, path)`` of every entry."""
        out = []
        for path in cachedir.entries(self._id):
            try:
                info = os.lstat(path)
            except OSError:
                continue
            out.append((info.st_mtime, info.st_size, path))
        return out

    def _discard(self, path: str | os.PathLike) -> None:
        with contextlib.suppress(OSError):
            os.unlink(path)

    def _prune(self) -> list[int]:
        """Remove the oldest entries until the cache is at `LOW_WATER` of its limit; the new measure."""
        stats = sorted(self._stats())
        total = sum(size for _, size, _ in stats)
        left = len(stats)
        for _, size, p in stats:
            if total <= self.max_bytes * LOW_WATER:
                break
            self._discard(p)
            total -= size
            left -= 1
        return [total, 0, left]

    def _listed(self) -> bool:
        """Whether there is a cache to list: a folder that is one (True), or none yet (False); else an error."""
        kind = self._kind()
        if kind == "foreign":
            raise self._refusal()
        if kind == "unusable":
            reason = "is not a folder" if os.path.lexists(self._id) else "cannot be looked at"
            raise InputError(
                f"the cache folder {str(self.folder)!r} {reason}; accepted: a folder (${FOLDER_VARIABLE}).", "cache"
            )
        return kind != "missing"

    def info(self) -> CacheInfo:
        """Entries and their size."""
        if not self._listed():
            return CacheInfo(self.folder, 0, 0)
        stats = self._stats()
        _USAGE[self._id] = [sum(s for _, s, _ in stats), 0, len(stats)]
        return CacheInfo(self.folder, len(stats), sum(size for _, size, _ in stats))

    def clear(self) -> int:
        """Remove every entry; returns how many there were (nothing else in the folder is touched)."""
        if not self._listed():
            return 0
        entries = cachedir.entries(self._id, temps=True)
        now = time.time()
        removed = 0
        for p in entries:
            if ENTRY_TEMP.match(os.path.basename(p)):
                with contextlib.suppress(OSError):
                    if now - os.lstat(p).st_mtime > STALE_TEMP_S:  # a write in progress elsewhere is left alone
                        os.unlink(p)
                continue
            self._discard(p)
            removed += 1
        for shard in {os.path.dirname(p) for p in entries}:
            with contextlib.suppress(OSError):
                os.rmdir(shard)  # only if empty
        _USAGE[self._id] = self._measure()
        return removed
