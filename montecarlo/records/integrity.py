"""Integrity of the files read back: a checksum of the whole content, and numbers that make sense.

Checkpoints and result files carry ``"checksum": "sha256:..."``, the sha256
of their canonical JSON form (keys sorted, no spaces) without that key: a
file edited by hand, or damaged, no longer matches, and is refused before
any of it is used. The checksum guards against accidents, not against
forgery: whoever edits a file can recompute it, so the numbers are also
checked for consistency (counts of the blocks they claim, finite values,
indices in range). Result files written before checksums were added carry
none and are read with those checks alone.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from montecarlo.errors import FileProblem, ResultFormatError
from montecarlo.records.files import parse_json, read_text, write_atomic

#: The key holding the checksum.
FIELD = "checksum"
PREFIX = "sha256:"


def checksum(d: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of the canonical JSON of ``d`` without its checksum key."""
    body = {k: v for k, v in d.items() if k != FIELD}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()


def sealed(d: Mapping[str, Any]) -> dict:
    """``d`` with its checksum added (as the last key)."""
    out = {k: v for k, v in d.items() if k != FIELD}
    out[FIELD] = checksum(out)
    return out


def verify(d: Mapping[str, Any], required: bool) -> None:
    """Check the checksum of ``d`` (a missing one is refused when ``required``).

    Raises
    ------
    FileProblem
        When the checksum is missing (and required), malformed, or does not
        match the content.
    """
    given = d.get(FIELD)
    if given is None:
        if required:
            raise FileProblem('has no "checksum" field')
        return
    if not isinstance(given, str) or not given.startswith(PREFIX):
        raise FileProblem(f'has a "checksum" that is not "{PREFIX}..."')
    if given != checksum(d):
        raise FileProblem("does not match its checksum: it was edited or damaged since it was written")


def parse_sealed(text: str) -> Any:
    """The strict JSON value of ``text``, its checksum checked when it carries one (a `FileProblem` if not)."""
    d = parse_json(text)
    if isinstance(d, Mapping):
        verify(d, required=False)
    return d


class SealedRecord:
    """`to_json`, `from_json`, `load` and `save` of a record written as sealed JSON, from its ``to_dict`` and ``from_dict``.

    ``KIND`` names the record in the message of a file that cannot be used.
    """

    KIND: ClassVar[str] = "record"

    def to_dict(self) -> dict:
        """The record's JSON form (without its checksum)."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Self:
        """The record back from its ``to_dict`` form."""
        raise NotImplementedError

    def to_json(self, indent: int | None = 2) -> str:
        """The JSON form as text, with its checksum (strict JSON; docs/json.md)."""
        return json.dumps(sealed(self.to_dict()), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """The record back from its JSON text (its checksum, when it has one, must match)."""
        try:
            d = parse_sealed(text)
        except FileProblem as exc:
            raise ResultFormatError(f"not a usable {cls.KIND}: it {exc}") from None
        return cls.from_dict(d)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Self:
        """Read the record's file (written by `save`): a regular file, of a bounded size."""
        try:
            return cls.from_json(read_text(os.fspath(path)))
        except FileProblem as exc:
            raise ResultFormatError(f"it {exc}") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the JSON form atomically (a crash never leaves half a file)."""
        write_atomic(os.fspath(path), self.to_json() + "\n")


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def count(value: Any, what: str) -> int:
    """A count in a file: an integer >= 0 (not a bool, not a float)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FileProblem(f"has {what} = {value!r}, which is not an integer >= 0")
    return value


def check_stats(d: Any, what: str) -> int:
    """Check the JSON form of block statistics; return their sample count.

    ``count`` an integer >= 0, ``mean`` a list of ``k`` finite numbers,
    ``comoment`` a ``k`` by ``k`` list of finite numbers with a diagonal
    >= 0 (sums of squared deviations), and no numbers from no samples.
    """
    if not isinstance(d, Mapping):
        raise FileProblem(f"has {what} that is not an object")
    n = count(d.get("count"), f"{what}.count")
    mean, comoment = d.get("mean"), d.get("comoment")
    if not isinstance(mean, list) or not mean or not all(_number(x) for x in mean):
        raise FileProblem(f"has {what}.mean that is not a list of finite numbers")
    k = len(mean)
    if (
        not isinstance(comoment, list)
        or len(comoment) != k
        or not all(isinstance(row, list) and len(row) == k and all(_number(x) for x in row) for row in comoment)
    ):
        raise FileProblem(f"has {what}.comoment that is not a {k} x {k} list of finite numbers")
    if any(comoment[i][i] < 0 for i in range(k)):
        raise FileProblem(f"has {what}.comoment with a negative sum of squares")
    if n == 0 and (any(mean) or any(any(row) for row in comoment)):
        raise FileProblem(f"has {what} with numbers but no samples")
    if n == 1 and any(any(row) for row in comoment):
        raise FileProblem(f"has {what} with deviations from one sample")
    return n


