"""User models compiled with numba (``@numba.njit`` taking the block's Generator) run on every executor."""

from __future__ import annotations

import numba
import numba_models
import numpy as np
import pytest
from conftest import numbers
from scipy.special import stdtrit

import montecarlo
from montecarlo import Execution, Sampling

pytestmark = pytest.mark.slow  # end to end: processes, clusters, signals, whole programs

KWARGS = {"rng": 5, "sampling": Sampling(block_size=2_000), "params": {"steps": 10}}


def reference(model):
    return montecarlo.run(model, 20_000, execution="serial", **KWARGS)


def test_a_compiled_model_estimates_its_exact_value():
    r = reference(numba_models.walk)
    half = stdtrit(r.samples - 1, 0.9995) * r.standard_error
    assert abs(r.estimate - 10.0) <= half  # E|S|² = steps for unit steps in random directions


@pytest.mark.parametrize("executor", ["threads", "processes"])
def test_the_same_numbers_on_local_executors(executor):
    got = montecarlo.run(numba_models.walk, 20_000, execution=Execution(executor, workers=2), **KWARGS)
    assert numbers(got) == numbers(reference(numba_models.walk))


def test_the_same_numbers_on_a_dask_cluster(dask_client):
    got = montecarlo.run(numba_models.walk, 20_000, execution=dask_client, **KWARGS)
    assert numbers(got) == numbers(reference(numba_models.walk))


def test_a_compiled_model_defined_in_a_session_travels_by_value(dask_client):
    @numba.njit
    def hits(rng, n, steps=10):  # defined here: no worker can import it, so it is shipped by value
        out = np.empty(n)
        for i in range(n):
            out[i] = rng.random() ** 2 + rng.random() ** 2 <= 1.0
        return out

    got = montecarlo.run(hits, 20_000, execution=dask_client, **KWARGS)
    assert numbers(got) == numbers(reference(hits))


def test_the_documented_example_runs_as_written(tmp_path, monkeypatch):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "performance.md").read_text(encoding="utf-8")
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", doc, flags=re.S) if "numba.njit" in b]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "walkdoc.py").write_text(block)  # numba caches next to a file: give it one
    monkeypatch.syspath_prepend(str(tmp_path))
    namespace: dict = {"__name__": "__main__"}
    exec(compile(block, str(tmp_path / "walkdoc.py"), "exec"), namespace)
    r = namespace["result"]
    assert abs(r.estimate - 100.0) <= stdtrit(r.samples - 1, 0.9995) * r.standard_error
