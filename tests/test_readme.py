"""README.md: every Python example runs as written, and the README's
"Writing your own model" example is the one docs/models.md tests in depth."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: processes, clusters, signals, whole programs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_example_runs(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md example {index + 1}", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.strip()  # it printed its result


def test_writing_your_own_model_is_the_tested_example():
    doc = (ROOT / "docs" / "models.md").read_text(encoding="utf-8")
    ours = re.findall(r"```python\n(.*?)```", README.split("## Writing your own model", 1)[1], flags=re.S)[0]
    theirs = re.findall(r"```python\n(.*?)```", doc.split("## Writing your own model", 1)[1], flags=re.S)[0]
    assert ours == theirs
