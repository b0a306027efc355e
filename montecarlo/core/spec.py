"""`RunSpec`: everything that determines the numbers of a run.

Two runs with equal RunSpecs give bit-identical estimates, standard errors and
intervals, whatever executor, worker count or task grouping computed them.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from typing import Any

from montecarlo.core.layout import MAX_REPLICATES, SAMPLERS, block_points, blocks_of, check_layout, is_stop_point
from montecarlo.core.sampling import BIT_GENERATORS, BITS, INTERVAL_METHODS, MAX_BITS, resolution_bits
from montecarlo.core.stopping import Stopping
from montecarlo.core.validate import check_bool, check_choice, check_count, check_int, check_level, check_levels
from montecarlo.errors import ValidationError

#: The confidence level and interval method of a run that names none (`montecarlo.run`'s defaults).
DEFAULT_CONFIDENCE = 0.95
DEFAULT_INTERVAL = "auto"


@dataclass(frozen=True)
class RunSpec:
    """What was asked for: the complete and only input of a run's numbers.

    Attributes
    ----------
    model : str
        Registered name or ``"package.module:function"``; for a function that
        cannot be imported by name (defined in ``__main__`` or a notebook)
        ``"<module>:<qualname>"`` (e.g. ``"__main__:simulate"``), kept for the record.
    params : dict
        Model parameters with defaults filled in.
    samples : int
        Total sample count; with stopping rules, the cap.
    entropy : int or None
        Root entropy of the run's SeedSequence. ``None`` (unseeded) means:
        draw fresh entropy from the OS when the run starts, or take it from
        the checkpoint being resumed; the result's spec holds the entropy used.
    spawn_key : tuple of int
        Spawn key prefix of the root SeedSequence (empty for a plain seed).
    bit_generator : str
    block_size, batch_size : int
        Samples per seeded block, and per model call inside a block.
    confidence : float
    interval : str
        Interval method; ``"auto"`` is Wilson for probability outputs and
        Student t otherwise.
    stop : Stopping
        Stopping rules, checked on the folded prefix after each block (no
        rules: exactly ``samples`` samples; with rules ``samples`` is the cap).
    sampler : str
        ``"random"`` (plain Monte Carlo), or ``"sobol"`` or ``"halton"``:
        scrambled points from ``scipy.stats.qmc`` (`montecarlo.core.layout`).
    replicates : int
        Independent randomizations of a quasi-random point set (1 with the
        random sampler). ``samples`` is ``replicates`` times the points per
        replicate, a power of two for Sobol'.

    quantiles, shortfall : tuple of float
        Levels of the quantiles and expected shortfalls reported for every
        output (sorted; empty: none).
    distribution : bool
        Keep every output's distribution (bucket counts and exact extremes,
        `montecarlo.stats.sketch`); implied by ``quantiles`` and ``shortfall``.
    quantile_bits : int
        The sketch's buckets are ``2**-quantile_bits`` of their value wide
        (7 to 20; by default finer as the run is longer:
        `montecarlo.core.sampling.resolution_bits`); 0 without a sketch.
        The three are written to files only when set, so the digest of a
        run that sets none is the digest of earlier releases. Likewise a
        random-sampler spec records neither ``sampler`` nor ``replicates``.
    model_record : Model or None
        The resolved model record, when the spec was made from it
        (`montecarlo.make_spec`): the spec and its model travel as one
        object. Not part of the numbers' definition: not compared, hashed or
        written (a spec read from a file resolves ``model`` when it runs).
    """

    model: str
    params: dict = field(default_factory=dict)
    samples: int = 1
    entropy: int | None = 0
    spawn_key: tuple = ()
    bit_generator: str = "sfc64"
    block_size: int = 1 << 16
    batch_size: int = 1 << 14
    confidence: float = DEFAULT_CONFIDENCE
    interval: str = DEFAULT_INTERVAL
    stop: Stopping = field(default_factory=Stopping)
    sampler: str = "random"
    replicates: int = 1
    quantiles: tuple[float, ...] = ()
    shortfall: tuple[float, ...] = ()
    distribution: bool = False
    quantile_bits: int = 0
    model_record: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # A RunSpec is checked whoever makes it (make_spec, or a file read
        # back): an invalid one cannot exist, so nothing runs from one.
        if not isinstance(self.model, str) or not self.model:
            raise ValidationError("model", self.model, "a model name or reference")
        if not isinstance(self.params, dict):
            raise ValidationError("params", self.params, "a mapping of parameter names to values")
        # A sequence parameter is a tuple; read back from JSON it is a list: one form, so equal specs compare equal.
        object.__setattr__(self, "params", {k: tuple(v) if isinstance(v, list) else v for k, v in self.params.items()})
        object.__setattr__(self, "samples", check_count(self.samples))
        if self.entropy is not None and (
            isinstance(self.entropy, bool) or not isinstance(self.entropy, int) or self.entropy < 0
        ):
            raise ValidationError("rng", self.entropy, "an integer >= 0 (the root entropy)")
        key = tuple(self.spawn_key)
        if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in key):
            raise ValidationError("spawn_key", self.spawn_key, "a list of integers >= 0")
        object.__setattr__(self, "spawn_key", key)
        check_choice(self.bit_generator, "bit_generator", BIT_GENERATORS)
        check_int(self.block_size, "block_size")
        check_int(self.batch_size, "batch_size")
        check_level(self.confidence)
        check_choice(self.interval, "interval", INTERVAL_METHODS)
        if not isinstance(self.stop, Stopping):
            raise ValidationError("stop", self.stop, "a montecarlo.Stopping")
        check_choice(self.sampler, "sampler", SAMPLERS)
        if self.sampler == "random":
            if self.replicates != 1:
                raise ValidationError(
                    "replicates", self.replicates, "1 with {sampler} random", "needs a quasi-random sampler"
                )
        else:
            check_int(self.replicates, "replicates", 2, MAX_REPLICATES)
            check_layout(self.sampler, self.samples, self.replicates, self.block_size, self.batch_size)
        object.__setattr__(self, "quantiles", check_levels(self.quantiles, "quantiles"))
        object.__setattr__(self, "shortfall", check_levels(self.shortfall, "shortfall"))
        wanted = check_bool(self.distribution, "distribution") or bool(self.quantiles or self.shortfall)
        object.__setattr__(self, "distribution", wanted)
        if wanted:  # the sketch's resolution: set by make_spec, else by the sample count
            bits = self.quantile_bits or resolution_bits(self.samples)
            object.__setattr__(self, "quantile_bits", check_int(bits, "quantile_bits", BITS, MAX_BITS))
        elif self.quantile_bits:
            raise ValidationError("quantile_bits", self.quantile_bits, "0 when no distribution is kept")

    def __hash__(self) -> int:
        return hash(self.digest())

    @property
    def blocks(self) -> int:
        """Number of blocks up to ``samples`` (the last of each replicate may be short)."""
        return blocks_of(self.samples, self.replicates, self.block_size)

    def block_samples(self, index: int) -> int:
        """Samples in block ``index``."""
        return block_points(index, self.samples, self.replicates, self.block_size)

    def is_stop_point(self, blocks: int) -> bool:
        """Whether estimates are taken and rules asked after ``blocks`` folded blocks (`montecarlo.core.layout`)."""
        return is_stop_point(self.sampler, blocks, self.replicates, self.block_size, self.samples)

    def to_dict(self) -> dict:
        """The JSON form (docs/json.md, "spec")."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model_record"}
        d["params"] = dict(self.params)
        d["spawn_key"] = list(self.spawn_key)
        d["stop"] = self.stop.to_dict()
        if self.sampler == "random":  # the form (and digest) of specs made before samplers existed
            del d["sampler"], d["replicates"]
        for name in ("quantiles", "shortfall", "distribution", "quantile_bits"):
            if d[name]:
                d[name] = list(d[name]) if name in ("quantiles", "shortfall") else d[name]
            else:
                del d[name]  # unset: the form (and the digest) of earlier releases
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        """The RunSpec back from its `to_dict` form (stopping rules by registered name only)."""
        known = set(cls.__dataclass_fields__) - {"model_record"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"RunSpec has no field(s) {sorted(unknown)}")
        d = dict(d)
        d["spawn_key"] = tuple(d.get("spawn_key", ()))
        d["params"] = dict(d.get("params", {}))
        d["stop"] = Stopping.from_dict(d.get("stop"))
        return cls(**d)

    def digest(self) -> str:
        """sha256 of the canonical JSON form."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
