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
def test_experiments_reuse_finished_points_and_say_so(tmp_path, capsys, cache_folder):
    out = str(tmp_path / "results")
    args = ["experiment", "run", STRIKES, "--samples", "4e5", "-o", out, "-q"]
    code, first, err = mc(capsys, *args, "--cache")
    assert code == 0, err
    assert "0 of 5 points reused from the cache" in first
    code, second, err = mc(capsys, *args, "--cache")
    assert code == 0, err
    assert "5 of 5 points reused from the cache" in second
    a, b = sorted(Path(out, "european_call_strikes").iterdir())
    ra, rb = (json.loads((f / "result.json").read_text()) for f in (a, b))
    assert [p["result"]["outputs"] for p in ra["points"]] == [p["result"]["outputs"] for p in rb["points"]]
    code, third, _ = mc(capsys, *args)  # the cache is off unless asked for
    assert code == 0 and "points reused" not in third
    assert mc(capsys, "cache", "info")[1].count("5 run(s)") == 1
    assert "removed 5 run(s)" in mc(capsys, "cache", "clear")[1]
    assert sorted(p.name for p in cache_folder.iterdir()) == ["CACHEDIR.TAG"]  # the marker stays


def test_experiments_do_not_use_the_cache_unless_asked(tmp_path, capsys, cache_folder):
    cfg = tmp_path / "pi.toml"
    cfg.write_text('model = "pi"\nsamples = 2000\nseed = 1\nexecutor = "serial"\n')
    assert mc(capsys, "experiment", "run", cfg, "-o", tmp_path / "r", "-q")[0] == 0
    assert not cache_folder.exists()  # nothing stored
    res = run_experiment(load_experiment(str(cfg)))
    assert "reused" not in res.provenance and "cache" not in res.points[0].result.provenance
    code, out, err = mc(capsys, "experiment", "run", cfg, "-o", tmp_path / "r", "-q", "--cache")
    assert code == 0, err
    assert "0 of 1 points reused from the cache" in out and Cache().info().entries == 1
    cfg.write_text(cfg.read_text() + "cache = true\n")
    code, out, err = mc(capsys, "experiment", "run", cfg, "-o", tmp_path / "r", "-q")
    assert code == 0 and "1 of 1 points reused from the cache" in out


@pytest.mark.parametrize("text", ['"false"', '"no"', '"Off"', '"1"', '" TRUE "'])
def test_a_cache_key_that_reads_as_a_boolean_string_is_refused(tmp_path, capsys, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'model = "pi"\nsamples = 1000\nseed = 1\ncache = {text}\n')
    code, out, err = mc(capsys, "experiment", "run", cfg, "-q")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"{cfg}: `cache` = " in err and "reads as the boolean" in err
    assert "accepted: true or false (a boolean, not a string), or the path of a cache folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]  # no folder named after the string


def test_set_cache_no_is_refused_and_set_cache_false_is_the_boolean(tmp_path, capsys, monkeypatch, cache_folder):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text('model = "pi"\nsamples = 1000\nseed = 1\nexecutor = "serial"\n')
    code, _, err = mc(capsys, "experiment", "run", cfg, "-q", "--set", "cache=no", "-o", "out")
    assert code == 2 and "command line: `cache` = 'no' is a string that reads as the boolean false" in err
    assert not (tmp_path / "no").exists() and not (tmp_path / "out").exists()
    code, _, err = mc(capsys, "experiment", "run", cfg, "-q", "--set", 'cache="yes"')
    assert code == 2 and "reads as the boolean true" in err
    assert mc(capsys, "experiment", "run", cfg, "-q", "--set", "cache=false", "-o", "out")[0] == 0
    assert mc(capsys, "experiment", "run", cfg, "-q", "--set", "cache=true", "-o", "out")[0] == 0
    assert Cache().info().entries == 1
    code, _, err = mc(capsys, "experiment", "run", cfg, "-q", "--set", 'cache="store"', "-o", "out")
    assert code == 0, err
    assert (tmp_path / "store" / "CACHEDIR.TAG").is_file()  # a path is a path
    with pytest.raises(montecarlo.ValidationError, match="reads as the boolean false"):
        Execution(cache="false")


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_where_it_stopped(tmp_path):
    exp = load_experiment(STRIKES, {"samples": 20_000})

    class Stop(Exception):
        pass

    def stop_after_two(point):
        if point.index == 1:
            raise Stop

    for how in ({"execution": Execution(cache=True)}, {"output_dir": str(tmp_path / "out")}):
        with pytest.raises(Stop) as stopped:
            run_experiment(exp, on_point=stop_after_two, **how)
        res = run_experiment(exp, **how)
        if "execution" in how:  # from the cache
            assert res.provenance["reused"] == 2
        else:  # from the unfinished folder the first run left
            assert "2 finished point(s) are kept in" in stopped.value.__notes__[0]
            assert res.provenance["resumed"] == 2 and "reused" not in res.provenance
            assert os.listdir(tmp_path / "out" / exp.name) == [os.path.basename(res.folder)]
        fresh = run_experiment(exp, execution=Execution(cache=False))
        assert [p.result.to_dict()["outputs"] for p in res.points] == [
            p.result.to_dict()["outputs"] for p in fresh.points
        ]


@pytest.mark.slow
def test_sampling_changes_are_new_runs():
    execution = Execution("serial", cache=True)
    montecarlo.run("pi", 10**5, rng=3, execution=execution)
    r = montecarlo.run("pi", 10**5, rng=3, execution=execution, sampling=Sampling(block_size=5000))
    assert r.provenance["cache"] == "stored"
