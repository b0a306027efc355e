"""The backend contract: every backend gives the serial reference's numbers, bit for bit.

One test class holds the contract; each backend subclasses it once (serial,
threads, local processes, a caller's thread pool and process pool, a real
Dask cluster), as scipy's ``QMCEngineTests`` and joblib's backend tests do.
Worker deaths are tested where they can happen (test_processes.py,
test_dask.py).
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import modelzoo
import pytest
from conftest import numbers

import montecarlo
from montecarlo import Execution, Sampling, Stopping
from montecarlo.engine.backends import Backend, make_backend
from montecarlo.errors import ModelError


def reference(model, samples, **kwargs):
    return montecarlo.run(model, samples, execution="serial", **kwargs)


class BackendContract:
    """What every backend must do. Subclasses provide ``execution``."""

    @pytest.fixture
    def execution(self) -> Execution:
        raise NotImplementedError

    @pytest.mark.slow
    def test_pi_over_many_blocks(self, execution):
        kwargs = {"rng": 11, "sampling": Sampling(block_size=1 << 18)}
        assert numbers(montecarlo.run("pi", 5_000_000, execution=execution, **kwargs)) == numbers(
            reference("pi", 5_000_000, **kwargs)
        )

    @pytest.mark.slow
    def test_float_outputs_over_many_blocks_with_a_short_last_block(self, execution):
        kwargs = {"rng": 12}  # moments3: blocks of 1000, batches of 300
        got = montecarlo.run(modelzoo.moments3, 23_456, execution=execution, **kwargs)
        assert numbers(got) == numbers(reference(modelzoo.moments3, 23_456, **kwargs))
        assert got.spec.blocks == 24

    @pytest.mark.slow
    def test_one_float_output_over_batches_long_enough_for_threaded_blas(self, execution):
        # A one-output co-moment is a BLAS dot product, which OpenBLAS splits
        # among its threads above 10,000 samples, adding the parts in another
        # order: the numbers must not depend on the threads a worker may use.
        kwargs = {"rng": 15, "sampling": Sampling(block_size=1 << 16, batch_size=1 << 15)}
        got = montecarlo.run("european_option", 5 * (1 << 16), execution=execution, **kwargs)
        assert numbers(got) == numbers(reference("european_option", 5 * (1 << 16), **kwargs))

    @pytest.mark.slow
    def test_native_thread_pools_run_one_thread_per_worker(self, execution):
        got = montecarlo.run(
            modelzoo.blas_threads, 4_000, rng=1, sampling=Sampling(block_size=1_000), execution=execution
        )
        assert got.estimate == 1.0

    @pytest.mark.slow
    def test_derived_and_control_variates(self, execution):
        kwargs = {"rng": 13, "sampling": Sampling(block_size=2_000)}
        got = montecarlo.run("asian_option", 30_000, execution=execution, **kwargs)
        assert numbers(got) == numbers(reference("asian_option", 30_000, **kwargs))

    @pytest.mark.slow
    def test_quantiles_shortfall_and_diagnostics(self, execution):
        kwargs = {"rng": 15, "sampling": Sampling(quantiles=[0.05, 0.5, 0.999], shortfall=[0.9])}
        got = montecarlo.run(modelzoo.laws, 12_345, execution=execution, **kwargs)  # 25 blocks, the last short
        assert numbers(got) == numbers(reference(modelzoo.laws, 12_345, **kwargs))
        assert got.quantiles and got.shortfall and got.diagnostics

    @pytest.mark.slow
    def test_a_stopping_run_stops_at_the_same_block(self, execution):
        kwargs = {"rng": 14, "stopping": Stopping(tolerance=0.02, max_samples=10**6)}
        got = montecarlo.run(modelzoo.moments3, execution=execution, **kwargs)
        ref = reference(modelzoo.moments3, None, **kwargs)
        assert got.stopping["target_met"] and ref.samples < 10**6
        assert numbers(got) == numbers(ref)

    @pytest.mark.slow
    @pytest.mark.parametrize(
        "model, samples, kwargs",
        [
            ("asian_option", 4 * 4096, {"sampling": Sampling(sampler="sobol", replicates=4, block_size=512)}),
            (modelzoo.points3, 3 * 1000, {"sampling": Sampling(sampler="halton", replicates=3, block_size=300)}),
            ("european_option", None, {"sampling": Sampling(sampler="sobol", block_size=256), "tolerance": 1e-3}),
        ],
    )
    def test_quasi_random_replicates(self, execution, model, samples, kwargs):
        got = montecarlo.run(model, samples, rng=15, execution=execution, **kwargs)
        assert numbers(got) == numbers(reference(model, samples, rng=15, **kwargs))

    @pytest.mark.slow
    def test_a_model_error_names_the_first_failing_block(self, execution):
        with pytest.raises(ModelError) as ref:
            reference(modelzoo.raises, 10_000, rng=3, sampling=Sampling(block_size=100))
        with pytest.raises(ModelError) as got:
            montecarlo.run(modelzoo.raises, 10_000, rng=3, sampling=Sampling(block_size=100), execution=execution)
        assert (got.value.block, got.value.spawn_key) == (ref.value.block, ref.value.spawn_key)
        assert got.value.seed == 3

    @pytest.mark.slow
    def test_progress_is_reported_in_order_up_to_the_total(self, execution):
        import dataclasses

        seen: list[tuple[int, int]] = []
        if isinstance(execution, Execution):
            execution = dataclasses.replace(execution, progress=lambda d, t: seen.append((d, t)))
        else:
            execution = Execution(execution, progress=lambda d, t: seen.append((d, t)))
        montecarlo.run(modelzoo.moments3, 12_345, rng=1, execution=execution)
        assert seen[-1] == (12_345, 12_345)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    def test_declares_its_capabilities(self, execution):
        backend = make_backend(Execution.of(execution), [])
        try:
            assert isinstance(backend, Backend) and backend.workers >= 1
            for capability in ("in_process", "eager", "restartable"):
                assert isinstance(getattr(backend, capability), bool)
            assert not (backend.eager and not backend.in_process)
        finally:
            if backend is not Execution.of(execution).executor:
                backend.close()


class TestSerial(BackendContract):
    @pytest.fixture
    def execution(self):
        return Execution("serial")


class TestThreads(BackendContract):
    @pytest.fixture
    def execution(self):
        return Execution("threads", workers=3)


@pytest.mark.slow
class TestProcesses(BackendContract):
    @pytest.fixture
    def execution(self):
        return Execution("processes", workers=2)


class TestCallersThreadPool(BackendContract):
    @pytest.fixture
    def execution(self):
        with ThreadPoolExecutor(4) as pool:
            yield pool


@pytest.mark.slow
class TestCallersProcessPool(BackendContract):
    @pytest.fixture
    def execution(self):
        with ProcessPoolExecutor(2) as pool:
            yield pool


@pytest.mark.slow
class TestDask(BackendContract):
    @pytest.fixture
    def execution(self, dask_client):
        return dask_client


class _PooledThreads(Backend):
    """A backend of a user's own: a thread pool, registered by name."""

    name = "pooled_threads"
    in_process = True

    def __init__(self, workers):
        super().__init__(workers)
        self.pool = ThreadPoolExecutor(workers)

    def submit(self, fn, *args):
        return self.pool.submit(fn, *args)

    def close(self, cancel=False):
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class TestRegisteredBackend(BackendContract):
    @pytest.fixture
    def execution(self):
        from montecarlo.core.execution import BACKENDS

        montecarlo.register_backend("pooled_threads", lambda execution, workers: _PooledThreads(workers))
        yield Execution("pooled_threads", workers=3)
        BACKENDS.unregister("pooled_threads")


