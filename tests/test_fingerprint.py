"""A model's fingerprint: the cache, resume, extend and reproduce never mix two models.

Each test plants one change a model's name does not show (module data built
at start-up, a closure's value, an edited payoff) and checks that the run
computes afresh or refuses, naming what changed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import MC, mc

import montecarlo
from montecarlo import Checkpointing, Execution, Stopping, ValidationError
from montecarlo.errors import CheckpointError, ResultFormatError
from montecarlo.models.fingerprint import changed_since, changes, fingerprint
from montecarlo.models.registry import load_model


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("MONTECARLO_CACHE", str(folder))
    return folder


def cached():
    return Execution("serial", cache=True)


# --------------------------------------------------------------------------
# what a fingerprint sees
# --------------------------------------------------------------------------


def scaled(scale):
    def simulate(rng, n):
        return scale * rng.random(n)

    return simulate


OFFSET = 0.0


def shifted(rng, n):
    return rng.random(n) + OFFSET


def helper(u):
    return u * u


def calls_helper(rng, n):
    return helper(rng.random(n))


def test_closures_globals_and_called_functions_are_part_of_it(monkeypatch):
    one, hundred = fingerprint(load_model(scaled(1.0))), fingerprint(load_model(scaled(100.0)))
    assert one["digest"] != hundred["digest"] and changes(one, hundred) == ["the closure value scale"]
    assert fingerprint(load_model(scaled(1.0)))["digest"] == one["digest"]  # a rebuilt closure of equal value

    before = fingerprint(load_model(shifted))
    monkeypatch.setitem(globals(), "OFFSET", 1.0)
    assert changes(before, fingerprint(load_model(shifted))) == ["the global OFFSET"]

    before = fingerprint(load_model(calls_helper))
    monkeypatch.setitem(globals(), "helper", lambda u: u * u * u)
    assert changes(before, fingerprint(load_model(calls_helper))) == ["the global helper"]


def test_outputs_declaration_and_defaults_are_part_of_it():
    def simulate(rng, n, a=1.0):
        return a * rng.random(n)

    def other_default(rng, n, a=2.0):
        return a * rng.random(n)

    plain = fingerprint(load_model(simulate))
    assert fingerprint(load_model(simulate))["digest"] == plain["digest"]
    assert "the model's code" in changes(plain, fingerprint(load_model(other_default)))
    named = montecarlo.model(outputs=["y"])(simulate)
    assert "its outputs' declaration" in changes(plain, fingerprint(load_model(named)))


@pytest.mark.slow
def test_it_is_the_same_in_every_process(tmp_path):
    # Sets and dictionaries are taken in sorted order: their iteration order
    # follows the string hash seed, which differs from process to process.
    (tmp_path / "setmodel.py").write_text(
        textwrap.dedent(
            """
            NAMES = {"alpha", "beta", "gamma", "delta"}
            TABLE = {"x": 1.0, "y": 2.0, "z": 3.0}

            def simulate(rng, n):
                return rng.random(n) * len(NAMES) * TABLE["x"]
            """
        )
    )
    code = (
        "import json; from montecarlo.models.registry import load_model; "
        "from montecarlo.models.fingerprint import fingerprint; "
        "print(json.dumps(fingerprint(load_model('setmodel.py:simulate'))))"
    )
    prints = set()
    for seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        prints.add(p.stdout)
    assert len(prints) == 1
    fp = json.loads(prints.pop())
    assert fp["complete"] and {"global:NAMES", "global:TABLE", "module:setmodel"} <= set(fp["parts"])


def test_a_value_that_cannot_be_pickled_makes_it_incomplete_and_never_cached():
    import threading

    lock = threading.Lock()

    def simulate(rng, n):
        with lock:
            return rng.random(n)

    fp = fingerprint(load_model(simulate))
    assert not fp["complete"]
    r = montecarlo.run(simulate, 10**4, rng=1, execution=cached())
    assert r.provenance["cache"].startswith("not stored: the model reads a value that cannot be pickled")


def test_changed_since_is_empty_for_files_without_one():
    fp = fingerprint(load_model("pi"))
    assert changed_since({}, fp) == "" and changed_since(fp, fp) == ""


# --------------------------------------------------------------------------
# the cache (issue: the cache answered for another model)
# --------------------------------------------------------------------------

BASKET = """
import sys

import numpy as np

import montecarlo

W = np.array([float(w) for w in sys.argv[1].split(",")])


def basket(rng, n):
    return (rng.random((n, 3)) * W).sum(axis=1)


if __name__ == "__main__":
    r = montecarlo.run(basket, 10**5, rng=1, execution=montecarlo.Execution("serial", cache=True))
    print(r.estimate, r.provenance["cache"])
