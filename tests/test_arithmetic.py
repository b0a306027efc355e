"""The engine's arithmetic: one defined order, the same bits in numpy and in the compiled kernels.

Three layers are checked (montecarlo.stats.sums states the order):

* the numpy reference against the literal definition written with Python
  floats, so the reference itself follows the stated order;
* the compiled kernels against the reference, compiled for this processor,
  for a plain AVX2 processor and for the architecture's baseline (SSE2 on
  x86-64): the bits depend on neither the vector width nor the instruction set;
* sensitivity: a different order is detected, so the comparisons can catch one.

Comparisons are of 64-bit patterns (which tell -0.0 from +0.0); NaN matches
NaN only where inputs hold infinities (IEEE leaves a NaN's bits open).
"""

from __future__ import annotations

import math
import platform

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from montecarlo._kernels import stats as kernel_stats
from montecarlo.stats.shape import OneOutputFold
from montecarlo.stats.sums import W, halve, lane_sum, lanes, numpy_batch_stats, numpy_column_stats

X86 = platform.machine().lower() in ("x86_64", "amd64")
#: (cpu, features) to compile for: this machine, a plain AVX2 processor, the architecture's baseline.
TARGETS = {"host": (None, None), "baseline": ("", "")}
if X86:
    TARGETS["avx2"] = ("haswell", "")
FMA_MNEMONICS = ("vfmadd", "vfmsub", "vfnmadd", "vfnmsub")


class Compiled:
    """The kernels compiled for one processor, called like the engine calls them."""

    def __init__(self, cpu, features):
        self.functions = kernel_stats.KERNEL.functions() if cpu is None else kernel_stats.compiled_for(cpu, features)
        self.column_pass = kernel_stats.ColumnPass(self.functions)

    def column(self, c):
        return self.column_pass(np.ascontiguousarray(c, dtype=np.float64))

    def batch(self, x):
        return kernel_stats.k_outputs(self.functions, np.ascontiguousarray(x, dtype=np.float64))

    def fold(self, columns, start=None):
        """A block's columns folded by ``fold_column`` (from the state ``start``): the state, each batch's flag.

        Folded twice, the arrays passed as objects and as addresses: both must agree.
        """
        states = []
        for by_object in (True, False):
            fold = kernel_stats.ColumnFold(self.functions, by_object)
            if start is not None:
                fold._state[:] = start
            finite = [fold.add(np.ascontiguousarray(c, dtype=np.float64)) for c in columns]
            count, mean, comoment, row = fold.state()
            states.append(((count, mean, comoment, *row), finite))
        assert same(states[0][0], states[1][0], nan_equal=True) and states[0][1] == states[1][1]
        return states[0]


def python_fold(columns, start=None):
    """The same columns folded by the Python code of `OneOutputFold` (merge_one, merge_rows)."""
    fold = OneOutputFold()
    if start is not None and start[0]:
        fold.count, fold.mean, fold.comoment, fold.row = int(start[0]), start[1], start[2], tuple(start[3:])
    finite = [fold.add_column(np.ascontiguousarray(c, dtype=np.float64)) for c in columns]
    return (fold.count, fold.mean, fold.comoment, *fold.row), finite


@pytest.fixture(scope="module", params=sorted(TARGETS))
def compiled(request):
    return Compiled(*TARGETS[request.param])


@pytest.fixture(scope="module")
def host():
    return Compiled(None, None)


def bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).view(np.int64)


def same(a, b, nan_equal=False):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return False
    if nan_equal:
        na, nb = np.isnan(a), np.isnan(b)
        return bool(np.array_equal(na, nb) and np.array_equal(bits(a[~na]), bits(b[~nb])))
    return bool(np.array_equal(bits(a), bits(b)))


def same_stats(a, b, nan_equal=False):
    assert a[0] == b[0]
    for name, u, v in zip(("mean", "comoment", "m3", "m4", "minimum", "maximum"), a[1:], b[1:], strict=True):
        assert same(u, v, nan_equal), (name, u, v)


def check(k, x, nan_equal=False):
    """Compiled == reference for the batch and, for one output, for the column pass."""
    x = np.ascontiguousarray(x, dtype=np.float64)
    ref = numpy_batch_stats(x)
    same_stats(ref, k.batch(x), nan_equal)
    if x.shape[1] == 1:
        flat = (ref.mean[0], ref.comoment[0, 0], ref.m3[0], ref.m4[0], ref.minimum[0], ref.maximum[0])
        assert same(flat, numpy_column_stats(x[:, 0].copy()), nan_equal)
        assert same(flat, k.column(x[:, 0]), nan_equal)
    return ref


def mixed(rng, shape):
    """Normal values spread over 20 decades, signs mixed."""
    return rng.standard_normal(shape) * 10.0 ** rng.integers(-10, 10, shape)


# ---- the reference follows the literal definition ---------------------------
def spec_sum(values):
    s = [0.0] * W
    for i, v in enumerate(values):
        s[i % W] = s[i % W] + v
    w = W
    while w > 1:
        w //= 2
        for j in range(w):
            s[j] = s[j] + s[j + w]
    return s[0]


