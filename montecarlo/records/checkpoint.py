"""Checkpoint files: the folded prefix of a run, so a killed run resumes to the same numbers.

A checkpoint is JSON (never pickle), written atomically (temporary file,
fsync, rename): a SIGKILL or a power cut leaves the previous checkpoint or
the new one. It holds the RunSpec and its digest, the accumulator of the
blocks folded so far, the blocks that finished early, the convergence
trace, and a checksum of all of it (`montecarlo.records.integrity`). A checkpoint
that does not belong to the run, was edited or damaged, holds numbers that
contradict each other, is not a regular file or comes from another format
is refused with a one-line error and left untouched.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from montecarlo.core.spec import RunSpec
from montecarlo.core.validate import check_int
from montecarlo.errors import CheckpointError, CheckpointWriteError, FileProblem, ValidationError, one_line
from montecarlo.models.fingerprint import changed_since
from montecarlo.records.files import read_json, write_atomic
from montecarlo.records.integrity import arithmetic_of, check_stats, count, sealed, verify
from montecarlo.records.result import Result
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.sums import ARITHMETIC

SCHEMA = "montecarlo.checkpoint"
#: Version 2 added the checksum; version 1 files (montecarlo 0.2) are refused.
VERSION = 2


@dataclass
class RunState:
    """The resumable state of a run: everything a checkpoint holds.

    Attributes
    ----------
    next_block : int
        Blocks ``0 .. next_block - 1`` are folded into ``total``.
    total : Stats
        Their accumulator.
    held : dict of int to Stats
        Blocks that finished early, by block index.
    trace : list of dict
        The convergence trace of the folded prefix.
    complete : bool
        True once the run has ended.
    fingerprint : dict
        The model's fingerprint (`montecarlo.models.fingerprint`); empty
        when unknown (a file written before it was recorded).
    """

    next_block: int
    total: Stats
    held: dict[int, Stats]
    trace: list[dict]
    complete: bool = False
    fingerprint: dict = field(default_factory=dict)


def to_dict(spec: RunSpec, state: RunState) -> dict:
    """The JSON form of a checkpoint (with its checksum)."""
    return sealed(
        {
            "schema": SCHEMA,
            "version": VERSION,
            "arithmetic": ARITHMETIC,
            "spec": spec.to_dict(),
            "spec_digest": spec.digest(),
            "complete": state.complete,
            "next_block": state.next_block,
            "samples_done": state.total.count,
            "accumulator": state.total.to_dict(),
            "held": {str(b): m.to_dict() for b, m in sorted(state.held.items())},
            "trace": state.trace,
            "model_fingerprint": state.fingerprint,
            "written": time.time(),
        }
    )


def save(path: str, spec: RunSpec, state: RunState) -> None:
    """Write the checkpoint atomically (the previous one stays whole if this fails)."""
    write(path, to_dict(spec, state))


def write(path: str, document: Mapping[str, Any]) -> None:
    """Write a checkpoint's document atomically; a `CheckpointWriteError` says the previous one is intact."""
    try:
        write_atomic(path, json.dumps(document, allow_nan=False) + "\n")
    except OSError as exc:
        raise CheckpointWriteError(
            f"cannot write checkpoint {path!r}: {exc.strerror or exc}; the previous checkpoint, if any, is intact."
        ) from exc


def load(path: str) -> tuple[RunSpec, RunState]:
    """Read and check a checkpoint file (the file is never modified)."""
    try:
        d = read_json(path)
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise FileProblem(f'is not a montecarlo checkpoint (no "schema": "{SCHEMA}" field)')
        version = d.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
            newer = isinstance(version, int) and not isinstance(version, bool) and version > VERSION
            raise FileProblem(
                f"has format version {version!r}; this release reads version {VERSION}"
                + (" (a newer montecarlo wrote it)" if newer else "")
            )
        verify(d, required=True)
        if arithmetic_of(d) != ARITHMETIC:
            raise FileProblem(
                f"was written with the engine's arithmetic of version {arithmetic_of(d)}, and this release computes "
                f"with version {ARITHMETIC}: its blocks cannot be folded with new ones (re-run from the start with "
                "another --checkpoint file, or with the release that wrote it)"
            )
        spec = RunSpec.from_dict(d["spec"])
        if spec.digest() != d["spec_digest"]:
            raise FileProblem("is corrupted: its RunSpec does not match its digest")
        state = _state(d, spec)
    except FileProblem as exc:
        raise CheckpointError(f"checkpoint {path!r} {exc}; it was left untouched.") from None
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise CheckpointError(
            f"checkpoint {path!r} is corrupted ({type(exc).__name__}: {one_line(exc)}); it was left untouched."
        ) from None
    return spec, state