"""


@pytest.mark.slow
def test_module_data_built_at_start_up_keys_the_cache(tmp_path, cache_folder):
    (tmp_path / "basket.py").write_text(BASKET)

    def run(weights):
        p = subprocess.run(
            [sys.executable, "basket.py", weights], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert p.returncode == 0, p.stderr
        estimate, how = p.stdout.split()
        return float(estimate), how

    low, how = run("0.2,0.3,0.5")
    assert how == "stored" and low == pytest.approx(0.5, abs=0.01)
    assert run("0.2,0.3,0.5") == (low, "reused")
    high, how = run("0.6,0.6,0.6")
    assert how == "stored" and high == pytest.approx(0.9, abs=0.01)


def test_two_closures_of_one_factory_are_two_entries():
    one = montecarlo.run(scaled(1.0), 10**4, rng=1, execution=cached())
    hundred = montecarlo.run(scaled(100.0), 10**4, rng=1, execution=cached())
    assert one.provenance["cache"] == hundred.provenance["cache"] == "stored"
    assert hundred.estimate == pytest.approx(100 * one.estimate, rel=1e-12)
    assert montecarlo.run(scaled(100.0), 10**4, rng=1, execution=cached()).provenance["cache"] == "reused"


def test_a_time_limited_run_is_never_cached(cache_folder):
    for _ in range(2):
        r = montecarlo.run("pi", 10**6, rng=1, stopping=Stopping(time_limit=60), execution=cached())
        assert r.provenance["cache"] == "not stored: a run stopped by a time limit is not a function of its RunSpec"
    assert not list(cache_folder.glob("**/*.json"))


def test_every_result_records_its_fingerprint(tmp_path):
    r = montecarlo.run("pi", 10**4, rng=1, execution="serial")
    assert r.fingerprint == fingerprint(load_model("pi"))
    r.save(tmp_path / "r.json")
    assert montecarlo.load(tmp_path / "r.json").fingerprint == r.fingerprint


# --------------------------------------------------------------------------
# resume and extend (issue: a resume blended two payoffs)
# --------------------------------------------------------------------------

SLOW_MODEL = """
import time


def payoff(rng, n):
    time.sleep(0.01)
    return rng.random(n)
