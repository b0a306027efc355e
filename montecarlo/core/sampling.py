"""`Sampling`: how a run's samples are drawn (part of its `RunSpec`, so it fixes the numbers).

A run's options are grouped by what they change: `Sampling` (here) and
`montecarlo.core.stopping.Stopping` are part of the RunSpec;
`montecarlo.core.execution.Execution` and
`montecarlo.core.execution.Checkpointing` say where and how blocks run and
where progress is saved, and never change a number. Each checks its fields
when it is made. The names of the fields are the shared option vocabulary
(`montecarlo.core.vocabulary`): the same word is the Python keyword, the
experiment-file key and, spelt ``--like-this``, the command-line option.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from montecarlo.core.layout import MAX_REPLICATES, SAMPLERS, is_power_of_two
from montecarlo.core.validate import check_bool, check_choice, check_int, check_levels, check_positive, suggest_keywords
from montecarlo.errors import ValidationError

#: numpy bit generators a run may use, by the name recorded in its RunSpec
#: (`montecarlo.core.seeding` maps them to classes).
BIT_GENERATORS = ("sfc64", "pcg64", "pcg64dxsm", "philox")
#: SFC64 is the fastest of the four on the π kernel (README, "Choice of bit
#: generator"); all four pass PractRand/BigCrush in numpy's own testing.
DEFAULT_BIT_GENERATOR = "sfc64"

#: Interval methods by name: "auto" is Wilson for probability outputs and
#: Student t for the others (`montecarlo.estimation.intervals.interval`).
INTERVAL_METHODS = ("auto", "t", "normal", "wilson", "clopper-pearson")

#: Samples of a run without stopping rules, when none are given.
DEFAULT_SAMPLES = 1_000_000
#: The cap of a run with stopping rules, when none is given: enough for π to
#: ±1e-4 at 95% (about 1.04e9 samples), reached in under a minute by the π
#: model on two cores.
DEFAULT_MAX_SAMPLES = 10**10


#: Mantissa bits that index a bucket: relative bucket width at most 2**-BITS (the coarsest resolution).
BITS = 7
#: The finest resolution: relative bucket width 2**-20 (about 1e-6).
MAX_BITS = 20
#: The finest resolution chosen by default (3e-5), which bounds the sketch's size whatever the sample count.
AUTO_MAX_BITS = 15


def resolution_bits(samples: int, resolution: float | None = None) -> int:
    """The bucket bits of a run of ``samples`` samples: ``resolution`` (a relative width) if given, else by ``samples``.

    The order-statistic interval of a quantile narrows like ``n**-0.5``;
    buckets must stay narrower than it, or the interval stops at one
    bucket. By default a bucket is about ``1 / (2 sqrt(n))`` of its value
    wide, between 2**-7 and 2**-15: ``ceil(log2(n) / 2) + 1`` bits (a
    finer ``resolution``, down to 2**-20, is the caller's choice: the
    sketch's size grows with it, up to a few million buckets).
    """
    if resolution is not None:
        return min(MAX_BITS, max(BITS, math.ceil(-math.log2(resolution))))
    return min(AUTO_MAX_BITS, max(BITS, math.ceil(math.log2(max(samples, 1)) / 2) + 1))


@suggest_keywords
@dataclass(frozen=True)
class Sampling:
    """How samples are drawn: part of the `RunSpec`, so it fixes the numbers.

    Parameters
    ----------
    bit_generator : {"sfc64", "pcg64", "pcg64dxsm", "philox"}
        numpy bit generator of every block's stream.
    block_size : int, optional
        Samples per seeded block (default: the model's).
    batch_size : int, optional
        Samples per call of the model inside a block (default: the model's,
        at most the block size).
    sampler : {"random", "sobol", "halton"}
        ``"random"`` (default) draws every block from the bit generator
        (plain Monte Carlo); ``"sobol"`` and ``"halton"`` evaluate the
        model's uniform form on scrambled low-discrepancy points
        (randomized quasi-Monte Carlo, `montecarlo.core.layout`).
    replicates : int, optional
        With a quasi-random sampler: independent randomizations of the
        point set (default 16); the interval is Student t on their means.

    quantiles, shortfall : float or sequence of float
        Report these quantiles of every output (distribution-free intervals)
        and expected shortfalls, the means above them (README, "Quantiles").
    distribution : bool
        Keep every output's distribution for `Result.histogram` and
        `Result.ecdf`; implied by the two above.
    quantile_resolution : float, optional
        Relative width of the distribution sketch's buckets, from 2^-20 to
        2^-7 (default: about ``1 / (2 sqrt(samples))``, at least 2^-15,
        `resolution_bits`). Quantile intervals never get narrower than a
        bucket; a finer sketch costs memory and time.

    Examples
    --------
    >>> Sampling(block_size=10_000).block_size
    10000
    >>> Sampling(sampler="sobol", replicates=8).replicates
    8
    >>> Sampling(quantiles=[0.99, 0.5]).quantiles
    (0.5, 0.99)
    """

    bit_generator: str = DEFAULT_BIT_GENERATOR
    block_size: int | None = None
    batch_size: int | None = None
    sampler: str = "random"
    replicates: int | None = None
    quantiles: tuple[float, ...] = ()
    shortfall: tuple[float, ...] = ()
    distribution: bool = False
    quantile_resolution: float | None = None

    @property
    def wants_sketch(self) -> bool:
        """Whether runs keep their outputs' distribution (asked for, or implied by quantiles or shortfall)."""
        return bool(self.distribution or self.quantiles or self.shortfall)

    def __post_init__(self) -> None:
        check_choice(self.bit_generator, "bit_generator", BIT_GENERATORS)
        object.__setattr__(self, "quantiles", check_levels(self.quantiles, "quantiles"))
        object.__setattr__(self, "shortfall", check_levels(self.shortfall, "shortfall"))
        check_bool(self.distribution, "distribution")
        if self.quantile_resolution is not None:
            r = check_positive(self.quantile_resolution, "quantile_resolution", "1e-5")
            if not 2.0**-MAX_BITS <= r <= 2.0**-BITS:
                raise ValidationError(
                    "quantile_resolution",
                    self.quantile_resolution,
                    "a relative bucket width from 2^-20 (9.5e-7) to 2^-7",
                )
            object.__setattr__(self, "quantile_resolution", r)
        for name in ("block_size", "batch_size"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, check_int(value, name))
        check_choice(self.sampler, "sampler", SAMPLERS)
        if self.replicates is not None:
            object.__setattr__(self, "replicates", check_int(self.replicates, "replicates", 2, MAX_REPLICATES))
            if self.sampler == "random":
                raise ValidationError(
                    "replicates", self.replicates, "a count together with {sampler} sobol or halton",
                    "needs a quasi-random sampler",
                )  # fmt: skip
        for name in ("block_size", "batch_size"):
            value = getattr(self, name)
            if self.sampler == "sobol" and value is not None and not is_power_of_two(value):
                raise ValidationError(name, value, "a power of two with {sampler} sobol (the balance of Sobol' points)")
