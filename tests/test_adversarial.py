"""Every bad input an adversarial user tried: one line, the right exit status, no process left behind.

Command lines, hostile files (edited, damaged, special, huge), misbehaving
models and Dask addresses. Each case runs the `mc` command in-process (a
real process only where one is needed) and asserts the exit status, that
stderr is one line naming the problem, that stdout is empty, and that no
process it started is still running afterwards.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import mc

from montecarlo.records.integrity import sealed

SAMPLES = r"accepted: an integer >= 1 and at most 1e\+15"


@pytest.fixture(autouse=True)
def no_process_left_behind():
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    yield
    deadline = time.monotonic() + 5
    while True:
        extra = []
        for p in me.children(recursive=True):
            try:
                if p.pid not in before and p.status() != psutil.STATUS_ZOMBIE:
                    extra.append(p)
            except psutil.NoSuchProcess:
                pass
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not extra, f"processes left behind: {extra}"


def one_line_error(capsys, code: int, args, pattern: str) -> str:
    """Run ``mc ARGS``; check the exit status, an empty stdout and one ``Error:`` line matching ``pattern``."""
    got, out, err = mc(capsys, *args)
    assert got == code, err
    assert out == "", out
    assert err.count("\n") == 1 and err.startswith("Error: "), err
    assert re.search(pattern, err), err
    return err


# --------------------------------------------------------------------------
# command lines
# --------------------------------------------------------------------------

BAD_COMMAND_LINES = [
    (["run", "pi", "-n", "abc"], "--samples abc is not an integer; " + SAMPLES),
    (["run", "pi", "-n", ""], "--samples '' is not an integer"),
    (["run", "pi", "-n", "0x10"], "--samples 0x10 is not an integer"),
    (["run", "pi", "-n", "1e-3"], "--samples 1e-3 is not an integer"),
    (["run", "pi", "-n", "1e16"], "--samples 1e16 is too large"),
    (["run", "pi", "-n", "-0"], "--samples -0 is not accepted"),
    (["run", "pi", "-s", "-1"], r"--seed -1 is not accepted; accepted: an integer >= 0\."),
    (["run", "pi", "-s", "1.5"], "--seed 1.5 is not an integer"),
    (["run", "pi", "-s", ""], "--seed '' is not an integer"),
    (["run", "pi", "-c", "0.9999999999999999"], "--confidence 0.9999999999999999 is too close to 1"),
    (["run", "pi", "-c", "1"], "--confidence 1 is not accepted"),
    (["run", "pi", "-c", "7"], "--confidence 7 is not accepted"),
    (["run", "pi", "-c", "nan"], "--confidence nan is not accepted"),
    (["run", "pi", "-c", "-0.5"], "--confidence -0.5 is not accepted"),
    (["run", "pi", "--interval", "bogus"], "--interval bogus is not accepted; accepted: one of auto, t"),
    (["run", "pi", "--bit-generator", "evil"], "--bit-generator evil is not accepted; accepted: one of sfc64"),
    (["run", "pi", "--bit-generator", "mt19937"], "--bit-generator mt19937 is not accepted"),
    (["run", "pi", "--block-size", "0"], "--block-size 0 is not accepted; accepted: an integer >= 1"),
    (["run", "pi", "--block-size", "1.5"], "--block-size 1.5 is not an integer"),
    (["run", "pi", "--batch-size", "-4"], "--batch-size -4 is not accepted"),
    (["run", "pi", "--tolerance", "0"], "--tolerance 0 is not accepted; accepted: a finite number > 0"),
    (["run", "pi", "--tolerance", "inf"], "--tolerance inf is not accepted"),
    (["run", "pi", "--rtol", "nan"], "--rtol nan is not accepted"),
    (["run", "pi", "--time-limit", "-3"], "--time-limit -3 is not accepted"),
    (["run", "pi", "--target", "nope", "--tolerance", "1e-3"], "--target nope is not an estimate of the model"),
    (["run", "pi", "--target", "pi"], "--target pi needs a precision target"),
    (["run", "pi", "--min-samples", "10"], "--min-samples 10 needs a precision target"),
    (["run", "pi", "--max-samples", "10"], "--max-samples 10 needs a rule"),
    (["run", "pi", "--tolerance", "1e-3", "-n", "10", "--max-samples", "20"], "are both given"),
    (["run", "pi", "-w", "0"], r"--workers 0 is not accepted; accepted: an integer from 1 to 1024\."),
    (["run", "pi", "-w", "2000"], r"--workers 2000 is not accepted; accepted: an integer from 1 to 1024\."),
    (["run", "pi", "-w", "two"], "--workers two is not an integer"),
    (["run", "pi", "--retries", "-1"], "--retries -1 is not accepted; accepted: an integer >= 0"),
    (["run", "pi", "--executor", "gpu"], "--executor gpu is not accepted; accepted: one of processes, threads"),
    (["run", "pi", "--scheduler", "tcp://x:1"], "--scheduler tcp://x:1 needs the dask executor"),
    (["run", "pi", "--resume"], "--resume needs a checkpoint file"),
    (["run", "pi", "--checkpoint-every", "5"], "--checkpoint-every 5 needs a checkpoint file"),
    (["run", "pi", "--checkpoint", "c.json", "--checkpoint-every", "0"], "--checkpoint-every 0 is not accepted"),
    (["run", "pi", "-p", "radius"], "-p radius is not of the form NAME=VALUE"),
    (["run", "pi", "-p", "=3"], "-p =3 is not of the form NAME=VALUE"),
    (["run", "european_option", "-p", "strike=1", "-p", "strike=2"], r"-p strike is given twice \('1' and '2'\)"),
    (["run", "european_option", "-p", "strike=abc"], "-p strike=abc"),
    (["run", "european_option", "-p", "nosuch=1"], "-p nosuch=1"),
    (["run", "nosuch"], "`model` = 'nosuch' is not a known model"),
    (["run", "nosuch.py:f"], "names the file 'nosuch.py', which does not exist"),
    (["run", "os:nope"], "names 'nope', which module 'os' does not define"),
    (["run", "no_such_module_anywhere:f"], "cannot be imported"),
    (["run", "pi:"], "is not a model reference"),
    (["run", "pi", "-o", ""], "--output '' is not accepted; accepted: a file path in an existing, writable folder"),
    (["run", "pi", "-o", "/nonexistent/dir/r.json"], "which does not exist"),
    (["run", "pi", "-o", "/proc/r.json"], "which is not writable"),
    (["run", "pi", "-o", "/dev/null"], "--output /dev/null is a character device, not a regular file"),
    (["run", "pi", "-o", "/tmp"], "--output /tmp is a folder, not a regular file"),
    (["run", "pi", "--plot", "p.txt"], "has no plot file extension"),
    (["run", "pi", "--plot", "/nonexistent/dir/p.png"], "which does not exist"),
    (["run", "pi", "--plot", "/proc/p.png"], "which is not writable"),
    (
        ["run", "pi", "--checkpoint", "same.json", "-o", "same.json"],
        "--output same.json is the file --checkpoint names",
    ),
    (["run", "pi", "-o", "same.png", "--plot", "same.png"], "--plot .*same.png is the file --output names"),
    (["run", "pi", "-s", "1", "--replay-block", "999999"], "--replay-block 999999 is not a block of this run"),
    (["run", "pi", "-s", "1", "--replay-block", "x"], "--replay-block x is not an integer"),
    (["run", "pi", "--replay-block", "0"], "--seed is needed to replay a block"),
    (["run", "pi", "--bogus"], "No such option '--bogus'"),
    (["run"], "Missing argument 'MODEL'"),
    (["nosuchcommand"], "No such command 'nosuchcommand'"),
    (["show", "nosuch"], "`model` = 'nosuch' is not a known model"),
    (["extend", "missing.json", "-n", "10"], "'missing.json' does not exist"),
    (["reproduce", "missing.json"], "missing.json: no such file"),
    (["plot", "missing.json"], "'missing.json' does not exist"),
    (["experiment", "run", "missing.toml"], "missing.toml: no such file"),
    (["run", "pi", "--executor", "dask", "--scheduler", ""], "--scheduler '' has no HOST:PORT"),
    (["run", "pi", "--executor", "dask", "--scheduler", "ucx://"], "--scheduler ucx:// uses the transport 'ucx://'"),
    (["run", "pi", "--executor", "dask", "--scheduler", "inproc://nothing"], "uses the transport 'inproc://'"),
    (["run", "pi", "--executor", "dask", "--scheduler", "tls://"], "--scheduler tls:// has no HOST:PORT"),
    (["run", "pi", "--executor", "dask", "--scheduler", "tcp://localhost"], "has no HOST:PORT"),
    (["run", "pi", "--executor", "dask", "--scheduler", "tcp://h:99999"], "has no port from 1 to 65535"),
    (["run", "pi", "--executor", "dask", "--scheduler", "x:y"], "--scheduler x:y has no port from 1 to 65535"),
    (["run", "pi", "--executor", "dask", "--scheduler", "http://h:1"], "uses the transport 'http://'"),
]


@pytest.mark.parametrize("args, pattern", BAD_COMMAND_LINES, ids=[" ".join(a)[:60] for a, _ in BAD_COMMAND_LINES])
def test_a_bad_command_line_is_one_line_exit_2(capsys, tmp_path, monkeypatch, args, pattern):
    monkeypatch.chdir(tmp_path)
    one_line_error(capsys, 2, args, pattern)
    assert not any(p.suffix in (".json", ".png") for p in tmp_path.iterdir())  # nothing ran, nothing written


# --------------------------------------------------------------------------
# hostile files: results, checkpoints, experiments
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A genuine result file and checkpoint, made once, to be damaged by each case."""
    where = tmp_path_factory.mktemp("genuine")
    result, checkpoint = where / "r.json", where / "c.json"
    args = ["run", "pi", "-n", "450000", "--block-size", "100000", "-s", "1", "-q", "--executor", "serial"]
    from montecarlo.cli import invoke

    assert invoke([*args, "-o", str(result)]) == 0
    assert invoke([*args, "--checkpoint", str(checkpoint)]) == 0
    return {"result": result.read_text(), "checkpoint": checkpoint.read_text(), "args": args}


