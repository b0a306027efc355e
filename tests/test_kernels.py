"""The compiled π kernel (the ``jit`` extra) gives the numpy code's numbers, bit for bit."""

from __future__ import annotations

import re

import numba  # noqa: F401  (part of the test extra: these tests run, never skip)
import numpy as np
import pytest
from conftest import numbers

import montecarlo
from montecarlo import _kernels as kernels
from montecarlo.core.seeding import BIT_GENERATORS
from montecarlo.models.builtin import pi as pi_model


@pytest.mark.parametrize("bit_generator", sorted(BIT_GENERATORS))
@pytest.mark.parametrize("n", [1, 2, 3, 1000, 65_535, 1 << 16])
def test_the_same_hits_and_the_same_generator_state_afterwards(bit_generator, n, monkeypatch):
    for seed in range(3):
        compiled = np.random.Generator(BIT_GENERATORS[bit_generator](seed))
        plain = np.random.Generator(BIT_GENERATORS[bit_generator](seed))
        hits = kernels.quarter_disc(compiled, n)
        monkeypatch.setenv(kernels.JIT_VARIABLE, "0")
        want = pi_model.simulate(plain, n)
        monkeypatch.delenv(kernels.JIT_VARIABLE)
        assert hits.dtype == want.dtype and np.array_equal(hits, want)
        # The generator is left where the numpy code leaves it: the next batch starts alike.
        assert np.array_equal(compiled.bit_generator.random_raw(8), plain.bit_generator.random_raw(8))


def test_points_on_the_circle_count_as_hits_in_both_paths():
    # x² + y² rounds to exactly 1 for some draws: the comparison must be <=, after the same roundings.
    rng = np.random.Generator(np.random.SFC64(2))
    state = rng.bit_generator.state
    hits = kernels.quarter_disc(rng, 1 << 16)
    rng.bit_generator.state = state
    x, y = rng.random((2, 1 << 16))
    assert np.array_equal(hits, x * x + y * y <= 1.0)


def test_built_in_models_use_the_kernel_when_the_jit_extra_is_installed(monkeypatch):
    monkeypatch.delenv(kernels.JIT_VARIABLE, raising=False)
    assert kernels.enabled()


@pytest.mark.slow
@pytest.mark.parametrize("bit_generator", ["sfc64", "philox"])
@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_whole_runs_are_bit_identical_with_and_without_the_kernel(bit_generator, executor, monkeypatch):
    kwargs = {"rng": 21, "sampling": montecarlo.Sampling(bit_generator=bit_generator, block_size=100_003)}
    execution = montecarlo.Execution(executor, workers=2)
    compiled = montecarlo.run("pi", 1_000_000, execution=execution, **kwargs)
    monkeypatch.setenv(kernels.JIT_VARIABLE, "0")
    plain = montecarlo.run("pi", 1_000_000, execution=execution, **kwargs)
    assert numbers(compiled) == numbers(plain)


def test_the_machine_code_fuses_no_multiply_add():
    # A fused multiply-add rounds x*x + y*y once instead of twice: a point
    # on the circle's edge could then count differently than in numpy.
    from montecarlo._kernels import pi as compiled_pi

    code = compiled_pi.assembly().lower()
    assert "sfc64_quarter_disc" in code and "mulsd" in code  # the kernels, with their multiplications
    assert not re.search(r"\bv?f(n)?m(add|sub)\w*", code)


# --------------------------------------------------------------------------
# a batch's statistics (montecarlo._kernels.stats): whole runs with and without the kernel
# --------------------------------------------------------------------------

RUNS = [
    ("european_option", 200_000, {"block_size": 50_000}),
    ("asian_option", 200_000, {}),
    ("modelzoo:moments3", 100_000, {"block_size": 20_011, "batch_size": 5_003}),
    ("modelzoo:laws", 100_000, {"block_size": 30_000, "batch_size": 16_384, "quantiles": [0.5]}),
]


