"""Several runs on one backend (montecarlo.engine.multirun): each run's numbers are its own, alone."""

import dataclasses

import modelzoo
import pytest
from conftest import numbers

import montecarlo
from montecarlo import Sampling, Stopping
from montecarlo.api import with_model
from montecarlo.core.execution import Execution
from montecarlo.engine.backends import make_backend
from montecarlo.engine.multirun import execute_many
from montecarlo.engine.scheduler import execute
from montecarlo.errors import ModelError
from montecarlo.records.checkpoint import RunState


def specs():
    """Three unlike runs: other models, block sizes, spawn keys and a stopping rule."""
    small = Sampling(block_size=1000, batch_size=300)
    return [
        montecarlo.make_spec("pi", 200_000, rng=3, sampling=Sampling(block_size=5000)),
        montecarlo.make_spec(modelzoo.moments3, 30_000, rng=4, sampling=small),
        montecarlo.make_spec(
            "european_option", 10**6, rng=5, stopping=Stopping(rtol=1e-2), sampling=Sampling(block_size=10_000)
        ),
    ]


def alone(spec):
    backend = make_backend(Execution("serial"), [spec])
    try:
        return execute(with_model(spec), backend)
    finally:
        backend.close()


def bits(outcome):
    return outcome.total.to_dict(), outcome.ending, outcome.trace, outcome.prefix_blocks


@pytest.mark.parametrize(("executor", "workers"), [("serial", 1), ("threads", 3), ("processes", 2)])
def test_each_run_gives_the_numbers_it_gives_alone(executor, workers):
    runs = [with_model(s) for s in specs()]
    backend = make_backend(Execution(executor, workers=workers), ())
    try:
        outcomes = execute_many(runs, backend)
    finally:
        backend.close()
    for spec, got in zip(runs, outcomes, strict=True):
        assert bits(got) == bits(alone(spec))
    assert outcomes[2].ending.rule == "rtol" and outcomes[2].total.count < 10**6  # the rule stopped it alone


def test_a_run_continues_from_its_state_and_the_checkpoints_cover_every_run():
    first, second = (with_model(s) for s in specs()[:2])
    backend = make_backend(Execution("threads", workers=2), ())
    half = make_backend(Execution("serial"), ())
    saved = []
    try:
        part = execute(with_model(montecarlo.make_spec("pi", 100_000, rng=3, sampling=Sampling(block_size=5000))), half)
        state = RunState(part.prefix_blocks, part.total, {}, list(part.trace))
        outcomes = execute_many([first, second], backend, states=[state, None], checkpoint=saved.append)
    finally:
        backend.close()
        half.close()
    assert bits(outcomes[0]) == bits(alone(first))  # the first 20 blocks came from the state
    assert saved and all(len(s) == 2 for s in saved) and all(s.complete for s in saved[-1])
    assert saved[-1][0].total.to_dict() == outcomes[0].total.to_dict()


def test_a_model_error_names_its_run_block_and_spawn_key():
    bad = with_model(montecarlo.make_spec(modelzoo.wrong_shape, 4000, rng=9, sampling=Sampling(block_size=1000)))
    good = with_model(specs()[0])
    backend = make_backend(Execution("threads", workers=2), ())
    with pytest.raises(ModelError, match=r"block 0, spawn key \(0,\)") as err:
        execute_many([good, bad], backend)
    assert err.value.spec == bad


@pytest.mark.slow
def test_dead_workers_are_replaced_and_change_nothing(tmp_path):
    sampling = Sampling(block_size=1000, batch_size=500)
    ref = montecarlo.make_spec(modelzoo.die_once, 20_000, rng=8, sampling=sampling, params={"marker": ""})
    dying = dataclasses.replace(ref, params={"marker": str(tmp_path / "died")})  # its model runs in workers only
    other = with_model(specs()[1])
    backend = make_backend(Execution("processes", workers=2), ())
    try:
        got = execute_many([with_model(dying), other], backend)
    finally:
        backend.close()
    assert (tmp_path / "died").exists()
    assert got[0].total.to_dict() == alone(with_model(ref)).total.to_dict()
    assert bits(got[1]) == bits(alone(other))
    assert numbers(montecarlo.run_spec(other, executor="serial"))["accumulator"] == got[1].total.to_dict()
