"""Experiment files: the TOML format and every bad-input message (one line,
naming the file, key and value, exit status 2, no result folder)."""

from __future__ import annotations

import os
import re
import textwrap

import pytest

from montecarlo.cli import invoke
from montecarlo.core.execution import Execution
from montecarlo.core.stopping import Stopping
from montecarlo.experiments import ExperimentError, known_keys, load_experiment

PI = """
name = "pi-small"
model = "pi"
samples = 20000
seed = 7
"""


def write(tmp_path, text: str, name: str = "exp.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return str(path)


def test_minimal_file_builds_the_runspec(tmp_path):
    exp = load_experiment(write(tmp_path, PI))
    (point,) = exp.points
    assert exp.name == "pi-small"
    assert point.spec.model == "pi"
    assert point.spec.samples == 20000
    assert point.spec.entropy == 7
    assert point.spec.spawn_key == ()  # a single run is the plain `mc run --seed 7`
    assert (
        exp.execution == Execution()  # the cache is off unless asked for
        and exp.execution.executor == "processes"
        and exp.execution.workers is None
    )
    assert not point.spec.stop  # no stopping rule: exactly `samples`


def test_every_run_setting_is_passed_to_the_runspec(tmp_path):
    path = write(
        tmp_path,
        """
        model = "pi"
        samples = "1_000_000"
        seed = 3
        bit_generator = "philox"
        block_size = 4096
        batch_size = 1024
        confidence = 0.9
        interval = "clopper-pearson"
        workers = 1
        executor = "serial"
        retries = 0
        """,
    )
    exp = load_experiment(path)
    spec = exp.points[0].spec
    assert (spec.samples, spec.bit_generator, spec.block_size, spec.batch_size) == (10**6, "philox", 4096, 1024)
    assert (spec.confidence, spec.interval) == (0.9, "clopper-pearson")
    assert exp.execution == Execution("serial", workers=1, retries=0)
    assert exp.name == "exp"  # default: the file name without .toml


def test_stopping_keys_build_the_runspecs_stopping(tmp_path):
    path = write(
        tmp_path,
        """
        model = "pi"
        seed = 1
        tolerance = 1e-3
        rtol = 1e-4
        target = ["pi"]
        min_samples = "1e5"
        max_samples = "1e8"
        time_limit = 60
        """,
    )
    from montecarlo.api import make_spec

    spec = load_experiment(path).points[0].spec
    stopping = Stopping(tolerance=1e-3, rtol=1e-4, target="pi", min_samples=10**5, max_samples=10**8, time_limit=60.0)
    assert spec == make_spec("pi", rng=1, stopping=stopping)  # the RunSpec the API builds
    assert spec.samples == 10**8  # with rules, samples is the cap
    assert spec.stop.rules == stopping.rules and spec.stop.min_samples == 10**5


def test_keys_are_the_option_vocabulary():
    """Every run setting of the API (make_spec, Sampling, Stopping, Execution) is a file key."""
    import dataclasses
    import inspect

    from montecarlo.api import make_spec
    from montecarlo.core.sampling import Sampling
    from montecarlo.core.vocabulary import BY_KEY

    assert tuple(BY_KEY) == known_keys()[-len(BY_KEY) :]
    settings = set(inspect.signature(make_spec).parameters) - {"model", "rng", "params", "stopping", "sampling"}
    settings |= {"seed"}  # the file's name of `rng`
    settings |= {f.name for f in dataclasses.fields(Sampling)}
    settings |= set(inspect.signature(Stopping).parameters) - {"rules"}  # rule objects are Python only
    settings |= {f.name for f in dataclasses.fields(Execution)} - {"progress"}
    assert settings <= set(known_keys())
    assert "stop" not in known_keys()


def test_sweep_without_parameters(tmp_path):
    path = write(
        tmp_path,
        """
        model = "pi"
        samples = 100
        [sweep]
        params = {}
        """,
    )
    with pytest.raises(ExperimentError, match=r"\[sweep\] needs a \[sweep.params\] table"):
        load_experiment(path)


def test_grid_and_zip_sweeps(tmp_path):
    grid = write(
        tmp_path,
        """
        model = "montecarlo.models.builtin.pi:simulate"
        samples = 100
        """,
    )
    assert len(load_experiment(grid).points) == 1
    src = tmp_path / "mc_sweep_models.py"
    src.write_text("def simulate(rng, n, a=1.0, b=2, c='x'):\n    return rng.random(n) * a\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        g = load_experiment(
            write(
                tmp_path,
                """
                model = "mc_sweep_models:simulate"
                samples = 100
                [sweep.params]
                a = [1.0, 2.0, 3.0]
                b = [5, 6]
                """,
                "grid.toml",
            )
        )
        z = load_experiment(
            write(
                tmp_path,
                """
                model = "mc_sweep_models:simulate"
                samples = 100
                [sweep]
                mode = "zip"
                common_random_numbers = true
                [sweep.params]
                a = [1.0, 2.0]
                c = ["p", "q"]
                """,
                "zip.toml",
            )
        )
    finally:
        sys.path.remove(str(tmp_path))
    assert [p.swept for p in g.points] == [{"a": x, "b": y} for x in (1.0, 2.0, 3.0) for y in (5, 6)]
    assert [p.spec.spawn_key for p in g.points] == [(i,) for i in range(6)]
    assert len({p.spec.entropy for p in g.points}) == 1
    assert [p.swept for p in z.points] == [{"a": 1.0, "c": "p"}, {"a": 2.0, "c": "q"}]
    assert [p.spec.spawn_key for p in z.points] == [(), ()]  # common random numbers
    assert [p.spec.params["c"] for p in z.points] == ["p", "q"]


def test_overrides_replace_file_values_and_are_kept(tmp_path):
    path = write(tmp_path, PI)
    exp = load_experiment(path, {"samples": 500, "seed": 9, "workers": 1, "confidence": 0.5})
    assert exp.points[0].spec.samples == 500
    assert exp.points[0].spec.entropy == 9
    assert exp.points[0].spec.confidence == 0.5
    assert exp.execution == Execution(workers=1)
    assert exp.overrides == {"samples": 500, "seed": 9, "workers": 1, "confidence": 0.5}


def test_expect_values(tmp_path):
    path = write(
        tmp_path,
        """
        model = "european_option"
        samples = 1000
        [sweep.params]
        strike = [90.0, 110.0]
        [expect]
        price = {value = [16.7, 6.04], tolerance = 0.01}
        """,
    )
    exp = load_experiment(path)
    assert [(e.value, e.tolerance, e.source) for p in exp.points for e in p.expect] == [
        (16.7, 0.01, "given"),
        (6.04, 0.01, "given"),
    ]


# --------------------------------------------------------------------------
# every bad input: one line naming file, key and value, and what is accepted
# --------------------------------------------------------------------------

BAD = [
    # TOML syntax: file, line and column
    ('model = "pi"\nsamples = \n', r"exp\.toml:2:11: invalid TOML: Invalid value"),
    ('model = "pi"\n[sweep\n', r"exp\.toml:2:7: invalid TOML"),
    # unknown keys, with the close one suggested
    ('model = "pi"\nsampels = 10\n', r"unknown key `sampels`\. Did you mean `samples`\?"),
    ('model = "pi"\nsed = 1\n', r"unknown key `sed`\. Did you mean `seed`\?"),
    # `stop` is gone: stopping rules are the keys tolerance, rtol, ..., time_limit
    (
        'model = "pi"\nstop = [{rule = "tolerance", value = 0.01}]\n',
        r"unknown key `stop`\. Accepted: .*tolerance, rtol",
    ),
    (
        'model = "european_option"\n[sweep]\nmodes = "zip"\n[sweep.params]\nstrike = [1.0]\n',
        r"\[sweep\]: unknown key `modes`\. Did you mean `mode`\?",
    ),
    (
        'model = "european_option"\n[sweep.params]\nstrik = [1.0]\n',
        r"\[sweep.params\]: unknown parameter `strik`\. Did you mean `strike`\?",
    ),
    ('model = "pi"\n[expect]\npie = 3.14\n', r"\[expect\]: unknown output of model 'pi' `pie`\. Did you mean `pi`\?"),
    (
        'model = "pi"\n[expect.pi]\nvalue = 3.1\ntolerence = 0.1\n',
        r"unknown key `tolerence`\. Did you mean `tolerance`\?",
    ),
    # missing or unknown model
    ("samples = 10\n", r"missing key `model`; accepted: a built-in model name"),
    ('model = "pie"\n', r"`model` = 'pie' is not a known model \(did you mean 'pi'\?\); accepted: one of .*\bpi\b"),
    (
        'model = "no_such_module_xyz:f"\n',
        r"`model` = 'no_such_module_xyz:f' cannot be imported: No module named 'no_such_module_xyz'; "
        r"accepted: a built-in model name",
    ),
    ("model = 3\n", r"`model` = 3 \(integer\); accepted: a model name or 'package\.module:function'"),
    # wrong types and values
    ('model = "pi"\nsamples = -5\n', r"`samples` = -5 is not accepted; accepted: an integer >= 1"),
    ('model = "pi"\nsamples = 2.5\n', r"`samples` = 2\.5 is not an integer; accepted: an integer >= 1"),
    ('model = "pi"\nsamples = "lots"\n', r"`samples` = 'lots' is not an integer; accepted: an integer >= 1"),
    # (a file holds integers only: no SeedSequence or Generator is accepted there)
    ('model = "pi"\nseed = -1\n', r"`seed` = -1 is negative; accepted: an integer >= 0\.$"),
    ('model = "pi"\nseed = "abc"\n', r"`seed` = 'abc' is not an integer; accepted: an integer >= 0"),
    (
        'model = "pi"\nconfidence = "high"\n',
        r"`confidence` = 'high' is not a number; accepted: a number strictly between 0 and 1",
    ),
    (
        'model = "pi"\nbit_generator = "mt19937"\n',
        r"`bit_generator` = 'mt19937' is not accepted; accepted: one of sfc64, pcg64, pcg64dxsm, philox\.",
    ),
    ('model = "pi"\nblock_size = 0\n', r"`block_size` = 0 is not accepted; accepted: an integer >= 1"),
    ('model = "pi"\nworkers = 0\n', r"`workers` = 0 is not accepted; accepted: an integer from 1 to 1024"),
    ('model = "pi"\nworkers = true\n', r"`workers` = True is not an integer; accepted: an integer from 1 to 1024"),
    (
        'model = "pi"\nexecutor = "gpu"\n',
        r"`executor` = 'gpu' is not accepted; accepted: one of processes, threads, serial, dask\.",
    ),
    ('model = "pi"\nretries = -1\n', r"`retries` = -1 is not accepted; accepted: an integer >= 0"),
    ('model = "pi"\nscheduler = "tcp://h:8786"\n', r"`scheduler` = 'tcp://h:8786' needs the dask executor"),
    (
        'model = "pi"\ntolerance = -1\n',
        r"`tolerance` = -1 is not accepted; accepted: a finite number > 0",
    ),
    (
        'model = "pi"\nsamples = 20\nmax_samples = 10\ntolerance = 0.1\n',
        r"`samples` = 20 and `max_samples` = 10 are both given; accepted: one of the two",
    ),
    ('model = "pi"\nname = "a/b"\n', r"`name` = 'a/b'; accepted: up to 100 letters, digits"),
    ('model = "pi"\nparams = 3\n', r"`params` = 3 \(integer\); accepted: a table"),
    # model parameters
    # (an unknown parameter is named with the value given and the close name suggested)
    (
        'model = "european_option"\n[params]\nstrik = 100.0\n',
        r"parameter `strik` = 100\.0 is not a parameter of model 'european_option'.*[Dd]id you mean `strike`\?.*"
        r"accepted: one of spot, strike",
    ),
    (
        'model = "european_option"\n[params]\nstrike = "high"\n',
        r"parameter `strike` = 'high' is not accepted; accepted: a number > 0",
    ),
    (
        'model = "gamblers_ruin"\n[params]\nstart = 12\n',
        r"parameter `start` = 12 is out of range; accepted: an integer in \[1, 9\]",
    ),
    # sweeps
    (
        'model = "european_option"\n[sweep]\nmode = "zip"\n[sweep.params]\nstrike = [1.0, 2.0]\nspot = [1.0]\n',
        r'mode = "zip" needs lists of equal length; strike has 2, spot has 1 values',
    ),
    (
        'model = "european_option"\n[sweep]\nmode = "cross"\n[sweep.params]\nstrike = [1.0]\n',
        r"\[sweep\] `mode` = 'cross' \(string\); accepted: grid, zip",
    ),
    (
        'model = "european_option"\n[sweep.params]\nstrike = 100.0\n',
        r"`strike` = 100\.0 \(float\); accepted: a non-empty list",
    ),
    ('model = "european_option"\n[sweep.params]\nstrike = []\n', r"accepted: a non-empty list"),
    (
        'model = "european_option"\n[params]\nstrike = 1.0\n[sweep.params]\nstrike = [1.0]\n',
        r"parameter `strike` is both fixed .* and swept",
    ),
    (
        'model = "european_option"\n[sweep]\ncommon_random_numbers = "yes"\n[sweep.params]\nstrike = [1.0]\n',
        r"`common_random_numbers` = 'yes' \(string\); accepted: true or false",
    ),
    (
        'model = "european_option"\n[sweep.params]\nstrike = [100.0, "x"]\n',
        r"\[sweep\] point 1 \(strike='x'\): parameter `strike` = 'x' is not accepted; accepted: a number > 0",
    ),
    # expectations
    (
        'model = "pi"\n[expect]\npi = "exactly"\n',
        r"\[expect\] `pi` = 'exactly' \(string\); accepted: a number, \"exact\"",
    ),
    ('model = "pi"\n[expect.pi]\ntolerance = 0.1\n', r"\[expect.pi\] needs `value`"),
    (
        'model = "pi"\n[expect.pi]\nvalue = 3.1\ntolerance = -1\n',
        r"`tolerance` = -1 \(integer\); accepted: a number >= 0",
    ),
    (
        'model = "european_option"\n[sweep.params]\nstrike = [1.0, 2.0]\n[expect]\nprice = [1.0]\n',
        r"`price` has 1 values for 2 sweep point\(s\)",
    ),
]


@pytest.mark.parametrize("text, message", BAD)
def test_bad_file_is_one_clear_line(tmp_path, capsys, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ExperimentError, match=message) as info:
        load_experiment(path)
    assert str(info.value).startswith(f"{path}") and "\n" not in str(info.value)
    assert not re.search(r"[.?];", str(info.value))  # no stray punctuation between the parts
    out_dir = tmp_path / "out"
    code = invoke(["experiment", "run", path, "-o", str(out_dir), "-q"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    assert not out_dir.exists()


def test_exact_expectation_needs_an_exact_value(tmp_path):
    src = tmp_path / "mc_noexact_models.py"
    src.write_text("def simulate(rng, n):\n    return rng.random(n)\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        path = write(tmp_path, 'model = "mc_noexact_models:simulate"\n[expect]\nvalue = "exact"\n')
        with pytest.raises(ExperimentError, match=r"`value` = \"exact\", but model 'simulate' has no exact value"):
            load_experiment(path)
    finally:
        sys.path.remove(str(tmp_path))


def test_file_errors(tmp_path):
    with pytest.raises(ExperimentError, match=r"missing\.toml: no such file"):
        load_experiment(str(tmp_path / "missing.toml"))
    with pytest.raises(ExperimentError, match=r"is a directory; accepted: a TOML experiment file"):
        load_experiment(str(tmp_path))
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"model = '\xff'\n")
    with pytest.raises(ExperimentError, match=r"not UTF-8 text \(byte 9\)"):
        load_experiment(str(binary))


def test_override_errors_name_the_command_line(tmp_path, capsys):
    path = write(tmp_path, PI)
    with pytest.raises(ExperimentError, match=r"^command line: unknown key `sample`\. Did you mean `samples`\?"):
        load_experiment(path, {"sample": 3})
    with pytest.raises(ExperimentError, match=r"^command line: `confidence` = 2"):
        load_experiment(path, {"confidence": 2})
    assert invoke(["experiment", "run", path, "--set", "confidense=0.9", "-o", str(tmp_path / "o")]) == 2
    assert "command line: unknown key `confidense`. Did you mean `confidence`?" in capsys.readouterr().err
    assert invoke(["experiment", "run", path, "--set", "novalue", "-o", str(tmp_path / "o")]) == 2
    assert "--set 'novalue' is not of the form KEY=VALUE" in capsys.readouterr().err
    assert invoke(["experiment", "run", path, "-n", "-3", "-o", str(tmp_path / "o")]) == 2
    assert "Error: --samples -3 is not accepted; accepted: an integer >= 1" in capsys.readouterr().err
    assert invoke(["experiment", "run", path, "-w", "0", "-o", str(tmp_path / "o")]) == 2
    assert "Error: --workers 0 is not accepted; accepted: an integer from 1 to 1024." in capsys.readouterr().err
    assert invoke(["experiment", "run", path, "--set", "stop=1", "-o", str(tmp_path / "o")]) == 2
    assert "command line: unknown key `stop`." in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_every_file_is_validated_before_any_runs(tmp_path, capsys):
    good = write(tmp_path, PI, "good.toml")
    bad = write(tmp_path, 'model = "pi"\nsamples = 0\n', "bad.toml")
    out = tmp_path / "out"
    assert invoke(["experiment", "run", good, bad, "-o", str(out), "-q"]) == 2
    captured = capsys.readouterr()
    assert "bad.toml" in captured.err and "== pi-small" not in captured.out
    assert not out.exists()


def test_output_dir_not_writable(tmp_path, capsys):
    path = write(tmp_path, PI)
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert invoke(["experiment", "run", path, "-o", str(blocker / "sub"), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"--output-dir '{blocker / 'sub'}': '{blocker}' is not a directory" in err
    assert err.count("\n") == 1
    if os.path.isdir("/proc/self"):  # a read-only file system, even for root
        assert invoke(["experiment", "run", path, "-o", "/proc/mc-results", "-q"]) == 2
        assert "--output-dir '/proc/mc-results': cannot write in '/proc'" in capsys.readouterr().err


def test_check_needs_expectations(tmp_path, capsys):
    path = write(tmp_path, PI)
    assert invoke(["experiment", "check", path]) == 2
    assert "no [expect] table, nothing to check" in capsys.readouterr().err


def test_model_paths_are_relative_to_the_files_folder(tmp_path, monkeypatch, capsys):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "mymodel.py").write_text(
        "import montecarlo\n\n\n"
        "def simulate(rng, n, scale=1.0):\n    return scale * rng.random(n)\n\n\n"
        '@montecarlo.model(inputs={"a": "uniform(0, 1)", "b": "uniform(0, 1)"})\n'
        "def product(x):\n    return x[:, 0] * x[:, 1]\n",
        encoding="utf-8",
    )
    work = tmp_path / "work"
    work.mkdir()
    write(work, 'model = "../proj/mymodel.py:simulate"\nsamples = 4096\nseed = 3\n', "x.toml")
    write(work, 'model = "sensitivity(../proj/mymodel.py:product)"\nsamples = 64\nseed = 3\n', "derived.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    exp = load_experiment(os.path.join("..", "work", "x.toml"))
    expected = os.path.join(str(project), "mymodel.py") + ":simulate"
    assert exp.points[0].spec.model == expected  # recorded absolute: the result re-runs from anywhere
    derived = load_experiment(str(work / "derived.toml"))
    assert derived.points[0].spec.model == f"sensitivity({expected[: -len('simulate')]}product)"
    # The file runs from another folder, and its result reproduces from a third one.
    out = tmp_path / "results"
    assert invoke(["experiment", "run", str(work / "x.toml"), "-o", str(out), "-w", "1"]) == 0
    (folder,) = [p.parent for p in out.rglob("result.json")]
    monkeypatch.chdir(tmp_path)
    assert invoke(["reproduce", str(folder), "-w", "1"]) == 0
    capsys.readouterr()
    # A path given on the command line stays relative to the working directory.
    monkeypatch.chdir(project)
    other = load_experiment(str(work / "x.toml"), overrides={"model": "mymodel.py:simulate"})
    assert other.points[0].spec.model == expected  # not work/mymodel.py


def test_a_folder_stands_for_its_experiment_files(tmp_path, capsys):
    folder = tmp_path / "exps"
    folder.mkdir()
    write(folder, PI, "b.toml")
    write(folder, PI.replace("pi-small", "pi-other"), "a.toml")
    (folder / "notes.txt").write_text("not an experiment")
    out = tmp_path / "out"
    assert invoke(["experiment", "run", str(folder), "-o", str(out), "-q", "--executor", "serial"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["pi-other", "pi-small"]
    text = capsys.readouterr().out
    assert text.index("== pi-other (") < text.index("== pi-small (")  # a.toml, then b.toml
    empty = tmp_path / "empty"
    empty.mkdir()
    assert invoke(["experiment", "check", str(empty)]) == 2
    assert (
        capsys.readouterr().err
        == f"Error: {empty}: a folder with no .toml file; accepted: experiment files, or a folder of them.\n"
    )
