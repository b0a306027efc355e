"""Checkpoint files: the folded prefix of a run, so a killed run resumes to the same numbers.

A checkpoint is JSON (never pickle), written atomically (temporary file,
fsync, rename): a SIGKILL or a power cut leaves the previous checkpoint or
the new one. It holds the RunSpec and its digest, the accumulator of the
blocks folded so far, the blocks that finished early, and the convergence
trace. A checkpoint that does not belong to the run, is truncated, or comes
from a newer format is refused with a clear error and left untouched.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace

from montecarlo.accumulate import Stats
from montecarlo.engine.fold import RunState
from montecarlo.errors import CheckpointError, CheckpointWriteError, ValidationError
from montecarlo.files import write_atomic
from montecarlo.spec import RunSpec

SCHEMA = "montecarlo.checkpoint"
VERSION = 1


def to_dict(spec: RunSpec, state: RunState) -> dict:
    """The JSON form of a checkpoint."""
    return {
        "schema": SCHEMA,
        "version": VERSION,
        "spec": spec.to_dict(),
        "spec_digest": spec.digest(),
        "complete": state.complete,
        "next_block": state.next_block,
        "samples_done": state.total.count,
        "accumulator": state.total.to_dict(),
        "held": {str(b): m.to_dict() for b, m in sorted(state.held.items())},
        "trace": state.trace,
        "written": time.time(),
    }


def save(path: str, spec: RunSpec, state: RunState) -> None:
    """Write the checkpoint atomically (the previous one stays whole if this fails)."""
    try:
        write_atomic(path, json.dumps(to_dict(spec, state), allow_nan=False) + "\n")
    except OSError as exc:
        raise CheckpointWriteError(
            f"cannot write checkpoint {path!r}: {exc.strerror or exc}; the previous checkpoint, if any, is intact."
        ) from exc


def load(path: str) -> tuple[RunSpec, RunState]:
    """Read and check a checkpoint file (the file is never modified)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path!r}: {exc.strerror or exc}.") from None
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(
            f"checkpoint {path!r} is truncated or corrupted (invalid JSON at line {exc.lineno}, column {exc.colno}); "
            "it was left untouched: delete it to start afresh."
        ) from None
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise CheckpointError(f'{path!r} is not a montecarlo checkpoint (no "schema": "{SCHEMA}" field).')
    version = d.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise CheckpointError(
            f"checkpoint {path!r} has format version {version!r}; this release reads version {VERSION} "
            "(a newer montecarlo wrote it)."
        )
    try:
        spec = RunSpec.from_dict(d["spec"])
        if spec.digest() != d["spec_digest"]:
            raise CheckpointError(f"checkpoint {path!r} is corrupted: its RunSpec does not match its digest.")
        state = RunState(
            next_block=int(d["next_block"]),
            total=Stats.from_dict(d["accumulator"]),
            held={int(b): Stats.from_dict(m) for b, m in d["held"].items()},
            trace=list(d["trace"]),
            complete=bool(d["complete"]),
        )
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CheckpointError(f"checkpoint {path!r} is corrupted ({type(exc).__name__}: {exc}).") from None
    return spec, state


def differences(a: RunSpec, b: RunSpec) -> list[str]:
    """Fields in which two RunSpecs differ, as ``name: a != b``."""
    da, db = a.to_dict(), b.to_dict()
    return [f"{k}: {da[k]!r} != {db.get(k)!r}" for k in da if da[k] != db.get(k)]


def resume(path: str, spec: RunSpec) -> tuple[RunSpec, RunState]:
    """The state to resume ``spec`` from the checkpoint ``path``.

    An unseeded spec (``entropy`` None) adopts the checkpoint's entropy:
    "the same command" without ``--seed`` draws fresh entropy, which the
    checkpoint recorded.
    """
    if not os.path.exists(path):
        raise ValidationError(
            "checkpoint",
            path,
            "the path of an existing checkpoint file to resume",
            "does not exist (nothing to resume)",
        )
    saved, state = load(path)
    if spec.entropy is None:
        spec = replace(spec, entropy=saved.entropy, spawn_key=saved.spawn_key)
    if saved.digest() != spec.digest():
        diff = "; ".join(differences(saved, spec))
        raise CheckpointError(
            f"checkpoint {path!r} belongs to a different run ({diff}); it was left untouched: "
            "use the same options, another --checkpoint file, or delete it."
        )
    return spec, state