def run_both_ways(name, n, sampling, execution, monkeypatch):
    import modelzoo

    import montecarlo._kernels as kernels
    from montecarlo._kernels import llvm as jit
    from montecarlo._kernels import stats

    model = getattr(modelzoo, name.partition(":")[2]) if name.startswith("modelzoo:") else name
    kwargs = {"rng": 8, "sampling": montecarlo.Sampling(**sampling), "execution": execution}
    monkeypatch.delenv(jit.JIT_VARIABLE, raising=False)
    monkeypatch.setattr(kernels, "COMPILE_AFTER", 0)  # the kernel from the first batch (forked workers too)
    calls = []
    real_k, real_call, real_fold = stats.k_outputs, stats.ColumnPass.__call__, stats.ColumnFold.__init__
    monkeypatch.setattr(stats, "k_outputs", lambda f, x: calls.append(x.shape) or real_k(f, x))
    monkeypatch.setattr(stats.ColumnPass, "__call__", lambda self, c: calls.append(c.shape) or real_call(self, c))
    monkeypatch.setattr(stats.ColumnFold, "__init__", lambda self, f: calls.append("fold") or real_fold(self, f))
    compiled = montecarlo.run(model, n, **kwargs)
    if execution == "serial" or execution.executor == "threads":  # forked workers call their own copy
        assert calls
    monkeypatch.setenv(jit.JIT_VARIABLE, "0")
    calls.clear()
    plain = montecarlo.run(model, n, **kwargs)
    assert not calls
    return compiled, plain


@pytest.mark.slow
@pytest.mark.parametrize(("name", "n", "sampling"), RUNS)
def test_runs_are_bit_identical_with_and_without_the_statistics_kernel(name, n, sampling, monkeypatch):
    compiled, plain = run_both_ways(name, n, sampling, "serial", monkeypatch)
    assert numbers(compiled) == numbers(plain)


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["threads", "processes"])
@pytest.mark.parametrize(("name", "n", "sampling"), RUNS)
def test_runs_on_workers_are_bit_identical_either_way(name, n, sampling, executor, monkeypatch):
    execution = montecarlo.Execution(executor, workers=2)
    compiled, plain = run_both_ways(name, n, sampling, execution, monkeypatch)
    assert numbers(compiled) == numbers(plain)


@pytest.mark.parametrize("runs", ["one", "many"])
def test_workers_of_a_long_run_start_with_the_kernel_their_driver_compiled(runs, monkeypatch):
    # A run (or runs side by side) that will hand the kernel more than COMPILE_AFTER values compiles it
    # in the driver before the pool forks: every worker has it from its first batch instead of each
    # compiling its own.
    import modelzoo

    from montecarlo._kernels import stats
    from montecarlo.api import with_model
    from montecarlo.core.execution import Execution
    from montecarlo.engine.backends import make_backend
    from montecarlo.engine.multirun import execute_many

    monkeypatch.delenv(kernels.JIT_VARIABLE, raising=False)
    monkeypatch.setattr(kernels, "COMPILE_AFTER", 50_000)
    sampling = montecarlo.Sampling(block_size=10_000)
    spec = with_model(montecarlo.make_spec(modelzoo.kernel_compiled_here, 200_000, rng=1, sampling=sampling))

    def share_compiled() -> float:
        if runs == "one":
            return montecarlo.run_spec(spec, execution=Execution("processes", workers=2)).estimate
        backend = make_backend(Execution("processes", workers=2), ())
        try:
            outcomes = execute_many([spec, spec], backend)
        finally:
            backend.close()
        return float(np.mean([o.total.moments.mean[0] for o in outcomes]))

    for precompiled in (True, False):
        for name, fresh in (("_functions", {}), ("_compiles", None), ("numpy_values", 0)):
            monkeypatch.setattr(stats.KERNEL, name, fresh)  # as in a fresh process: nothing compiled yet
        if not precompiled:
            monkeypatch.setattr(kernels, "compile_for", lambda values: None)
        if precompiled:
            assert share_compiled() == 1.0
        else:  # each worker compiles only past the threshold: its first blocks ran without the kernel
            assert share_compiled() < 1.0


def test_a_run_compiles_up_front_only_past_the_threshold_and_where_allowed(monkeypatch):
    from montecarlo._kernels import stats

    monkeypatch.delenv(kernels.JIT_VARIABLE, raising=False)
    monkeypatch.setattr(stats.KERNEL, "_functions", {})
    monkeypatch.setattr(stats.KERNEL, "_compiles", None)
    kernels.compile_for(kernels.COMPILE_AFTER)
    assert not stats.KERNEL.compiled
    monkeypatch.setenv(kernels.JIT_VARIABLE, "0")
    kernels.compile_for(kernels.COMPILE_AFTER + 1)
    assert not stats.KERNEL.compiled
    monkeypatch.delenv(kernels.JIT_VARIABLE)
    kernels.compile_for(kernels.COMPILE_AFTER + 1)
    assert stats.KERNEL.compiled
