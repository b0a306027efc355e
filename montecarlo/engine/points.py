"""The worker side of a quasi-random run: blocks of scrambled Sobol' or Halton points.

Global block ``g`` is block ``b = g // R`` of replicate ``r = g % R``
(`montecarlo.core.layout`): the points ``b·block_size ..`` of replicate ``r``'s
point set, reached with ``fast_forward``. Replicate ``r`` is scrambled from
``SeedSequence(entropy, spawn_key=(*prefix, r))`` -- a key of the run, never
of a worker -- so its points, and every block's statistics, are the same on
any worker, in any order. The model's uniform form turns the points into
outcomes, checked like those of `montecarlo.engine.worker`.

scipy's Sobol' points are multiples of 2^-30 (``bits=30``): each scrambled
point is uniform on that grid, not on [0, 1), so a replicate would estimate
the grid average, off the integral by up to about (the integrand's jumps and
range) / 2^31 -- for the importance-sampling tail estimate that error, 1.6e-13,
is larger than its standard error from 2^16 points on. Each Sobol' point
therefore gets uniform random digits below 2^-30, drawn from a Philox stream
of the replicate whose counter is the point's index, so that they too depend
on the point alone, never on the blocks; every replicate is then an unbiased
estimate (Owen 1997 scrambles all digits).
"""

from __future__ import annotations

import dataclasses
import threading
import traceback
from dataclasses import dataclass
from typing import Any

import numpy as np

from montecarlo.core.layout import SOBOL_BITS
from montecarlo.core.seeding import block_rng
from montecarlo.core.spec import RunSpec
from montecarlo.engine.overflow import is_finite, overflow_error
from montecarlo.engine.worker import BlockJob, TaskBlocks, _check, _function, batch_fold, watched
from montecarlo.errors import ModelError
from montecarlo.models.record import Model
from montecarlo.models.uniforms import uniform_dimension
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.replicate_means import ReplicateCollector


@dataclass(frozen=True)
class PointJob:
    """What a worker needs to run any block of a quasi-random run (sent once per task).

    Attributes
    ----------
    base : BlockJob
        Its ``simulate`` is the model's uniform form (or its cloudpickle),
        its ``collectors`` hold the `montecarlo.stats.replicate_means.ReplicateCollector`.
    sampler : str
        ``"sobol"`` or ``"halton"``.
    dimension : int
    replicates : int
    block_size : int
    """

    base: BlockJob
    sampler: str
    dimension: int
    replicates: int
    block_size: int

    @property
    def key(self) -> tuple:
        """What fixes the point sets (the engines of one job serve all its blocks)."""
        b = self.base
        return (self.sampler, self.dimension, b.entropy, b.spawn_key, b.bit_generator)


def point_job(spec: RunSpec, model: Model, base: BlockJob) -> PointJob:
    """The job of a quasi-random run: ``base`` (carrying the uniform form) plus the point sets' layout."""
    # Loaded here, before the first task starts the worker processes: forked
    # workers then share it instead of each importing scipy.stats (seconds).
    import scipy.stats.qmc  # noqa: F401

    collectors = (*base.collectors, ReplicateCollector(spec.replicates))
    return PointJob(
        base=dataclasses.replace(base, collectors=collectors),
        sampler=spec.sampler,
        dimension=uniform_dimension(model, spec.params, spec.sampler),
        replicates=spec.replicates,
        block_size=spec.block_size,
    )


def point_engine(sampler: str, dimension: int, rng: np.random.Generator) -> Any:
    """A scrambled ``scipy.stats.qmc`` engine: Sobol' (LMS and digital shift) or Halton (permutations)."""
    from scipy.stats import qmc

    kind, extra = (qmc.Sobol, {"bits": SOBOL_BITS}) if sampler == "sobol" else (qmc.Halton, {})
    try:
        return kind(dimension, scramble=True, rng=rng, **extra)
    except TypeError:  # pragma: no cover - scipy < 1.15 calls it `seed`
        return kind(dimension, scramble=True, seed=rng, **extra)


