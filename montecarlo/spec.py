"""`RunSpec`: everything that determines the numbers of a run, and its validation.

Two runs with equal RunSpecs give bit-identical estimates, standard errors and
intervals, whatever executor, worker count or task grouping computed them.
"""

from __future__ import annotations

import decimal
import hashlib
import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from montecarlo.seeding import BIT_GENERATORS
from montecarlo.stats import INTERVAL_METHODS
from montecarlo.stopping import Stop

#: Largest sample count a run accepts (block indices and counts stay exact in
#: float64 arithmetic well past this).
MAX_SAMPLES = 10**15


def parse_count_text(text: str, *, allow_negative: bool = False) -> int:
    """``"1e9"``, ``"1_000_000"``, ``"1000000"`` -> int, exactly (no float rounding).

    Raises ValueError for anything that is not an integer written in decimal
    or scientific notation.
    """
    s = text.strip().replace("_", "")
    if not s or s.lower().lstrip("+-") in ("inf", "infinity", "nan", "snan"):
        raise ValueError(text)
    try:
        value = decimal.Decimal(s)
    except decimal.InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(text)
    if value.adjusted() > 30:  # keep int() cheap for absurd exponents
        raise ValueError(text)
    n = int(value)
    if n < 0 and not allow_negative:
        raise ValueError(text)
    return n


def to_jsonable(value: Any) -> Any:
    """Floats that are not finite become None: strict JSON has no inf/NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


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
    entropy : int
        Root entropy of the run's SeedSequence.
    spawn_key : tuple of int
        Spawn key prefix of the root SeedSequence (empty for a plain seed).
    bit_generator : str
    block_size, batch_size : int
        Samples per seeded block, and per model call inside a block.
    confidence : float
    interval : str
        Interval method; ``"auto"`` is Wilson for probability outputs and
        Student t otherwise.
    stop : Stop
        Stopping rules, checked on the folded prefix after each block (no
        rules: exactly ``samples`` samples).
    """

    model: str
    params: dict = field(default_factory=dict)
    samples: int = 1
    entropy: int = 0
    spawn_key: tuple = ()
    bit_generator: str = "sfc64"
    block_size: int = 1 << 16
    batch_size: int = 1 << 14
    confidence: float = 0.95
    interval: str = "auto"
    stop: Stop = field(default_factory=Stop)

    def __hash__(self) -> int:
        return hash(self.digest())

    @property
    def blocks(self) -> int:
        return -(-self.samples // self.block_size)

    def block_samples(self, index: int) -> int:
        return min(self.block_size, self.samples - index * self.block_size)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["spawn_key"] = list(self.spawn_key)
        d["stop"] = self.stop.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunSpec:
        known = set(cls.__dataclass_fields__)
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"RunSpec has no field(s) {sorted(unknown)}")
        d = dict(d)
        d["spawn_key"] = tuple(d.get("spawn_key", ()))
        d["params"] = dict(d.get("params", {}))
        d["stop"] = Stop.from_dict(d.get("stop"))
        return cls(**d)

    def digest(self) -> str:
        """sha256 of the canonical JSON form."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------
# validation: one place, messages name the argument, the value and what is accepted
# --------------------------------------------------------------------------


def check_samples(samples: Any, name: str = "samples") -> int:
    """An exact integer count in [1, MAX_SAMPLES]; strings such as "1e9" or "1_000" are parsed.

    ``name=""`` leaves the argument name out of messages (the CLI names the option itself).
    """
    label = f"`{name}` = {samples!r}" if name else repr(samples)
    if isinstance(samples, str):
        try:
            samples = parse_count_text(samples, allow_negative=True)
        except ValueError:
            raise ValueError(
                f"{label} is not an integer; accepted: an integer >= 1 such as 1000000, 1_000_000 or 1e6."
            ) from None
    if isinstance(samples, float) and samples.is_integer():
        samples = int(samples)
    if isinstance(samples, bool) or not isinstance(samples, int):
        raise TypeError(f"{label} is not an integer; accepted: an integer >= 1.")
    if samples < 1:
        raise ValueError(f"{label} is not accepted; accepted: an integer >= 1.")
    if samples > MAX_SAMPLES:
        raise ValueError(f"{label} is too large; accepted: an integer >= 1 and at most {MAX_SAMPLES:.0e}.")
    return samples


def check_positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` = {value!r} must be an integer >= 1.")
    return value


def check_confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 < value < 1.0):
        raise ValueError(f"`confidence` = {value!r} must be a number strictly between 0 and 1, such as 0.95.")
    return float(value)


def check_choice(value: Any, name: str, choices) -> str:
    if value not in choices:
        raise ValueError(f"`{name}` = {value!r} is not one of: {', '.join(choices)}.")
    return value


def check_bit_generator(value: Any) -> str:
    return check_choice(value, "bit_generator", tuple(BIT_GENERATORS))


def check_interval(value: Any) -> str:
    return check_choice(value, "interval", INTERVAL_METHODS)
