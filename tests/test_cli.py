"""The `mc` command in-process: output, JSON, and every bad input's message and exit code."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MC, mc

import montecarlo


def test_run_prints_a_table(capsys):
    code, out, err = mc(capsys, "run", "pi", "--samples", "1e6", "--seed", "3", "--quiet")
    assert code == 0, err
    assert "pi: 1,000,000 samples, seed entropy 3, sfc64" in out
    assert "95% interval" in out and "wilson" in out and "3.1416" in out  # exact, to the shown digits


@pytest.mark.slow
@pytest.mark.parametrize("text", ["1e6", "1_000_000", "1000000", "1E6", "1.0e6"])
def test_samples_spellings(capsys, text):
    code, out, err = mc(capsys, "run", "pi", "-n", text, "-s", "1", "--json", "-q")
    assert code == 0, err
    assert json.loads(out)["samples"] == 1_000_000


@pytest.mark.slow
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


@pytest.mark.slow
def test_unseeded_runs_report_their_entropy_and_repeat(capsys):
    code, out, _ = mc(capsys, "run", "pi", "-n", "1e5", "--json", "-q")
    first = json.loads(out)
    entropy = first["spec"]["entropy"]
    assert entropy.bit_length() > 64
    code, out, _ = mc(capsys, "run", "pi", "-n", "1e5", "--json", "-q", "--seed", str(entropy))
    assert json.loads(out)["outputs"] == first["outputs"]


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(capsys, flag):
    from montecarlo import __version__

    code, out, _ = mc(capsys, flag)
    assert code == 0 and out == f"mc (montecarlo) {__version__}\n"


def test_bare_mc_prints_help_and_exits_0(capsys):
    code, out, err = mc(capsys)
    assert code == 0 and err == ""
    assert out.startswith("Usage: mc ") and "run" in out and "experiment" in out


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mc", "montecarlo"])
def test_installed_commands(name):
    """`mc` is also installed as `montecarlo`."""
    from montecarlo import __version__

    done = subprocess.run([str(Path(MC).with_name(name)), "-V"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"mc (montecarlo) {__version__}\n"


def test_the_commands_start_in_a_module_that_handles_signals_first():
    # tests/test_signals_startup.py signals them at every moment of their start-up
    from importlib.metadata import entry_points

    scripts = {e.name: e.value for e in entry_points(group="console_scripts") if e.name in ("mc", "montecarlo")}
    assert scripts == {"mc": "montecarlo.__main__:main", "montecarlo": "montecarlo.__main__:main"}
    # Importing it, as a library might, installs no handler and loads nothing heavy: calling `main` does.
    code = "import signal, sys; import montecarlo.__main__; print(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, 'click' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "False"], done.stdout + done.stderr


SPY = """
import signal, sys
import montecarlo.__main__ as entry

class Spy:  # sees each import as it starts
    def find_spec(self, name, path=None, target=None):
        if name in ("click", "montecarlo.cli"):
            print(name, signal.getsignal(signal.SIGINT) is entry._stop, signal.getsignal(signal.SIGTERM) is entry._stop)
        return None

