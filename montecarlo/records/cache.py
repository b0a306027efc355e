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
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from montecarlo._version import __version__
from montecarlo.core.spec import RunSpec
from montecarlo.records.files import read_json, write_atomic
from montecarlo.records.provenance import version_of
from montecarlo.records.result import Result
from montecarlo.stats.sums import ARITHMETIC

SCHEMA = "montecarlo.cache"
DEFAULT_MB = 500


def default_folder() -> Path:
    """Where the cache lives (see the module's documentation)."""
    if os.environ.get("MONTECARLO_CACHE"):
        return Path(os.environ["MONTECARLO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "montecarlo"


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


class Cache:
    """The cache in ``folder`` (default: `default_folder`).

    Parameters
    ----------
    folder : str or Path, optional
        Where entries are stored.
    max_mb : float, optional
        Size above which the oldest entries are removed after a write
        (default: ``$MONTECARLO_CACHE_MB`` or 500).
    """

    def __init__(self, folder: str | os.PathLike | None = None, max_mb: float | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_folder()
        self.max_bytes = int(
            (max_mb if max_mb is not None else float(os.environ.get("MONTECARLO_CACHE_MB", DEFAULT_MB))) * 2**20
        )

    def _path(self, k: str) -> Path:
        return self.folder / k[:2] / f"{k}.json"

    def get(self, spec: RunSpec, fingerprint: dict) -> Result | None:
        """The stored result of ``spec`` with a model of this ``fingerprint``, or None (a miss)."""
        k = key(spec, fingerprint)
        if k is None:
            return None
        path = self._path(k)
        if not path.exists():
            return None
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
        os.utime(path)  # recently used: pruned last
        return result

    def put(self, result: Result) -> bool:
        """Store ``result``; False when it cannot be cached (`key`: nothing stored)."""
        k = key(result.spec, result.fingerprint)
        if k is None:
            return False
        text = result.to_json(indent=None)
        entry = {"schema": SCHEMA, "key": k, "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(), "result": text}
        path = self._path(k)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(entry) + "\n")
        self._prune()
        return True

    def _entries(self) -> list[Path]:
        return sorted(self.folder.glob("??/*.json")) if self.folder.is_dir() else []

    def _discard(self, path: Path) -> None:
        try:
            path.unlink()
        except OSError:
            pass

    def _prune(self) -> None:
        stats = []
        for p in self._entries():
            try:
                stats.append((p.stat().st_mtime, p.stat().st_size, p))
            except OSError:
                continue
        total = sum(size for _, size, _ in stats)
        for _, size, p in sorted(stats):
            if total <= self.max_bytes:
                break
            self._discard(p)
            total -= size

    def info(self) -> CacheInfo:
        """Entries and their size."""
        sizes = []
        for p in self._entries():
            try:
                sizes.append(p.stat().st_size)
            except OSError:
                continue
        return CacheInfo(self.folder, len(sizes), sum(sizes))

    def clear(self) -> int:
        """Remove every entry; returns how many there were."""
        entries = self._entries()
        for p in entries:
            self._discard(p)
        return len(entries)
