"""The determinism contract, accuracy and failure handling of the engine."""

import math
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor

import modelzoo
import numpy as np
import pytest
from conftest import numbers

import montecarlo
from montecarlo import Execution, Sampling
from montecarlo.api import make_spec
from montecarlo.engine import plan, scheduler
from montecarlo.engine.backends import make_backend
from montecarlo.errors import ModelError, OversubscriptionWarning, WorkerDiedError

# --------------------------------------------------------------------------
# same numbers whatever the execution
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::montecarlo.errors.OversubscriptionWarning")  # more workers than cores, on purpose
@pytest.mark.parametrize("seed", [0, 1, 2**32])
def test_pi_identical_for_every_worker_count_and_executor(seed):
    ref = montecarlo.run("pi", samples=2 * 10**7, rng=seed, execution="serial")
    for workers in (1, 2, 3, 4):
        for executor in ("processes", "threads"):
            r = montecarlo.run("pi", samples=2 * 10**7, rng=seed, execution=Execution(executor, workers=workers))
            assert numbers(r) == numbers(ref), (workers, executor)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::montecarlo.errors.OversubscriptionWarning")  # more workers than cores, on purpose
@pytest.mark.parametrize("group", [1, 2, 3, 7, 50])
@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_task_grouping_changes_nothing(group, executor):
    spec = make_spec(modelzoo.moments3, 23_456, rng=9)
    ref = montecarlo.run(modelzoo.moments3, 23_456, rng=9, execution="serial")
    backend = make_backend(Execution(executor, workers=3), [spec])
    try:
        m = scheduler.execute(spec, backend, group=group, window=4).total
    finally:
        backend.close()
    assert m == ref.accumulator


def test_tasks_hold_the_samples_their_backend_aims_at():
    # A backend whose tasks cost more to hand out (Dask's) aims at larger
    # ones; the tail still shrinks so that no worker idles at the end.
    sampling = Sampling(block_size=2**16)
    spec = make_spec("pi", 2**16 * 96, rng=1, sampling=sampling)
    reference = montecarlo.run("pi", spec.samples, rng=1, sampling=sampling, execution="serial")
    sizes = {}
    for task_samples in (2**17, 2**19):
        backend = make_backend(Execution("threads", workers=2), [spec])
        backend.task_samples = task_samples
        submitted: list = []

        def submit(fn, job, blocks, submitted=submitted, submit=backend.submit):
            submitted.append(blocks)
            return submit(fn, job, blocks)

        backend.submit = submit
        try:
            total = scheduler.execute(spec, backend).total
        finally:
            backend.close()
        assert [b for blocks in submitted for b, _ in blocks] == list(range(spec.blocks))
        sizes[task_samples] = [len(blocks) for blocks in submitted]
        assert total == reference.accumulator
    assert max(sizes[2**17]) == 2 and max(sizes[2**19]) == 8
    assert sizes[2**19][-1] == 1
    from montecarlo.engine.backends.dask import DaskBackend
    from montecarlo.engine.backends.processes import ProcessBackend

    assert DaskBackend.task_samples > ProcessBackend.task_samples


@pytest.mark.slow
def test_out_of_order_completion_changes_nothing():
    # Tasks that finish in a random order (random sleeps on 4 threads) are
    # held until the prefix before them is folded.
    @montecarlo.model(outputs=["a", "b"])
    def jittery(rng, n):
        time.sleep(random.random() * 0.003)
        return rng.normal(size=(n, 2))

    sampling = Sampling(block_size=500)
    ref = montecarlo.run(jittery, 30_000, rng=4, execution="serial", sampling=sampling)
    for _ in range(3):
        r = montecarlo.run(jittery, 30_000, rng=4, execution=Execution("threads", workers=4), sampling=sampling)
        assert numbers(r) == numbers(ref)


def test_a_callers_executor_is_accepted_and_left_open():
    sampling = Sampling(block_size=4096)
    ref = montecarlo.run(modelzoo.exp_mean, 50_000, rng=2, execution="serial", sampling=sampling)
    with ThreadPoolExecutor(3) as pool:
        r = montecarlo.run(modelzoo.exp_mean, 50_000, rng=2, execution=pool, sampling=sampling)
        assert numbers(r) == numbers(ref)
        assert pool.submit(lambda: 5).result() == 5  # still usable


@pytest.mark.slow
def test_tiny_runs_start_one_worker_process_with_the_same_numbers():
    # One block: one worker process, not two, and not the caller's process.
    r1 = montecarlo.run("pi", samples=1000, rng=3, execution=Execution(workers=2))
    assert (r1.provenance["executor"], r1.provenance["workers"]) == ("processes", 1)
    r2 = montecarlo.run("pi", samples=1000, rng=3, execution="serial")
    assert numbers(r1) == numbers(r2)