def _state(d: Mapping[str, Any], spec: RunSpec) -> RunState:
    """The run state a checkpoint claims, once its numbers are shown to agree with each other."""
    done = count(d["next_block"], "next_block")
    if done > spec.blocks:
        raise FileProblem(f"has next_block = {done}, past the run's {spec.blocks} blocks")
    folded = check_stats(d["accumulator"], "accumulator")
    if folded != min(done * spec.block_size, spec.samples):
        raise FileProblem(f"has {folded:,} samples folded, which is not the count of its {done} blocks")
    if d["samples_done"] != folded:
        raise FileProblem(f"has samples_done = {d['samples_done']!r}, not its accumulator's {folded:,}")
    held = d["held"]
    if not isinstance(held, Mapping):
        raise FileProblem("has `held` that is not an object")
    early = {}
    for key, m in held.items():
        b = int(key) if isinstance(key, str) and key.isdigit() else -1
        # Block `done` itself may be held: it had arrived, not yet folded, when the checkpoint was written.
        if not done <= b < spec.blocks:
            raise FileProblem(f"holds block {key!r}, which is not a block from {done} on of this run")
        if check_stats(m, f"held block {b}") != spec.block_samples(b):
            raise FileProblem(f"holds block {b} with a sample count that is not that block's")
        early[b] = Stats.from_dict(m)
    trace = d["trace"]
    if not isinstance(trace, list) or not all(
        isinstance(p, Mapping) and 0 < count(p.get("samples"), "a trace point's samples") <= folded for p in trace
    ):
        raise FileProblem("has a trace that is not a list of points within its samples")
    if not isinstance(d["complete"], bool):
        raise FileProblem(f"has complete = {d['complete']!r}, which is not true or false")
    fp = d.get("model_fingerprint") or {}
    if not isinstance(fp, Mapping) or not isinstance(fp.get("parts", {}), Mapping):
        raise FileProblem("has a model_fingerprint that is not an object")
    return RunState(
        next_block=done, total=Stats.from_dict(d["accumulator"]), held=early, trace=list(trace), complete=d["complete"],
        fingerprint=dict(fp),
    )  # fmt: skip


def differences(a: RunSpec, b: RunSpec) -> list[str]:
    """Fields in which two RunSpecs differ, as ``name: a != b``."""
    da, db = a.to_dict(), b.to_dict()
    return [f"{k}: {da[k]!r} != {db.get(k)!r}" for k in da if da[k] != db.get(k)]


def resume(path: str, spec: RunSpec, fingerprint: dict) -> tuple[RunSpec, RunState]:
    """The state to resume ``spec`` from the checkpoint ``path``, whose model's fingerprint is now ``fingerprint``.

    An unseeded spec (``entropy`` None) adopts the checkpoint's entropy:
    "the same command" without ``--seed`` draws fresh entropy, which the
    checkpoint recorded. A checkpoint of another model (its fingerprint
    differs: `montecarlo.models.fingerprint`) is refused, naming what changed.
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
            "use the same options, or another --checkpoint file."
        )
    state.fingerprint = same_model(path, state.fingerprint, fingerprint)
    return spec, state


def same_model(path: str, recorded: dict, fingerprint: dict) -> dict:
    """``fingerprint``, when the model that wrote checkpoint ``path`` (``recorded``) is the same; else a `CheckpointError`."""
    if changed := changed_since(recorded, fingerprint):
        raise CheckpointError(
            f"checkpoint {path!r} was written by another version of the model ({changed} changed since): its blocks "
            "cannot be folded with this model's; it was left untouched: resume with the model that wrote it, or "
            "start afresh with another --checkpoint file."
        )
    return fingerprint


def continuation(result: Result, fingerprint: dict) -> RunState:
    """The state to extend a finished ``result`` from, with its model's fingerprint now ``fingerprint``.

    Refused, with the reason, when the result records no continuation (it
    was not resumed from a finished run), its blocks were summed by another
    arithmetic, or its model changed since: blocks of two models, or of two
    arithmetics, are never folded together.
    """
    if result.arithmetic != ARITHMETIC:
        raise ValidationError(
            "result", f"(arithmetic version {result.arithmetic})", f"a result computed with arithmetic version {ARITHMETIC}",
            f"was computed with the engine's arithmetic of version {result.arithmetic}, and its blocks cannot be "
            f"folded with new ones of version {ARITHMETIC}; re-run it with the larger `samples` instead",
        )  # fmt: skip
    cont = result.continuation
    if "blocks" not in cont:
        raise ValidationError(
            "result", "(no continuation record)", "a result of a run that was not resumed from a finished checkpoint",
            "cannot be extended; re-run it with the larger `samples` instead",
        )  # fmt: skip
    blocks = check_int(cont["blocks"], "continuation.blocks", low=0)
    prefix = Stats.from_dict(cont["accumulator"]) if "accumulator" in cont else result.accumulator
    if prefix.count != blocks * result.spec.block_size:
        raise ValidationError(
            "result", f"continuation.blocks = {blocks}", f"{prefix.count // result.spec.block_size} blocks",
            f"does not match its {prefix.count} samples",
        )  # fmt: skip
    if changed := changed_since(result.fingerprint, fingerprint):
        raise ValidationError(
            "result", f"(model {result.spec.model})", "a result of this version of the model",
            f"was computed by another version of the model ({changed} changed since), and its blocks cannot be "
            "folded with this model's; re-run it with the larger `samples` instead",
        )  # fmt: skip
    return RunState(blocks, prefix, {}, list(result.trace), fingerprint=fingerprint)
