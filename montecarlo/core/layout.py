"""The layout of a randomized quasi-Monte Carlo run: replicates, points per replicate, blocks.

A run with a quasi-random sampler (``"sobol"`` or ``"halton"``) draws ``R``
independent randomizations (replicates) of one low-discrepancy point set and
takes the first ``m`` points of each, so ``samples = R m``. Its blocks
interleave the replicates: global block ``g`` is block ``b = g // R`` of
replicate ``r = g % R`` and holds that replicate's points
``b·block_size .. min((b + 1)·block_size, m) - 1``. After ``R (b + 1)``
folded blocks every replicate therefore holds the same number of points,
which is where estimates are taken and stopping rules asked (for Sobol'
points only where that number is a power of two: their balance properties
hold for ``2^k`` consecutive points from index 0, Owen, "On dropping the
first Sobol' point", 2020).

With the plain ``"random"`` sampler ``R = 1`` and the formulas reduce to the
single sequence of blocks of `montecarlo.core.spec.RunSpec`.
"""

from __future__ import annotations

from montecarlo.errors import ValidationError

#: Point sets a run may draw, by the name its RunSpec records: the bit
#: generator's stream (plain Monte Carlo), or scrambled Sobol' or Halton
#: points from ``scipy.stats.qmc`` (randomized quasi-Monte Carlo).
SAMPLERS = ("random", "sobol", "halton")
#: The quasi-random samplers.
QUASI = ("sobol", "halton")
#: Replicates of a quasi-random run when none are asked for: a t interval
#: with 15 degrees of freedom (QMCPy's ``CubQMCRepStudentT`` uses 16 too).
DEFAULT_REPLICATES = 16
MAX_REPLICATES = 1024
#: Bits of scipy's Sobol' generator (its default): at most 2^30 points per
#: replicate. Fixed here so that the points never depend on scipy's default.
SOBOL_BITS = 30
MAX_SOBOL_POINTS = 1 << SOBOL_BITS
#: Largest default block of a quasi-random run: stopping rules are asked
#: after whole rounds of blocks, the first time when every replicate holds
#: one block, so blocks stay small enough for an early first check (2^20
#: samples with 16 replicates); a worker keeps each replicate's generator
#: between blocks, so small blocks cost little.
QUASI_BLOCK_SIZE = 1 << 16


def is_power_of_two(n: int) -> bool:
    """Whether ``n`` is 1, 2, 4, 8, ..."""
    return n > 0 and n & (n - 1) == 0


def power_of_two_at_least(n: int) -> int:
    """The smallest power of two >= ``n`` (``n >= 1``)."""
    return 1 << (n - 1).bit_length()


def power_of_two_at_most(n: int) -> int:
    """The largest power of two <= ``n`` (``n >= 1``)."""
    return 1 << (n.bit_length() - 1)


def points_per_replicate(samples: int, replicates: int, sampler: str) -> int:
    """Points each replicate takes for a request of ``samples`` in all.

    ``ceil(samples / replicates)``, and for Sobol' points the next power of
    two at or above it: a run never takes fewer points than asked.
    """
    m = -(-samples // replicates)
    return power_of_two_at_least(m) if sampler == "sobol" else m


def total_samples(sampler: str, replicates: int, samples: int) -> int:
    """The samples a run takes when ``samples`` are asked for: ``replicates`` x `points_per_replicate`."""
    return samples if sampler == "random" else replicates * points_per_replicate(samples, replicates, sampler)


def default_block_size(sampler: str, model_block_size: int) -> int:
    """A quasi-random run's block size when none is given: the model's, at most `QUASI_BLOCK_SIZE`.

    A power of two for Sobol'. It does not depend on the sample count, so
    that ``mc extend`` of a run equals the run of the larger count (as for
    plain runs); a replicate with fewer points is one short block.
    """
    size = min(model_block_size, QUASI_BLOCK_SIZE)
    return power_of_two_at_most(size) if sampler == "sobol" else size


def rounding_note(requested: int, samples: int, sampler: str, replicates: int) -> str:
    """How a quasi-random run's sample count came from the one asked for, in words."""
    m = samples // replicates
    head = f"{sampler}: {replicates} replicates x {m:,} points = {samples:,} samples"
    if samples == requested:
        return head
    if samples < requested:
        return f"{head} (the cap {requested:,} lowered to 2^{SOBOL_BITS} points per replicate)"
    how = "a power of two per replicate" if sampler == "sobol" else "a multiple of the replicates"
    return f"{head} ({requested:,} asked for, rounded up to {how})"


def check_layout(sampler: str, samples: int, replicates: int, block_size: int, batch_size: int) -> None:
    """Raise `ValidationError` unless the counts make a valid quasi-random run."""
    if samples % replicates:
        raise ValidationError(
            "samples", samples, f"a multiple of {{replicates}} = {replicates}", "does not split into equal replicates"
        )
    m = samples // replicates
    if sampler != "sobol":
        return
    if not is_power_of_two(m):
        raise ValidationError(
            "samples", samples, f"{{replicates}} = {replicates} times a power of two, with {{sampler}} sobol",
            f"gives {m} points per replicate",
        )  # fmt: skip
    if m > MAX_SOBOL_POINTS:
        raise ValidationError(
            "samples", samples, f"at most 2^{SOBOL_BITS} = {MAX_SOBOL_POINTS:,} points per replicate "
            "(more replicates take more points)", f"gives {m:,} points per replicate",
        )  # fmt: skip
    for name, value in (("block_size", block_size), ("batch_size", batch_size)):
        if not is_power_of_two(value):
            raise ValidationError(name, value, "a power of two with {sampler} sobol (the balance of Sobol' points)")


def blocks_of(samples: int, replicates: int, block_size: int) -> int:
    """Blocks of a run: ``replicates`` times the blocks of one replicate (the last may be short)."""
    return replicates * -(-(samples // replicates) // block_size)


def block_points(index: int, samples: int, replicates: int, block_size: int) -> int:
    """Samples in global block ``index``."""
    return min(block_size, samples // replicates - (index // replicates) * block_size)


def is_stop_point(sampler: str, blocks: int, replicates: int, block_size: int, samples: int) -> bool:
    """Whether estimates and stopping rules may be taken after ``blocks`` folded blocks.

    Always with the random sampler; with a quasi-random one where every
    replicate holds the same number of points, a power of two for Sobol'.
    """
    if replicates == 1 and sampler == "random":
        return True
    if blocks % replicates:
        return False
    held = min(blocks // replicates * block_size, samples // replicates)
    return held > 0 and (sampler != "sobol" or is_power_of_two(held))
