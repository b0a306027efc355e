"""`mc reproduce`: bit-identical re-runs for any worker count, per-number
diffs, version warnings and clear errors for files that are not ours."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap

import pytest
from conftest import MC

import montecarlo
from montecarlo.cli import invoke
from montecarlo.records.integrity import sealed

SWEEP = """
name = "calls"
model = "european_option"
samples = 30000
block_size = 4096
seed = 21
[sweep.params]
strike = [90.0, 110.0]
"""


def run_to_folder(tmp_path, text: str, *args: str) -> str:
    cfg = tmp_path / "exp.toml"
    cfg.write_text(textwrap.dedent(text), encoding="utf-8")
    out = tmp_path / "results"
    assert invoke(["experiment", "run", str(cfg), "-o", str(out), "-q", *args]) == 0
    (exp_dir,) = list(out.iterdir())
    (folder,) = list(exp_dir.iterdir())
    return str(folder)


def edit(path: str, change, reseal: bool = True) -> None:
    """Change a result file; with ``reseal``, as one written that way (its checksum made anew)."""
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    change(d)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(sealed(d) if reseal else d, f)


@pytest.fixture
def sweep_result(tmp_path, capsys):
    folder = run_to_folder(tmp_path, SWEEP, "--workers", "2", "--executor", "processes")
    capsys.readouterr()
    return os.path.join(folder, "result.json")


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--workers", "1"], ["--workers", "3", "--executor", "threads"]])
def test_reproduce_with_another_worker_count_is_bit_identical(sweep_result, capsys, args):
    assert invoke(["reproduce", sweep_result, *args]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "bit-identical"
    assert "2 run(s)" in out[0] and "recorded on 2 worker(s) (processes)" in out[0]


@pytest.mark.slow
def test_reproduce_accepts_the_folder(sweep_result, capsys):
    assert invoke(["reproduce", os.path.dirname(sweep_result), "-w", "1"]) == 0
    assert capsys.readouterr().out.endswith("bit-identical\n")


@pytest.mark.slow
def test_a_changed_number_is_reported_and_fails(sweep_result, capsys):
    def tamper(d):
        price = d["points"][1]["result"]["outputs"]["price"]
        price["estimate"] = price["estimate"] + 1e-12
        d["points"][0]["result"]["accumulator"]["mean"][0] += 1.0

    edit(sweep_result, tamper)
    assert invoke(["reproduce", sweep_result, "-w", "1"]) == 1
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert any(
        line.startswith("  point 1 (strike=110.0): price estimate: recorded ") and "(difference -1e-12)" in line
        for line in lines
    )
    assert any(line.startswith("  point 0 (strike=90.0): accumulator mean[0]: recorded ") for line in lines)
    assert "bit-identical" not in captured.out
    assert captured.err.strip().endswith("numbers differ.")
    assert "Error: not reproduced: 2 of " in captured.err


@pytest.mark.slow
def test_version_differences_warn_but_do_not_fail(sweep_result, capsys):
    def old(d):
        d["provenance"]["numpy"] = "1.0.0"
        d["provenance"]["montecarlo"] = "0.0.1"
        d["provenance"]["blas"] = "openblas 0.3.31 Sandybridge"

    edit(sweep_result, old)
    assert invoke(["reproduce", sweep_result, "-w", "1"]) == 0
    captured = capsys.readouterr()
    assert "warning: recorded with numpy 1.0.0, running numpy " in captured.err
    assert "warning: recorded with montecarlo 0.0.1, running montecarlo " in captured.err
    assert "warning: recorded with blas openblas 0.3.31 Sandybridge, running blas " in captured.err
    assert captured.out.endswith("bit-identical\n")


@pytest.mark.slow
def test_reproduce_a_plain_run_result(tmp_path, capsys):
    path = str(tmp_path / "pi.json")
    assert invoke(["run", "pi", "-n", "30000", "-s", "4", "--block-size", "5000", "-w", "2", "-q", "-o", path]) == 0
    capsys.readouterr()
    assert invoke(["reproduce", path, "--executor", "serial"]) == 0
    assert capsys.readouterr().out.endswith("bit-identical\n")


@pytest.mark.slow
def test_crn_sweep_reproduces(tmp_path, capsys):
    folder = run_to_folder(tmp_path, SWEEP + "[sweep]\ncommon_random_numbers = true\n", "-w", "2")
    capsys.readouterr()
    assert invoke(["reproduce", folder, "-w", "1"]) == 0
    assert capsys.readouterr().out.endswith("bit-identical\n")


BAD_FILES = [
    ("missing", None, r"no such file; accepted: result\.json from `mc experiment run`"),
    ("notjson", "hello", r"truncated or not JSON \(line 1, column 1: Expecting value\)"),
    ("other", '{"schema": "someone.else", "x": 1}', r"not a montecarlo result file \(\"schema\" is 'someone\.else'\)"),
    ("list", "[1, 2]", r"not a montecarlo result file \(\"schema\" is None\)"),
    ("version", '{"schema": "montecarlo.experiment", "version": 99}', r"experiment result version 99 is not supported"),
    (
        "nopoints",
        '{"schema": "montecarlo.experiment", "version": 1, "name": "x", "model": "pi", "points": []}',
        r"malformed experiment result: ValueError: no points",
    ),
]


@pytest.mark.parametrize("name, content, message", BAD_FILES)
def test_bad_result_files(tmp_path, capsys, name, content, message):
    import re

    path = tmp_path / f"{name}.json"
    if content is not None:
        path.write_text(content)
    assert invoke(["reproduce", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {path}: ") and err.count("\n") == 1, err
    assert re.search(message, err), err


def test_truncated_result_file(sweep_result, capsys):
    with open(sweep_result, encoding="utf-8") as f:
        text = f.read()
    with open(sweep_result, "w", encoding="utf-8") as f:
        f.write(text[: len(text) // 2])
    assert invoke(["reproduce", sweep_result]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {sweep_result}: it is truncated or not JSON (line ") and err.count("\n") == 1


def test_unknown_model_in_result(sweep_result, capsys):
    def rename(d):
        for p in d["points"]:
            p["result"]["spec"]["model"] = "no_such_model"

    edit(sweep_result, rename)
    assert invoke(["reproduce", sweep_result]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"Error: {sweep_result}: cannot re-run: `model` = 'no_such_model' is not a known model; ")
    assert "accepted: one of asian_option, " in err and err.count("\n") == 1


def test_reproduce_from_python_with_an_execution(sweep_result):
    from montecarlo import Execution
    from montecarlo.experiments import reproduce

    rep = reproduce(sweep_result, execution=Execution("threads", workers=3))
    assert rep.identical and rep.mismatches == [] and rep.compared > 0
    assert (rep.executor, rep.workers) == ("threads", 3)
    assert rep.recorded.kind == "experiment" and len(rep.recorded.points) == 2
    serial = reproduce(sweep_result, execution=Execution("serial"))
    assert serial.identical and serial.compared == rep.compared and (serial.executor, serial.workers) == ("serial", 1)


@pytest.mark.parametrize(
    "args, message",
    [
        (["-w", "0"], "--workers 0 is not accepted; accepted: an integer from 1 to 1024."),
        (["--executor", "gpu"], "--executor gpu is not accepted; accepted: one of processes, threads, serial, dask."),
        (["--retries", "-1"], "--retries -1 is not accepted; accepted: an integer >= 0."),
        (["--scheduler", "tcp://h:8786"], "--scheduler tcp://h:8786 needs the dask executor"),
    ],
)
def test_bad_execution_options(sweep_result, capsys, args, message):
    assert invoke(["reproduce", sweep_result, *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith(f"Error: {message}"), captured.err


@pytest.mark.slow
def test_installed_mc_end_to_end(tmp_path):
    """The installed `mc`: run an experiment file, then reproduce it on another worker count."""
    mc = MC
    cfg = tmp_path / "e.toml"
    cfg.write_text('model = "pi"\nsamples = "2e5"\nblock_size = 50000\nseed = 3\n[expect]\npi = "exact"\n')
    run = subprocess.run(
        [mc, "experiment", "check", str(cfg), "-o", str(tmp_path / "r"), "-w", "2", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    (folder,) = list((tmp_path / "r" / "e").iterdir())
    rep = subprocess.run(
        [mc, "reproduce", str(folder / "result.json"), "-w", "1"], capture_output=True, text=True, timeout=120
    )
    assert rep.returncode == 0, rep.stderr
    assert rep.stdout.splitlines()[-1] == "bit-identical"


@pytest.mark.slow
def test_precision_target_keys_pass_through_and_reproduce(tmp_path, capsys):
    """Stopping settings of the option vocabulary (here rtol) work as file keys and reproduce."""
    from montecarlo.experiments import known_keys

    assert "rtol" in known_keys()
    text = 'model = "pi"\nsamples = "1e7"\nblock_size = 20000\nseed = 8\nrtol = 0.01\n'
    folder = run_to_folder(tmp_path, text, "-w", "2")
    capsys.readouterr()
    with open(os.path.join(folder, "result.json"), encoding="utf-8") as f:
        point = json.load(f)["points"][0]["result"]
    assert point["samples"] < 10**7  # stopped at the target
    assert invoke(["reproduce", folder, "-w", "1"]) == 0
    assert capsys.readouterr().out.endswith("bit-identical\n")


@pytest.mark.slow
def test_reproduce_compares_quantiles_and_shortfall(tmp_path, capsys):
    path = str(tmp_path / "q.json")
    args = ["run", "european_option", "-n", "30000", "-s", "4", "--block-size", "5000", "-w", "2", "-q", "-o", path]
    assert invoke([*args, "--quantile", "0.9", "--shortfall", "0.95"]) == 0
    capsys.readouterr()
    assert invoke(["reproduce", path, "--executor", "serial"]) == 0
    assert capsys.readouterr().out.endswith("bit-identical\n")

    def tamper(d):
        d["quantiles"]["price"][0]["interval"][1] += 1e-9
        d["shortfall"]["price"][0]["estimate"] += 1e-9

    edit(path, tamper)
    assert invoke(["reproduce", path, "--executor", "serial"]) == 1
    out = capsys.readouterr().out
    assert "price quantiles 0.9 interval[1]: recorded " in out and "price shortfall 0.95 estimate: recorded " in out


def test_reproduce_shows_text_from_the_file_escaped(tmp_path, capsys):
    path = tmp_path / "r.json"
    montecarlo.run("pi", 10**4, rng=1, execution="serial").save(str(path))
    edit(str(path), lambda d: d["provenance"].update(executor="serial\x1b]0;owned\x07", numpy="0.0\x1b[2J"))
    code = invoke(["reproduce", str(path), "--executor", "serial"])
    out, err = capsys.readouterr()
    assert code == 0 and "bit-identical" in out
    assert "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b" in out + err  # shown, escaped