def resealed(change):
    """A mutation of the parsed file, written with a checksum made anew (as a consistent-looking file)."""

    def mutate(text: str) -> str:
        d = json.loads(text)
        change(d)
        return json.dumps(sealed(d))

    return mutate


def edited(change):
    """A mutation of the parsed file, its checksum left as it was (an edit by hand)."""

    def mutate(text: str) -> str:
        d = json.loads(text)
        change(d)
        return json.dumps(d)

    return mutate


def setter(*path_value):
    *path, value = path_value

    def change(d):
        for key in path[:-1]:
            d = d[key]
        d[path[-1]] = value

    return change


def special(kind: str, path: Path) -> None:
    """Put a FIFO, a link to /dev/zero or a huge sparse file at ``path``."""
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        os.symlink("/dev/zero", path)
    elif kind == "huge":
        with open(path, "wb") as f:
            f.truncate(200 * 2**20)  # sparse: takes no disk
    elif kind == "folder":
        path.mkdir()


SPECIAL = [
    ("fifo", "is a FIFO \\(named pipe\\), not a regular file"),
    ("zero", "is a character device, not a regular file"),
    ("huge", "is 209,715,200 bytes, more than the 134,217,728 this reads"),
]

DAMAGE = [
    (lambda t: t.encode() + b"\xff\xfe", "is not UTF-8 text"),
    (lambda t: "[" * 200_000 + "]" * 200_000, "is nested too deeply"),
    (lambda t: t.replace('"count": 450000', '"count": NaN', 1), "holds NaN, which strict JSON has no place for"),
    (lambda t: "", "is truncated or not JSON"),
    (lambda t: t[: len(t) // 3], "is truncated or not JSON"),
]

RESULT_MUTATIONS = [
    (edited(setter("outputs", "pi", "estimate", 3.0)), "does not match its checksum: it was edited or damaged"),
    (edited(setter("continuation", "blocks", 2)), "does not match its checksum"),
    (resealed(setter("continuation", "blocks", 2)), "continuation.blocks = 2, which is not the count of its"),
    (resealed(setter("outputs", [1, 2])), "`outputs` that is not an object of estimate objects"),
    (resealed(setter("spec", "block_size", 0)), "`block_size` = 0 is not accepted"),
    (resealed(setter("spec", "bit_generator", "evil")), "`bit_generator` = 'evil' is not accepted"),
    (resealed(setter("spec", "confidence", 7)), "`confidence` = 7 is not accepted"),
    (resealed(setter("spec", "samples", 10**18)), "`samples` = 1000000000000000000 is too large"),
    (
        resealed(setter("spec", "stop", {"rules": [{"rule": "this:Rule"}]})),
        "names the stopping rule 'this:Rule', which is not registered",
    ),
    (resealed(setter("accumulator", "mean", [None])), "accumulator.mean that is not a list of finite numbers"),
    (resealed(setter("accumulator", "count", -5)), "accumulator.count = -5, which is not an integer >= 0"),
    (resealed(setter("samples", 7)), "has samples = 7, not its accumulator's count 450,000"),
    (resealed(setter("version", 2)), "result format version 2 is not supported"),
    (edited(setter("checksum", "md5:0")), '"checksum" that is not "sha256:..."'),
]


def result_cases():
    cases = [(f"special-{k}", None, k, m) for k, m in SPECIAL]
    cases += [(f"damage-{i}", f, None, m) for i, (f, m) in enumerate(DAMAGE)]
    cases += [(f"mutation-{i}", f, None, m) for i, (f, m) in enumerate(RESULT_MUTATIONS)]
    return cases


@pytest.mark.parametrize("command", ["extend", "plot", "reproduce"])
@pytest.mark.parametrize("name, mutate, kind, pattern", result_cases(), ids=[c[0] for c in result_cases()])
def test_a_bad_result_file_is_refused_in_one_line(capsys, tmp_path, files, command, name, mutate, kind, pattern):
    path = tmp_path / "r.json"
    if kind is not None:
        special(kind, path)
    else:
        text = mutate(files["result"])
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = os.lstat(path)
    args = {"extend": ["extend", path, "-n", "500000", "-q"], "plot": ["plot", path], "reproduce": ["reproduce", path]}
    one_line_error(capsys, 2, args[command], pattern)
    after = os.lstat(path)
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (before.st_mtime_ns, before.st_size, before.st_ino)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no plot, no other file


def drop(*keys):
    def change(d):
        for k in keys:
            d.pop(k)

    return change


def held_block(b, count):
    def change(d):
        d["held"][str(b)] = {"count": count, "mean": [0.5], "comoment": [[1.0]]}

    return change


CHECKPOINT_MUTATIONS = [
    (edited(setter("next_block", 3)), "does not match its checksum: it was edited or damaged"),
    (edited(setter("accumulator", "mean", [0.7])), "does not match its checksum"),
    (edited(held_block(4, 50000)), "does not match its checksum"),
    (resealed(setter("next_block", 3)), "has 450,000 samples folded, which is not the count of its 3 blocks"),
    (resealed(setter("next_block", 9)), "has next_block = 9, past the run's 5 blocks"),
    (resealed(setter("next_block", -1)), "has next_block = -1, which is not an integer >= 0"),
    (resealed(setter("samples_done", 1)), "has samples_done = 1, not its accumulator's 450,000"),
    (resealed(held_block(7, 50000)), "holds block '7', which is not a block from 5 on of this run"),
    (resealed(setter("accumulator", "mean", [None])), "accumulator.mean that is not a list of finite numbers"),
    (resealed(setter("accumulator", "comoment", [[-1.0]])), "a negative sum of squares"),
    (resealed(setter("complete", "yes")), "has complete = 'yes', which is not true or false"),
    (resealed(setter("trace", [{"samples": 10**9}])), "has a trace that is not a list of points within its samples"),
    (
        resealed(setter("spec", "stop", {"rules": [{"rule": "this:Rule"}]})),
        "names the stopping rule 'this:Rule', which is not registered",
    ),
    (resealed(setter("version", 0)), "has format version 0; this release reads version 2"),
    (resealed(setter("version", -7)), "has format version -7; this release reads version 2"),
    (resealed(setter("version", True)), "has format version True; this release reads version 2"),
    (resealed(setter("version", "2")), "has format version '2'; this release reads version 2"),
    (resealed(setter("version", 3)), "has format version 3; this release reads version 2 \\(a newer montecarlo"),
    (edited(drop("checksum")), 'has no "checksum" field'),
    (resealed(setter("schema", "montecarlo.result")), "is not a montecarlo checkpoint"),
]


def checkpoint_cases():
    cases = [(f"special-{k}", None, k, m) for k, m in SPECIAL]
    cases += [(f"damage-{i}", f, None, m) for i, (f, m) in enumerate(DAMAGE[:2] + DAMAGE[3:])]
    cases += [(f"mutation-{i}", f, None, m) for i, (f, m) in enumerate(CHECKPOINT_MUTATIONS)]
    return cases


@pytest.mark.parametrize("name, mutate, kind, pattern", checkpoint_cases(), ids=[c[0] for c in checkpoint_cases()])
def test_a_bad_checkpoint_is_refused_in_one_line_and_left_untouched(
    capsys, tmp_path, files, name, mutate, kind, pattern
):
    path = tmp_path / "c.json"
    if kind is not None:
        special(kind, path)
    else:
        text = mutate(files["checkpoint"])
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    before = os.lstat(path)
    one_line_error(capsys, 2, [*files["args"], "--checkpoint", path, "--resume"], pattern)
    after = os.lstat(path)
    assert (after.st_mtime_ns, after.st_size, after.st_ino) == (before.st_mtime_ns, before.st_size, before.st_ino)


def test_a_checkpoint_nested_with_nan_is_refused(capsys, tmp_path, files):
    path = tmp_path / "c.json"
    path.write_text(files["checkpoint"].replace('"count": 450000', '"count": NaN', 1))
    one_line_error(capsys, 2, [*files["args"], "--checkpoint", path, "--resume"], "holds NaN")


def test_a_checkpoint_in_use_by_another_run_is_refused(capsys, tmp_path, files):
    from montecarlo.records.locking import held

    path = tmp_path / "c.json"
    with held(str(path)):  # as a run that has started and not yet written it
        one_line_error(
            capsys, 2, [*files["args"], "--checkpoint", path], rf"is in use by another run \(process {os.getpid()}\)"
        )
    assert not path.exists()
    assert mc(capsys, *files["args"], "--checkpoint", path)[0] == 0  # free again


@pytest.mark.slow
def test_the_lock_is_held_while_a_run_is_under_way(capsys, tmp_path):
    # A second `mc` on the same file, while the first is computing, is refused.
    path = tmp_path / "c.json"
    from conftest import MC

    first = subprocess.Popen(
        [MC, "run", "pi", "-n", "1e12", "-w", "1", "-q", "--checkpoint", path], stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / ".c.json.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        one_line_error(
            capsys, 2, ["run", "pi", "-n", "1e12", "-q", "--checkpoint", path, "--resume"], "in use by another run"
        )
    finally:
        first.terminate()
        first.communicate(timeout=20)
    assert first.returncode == 143


def test_a_symlinked_checkpoint_stays_a_link(capsys, tmp_path, files):
    target, link = tmp_path / "real.json", tmp_path / "link.json"
    link.symlink_to(target)
    assert mc(capsys, *files["args"], "--checkpoint", link)[0] == 0
    assert link.is_symlink() and json.loads(target.read_text())["schema"] == "montecarlo.checkpoint"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real.json"]


BAD_EXPERIMENTS = [
    (b'name = "' + b"x" * 300 + b'"\nmodel = "pi"\n', "`name` = 'xxxx"),
    (b'model = "pi"\nsamples = 0\n', "`samples` = 0 is not accepted"),
    (b'model = "pi"\nbogus = 1\n', "unknown key `bogus`"),
    (b'model = "pi"\nsamples = ', "invalid TOML"),
    (b"model = \xff\xfe", "is not UTF-8 text"),
    (b"a = " + b"[" * 100_000, "invalid TOML|nested too deeply"),
    (b'model = "pi"\nscheduler = "ucx://"\nexecutor = "dask"\n', "`scheduler` = 'ucx://' uses the transport"),
]


@pytest.mark.parametrize("text, pattern", BAD_EXPERIMENTS, ids=range(len(BAD_EXPERIMENTS)))
def test_a_bad_experiment_file_is_one_line_before_anything_runs(capsys, tmp_path, text, pattern):
    path = tmp_path / "e.toml"
    path.write_bytes(text)
    one_line_error(capsys, 2, ["experiment", "run", path, "-o", tmp_path / "out", "-q"], pattern)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("kind, pattern", SPECIAL, ids=[k for k, _ in SPECIAL])
def test_a_special_file_as_experiment_is_refused(capsys, tmp_path, kind, pattern):
    path = tmp_path / "e.toml"
    special(kind, path)
    pattern = pattern.replace("134,217,728", "1,048,576")
    one_line_error(capsys, 2, ["experiment", "run", path, "-o", tmp_path / "out", "-q"], pattern)


@pytest.mark.slow
def test_reading_a_file_never_imports_what_it_names(tmp_path, files):
    # `python -m montecarlo` puts the working directory first on sys.path: a
    # module there named by the file must still not be imported.
    (tmp_path / "evil.py").write_text("open('IMPORTED', 'w').close()\ndef f(rng, n):\n    return rng.random(n)\n")
    r = json.loads(files["result"])
    r["model"] = r["spec"]["model"] = "evil:f"
    (tmp_path / "r.json").write_text(json.dumps(sealed(r)))
    r["spec"]["stop"] = {"rules": [{"rule": "evil:f"}]}
    (tmp_path / "rule.json").write_text(json.dumps(sealed(r)))
    cases = ((["plot", "r.json"], 0), (["plot", "rule.json"], 2), (["extend", "rule.json", "-n", "1e6"], 2))
    procs = [
        subprocess.Popen([sys.executable, "-m", "montecarlo", *args], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        for args, _ in cases
    ]
    for p, (args, code) in zip(procs, cases, strict=True):
        err = p.communicate(timeout=60)[1]
        assert p.returncode == code, (args, err)
    assert not (tmp_path / "IMPORTED").exists()


# --------------------------------------------------------------------------
# misbehaving models
# --------------------------------------------------------------------------

BAD_MODELS = [
    (
        "modelzoo:exits",
        [],
        r"model raised SystemExit: 3 \(block 0, spawn key \(0,\)\) -- debug it with the same command plus --seed 1 --replay-block 0$",
    ),
    ("modelzoo:interrupts_itself", [], r"model raised KeyboardInterrupt \(block 0"),
    ("modelzoo:raises_base", [], r"model raised Odd: an odd base exception \(block 0"),
    ("modelzoo:raises_lines", [], r"model raised ValueError: first line second line third line \(block 0"),
    (
        "modelzoo:huge",
        [],
        r"the model's values overflowed in the block: they are too large to average in float64 \(block 0",
    ),
    (
        "modelzoo:far_apart",
        ["--block-size", "1", "--batch-size", "1"],
        r"the model's values overflowed when folded: .*\(block [1-9]",
    ),
    ("modelzoo:wrong_shape", [], r"model returned shape \(1001,\) for n=1000; expected \(1000,\)"),
    ("modelzoo:returns_nan", [], r"model returned a non-finite value \(nan\)"),
]


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["processes", "serial"])
@pytest.mark.parametrize("model, extra, pattern", BAD_MODELS, ids=[m.split(":")[1] for m, _, _ in BAD_MODELS])
def test_a_misbehaving_model_fails_the_run_in_one_line(capsys, executor, model, extra, pattern):
    args = ["run", model, "-n", "1000", "-q", "--json", "--executor", executor, "-s", "1", *extra]
    one_line_error(capsys, 1, args, pattern)


def test_a_model_error_in_an_experiment_suggests_a_command_that_exists(capsys, tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('model = "modelzoo:raises_lines"\nsamples = 1000\nseed = 4\n')
    err = one_line_error(capsys, 1, ["experiment", "run", path, "-o", tmp_path, "-q"], "model raised ValueError")
    assert err.rstrip().endswith(
        "-- debug it with: mc run modelzoo:raises_lines -n 1000 --seed 4 --bit-generator sfc64 --block-size 262144 "
        "--batch-size 16384 --replay-block 0"
    )


@pytest.mark.slow
def test_a_model_error_while_extending_suggests_a_command_that_exists(capsys, tmp_path):
    result = tmp_path / "r.json"
    args = ["run", "modelzoo:raises", "-n", "4000", "-s", "2", "--block-size", "1000", "-q", "-o", result]
    assert mc(capsys, *args)[0] == 0  # blocks 0-3 pass; block 4 raises
    err = one_line_error(capsys, 1, ["extend", result, "-n", "6000", "-q"], "model raised ValueError: boom")
    assert err.rstrip().endswith(
        "-- debug it with: mc run modelzoo:raises -n 6000 --seed 2 --bit-generator sfc64 --block-size 1000 "
        "--batch-size 1000 --replay-block 4"
    )
    code, out, _ = mc(
        capsys, "run", "modelzoo:raises", "-n", "6000", "-s", "2", "--block-size", "1000", "--replay-block", "4"
    )
    assert code == 1  # the suggested command replays the failure


@pytest.mark.parametrize("command", [["run", "quits.py:f", "-q"], ["show", "quits.py:f"]])
def test_sys_exit_at_a_models_import_is_one_line(capsys, tmp_path, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quits.py").write_text("import sys\nsys.exit(4)\ndef f(rng, n):\n    return rng.random(n)\n")
    one_line_error(capsys, 2, command, "'quits.py' raised SystemExit: 4")
    (tmp_path / "e.toml").write_text('model = "quits.py:f"\nsamples = 100\n')
    one_line_error(capsys, 2, ["experiment", "run", "e.toml", "-q"], "'quits.py' raised SystemExit: 4")


@pytest.mark.parametrize(
    "out, pattern",
    [
        ("/nonexistent/dir/p.png", "which does not exist"),
        ("/proc/p.png", "which is not writable"),
        ("p.txt", "has no plot file extension"),
        ("folder.png", "is a folder, not a regular file"),
    ],
)
def test_a_bad_plot_destination_is_refused_before_reading(capsys, tmp_path, monkeypatch, files, out, pattern):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder.png").mkdir()
    path = tmp_path / "r.json"
    path.write_text(files["result"])
    one_line_error(capsys, 2, ["plot", path, "-o", out], pattern)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.png", "r.json"]


@pytest.mark.slow
def test_what_a_model_prints_goes_to_stderr_and_json_parses(capfd):
    for executor in ("processes", "serial"):
        code, out, err = mc(
            capfd,
            "run",
            "modelzoo:chatty",
            "-n",
            "3000",
            "--block-size",
            "1000",
            "-s",
            "1",
            "-q",
            "--json",
            "--executor",
            executor,
        )
        assert code == 0 and json.loads(out)["samples"] == 3000
        assert "a line the model printed" in err


def test_a_model_that_changes_directory_does_not_move_the_output(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = mc(
        capsys,
        "run",
        "modelzoo:moves",
        "-n",
        "1000",
        "-s",
        "1",
        "-q",
        "--executor",
        "serial",
        "-o",
        "r.json",
        "--checkpoint",
        "c.json",
    )
    assert code == 0, err
    assert (tmp_path / "r.json").exists() and (tmp_path / "c.json").exists()


def test_a_full_disk_is_a_failure_not_a_usage_error(capsys, monkeypatch, tmp_path):
    import tempfile

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    one_line_error(
        capsys,
        1,
        ["run", "pi", "-q", "-o", tmp_path / "r.json"],
        "No space left on device \\(the disk or quota is full\\)",
    )
    monkeypatch.setattr(tempfile, "mkdtemp", full)
    path = tmp_path / "e.toml"
    path.write_text('model = "pi"\nsamples = 1000\n')
    one_line_error(
        capsys, 1, ["experiment", "run", path, "-o", tmp_path / "out", "-q"], "--output-dir .* No space left"
    )


# --------------------------------------------------------------------------
# Dask addresses that answer wrongly, or not at all
# --------------------------------------------------------------------------


def serve(greeting: bytes | None):
    """A TCP server that accepts connections and then sends ``greeting`` (or nothing, ever)."""
    server = socket.create_server(("127.0.0.1", 0))
    conns = []

    def accept():
        while True:
            try:
                c, _ = server.accept()
            except OSError:
                return
            conns.append(c)
            if greeting is not None:
                c.sendall(greeting)

    threading.Thread(target=accept, daemon=True).start()
    return server, conns


@pytest.mark.slow
@pytest.mark.parametrize(
    "greeting, pattern",
    [
        (None, r"the connection was accepted but no Dask scheduler answered within 2 s"),
        (b"\xff" * 64 + b"HTTP/1.1 200 OK\r\n\r\n", r"what answered is not a Dask scheduler \("),
    ],
    ids=["silent", "not-dask"],
)
def test_a_scheduler_address_that_answers_wrongly_is_one_line(capsys, monkeypatch, greeting, pattern):
    from montecarlo.engine.backends import dask_connect

    monkeypatch.setattr(dask_connect, "CONNECT_SECONDS", 1.0)
    monkeypatch.setattr(dask_connect, "HANDSHAKE_SECONDS", 1.0)
    server, conns = serve(greeting)
    try:
        t0 = time.monotonic()
        address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
        one_line_error(capsys, 2, ["run", "pi", "-q", "--executor", "dask", "--scheduler", address], pattern)
        assert time.monotonic() - t0 < 10
    finally:
        server.close()
        for c in conns:
            c.close()


@pytest.mark.parametrize("executor", ["serial", "processes"])
def test_a_fold_that_overflows_is_the_models_error_not_an_infinite_interval(capsys, executor):
    # Each block holds one finite sample and the folded mean (1.25e154) is
    # finite; only the fold's co-moment overflows. Without the fold's own
    # check the run would print 1.25e154 with an interval of [-inf, inf].
    args = ["run", "modelzoo:spread_apart", "-n", "64", "--block-size", "1", "--batch-size", "1", "-q", "-s", "1"]
    one_line_error(
        capsys, 1, [*args, "--executor", executor], r"the model's values overflowed when folded: .*\(block [1-9]"
    )


def test_quasi_random_blocks_check_their_own_overflow(capsys):
    args = ["run", "modelzoo:huge_quasi", "-n", "4096", "--sampler", "sobol", "--replicates", "4", "-q", "-s", "1"]
    code, out, err = mc(capsys, *args, "--executor", "serial", "--block-size", "1024")
    note, error = err.splitlines()  # how -n became replicates x points, then the error
    assert code == 1 and out == "" and note.startswith("sobol: 4 replicates")
    assert re.match(r"Error: the model's values overflowed in the block: .*\(block 0, spawn key \(0,\)\)", error)