def check_record(d: Mapping[str, Any]) -> None:
    """Check that the numbers of a result's JSON form agree with each other.

    The sample count is the accumulator's and at most the RunSpec's; a
    continuation's block count holds exactly its samples; the sections
    have the shapes docs/json.md gives them. (The RunSpec checks itself.)
    """
    n = check_stats(d["accumulator"], "accumulator")
    if d["samples"] != n or isinstance(d["samples"], bool):
        raise FileProblem(f"has samples = {d['samples']!r}, not its accumulator's count {n:,}")
    for section in ("outputs", "derived"):
        part = d.get(section, {})
        if not isinstance(part, Mapping) or not all(isinstance(e, Mapping) for e in part.values()):
            raise FileProblem(f"has `{section}` that is not an object of estimate objects")
    if not d["outputs"]:
        raise FileProblem("has no outputs")
    for section in ("outputs", "derived"):
        for name, e in d.get(section, {}).items():
            _check_estimate(e, f"{section}.{name}", n if section == "outputs" else None)
    for section, kind in (("covariance", list), ("trace", list), ("stopping", Mapping), ("continuation", Mapping)):
        if section in d and not isinstance(d[section], kind):
            raise FileProblem(f"has `{section}` that is not {'a list' if kind is list else 'an object'}")
    spec = d["spec"]
    total, size = (spec.get("samples"), spec.get("block_size")) if isinstance(spec, Mapping) else (None, None)
    if not (isinstance(total, int) and isinstance(size, int) and size > 0):
        return  # the RunSpec refuses itself
    if n > total:
        raise FileProblem(f"has {n:,} samples, more than its RunSpec's {total:,}")
    cont = d.get("continuation") or {}
    if "blocks" in cont:
        blocks = count(cont["blocks"], "continuation.blocks")
        prefix = check_stats(cont["accumulator"], "continuation.accumulator") if "accumulator" in cont else n
        if prefix != blocks * size or prefix > n:
            raise FileProblem(f"has continuation.blocks = {blocks}, which is not the count of its {prefix:,} samples")


def _check_estimate(e: Mapping[str, Any], what: str, samples: int | None) -> None:
    """An estimate lies inside its own interval, its standard error is >= 0, an output counts the run's samples."""
    est: Any = e.get("estimate")
    se: Any = e.get("standard_error")
    interval: Any = e.get("interval")
    if samples is not None and e.get("samples", samples) != samples:
        raise FileProblem(f"has {what}.samples = {e.get('samples')!r}, not the run's {samples:,}")
    if se is not None and (not isinstance(se, (int, float)) or isinstance(se, bool) or not se >= 0):
        raise FileProblem(f"has {what}.standard_error = {se!r}, which is not a number >= 0")
    if not _number(est) or not isinstance(interval, list) or len(interval) != 2:
        return  # an estimate with no value (no samples, an undefined ratio) has nothing to contain
    lo: Any = -math.inf if interval[0] is None else interval[0]
    hi: Any = math.inf if interval[1] is None else interval[1]
    if not (isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo <= est <= hi):
        raise FileProblem(f"has {what}.estimate = {est!r} outside its own interval {interval!r}")


def read_document(path: str | os.PathLike) -> Any:
    """The JSON of a result file, or of a result folder's ``result.json``.

    A regular file of bounded size, strict JSON, its checksum checked when
    it carries one; anything else is a `FileProblem`.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "result.json")
    return parse_sealed(read_text(path))


def arithmetic_of(d: Mapping[str, Any]) -> int:
    """The version of the engine's arithmetic a file records (files written before it was recorded: 1)."""
    version = d.get("arithmetic", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise FileProblem(f"has arithmetic = {version!r}, which is not a version (an integer >= 1)")
    return version