def replicate_engine(job: PointJob, replicate: int) -> Any:
    """The engine of ``replicate``, at its first point."""
    b = job.base
    return point_engine(job.sampler, job.dimension, block_rng(b.entropy, replicate, b.bit_generator, b.spawn_key))


#: Engines of the last job this thread ran, by replicate. ``fast_forward``
#: steps through every skipped index, so an engine left where its previous
#: block ended spares a worker from stepping again from 0 for every block;
#: the points are the same either way. Thread-local: the threads executor
#: runs blocks of one replicate at once on several threads.
_LOCAL = threading.local()


def _engine_at(job: PointJob, replicate: int, start: int) -> Any:
    """The engine of ``replicate`` positioned at point ``start``."""
    cache = getattr(_LOCAL, "cache", None)
    if cache is None or cache[0] != job.key:
        cache = _LOCAL.cache = (job.key, {})
    engines: dict[int, Any] = cache[1]
    engine = engines.get(replicate)
    if engine is None or engine.num_generated > start:
        engine = engines[replicate] = replicate_engine(job, replicate)
    if start > engine.num_generated:
        engine.fast_forward(start - engine.num_generated)
    return engine


#: Spawn-key suffix of a replicate's stream of low digits (scipy's Sobol' takes child 0 of the replicate's key).
LOW_DIGITS_KEY = 1
#: The largest double below 1: a grid point plus its low digits may round up to 1.0.
BELOW_ONE = float(np.nextafter(1.0, 0.0))


def low_digits(job: PointJob, replicate: int, start: int, n: int) -> np.ndarray:
    """Uniforms in [0, 1) for the digits below 2^-30 of points ``start .. start + n - 1``, shape ``(n, d)``.

    Philox is counter-based: the ``w = ceil(d / 4)`` counters of point ``i``
    are ``i w .. i w + w - 1`` (four doubles each), so the draws of a point
    are the same whichever block asks for them.
    """
    b = job.base
    w = -(-job.dimension // 4)
    seed = np.random.SeedSequence(b.entropy, spawn_key=(*b.spawn_key, replicate, LOW_DIGITS_KEY))
    return np.random.Generator(np.random.Philox(seed, counter=start * w)).random((n, 4 * w))[:, : job.dimension]


def replicate_points(job: PointJob, replicate: int, start: int, n: int) -> np.ndarray:
    """Points ``start .. start + n - 1`` of ``replicate``, shape ``(n, dimension)``."""
    u = _engine_at(job, replicate, start).random(n)
    if job.sampler == "sobol":
        u += low_digits(job, replicate, start, n) * 2.0**-SOBOL_BITS
        np.minimum(u, BELOW_ONE, out=u)
    return u


def run_point_block(job: PointJob, index: int, n: int, uniform: Any = None, wrap: bool = True) -> Stats:
    """Statistics of global block ``index`` holding ``n`` points (as `montecarlo.engine.worker.run_block`)."""
    base = job.base
    uniform = uniform if uniform is not None else _function(base.simulate)
    b, replicate = divmod(index, job.replicates)
    start = b * job.block_size
    key = (*base.spawn_key, replicate)
    where = f"block {index}: replicate {replicate}, points {start}-{start + n - 1}, spawn key {key}"
    fold = batch_fold(base.collectors, base.outputs, index, n, base.batch_size)
    done = 0
    while done < n:
        m = min(base.batch_size, n - done)
        u = replicate_points(job, replicate, start + done, m)
        try:
            out = uniform(u, **base.params)
        except Exception as exc:
            if not wrap:
                raise
            raise ModelError(
                f"model raised {type(exc).__name__}: {exc} ({where})", index, key, traceback.format_exc()
            ) from None
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is the model's error, reported below
            fold.add(_check(out, m, base, index, key))
        done += m
    total = fold.result()
    if not is_finite(total):
        raise overflow_error(index, key, "in the block")
    return total


def run_point_task(job: PointJob, blocks: list[tuple[int, int]]) -> TaskBlocks:
    """A task: consecutive ``(index, n)`` blocks, one accumulator each."""
    uniform = _function(job.base.simulate)
    return watched(lambda: [run_point_block(job, index, n, uniform) for index, n in blocks], job.base.watch)
