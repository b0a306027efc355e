"""`MultilevelSpec`: everything that determines the numbers of a multilevel Monte Carlo run.

A multilevel run (`montecarlo.mlmc`, docs/mlmc.md) is a sequence of
ordinary runs of a level model, one per level, each extended by whole
blocks as Giles' algorithm asks for more samples. Level ``l`` is the
`RunSpec` `MultilevelSpec.level_spec` makes: the model with
``level = l`` among its parameters, seeded from
``SeedSequence(entropy, spawn_key=(*spawn_key, l))``, so that block ``b`` of
level ``l`` draws from spawn key ``(*spawn_key, l, b)``. Its blocks cost the
same on every level: ``max(MIN_BLOCK_SAMPLES, floor(block_cost / C_l))``
samples, ``C_l`` being the cost of one sample of level ``l`` in model units.

Two multilevel runs with equal specs take the same decisions (levels, sample
counts) and give bit-identical numbers, whatever executor, worker count or
task order computed their blocks, and whether they were interrupted and
resumed.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, fields
from typing import Any

from montecarlo.core.sampling import BIT_GENERATORS, DEFAULT_BIT_GENERATOR
from montecarlo.core.spec import RunSpec
from montecarlo.core.validate import check_choice, check_int, check_level, check_positive
from montecarlo.errors import ValidationError

#: Samples per block on every level at least (fine levels cost more than a block's share).
MIN_BLOCK_SAMPLES = 16
#: Model units per block (about 4096 fine time steps: see docs/mlmc.md, "Blocks").
DEFAULT_BLOCK_COST = 1 << 12
#: Samples taken on each of levels 0, 1 and 2 before any decision (rounded up to whole blocks), as Giles' N0.
DEFAULT_INITIAL_SAMPLES = 200
#: Giles' mlmc.m splits the mean squared error: variance (1 - theta) eps^2, squared bias theta eps^2.
DEFAULT_THETA = 0.25
#: The finest level the algorithm may add (Giles' Lmax).
DEFAULT_MAX_LEVEL = 10
#: Levels 0 .. MIN_LEVEL start the run (Giles' Lmin).
MIN_LEVEL = 2
#: The largest max_level accepted: a level's block holds ``MIN_BLOCK_SAMPLES`` samples of ``C_l`` units each.
MAX_LEVEL = 40


@dataclass(frozen=True)
class MultilevelSpec:
    """What a multilevel run was asked for: the complete and only input of its numbers.

    Attributes
    ----------
    model : str
        The level model's registered name or reference.
    params : dict
        Its parameters (defaults filled in) except ``level``, which each level sets.
    rmse : float
        The target root mean squared error ``eps`` of the estimate.
    entropy : int or None
        Root entropy; None: drawn from the OS when the run starts (or taken
        from the checkpoint it resumes).
    spawn_key : tuple of int
        Spawn key prefix; level ``l`` runs under ``(*spawn_key, l)``.
    theta : float
        The share of ``eps**2`` allowed to the squared bias (Giles' mlmc.m: 0.25).
    bit_generator : str
    block_cost : int
        Model units per block (each level's block size follows from it).
    initial_samples : int
        Samples first taken on levels 0, 1 and 2 (rounded up to whole blocks).
    max_level : int
        The finest level the algorithm may add.
    max_cost : float or None
        A budget in model units: the run stops before a round that would
        spend more (its result says so).
    confidence : float
        Confidence level of the interval of the estimate.
    model_record : Model or None
        The resolved model record (not part of the numbers' definition).
    """

    model: str
    params: dict
    rmse: float
    entropy: int | None = None
    spawn_key: tuple = ()
    theta: float = DEFAULT_THETA
    bit_generator: str = DEFAULT_BIT_GENERATOR
    block_cost: int = DEFAULT_BLOCK_COST
    initial_samples: int = DEFAULT_INITIAL_SAMPLES
    max_level: int = DEFAULT_MAX_LEVEL
    max_cost: float | None = None
    confidence: float = 0.95
    model_record: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValidationError("model", self.model, "a model name or reference")
        if not isinstance(self.params, dict):
            raise ValidationError("params", self.params, "a mapping of parameter names to values")
        object.__setattr__(self, "rmse", check_positive(self.rmse, "rmse", "0.01"))
        if self.entropy is not None and (
            isinstance(self.entropy, bool) or not isinstance(self.entropy, int) or self.entropy < 0
        ):
            raise ValidationError("rng", self.entropy, "an integer >= 0 (the root entropy)")
        key = tuple(self.spawn_key)
        if not all(isinstance(k, int) and not isinstance(k, bool) and k >= 0 for k in key):
            raise ValidationError("spawn_key", self.spawn_key, "a list of integers >= 0")
        object.__setattr__(self, "spawn_key", key)
        theta = self.theta
        if isinstance(theta, bool) or not isinstance(theta, (int, float)) or not 0 < theta < 1:
            raise ValidationError("theta", theta, "a number strictly between 0 and 1, such as 0.25")
        object.__setattr__(self, "theta", float(theta))
        check_choice(self.bit_generator, "bit_generator", BIT_GENERATORS)
        check_int(self.block_cost, "block_cost")
        check_int(self.initial_samples, "initial_samples")
        check_int(self.max_level, "max_level", MIN_LEVEL, MAX_LEVEL)
        if self.max_cost is not None:
            object.__setattr__(self, "max_cost", check_positive(self.max_cost, "max_cost", "1e7"))
        check_level(self.confidence)

    def __hash__(self) -> int:
        return hash(self.digest())

    def block_size(self, cost: float) -> int:
        """Samples per block of a level whose samples cost ``cost`` model units: the same cost per block."""
        return max(MIN_BLOCK_SAMPLES, math.floor(self.block_cost / cost))

    def level_spec(self, level: int, cost: float, blocks: int) -> RunSpec:
        """The `RunSpec` of level ``level`` (samples of ``cost`` units each) holding ``blocks`` whole blocks.

        Its blocks are blocks ``0 .. blocks - 1`` of the level: more blocks
        extend the same run (`montecarlo.extend`'s promise).
        """
        size = self.block_size(cost)
        return RunSpec(
            model=self.model,
            params={**self.params, "level": level},
            samples=blocks * size,
            entropy=self.entropy,
            spawn_key=(*self.spawn_key, level),
            bit_generator=self.bit_generator,
            block_size=size,
            batch_size=size,
            confidence=self.confidence,
            model_record=self.model_record,
        )

    def to_dict(self) -> dict:
        """The JSON form (docs/json.md, "Multilevel result")."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model_record"}
        d["params"] = dict(self.params)
        d["spawn_key"] = list(self.spawn_key)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> MultilevelSpec:
        """The spec back from its `to_dict` form."""
        known = {f.name for f in fields(cls)} - {"model_record"}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"the multilevel spec has no field(s) {sorted(unknown)}")
        d = dict(d)
        d["spawn_key"] = tuple(d.get("spawn_key", ()))
        d["params"] = dict(d.get("params", {}))
        return cls(**d)

    def digest(self) -> str:
        """sha256 of the canonical JSON form."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()
