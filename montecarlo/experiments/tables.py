"""The ``[sweep]`` and ``[expect]`` tables of an experiment file.

Both are checked against the model before anything runs; every problem is one
`ExperimentError` line naming the file, the table, the key and what is
accepted.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

from montecarlo.core.spec import RunSpec
from montecarlo.core.validate import did_you_mean
from montecarlo.errors import ExperimentError
from montecarlo.estimation.estimate import Estimate
from montecarlo.models.record import Model
from montecarlo.records.mlmc_result import MLMCResult
from montecarlo.records.result import Result
from montecarlo.reports.experiment_analyses import mlmc_estimate
from montecarlo.reports.text import printable

SWEEP_KEYS = ("mode", "common_random_numbers", "params")
#: Run settings a sweep may vary beside the model's parameters (a model parameter of the same name wins).
SWEEP_SETTINGS = ("sampler",)

SWEEP_MODES = ("grid", "zip")
EXPECT_KEYS = ("value", "tolerance")


def unknown(key: str, known: tuple[str, ...] | list[str], where: str, what: str = "key") -> ExperimentError:
    """An unknown key, with the closest known one."""
    return ExperimentError(f"{where}: unknown {what} `{key}`.{did_you_mean(key, known)} Accepted: {', '.join(known)}.")


def show(value: Any) -> str:
    """A value as the user wrote it, with its TOML type for clarity."""
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"


def label(swept: dict) -> str:
    """``strike=80.0, kind='call'`` (the names' control characters escaped, as the values' are by `repr`)."""
    return ", ".join(f"{printable(k)}={v!r}" for k, v in swept.items())


@dataclass(frozen=True)
class Sweep:
    """The ``[sweep]`` table: how parameters vary across points."""

    mode: str  # "grid" or "zip"
    common_random_numbers: bool
    values: dict  # parameter -> list of values, in file order

    def to_dict(self) -> dict:
        """The JSON form recorded in results."""
        return {"mode": self.mode, "common_random_numbers": self.common_random_numbers, "params": self.values}

    def combinations(self) -> list[dict]:
        """The swept values of each point: the cartesian product (last key fastest) or the zipped lists."""
        keys = list(self.values)
        lists = [self.values[k] for k in keys]
        rows = zip(*lists, strict=True) if self.mode == "zip" else itertools.product(*lists)
        return [dict(zip(keys, row, strict=True)) for row in rows]


@dataclass(frozen=True)
class Expectation:
    """A known value of one output at one point.

    It passes when it lies in the estimate's confidence interval widened by
    ``tolerance`` on each side.
    """

    output: str
    value: float | None  # None: the estimate's own exact value, known after the run
    source: str  # "exact" (the model's exact formula) or "given" (stated in the file)
    tolerance: float = 0.0

    def check(self, estimate: Estimate) -> dict:
        """Compare with an `Estimate`; a JSON-ready record of the outcome."""
        value = self.value if self.value is not None else estimate.exact
        lo, hi = estimate.interval
        ok = value is not None and lo - self.tolerance <= value <= hi + self.tolerance
        se = estimate.standard_error
        z = (estimate.estimate - value) / se if value is not None and se > 0 and math.isfinite(se) else None
        return {
            "output": self.output,
            "expected": value,
            "source": self.source,
            "tolerance": self.tolerance,
            "estimate": estimate.estimate,
            "interval": list(estimate.interval),
            "error_in_se": z,
            "passed": bool(ok),
        }


def estimate_named(result: Result | MLMCResult, name: str) -> Estimate:
    """The estimate ``name`` of a point's result: an output or derived estimate of a run, or a multilevel estimate."""
    return mlmc_estimate(result) if isinstance(result, MLMCResult) else result[name]


def checks(expect: tuple[Expectation, ...], result: Result | MLMCResult) -> tuple[dict, ...]:
    """The outcome of each expectation of a point against its result."""
    return tuple(e.check(estimate_named(result, e.output)) for e in expect)