def spec_stats(x):
    n, k = x.shape
    cols = x.T.tolist()
    mean = [spec_sum(c) / n for c in cols]
    d = [[v - m for v in c] for c, m in zip(cols, mean, strict=True)]
    com = [
        [spec_sum([p * q for p, q in zip(d[min(a, b)], d[max(a, b)], strict=True)]) for b in range(k)] for a in range(k)
    ]
    m3 = [spec_sum([(v * v) * v for v in col]) for col in d]
    m4 = [spec_sum([(v * v) * (v * v) for v in col]) for col in d]
    return n, mean, com, m3, m4, [min(c) + 0.0 for c in cols], [max(c) + 0.0 for c in cols]


@pytest.mark.slow
@settings(max_examples=150, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 130), st.integers(1, 4)), elements=st.floats(allow_nan=False)))
def test_the_reference_follows_the_literal_definition(x):
    same_stats(spec_stats(x), numpy_batch_stats(x), nan_equal=True)
    assert same(lane_sum(x[:, 0]), spec_sum(x[:, 0].tolist()), nan_equal=True)


def test_a_lane_of_negative_zeros_sums_to_positive_zero():
    # np.add.accumulate starts a lane at its first value; the order starts it at +0.0.
    x = np.full(70, -0.0)
    assert math.copysign(1.0, lane_sum(x)) == 1.0
    assert same(lanes(x.reshape(1, -1)), np.zeros((1, W)))


# ---- the compiled kernels give the reference's bits --------------------------
@pytest.mark.slow
def test_every_length_from_1_to_300(compiled):
    rng = np.random.default_rng(1)
    for n in range(1, 301):
        check(compiled, mixed(rng, (n, 1)))
        check(compiled, rng.standard_normal((n, 2)) + 3.0)


@pytest.mark.slow
@pytest.mark.parametrize("n", [16384, 16385, 65536 + 7, 10**6])
@pytest.mark.parametrize("k", [1, 3])
def test_long_batches(host, n, k):
    check(host, mixed(np.random.default_rng(n + k), (n, k)))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 16])
@pytest.mark.parametrize("n", [1, 2, 31, 32, 33, 127, 128, 129, 1000, 4099])
def test_several_outputs(compiled, n, k):
    rng = np.random.default_rng(1000 * n + k)
    check(compiled, rng.standard_normal((n, k)) * rng.uniform(0.1, 100.0, k) + rng.normal(0, 5, k))


SPECIAL = {
    "neg_zero": lambda rng, n: np.full(n, -0.0),
    "pos_zero": lambda rng, n: np.zeros(n),
    "signed_zeros": lambda rng, n: rng.choice([0.0, -0.0], n),
    "subnormal": lambda rng, n: rng.integers(-2000, 2000, n) * 5e-324,
    "tiny_mixed": lambda rng, n: rng.standard_normal(n) * 1e-310,
    "huge": lambda rng, n: rng.uniform(0.5, 1.7, n) * 1e300 * rng.choice([1, -1], n),
    "huge_same_sign": lambda rng, n: np.full(n, 1.7e308),
    "integers": lambda rng, n: rng.integers(-(2**40), 2**40, n).astype(np.float64),
    "constant": lambda rng, n: np.full(n, 0.1),
    "cancelling": lambda rng, n: np.tile([1e16, 1.0, -1e16, 3.0], n // 4 + 1)[:n],
    "pos_inf": lambda rng, n: np.where(rng.random(n) < 0.05, np.inf, rng.random(n)),
    "both_inf": lambda rng, n: rng.choice([np.inf, -np.inf, 1.0], n),
}


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_zeros_subnormals_overflow_and_infinities(compiled, kind):
    rng = np.random.default_rng(7)
    nan_equal = "inf" in kind  # inf - inf: a NaN, whose bits IEEE leaves open
    for n in (1, 5, 32, 33, 100, 1031):
        x = SPECIAL[kind](rng, n)
        check(compiled, x[:, None], nan_equal)
        both = np.stack([x, rng.permutation(x), np.full(n, -0.0), np.full(n, 2.5)], axis=1)
        ref = check(compiled, both, nan_equal)
        assert math.copysign(1.0, ref.minimum[2]) == 1.0 and math.copysign(1.0, ref.maximum[2]) == 1.0


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 300), st.sampled_from([1, 2, 3, 5])),
        elements=st.floats(allow_nan=False, allow_infinity=True),
    )
)
def test_random_batches(host, x):
    check(host, x, nan_equal=True)


# ---- the compiled fold of a block merges as the Python code does ---------------
def check_fold(k, columns, start=None, nan_equal=False):
    (count, *numbers), finite = k.fold(columns, start)
    (ref_count, *ref), ref_finite = python_fold(columns, start)
    assert count == ref_count and finite == ref_finite
    assert same(numbers, ref, nan_equal), (numbers, ref)


