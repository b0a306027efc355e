"""Every file in experiments/ passes `mc experiment check` (with a small
sample override), and a result is reproduced on another worker count."""

from __future__ import annotations

import glob
import os

import pytest

from montecarlo.cli import invoke
from montecarlo.experiments import load_experiment

pytestmark = pytest.mark.slow  # end to end: processes, clusters, signals, whole programs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = sorted(glob.glob(os.path.join(ROOT, "experiments", "*.toml")))


def test_the_experiments_folder_covers_the_known_results():
    names = {os.path.basename(f) for f in FILES}
    assert len(names) >= 7, names
    models = {load_experiment(f).model.name for f in FILES}
    assert {"pi", "buffon", "integrate", "european_option", "asian_option", "gamblers_ruin"} <= models
    exps = [load_experiment(f) for f in FILES]
    assert any(e.sweep is not None and e.sweep.common_random_numbers for e in exps)
    assert all(e.has_expectations for e in exps)
    genz = [e for e in exps if e.model.name == "integrate"]
    assert all(p.spec.params["dim"] == 10 for e in genz for p in e.points)
    strikes = [p.spec.params["strike"] for e in exps if e.model.name == "european_option" and e.sweep for p in e.points]
    assert min(strikes) == 80 and max(strikes) == 120


def test_every_experiment_file_checks_and_reproduces(tmp_path, capsys):
    out = tmp_path / "results"
    code = invoke(["experiment", "check", *FILES, "--samples", "20000", "-w", "2", "-q", "-o", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert f"({len(FILES)} file(s))" in captured.out
    # one result re-run on another worker count and executor
    (folder,) = list((out / "european_call_strikes").iterdir())
    assert invoke(["reproduce", str(folder / "result.json"), "--workers", "1", "--executor", "serial"]) == 0
    assert capsys.readouterr().out.endswith("bit-identical\n")
