"""Experiment files: the TOML format, its validation and the points of a sweep.

An experiment file names a model, its parameters and the run settings; an
optional ``[sweep]`` table varies parameters and an optional ``[expect]`` table
states known values. `load_experiment` turns one file (plus command-line
overrides) into an `Experiment`: every point's `RunSpec` is built and checked
before anything runs, and every problem is reported as one `ExperimentError`
line naming the file, the key, the value and what is accepted.

The reference of every key is docs/experiments.md.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import inspect
import itertools
import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from montecarlo.executors import EXECUTORS
from montecarlo.model import Model, ParameterError, load_model
from montecarlo.seeding import fresh_entropy
from montecarlo.spec import RunSpec


class ExperimentError(ValueError):
    """A bad experiment file or override; the message is one line."""


#: Keys of an experiment file that are not settings of the run itself.
OWN_KEYS = ("name", "description", "model", "seed", "params", "sweep", "expect", "workers", "executor")
SWEEP_KEYS = ("mode", "common_random_numbers", "params")
SWEEP_MODES = ("grid", "zip")
EXPECT_KEYS = ("value", "tolerance")
#: Experiment names become folder names.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def spec_keys() -> tuple[str, ...]:
    """Run settings a file may give: every argument of `montecarlo.api.make_spec`
    except those with their own key (``model``, ``params``; ``seed`` is ``rng``).

    Read from the signature so that a setting added to `make_spec` (a stopping
    rule, say) is a valid key of experiment files with no change here.
    """
    from montecarlo.api import make_spec

    skip = {"model", "rng", "params"}
    return tuple(p for p in inspect.signature(make_spec).parameters if p not in skip)


def known_keys() -> tuple[str, ...]:
    return OWN_KEYS + spec_keys()


# --------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """A known value of one output at one point: pass when it lies in the
    estimate's confidence interval widened by ``tolerance`` on each side."""

    output: str
    value: float | None  # None: the estimate's own exact value, known after the run
    source: str  # "exact" (the model's exact formula) or "given" (stated in the file)
    tolerance: float = 0.0

    def check(self, estimate: Any) -> dict:
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


@dataclass(frozen=True)
class Point:
    """One run of an experiment: its index, the swept parameter values, its RunSpec."""

    index: int
    swept: dict
    spec: RunSpec
    expect: tuple[Expectation, ...] = ()

    def label(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.swept.items()) or "-"


@dataclass(frozen=True)
class Sweep:
    mode: str  # "grid" or "zip"
    common_random_numbers: bool
    values: dict  # parameter -> list of values, in file order

    def to_dict(self) -> dict:
        return {"mode": self.mode, "common_random_numbers": self.common_random_numbers, "params": self.values}


@dataclass(frozen=True)
class Experiment:
    """A validated experiment file: everything needed to run it, nothing run yet."""

    path: str
    text: str
    name: str
    description: str
    model: Model
    points: tuple[Point, ...]
    sweep: Sweep | None = None
    workers: int | None = None
    executor: str = "processes"
    overrides: dict = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def has_expectations(self) -> bool:
        return any(p.expect for p in self.points)


# --------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------


def read_text(path: str) -> str:
    """The text of an experiment file, or a one-line `ExperimentError`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ExperimentError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise ExperimentError(f"{path}: is a directory; accepted: a TOML experiment file.") from None
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot read ({exc.strerror}).") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExperimentError(f"{path}: not UTF-8 text (byte {exc.start}); accepted: a TOML experiment file.") from None


def parse_toml(text: str, path: str) -> dict:
    """Parse TOML, turning a syntax error into ``FILE:LINE:COLUMN: message``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        # Python 3.11's TOMLDecodeError carries the position only in its text.
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", msg)
        if m:
            return _raise(f"{path}:{m.group(1)}:{m.group(2)}: invalid TOML: {msg[: m.start()]}.")
        return _raise(f"{path}: invalid TOML: {msg}.")


def _raise(msg: str) -> Any:
    raise ExperimentError(msg)


def _unknown(key: str, known: tuple[str, ...] | list[str], where: str, what: str = "key") -> ExperimentError:
    hint = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    did = f" Did you mean `{hint[0]}`?" if hint else ""
    return ExperimentError(f"{where}: unknown {what} `{key}`.{did} Accepted: {', '.join(known)}.")


def load_experiment(path: str, overrides: Mapping[str, Any] | None = None) -> Experiment:
    """Read, validate and plan one experiment file.

    Parameters
    ----------
    path : str
        The TOML file.
    overrides : dict, optional
        Values that replace the file's (from the command line): any top-level
        key, and ``params`` as a dict merged into the file's ``[params]``.
        They are recorded in the result's provenance.

    Returns
    -------
    Experiment

    Raises
    ------
    ExperimentError
        For any problem, with a one-line message naming the file and the key.
    """
    text = read_text(path)
    data = parse_toml(text, path)
    overrides = dict(overrides or {})
    return build(data, path=path, text=text, overrides=overrides)


