"""The decisions of Giles' adaptive algorithm between rounds, and the result they lead to.

`decide` is one pass of the loop of Giles' ``mlmc.m`` (Acta Numerica 24
(2015), Algorithm 1) on the folded statistics of whole blocks of every
level: it fixes zero means and variances with the previous pass's rates,
regresses ``alpha``, ``beta`` and ``gamma``, sets the optimal ``N_l``, and
once no level lacks more than 1% of its samples tests the remaining bias
against ``sqrt(theta) eps`` and adds a level while it is too large. The
extra samples are whole blocks appended to each level, and the next round's
targets are block counts. Nothing here reads a clock or a worker count.
"""

from __future__ import annotations

import math
from dataclasses import replace

from montecarlo.core.multilevel import MIN_LEVEL, MultilevelSpec
from montecarlo.estimation.intervals import normal_interval
from montecarlo.estimation.multilevel import (
    ALMOST,
    CHECK_WARNING,
    KURTOSIS_WARNING,
    LevelSummary,
    bias_estimate,
    clamp_rate,
    consistency,
    estimate,
    finest_variance,
    guarded,
    optimal_samples,
    plain_cost,
    regressed_rates,
    summary,
)
from montecarlo.models.levels import limit_value
from montecarlo.records.checkpoint import RunState
from montecarlo.records.mlmc_checkpoint import MultilevelState
from montecarlo.records.mlmc_result import LevelRecord, MLMCResult
from montecarlo.stats.accumulators import Stats


def _empty() -> RunState:
    return RunState(0, Stats.empty(2), {}, [])


