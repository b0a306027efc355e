"""The compiled pass over one output's batch (the ``jit`` extra) gives numpy's bits.

The mean is ``np.add.reduce``'s pairwise sum divided by the count, the
deviations and their squares are numpy's subtraction and multiplication,
and the minimum and maximum numpy's: each is compared to the bit (a NaN
only as a NaN). Columns of a wide range of magnitudes make every change of
summation order show: a kernel that summed in order, or paired its eight
accumulators otherwise, fails here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numba  # noqa: F401  (part of the test extra: these tests run, never skip)
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from montecarlo._kernels import column_pass
from montecarlo._kernels import llvm as jit
from montecarlo.stats.shape import OneOutputFold

SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -5e-324, 2.2250738585072014e-308, 1.7976931348623157e308]


def same_bits(a, b) -> bool:
    """Equal to the bit, a NaN matching any NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nan = np.isnan(a)
    return bool(np.array_equal(nan, np.isnan(b)) and np.array_equal(a[~nan].view(np.uint64), b[~nan].view(np.uint64)))


def wide(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values of both signs over sixteen orders of magnitude: any other order of additions rounds otherwise."""
    return rng.standard_normal(n) * np.exp(8.0 * rng.standard_normal(n))


def check(c: np.ndarray) -> None:
    with np.errstate(all="ignore"):
        mean, d, d2, lo, hi, exact = column_pass.kernel(c)
        want = column_pass.numpy_pass(c)
    assert same_bits(mean, want[0]), (mean, want[0])
    assert same_bits(d, want[1]) and same_bits(d2, want[2])
    has_odd = bool(np.isnan(c).any() or (np.signbit(c) & (c == 0)).any())
    assert exact is not has_odd
    if exact:
        assert same_bits(lo, want[3]) and same_bits(hi, want[4])


@contextlib.contextmanager
def kernel_from_the_first_batch() -> Iterator[None]:
    """`column_pass.column_pass` runs the kernel at once (in a process that would have compiled it by now)."""
    saved = column_pass.COMPILE_AFTER
    column_pass.COMPILE_AFTER = 0
    try:
        yield
    finally:
        column_pass.COMPILE_AFTER = saved


def test_every_length_around_the_pairwise_blocks_gives_numpys_bits():
    rng = np.random.default_rng(5)
    for n in [*range(1, 300), 383, 384, 385, 1023, 1024, 1025, 4096, 16383, 16384, 16385, 65536, 65537, 100_003]:
        check(wide(rng, n))


@settings(max_examples=300, deadline=None)
@given(c=arrays(np.float64, st.integers(1, 400), elements=st.floats(width=64) | st.sampled_from(SPECIAL)))
def test_any_values_give_numpys_bits(c):
    check(c)


def test_columns_numpy_must_order_leave_their_bounds_to_numpy(monkeypatch):
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    with kernel_from_the_first_batch():
        for values in ([0.0, -0.0, 1.0], [-0.0, 0.0], [2.0, np.nan, -1.0], [-0.0] * 20 + [0.0] * 20):
            c = np.array(values * 9)
            assert column_pass.kernel(c)[-1] is False
            got, want = column_pass.column_pass(c), column_pass.numpy_pass(c)
            assert all(same_bits(a, b) for a, b in zip(got, want, strict=True)), values
        assert column_pass.kernel(np.array([np.inf, 0.0, -np.inf]))[-1] is True  # infinities order nothing


def test_every_layout_of_a_column_gives_the_same_bits(monkeypatch):
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    rng = np.random.default_rng(8)
    x = wide(rng, 2 * 5000)
    read_only = x[:5000].copy()
    read_only.flags.writeable = False
    columns = [x[:5000], x[::2], read_only, x[:5000].astype(">f8")]
    with kernel_from_the_first_batch():
        for c in columns:
            got, want = column_pass.column_pass(c), column_pass.numpy_pass(c)
            assert all(same_bits(a, b) for a, b in zip(got, want, strict=True))
    calls = []
    kernel = column_pass.kernel
    monkeypatch.setattr(column_pass, "kernel", lambda c: calls.append(c.flags.writeable) or kernel(c))
    with kernel_from_the_first_batch():
        for c in columns:
            column_pass.column_pass(c)
    assert calls == [True, False]  # contiguous native columns only; a strided or swapped one is numpy's


def test_a_block_folds_to_the_same_bits_with_and_without_the_kernel(monkeypatch):
    rng = np.random.default_rng(3)
    batches = [wide(rng, n).reshape(-1, 1) for n in (16384, 16384, 999, 1)]
    batches.append(np.maximum(rng.standard_normal((5000, 1)), 0.0))  # a payoff's zeros
    folds = []
    for switch in ("0", "1"):
        monkeypatch.setenv(jit.JIT_VARIABLE, switch)
        fold = OneOutputFold()
        with kernel_from_the_first_batch():
            for x in batches:
                fold.add(x)
        folds.append(fold.result())
    a, b = (f.parts["shape"] for f in folds)
    assert folds[0].moments == folds[1].moments
    assert all(same_bits(u, v) for u, v in zip(a.rows(), b.rows(), strict=True))


def test_a_process_compiles_the_kernel_once_numpy_has_passed_over_enough_values(monkeypatch):
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    monkeypatch.setattr(column_pass, "KERNEL", jit.Compiled(column_pass.IR, column_pass.prototypes))  # a fresh process
    monkeypatch.setattr(column_pass, "COMPILE_AFTER", 1000)
    c = wide(np.random.default_rng(2), 400)
    column_pass.column_pass(c)
    column_pass.column_pass(c)
    assert not column_pass.KERNEL.compiled and column_pass.KERNEL.numpy_values == 800
    column_pass.column_pass(c)
    assert column_pass.KERNEL.compiled and column_pass.KERNEL.numpy_values == 1200
    column_pass.column_pass(c)
    assert column_pass.KERNEL.numpy_values == 1200  # compiled: no longer counting


def test_a_numpy_that_sums_in_another_order_keeps_its_own_code(monkeypatch):
    # Should a numpy add otherwise (a version, a build), the first check finds
    # it and the process keeps numpy's pass: numbers stay numpy's.
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    monkeypatch.setattr(column_pass, "_agrees", None)
    numpy_pass = column_pass.numpy_pass

    def in_order(c):
        mean, d, d2, lo, hi = numpy_pass(c)
        return float(np.cumsum(c)[-1]) / c.shape[0], d, d2, lo, hi

    monkeypatch.setattr(column_pass, "numpy_pass", in_order)
    c = wide(np.random.default_rng(1), 1000)
    assert in_order(c)[0] != numpy_pass(c)[0]
    with kernel_from_the_first_batch():
        got = column_pass.column_pass(c)
    assert column_pass._agrees is False
    assert got[0] == in_order(c)[0]


def test_a_processor_whose_features_are_not_detected_gets_the_baseline_code(monkeypatch):
    import llvmlite.binding as llvm

    def undetected():
        raise RuntimeError("no host features")

    monkeypatch.setattr(llvm, "get_host_cpu_features", undetected)
    monkeypatch.setattr(column_pass, "KERNEL", jit.Compiled(column_pass.IR, column_pass.prototypes))
    assert column_pass.KERNEL.compiles()
    check(wide(np.random.default_rng(4), 5000))