"""


@pytest.mark.slow
def test_a_resume_after_the_payoff_changed_is_refused_in_one_line(tmp_path):
    (tmp_path / "m2.py").write_text(SLOW_MODEL)
    ck = tmp_path / "m2.ckpt"
    args = ["run", "m2.py:payoff", "-n", "400000", "--block-size", "1000", "--seed", "3", "-w", "1", "-q"]
    args += ["--checkpoint", str(ck), "--checkpoint-every", "0.1"]
    proc = subprocess.Popen([MC, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):
            if ck.exists() and json.loads(ck.read_text())["samples_done"] >= 20_000:
                break
            assert proc.poll() is None, proc.communicate()
            subprocess.run(["sleep", "0.05"])
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    saved = ck.read_bytes()
    (tmp_path / "m2.py").write_text(SLOW_MODEL.replace("return rng.random(n)", "return 1000 + rng.random(n)"))
    p = subprocess.run([MC, *args, "--resume"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2, p.stderr
    (line,) = p.stderr.strip().splitlines()
    assert "another version of the model" in line and "the source of module m2" in line
    assert ck.read_bytes() == saved  # left untouched: the model that wrote it can still resume it


def test_a_resume_in_python_names_the_changed_closure(tmp_path):
    ck = tmp_path / "c.json"
    montecarlo.run(scaled(1.0), 10**4, rng=1, execution="serial", checkpoint=ck)
    with pytest.raises(CheckpointError, match="the closure value scale changed"):
        montecarlo.run(scaled(2.0), 10**4, rng=1, execution="serial", checkpoint=Checkpointing(ck, resume=True))


def test_extend_refuses_another_version_of_the_model(tmp_path):
    ck = tmp_path / "c.json"
    montecarlo.run(scaled(1.0), 1 << 18, rng=1, execution="serial", checkpoint=ck)
    done = montecarlo.run(scaled(1.0), 1 << 18, rng=1, execution="serial", checkpoint=Checkpointing(ck, resume=True))
    assert montecarlo.extend(done, 1 << 19, model=scaled(1.0)).samples == 1 << 19
    with pytest.raises(ValidationError, match="another version of the model"):
        montecarlo.extend(done, 1 << 19, model=scaled(3.0))


# --------------------------------------------------------------------------
# reproduce
# --------------------------------------------------------------------------

EXPERIMENT = """
name = "changing"
model = "{model}"
samples = 20000
seed = 4
"""


def test_reproduce_says_the_model_changed(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m3.py").write_text("def simulate(rng, n):\n    return rng.random(n)\n")
    (tmp_path / "exp.toml").write_text(EXPERIMENT.format(model=str(tmp_path / "m3.py") + ":simulate"))
    code, _, err = mc(capsys, "experiment", "run", "exp.toml", "-o", "out", "-q", "--no-cache")
    assert code == 0, err
    (result,) = (tmp_path / "out").glob("*/*/result.json")
    assert mc(capsys, "reproduce", result)[0] == 0
    (tmp_path / "m3.py").write_text("def simulate(rng, n):\n    return 2 * rng.random(n)\n")
    code, out, err = mc(capsys, "reproduce", result)
    assert code == 1
    assert "the model changed" in err and "mismatch" not in out + err
    assert "the source of module m3" in out


# --------------------------------------------------------------------------
# global random state (issue: a model drawing from np.random gave other
# numbers for each worker count, and nothing said so)
# --------------------------------------------------------------------------


def from_numpy_global(rng, n):
    return np.random.random(n)


def from_random_module(rng, n):
    return np.full(n, random.random())


def from_scipy_without_a_generator(rng, n):
    import scipy.stats

    return scipy.stats.norm.rvs(size=n)


@pytest.mark.parametrize(
    "simulate, name",
    [
        (from_numpy_global, "numpy.random"),
        (from_random_module, "random"),
        (from_scipy_without_a_generator, "numpy.random"),
    ],
)
@pytest.mark.parametrize("execution", ["serial", Execution(workers=2), Execution("threads", workers=2)])
def test_a_model_moving_a_global_generator_is_said_not_reproducible(simulate, name, execution):
    r = montecarlo.run(simulate, 4000, rng=1, sampling=montecarlo.Sampling(block_size=1000), execution=execution)
    (warning,) = r.warnings
    assert f"global random state of {name}" in warning and "not reproducible" in warning
    assert montecarlo.Result.from_json(r.to_json()).warnings == r.warnings
    assert r.table().count("(!) the model moved the global random state") == 1


def test_a_run_moving_a_global_generator_is_not_cached(cache_folder):
    r = montecarlo.run(from_numpy_global, 4000, rng=1, execution=cached())
    assert r.provenance["cache"].startswith("not stored: the model moved the global random state")
    assert not list(cache_folder.glob("**/*.json"))


@pytest.mark.slow
def test_models_drawing_from_their_rng_carry_no_warning():
    for name in ("pi", "european_option", "asian_option"):
        assert montecarlo.run(name, 10**4, rng=1, execution=Execution(workers=2)).warnings == ()
    sampling = montecarlo.Sampling(sampler="sobol", replicates=4)
    assert montecarlo.run("european_option", 4 * 1024, rng=1, sampling=sampling).warnings == ()


# --------------------------------------------------------------------------
# files read back hold together (issue: a cache entry of pi = 2.5, outside
# its own interval, checksums recomputed, was served)
# --------------------------------------------------------------------------


def _planted(path, change):
    from montecarlo.records.integrity import sealed

    d = json.loads(path.read_text())
    change(d)
    path.write_text(json.dumps(sealed(d)))


def _pi_outside(d):
    d["outputs"]["pi"]["estimate"] = 2.5


def test_a_cache_entry_whose_estimate_is_outside_its_interval_is_not_served(cache_folder):
    first = montecarlo.run("pi", 10**4, rng=1, execution=cached())
    (entry,) = [p for p in cache_folder.glob("**/*.json") if p.parent != cache_folder]
    outer = json.loads(entry.read_text())
    inner = json.loads(outer["result"])
    _pi_outside(inner)
    from montecarlo.records.integrity import sealed

    outer["result"] = json.dumps(sealed(inner))
    import hashlib

    outer["sha256"] = hashlib.sha256(outer["result"].encode()).hexdigest()
    entry.write_text(json.dumps(outer))
    again = montecarlo.run("pi", 10**4, rng=1, execution=cached())
    assert again.provenance["cache"] == "stored" and again.estimate == first.estimate


@pytest.mark.parametrize(
    "change, message",
    [
        (_pi_outside, "outputs.pi.estimate = 2.5 outside its own interval"),
        (lambda d: d["outputs"]["pi"].update(samples=7), "outputs.pi.samples = 7, not the run's 10,000"),
        (lambda d: d["outputs"]["pi"].update(standard_error=-1.0), "outputs.pi.standard_error = -1.0"),
    ],
)
def test_load_and_plot_refuse_a_file_that_does_not_hold_together(tmp_path, capsys, change, message):
    path = tmp_path / "r.json"
    montecarlo.run("pi", 10**4, rng=1, execution="serial").save(path)
    _planted(path, change)
    with pytest.raises(ResultFormatError, match=message):
        montecarlo.load(path)
    code, out, err = mc(capsys, "plot", path, "-o", tmp_path / "p.png")
    assert code == 2 and message in err and not (tmp_path / "p.png").exists()


def test_a_reused_run_says_its_time_was_the_computing_runs():
    montecarlo.run("pi", 10**4, rng=9, execution=cached())
    again = montecarlo.run("pi", 10**4, rng=9, execution=cached())
    assert again.table().splitlines()[-1].startswith("reused from the cache; computed in ")


@pytest.mark.slow
def test_on_dask_numpys_global_state_is_watched_and_the_workers_own_draws_are_not(dask_client):
    # A Dask worker's event loop draws from `random` while tasks run: only numpy's global state is watched there.
    plain = montecarlo.run("european_option", 10**4, rng=1, executor=dask_client)
    assert plain.warnings == ()
    moved = montecarlo.run(from_numpy_global, 4000, rng=1, executor=dask_client)
    assert len(moved.warnings) == 1 and "numpy.random" in moved.warnings[0]
