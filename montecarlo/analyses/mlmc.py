"""Multilevel Monte Carlo: Giles' adaptive algorithm on ordinary runs of a level model.

`mlmc` estimates ``E[P]`` to a root mean squared error ``eps`` from a level
model (`montecarlo.models.levels`). Level ``l`` is an ordinary run of the
model with ``level = l`` (`MultilevelSpec.level_spec`), seeded under
spawn key ``(*root, l)``; when the algorithm asks for more samples of a
level, that run is extended by whole blocks, as `montecarlo.extend` extends
a run, so the blocks of a level are the same whatever round or batch
computed them. The levels of a round run together on one backend
(`montecarlo.engine.multirun.execute_many`), each folded in its block
order, and every decision -- each ``N_l``, adding a level, stopping -- is
taken from those folded statistics only (`montecarlo.estimation.multilevel`).
So the level count, every ``N_l`` and the estimate are bit-identical for
any worker count, executor and resume (docs/mlmc.md).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from montecarlo.analyses.mlmc_decide import decide, initial_state, result_of
from montecarlo.core.execution import Checkpointing, Execution
from montecarlo.core.multilevel import (
    DEFAULT_BLOCK_COST,
    DEFAULT_INITIAL_SAMPLES,
    DEFAULT_MAX_LEVEL,
    DEFAULT_THETA,
    MultilevelSpec,
)
from montecarlo.core.sampling import DEFAULT_BIT_GENERATOR
from montecarlo.core.seeding import fresh_entropy, root_entropy
from montecarlo.core.validate import suggest_keywords
from montecarlo.engine.backends import make_backend
from montecarlo.engine.multirun import execute_many
from montecarlo.errors import ParameterError, ValidationError
from montecarlo.models.fingerprint import fingerprint
from montecarlo.models.levels import LEVEL, level_cost
from montecarlo.models.record import Model
from montecarlo.models.registry import load_model
from montecarlo.records.checkpoint import RunState
from montecarlo.records.files import check_writable
from montecarlo.records.locking import held
from montecarlo.records.mlmc_checkpoint import MultilevelState, resume, save
from montecarlo.records.mlmc_result import MLMCResult
from montecarlo.records.provenance import run_provenance

#: ``on_round(report)`` after each decision: a dict with ``round``, ``levels``, ``samples``, ``cost`` and ``next``.
RoundReport = Callable[[dict], None]


@suggest_keywords
def mlmc(
    model: Any,
    rmse: float,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    theta: float = DEFAULT_THETA,
    max_cost: float | None = None,
    max_level: int = DEFAULT_MAX_LEVEL,
    block_cost: int = DEFAULT_BLOCK_COST,
    initial_samples: int = DEFAULT_INITIAL_SAMPLES,
    bit_generator: str = DEFAULT_BIT_GENERATOR,
    confidence: float = 0.95,
    execution: Execution | str | Any = None,
    workers: int | Callable[..., Any] | None = None,
    executor: str | Any = None,
    checkpoint: Checkpointing | str | os.PathLike | None = None,
    on_round: RoundReport | None = None,
) -> MLMCResult:
    """Estimate a level model's limit to a root mean squared error ``rmse`` by Giles' multilevel Monte Carlo.

    Parameters
    ----------
    model : str, callable or Model
        A level model (declared with ``levels=montecarlo.Levels(...)``):
        a registered name such as ``"gbm_call"``, a reference, or the function.
    rmse : float
        The target root mean squared error ``eps`` (> 0).
    rng : None, int, SeedSequence or Generator
        Root of the randomness; level ``l`` runs under spawn key ``(*root, l)``.
    params : dict, optional
        Model parameters, except ``level``.
    theta : float
        Share of ``eps**2`` allowed to the squared bias (Giles' ``mlmc.m``: 0.25).
    max_cost : float, optional
        A budget in model units: the run stops before a round that would
        exceed it, and its result says so (``stopped == "max_cost"``).
    max_level : int
        The finest level the algorithm may add (Giles' ``Lmax``).
    block_cost : int
        Model units per block on every level (part of the numbers).
    initial_samples : int
        Samples first taken on levels 0, 1 and 2 (rounded up to whole blocks).
    bit_generator : str
    confidence : float
        Confidence level of the interval of the estimate.
    execution, workers, executor
        Where the blocks run, as in `montecarlo.run`; never changes a number.
    checkpoint : Checkpointing or path, optional
        Save progress to a file, and resume from it (``Checkpointing(path, resume=True)``).
    on_round : callable, optional
        ``on_round(report)`` after each round's decision.

    Returns
    -------
    MLMCResult

    Examples
    --------
    >>> import montecarlo
    >>> r = montecarlo.mlmc("gbm_call", 0.05, rng=1, executor="serial")
    >>> r.finest, abs(r.estimate - 10.450584) < 3 * 0.05
    (5, True)
    """
    how = Execution.of(execution, workers, executor)
    spec = make_mlmc_spec(
        model, rmse, rng=rng, params=params, theta=theta, max_cost=max_cost, max_level=max_level,
        block_cost=block_cost, initial_samples=initial_samples, bit_generator=bit_generator, confidence=confidence,
    )  # fmt: skip
    return run_mlmc(spec, execution=how, checkpoint=checkpoint, on_round=on_round)


@suggest_keywords
def make_mlmc_spec(
    model: Any,
    rmse: float,
    *,
    rng: Any = None,
    params: Mapping[str, Any] | None = None,
    theta: float = DEFAULT_THETA,
    max_cost: float | None = None,
    max_level: int = DEFAULT_MAX_LEVEL,
    block_cost: int = DEFAULT_BLOCK_COST,
    initial_samples: int = DEFAULT_INITIAL_SAMPLES,
    bit_generator: str = DEFAULT_BIT_GENERATOR,
    confidence: float = 0.95,
) -> MultilevelSpec:
    """Validate everything that fixes a multilevel run's numbers and build its `MultilevelSpec` (nothing runs).

    Refused here, before any worker starts: a model without levels, a
    ``rmse`` that is not > 0, a ``level`` among ``params``, a parameter the
    model does not accept at some level up to ``max_level``, a cost that is
    not a finite number > 0 at some level, a ``max_cost`` below the cost of
    the initial samples.
    """
    rec = load_model(model)
    if rec.levels is None:
        raise ValidationError(
            "model", rec.name, "a level model, declared with levels=montecarlo.Levels(...) (such as gbm_call)",
            "has no levels",
        )  # fmt: skip
    given = dict(params or {})
    if LEVEL in given:
        raise ParameterError(
            LEVEL, given[LEVEL], "the model's other parameters", "is set by the algorithm for each level: leave it out"
        )
    entropy, key = (None, ()) if rng is None else root_entropy(rng)
    spec = MultilevelSpec(
        model=rec.recorded_name, params={}, rmse=rmse, entropy=entropy, spawn_key=key, theta=theta,
        bit_generator=bit_generator, block_cost=block_cost, initial_samples=initial_samples, max_level=max_level,
        max_cost=max_cost, confidence=confidence, model_record=rec,
    )  # fmt: skip
    rec.bind({**given, LEVEL: 0})  # every parameter checked
    try:
        bound = rec.bind({**given, LEVEL: spec.max_level})
    except ParameterError as exc:
        if exc.argument != LEVEL:
            raise
        raise ValidationError(
            "max_level", spec.max_level, f"a level model {rec.name!r} accepts: {exc.accepted}", "is beyond its levels"
        ) from None
    bound.pop(LEVEL)
    spec = dataclasses.replace(spec, params=bound)
    costs = level_costs(spec)
    if spec.max_cost is not None:
        first = math.fsum(c * _blocks(spec.initial_samples, spec.block_size(c)) * spec.block_size(c) for c in costs[:3])
        if first > spec.max_cost:
            raise ValidationError(
                "max_cost", spec.max_cost, f"at least {first:g} model units, the cost of the initial samples of "
                "levels 0, 1 and 2", "is below the cost of the first round",
            )  # fmt: skip
    return spec


def _blocks(samples: int, size: int) -> int:
    return -(-samples // size)


def level_costs(spec: MultilevelSpec) -> list[float]:
    """The cost of a sample of each level ``0 .. max_level`` (a `ValidationError` naming a level without one)."""
    rec: Model = spec.model_record
    assert rec.levels is not None
    return [level_cost(rec.levels, level, spec.params) for level in range(spec.max_level + 1)]


def run_mlmc(
    spec: MultilevelSpec,
    *,
    execution: Execution | str | Any = None,
    checkpoint: Checkpointing | str | os.PathLike | None = None,
    on_round: RoundReport | None = None,
    workers: int | Callable[..., Any] | None = None,
    executor: str | Any = None,
) -> MLMCResult:
    """Run a `MultilevelSpec` (from `make_mlmc_spec`, or read back from a result or checkpoint)."""
    how = Execution.of(execution, workers, executor)
    if how.cache:
        raise ValidationError("cache", how.cache, "false: a multilevel run is not cached (its levels are extended)")
    if not isinstance(spec.model_record, Model):
        spec = dataclasses.replace(spec, model_record=load_model(spec.model))
    ckpt = Checkpointing.of(checkpoint)
    if ckpt is None:
        return _run(spec, how, None, on_round)
    path = os.path.abspath(check_writable(ckpt.path, "checkpoint"))
    with held(path):  # one run per checkpoint file
        return _run(spec, how, dataclasses.replace(ckpt, path=path), on_round)


def _run(spec: MultilevelSpec, how: Execution, ckpt: Checkpointing | None, on_round: RoundReport | None) -> MLMCResult:
    rec: Model = spec.model_record
    fp = fingerprint(rec)
    costs = level_costs(spec)
    state: MultilevelState | None = None
    if ckpt is not None and ckpt.resume:
        spec, state = resume(ckpt.path, spec, fp)
    elif ckpt is not None and os.path.exists(ckpt.path):
        raise ValidationError(
            "checkpoint", ckpt.path, "resume=True (--resume) to continue that run, or a new file", "already exists"
        )
    if spec.entropy is None:
        spec = dataclasses.replace(spec, entropy=fresh_entropy())
    resumed = state is not None
    if state is None:
        state = initial_state(spec, costs, fp)
    elif state.block_sizes != [spec.block_size(c) for c in costs[: len(state.block_sizes)]]:
        raise ValidationError("checkpoint", ckpt.path if ckpt else None, "a checkpoint of this model's levels",
                              "holds blocks of other sizes than the model's costs give")  # fmt: skip
    save_now = (lambda st: save(ckpt.path, spec, st)) if ckpt is not None else None
    started, t0 = time.time(), time.perf_counter()
    computed = 0.0
    backend = None
    try:
        while True:
            todo = [lv for lv, target in enumerate(state.targets) if target > state.levels[lv].next_block]
            if todo:
                if backend is None:
                    backend = make_backend(how, ())
                computed += _round(spec, state, todo, costs, backend, how, save_now, ckpt)
            if state.stopped:  # (a run stopped by its budget has had its last round)
                if todo and save_now is not None:
                    save_now(state)
                break
            state = decide(spec, state, costs)
            if save_now is not None:
                save_now(state)
            if on_round is not None:
                on_round(_report(state, costs))
    finally:
        if backend is not None and backend is not how.executor:
            backend.close()
    elapsed = time.perf_counter() - t0
    prov = run_provenance(backend.name if backend else "none", backend.workers if backend else 0, started, elapsed,
                          round(computed))  # fmt: skip
    prov["throughput_units"] = prov.pop("throughput")  # model units per second, not samples
    if resumed:
        prov["resumed"] = True
    return result_of(spec, state, costs, prov, fp)


def _round(
    spec: MultilevelSpec,
    state: MultilevelState,
    todo: list[int],
    costs: list[float],
    backend: Any,
    how: Execution,
    save_now: Callable[[MultilevelState], None] | None,
    ckpt: Checkpointing | None,
) -> float:
    """Extend the levels ``todo`` to their targets together on ``backend``; returns the model units computed."""
    specs = [spec.level_spec(lv, costs[lv], state.targets[lv]) for lv in todo]
    before = math.fsum(state.levels[lv].total.count * costs[lv] for lv in todo)

    def keep(states: list[RunState]) -> None:
        for lv, st in zip(todo, states, strict=True):
            state.levels[lv] = RunState(st.next_block, st.total, dict(st.held), [])
        if save_now is not None:
            save_now(state)

    outcomes = execute_many(
        specs, backend, states=[state.levels[lv] for lv in todo], progress=how.progress if callable(how.progress) else None, retries=how.retries,
        checkpoint=keep if save_now is not None else None, checkpoint_every=ckpt.every if ckpt else 5.0,
    )  # fmt: skip
    for lv, out in zip(todo, outcomes, strict=True):
        state.levels[lv] = RunState(out.ending.blocks, out.total, {}, [])
    return math.fsum(state.levels[lv].total.count * costs[lv] for lv in todo) - before


def _report(state: MultilevelState, costs: list[float]) -> dict:
    samples = [lv.total.count for lv in state.levels]
    return {
        "round": state.round - 1,
        "levels": len(state.levels),
        "samples": samples,
        "cost": math.fsum(n * c for n, c in zip(samples, costs, strict=False)),
        "next": [t * s for t, s in zip(state.targets, state.block_sizes, strict=True)],
        "stopped": state.stopped,
        "rates": (state.alpha, state.beta, state.gamma),
    }
