"""One option vocabulary for the API, the command line and experiment files.

Every setting of a run has one name: the Python keyword (of `montecarlo.run`
or of the option object that holds it), the key of an experiment file, and
-- spelt ``--like-this`` -- the command-line option. `OPTIONS` lists them with
their help text; the CLI builds its options from it and experiment files
accept its keys. Validation happens once, in the option objects and
`montecarlo.make_spec`, and raises `montecarlo.errors.ValidationError` naming
the option; `cli_name` and `file_name` say how each entry point shows it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from montecarlo.core.execution import EXECUTORS, MAX_WORKERS, Checkpointing, Execution
from montecarlo.core.layout import DEFAULT_REPLICATES, MAX_REPLICATES, SAMPLERS
from montecarlo.core.multilevel import MultilevelSpec
from montecarlo.core.sampling import BIT_GENERATORS, DEFAULT_MAX_SAMPLES, DEFAULT_SAMPLES, INTERVAL_METHODS, Sampling
from montecarlo.core.spec import RunSpec
from montecarlo.core.stopping import Stopping
from montecarlo.core.validate import check_count, check_int, check_level, check_positive, did_you_mean
from montecarlo.errors import ParameterError, ValidationError

#: Where an option's value goes: a keyword of `montecarlo.make_spec`, a field of an option object, or
#: (``"mlmc"``) a keyword of `montecarlo.mlmc` that only a multilevel run takes (its `MultilevelSpec` field).
GROUPS = ("spec", "sampling", "stopping", "execution", "checkpoint", "mlmc")

#: Help sections of ``mc run --help``, by group.
SECTIONS = {
    "spec": "Sampling",
    "sampling": "Sampling",
    "stopping": "Precision targets and budgets",
    "execution": "Execution",
    "checkpoint": "Recovery",
    "mlmc": "Multilevel Monte Carlo",
}


def _e(n: int) -> str:
    """``1e6`` for 1000000: how help shows a power of ten."""
    return f"1e{len(str(n)) - 1}" if str(n).rstrip("0") == "1" else f"{n:,}"


@dataclass(frozen=True)
class Option:
    """One setting of a run, as every entry point names it.

    Attributes
    ----------
    name : str
        The Python keyword (and field of its option object).
    group : str
        One of `GROUPS`: where the value goes.
    metavar : str
        The value's placeholder on the command line.
    help : str
        One line of help.
    short : str
        A one-letter command-line alias (``"-n"``), or ``""``.
    flag : str
        The command-line option, ``--`` plus the name with ``-`` for ``_``
        unless given.
    key : str or None
        The experiment-file key (the name unless given); None when files
        cannot set it.
    field : str
        The option object's field, when it differs from ``name``.
    choices : tuple of str
        Accepted values, listed in help and completed by the shell.
    multiple : bool
        Repeatable on the command line (a list in a file).
    is_flag : bool
        A command-line switch.
    kind : str
        How command-line text becomes a value: ``"count"``, ``"int"``,
        ``"int0"`` (>= 0), ``"number"`` (> 0), ``"level"``, ``"float"`` (any
        number, checked where the value goes) or ``"text"``.
    accepted : str
        What the command line and files accept, when the Python keyword
        accepts more (a seed: an integer, not a Generator).
    example : str
        A typical value of a ``"number"``, for messages.
    high : int or None
        The largest value of an ``"int"``, when there is one.
    shown : str
        How help shows the default, where no option object (nor the
        RunSpec) defines it as a value: ``"the model's"``.
    """

    name: str
    group: str
    metavar: str
    help: str
    short: str = ""
    flag: str = ""
    key: str | None = ""
    field: str = ""
    choices: tuple[str, ...] = ()
    multiple: bool = False
    is_flag: bool = False
    kind: str = "text"
    accepted: str = ""
    example: str = "1e-3"
    high: int | None = None
    low: int | None = None
    shown: str = ""

    @property
    def default(self) -> Any:
        """The default, where the option object (or the `RunSpec`) that holds the option defines one; else None."""
        owners = {"spec": RunSpec, "sampling": Sampling, "execution": Execution, "checkpoint": Checkpointing,
                  "mlmc": MultilevelSpec}  # fmt: skip
        owner = owners.get(self.group)
        found = {f.name: f.default for f in fields(owner)} if owner is not None else {}
        value = found.get(self.field or self.name, MISSING)
        return None if value is MISSING else value

    @property
    def help_text(self) -> str:
        """The help, ending with the default as ``[default: ...]`` (taken from where the default is defined)."""
        value = self.default
        if self.shown or value in (None, False, (), ""):
            shown = self.shown
        else:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        return f"{self.help}  [default: {shown}]" if shown else self.help

    @property
    def cli(self) -> str:
        """The long command-line option."""
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def file_key(self) -> str | None:
        """The experiment-file key, or None."""
        return self.name if self.key == "" else self.key

    def parse(self, text: str) -> Any:
        """The value of command-line ``text`` (a `ValidationError` naming the option if it is none)."""
        if self.kind == "count":
            return check_count(text, self.name)
        if self.kind in ("int", "int0"):
            low = self.low if self.low is not None else 1 if self.kind == "int" else 0
            return check_int(text, self.name, low=low, high=self.high)
        if self.kind == "number":
            return check_positive(text, self.name, self.example)
        if self.kind == "level":
            return check_level(text, self.name)
        if self.kind == "float":
            try:
                return float(text)
            except ValueError:
                raise ValidationError(self.name, text, self.accepted or f"a number, such as {self.example}") from None
        return text


OPTIONS: tuple[Option, ...] = (
    Option("samples", "spec", "N", "Total samples: 1e9, 1_000_000 or 1000000; with a stopping rule, the cap "
           "(as --max-samples).", short="-n", kind="count",
           shown=f"{_e(DEFAULT_SAMPLES)}; {_e(DEFAULT_MAX_SAMPLES)} with a stopping rule"),
    Option("rng", "spec", "SEED", "Root seed, an integer >= 0.", short="-s", flag="--seed", key="seed",
           kind="int0", accepted="an integer >= 0", shown="fresh OS entropy, printed and recorded"),
    Option("confidence", "spec", "LEVEL", "Confidence level of the intervals, strictly between 0 and 1.",
           short="-c", kind="level"),
    Option("interval", "spec", "METHOD", "Interval method: auto is Wilson for probability outputs, Student t "
           "otherwise; wilson and clopper-pearson apply to probability outputs.", choices=INTERVAL_METHODS),
    Option("bit_generator", "sampling", "NAME", "numpy bit generator of the block streams.",
           choices=tuple(BIT_GENERATORS)),
    Option("block_size", "sampling", "N", "Samples per seeded block (part of the RunSpec).", kind="int",
           shown="the model's"),
    Option("batch_size", "sampling", "N", "Samples per model call inside a block.", kind="int", shown="the model's"),
    Option("sampler", "sampling", "NAME", "Points: random (plain Monte Carlo), or scrambled sobol or halton points "
           "(randomized quasi-Monte Carlo; -n is rounded up to R x a power of two for sobol).", choices=SAMPLERS),
    Option("replicates", "sampling", "R", "With --sampler sobol or halton: independent randomizations; the "
           "interval is Student t on their R means.", kind="int", low=2, high=MAX_REPLICATES,
           shown=str(DEFAULT_REPLICATES)),
    Option("quantiles", "sampling", "Q", "Also estimate the Q-quantile of every output, with a distribution-free "
           "interval (repeatable).", flag="--quantile", multiple=True),
    Option("shortfall", "sampling", "LEVEL", "Also estimate the expected shortfall (mean above the "
           "LEVEL-quantile) of every output (repeatable).", multiple=True),
    Option("quantile_resolution", "sampling", "R", "Relative width of the distribution sketch's buckets, "
           "between 2^-20 and 2^-7 (finer: narrower quantile intervals, a larger sketch).", kind="number",
           shown="1/(2 sqrt(N)), at least 2^-15", example="1e-5"),
    Option("distribution", "sampling", "", "Keep every output's distribution for histograms and ECDFs "
           "(implied by --quantile and --shortfall).", is_flag=True),
    Option("tolerance", "stopping", "ABS", "Stop when the interval half-width is <= ABS (checked after each "
           "block, in block order).", kind="number"),
    Option("rtol", "stopping", "REL", "Stop when the half-width is <= REL x |estimate| (with --tolerance: "
           "whichever is met first).", kind="number", example="1e-4"),
    Option("target", "stopping", "OUTPUT", "Output the precision target applies to (repeatable; @derived: every "
           "derived estimate).", multiple=True,
           shown="every output"),
    Option("min_samples", "stopping", "N", "Check precision targets only from N samples on (limits the bias "
           "of early stopping).", kind="count"),
    Option("max_samples", "stopping", "N", "The cap of a stopping run (same as --samples).", kind="count",
           shown=_e(DEFAULT_MAX_SAMPLES)),
    Option("kurtosis_bound", "stopping", "K", "With --tolerance: the two-stage rule, guaranteed if every output's "
           "excess kurtosis is at most K (a pilot bounds sigma; fresh blocks give the mean).", kind="number",
           example="10"),
    Option("time_limit", "stopping", "SECONDS", "Stop after SECONDS of wall time; the stopping point is then "
           "not reproducible (flagged).", kind="number", example="60"),
    Option("executor", "execution", "NAME", "Where blocks run; the numbers are identical for all.",
           choices=EXECUTORS),
    Option("workers", "execution", "N", "Parallel workers.", short="-w", kind="int", high=MAX_WORKERS,
           shown="all cores"),
    Option("scheduler", "execution", "ADDRESS", "With --executor dask: a running scheduler, tcp://HOST:8786.",
           shown="a LocalCluster"),
    Option("retries", "execution", "N", "Times dead worker processes are replaced before the run fails.",
           kind="int0"),
    Option("cache", "execution", "", "Reuse a finished run of the same RunSpec and model from the cache, and "
           "store this one (`mc cache info`); a file the model reads is not part of the key.", is_flag=True,
           shown="off"),
    Option("checkpoint", "checkpoint", "FILE", "Save progress to FILE (JSON, atomic) every few seconds and on "
           "exit.", key=None, field="path"),
    Option("resume", "checkpoint", "", "Continue the run saved in --checkpoint FILE (the seed is taken from "
           "the file if not given).", key=None, is_flag=True),
    Option("checkpoint_every", "checkpoint", "SECONDS", "Seconds between checkpoint writes.", key=None,
           field="every", kind="number", example="5"),
    Option("rmse", "mlmc", "EPS", "Target root mean squared error of the estimate (required).", kind="number",
           example="0.01"),
    Option("theta", "mlmc", "THETA", "Share of EPS**2 allowed to the squared bias (Giles' mlmc.m), strictly "
           "between 0 and 1.", kind="float", accepted="a number strictly between 0 and 1, such as 0.25"),
    Option("max_cost", "mlmc", "C", "Budget in model units: stop before a round that would spend more (the "
           "result says so).", kind="number", example="1e8", shown="none"),
    Option("max_level", "mlmc", "L", "The finest level the algorithm may add.", kind="int"),
    Option("block_cost", "mlmc", "UNITS", "Model units per block on every level (part of the numbers).",
           kind="int"),
    Option("initial_samples", "mlmc", "N", "Samples first taken on levels 0, 1 and 2 (whole blocks).",
           kind="count"),
)  # fmt: skip

#: The options only a multilevel run takes (`montecarlo.mlmc`, ``mc mlmc``, ``analysis = "mlmc"``).
MLMC_OPTIONS: tuple[Option, ...] = tuple(o for o in OPTIONS if o.group == "mlmc")

BY_NAME: dict[str, Option] = {o.name: o for o in OPTIONS}

#: Experiment-file key -> option.
BY_KEY: dict[str, Option] = {o.file_key: o for o in OPTIONS if o.file_key is not None}

#: The options each analysis takes, by name: those of ``mc sensitivity`` and ``mc mlmc`` (beside an analysis's
#: own flags such as ``--second-order``) and the keys of an experiment file with that ``analysis``.
ANALYSIS_OPTIONS: dict[str, tuple[str, ...]] = {
    "sensitivity": ("samples", "rng", "confidence", "bit_generator", "block_size", "batch_size", "sampler",
                    "replicates", "tolerance", "executor", "workers", "scheduler", "retries", "cache", "checkpoint",
                    "resume", "checkpoint_every"),
    "mlmc": ("rng", "confidence", "bit_generator", "executor", "workers", "scheduler", "retries", "checkpoint",
             "resume", "checkpoint_every", *(o.name for o in MLMC_OPTIONS)),
}  # fmt: skip


@dataclass(frozen=True)
class RunOptions:
    """Every option of a run as checked objects, from a command line or a file.

    Attributes
    ----------
    spec : dict
        The keywords of `montecarlo.make_spec`: ``samples``, ``rng``,
        ``params``, ``confidence``, ``interval``, ``stopping`` and
        ``sampling`` (the option objects).
    execution : Execution
    checkpoint : Checkpointing or None
    mlmc : dict
        The keywords only `montecarlo.mlmc` takes (``rmse``, ``theta`` ...),
        as given.
    """

    spec: dict[str, Any]
    execution: Execution
    checkpoint: Checkpointing | None
    mlmc: dict[str, Any] = field(default_factory=dict)


def run_arguments(values: Mapping[str, Any]) -> RunOptions:
    """The options of a run from flat option values (a command line, a file).

    ``values`` maps option names to values (None or absent: not given;
    ``params`` to a dict of model parameters). The option objects are built
    and checked here, once: a bad value raises `ValidationError` naming its
    option.
    """
    given = {k: v for k, v in values.items() if v is not None and v != () and v is not False}
    for name in given:
        if name != "params" and name not in BY_NAME:
            raise TypeError(f"unknown option `{name}`.{did_you_mean(name, BY_NAME)}")
    groups: dict[str, dict[str, Any]] = {g: {} for g in GROUPS}
    for name, value in given.items():
        if name == "params":
            continue
        option = BY_NAME[name]
        if isinstance(value, str):
            value = option.parse(value)
        groups[option.group][option.field or name] = value
    spec = groups["spec"]
    checkpoint = groups["checkpoint"]
    if checkpoint and "path" not in checkpoint:
        name = next(n for n in given if n in BY_NAME and BY_NAME[n].group == "checkpoint")
        shown = None if BY_NAME[name].is_flag else given[name]
        raise ValidationError(name, shown, "{checkpoint} FILE as well", "needs a checkpoint file")
    keywords = {
        **spec,
        "params": dict(given.get("params") or {}),
        "stopping": Stopping(**groups["stopping"]),
        "sampling": Sampling(**groups["sampling"]),
    }
    ckpt = Checkpointing(**checkpoint) if checkpoint else None
    return RunOptions(keywords, Execution(**groups["execution"]), ckpt, groups["mlmc"])


def cli_name(error: ValidationError) -> str:
    """How the command line names the argument of ``error``: ``--samples`` or ``-p sigma``."""
    if isinstance(error, ParameterError):
        return f"-p {error.argument}"
    option = BY_NAME.get(error.argument)
    return option.cli if option is not None else f"`{error.argument}`"


def _as_typed(error: ValidationError) -> ValidationError:
    """``error`` with what text accepts, where the Python keyword accepts more; a repeated option's values as typed."""
    option = BY_NAME.get(error.argument)
    if option is None or isinstance(error, ParameterError):
        return error
    if option.multiple and isinstance(error.value, (tuple, list)) and all(isinstance(v, str) for v in error.value):
        error = ValidationError(error.argument, " ".join(error.value), error.accepted, error.problem)
    if not option.accepted:
        return error
    return ValidationError(error.argument, error.value, option.accepted, error.problem)


def cli_message(error: ValidationError) -> str:
    """``error`` as the command line shows it: ``--samples 0 is not accepted; accepted: ...``."""
    if isinstance(error, ParameterError):
        value = error.value if isinstance(error.value, str) else repr(error.value)
        return f"-p {error.argument}={value} {error.problem}; accepted: {error.accepted}."
    return _as_typed(error).format(cli_name(error), lambda other: BY_NAME[other].cli if other in BY_NAME else other)


def file_message(error: ValidationError) -> str:
    """``error`` as an experiment file shows it, with the file's key in backquotes."""
    if isinstance(error, ParameterError):
        return error.format()
    option = BY_NAME.get(error.argument)
    key = option.file_key if option is not None and option.file_key else error.argument
    return _as_typed(error).format(
        f"`{key}`", lambda other: f"`{BY_NAME[other].file_key or other}`" if other in BY_NAME else other
    )
