"""A batch's statistics and their merges give the same bits as the engine's reference arithmetic.

Workers take shortcuts on every batch: the statistics come from a compiled
kernel where there is one, a 0/1 output's from its hit count, one-output
moments merge in Python floats, and a block of one output folds its batches
without an object per batch. Each is checked here against the numpy
reference of the engine's order (`montecarlo.stats.sums`), bit for bit (a NaN
matches a NaN), for random inputs of every kind a model returns: floats,
integers and booleans, one output and several, with infinities and NaN.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from montecarlo._kernels import stats as kernel_stats
from montecarlo.engine.worker import batch_fold
from montecarlo.stats.accumulators import BatchFold, Stats
from montecarlo.stats.moments import Moments, hit_row
from montecarlo.stats.shape import OneOutputFold, Shape, ShapeCollector, TwoStageCollector
from montecarlo.stats.sums import numpy_batch_stats

DTYPES = [np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_]


def same_bits(a, b) -> bool:
    """Equal to the bit, NaN matching NaN (whatever its payload)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.uint64), b[~nan].view(np.uint64)))


def general(x: np.ndarray):
    """The reference statistics of a batch (a 0/1 output's from its hit count)."""
    n = x.shape[0]
    if x.dtype == np.bool_ and x.shape[1] == 1:
        row = hit_row(float(np.count_nonzero(x)), n)
        return n, np.array([row[0]]), np.array([[row[1]]]), [row]
    b = numpy_batch_stats(np.ascontiguousarray(x, dtype=np.float64))
    cols = (b.mean, np.diag(b.comoment), b.m3, b.m4, b.minimum, b.maximum)
    rows = [tuple(float(v) for v in r) for r in zip(*cols, strict=True)]
    return n, b.mean, b.comoment, rows


def general_merge(a: Moments, b: Moments) -> tuple[int, np.ndarray, np.ndarray]:
    """Chan et al.'s update in numpy arrays, for any number of outputs."""
    n = a.count + b.count
    delta = b.mean - a.mean
    mean = a.mean + delta * (b.count / n)
    return n, mean, a.comoment + b.comoment + np.outer(delta, delta) * (a.count * b.count / n)


def elements(dtype, allow_nonfinite: bool):
    """Values of ``dtype`` (floats of its width, NaN and infinities if allowed); None: hypothesis's own."""
    if np.dtype(dtype).kind != "f":
        return None
    width = 8 * np.dtype(dtype).itemsize
    return st.floats(allow_nan=allow_nonfinite, allow_infinity=allow_nonfinite, width=width)


def batches(allow_nonfinite: bool):
    """Batches of shape (n, k) of every dtype a model may return."""
    shapes = st.tuples(st.integers(1, 200), st.integers(1, 3))
    return st.sampled_from(DTYPES).flatmap(
        lambda dtype: arrays(dtype, shapes, elements=elements(dtype, allow_nonfinite))
    )


def check_batch(x: np.ndarray) -> None:
    with np.errstate(all="ignore"):
        stats = Stats.from_batch(x, [ShapeCollector()])
        n, mean, comoment, rows = general(x)
        alone = Moments.from_batch(x)
    m = stats.moments
    assert m.count == n and same_bits(m.mean, mean) and same_bits(m.comoment, comoment)
    assert alone.count == n and same_bits(alone.mean, mean) and same_bits(alone.comoment, comoment)
    part = stats.parts["shape"]
    assert isinstance(part, Shape)
    assert all(same_bits(a, b) for a, b in zip(part.rows(), rows, strict=True))


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(x=batches(allow_nonfinite=False))
def test_a_batch_gives_the_bits_of_the_general_computation(x):
    check_batch(x)


@settings(max_examples=100, deadline=None)
@given(x=batches(allow_nonfinite=True))
def test_a_batch_with_infinities_and_nan_gives_the_bits_of_the_general_computation(x):
    check_batch(x)


def test_long_batches_of_one_and_several_outputs_give_the_same_bits():
    rng = np.random.default_rng(11)
    for x in (rng.lognormal(size=(40_000, 1)), rng.standard_normal((20_001, 3)), rng.integers(-9, 9, (30_000, 2))):
        check_batch(x)