def build(data: dict, *, path: str, text: str, overrides: dict) -> Experiment:
    """Validate parsed TOML plus overrides into an `Experiment` (see `load_experiment`)."""
    keys = known_keys()
    for key in overrides:
        if key not in keys:
            raise _unknown(key, keys, "command line")
    for key in data:
        if key not in keys:
            raise _unknown(key, keys, path)
    cli_params = overrides.get("params") or {}
    merged = {**data, **{k: v for k, v in overrides.items() if k != "params"}}

    def where(key: str) -> str:
        return "command line" if key in overrides else path

    def typed(key: str, kinds: tuple[type, ...], accepted: str, default: Any = None) -> Any:
        if key not in merged:
            return default
        value = merged[key]
        if isinstance(value, bool) and bool not in kinds or not isinstance(value, kinds):
            raise ExperimentError(f"{where(key)}: `{key}` = {_show(value)}; accepted: {accepted}.")
        return value

    stem = os.path.splitext(os.path.basename(path))[0]
    name = typed("name", (str,), "a name of letters, digits, '_', '.' and '-'", stem)
    if not NAME_PATTERN.match(name):
        raise ExperimentError(
            f"{where('name')}: `name` = {name!r}; accepted: letters, digits, '_', '.' and '-' (it names a folder)."
        )
    description = typed("description", (str,), "a string", "")
    if "model" not in merged:
        raise ExperimentError(
            f"{path}: missing key `model`; accepted: a built-in model name (see `mc list`) or 'package.module:function'."
        )
    ref = typed("model", (str,), "a built-in model name (see `mc list`) or 'package.module:function'")
    try:
        rec = load_model(ref)
    except LookupError as exc:
        raise ExperimentError(f"{where('model')}: `model`: {_plain(exc)}") from None

    workers = typed("workers", (int,), "an integer >= 1")
    if workers is not None and workers < 1:
        raise ExperimentError(f"{where('workers')}: `workers` = {workers}; accepted: an integer >= 1.")
    executor = typed("executor", (str,), ", ".join(EXECUTORS), "processes")
    if executor not in EXECUTORS:
        raise ExperimentError(f"{where('executor')}: `executor` = {executor!r}; accepted: {', '.join(EXECUTORS)}.")

    seed = merged.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise ExperimentError(f"{where('seed')}: `seed` = {_show(seed)}; accepted: an integer >= 0.")
    # One entropy for the whole experiment: sweep points differ by spawn key only.
    entropy = fresh_entropy() if seed is None else seed

    params = typed("params", (dict,), "a table of model parameters, [params]", {})
    params = {**params, **cli_params}
    sweep = _sweep(merged.get("sweep"), path, rec, params)
    settings = {k: merged[k] for k in spec_keys() if k in merged}

    combos = _combinations(sweep)
    base_specs = []
    for i, swept in enumerate(combos):
        try:
            spec, _ = _make_spec(rec, {**params, **swept}, entropy, settings)
        except (ParameterError, ValueError, TypeError) as exc:
            at = f"[sweep] point {i} ({_label(swept)})" if swept and isinstance(exc, ParameterError) else ""
            origin = "command line" if _blame_cli(exc, overrides, cli_params) else path
            raise ExperimentError(f"{origin}: {at + ': ' if at else ''}{_plain(exc)}") from None
        if sweep is not None and not sweep.common_random_numbers:
            # Point i draws block b from SeedSequence(entropy, spawn_key=(i, b)).
            spec = dataclasses.replace(spec, spawn_key=(*spec.spawn_key, i))
        # record the bound values (an integer 80 given for a float parameter is 80.0)
        base_specs.append((i, {k: spec.params[k] for k in swept}, spec))

    expect_table = merged.get("expect")
    points = tuple(
        Point(i, swept, spec, _expectations(expect_table, path, rec, spec, i, len(combos)))
        for i, swept, spec in base_specs
    )
    return Experiment(
        path=path,
        text=text,
        name=name,
        description=description,
        model=rec,
        points=points,
        sweep=sweep,
        workers=workers,
        executor=executor,
        overrides=overrides,
    )


def _make_spec(rec: Model, params: dict, entropy: int, settings: dict) -> tuple[RunSpec, Model]:
    from montecarlo.api import make_spec

    return make_spec(rec, rng=entropy, params=params, **settings)


def _blame_cli(exc: BaseException, overrides: dict, cli_params: dict) -> bool:
    """Whether the failing value came from the command line (by the name in the message)."""
    msg = str(exc)
    names = [k for k in overrides if k != "params"] + list(cli_params)
    return any(f"`{n}`" in msg for n in names)


