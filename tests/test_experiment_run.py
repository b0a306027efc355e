"""`mc experiment run` / `check`: result folders, provenance, sweeps, common
random numbers, and all-or-nothing folders on failure and Ctrl-C."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import uuid

import numpy as np
import pytest

import montecarlo
from montecarlo import Execution, Sampling
from montecarlo.cli import invoke
from montecarlo.experiments import load_experiment, run_experiment

SERIAL = Execution("serial")

MODELS = '''
import numpy as np

def expo(rng, n, a: float = 1.0):
    """E[exp(a U)] = (e^a - 1) / a for U uniform on [0, 1)."""
    return np.exp(a * rng.random(n))

def fails(rng, n, at_block: int = 1):
    x = rng.random(n)
    if x[0] < 2 and FAIL_STATE["calls"] >= at_block:
        raise ValueError("model failure for the test")
    FAIL_STATE["calls"] += 1
    return x

def interrupts(rng, n):
    """A Ctrl-C while the second block runs (a real SIGINT, to the main thread)."""
    import os, signal, time
    FAIL_STATE["calls"] += 1
    if FAIL_STATE["calls"] > 1:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(2)
    return rng.random(n)

FAIL_STATE = {"calls": 0}
'''


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A real module of test models on sys.path, under a unique name."""
    name = f"mc_test_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODELS)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)


def write(path, text: str) -> str:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def read(path) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_json(path) -> dict:
    return json.loads(read(path))


def only_folder(out) -> str:
    (exp_dir,) = [p for p in out.iterdir()]
    (folder,) = list(exp_dir.iterdir())
    return str(folder)


