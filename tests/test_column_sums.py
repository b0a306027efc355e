"""The compiled column sums (the ``jit`` extra) give ``np.add.reduce(x, axis=0)``'s bits for a C-ordered batch.

numpy adds a C-ordered ``(n, k)`` array's rows in order, starting from
``+0.0``: the kernel must make the very same additions, so every sum is
compared to the bit (a NaN only as a NaN: numpy defines no payload). A
kernel that started from the first row, or summed pairwise, fails here.
"""

from __future__ import annotations

import re
import sys
import warnings

import numba  # noqa: F401  (part of the test extra: these tests run, never skip)
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from montecarlo._kernels import column_sums
from montecarlo._kernels import llvm as jit
from montecarlo.stats.moments import batch_moments

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]


def same_bits(a, b) -> bool:
    """Equal to the bit, a NaN matching any NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.uint64), b[~nan].view(np.uint64)))


def check(x: np.ndarray) -> None:
    assert x.flags.c_contiguous and x.dtype == np.float64
    got, finite = column_sums.kernel(x)
    with np.errstate(all="ignore"):
        want = np.add.reduce(x, axis=0)
    assert same_bits(got, want), (got, want)
    assert finite == bool(np.isfinite(want).all())


# Any float: huge, tiny and subnormal magnitudes, signed zeros, infinities, NaN.
ANY = st.floats(width=64) | st.sampled_from(SPECIAL)
# Magnitudes close enough to each other that the order of the additions shows in the bits.
ROUNDING = st.floats(-1e6, 1e6) | st.floats(-1.0, 1.0) | st.sampled_from([0.0, -0.0, 0.1, 1e16, -1e16])


@settings(max_examples=300, deadline=None)
@given(x=arrays(np.float64, st.tuples(st.integers(1, 300), st.integers(2, 10)), elements=ANY))
def test_any_floats_sum_to_numpys_bits(x):
    check(x)


@settings(max_examples=300, deadline=None)
@given(x=arrays(np.float64, st.tuples(st.integers(1, 300), st.integers(2, 10)), elements=ROUNDING))
def test_sums_that_round_differently_in_another_order_have_numpys_bits(x):
    check(x)


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(1, 300),
    k=st.integers(2, 10),
    data=st.data(),
)
def test_columns_of_negative_zeros_sum_to_positive_zero(n, k, data):
    # numpy starts from +0.0, and +0.0 + -0.0 is +0.0: a column of only -0.0 sums to +0.0.
    x = data.draw(arrays(np.float64, (n, k), elements=ANY))
    zeros = data.draw(st.lists(st.integers(0, k - 1), min_size=1, max_size=k, unique=True))
    x[:, zeros] = -0.0
    check(x)
    got, _ = column_sums.kernel(x)
    assert not np.signbit(got[zeros]).any()


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1 << 16, (1 << 16) + 4099),
    k=st.integers(2, 10),
    scale=st.sampled_from([1e-300, 1e-5, 1.0, 1e5, 1e300]),
    specials=st.integers(0, 6),
)
def test_long_batches_sum_to_numpys_bits(seed, n, k, scale, specials):
    rng = np.random.default_rng(seed)
    with np.errstate(over="ignore"):  # 1e300 * 2**40 is infinite: more infinities
        x = rng.standard_normal((n, k)) * scale * np.exp2(rng.integers(-40, 40, (n, k)))
    x[rng.integers(0, n, specials), rng.integers(0, k, specials)] = rng.choice(SPECIAL, specials)
    check(x)


@pytest.mark.parametrize("k", range(2, 12))
def test_every_written_out_loop_and_the_general_one(k):
    # k = 2..8 have loops of their own; 9 and more take the general loop.
    rng = np.random.default_rng(k)
    for n in (1, 2, 3, 7, 8, 9, 1000, 16_384, 65_537):
        check(rng.standard_normal((n, k)) * 10.0 ** rng.integers(-8, 8, (n, k)))
    only_negative_zeros = np.full((5, k), -0.0)
    assert column_sums.kernel(only_negative_zeros)[0].view(np.uint64).tolist() == [0] * k


def test_a_long_column_of_negative_zeros_sums_to_positive_zero():
    x = np.full((1 << 17, 3), -0.0)
    x[:, 1] = 1.0
    check(x)


def test_overflow_and_nan_are_reported_as_not_finite():
    sums, finite = column_sums.kernel(np.array([[1e308, 1.0], [1e308, 2.0]]))
    assert sums.tolist() == [np.inf, 3.0] and finite is False
    assert column_sums.kernel(np.array([[1.0, np.nan], [2.0, 2.0]]))[1] is False
    assert column_sums.compiled_sums(np.array([[1.0, np.inf], [2.0, -np.inf]])) is None
    assert column_sums.compiled_sums(np.array([[1.0, 3.0], [2.0, -4.0]])).tolist() == [3.0, -1.0]


# --------------------------------------------------------------------------
# batch_moments: the kernel where it applies, numpy elsewhere, the same bits
# --------------------------------------------------------------------------


def both_paths(x, monkeypatch):
    """`batch_moments` of ``x`` with the kernel and with ``MONTECARLO_JIT=0``, and the warnings of each."""
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    monkeypatch.setattr(column_sums, "COMPILE_AFTER", 0)  # the kernel from the first batch
    assert column_sums.enabled()
    out = []
    for value in ("1", "0"):
        monkeypatch.setenv(jit.JIT_VARIABLE, value)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m, d = batch_moments(x)
        out.append((m, d, [(w.category, str(w.message)) for w in caught]))
    return out


def test_the_kernel_is_used_for_c_ordered_floats_of_two_outputs_or_more(monkeypatch):
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    monkeypatch.setattr(column_sums, "COMPILE_AFTER", 0)
    assert column_sums.enabled()
    calls = []
    kernel = column_sums.kernel
    monkeypatch.setattr(column_sums, "kernel", lambda x: calls.append(x.shape) or kernel(x))
    rng = np.random.default_rng(0)
    batch_moments(rng.standard_normal((100, 3)))
    batch_moments(rng.integers(0, 9, (100, 2)))  # converted to float64 first
    batch_moments(rng.standard_normal((100, 2)).astype(">f8"))  # the other byte order: converted too
    assert calls == [(100, 3), (100, 2), (100, 2)]


def test_a_process_compiles_the_kernel_once_numpy_has_summed_enough_rows(monkeypatch):
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    monkeypatch.setattr(column_sums, "KERNEL", jit.Compiled(column_sums.IR, column_sums.prototypes))  # a fresh process
    monkeypatch.setattr(column_sums, "COMPILE_AFTER", 1000)
    x = np.random.default_rng(2).standard_normal((400, 3))
    assert column_sums.compiled_sums(x) is None
    batch_moments(x)
    assert not column_sums.KERNEL.compiled and column_sums.KERNEL.numpy_values == 800  # two batches left to numpy
    assert column_sums.compiled_sums(x).tobytes() == np.add.reduce(x, axis=0).tobytes()
    assert column_sums.KERNEL.compiled and column_sums.KERNEL.numpy_values == 1200  # compiled, and no longer counting
    batch_moments(x)
    assert column_sums.KERNEL.numpy_values == 1200
    monkeypatch.setenv(jit.JIT_VARIABLE, "0")
    assert column_sums.compiled_sums(x) is None


def test_without_llvmlite_numpy_sums(monkeypatch):
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    # a fresh process, where llvmlite will not import
    monkeypatch.setattr(column_sums, "KERNEL", jit.Compiled(column_sums.IR, column_sums.prototypes))
    monkeypatch.setattr(column_sums, "COMPILE_AFTER", 0)
    monkeypatch.setitem(sys.modules, "llvmlite", None)
    monkeypatch.setitem(sys.modules, "llvmlite.binding", None)
    x = np.random.default_rng(3).standard_normal((500, 3))
    assert not column_sums.enabled() and column_sums.compiled_sums(x) is None
    assert batch_moments(x)[0].mean.tobytes() == (np.add.reduce(x, axis=0) / 500).tobytes()
    assert not column_sums.KERNEL.compiled


@pytest.mark.parametrize(
    "layout",
    [
        lambda x: x[:, :1].copy(),  # one output: numpy's pairwise sum
        np.asfortranarray,
        lambda x: x[::2],  # rows with gaps
        lambda x: x[:, ::-1],
        lambda x: np.frombuffer(b"\0" + x.tobytes(), dtype=np.float64, offset=1).reshape(x.shape),  # unaligned
    ],
)
def test_other_layouts_are_left_to_numpy_with_the_same_bits(layout, monkeypatch):
    rng = np.random.default_rng(1)
    x = layout(rng.standard_normal((1001, 4)) * 1e3)
    (compiled, dc, _), (plain, dp, _) = both_paths(x, monkeypatch)
    assert compiled == plain and np.array_equal(dc, dp)
    monkeypatch.setenv(jit.JIT_VARIABLE, "1")
    monkeypatch.setattr(column_sums, "kernel", lambda x: pytest.fail("the kernel ran on another layout"))
    batch_moments(x)


@pytest.mark.parametrize(
    "rows",
    [
        [[1e308, 1.0], [1e308, 2.0]],  # overflow: numpy warns
        [[np.inf, 1.0], [-np.inf, 2.0]],  # inf - inf: NaN
        [[np.nan, 1.0], [2.0, -0.0]],
        [[-0.0, -0.0, 1.0], [-0.0, -0.0, 2.0]],
    ],
)
def test_batch_moments_gives_the_same_bits_and_warnings_either_way(rows, monkeypatch):
    x = np.array(rows)
    (compiled, dc, wc), (plain, dp, wp) = both_paths(x, monkeypatch)
    assert wc == wp
    for a, b in ((compiled.mean, plain.mean), (compiled.comoment, plain.comoment), (dc, dp)):
        assert a.tobytes() == b.tobytes()  # payloads too: a sum that is not finite comes from numpy


@settings(max_examples=150, deadline=None)
@given(x=arrays(np.float64, st.tuples(st.integers(1, 200), st.integers(2, 6)), elements=ANY))
def test_moments_of_any_batch_are_the_same_either_way(x):
    with pytest.MonkeyPatch.context() as monkeypatch, np.errstate(all="ignore"):
        (compiled, dc, _), (plain, dp, _) = both_paths(x, monkeypatch)
    assert compiled.mean.tobytes() == plain.mean.tobytes() and compiled.comoment.tobytes() == plain.comoment.tobytes()
    assert dc.tobytes() == dp.tobytes()


def test_the_machine_code_fuses_nothing():
    code = column_sums.assembly().lower()
    assert "column_sums" in code and ("addsd" in code or "addpd" in code)
    assert not re.search(r"\bv?f(n)?m(add|sub)\w*", code)