def moments(k: int, finite: bool):
    """Accumulators of ``k`` outputs with arbitrary (not necessarily consistent) numbers."""
    floats = st.floats(allow_nan=not finite, allow_infinity=not finite, width=64)
    return st.builds(
        Moments,
        st.integers(1, 2**45),
        arrays(np.float64, (k,), elements=floats),
        arrays(np.float64, (k, k), elements=floats),
    )


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(a=moments(1, finite=True), b=moments(1, finite=True))
def test_one_output_merge_gives_the_bits_of_numpy(a, b):
    with np.errstate(all="ignore"):
        n, mean, comoment = general_merge(a, b)
        m = a.merge(b)
    assert m.count == n and same_bits(m.mean, mean) and same_bits(m.comoment, comoment)
    assert m.mean.dtype == m.comoment.dtype == np.float64 and m.mean.shape == (1,) and m.comoment.shape == (1, 1)


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(k=st.integers(1, 3), data=st.data())
def test_merge_with_infinities_and_nan_gives_the_bits_of_numpy(k, data):
    a, b = data.draw(moments(k, finite=False)), data.draw(moments(k, finite=False))
    with np.errstate(all="ignore"):
        n, mean, comoment = general_merge(a, b)
        m = a.merge(b)
    assert m.count == n and same_bits(m.mean, mean) and same_bits(m.comoment, comoment)


def same_stats(a: Stats, b: Stats) -> bool:
    """Moments and shape equal to the bit (NaN matching NaN)."""
    sa, sb = a.parts["shape"], b.parts["shape"]
    assert isinstance(sa, Shape) and isinstance(sb, Shape)
    return (
        a.moments.count == b.moments.count
        and same_bits(a.moments.mean, b.moments.mean)
        and same_bits(a.moments.comoment, b.moments.comoment)
        and a.moments.mean.shape == b.moments.mean.shape
        and a.moments.comoment.shape == b.moments.comoment.shape
        and sa.count == sb.count
        and all(same_bits(x, y) for x, y in zip(sa.rows(), sb.rows(), strict=True))
    )


def one_output_blocks(allow_nonfinite: bool):
    """A block's batches of one output: one to six, of one dtype, of any sizes."""

    def of(dtype):
        values = elements(dtype, allow_nonfinite)
        batch = st.integers(1, 300).flatmap(lambda n: arrays(dtype, (n, 1), elements=values))
        return st.lists(batch, min_size=1, max_size=6)

    return st.sampled_from(DTYPES).flatmap(of)


def check_folds(batches: list[np.ndarray]) -> None:
    """The Python fold, the compiled one (a batch it does not take hands over to Python) and the general one agree."""
    kernel_stats.KERNEL.functions()  # compiled: `column_fold` offers the kernel from the next block
    samples = sum(x.shape[0] for x in batches)
    fast, compiled = OneOutputFold(), OneOutputFold(samples, max(x.shape[0] for x in batches))
    general = BatchFold([ShapeCollector()], 0)
    assert compiled.add_column != compiled._add_column  # the kernel's fold, until a batch it does not take
    finite = []
    with np.errstate(all="ignore"):
        for x in batches:
            fast.add(x)
            compiled.add(x)
            general.add(x)
            finite.append((fast.last_finite(), compiled.last_finite(), general.last_finite()))
    assert same_stats(fast.result(), general.result())
    assert same_stats(compiled.result(), general.result())
    assert all(a == b == c for a, b, c in finite)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(batches=one_output_blocks(allow_nonfinite=False))
def test_a_block_of_one_output_folds_to_the_bits_of_its_batch_stats(batches):
    check_folds(batches)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(batches=one_output_blocks(allow_nonfinite=True))
def test_a_block_with_infinities_and_nan_folds_to_the_bits_of_its_batch_stats(batches):
    check_folds(batches)


def test_long_blocks_of_one_output_fold_to_the_same_bits():
    rng = np.random.default_rng(12)
    check_folds([rng.lognormal(size=(16_384, 1)) for _ in range(4)] + [rng.lognormal(size=(999, 1))])
    check_folds([rng.random((65_536, 1)) < 0.785 for _ in range(3)])
    check_folds([np.ones((100, 1), dtype=bool), np.zeros((7, 1), dtype=bool)])
    floats = [rng.lognormal(size=(300, 1)) for _ in range(3)]
    check_folds([floats[0], floats[1].astype(np.float32), floats[2]])
    check_folds([floats[0], rng.random((50, 1)) < 0.5, floats[2]])  # the kernel's state taken on in Python


def test_only_a_plain_run_of_one_output_takes_the_float_fold():
    assert isinstance(batch_fold((ShapeCollector(),), 1, 0), OneOutputFold)
    assert isinstance(batch_fold((ShapeCollector(),), 2, 0), BatchFold)
    assert isinstance(batch_fold((ShapeCollector(), TwoStageCollector(2, 100)), 1, 0), BatchFold)
    assert isinstance(batch_fold((), 1, 0), BatchFold)
