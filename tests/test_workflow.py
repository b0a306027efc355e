"""The research workflow: results as data frames and notebook tables, and runs never computed twice."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from conftest import estimates_of, mc

import montecarlo
from montecarlo import Execution, Sampling
from montecarlo.experiments import load_experiment, run_experiment, write_folder
from montecarlo.models.fingerprint import fingerprint
from montecarlo.models.registry import load_model
from montecarlo.records.cache import Cache, key
from montecarlo.records.experiment_result import ExperimentResult

ROOT = Path(__file__).resolve().parents[1]
STRIKES = str(ROOT / "experiments" / "european_call_strikes.toml")


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    """Every test gets a cache of its own (the user's cache is never touched)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MONTECARLO_CACHE", str(folder))
    return folder


# --------------------------------------------------------------------------
# frames and notebook tables
# --------------------------------------------------------------------------


def test_a_result_as_a_frame_has_one_row_per_estimate():
    r = montecarlo.run("asian_option", samples=10**5, rng=1, execution="serial")
    frame = r.to_frame()
    assert list(frame["name"]) == ["arithmetic", "geometric", "arithmetic_cv"]
    assert list(frame.columns) == [
        "name", "kind", "estimate", "standard_error", "lower", "upper", "confidence", "method", "samples", "exact",
        "error_in_se",
    ]  # fmt: skip
    row = frame.set_index("name").loc["geometric"]
    e = r["geometric"]
    assert (row["estimate"], row["lower"], row["upper"], row["exact"]) == (e.estimate, *e.interval, e.exact)
    assert row["error_in_se"] == e.error_in_se and row["samples"] == 10**5
    assert frame.set_index("name").loc["arithmetic_cv", "kind"] == "control-variate"


def test_html_tables_for_notebooks():
    r = montecarlo.run("asian_option", samples=10**5, rng=1, execution="serial")
    html = r._repr_html_()
    assert html.startswith("<table") and "<td>arithmetic</td>" in html and "95% interval" in html
    e = r["geometric"]
    assert f"{e.error_in_se:+.2f}" in html  # the distance to the exact value, in standard errors
    odd = montecarlo.model(outputs=["a_b"])(lambda rng, n: rng.random(n))
    html = montecarlo.run(odd, 100, rng=1, execution="serial")._repr_html_()
    assert "&lt;lambda&gt;" in html and "<lambda>" not in html  # text is escaped


@pytest.mark.slow
def test_an_experiment_as_a_frame_and_load_reads_any_result(tmp_path):
    exp = load_experiment(STRIKES, {"samples": 20_000})
    folder = write_folder(run_experiment(exp), str(tmp_path / "results"))
    loaded = montecarlo.load(folder)  # the folder, or its result.json
    assert isinstance(loaded, ExperimentResult)
    frame = loaded.to_frame()
    assert sorted(frame["strike"]) == [80.0, 90.0, 100.0, 110.0, 120.0]
    assert list(frame.columns[:3]) == ["point", "strike", "name"]
    assert "<td>80</td>" in loaded._repr_html_()
    single = tmp_path / "pi.json"
    montecarlo.run("pi", 10**5, rng=1, execution="serial").save(str(single))
    assert isinstance(montecarlo.load(single), montecarlo.Result)
    (tmp_path / "other.json").write_text(json.dumps({"schema": "something.else"}))
    with pytest.raises(montecarlo.errors.ResultFormatError, match="not a montecarlo result file"):
        montecarlo.load(tmp_path / "other.json")


@pytest.mark.slow
def test_mc_experiment_show_prints_the_table_again(tmp_path, capsys):
    exp = load_experiment(STRIKES, {"samples": 20_000})
    res = run_experiment(exp)
    folder = write_folder(res, str(tmp_path / "results"))
    assert mc(capsys, "experiment", "show", folder)[:2] == (0, res.table() + "\n")
    single = tmp_path / "pi.json"
    montecarlo.run("pi", 10**5, rng=1, execution="serial").save(str(single))
    code, _, err = mc(capsys, "experiment", "show", single)
    assert code == 2 and "a result of `mc run`, not of an experiment" in err


# --------------------------------------------------------------------------
# the cache
# --------------------------------------------------------------------------


def test_a_second_run_is_reused_bit_identically(cache_folder):
    kwargs = {"rng": 5, "execution": Execution("serial", cache=True)}
    first = montecarlo.run("european_option", 200_000, **kwargs)
    assert first.provenance["cache"] == "stored"
    again = montecarlo.run("european_option", 200_000, **kwargs)
    assert again.provenance["cache"] == "reused"
    assert estimates_of(again) == estimates_of(first) and again.trace == first.trace
    assert Cache().info().entries == 1 and Cache().info().folder == cache_folder
    other = montecarlo.run("european_option", 200_000, rng=6, execution=Execution("serial", cache=True))
    assert other.provenance["cache"] == "stored"  # another seed: another RunSpec


def test_without_cache_nothing_is_stored_or_reused(cache_folder):
    montecarlo.run("pi", 10**5, rng=1, execution="serial")
    assert not cache_folder.exists()


def test_an_edited_model_is_computed_again(tmp_path, monkeypatch):
    source = "def simulate(rng, n, a: float = 1.0):\n    return a * rng.random(n)\n"
    (tmp_path / "editable_model.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    rec = load_model("editable_model.py:simulate")
    spec = montecarlo.make_spec(rec, 1000, rng=1)
    before = key(spec, fingerprint(rec))
    (tmp_path / "editable_model.py").write_text(source.replace("a * ", "2 * a * "))
    assert key(spec, fingerprint(rec)) != before  # the module's source is part of the model's fingerprint
    assert key(spec.__class__(**{**spec.__dict__, "params": {"a": 2.0}}), fingerprint(rec)) != before


def test_a_corrupt_entry_is_ignored_and_replaced():
    execution = Execution("serial", cache=True)
    first = montecarlo.run("pi", 10**5, rng=2, execution=execution)
    (entry,) = Path(os.environ["MONTECARLO_CACHE"]).glob("??/*.json")
    d = json.loads(entry.read_text())
    d["result"] = d["result"].replace('"samples": 100000', '"samples": 100001', 1)  # an edited number
    entry.write_text(json.dumps(d))
    again = montecarlo.run("pi", 10**5, rng=2, execution=execution)
    assert again.provenance["cache"] == "stored"  # not trusted: computed and stored again
    assert estimates_of(again) == estimates_of(first)
    entry.write_text("{not json")
    assert montecarlo.run("pi", 10**5, rng=2, execution=execution).provenance["cache"] == "stored"
    assert montecarlo.run("pi", 10**5, rng=2, execution=execution).provenance["cache"] == "reused"


@pytest.mark.slow
def test_the_cache_stays_under_its_size_limit(tmp_path):
    cache = Cache(tmp_path / "small", max_mb=0.02)  # about 20 kB: room for a handful of small runs
    for seed in range(12):
        r = montecarlo.run("pi", 10**4, rng=seed, execution="serial")
        time.sleep(0.01)  # distinct modification times
        cache.put(r)
    info = cache.info()
    assert 0 < info.entries < 12 and info.bytes <= 0.02 * 2**20
    spec_first = montecarlo.make_spec("pi", 10**4, rng=0)
    assert cache.get(spec_first, fingerprint(spec_first.model_record)) is None  # the oldest went first
    assert cache.clear() == info.entries and cache.info().entries == 0


@pytest.mark.slow
def test_experiments_reuse_finished_points_and_say_so(tmp_path, capsys):
    out = str(tmp_path / "results")
    args = ["experiment", "run", STRIKES, "--samples", "4e5", "-o", out, "-q"]
    code, first, err = mc(capsys, *args)
    assert code == 0, err
    assert "0 of 5 points reused from the cache" in first
    code, second, err = mc(capsys, *args)
    assert code == 0, err
    assert "5 of 5 points reused from the cache" in second
    a, b = sorted(Path(out, "european_call_strikes").iterdir())
    ra, rb = (json.loads((f / "result.json").read_text()) for f in (a, b))
    assert [p["result"]["outputs"] for p in ra["points"]] == [p["result"]["outputs"] for p in rb["points"]]
    code, third, _ = mc(capsys, *args, "--no-cache")
    assert code == 0 and "points reused" not in third
    assert mc(capsys, "cache", "info")[1].count("5 run(s)") == 1
    assert "removed 5 run(s)" in mc(capsys, "cache", "clear")[1]


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    exp = load_experiment(STRIKES, {"samples": 20_000})

    class Stop(Exception):
        pass

    def stop_after_two(point):
        if point.index == 1:
            raise Stop

    with pytest.raises(Stop):
        run_experiment(exp, on_point=stop_after_two)
    res = run_experiment(exp)
    assert res.provenance["reused"] == 2
    fresh = run_experiment(exp, execution=Execution(cache=False))
    assert [p.result.to_dict()["outputs"] for p in res.points] == [p.result.to_dict()["outputs"] for p in fresh.points]


@pytest.mark.slow
def test_sampling_changes_are_new_runs():
    execution = Execution("serial", cache=True)
    montecarlo.run("pi", 10**5, rng=3, execution=execution)
    r = montecarlo.run("pi", 10**5, rng=3, execution=execution, sampling=Sampling(block_size=5000))
    assert r.provenance["cache"] == "stored"
