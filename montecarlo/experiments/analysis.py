"""What an experiment file's ``analysis`` key changes: its keys, the spec of a point, its ``[expect]`` table.

An experiment is loaded, run, recorded, shown and reproduced by one
mechanism (`montecarlo.experiments.config`, `.runner`, `.record`,
`.reproduce`); a `Kind` says what differs between plain runs and each
analysis:

- ``None`` (no ``analysis`` key): plain runs of the model, one `RunSpec`
  per point (`montecarlo.make_spec`);
- ``"sensitivity"``: Sobol' indices, one run of ``"sensitivity(MODEL)"``
  per point, its `RunSpec` built by
  `montecarlo.analyses.sensitivity.sensitivity_spec`;
- ``"mlmc"``: multilevel Monte Carlo, one `MultilevelSpec` per point, built
  by `montecarlo.analyses.mlmc.make_mlmc_spec`.

The validation is the library's own; the keys are the option vocabulary's
(`montecarlo.core.vocabulary.ANALYSIS_OPTIONS`). docs/experiments.md,
"Analyses", is the reference.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from montecarlo.analyses.mlmc import make_mlmc_spec
from montecarlo.analyses.sensitivity import sensitivity_spec
from montecarlo.analyses.sensitivity_model import Layout, layout_of
from montecarlo.api import make_spec
from montecarlo.core.multilevel import MultilevelSpec
from montecarlo.core.spec import DEFAULT_CONFIDENCE, RunSpec
from montecarlo.core.vocabulary import ANALYSIS_OPTIONS, BY_KEY, BY_NAME, MLMC_OPTIONS, RunOptions
from montecarlo.errors import ExperimentError
from montecarlo.experiments.tables import (
    SWEEP_SETTINGS,
    Expectation,
    expect_table,
    parse_entry,
    parse_expect,
    show,
    unknown,
)
from montecarlo.models.levels import limit_value
from montecarlo.models.record import Model, exact_value
from montecarlo.reports.experiment_analyses import MLMC_ESTIMATE

#: The values of the ``analysis`` key.
ANALYSES = ("sensitivity", "mlmc")
#: Keys of every experiment file that are not run settings.
OWN_KEYS = ("name", "description", "model", "analysis", "params", "sweep", "expect")
#: Keys only a sensitivity experiment takes beside the vocabulary's.
SENSITIVITY_KEYS = ("second_order",)
#: The ``[expect]`` entry of a sensitivity experiment: every index against the model's exact one.
INDICES = "indices"


def _file_keys(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for n in names if (k := BY_NAME[n].file_key) is not None)


@dataclass(frozen=True)
class Kind:
    """What an experiment of one analysis (or of plain runs) accepts and builds.

    Attributes
    ----------
    name : str or None
        The ``analysis`` value; None for plain runs.
    settings : tuple of str
        The run-setting keys it takes (the vocabulary's file keys), its own
        keys (``second_order``) included.
    sweep_settings : tuple of str
        Settings a ``[sweep]`` may vary beside the model's parameters.
    """

    name: str | None
    settings: tuple[str, ...]
    sweep_settings: tuple[str, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        """Every top-level key a file of this kind may hold."""
        return OWN_KEYS + self.settings

    @property
    def title(self) -> str:
        """How messages name the kind: ``analysis = "mlmc"``, or plain runs."""
        return "plain runs (no `analysis` key)" if self.name is None else f'analysis = "{self.name}"'


PLAIN = Kind(None, tuple(k for k, o in BY_KEY.items() if o.group != "mlmc"), SWEEP_SETTINGS)
SENSITIVITY = Kind("sensitivity", _file_keys(ANALYSIS_OPTIONS["sensitivity"]) + SENSITIVITY_KEYS, ("sampler",))
MLMC = Kind("mlmc", _file_keys(ANALYSIS_OPTIONS["mlmc"]), tuple(o.name for o in MLMC_OPTIONS))
KINDS = {None: PLAIN, "sensitivity": SENSITIVITY, "mlmc": MLMC}


def every_key() -> tuple[str, ...]:
    """Every top-level key of any experiment file: its own keys, the analyses' own, then the run settings."""
    return OWN_KEYS + SENSITIVITY_KEYS + tuple(BY_KEY)


def kind_of(merged: dict, where: str) -> Kind:
    """The `Kind` the ``analysis`` key asks for (one line naming the value and what is accepted if it is none)."""
    value = merged.get("analysis")
    if value is None or value in ANALYSES:
        return KINDS[value]
    accepted = ", ".join(f'"{a}"' for a in ANALYSES)
    raise ExperimentError(
        f"{where}: `analysis` = {show(value)}; accepted: {accepted}, or no `analysis` key for plain runs."
    )


def refuse_foreign(kind: Kind, key: str, where: str) -> ExperimentError:
    """A key that exists, but not for ``kind``: which kinds take it, and what this one accepts."""
    owners = [k.title for k in (PLAIN, SENSITIVITY, MLMC) if key in k.keys and k is not kind]
    return ExperimentError(
        f"{where}: `{key}` is a key of {' and '.join(owners)}, not of {kind.title}; accepted: {', '.join(kind.keys)}."
    )


def point_spec(
    kind: Kind, rec: Model, args: RunOptions, merged: dict, entropy: int, params: dict, settings: dict, path: str
) -> RunSpec | MultilevelSpec:
    """The spec of one point: the library builds and checks it (a `ValidationError` names the option)."""
    sampling = args.spec["sampling"]
    if "sampler" in settings:
        sampling = dataclasses.replace(sampling, sampler=settings["sampler"])
    confidence = args.spec.get("confidence", DEFAULT_CONFIDENCE)
    if kind is SENSITIVITY:
        return sensitivity_spec(
            rec, args.spec.get("samples"), rng=entropy, params=params, sampling=sampling,
            tolerance=merged.get("tolerance"), confidence=confidence, second_order=_second(merged, path),
        )  # fmt: skip
    if kind is MLMC:
        options = {**args.mlmc, **settings}
        if "rmse" not in options:
            raise ExperimentError(
                f"{path}: missing key `rmse`; accepted: the target root mean squared error of {kind.title}, "
                "a number > 0 such as 0.01 (or a list of them in [sweep.params])."
            )
        return make_mlmc_spec(
            rec, options.pop("rmse"), rng=entropy, params=params, bit_generator=sampling.bit_generator,
            confidence=confidence, **options,
        )  # fmt: skip
    return make_spec(rec, **{**args.spec, "rng": entropy, "params": params, "sampling": sampling})


def _second(merged: dict, path: str) -> bool:
    value = merged.get("second_order", False)
    if not isinstance(value, bool):
        raise ExperimentError(f"{path}: `second_order` = {show(value)}; accepted: true or false.")
    return value


def sensitivity_layout(rec: Model, merged: dict, path: str) -> Layout:
    """The outputs and inputs of a sensitivity analysis of ``rec`` (a `ValidationError` if it declares no inputs)."""
    return layout_of(rec, _second(merged, path))


def expectations(
    kind: Kind, table: Any, path: str, model: Model, spec: Any, index: int, npoints: int
) -> tuple[Expectation, ...]:
    """The expectations of point ``index`` from the file's ``[expect]`` table, for ``kind``.

    ``model`` is the points' model (for a sensitivity analysis, the derived
    model, whose derived estimates are the indices).
    """
    if kind is PLAIN:
        return parse_expect(table, path, model, spec, index, npoints)
    entries = expect_table(table, path)
    name = INDICES if kind is SENSITIVITY else MLMC_ESTIMATE
    for key in entries:
        if key != name:
            raise unknown(key, [name], f"{path}: [expect] of {kind.title}", "entry")
    if name not in entries:
        return ()
    value, tolerance = parse_entry(name, entries[name], path, index, npoints)
    if kind is MLMC:
        if value != "exact":
            return (Expectation(name, float(value), "given", tolerance),)
        if model.levels is None or limit_value(model.levels, spec.params) is None:
            raise ExperimentError(
                f'{path}: [expect] `{name}` = "exact", but level model {model.name!r} knows no exact limit '
                f"at point {index}; accepted: a number."
            )
        return (Expectation(name, None, "exact", tolerance),)
    if value != "exact":
        raise ExperimentError(
            f'{path}: [expect] `{name}` = {show(value)}; accepted: "exact" (every index against the model\'s '
            'exact one), or {value = "exact", tolerance = T}.'
        )
    known = []
    for d in model.derived:  # the indices, each with the exact value the model declares (if any)
        exact = exact_value(d.exact, spec.params)
        if exact is not None:
            known.append(Expectation(d.name, exact, "exact", tolerance))
    if not known:
        raise ExperimentError(
            f'{path}: [expect] `{name}` = "exact", but model {model.name!r} declares no exact Sobol\' indices '
            f"(at point {index}); accepted: a model that does, such as ishigami or sobol_g, or no [expect]."
        )
    return tuple(known)


def layout_record(layout: Layout) -> dict:
    """The ``analysis`` entry of a sensitivity experiment's result: what reading its points back needs."""
    return {
        "name": "sensitivity",
        "second_order": layout.second,
        "outputs": list(layout.outputs),
        "inputs": list(layout.inputs),
    }