sys.meta_path.insert(0, Spy())
sys.argv = ["mc", "--version"]
entry.main()
"""


def test_the_entry_point_handles_signals_before_click_or_the_cli_load():
    done = subprocess.run([sys.executable, "-c", SPY], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["montecarlo.cli True True", "click True True"], done.stdout


SAMPLES = r"accepted: an integer >= 1 and at most 1e\+15, such as 1000000, 1_000_000 or 1e6\."
BUILT_IN = (
    r"accepted: a built-in model name \(see `mc list`\), 'package\.module:function' or 'path/to/file\.py:function'\."
)

BAD = [
    (["run", "pi", "--samples", "abc"], "--samples abc is not an integer; " + SAMPLES),
    (["run", "pi", "--samples", "0"], "--samples 0 is not accepted; " + SAMPLES),
    (["run", "pi", "--samples", "-5"], "--samples -5 is not accepted; " + SAMPLES),
    (["run", "pi", "--samples", "1.5"], "--samples 1.5 is not an integer; " + SAMPLES),
    (["run", "pi", "--samples", "1e9.5"], r"--samples 1e9\.5 is not an integer; " + SAMPLES),
    (["run", "pi", "--samples", "inf"], "--samples inf is not an integer; " + SAMPLES),
    (["run", "pi", "--samples", "nan"], "--samples nan is not an integer; " + SAMPLES),
    (["run", "pi", "--samples", "1e30"], "--samples 1e30 is too large; " + SAMPLES),
    (["run", "pi", "--workers", "0"], r"--workers 0 is not accepted; accepted: an integer from 1 to 1024\."),
    (["run", "pi", "--workers", "-3"], r"--workers -3 is not accepted; accepted: an integer from 1 to 1024\."),
    (["run", "pi", "--workers", "x"], r"--workers x is not an integer; accepted: an integer from 1 to 1024\."),
    (["run", "pi", "--seed", "-1"], r"--seed -1 is not accepted; accepted: an integer >= 0\."),
    (["run", "pi", "--seed", "x"], r"--seed x is not an integer; accepted: an integer >= 0\."),
    (
        ["run", "pi", "--confidence", "0"],
        "--confidence 0 is not accepted; accepted: a number strictly between 0 and 1",
    ),
    (
        ["run", "pi", "--confidence", "1"],
        "--confidence 1 is not accepted; accepted: a number strictly between 0 and 1",
    ),
    (
        ["run", "pi", "--confidence", "1.5"],
        r"--confidence 1\.5 is not accepted; accepted: a number strictly between 0 and 1",
    ),
    (
        ["run", "pj"],
        r"`model` = 'pj' is not a known model \(did you mean 'pi'\?\); accepted: one of asian_option, .*\bpi\b",
    ),
    # An unknown parameter is named with the value given, and with what the model accepts.
    (["run", "pi", "-p", "zz=1"], r"-p zz=1 is not a parameter of model 'pi'; accepted: none"),
    (["run", "modelzoo:exp_mean", "-p", "b=1"], r"-p b=1 is not a parameter of model 'exp_mean'; accepted: one of a\."),
    (["run", "modelzoo:exp_mean", "-p", "a=x"], r"-p a=x is not accepted; accepted: a number"),
    (["run", "european_option", "-p", "strike=-1"], r"-p strike=-1 is out of range; accepted: a number > 0"),
    (["run", "modelzoo:coin", "-p", "p"], r"-p p is not of the form NAME=VALUE\."),
    (
        ["run", "modelzoo:exp_mean", "-p", "a=1", "-p", "a=2"],
        r"-p a is given twice \('1' and '2'\); give it once\.",
    ),
    (
        ["run", "nosuchpkg.mod:f"],
        r"`model` = 'nosuchpkg\.mod:f' cannot be imported: No module named 'nosuchpkg'; " + BUILT_IN,
    ),
    (
        ["run", "modelzoo:nosuch"],
        r"`model` = 'modelzoo:nosuch' names 'nosuch', which module 'modelzoo' does not define; " + BUILT_IN,
    ),
    (
        ["run", "pi", "--bit-generator", "mt"],
        r"--bit-generator mt is not accepted; accepted: one of sfc64, pcg64, pcg64dxsm, philox\.",
    ),
    (
        ["run", "pi", "--resume"],
        r"--resume needs a checkpoint file; accepted: --checkpoint FILE as well\.",
    ),
    (
        ["run", "pi", "--checkpoint-every", "5"],
        r"--checkpoint-every 5 needs a checkpoint file; accepted: --checkpoint FILE as well\.",
    ),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a[2:]) or a[1] for a, _ in BAD])
def test_bad_input_is_a_one_line_usage_error(capsys, args, message):
    code, out, err = mc(capsys, *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err  # one line, no traceback
    assert err.startswith("Error: ")
    assert re.search(message, err), err
    assert not re.search(r"[.?];", err), err  # one sentence per part, no stray punctuation
    assert err.rstrip().endswith("(see 'mc run --help')"), err


def test_resume_from_a_missing_checkpoint_is_a_usage_error(capsys, tmp_path):
    ck = tmp_path / "missing.ckpt"
    code, out, err = mc(capsys, "run", "pi", "-n", "1e4", "--checkpoint", ck, "--resume", "-q")
    assert code == 2 and out == ""
    assert err.count("\n") == 1, err
    assert f"Error: --checkpoint {ck} does not exist (nothing to resume); accepted: the path of an existing" in err
    assert not ck.exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "model, message",
    [
        ("modelzoo:raises", r"model raised ValueError: boom.*\(block (\d+), spawn key \(\1,\)\)"),
        (
            "modelzoo:wrong_shape",
            r"returned shape \(101,\) for n=100; expected \(100,\) \(block (0), spawn key \(0,\)\)",
        ),
        ("modelzoo:returns_nan", r"non-finite value \(nan\).*\(block (\d+), spawn key \(\1,\)\)"),
    ],
)
def test_model_failures_exit_1_naming_the_block(capsys, model, message):
    code, out, err = mc(capsys, "run", model, "-n", "1e4", "-s", "3", "--block-size", "100", "-w", "2", "-q")
    assert code == 1
    found = re.search(message, err)
    assert err.count("\n") == 1 and found, err
    # the hint repeats the seed, so the block can be replayed
    assert f" -- debug it with the same command plus --seed 3 --replay-block {found.group(1)}\n" in err


REPLAY = ["run", "modelzoo:raises", "-n", "1e4", "-s", "3", "--block-size", "100"]


@pytest.mark.slow
@pytest.mark.parametrize("debug", [[], ["--debug"]])
def test_replay_block_shows_the_models_own_exception(capsys, debug):
    code, out, err = mc(capsys, *REPLAY, "-q")
    assert code == 1
    block = int(err.split("(block ")[1].split(",")[0])
    code, out, err = mc(capsys, *REPLAY, "--replay-block", block, *debug)
    assert code == 1 and out == ""
    lines = err.splitlines()
    assert lines[0] == "Traceback (model code only):"
    # the model's own frames, none of montecarlo's
    assert any("modelzoo.py" in line and "in raises" in line for line in lines)
    assert 'raise ValueError("boom: the model found something it cannot handle")' in err
    assert os.path.dirname(montecarlo.__file__) not in err
    assert lines[-2] == "ValueError: boom: the model found something it cannot handle"
    assert lines[-1] == f"Error: block {block} raised ValueError: boom: the model found something it cannot handle"


def test_replay_block_of_a_block_that_runs(capsys):
    # blocks before the first failing one run without error
    code, out, err = mc(capsys, *REPLAY, "--replay-block", "0")
    assert code == 0, err
    assert out.startswith("block 0 ran without error: 100 samples, mean [")


@pytest.mark.parametrize(
    "args, message",
    [
        (["-s", "3", "--replay-block", "x"], r"--replay-block x is not an integer; accepted: an integer >= 0\."),
        (["-s", "3", "--replay-block", "-1"], r"--replay-block -1 is not accepted; accepted: an integer >= 0\."),
        (
            ["-s", "3", "--replay-block", "100"],
            r"--replay-block 100 is not a block of this run; accepted: a block index from 0 to 99\.",
        ),
        (["--replay-block", "0"], r"--seed is needed to replay a block; accepted: the seed the failed run printed\."),
    ],
)
def test_replay_block_usage_errors(capsys, args, message):
    code, out, err = mc(capsys, "run", "modelzoo:raises", "-n", "1e4", "--block-size", "100", *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and re.search(message, err), err


# -- a signal is never lost, whatever the code it interrupts makes of it ----------------


def interrupted_run(monkeypatch, then):
    """``run_spec`` receives a real Ctrl-C, and ``then`` is what the code it interrupted makes of it."""
    import signal
    import time

    import montecarlo.api

    real = montecarlo.api.run_spec

    def run_spec(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # the handler raises here
        except KeyboardInterrupt:
            return then(real, *args, **kwargs)
        raise AssertionError("no KeyboardInterrupt")

    monkeypatch.setattr(montecarlo.api, "run_spec", run_spec)


def test_a_ctrl_c_that_became_another_error_exits_130(capsys, monkeypatch):
    def import_error(real, *args, **kwargs):  # as an extension module's import, interrupted, reports it
        raise ImportError("cannot initialise module strings")

    interrupted_run(monkeypatch, import_error)
    assert mc(capsys, "run", "pi", "-n", "1e4", "-q") == (130, "", "Interrupted: workers stopped.\n")


def test_a_ctrl_c_swallowed_on_the_way_still_exits_130(capsys, monkeypatch):
    interrupted_run(monkeypatch, lambda real, *args, **kwargs: real(*args, **kwargs))
    code, out, err = mc(capsys, "run", "pi", "-n", "1e4", "-q", "--seed", "1")
    assert code == 130 and "pi: 10,000 samples" in out  # the run went on to its end
    assert err == "Interrupted: workers stopped.\n"


def test_a_ctrl_c_dropped_in_a_finalizer_is_raised_again(capsys, monkeypatch):
    import signal
    import time

    import montecarlo.api

    class Finalized:
        def __del__(self):  # the handler raises here, where Python prints "Exception ignored" and drops it
            os.kill(os.getpid(), signal.SIGINT)

    def run_spec(*args, **kwargs):
        Finalized()
        t0 = time.monotonic()
        while time.monotonic() - t0 < 10:  # the run goes on, unless the Ctrl-C reaches it
            time.sleep(0.001)

    monkeypatch.setattr(montecarlo.api, "run_spec", run_spec)
    t0 = time.monotonic()
    code, out, err = mc(capsys, "run", "pi", "-n", "1e4", "-q")
    assert (code, out, err.strip()) == (130, "", "Interrupted: workers stopped.")  # not "Exception ignored in ..."
    assert time.monotonic() - t0 < 5


# -- text from files reaches the terminal escaped --------------------------------------

#: Characters a terminal acts on rather than shows: ESC, BEL, CSI (C1), bidi override and isolates, line separator.
RAW = ("\x1b", "\x07", "\x9b", "\x7f", "\r", "\u202e", "\u2066", "\u2069", "\u2028")
DESCRIPTION = "pi \x1b]0;pwned\x07\x1b[2J \u202eevil\u202c \u2066iso\u2069 café π 中"
SHOWN = r"pi \x1b]0;pwned\x07\x1b[2J \u202eevil\u202c \u2066iso\u2069 café π 中"


def assert_no_raw_controls(text: str) -> None:
    found = sorted({c for c in text if c in RAW})
    assert not found, f"raw {found!r} in {text!r}"


def experiment_file(tmp_path, **keys) -> Path:
    """An experiment file of the pi model (10,000 samples) with ``keys`` added; strings as TOML basic strings."""
    lines = ['name = "esc"', 'model = "pi"', "samples = 10000", "seed = 1"]
    lines += [f"{json.dumps(k)} = {json.dumps(v)}" for k, v in keys.items()]  # JSON's escapes are TOML's (\u001b)
    path = tmp_path / "e.toml"
    path.write_text("\n".join(lines) + '\n[expect]\npi = "exact"\n', encoding="utf-8")
    return path


def test_an_experiments_description_is_shown_escaped(capsys, tmp_path):
    path = experiment_file(tmp_path, description=DESCRIPTION)
    code, out, err = mc(capsys, "experiment", "run", path, "-o", tmp_path / "out", "-q", "--executor", "serial")
    assert code == 0, err
    assert SHOWN in out  # letters of any script as they are, controls and bidi characters escaped
    assert_no_raw_controls(out + err)
    result = next((tmp_path / "out").rglob("result.json"))
    assert json.loads(result.read_text(encoding="utf-8"))["description"] == DESCRIPTION  # the file keeps it as written
    code, out, err = mc(capsys, "experiment", "show", result)
    assert code == 0 and SHOWN in out, err
    assert_no_raw_controls(out + err)


def test_a_multi_line_description_keeps_its_line_breaks(capsys, tmp_path):
    path = experiment_file(tmp_path, description="first line\nsecond\rline")
    code, out, err = mc(capsys, "experiment", "run", path, "-o", tmp_path / "out", "-q", "--executor", "serial")
    assert code == 0, err
    assert "first line\nsecond\\rline\n" in out


def test_every_text_of_a_result_file_is_shown_escaped(capsys, tmp_path):
    from montecarlo.records.integrity import sealed

    code, _, err = mc(capsys, "experiment", "run", experiment_file(tmp_path), "-o", tmp_path / "out", "-q", "--executor", "serial")  # fmt: skip
    assert code == 0, err
    path = next((tmp_path / "out").rglob("result.json"))
    d = json.loads(path.read_text(encoding="utf-8"))
    d.pop("checksum")
    d["name"] = "n\x1b]0;title\x07"
    d["config"]["path"] = "p\u202eath"
    d["provenance"]["executor"] = "x\x1b[2J"
    point = d["points"][0]["result"]
    point["model"] = "m\x9b31m"
    point["provenance"]["executor"] = "\u2066x\u2069"
    point["outputs"]["p\x1b[5mi"] = point["outputs"].pop("pi")
    d["points"][0]["checks"][0]["output"] = "c\x7fk"
    path.write_text(json.dumps(sealed(d)), encoding="utf-8")
    code, out, err = mc(capsys, "experiment", "show", path)
    assert code == 0, err
    for shown in (r"n\x1b]0;title\x07", r"p\u202eath", r"m\x9b31m", r"\u2066x\u2069", r"p\x1b[5mi", r"c\x7fk"):
        assert shown in out, out
    assert_no_raw_controls(out + err)
    # A sweep's table: swept names and values, one row per point.
    d["points"][0]["params"] = {"k\x1b[2J": "v\u202e"}
    path.write_text(json.dumps(sealed(d)), encoding="utf-8")
    code, out, err = mc(capsys, "experiment", "show", path)
    assert code == 0, err
    assert r"k\x1b[2J" in out and r"v\u202e" in out and r"x\x1b[2J" in out, out
    assert_no_raw_controls(out + err)


def test_an_error_quoting_a_file_shows_its_text_escaped(capsys, tmp_path):
    path = experiment_file(tmp_path, **{"\x1b]0;pwned\x07\u202e": 1})
    code, out, err = mc(capsys, "experiment", "run", path, "-o", tmp_path / "out", "-q")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and r"unknown key `\x1b]0;pwned\x07\u202e`" in err, err
    assert_no_raw_controls(err)


@pytest.mark.parametrize(
    "text, shown",
    [
        ("\x1b[2J\x07", r"\x1b[2J\x07"),
        (
            "".join(map(chr, range(32))),
            "".join(f"\\x{i:02x}" for i in range(32))
            .replace(r"\x09", r"\t")
            .replace(r"\x0a", r"\n")
            .replace(r"\x0d", r"\r"),
        ),  # fmt: skip
        ("\x7f\x80\x9b\x9f", r"\x7f\x80\x9b\x9f"),
        ("\u202a\u202b\u202c\u202d\u202e", r"\u202a\u202b\u202c\u202d\u202e"),
        ("\u2066\u2067\u2068\u2069\u200e\u200f", r"\u2066\u2067\u2068\u2069\u200e\u200f"),
        ("a\u2028b\u2029c\ufeff", r"a\u2028b\u2029c\ufeff"),
        ("\ud800", r"\ud800"),  # a lone surrogate (JSON allows one): it would not even encode
        ("\U000e0041", r"\U000e0041"),  # a tag character
        ("é π 中 Ω ü ß — “quoted” 👩\u200d🔬 a\u00a0b", "é π 中 Ω ü ß — “quoted” 👩\u200d🔬 a\u00a0b"),
        (r"C:\path\x1b", r"C:\path\x1b"),  # backslashes as they are
    ],
)
def test_printable_escapes_what_a_terminal_would_act_on(text, shown):
    from montecarlo.reports.text import printable

    assert printable(text) == shown
    assert printable(printable(text)) == printable(text)
    assert printable(text, keep="\n").count("\n") == text.count("\n")