def test_blocks_are_a_lazy_plan():
    # 1e12 samples: the plan is a generator; only the first tasks are made.
    spec = make_spec("pi", 10**12, rng=1)
    tasks = plan.plan(spec, 4)
    first = next(tasks)
    assert first.blocks[0] == (0, spec.block_size) and len(first.blocks) == 4
    assert spec.blocks == math.ceil(10**12 / spec.block_size)


@pytest.mark.slow
def test_last_block_is_short():
    spec = make_spec("pi", 10 * (1 << 22) + 5, rng=1)
    assert spec.blocks == 11 and spec.block_samples(10) == 5
    r = montecarlo.run("pi", samples=10 * (1 << 22) + 5, rng=1, execution=Execution(workers=2))
    assert r.samples == 10 * (1 << 22) + 5


@pytest.mark.slow
def test_progress_callback_sees_every_sample():
    seen = []
    execution = Execution(workers=2, progress=lambda d, t: seen.append((d, t)))
    montecarlo.run("pi", samples=3 * (1 << 22), rng=1, execution=execution)
    assert seen[-1] == (3 * (1 << 22), 3 * (1 << 22))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# --------------------------------------------------------------------------
# golden values and accuracy
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_golden_pi():
    # Pinned: seed 12345, 10**6 samples, default bit generator and block size.
    r = montecarlo.run("pi", samples=10**6, rng=12345, execution=Execution(workers=1))
    assert r.estimate == GOLDEN_PI
    assert r.accumulator.count == 10**6


GOLDEN_PI = 3.138272  # 784568 hits of 10**6


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 7, 2**32, 2**100])
def test_pi_inside_its_own_999_interval(seed):
    r = montecarlo.run("pi", samples=4 * 10**6, rng=seed, confidence=0.999, execution=Execution(workers=2))
    assert r["pi"].covers(math.pi)
    assert r["pi"].exact == math.pi


@pytest.mark.slow
@pytest.mark.parametrize("interval", ["t", "normal", "wilson", "clopper-pearson"])
def test_multi_output_accuracy_and_covariance(interval):
    model = modelzoo.moments3
    if interval in ("wilson", "clopper-pearson"):  # binomial intervals: for a probability output (the others get t)
        outputs = ["u", "u2", montecarlo.Output("hit", kind="probability")]
        model = montecarlo.model(outputs=outputs, block_size=1000, batch_size=300)(
            lambda rng, n: modelzoo.moments3(rng, n)  # a function of its own: modelzoo's keeps its declaration
        )
    r = montecarlo.run(model, 200_000, rng=5, confidence=0.999, interval=interval, execution=Execution(workers=2))
    if interval in ("wilson", "clopper-pearson"):
        assert (r["u"].method, r["hit"].method) == ("t", interval)
    for name, exact in {"u": 0.5, "u2": 1 / 3, "hit": 0.25}.items():
        assert r[name].covers(exact), (name, r[name])
    # Cov(U, U^2) = E[U^3] - E[U]E[U^2] = 1/4 - 1/6 = 1/12, over n for the means.
    assert r.covariance[0, 1] * r.samples == pytest.approx(1 / 12, rel=0.02)
    assert r.covariance.shape == (3, 3) and np.allclose(r.covariance, r.covariance.T)


def test_probability_output_with_zero_hits_gets_a_wilson_interval():
    r = montecarlo.run(modelzoo.coin, 500, rng=1, params={"p": 0.0}, execution="serial")
    e = r["heads"]
    assert e.estimate == 0.0 and e.method == "wilson"
    assert e.interval[0] == 0.0 and 0.0 < e.interval[1] < 0.01


@pytest.mark.slow
def test_pi_interval_coverage_over_many_seeds():
    # 95% Wilson intervals over 400 seeds: hit rate inside the binomial 99.9%
    # band around 0.95 (about 0.917 to 0.975).
    from scipy.stats import binom

    reps = 400
    hits = sum(montecarlo.run("pi", samples=2000, rng=s, execution="serial")["pi"].covers(math.pi) for s in range(reps))
    lo, hi = binom.ppf([0.0005, 0.9995], reps, 0.95)
    assert lo <= hits <= hi, hits


