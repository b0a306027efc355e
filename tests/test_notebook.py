"""The example notebook in docs/examples runs from top to bottom, as a reader would run it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow  # end to end: processes, clusters, signals, whole programs

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "examples" / "workflow.ipynb"


def test_the_example_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("MONTECARLO_CACHE", str(tmp_path / "cache"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("montecarlo-result" in h for h in html) and any("montecarlo-experiment" in h for h in html)
    text = "".join(o.get("text", "") for o in outputs)
    assert "5 of 5 points reused" in text and "variance reduction" in text
