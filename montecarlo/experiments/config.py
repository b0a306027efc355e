"""Experiment files: the TOML format, its validation and the points of a sweep.

An experiment file names a model, its parameters and the run settings; an
optional ``[sweep]`` table varies parameters and an optional ``[expect]`` table
states known values. `load_experiment` turns one file (plus command-line
overrides) into an `Experiment`: every point's `RunSpec` is built and checked
before anything runs, and every problem is reported as one `ExperimentError`
line naming the file (or the command line), the key, the value and what is
accepted.

The run settings are the shared option vocabulary (`montecarlo.core.vocabulary`):
the keys of a file are the options of ``mc run``. The reference of every key
is docs/experiments.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from montecarlo.core.execution import Execution
from montecarlo.core.multilevel import MultilevelSpec
from montecarlo.core.seeding import fresh_entropy
from montecarlo.core.spec import RunSpec
from montecarlo.core.vocabulary import BY_KEY, BY_NAME, file_message, run_arguments
from montecarlo.errors import ExperimentError, FileProblem, ModelNotFoundError, ParameterError, ValidationError
from montecarlo.experiments.analysis import (
    SENSITIVITY,
    every_key,
    expectations,
    kind_of,
    layout_record,
    point_spec,
    refuse_foreign,
    sensitivity_layout,
)
from montecarlo.experiments.tables import Expectation, Sweep, label, parse_sweep, show, unknown
from montecarlo.models.record import Model
from montecarlo.models.registry import load_model
from montecarlo.records.files import MAX_TEXT_BYTES
from montecarlo.records.files import read_text as read_file

#: Experiment names become folder names.
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def known_keys() -> tuple[str, ...]:
    """Every top-level key of an experiment file: its own keys, the analyses' own, then the run settings."""
    return every_key()