@pytest.mark.parametrize("sizes", [[1], [5, 1], [16384] * 3 + [999], [32, 33, 31, 1, 64], [7] * 40])
def test_a_block_of_batches_folds_to_the_python_bits(compiled, sizes):
    rng = np.random.default_rng(len(sizes))
    check_fold(compiled, [mixed(rng, n) for n in sizes])
    check_fold(compiled, [rng.lognormal(3.0, 2.0, n) for n in sizes])


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_special_values_fold_to_the_python_bits(compiled, kind):
    rng = np.random.default_rng(8)
    columns = [SPECIAL[kind](rng, n) for n in (3, 40, 1, 129)]
    check_fold(compiled, columns, nan_equal="inf" in kind)
    check_fold(compiled, [mixed(rng, 50), *columns], nan_equal="inf" in kind)


def test_a_nan_fails_the_batch_and_keeps_nan_extremes(compiled):
    x = np.arange(100.0)
    x[57] = np.nan
    (_, *numbers), finite = compiled.fold([x])
    assert finite == [False] and math.isnan(numbers[-2]) and math.isnan(numbers[-1])
    (_, *numbers), finite = compiled.fold([np.ones(10), x])
    assert finite == [True, False] and math.isnan(numbers[0])
    check_fold(compiled, [np.ones(10), x], nan_equal=True)
    check_fold(compiled, [x, np.ones(10)], nan_equal=True)


counts = st.integers(1, 2**37)
finite_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@pytest.mark.slow
@settings(max_examples=300, deadline=None)
@given(
    count=counts,
    numbers=st.lists(finite_floats, min_size=8, max_size=8),
    x=hnp.arrays(np.float64, st.integers(1, 2**12), elements=finite_floats),
)
def test_any_running_state_merges_to_the_python_bits(host, count, numbers, x):
    # Counts up to 2**37 and batches up to 2**12: every product of counts is exact, as the engine keeps it.
    mean, comoment, rmean, m2, m3, m4, lo, hi = numbers
    start = [float(count), mean, abs(comoment), rmean, abs(m2), m3, abs(m4), min(lo, hi), max(lo, hi)]
    with np.errstate(all="ignore"):
        check_fold(host, [x], start, nan_equal=True)


# ---- the tests can tell orders apart -----------------------------------------
def adjacent_pairs_sum(x):
    """Another order: the same lanes, combined as s[j] = s[2j] + s[2j+1]."""
    s = lanes(np.asarray(x, dtype=np.float64).reshape(1, -1))[0]
    while s.size > 1:
        s = s[0::2] + s[1::2]
    return float(s[0])


def test_another_way_of_combining_the_lanes_is_told_apart(host):
    x = np.zeros(W)
    x[0], x[1], x[16] = 1e16, -1e16, 1.0  # halving: (1e16 + 1) - 1e16 = 0
    assert lane_sum(x) == 0.0 and adjacent_pairs_sum(x) == 1.0
    assert host.column(x)[0] == 0.0
    rng = np.random.default_rng(3)
    differ = 0
    for _ in range(50):
        x = mixed(rng, (1000, 2))
        means = host.batch(x)[1]
        assert same(means, [lane_sum(c) / 1000 for c in x.T])
        differ += not same(means, [adjacent_pairs_sum(c) / 1000 for c in x.T])
    assert differ > 10  # random data already tells the orders apart


def test_another_order_within_a_lane_is_told_apart(host):
    x = np.zeros(3 * W)
    x[0], x[W], x[2 * W] = 1.0, 1e16, -1e16  # lane 0: (1 + 1e16) - 1e16 = 0
    assert lane_sum(x) == 0.0 and host.column(x)[0] == 0.0
    assert x[0] + (x[W] + x[2 * W]) == 1.0


def test_numpy_sum_is_not_this_order():
    x = mixed(np.random.default_rng(5), 10**5)
    assert not same(np.sum(x), lane_sum(x))


def test_halving_drops_the_lane_axis():
    assert halve(np.arange(64.0).reshape(2, W)).shape == (2,)


# ---- the compiled code --------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_machine_code_fuses_no_multiply_add(target):
    cpu, features = TARGETS[target]
    asm = kernel_stats.assembly(cpu, features).lower()
    assert not any(m in asm for m in FMA_MNEMONICS)
    for word in ("llvm.fma", "fmuladd", " contract ", " fast ", " reassoc "):
        assert word not in kernel_stats.ir()


@pytest.mark.slow
@pytest.mark.skipif(not X86, reason="x86 register names")
def test_the_targets_use_other_instruction_sets():
    base, avx2 = kernel_stats.assembly("", ""), kernel_stats.assembly("haswell", "")
    assert "ymm" not in base and "zmm" not in base
    assert "ymm" in avx2 and "zmm" not in avx2


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 100), st.sampled_from([1, 2, 3])), elements=st.floats()))
def test_random_batches_with_nan(compiled, x):
    # A model's NaN fails the run, but both paths still agree on every statistic (a NaN where numpy has one).
    check(compiled, x, nan_equal=True)