def _sweep(table: Any, path: str, rec: Model, params: dict) -> Sweep | None:
    if table is None:
        return None
    if not isinstance(table, dict):
        raise ExperimentError(
            f"{path}: `sweep` = {_show(table)}; accepted: a table [sweep] with a [sweep.params] table."
        )
    for key in table:
        if key not in SWEEP_KEYS:
            raise _unknown(key, SWEEP_KEYS, f"{path}: [sweep]")
    mode = table.get("mode", "grid")
    if mode not in SWEEP_MODES:
        raise ExperimentError(f"{path}: [sweep] `mode` = {_show(mode)}; accepted: {', '.join(SWEEP_MODES)}.")
    crn = table.get("common_random_numbers", False)
    if not isinstance(crn, bool):
        raise ExperimentError(f"{path}: [sweep] `common_random_numbers` = {_show(crn)}; accepted: true or false.")
    values = table.get("params")
    if not isinstance(values, dict) or not values:
        raise ExperimentError(
            f"{path}: [sweep] needs a [sweep.params] table of parameter = [values, ...], got {_show(values)}."
        )
    names = [p.name for p in rec.params]
    for key, vals in values.items():
        if key not in names:
            raise _unknown(key, names or ["(the model has no parameters)"], f"{path}: [sweep.params]", "parameter")
        if key in params:
            raise ExperimentError(
                f"{path}: parameter `{key}` is both fixed ([params] or --param) and swept ([sweep.params]); "
                "accepted: one of the two."
            )
        if not isinstance(vals, list) or not vals:
            raise ExperimentError(
                f"{path}: [sweep.params] `{key}` = {_show(vals)}; accepted: a non-empty list of values."
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


def _combinations(sweep: Sweep | None) -> list[dict]:
    """The swept values of each point: one empty dict without a sweep;
    the cartesian product (last key varies fastest) or the zipped lists."""
    if sweep is None:
        return [{}]
    keys = list(sweep.values)
    lists = [sweep.values[k] for k in keys]
    rows = zip(*lists, strict=True) if sweep.mode == "zip" else itertools.product(*lists)
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _expectations(
    table: Any, path: str, rec: Model, spec: RunSpec, index: int, npoints: int
) -> tuple[Expectation, ...]:
    if table is None:
        return ()
    if not isinstance(table, dict):
        raise ExperimentError(f"{path}: `expect` = {_show(table)}; accepted: a table [expect] of output = value.")
    outs = list(_estimate_names(rec))
    result = []
    for out, entry in table.items():
        if out not in outs:
            raise _unknown(out, outs, f"{path}: [expect]", f"output of model {rec.name!r}")
        tolerance: Any = 0.0
        value = entry
        if isinstance(entry, dict):
            for key in entry:
                if key not in EXPECT_KEYS:
                    raise _unknown(key, EXPECT_KEYS, f"{path}: [expect.{out}]")
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
                raise ExperimentError(
                    f"{path}: [expect.{out}] `tolerance` = {_show(tolerance)}; accepted: a number >= 0."
                )
        if isinstance(value, list):
            if len(value) != npoints:
                raise ExperimentError(
                    f"{path}: [expect] `{out}` has {len(value)} values for {npoints} sweep point(s); "
                    'accepted: one number, "exact", or one number per point.'
                )
            value = value[index]
        if value == "exact":
            _check_exact(rec, out, spec, index, path)
            # Resolved from the run's own Estimate.exact, which also covers
            # derived and control-variate estimates.
            result.append(Expectation(out, None, "exact", float(tolerance)))
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ExperimentError(
                f'{path}: [expect] `{out}` = {_show(value)}; accepted: a number, "exact", '
                "a list of one number per sweep point, or a table {{value = ..., tolerance = ...}}."
            )
        result.append(Expectation(out, float(value), "given", float(tolerance)))
    return tuple(result)


def _estimate_names(rec: Model) -> tuple[str, ...]:
    """Outputs, then derived and control-variate estimates (where the model has them)."""
    return tuple(getattr(rec, "estimate_names", rec.output_names))


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
    for d in getattr(rec, "derived", ()):
        if d.name == out and getattr(d, "exact", None) is None:
            raise ExperimentError(
                f'{path}: [expect] `{out}` = "exact", but the derived quantity {out!r} of model {rec.name!r} '
                "has no exact value; accepted: a number."
            )


def _label(swept: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in swept.items())


def _show(value: Any) -> str:
    """A value as the user wrote it, with its TOML type for clarity."""
    kind = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}.get(
        type(value), type(value).__name__
    )
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"


def _plain(exc: BaseException) -> str:
    """An exception's message without the class name KeyError adds quotes for."""
    return exc.args[0] if isinstance(exc, LookupError) and exc.args else str(exc)


__all__ = [
    "Experiment",
    "ExperimentError",
    "Expectation",
    "Point",
    "Sweep",
    "known_keys",
    "load_experiment",
]