# --------------------------------------------------------------------------
# failures: named blocks, retries, never a hang
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_model_exception_names_block_and_spawn_key(executor):
    with pytest.raises(ModelError, match=r"model raised ValueError: boom.*\(block (\d+), spawn key \(\1,\)\)") as err:
        montecarlo.run(
            modelzoo.raises, 10_000, rng=3, execution=Execution(executor, workers=2), sampling=Sampling(block_size=100)
        )
    # Replaying that block in-process raises the model's own exception.
    spec = make_spec(modelzoo.raises, 10_000, rng=3, sampling=Sampling(block_size=100))
    with pytest.raises(ValueError, match="boom"):
        montecarlo.replay_block(spec, err.value.block)
    assert "Traceback" in err.value.detail


def test_wrong_shape_is_named():
    with pytest.raises(ModelError, match=r"shape \(101,\) for n=100; expected \(100,\) \(block 0, spawn key \(0,\)\)"):
        montecarlo.run(modelzoo.wrong_shape, 1000, rng=1, execution="serial", sampling=Sampling(block_size=100))


def test_non_finite_values_are_named():
    with pytest.raises(ModelError, match=r"non-finite value \(nan\).*\(block \d+, spawn key \(\d+,\)\)"):
        montecarlo.run(
            modelzoo.returns_nan, 10_000, rng=1, execution=Execution(workers=2), sampling=Sampling(block_size=100)
        )


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_result_is_unchanged(tmp_path):
    marker = str(tmp_path / "died")
    sampling = Sampling(block_size=1000)
    ref = montecarlo.run(modelzoo.die_once, 40_000, rng=8, execution="serial", sampling=sampling, params={"marker": ""})
    r = montecarlo.run(
        modelzoo.die_once, 40_000, rng=8, execution=Execution(workers=2), sampling=sampling, params={"marker": marker}
    )
    assert os.path.exists(marker)  # a worker really died
    assert r.to_dict()["outputs"] == ref.to_dict()["outputs"]


@pytest.mark.slow
def test_workers_that_keep_dying_fail_clearly_and_fast():
    t0 = time.perf_counter()
    with pytest.raises(
        WorkerDiedError, match=r"a worker process died while running blocks? \d+.*gave up after 1 retry"
    ):
        montecarlo.run(
            modelzoo.always_die,
            10_000,
            rng=1,
            execution=Execution(workers=2, retries=1),
            sampling=Sampling(block_size=1000),
        )
    assert time.perf_counter() - t0 < 30


@pytest.mark.slow
def test_tasks_stay_small_whatever_the_block_count():
    # A task returns one accumulator per block: tiny blocks must not make
    # huge results (memory stays flat; see benchmarks/tiny_blocks.py).
    spec = make_spec("pi", 10**7, rng=1, sampling=Sampling(block_size=10))
    assert plan.blocks_per_task(spec, 2, 1 << 24) == plan.TASK_BLOCKS
    tasks = list(plan.plan(spec, plan.blocks_per_task(spec, 2, 1 << 24), workers=2))
    assert max(len(t.blocks) for t in tasks) == plan.TASK_BLOCKS
    assert len(tasks[-1].blocks) == 1  # the tail shrinks to single blocks
    assert [b for t in tasks for b, _ in t.blocks] == list(range(spec.blocks))


@pytest.mark.slow
def test_the_fold_merges_left_to_right_in_block_order():
    # Chan's update is not symmetric to the bit: folding `m.merge(total)` instead
    # of `total.merge(m)` changes the last digits, which this pins.
    spec = montecarlo.make_spec(modelzoo.moments3, 40_000, rng=3)  # a seed where the order shows
    model = spec.model_record
    r = montecarlo.run_spec(spec, model, execution=Execution("threads", workers=3))
    blocks = [montecarlo.replay_block(spec, b, model) for b in range(spec.blocks)]
    left, right = blocks[0], blocks[0]
    for m in blocks[1:]:
        left, right = left.merge(m), m.merge(right)
    assert r.accumulator == left
    assert right != left  # the other order is distinguishable: the check above can fail


@pytest.mark.slow
def test_no_more_workers_start_than_the_run_has_blocks():
    # Asked for 1000, a two-block run starts two processes (not 1000, which
    # took a minute and gigabytes).
    with pytest.warns(OversubscriptionWarning, match="1000 workers asked for on"):
        r = montecarlo.run("pi", 2000, rng=1, sampling=Sampling(block_size=1000), execution=Execution(workers=1000))
    assert (r.provenance["executor"], r.provenance["workers"]) == ("processes", 2)


def infinite_at_3(rng, n):
    x = rng.random(n)
    x[3] = np.inf
    return x


def test_an_infinite_value_is_named_without_a_numpy_warning():
    # filterwarnings = error: a RuntimeWarning on the way would fail this test
    with pytest.raises(ModelError, match=r"non-finite value \(inf\) at sample 3 of a batch \(block 0"):
        montecarlo.run(infinite_at_3, 10_000, rng=1, execution="serial")
