"""docs/models.md: the "Writing your own model" example runs as written."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from montecarlo.cli import invoke
from montecarlo.models.registry import BUILTIN

DOC = Path(__file__).resolve().parents[1] / "docs" / "models.md"


def example_code() -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Writing your own model", 1)[1]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 1, "the section has exactly one Python example"
    return blocks[0]


@pytest.mark.slow
def test_writing_your_own_model_example_runs_as_written(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    exec(compile(example_code(), str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    assert "expx_cv" in out and "variance" in out
    result = namespace["result"]
    for name in ("expx", "x", "x2", "variance", "expx_cv"):
        e = result[name]
        assert e.exact is not None
        assert abs(e.error_in_se) < 3.3, f"{name}: {e.error_in_se:+.2f} se from the exact value"
    assert result["expx_cv"].details["variance_reduction"] > 5
    saved = json.loads((tmp_path / "lognormal.json").read_text())
    assert set(saved["derived"]) == {"variance", "expx_cv", "sd", "expx_cv2"}
    assert saved["derived"]["sd"]["exact"] == 0.5


def test_example_runs_from_the_cli_by_reference(tmp_path, monkeypatch, capsys):
    (tmp_path / "mymodels_doc.py").write_text(example_code())
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["mymodels_doc:lognormal", "-p", "sigma=0.5", "-n", "20000", "--seed", "1", "--executor", "serial", "-q"]
    assert invoke(["run", *args, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["derived"]["variance"]["exact"] == 0.25
    assert d["derived"]["expx_cv"]["exact"] == math.exp(0.125)
    assert invoke(["show", "mymodels_doc:lognormal"]) == 0
    shown = capsys.readouterr().out
    assert "sigma  a number in (0.0, 3.0]; default 1.0" in shown
    assert "variance = f(x, x2); central-difference gradient" in shown
    assert invoke(["run", "mymodels_doc:lognormal", "-p", "sigma=4", "-n", "10"]) == 2
    assert "Error: -p sigma=4 is out of range; accepted: a number in (0.0, 3.0]." in capsys.readouterr().err


@pytest.mark.slow
def test_example_runs_from_the_cli_by_file_path(tmp_path, monkeypatch, capsys):
    # As the docs show it: `mc run mymodels.py:lognormal`, no PYTHONPATH, on worker processes too.
    (tmp_path / "mymodels_file.py").write_text(example_code())
    monkeypatch.chdir(tmp_path)
    args = ["run", "mymodels_file.py:lognormal", "-p", "sigma=0.5", "-n", "300000", "--seed", "1", "-w", "2", "-q"]
    assert invoke([*args, "--block-size", "50000", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["provenance"]["executor"] == "processes" and d["spec"]["model"] == "mymodels_file.py:lognormal"
    assert d["derived"]["variance"]["exact"] == 0.25
    assert invoke(["show", "mymodels_file.py:lognormal"]) == 0
    assert "sigma  a number in (0.0, 3.0]; default 1.0" in capsys.readouterr().out
    assert invoke(["run", "nosuchfile.py:lognormal"]) == 2
    assert "names the file 'nosuchfile.py', which does not exist" in capsys.readouterr().err
    (tmp_path / "unloaded_models.py").write_text(example_code())
    assert invoke(["run", "unloaded_models:lognormal"]) == 2  # not importable by name from here
    assert (
        "it is a file here: give the path, unloaded_models.py:..., or run with PYTHONPATH=." in capsys.readouterr().err
    )


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_every_builtin_model_has_a_section(name):
    assert f"\n## {name}\n" in DOC.read_text(encoding="utf-8")