class TestMapLikeBuiltinMap(BackendContract):
    """scipy's convention: ``workers`` may be a map-like function; the builtin map runs tasks in this process."""

    @pytest.fixture
    def execution(self):
        return Execution.of(workers=map)


@pytest.mark.slow
class TestMapLikePoolMap(BackendContract):
    @pytest.fixture
    def execution(self):
        import multiprocessing

        with multiprocessing.get_context("spawn").Pool(2) as pool:
            yield Execution.of(workers=pool.map)


def test_scipy_style_shortcuts():
    ref = reference("pi", 10**6, rng=1)
    assert numbers(montecarlo.run("pi", 10**6, rng=1, executor="threads", workers=2)) == numbers(ref)
    r = montecarlo.run("pi", 10**6, rng=1, workers=map)
    assert numbers(r) == numbers(ref) and r.provenance["executor"] == "map"
    with pytest.raises(montecarlo.ValidationError, match=r"`workers` = 2 is given together with `execution`"):
        montecarlo.run("pi", 10**6, rng=1, workers=2, execution="serial")
    with pytest.raises(montecarlo.ValidationError, match=r"`executor` = 'threads' is given together with `execution`"):
        montecarlo.run("pi", 10**6, rng=1, executor="threads", execution=Execution())
    with pytest.raises(
        montecarlo.ValidationError, match=r"`executor` = 'thread' is not accepted \(did you mean `threads`\?\)"
    ):
        montecarlo.run("pi", 10**6, rng=1, executor="thread")


def test_a_backend_factory_is_checked_when_registered():
    with pytest.raises(montecarlo.ValidationError, match=r"`factory` = 3 is not accepted"):
        montecarlo.register_backend("three", 3)
    with pytest.raises(montecarlo.ValidationError, match=r"`name` = 'threads' is taken"):
        montecarlo.register_backend("threads", lambda execution, workers: None)


def test_a_callers_executor_is_left_open():
    with ThreadPoolExecutor(2) as pool:
        montecarlo.run("pi", 10**6, rng=1, execution=Execution(pool, workers=2))
        assert pool.submit(lambda: 5).result() == 5


@pytest.mark.slow
def test_a_run_too_small_to_split_runs_on_one_worker_process():
    r = montecarlo.run("pi", 1000, rng=3, execution=Execution(workers=2))
    assert (r.provenance["executor"], r.provenance["workers"]) == ("processes", 1)