@pytest.mark.slow
def test_run_writes_one_complete_folder(tmp_path, capsys):
    cfg = write(
        tmp_path / "pi.toml",
        """
        # a comment that must survive in the copy
        name = "pi"
        model = "pi"
        samples = 40000
        seed = 5
        block_size = 10000
        [expect]
        pi = "exact"
        """,
    )
    out = tmp_path / "results"
    code = invoke(["experiment", "run", cfg, "-o", str(out), "-w", "2", "-n", "50000", "-q"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    folder = only_folder(out)
    text = read(cfg)
    sha = hashlib.sha256(text.encode()).hexdigest()
    assert os.path.dirname(folder) == str(out / "pi")
    stamp, short = os.path.basename(folder).split("-")
    assert short == sha[:8] and len(stamp) == 16 and stamp.endswith("Z")
    assert sorted(os.listdir(folder)) == ["pi.toml", "result.json"]
    assert read(os.path.join(folder, "pi.toml")) == text
    assert f"wrote {folder}" in captured.out
    assert "expect pi = 3.141592653589793 (exact): ok" in captured.out

    d = load_json(os.path.join(folder, "result.json"))
    assert d["schema"] == "montecarlo.experiment" and d["version"] == 1
    assert d["config"] == {"path": cfg, "sha256": sha, "text": text}
    prov = d["provenance"]
    for key in (
        "montecarlo",
        "numpy",
        "blas",
        "scipy",
        "python",
        "platform",
        "cpu_count",
        "executor",
        "workers",
        "started",
        "finished",
    ):
        assert prov[key] is not None, key
    assert prov["montecarlo"] == montecarlo.__version__ and prov["numpy"] == np.__version__
    assert (prov["executor"], prov["workers"]) == ("processes", 2)
    assert prov["started"] <= prov["finished"]
    (point,) = d["points"]
    spec = point["result"]["spec"]
    assert (spec["model"], spec["samples"], spec["entropy"], spec["spawn_key"], spec["block_size"]) == (
        "pi",
        50000,
        5,
        [],
        10000,
    )
    assert point["checks"][0]["passed"] is True
    # the same numbers as `montecarlo.run` with that seed
    direct = montecarlo.run(
        "pi", samples=50000, rng=5, sampling=Sampling(block_size=10000), execution=Execution(workers=1)
    )
    assert point["result"]["outputs"]["pi"]["estimate"] == direct.estimate
    assert point["result"]["covariance"] == direct.covariance.tolist()
    # command-line overrides are recorded as the values they set (as `--set samples=50000` would be)
    assert d["overrides"] == {"samples": 50000, "workers": 2}


def test_git_commit_and_dirty_flag(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    cfg = write(repo / "e.toml", 'model = "pi"\nsamples = 1000\nseed = 1\n')
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "e.toml"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()

    res = run_experiment(load_experiment(cfg), execution=SERIAL)
    assert res.git == {
        "commit": head,
        "dirty": False,
        "config_modified": False,
        "root": str(repo),
        "config_path": "e.toml",
    }
    with open(cfg, "a") as f:
        f.write("# edited\n")
    res = run_experiment(load_experiment(cfg), execution=SERIAL)
    assert res.git["dirty"] is True and res.git["config_modified"] is True
    # outside any repository there is no git record
    outside = write(tmp_path / "o.toml", 'model = "pi"\nsamples = 1000\n')
    assert run_experiment(load_experiment(outside), execution=SERIAL).git is None


@pytest.mark.slow
def test_sweep_writes_csv_and_checks_every_point(tmp_path, capsys):
    cfg = write(
        tmp_path / "bs.toml",
        """
        model = "european_option"
        samples = 20000
        seed = 11
        confidence = 0.999
        [sweep.params]
        strike = [80.0, 100.0, 120.0]
        [expect]
        price = "exact"
        """,
    )
    out = tmp_path / "r"
    assert invoke(["experiment", "check", cfg, "-o", str(out), "-q", "-w", "2"]) == 0
    captured = capsys.readouterr()
    assert "all 3 expected values lie within their intervals (1 file(s))." in captured.out
    folder = only_folder(out)
    assert sorted(os.listdir(folder)) == ["bs.toml", "result.json", "sweep.csv"]
    rows = list(csv.DictReader(read(os.path.join(folder, "sweep.csv")).splitlines()))
    d = load_json(os.path.join(folder, "result.json"))
    assert [r["strike"] for r in rows] == ["80.0", "100.0", "120.0"]
    assert d["sweep"] == {"mode": "grid", "common_random_numbers": False, "params": {"strike": [80.0, 100.0, 120.0]}}
    for i, (row, point) in enumerate(zip(rows, d["points"], strict=True)):
        out_ = point["result"]["outputs"]["price"]
        assert float(row["price"]) == out_["estimate"] and float(row["price_se"]) == out_["standard_error"]
        assert float(row["price_exact"]) == out_["exact"]
        assert point["result"]["spec"]["spawn_key"] == [i]  # (point, block) spawn keys
        assert point["params"] == {"strike": [80.0, 100.0, 120.0][i]}


def test_execution_comes_from_the_file_or_the_caller(tmp_path):
    cfg = write(
        tmp_path / "x.toml",
        """
        model = "european_option"
        samples = 3000
        block_size = 1000
        seed = 4
        executor = "threads"
        workers = 2
        [sweep.params]
        strike = [90.0, 110.0]
        """,
    )
    exp = load_experiment(cfg)
    assert exp.execution == Execution("threads", workers=2)  # the cache is off unless asked for
    from_file = run_experiment(exp)
    assert (from_file.provenance["executor"], from_file.provenance["workers"]) == ("threads", 2)
    seen, calls = [], []
    res = run_experiment(
        exp,
        execution=Execution("serial", progress=lambda done, total: calls.append((done, total))),
        on_point=seen.append,
    )
    assert (res.provenance["executor"], res.provenance["workers"]) == ("serial", 1)
    assert [p.index for p in seen] == [0, 1] and tuple(seen) == res.points
    # progress sees the whole experiment: both points' samples, in order
    assert calls[-1] == (6000, 6000) and all(t == 6000 for _, t in calls)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    # the numbers do not depend on where the blocks ran
    assert [p.result.to_dict()["outputs"] for p in res.points] == [
        p.result.to_dict()["outputs"] for p in from_file.points
    ]


def test_sweep_points_draw_their_own_streams_and_crn_shares_them(tmp_path, models):
    base = f"""
        model = "{models}:expo"
        samples = 3000
        block_size = 1000
        seed = 99
        [sweep.params]
        a = [1.0, 1.0]
    """
    indep = run_experiment(load_experiment(write(tmp_path / "i.toml", base)), execution=SERIAL)
    crn = run_experiment(
        load_experiment(write(tmp_path / "c.toml", base + "[sweep]\ncommon_random_numbers = true\n")), execution=SERIAL
    )
    # point i, block b draws from SeedSequence(99, spawn_key=(i, b))
    for i, p in enumerate(indep.points):
        ref = montecarlo.run(
            f"{models}:expo",
            samples=3000,
            sampling=Sampling(block_size=1000),
            execution="serial",
            rng=np.random.SeedSequence(99, spawn_key=(i,)),
        )
        assert p.result.estimate == ref.estimate
    assert indep.points[0].result.estimate != indep.points[1].result.estimate
    # common random numbers: the same streams at every point, those of a plain seeded run
    plain = montecarlo.run(
        f"{models}:expo", samples=3000, sampling=Sampling(block_size=1000), rng=99, execution="serial"
    )
    assert crn.points[0].result.estimate == crn.points[1].result.estimate == plain.estimate


@pytest.mark.slow
def test_common_random_numbers_reduce_the_variance_of_differences(tmp_path, models):
    """The difference between neighbouring points varies far less over seeds with CRN."""
    text = f"""
        model = "{models}:expo"
        samples = 2000
        block_size = 2000
        [sweep.params]
        a = [1.0, 1.1]
    """
    diffs = {False: [], True: []}
    for crn in (False, True):
        cfg = write(tmp_path / f"d{crn}.toml", text + f"[sweep]\ncommon_random_numbers = {str(crn).lower()}\n")
        for seed in range(30):
            res = run_experiment(load_experiment(cfg, {"seed": seed}), execution=SERIAL)
            diffs[crn].append(res.points[1].result.estimate - res.points[0].result.estimate)
    var_crn, var_ind = np.var(diffs[True], ddof=1), np.var(diffs[False], ddof=1)
    # Theory: Var(Y(1.1) - Y(1)) is ~0.07% of 2 Var(Y) with CRN; a factor 20 is far
    # outside the sampling noise of 30 replicates (F-test).
    assert var_crn < var_ind / 20
    exact = (np.exp(1.1) - 1) / 1.1 - (np.e - 1)
    assert abs(np.mean(diffs[True]) - exact) < 4 * np.sqrt(var_crn / 30)


def test_check_reports_a_miss_with_distance_in_standard_errors(tmp_path, capsys):
    cfg = write(
        tmp_path / "wrong.toml",
        """
        model = "pi"
        samples = 100000
        seed = 2
        [expect]
        pi = 3.0
        """,
    )
    assert invoke(["experiment", "check", cfg, "-q", "--executor", "serial"]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert err[0].startswith(f"MISS {cfg}: output pi = ")
    assert "standard errors from the expected 3.0 (given), outside the interval [" in err[0]
    assert err[1] == "Error: 1 of 1 expected values missed."
    res = run_experiment(load_experiment(cfg), execution=SERIAL)
    (check,) = res.points[0].checks
    z = (res.points[0].result.estimate - 3.0) / res.points[0].result.standard_error
    assert check["error_in_se"] == z and f"{abs(z):.2f} standard errors" in err[0]
    # a tolerance wide enough turns the miss into a pass
    write(tmp_path / "wrong.toml", read(cfg).replace("pi = 3.0", "pi = {value = 3.0, tolerance = 0.2}"))
    assert invoke(["experiment", "check", cfg, "-q", "--executor", "serial"]) == 0


def test_sweep_miss_names_the_point(tmp_path, capsys):
    cfg = write(
        tmp_path / "m.toml",
        """
        model = "european_option"
        samples = 5000
        seed = 1
        [sweep.params]
        strike = [90.0, 110.0]
        [expect]
        price = [16.6994, 1.0]
        """,
    )
    assert invoke(["experiment", "check", cfg, "-q", "--executor", "serial"]) == 1
    err = capsys.readouterr().err
    assert f"MISS {cfg}: point 1 (strike=110.0): output price = " in err
    assert "point 0" not in err


def test_model_failure_leaves_no_folder(tmp_path, models, capsys):
    cfg = write(tmp_path / "f.toml", f'model = "{models}:fails"\nsamples = 4000\nblock_size = 1000\nseed = 1\n')
    out = tmp_path / "out"
    assert invoke(["experiment", "run", cfg, "-o", str(out), "-q", "--executor", "serial"]) == 1
    assert "model failure for the test" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
def test_ctrl_c_leaves_no_folder(tmp_path, models, capsys):
    cfg = write(tmp_path / "k.toml", f'model = "{models}:interrupts"\nsamples = 4000\nblock_size = 1000\nseed = 1\n')
    out = tmp_path / "out"
    out.mkdir()
    assert invoke(["experiment", "run", cfg, "-o", str(out), "-q", "--executor", "serial"]) == 130
    assert "Interrupted" in capsys.readouterr().err
    assert os.listdir(out) == []


def test_failure_while_writing_leaves_no_partial_folder(tmp_path, monkeypatch, capsys):
    from montecarlo.experiments import folder

    cfg = write(
        tmp_path / "w.toml",
        'model = "european_option"\nsamples = 2000\nseed = 1\n[sweep.params]\nstrike = [90.0, 100.0]\n',
    )
    real = folder._write
    calls = []

    def flaky(where, name, text):
        calls.append(name)
        if name == "sweep.csv":  # the last file: result.json and the config are already written
            raise KeyboardInterrupt
        real(where, name, text)

    monkeypatch.setattr(folder, "_write", flaky)
    out = tmp_path / "new" / "results"
    assert invoke(["experiment", "run", cfg, "-o", str(out), "-q", "--executor", "serial"]) == 130
    assert calls == ["result.json", "w.toml", "sweep.csv"]
    assert not (tmp_path / "new").exists()  # nothing half-made, not even the folders it created
    monkeypatch.setattr(folder, "_write", real)
    assert invoke(["experiment", "run", cfg, "-o", str(out), "-q", "--executor", "serial"]) == 0
    assert sorted(os.listdir(only_folder(out))) == ["result.json", "sweep.csv", "w.toml"]
    assert os.listdir(out) == ["w"]  # no temporary folder left either


def test_same_config_twice_in_one_second_gets_two_folders(tmp_path):
    from montecarlo.experiments import write_folder

    cfg = write(tmp_path / "t.toml", 'model = "pi"\nsamples = 1000\nseed = 1\n')
    res = run_experiment(load_experiment(cfg), execution=SERIAL)
    a = write_folder(res, str(tmp_path / "o"))
    b = write_folder(res, str(tmp_path / "o"))
    assert b == a + "-2"
    assert load_json(os.path.join(a, "result.json")) == load_json(os.path.join(b, "result.json"))
