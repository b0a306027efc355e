"""The `mc` command in-process: output, JSON, and every bad input's message and exit code."""

import json
import math

import pytest

from montecarlo.cli import invoke


def mc(capsys, *args):
    code = invoke(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_run_prints_a_table(capsys):
    code, out, err = mc(capsys, "run", "pi", "--samples", "1e6", "--seed", "3", "--quiet")
    assert code == 0, err
    assert "pi: 1,000,000 samples, seed entropy 3, sfc64" in out
    assert "95% interval" in out and "wilson" in out and "3.1416" in out  # exact, to the shown digits


@pytest.mark.parametrize("text", ["1e6", "1_000_000", "1000000", "1E6", "1.0e6"])
def test_samples_spellings(capsys, text):
    code, out, err = mc(capsys, "run", "pi", "-n", text, "-s", "1", "--json", "-q")
    assert code == 0, err
    assert json.loads(out)["samples"] == 1_000_000


def test_json_schema(capsys, tmp_path):
    path = tmp_path / "r.json"
    code, out, _ = mc(capsys, "run", "pi", "-n", "2e6", "-s", "5", "--json", "-q", "-o", str(path))
    assert code == 0
    d = json.loads(out)
    assert d["schema"] == "montecarlo.result" and d["version"] == 1
    pi = d["outputs"]["pi"]
    assert set(pi) >= {"estimate", "standard_error", "interval", "samples", "exact", "error_in_se"}
    assert pi["samples"] == 2_000_000 and pi["interval"][0] < pi["estimate"] < pi["interval"][1]
    assert pi["exact"] == math.pi
    assert d["spec"]["entropy"] == 5 and d["spec"]["bit_generator"] == "sfc64"
    assert d["spec"]["block_size"] == 1 << 22
    assert {"numpy", "python", "montecarlo", "executor", "workers", "elapsed_s"} <= set(d["provenance"])
    assert json.loads(path.read_text()) == d  # --output writes the same object


def test_unseeded_runs_report_their_entropy_and_repeat(capsys):
    code, out, _ = mc(capsys, "run", "pi", "-n", "1e5", "--json", "-q")
    first = json.loads(out)
    entropy = first["spec"]["entropy"]
    assert entropy.bit_length() > 64
    code, out, _ = mc(capsys, "run", "pi", "-n", "1e5", "--json", "-q", "--seed", str(entropy))
    assert json.loads(out)["outputs"] == first["outputs"]


@pytest.mark.parametrize("seed", ["0", "1", str(2**32)])
def test_json_identical_for_workers_and_executors(capsys, seed):
    outs = set()
    runs = (
        ["-w", "1"],
        ["-w", "2"],
        ["-w", "3"],
        ["-w", "4"],
        ["--executor", "threads", "-w", "3"],
        ["--executor", "serial"],
    )
    for args in runs:
        code, out, _ = mc(capsys, "run", "pi", "-n", "2e7", "-s", seed, "--json", "-q", *args)
        d = json.loads(out)
        outs.add(json.dumps([d["outputs"], d["covariance"], d["accumulator"]]))
    assert len(outs) == 1


def test_param_and_module_reference(capsys):
    code, out, err = mc(
        capsys, "run", "modelzoo:exp_mean", "-n", "1e5", "-s", "2", "-p", "a=2", "-c", "0.999", "--json", "-q"
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["spec"]["params"] == {"a": 2.0}
    assert d["outputs"]["value"]["interval"][0] < (math.e**2 - 1) / 2 < d["outputs"]["value"]["interval"][1]


def test_list_and_show(capsys):
    code, out, _ = mc(capsys, "list")
    assert code == 0 and out.startswith("") and "pi" in out
    code, out, _ = mc(capsys, "show", "pi")
    assert code == 0 and "exact" in out and "probability" in out and "3.141592653589793" in out


def test_version(capsys):
    from montecarlo import __version__

    code, out, _ = mc(capsys, "--version")
    assert code == 0 and __version__ in out


BAD = [
    (["run", "pi", "--samples", "abc"], "'--samples': 'abc' is not an integer; accepted: an integer >= 1"),
    (["run", "pi", "--samples", "0"], "'--samples': '0' is not accepted; accepted: an integer >= 1"),
    (["run", "pi", "--samples", "-5"], "'--samples': '-5' is not accepted; accepted: an integer >= 1"),
    (["run", "pi", "--samples", "1.5"], "'--samples': '1.5' is not an integer"),
    (["run", "pi", "--samples", "1e9.5"], "'--samples': '1e9.5' is not an integer"),
    (["run", "pi", "--samples", "inf"], "'--samples': 'inf' is not an integer"),
    (["run", "pi", "--samples", "nan"], "'--samples': 'nan' is not an integer"),
    (
        ["run", "pi", "--samples", "1e30"],
        "'--samples': '1e30' is too large; accepted: an integer >= 1 and at most 1e\\+15",
    ),
    (["run", "pi", "--workers", "0"], "'--workers': 0 is not accepted; accepted: an integer >= 1"),
    (["run", "pi", "--workers", "-3"], "'--workers': -3 is not accepted; accepted: an integer >= 1"),
    (["run", "pi", "--workers", "x"], "'--workers': 'x' is not an integer; accepted: an integer >= 1"),
    (
        ["run", "pi", "--confidence", "0"],
        "'--confidence': '0' is not accepted; accepted: a number strictly between 0 and 1",
    ),
    (
        ["run", "pi", "--confidence", "1"],
        "'--confidence': '1' is not accepted; accepted: a number strictly between 0 and 1",
    ),
    (["run", "pi", "--confidence", "1.5"], "'--confidence': '1.5' is not accepted"),
    (["run", "pj"], "unknown model 'pj'. Did you mean 'pi'\\?"),
    (["run", "pi", "-p", "zz=1"], "model 'pi' has no parameter zz. Valid parameters: none"),
    (["run", "modelzoo:exp_mean", "-p", "b=1"], "no parameter b.*Valid parameters: a"),
    (["run", "modelzoo:exp_mean", "-p", "a=x"], "parameter a = 'x': expected a number"),
    (["run", "modelzoo:coin", "-p", "p"], "'p' is not of the form NAME=VALUE"),
    (
        ["run", "nosuchpkg.mod:f"],
        "model 'nosuchpkg.mod:f': cannot import module 'nosuchpkg.mod' \\(ModuleNotFoundError",
    ),
    (["run", "modelzoo:nosuch"], "module 'modelzoo' has no attribute 'nosuch'"),
    (["run", "pi", "--bit-generator", "mt"], "'--bit-generator': 'mt' is not one of 'sfc64', 'pcg64'"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a[2:]) or a[1] for a, _ in BAD])
def test_bad_input_is_a_one_line_usage_error(capsys, args, message):
    code, out, err = mc(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err  # one line, no traceback
    assert err.startswith("Error: ")
    import re

    assert re.search(message, err), err


@pytest.mark.parametrize(
    "model, message",
    [
        ("modelzoo:raises", r"model raised ValueError: boom.*\(block \d+, spawn key \(\d+,\)\); seed entropy 3"),
        ("modelzoo:wrong_shape", r"returned shape \(101,\) for n=100; expected \(100,\) \(block 0, spawn key \(0,\)\)"),
        ("modelzoo:returns_nan", r"non-finite value \(nan\).*\(block \d+, spawn key \(\d+,\)\)"),
    ],
)
def test_model_failures_exit_1_naming_the_block(capsys, model, message):
    import re

    code, out, err = mc(capsys, "run", model, "-n", "1e4", "-s", "3", "--block-size", "100", "-w", "2", "-q")
    assert code == 1
    assert err.count("\n") == 1 and re.search(message, err), err
    assert "--replay-block" in err


def test_replay_block_shows_the_models_own_exception(capsys):
    code, out, err = mc(capsys, "run", "modelzoo:raises", "-n", "1e4", "-s", "3", "--block-size", "100", "-q")
    block = int(err.split("(block ")[1].split(",")[0])
    with pytest.raises(ValueError, match="boom"):
        invoke(
            [
                "run",
                "modelzoo:raises",
                "-n",
                "1e4",
                "-s",
                "3",
                "--block-size",
                "100",
                "--replay-block",
                str(block),
                "--debug",
            ]
        )
    capsys.readouterr()
    code, out, err = mc(
        capsys, "run", "modelzoo:raises", "-n", "1e4", "-s", "3", "--block-size", "100", "--replay-block", "0"
    )
    # block 0 may or may not fail; either way the command says what happened
    assert code in (0, 1)