def parse_sweep(
    table: Any, path: str, rec: Model, params: dict, settings: tuple[str, ...] = SWEEP_SETTINGS
) -> Sweep | None:
    """The ``[sweep]`` table, checked against the model and the fixed parameters.

    ``settings`` are the run settings a sweep may vary besides the model's
    parameters (the sampler; for a multilevel analysis, its options).
    """
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ExperimentError(
            f"{path}: `sweep` = {show(table)}; accepted: a table [sweep] with a [sweep.params] table."
        )
    for key in table:
        if key not in SWEEP_KEYS:
            raise unknown(key, SWEEP_KEYS, f"{path}: [sweep]")
    mode = table.get("mode", "grid")
    if mode not in SWEEP_MODES:
        raise ExperimentError(f"{path}: [sweep] `mode` = {show(mode)}; accepted: {', '.join(SWEEP_MODES)}.")
    crn = table.get("common_random_numbers", False)
    if not isinstance(crn, bool):
        raise ExperimentError(f"{path}: [sweep] `common_random_numbers` = {show(crn)}; accepted: true or false.")
    values = table.get("params")
    if not isinstance(values, dict) or not values:
        raise ExperimentError(
            f"{path}: [sweep] needs a [sweep.params] table of parameter = [values, ...], got {show(values)}."
        )
    names = [p.name for p in rec.params]
    names += [s for s in settings if s not in names]
    for key, vals in values.items():
        if key not in names:
            raise unknown(key, names or ["(the model has no parameters)"], f"{path}: [sweep.params]", "parameter")
        if key in params:
            raise ExperimentError(
                f"{path}: parameter `{key}` is both fixed ([params] or --param) and swept ([sweep.params]); "
                "accepted: one of the two."
            )
        if not isinstance(vals, list) or not vals:
            raise ExperimentError(
                f"{path}: [sweep.params] `{key}` = {show(vals)}; accepted: a non-empty list of values."
            )
    if mode == "zip":
        lengths = {k: len(v) for k, v in values.items()}
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{k} has {n}" for k, n in lengths.items())
            raise ExperimentError(
                f'{path}: [sweep] mode = "zip" needs lists of equal length; {shown} values '
                '(use mode = "grid" for every combination).'
            )
    return Sweep(mode, crn, {k: list(v) for k, v in values.items()})


def parse_entry(out: str, entry: Any, path: str, index: int, npoints: int) -> tuple[float | str, float]:
    """One ``[expect]`` entry at point ``index``: ``(value, tolerance)``, the value a number or ``"exact"``."""
    tolerance: Any = 0.0
    value = entry
    if isinstance(entry, dict):
        for key in entry:
            if key not in EXPECT_KEYS:
                raise unknown(key, EXPECT_KEYS, f"{path}: [expect.{out}]")
        if "value" not in entry:
            raise ExperimentError(
                f'{path}: [expect.{out}] needs `value` (a number, a list per sweep point, or "exact").'
            )
        value, tolerance = entry["value"], entry.get("tolerance", 0.0)
        if (
            isinstance(tolerance, bool)
            or not isinstance(tolerance, (int, float))
            or not tolerance >= 0
            or not math.isfinite(tolerance)
        ):
            raise ExperimentError(f"{path}: [expect.{out}] `tolerance` = {show(tolerance)}; accepted: a number >= 0.")
    if isinstance(value, list):
        if len(value) != npoints:
            raise ExperimentError(
                f"{path}: [expect] `{out}` has {len(value)} values for {npoints} sweep point(s); "
                'accepted: one number, "exact", or one number per point.'
            )
        value = value[index]
    if value == "exact":
        return "exact", float(tolerance)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ExperimentError(
            f'{path}: [expect] `{out}` = {show(value)}; accepted: a number, "exact", '
            "a list of one number per sweep point, or a table {value = ..., tolerance = ...}."
        )
    return float(value), float(tolerance)


def expect_table(table: Any, path: str) -> dict:
    """The ``[expect]`` table itself (empty when absent)."""
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ExperimentError(f"{path}: `expect` = {show(table)}; accepted: a table [expect] of output = value.")
    return table


def parse_expect(table: Any, path: str, rec: Model, spec: RunSpec, index: int, npoints: int) -> tuple[Expectation, ...]:
    """The expectations of point ``index`` from the ``[expect]`` table."""
    outs = list(rec.estimate_names)
    result = []
    for out, entry in expect_table(table, path).items():
        if out not in outs:
            raise unknown(out, outs, f"{path}: [expect]", f"output of model {rec.name!r}")
        value, tolerance = parse_entry(out, entry, path, index, npoints)
        if value == "exact":
            _check_exact(rec, out, spec, index, path)
            # Resolved from the run's own Estimate.exact, which also covers
            # derived and control-variate estimates.
            result.append(Expectation(out, None, "exact", tolerance))
            continue
        assert isinstance(value, float)
        result.append(Expectation(out, value, "given", tolerance))
    return tuple(result)


def _check_exact(rec: Model, out: str, spec: RunSpec, index: int, path: str) -> None:
    """Fail at load time when ``out = "exact"`` cannot have an exact value."""
    if out in rec.output_names:
        try:
            exact = rec.exact_values(spec.params)
        except Exception as exc:  # the formula's own domain error
            raise ExperimentError(
                f'{path}: [expect] `{out}` = "exact": the exact value of model {rec.name!r} failed at point '
                f"{index} ({type(exc).__name__}: {exc})."
            ) from None
        if out not in exact:
            raise ExperimentError(
                f'{path}: [expect] `{out}` = "exact", but model {rec.name!r} has no exact value for it; '
                "accepted: a number."
            )
        return
    for d in rec.derived:
        if d.name == out and d.exact is None:
            raise ExperimentError(
                f'{path}: [expect] `{out}` = "exact", but the derived quantity {out!r} of model {rec.name!r} '
                "has no exact value; accepted: a number."
            )