def initial_state(spec: MultilevelSpec, costs: list[float], fingerprint: dict) -> MultilevelState:
    """Round 1: ``initial_samples`` on levels 0, 1 and 2, rounded up to whole blocks."""
    sizes = [spec.block_size(c) for c in costs[: MIN_LEVEL + 1]]
    return MultilevelState(
        round=1,
        targets=[-(-spec.initial_samples // size) for size in sizes],
        block_sizes=sizes,
        levels=[_empty() for _ in sizes],
        fingerprint=fingerprint,
    )


def decide(spec: MultilevelSpec, state: MultilevelState, costs: list[float]) -> MultilevelState:
    """The next round: each level's target block count, a level added, or how the run ends."""
    eps, theta = spec.rmse, spec.theta
    top = len(state.levels) - 1
    sums = [summary(lv.total) for lv in state.levels]
    n = [s.samples for s in sums]
    c = costs[: top + 1]
    ml, vl = guarded([s.mean for s in sums], [s.variance for s in sums], state.alpha, state.beta)
    alpha, beta, gamma = (clamp_rate(r) for r in regressed_rates(ml, vl, c))
    extra = [max(0, target - have) for target, have in zip(optimal_samples(vl, c, eps, theta), n, strict=True)]
    levels, sizes, warnings = list(state.levels), list(state.block_sizes), list(state.warnings)
    bias_ok = True
    if all(d <= ALMOST * have for d, have in zip(extra, n, strict=True)):
        bias_ok = bias_estimate(ml, alpha) <= math.sqrt(theta) * eps
        if not bias_ok and top < spec.max_level:
            top += 1
            vl.append(vl[-1] / 2.0**beta)
            c.append(costs[top])
            n.append(0)
            levels.append(_empty())
            sizes.append(spec.block_size(costs[top]))
            extra = [max(0, target - have) for target, have in zip(optimal_samples(vl, c, eps, theta), n, strict=True)]
        elif not bias_ok and not any(w.startswith("weak convergence") for w in warnings):
            warnings.append(
                f"weak convergence not achieved: the bias estimate exceeds sqrt(theta) eps on the finest level "
                f"allowed ({spec.max_level}); raise max_level"
            )
    targets = [lv.next_block + -(-d // size) for lv, d, size in zip(levels, extra, sizes, strict=True)]
    stopped = ""
    if all(d == 0 for d in extra):
        stopped = "converged" if bias_ok else "max_level"
    elif spec.max_cost is not None:
        spent = math.fsum(have * cost for have, cost in zip(n, c, strict=True))
        more = math.fsum(
            (t - lv.next_block) * size * cost for t, lv, size, cost in zip(targets, levels, sizes, c, strict=True)
        )
        if spent + more > spec.max_cost:  # a last round, scaled down to what the budget leaves
            left = spec.max_cost - spent
            targets = [
                lv.next_block + math.floor((t - lv.next_block) * left / more)
                for t, lv in zip(targets, levels, strict=True)
            ]
            stopped = "max_cost"
            warnings.append(
                f"stopped at the budget: the next round needed {more:g} model units, and max_cost = "
                f"{spec.max_cost:g} left {left:g}, spent on a last round scaled down to fit; the RMSE target is not met"
            )
    return replace(
        state, round=state.round + 1, targets=targets, block_sizes=sizes, alpha=alpha, beta=beta, gamma=gamma,
        warnings=warnings, levels=levels, stopped=stopped,
    )  # fmt: skip


def _warnings(sums: list[LevelSummary], checks: list[float | None]) -> list[str]:
    """``mlmc_test``'s warnings: the finest level's kurtosis above 100, a consistency check above 1."""
    out = []
    kurt = sums[-1].kurtosis
    if kurt > KURTOSIS_WARNING:
        out.append(
            f"kurtosis of the finest level's differences is {kurt:.4g} > {KURTOSIS_WARNING:g}: rare paths dominate "
            "them, so their variance estimate, and the sample counts it sets, are unreliable"
        )
    worst = max((v, lv) for lv, v in enumerate(checks) if v is not None)
    if worst[0] > CHECK_WARNING:
        out.append(
            f"consistency check of level {worst[1]} is {worst[0]:.3g} > {CHECK_WARNING:g}: E[P_l - P_(l-1)] does "
            "not equal E[P_l] - E[P_(l-1)]; the level model's coarse approximation is not the previous level's fine one"
        )
    return out


def result_of(
    spec: MultilevelSpec, state: MultilevelState, costs: list[float], provenance: dict, fp: dict
) -> MLMCResult:
    """The `MLMCResult` of a finished run: estimate, rates, costs and Giles' per-level diagnostics."""
    sums = [summary(lv.total) for lv in state.levels]
    top = len(sums) - 1
    value, se = estimate(sums)
    ml, _ = guarded([s.mean for s in sums], [s.variance for s in sums], state.alpha, state.beta)
    bias = bias_estimate(ml, state.alpha)
    checks = consistency(sums)
    spent = math.fsum(s.samples * cost for s, cost in zip(sums, costs, strict=False))
    levels = tuple(
        LevelRecord(
            level=lv,
            samples=s.samples,
            blocks=state.levels[lv].next_block,
            block_size=state.block_sizes[lv],
            cost=costs[lv],
            mean=s.mean,
            variance=s.variance,
            mean_fine=s.mean_fine,
            variance_fine=s.variance_fine,
            kurtosis=s.kurtosis,
            check=checks[lv],
            accumulator=state.levels[lv].total,
        )  # fmt: skip
        for lv, s in enumerate(sums)
    )
    rmse_estimate = math.sqrt(se * se + bias * bias)
    if state.stopped == "converged":
        message = f"target met: estimated RMSE {rmse_estimate:.3g} <= eps = {spec.rmse:g} with levels 0-{top}"
    elif state.stopped == "max_level":
        message = (
            f"finest level {top} (max_level) reached with the bias estimate {bias:.3g} above sqrt(theta) eps = "
            f"{math.sqrt(spec.theta) * spec.rmse:.3g}: estimated RMSE {rmse_estimate:.3g}"
        )
    else:
        message = (
            f"stopped at the budget (max_cost = {spec.max_cost:g} model units, {spent:g} spent) before the target: "
            f"estimated RMSE {rmse_estimate:.3g} for eps = {spec.rmse:g}"
        )
    rec = spec.model_record
    return MLMCResult(
        model=rec.name, spec=spec, levels=levels, estimate=value, standard_error=se,
        interval=normal_interval(value, se, sums[0].samples, spec.confidence), alpha=state.alpha, beta=state.beta,
        gamma=state.gamma, cost=spent, plain_cost=plain_cost(finest_variance(sums), costs[top], spec.rmse, spec.theta),
        bias=bias, stopped=state.stopped, message=message, rounds=state.round - 1,
        exact=limit_value(rec.levels, spec.params), unit=rec.levels.unit, warnings=tuple(state.warnings + _warnings(sums, checks)),
        provenance=provenance, fingerprint=fp,
    )  # fmt: skip
