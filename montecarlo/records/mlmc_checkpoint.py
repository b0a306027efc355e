"""Checkpoints of a multilevel run: its decisions so far and every level's folded blocks.

A multilevel run (`montecarlo.mlmc`) proceeds in rounds: each round extends
some levels by whole blocks, then decides from the folded statistics what
the next round needs. Its checkpoint holds the `MultilevelSpec`, the
model's fingerprint, the state of the algorithm for the round under way
(its number, the finest level, each level's target block count, the rates
of the last decision, the warnings so far) and, per level, the blocks
folded so far and those that finished early. A resumed run finishes that
round and goes on: it takes the decisions an uninterrupted run takes, and
gives its numbers bit for bit.

The file is JSON, written atomically, sealed with a checksum
(`montecarlo.records.integrity`); one that does not belong to the run,
was edited, or whose model changed since is refused in one line and left
untouched, as `montecarlo.records.checkpoint` does for a run's checkpoint.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from montecarlo.core.multilevel import MultilevelSpec
from montecarlo.errors import CheckpointError, FileProblem, ValidationError, one_line
from montecarlo.records.checkpoint import RunState, same_model, write
from montecarlo.records.files import read_json
from montecarlo.records.integrity import arithmetic_of, check_stats, count, verify
from montecarlo.records.integrity import sealed as seal
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.sums import ARITHMETIC

SCHEMA = "montecarlo.mlmc-checkpoint"
VERSION = 1


@dataclass
class MultilevelState:
    """Where a multilevel run is: the round under way, its decisions, and every level's fold.

    Attributes
    ----------
    round : int
        The round under way (1 for the initial samples).
    targets : list of int
        Blocks each level ``0 .. L`` holds at the end of the round.
    block_sizes : list of int
        Samples per block of each level (fixed by the spec and the model's costs).
    alpha, beta, gamma : float
        The rates of the last decision (0 before the first).
    warnings : list of str
    levels : list of RunState
        Each level's folded blocks and the blocks held (no trace).
    stopped : str
        Empty while the run goes on; how it ended (`montecarlo.records.mlmc_result.STOPS`).
    fingerprint : dict
        The model's fingerprint.
    """

    round: int
    targets: list[int]
    block_sizes: list[int]
    alpha: float = 0.0
    beta: float = 0.0
    gamma: float = 0.0
    warnings: list[str] = field(default_factory=list)
    levels: list[RunState] = field(default_factory=list)
    stopped: str = ""
    fingerprint: dict = field(default_factory=dict)


def to_dict(spec: MultilevelSpec, state: MultilevelState) -> dict:
    """The JSON form of a checkpoint (with its checksum)."""
    return seal(
        {
            "schema": SCHEMA,
            "version": VERSION,
            "arithmetic": ARITHMETIC,
            "spec": spec.to_dict(),
            "spec_digest": spec.digest(),
            "round": state.round,
            "targets": list(state.targets),
            "block_sizes": list(state.block_sizes),
            "rates": [state.alpha, state.beta, state.gamma],
            "warnings": list(state.warnings),
            "stopped": state.stopped,
            "levels": [
                {
                    "next_block": lv.next_block,
                    "accumulator": lv.total.to_dict(),
                    "held": {str(b): m.to_dict() for b, m in sorted(lv.held.items())},
                }
                for lv in state.levels
            ],
            "model_fingerprint": state.fingerprint,
            "written": time.time(),
        }
    )


def save(path: str, spec: MultilevelSpec, state: MultilevelState) -> None:
    """Write the checkpoint atomically (the previous one stays whole if this fails)."""
    write(path, to_dict(spec, state))


def load(path: str) -> tuple[MultilevelSpec, MultilevelState]:
    """Read and check a multilevel checkpoint (the file is never modified)."""
    try:
        d = read_json(path)
        if not isinstance(d, dict) or d.get("schema") != SCHEMA:
            raise FileProblem(f'is not a multilevel checkpoint (no "schema": "{SCHEMA}" field)')
        if d.get("version") != VERSION:
            raise FileProblem(f"has format version {d.get('version')!r}; this release reads version {VERSION}")
        verify(d, required=True)
        if arithmetic_of(d) != ARITHMETIC:
            raise FileProblem(
                f"was written with the engine's arithmetic of version {arithmetic_of(d)}, and this release computes "
                f"with version {ARITHMETIC}: its blocks cannot be folded with new ones"
            )
        spec = MultilevelSpec.from_dict(d["spec"])
        if spec.digest() != d["spec_digest"]:
            raise FileProblem("is corrupted: its spec does not match its digest")
        state = _state(d)
    except FileProblem as exc:
        raise CheckpointError(f"checkpoint {path!r} {exc}; it was left untouched.") from None
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise CheckpointError(
            f"checkpoint {path!r} is corrupted ({type(exc).__name__}: {one_line(exc)}); it was left untouched."
        ) from None
    return spec, state


def _state(d: Mapping[str, Any]) -> MultilevelState:
    """The state a checkpoint claims, once its numbers are shown to agree with each other."""
    targets = [count(t, "a target") for t in d["targets"]]
    sizes = [count(s, "a block size") for s in d["block_sizes"]]
    levels = d["levels"]
    if not (len(targets) == len(sizes) == len(levels) >= 3) or min(sizes) < 1:
        raise FileProblem("has targets, block sizes and levels that do not match")
    states = []
    for lv, (raw, target, size) in enumerate(zip(levels, targets, sizes, strict=True)):
        done = count(raw["next_block"], f"levels[{lv}].next_block")
        folded = check_stats(raw["accumulator"], f"levels[{lv}].accumulator")
        if done > target or folded != done * size:
            raise FileProblem(f"has level {lv} with {folded:,} samples, which are not its {done} blocks of {size}")
        held = {}
        for key, m in dict(raw["held"]).items():
            b = int(key) if isinstance(key, str) and key.isdigit() else -1
            if not done <= b < target or check_stats(m, f"level {lv} held block {b}") != size:
                raise FileProblem(f"holds block {key!r} of level {lv}, which is not one of its blocks to come")
            held[b] = Stats.from_dict(m)
        states.append(RunState(done, Stats.from_dict(raw["accumulator"]), held, []))
    rates = [float(r) for r in d["rates"]]
    if len(rates) != 3:
        raise FileProblem("has `rates` that are not alpha, beta and gamma")
    fp = d.get("model_fingerprint") or {}
    if not isinstance(fp, Mapping):
        raise FileProblem("has a model_fingerprint that is not an object")
    return MultilevelState(
        round=count(d["round"], "round"), targets=targets, block_sizes=sizes, alpha=rates[0], beta=rates[1],
        gamma=rates[2], warnings=[str(w) for w in d["warnings"]], levels=states, stopped=str(d["stopped"]),
        fingerprint=dict(fp),
    )  # fmt: skip


def resume(path: str, spec: MultilevelSpec, fingerprint: dict) -> tuple[MultilevelSpec, MultilevelState]:
    """The state to resume ``spec`` from ``path``, whose model's fingerprint is now ``fingerprint``.

    An unseeded spec adopts the checkpoint's entropy. A checkpoint of
    another run, or of another version of the model, is refused.
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
        da, db = saved.to_dict(), spec.to_dict()
        diff = "; ".join(f"{k}: {da[k]!r} != {db.get(k)!r}" for k in da if da[k] != db.get(k))
        raise CheckpointError(
            f"checkpoint {path!r} belongs to a different multilevel run ({diff}); it was left untouched: "
            "use the same options, or another --checkpoint file."
        )
    state.fingerprint = same_model(path, state.fingerprint, fingerprint)
    return spec, state