@dataclass(frozen=True)
class Point:
    """One run of an experiment: its index, the swept parameter values, its RunSpec."""

    index: int
    swept: dict
    spec: RunSpec | MultilevelSpec  # a MultilevelSpec for analysis = "mlmc"
    expect: tuple[Expectation, ...] = ()

    def label(self) -> str:
        """``strike=80.0`` (``-`` without a sweep)."""
        return label(self.swept) or "-"


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
    execution: Execution = field(default_factory=Execution)
    overrides: dict = field(default_factory=dict)
    #: No seed was given: the entropy was drawn fresh (a resumed sweep takes the one it recorded).
    fresh_seed: bool = False
    #: The result's ``analysis`` entry: None for plain runs, else ``{"name": "sensitivity" | "mlmc", ...}``.
    analysis: dict | None = None
    #: Command-line keys this file's analysis does not take, left out for it (``--samples`` for an mlmc file).
    ignored: tuple[str, ...] = ()

    @property
    def sha256(self) -> str:
        """sha256 of the file's text."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    @property
    def has_expectations(self) -> bool:
        """Whether any point has an expected value."""
        return any(p.expect for p in self.points)


def read_text(path: str) -> str:
    """The text of an experiment file (a regular file of at most 1 MiB), or a one-line `ExperimentError`."""
    if not os.path.lexists(path):
        raise ExperimentError(f"{path}: no such file.")
    if os.path.isdir(path):
        raise ExperimentError(f"{path}: is a directory; accepted: a TOML experiment file.")
    try:
        return read_file(path, MAX_TEXT_BYTES)
    except FileProblem as exc:
        raise ExperimentError(f"{path}: it {exc}; accepted: a TOML experiment file.") from None


def parse_toml(text: str, path: str) -> dict:
    """Parse TOML, turning a syntax error into ``FILE:LINE:COLUMN: message``."""
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ExperimentError(f"{path}: invalid TOML: nested too deeply.") from None
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        # Python 3.11's TOMLDecodeError carries the position only in its text.
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", msg)
        if m:
            raise ExperimentError(f"{path}:{m.group(1)}:{m.group(2)}: invalid TOML: {msg[: m.start()]}.") from None
        raise ExperimentError(f"{path}: invalid TOML: {msg}.") from None


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
    return build(data, path=path, text=text, overrides=dict(overrides or {}))


def build(data: dict, *, path: str, text: str, overrides: dict) -> Experiment:
    """Validate parsed TOML plus overrides into an `Experiment` (see `load_experiment`)."""
    keys = known_keys()
    for key in overrides:
        if key not in keys:
            raise unknown(key, keys, "command line")
    for key in data:
        if key not in keys:
            raise unknown(key, keys, path)
    kind = kind_of({**data, **overrides}, "command line" if "analysis" in overrides else path)
    for key in data:
        if key not in kind.keys:
            raise refuse_foreign(kind, key, path)
    # One command line may serve files of every kind: a key this kind does not take is left out for it.
    ignored = tuple(k for k in overrides if k not in kind.keys)
    overrides = {k: v for k, v in overrides.items() if k not in ignored}
    cli_params = dict(overrides.get("params") or {})
    merged = {**data, **{k: v for k, v in overrides.items() if k != "params"}}

    def where(key: str) -> str:
        return "command line" if key in overrides else path

    def text_key(key: str, accepted: str, default: str) -> str:
        value = merged.get(key, default)
        if not isinstance(value, str):
            raise ExperimentError(f"{where(key)}: `{key}` = {show(value)}; accepted: {accepted}.")
        return value

    stem = os.path.splitext(os.path.basename(path))[0]
    name = text_key("name", "a name of letters, digits, '_', '.' and '-'", stem)
    if not NAME_PATTERN.match(name):
        raise ExperimentError(
            f"{where('name')}: `name` = {name!r}; accepted: up to 100 letters, digits, '_', '.' and '-' "
            "(it names a folder)."
        )
    description = text_key("description", "a string", "")
    if "model" not in merged:
        raise ExperimentError(
            f"{path}: missing key `model`; accepted: a built-in model name (see `mc list`) or 'package.module:function'."
        )
    try:
        reference = text_key("model", "a model name or 'package.module:function'", "")
        # A path in the file is relative to the file's folder; one on the command line, to the working one.
        folder = os.getcwd() if "model" in overrides else os.path.dirname(os.path.abspath(path))
        rec = _load_anchored(reference, folder)
        params = merged.get("params", {})
        if not isinstance(params, dict):
            raise ExperimentError(f"{where('params')}: `params` = {show(params)}; accepted: a table [params].")
        params = {**params, **cli_params}
        # (a sensitivity analysis's `tolerance` is its own: every index's half-width)
        own = ("tolerance",) if kind is SENSITIVITY else ()
        values = {o.name: merged[key] for key, o in BY_KEY.items() if key in merged and key not in own}
        args = run_arguments(values)
        # One entropy for the whole experiment: sweep points differ by spawn key only.
        entropy: int = args.spec["rng"] if args.spec.get("rng") is not None else fresh_entropy()
        layout = sensitivity_layout(rec, merged, path) if kind is SENSITIVITY else None
        sweep = parse_sweep(merged.get("sweep"), path, rec, params, kind.sweep_settings)
        combos = sweep.combinations() if sweep is not None else [{}]
        points = []
        names = {p.name for p in rec.params}
        for i, swept in enumerate(combos):
            # A swept run setting (the sampler: plain against randomized QMC) goes to the sampling options.
            settings = {k: v for k, v in swept.items() if k in kind.sweep_settings and k not in names}
            for k in settings:
                if k in merged:
                    raise ExperimentError(
                        f"{path}: `{k}` is both set and swept ([sweep.params]); accepted: one of the two."
                    )
            varied = {k: v for k, v in swept.items() if k not in settings}
            try:
                spec = point_spec(kind, rec, args, merged, entropy, {**params, **varied}, settings, path)
            except ValidationError as exc:
                if swept and _file_key(exc) in swept:
                    shown = exc if isinstance(exc, ParameterError) else file_message(exc)
                    raise ExperimentError(f"{path}: [sweep] point {i} ({label(swept)}): {shown}") from None
                raise
            if sweep is not None and not sweep.common_random_numbers:
                # Point i draws block b from SeedSequence(entropy, spawn_key=(i, b)).
                spec = dataclasses.replace(spec, spawn_key=(*spec.spawn_key, i))
            # record the bound values (an integer 80 given for a float parameter is 80.0)
            bound = {k: getattr(spec, k) if k in settings else spec.params[k] for k in swept}
            points.append(Point(i, bound, spec))
        model = points[0].spec.model_record if kind is SENSITIVITY else rec
        points = [
            dataclasses.replace(p, expect=expectations(kind, merged.get("expect"), path, model, p.spec, i, len(combos)))
            for i, p in enumerate(points)
        ]
    except ExperimentError:
        raise
    except ValidationError as exc:
        raise ExperimentError(f"{_origin(exc, overrides, cli_params, path)}: {file_message(exc)}") from None
    return Experiment(
        path=path,
        text=text,
        name=name,
        description=description,
        model=model,
        points=tuple(points),
        sweep=sweep,
        # The cache is off unless asked for (`cache = true`, --cache): a fingerprint cannot see
        # the files a model opens. An interrupted sweep resumes from its result folder instead.
        execution=args.execution,
        overrides=overrides,
        fresh_seed=args.spec.get("rng") is None,
        analysis=layout_record(layout) if layout is not None else None if kind.name is None else {"name": kind.name},
        ignored=ignored,
    )


def anchored(reference: str, folder: str) -> str:
    """``reference`` with a relative ``path/to/file.py`` made absolute against ``folder``.

    An experiment file's model paths are relative to the file's own folder,
    never to the working directory, so ``mc experiment run`` gives the same
    model from any folder. ``ANALYSIS(REFERENCE)`` anchors its inner reference.
    """
    derived = re.fullmatch(r"([A-Za-z_]\w*)\((.+)\)", reference)
    if derived is not None:
        return f"{derived.group(1)}({anchored(derived.group(2), folder)})"
    module, sep, attr = reference.rpartition(":")
    if not sep or not module.endswith(".py") or os.path.isabs(os.path.expanduser(module)):
        return reference
    return f"{os.path.normpath(os.path.join(folder, module))}:{attr}"


def _load_anchored(reference: str, folder: str) -> Model:
    """The model of ``reference`` anchored at ``folder``; an error shows the reference as written."""
    resolved = anchored(reference, folder)
    try:
        return load_model(resolved)
    except ModelNotFoundError as exc:
        if resolved != reference:
            exc.value = reference
            exc.problem = f"{exc.problem.replace(folder + os.sep, '')} (a path relative to {folder})"
        raise


def _file_key(exc: ValidationError) -> str:
    """The key (or parameter) a `ValidationError` names, as a file spells it."""
    option = None if isinstance(exc, ParameterError) else BY_NAME.get(exc.argument)
    return option.file_key or exc.argument if option is not None else exc.argument


def _origin(exc: ValidationError, overrides: dict, cli_params: dict, path: str) -> str:
    """Whether a bad value came from the command line or the file."""
    if isinstance(exc, ParameterError):
        return "command line" if exc.argument in cli_params else path
    keys = {o.name: key for key, o in BY_KEY.items()}
    return "command line" if keys.get(exc.argument, exc.argument) in overrides else path
