"""Experiment files that ask for an analysis: ``analysis = "sensitivity"`` and ``analysis = "mlmc"``.

Real files on disk, run through the command line on a real process pool;
the result folder read back, shown again and reproduced bit for bit; bad
input refused in one line before anything runs (docs/experiments.md,
"Analyses").
"""

from __future__ import annotations

import csv
import dataclasses
import io
import os

import pytest

import montecarlo
from montecarlo.analyses.sensitivity_result import SensitivityResult
from montecarlo.cli import invoke
from montecarlo.core.multilevel import MultilevelSpec
from montecarlo.core.vocabulary import BY_KEY, BY_NAME, MLMC_OPTIONS
from montecarlo.experiments import ExperimentError, load_experiment, run_experiment
from montecarlo.experiments import record as records
from montecarlo.records.experiment_result import ExperimentResult
from montecarlo.records.mlmc_result import MLMCResult
from montecarlo.reports.experiment_analyses import point_analysis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SENSITIVITY = """\
name = "ishigami_s"
description = "Ishigami indices"
analysis = "sensitivity"
model = "ishigami"
samples = 8192
sampler = "sobol"
seed = 1
confidence = 0.999

[expect]
indices = "exact"
"""

MLMC_SWEEP = """\
name = "gbm_sweep"
analysis = "mlmc"
model = "gbm_call"
seed = 3
confidence = 0.999

[sweep]
mode = "zip"
[sweep.params]
rmse = [0.1, 0.05]
strike = [100.0, 110.0]

[expect]
value = "exact"
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def mc(capsys, *args):
    code = invoke([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def only_folder(out, name):
    (folder,) = list((out / name).iterdir())
    return folder


@pytest.mark.slow
def test_a_sensitivity_file_shows_the_indices_reads_back_and_reproduces(tmp_path, capsys):
    path = write(tmp_path, "ishigami_s.toml", SENSITIVITY)
    code, out, err = mc(capsys, "experiment", "run", path, "-o", tmp_path / "out", "-w", "2", "-q")
    assert code == 0, err
    # the sensitivity table, not the raw terms of the derived model
    assert "input  first" in out and "exact first" in out and "y_fB" not in out
    assert "expect: all 6 values (exact) within their intervals: ok" in out
    folder = only_folder(tmp_path / "out", "ishigami_s")
    # the same numbers as `mc sensitivity` with the same settings
    code, direct, _ = mc(capsys, "sensitivity", "ishigami", "-n", "8192", "--sampler", "sobol", "-s", "1",
                         "-c", "0.999", "-w", "2", "-q")  # fmt: skip
    assert code == 0
    assert [line for line in direct.splitlines() if line.startswith("x")] == [
        line for line in out.splitlines() if line.startswith("x")
    ]
    loaded = montecarlo.load(folder)
    assert isinstance(loaded, ExperimentResult) and loaded.analysis["name"] == "sensitivity"
    s = point_analysis(loaded, loaded.points[0])
    assert isinstance(s, SensitivityResult) and s.ranking() == ["x1", "x2", "x3"]
    assert s.indices["y"]["x2"].first.covers(0.4424)
    assert loaded.table() in out
    frame = loaded.to_frame()
    assert set(frame["input"]) == {"x1", "x2", "x3"} and set(frame["point"]) == {0}
    code, shown, _ = mc(capsys, "experiment", "show", folder)
    assert code == 0 and "input  first" in shown and "y_fB" not in shown
    code, again, err = mc(capsys, "reproduce", folder, "--workers", "1")
    assert code == 0 and again.endswith("bit-identical\n"), again + err


@pytest.mark.slow
def test_an_mlmc_sweep_over_rmse_and_strike_checks_writes_csv_and_reproduces(tmp_path, capsys):
    path = write(tmp_path, "gbm_sweep.toml", MLMC_SWEEP)
    code, out, err = mc(capsys, "experiment", "check", path, "-o", tmp_path / "out", "-w", "2", "-q")
    assert code == 0, err
    assert "-- point 0 (rmse=0.1, strike=100.0) --" in out and "-- point 1 (rmse=0.05, strike=110.0) --" in out
    assert out.count("multilevel Monte Carlo to RMSE") == 2 and "ave(Pf-Pc)" in out
    assert "all 2 expected values lie within their intervals" in out
    folder = only_folder(tmp_path / "out", "gbm_sweep")
    loaded = montecarlo.load(folder)
    assert [type(p.result) for p in loaded.points] == [MLMCResult, MLMCResult]
    assert [p.result.spec.rmse for p in loaded.points] == [0.1, 0.05]
    assert [p.result.spec.spawn_key for p in loaded.points] == [(0,), (1,)]  # independent streams per point
    rows = list(csv.DictReader(io.StringIO((folder / "sweep.csv").read_text())))
    assert [r["strike"] for r in rows] == ["100.0", "110.0"]
    assert float(rows[1]["value_exact"]) == pytest.approx(6.040088, abs=1e-6)
    assert float(rows[0]["value_low"]) <= float(rows[0]["value_exact"]) <= float(rows[0]["value_high"])
    assert set(loaded.to_frame()["point"]) == {0, 1}
    code, again, err = mc(capsys, "reproduce", folder / "result.json", "--workers", "1", "--executor", "serial")
    assert code == 0 and again.endswith("bit-identical\n"), again + err


@pytest.mark.slow
def test_a_missed_mlmc_expectation_exits_1(tmp_path, capsys):
    text = 'analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\nseed = 1\n[expect]\nvalue = 10.0\n'
    code, _, err = mc(capsys, "experiment", "check", write(tmp_path, "miss.toml", text), "-w", "2", "-q")
    assert code == 1 and "MISS" in err and "output value" in err


@pytest.mark.slow
def test_an_interrupted_mlmc_sweep_resumes_its_finished_points(tmp_path, monkeypatch):
    monkeypatch.setattr(records, "FIRST_RECORD_S", 0.0)  # record from the first point on
    exp = load_experiment(write(tmp_path, "gbm_sweep.toml", MLMC_SWEEP))
    whole = run_experiment(exp, execution=montecarlo.Execution("serial"))

    def stop(point):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_experiment(exp, execution=montecarlo.Execution("serial"), on_point=stop, output_dir=str(tmp_path / "o"))
    again = run_experiment(exp, execution=montecarlo.Execution("serial"), output_dir=str(tmp_path / "o"))
    assert again.provenance["resumed"] == 1
    assert [p.result.to_dict()["mlmc"] for p in again.points] == [p.result.to_dict()["mlmc"] for p in whole.points]
    assert [c["passed"] for p in again.points for c in p.checks] == [True, True]


def test_the_example_files_are_analyses_with_exact_expectations():
    s = load_experiment(os.path.join(ROOT, "experiments", "ishigami_sensitivity.toml"))
    m = load_experiment(os.path.join(ROOT, "experiments", "gbm_call_mlmc.toml"))
    assert s.analysis["name"] == "sensitivity" and s.model.name == "sensitivity(ishigami)"
    assert {e.source for p in s.points for e in p.expect} == {"exact"} and len(s.points[0].expect) == 6
    assert m.analysis == {"name": "mlmc"} and all(isinstance(p.spec, MultilevelSpec) for p in m.points)
    assert [e.output for p in m.points for e in p.expect] == ["value"] * len(m.points)


def test_a_sensitivity_sweep_over_the_sampler_and_second_order(tmp_path):
    text = (
        SENSITIVITY.replace('sampler = "sobol"\n', "second_order = true\n")
        + '[sweep.params]\nsampler = ["random", "sobol"]\n'
    )
    exp = load_experiment(write(tmp_path, "g.toml", text))
    assert [p.spec.sampler for p in exp.points] == ["random", "sobol"]
    assert exp.model.name == "sensitivity2(ishigami)" and exp.analysis["second_order"] is True
    assert any("S2" in e.output for e in exp.points[0].expect)  # second-order indices checked where exact


def test_the_mlmc_options_are_one_vocabulary():
    names = {o.name for o in MLMC_OPTIONS}
    assert names == {"rmse", "theta", "max_cost", "max_level", "block_cost", "initial_samples"}
    assert names <= set(BY_KEY)  # file keys
    fields = {f.name: f.default for f in dataclasses.fields(MultilevelSpec)}
    for name in names - {"rmse", "max_cost"}:  # help shows the spec's own defaults
        assert BY_NAME[name].help_text.endswith(f"[default: {fields[name]:g}]"), name


def test_mc_mlmc_help_comes_from_the_vocabulary(capsys):
    code, out, _ = mc(capsys, "mlmc", "--help")
    assert code == 0
    for option in MLMC_OPTIONS:
        assert option.cli in out
    assert "[default: 0.25]" in out and "[default: 4096]" in out


BAD = [
    ('model = "pi"\nrmse = 0.1\n', '`rmse` is a key of analysis = "mlmc", not of plain runs'),
    ('model = "ishigami"\nsecond_order = true\n', '`second_order` is a key of analysis = "sensitivity"'),
    ('analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\ntolerance = 0.01\n', '`tolerance` is a key of plain runs'),
    ('analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\nsamples = 100\n', 'not of analysis = "mlmc"'),
    ('analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\ncache = true\n', '`cache` is a key of'),
    ('analysis = "sensitivity"\nmodel = "ishigami"\nquantiles = 0.5\n', 'not of analysis = "sensitivity"'),
    ('analysis = "bogus"\nmodel = "pi"\n', "`analysis` = 'bogus' (string); accepted: \"sensitivity\", \"mlmc\""),
    ('analysis = "mlmc"\nmodel = "gbm_call"\n', "missing key `rmse`"),
    ('analysis = "mlmc"\nmodel = "pi"\nrmse = 0.1\n', "`model` = 'pi' has no levels"),
    ('analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\ntheta = 2\n', "`theta` = 2 is not accepted"),
    ('analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\nseed = -1\n', "`seed` = -1 is negative"),
    ('analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\nmax_level = 30\n', "`max_level` = 30 is beyond its levels"),
    ('analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\n[params]\nlevel = 2\n', "`level` = 2 is set by the algorithm"),
    ('analysis = "mlmc"\nmodel = "gbm_call"\n[sweep.params]\nrmse = [0.1, -1]\n', "[sweep] point 1 (rmse=-1): `rmse` = -1"),
    ('analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\n[expect]\nindices = "exact"\n', "unknown entry `indices`"),
    ('analysis = "sensitivity"\nmodel = "pi"\n', "`model` = 'pi' declares no inputs"),
    ('analysis = "sensitivity"\nmodel = "ishigami"\nsamples = 4\n', "`samples` = 4 is too small for the design"),
    ('analysis = "sensitivity"\nmodel = "ishigami"\nsecond_order = "yes"\n', "`second_order` = 'yes' (string)"),
    ('analysis = "sensitivity"\nmodel = "ishigami"\ntolerance = -1\n', "`tolerance` = -1 is not accepted"),
    ('analysis = "sensitivity"\nmodel = "ishigami"\nreplicates = 8\n', "`replicates`"),
    ('analysis = "sensitivity"\nmodel = "ishigami"\n[expect]\nindices = 0.3\n', '`indices` = 0.3 (float); accepted: "exact"'),
    ('analysis = "sensitivity"\nmodel = "ishigami"\n[expect]\ny_S_x1 = 0.3\n', "unknown entry `y_S_x1`"),
]  # fmt: skip


@pytest.mark.parametrize("text, said", BAD, ids=range(len(BAD)))
def test_bad_input_is_one_line_naming_the_file_and_nothing_is_written(tmp_path, capsys, text, said):
    path = write(tmp_path, "bad.toml", text)
    code, out, err = mc(capsys, "experiment", "run", path, "-o", tmp_path / "out", "-q")
    assert code == 2 and out == "", err
    assert err.startswith(f"Error: {path}") and len(err.strip().splitlines()) == 1 and said in err, err
    assert not (tmp_path / "out").exists()


def test_a_command_line_key_an_analysis_does_not_take(tmp_path, capsys):
    mlmc = write(tmp_path, "m.toml", 'analysis = "mlmc"\nmodel = "gbm_call"\nrmse = 0.1\n')
    plain = write(tmp_path, "p.toml", 'model = "pi"\nsamples = 1000\n')
    # left out for the file that does not take it, when another file does (one command line for a folder)
    assert load_experiment(mlmc, {"samples": 20000}).ignored == ("samples",)
    assert load_experiment(plain, {"samples": 20000}).ignored == ()
    # refused when no file takes it
    code, _, err = mc(capsys, "experiment", "run", mlmc, "-n", "2e4", "-o", tmp_path / "out")
    assert code == 2 and "command line: `samples` is a key of plain runs" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ExperimentError, match="command line: `analysis` = \"x\"|`analysis` = 'x'"):
        load_experiment(plain, {"analysis": "x"})
