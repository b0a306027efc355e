"""Golden values: every number of representative multi-block runs, pinned to the bit.

The cases cover 0/1 and float outputs, several outputs with covariances,
derived quantities and control variates, a short last block, a precision
target and a spawn-key prefix. Their numbers were recorded by
``python tests/test_golden.py --write`` and must never change: a change here
changes every published number (a fold in another order, a different block
stream, another formula). Regenerate only for a deliberate, documented change.
Fields added to the result format later (the accumulator's ``parts``, the
``diagnostics``) are not pinned; every recorded number is.

Changed once, deliberately: the two ``european_*`` cases. A one-output
co-moment is a BLAS dot product, which OpenBLAS splits among its threads
(above 10,000 samples) and adds up in another order, so those numbers
depended on the machine's core count and differed on Dask workers. Blocks
now run with one BLAS thread everywhere (``montecarlo/engine/workerenv.py``),
and these cases hold the numbers a one-core machine or a Dask worker gave.

Changed once more, deliberately, with every case: the engine's arithmetic
became its own (version 2, montecarlo/stats/sums.py). Sums, co-moments and
shape moments follow an order the engine defines instead of numpy's and the
CPU's BLAS kernels, so these numbers are now the same on every machine
(they differed in their last bits between an AVX-512 and an AVX2 machine);
the three-output case pins the co-moments of several outputs.
"""

from __future__ import annotations

import json
import pathlib
import sys

import modelzoo
import numpy as np
import pytest

import montecarlo

FILE = pathlib.Path(__file__).with_name("golden") / "runs.json"

#: name -> (model, keyword arguments of montecarlo.run). Each has at least a dozen blocks.
CASES = {
    "pi_multiblock": ("pi", {"samples": 13 * (1 << 22) + 7, "rng": 20260101}),
    "european_12_blocks": ("european_option", {"samples": 12 * (1 << 16) + 99, "rng": 2, "block_size": 1 << 16}),
    "european_antithetic_put": (
        "european_option",
        {"samples": 300_000, "rng": 3, "block_size": 20_000, "params": {"kind": "put", "antithetic": True}},
    ),
    "asian_controls": ("asian_option", {"samples": 60_000, "rng": 4, "block_size": 4_000}),
    "buffon_derived": ("buffon", {"samples": 500_000, "rng": 5, "block_size": 30_000}),
    "genz_gaussian_d8": (
        "integrate",
        {"samples": 200_000, "rng": 6, "block_size": 15_000, "params": {"family": "gaussian", "dim": 8}},
    ),
    "gamblers_ruin_unfair": (
        "gamblers_ruin",
        {"samples": 100_000, "rng": 7, "block_size": 7_000, "params": {"p": 0.47}},
    ),
    "tail_importance": ("tail_probability", {"samples": 250_000, "rng": 8, "block_size": 16_000}),
    "three_float_outputs": (modelzoo.moments3, {"samples": 23_456, "rng": 10}),
    "pi_tolerance_spawn_key": (
        "pi",
        {"samples": 10**9, "rng": np.random.SeedSequence(9, spawn_key=(4,)), "block_size": 50_000, "tolerance": 2e-3},
    ),
}


def numbers(result: montecarlo.Result) -> dict:
    """Every number a run's RunSpec fixes (no timings), as JSON."""
    d = json.loads(result.to_json())
    keep = ("samples", "outputs", "derived", "covariance", "accumulator", "trace", "stopping", "continuation")
    return {k: d[k] for k in keep}


def compute(name: str) -> dict:
    model, kwargs = CASES[name]
    kwargs = dict(kwargs)
    sampling = montecarlo.Sampling(block_size=kwargs.pop("block_size", None))
    stopping = montecarlo.Stopping(kwargs.pop("tolerance", None), max_samples=kwargs.pop("max_samples", None))
    return numbers(montecarlo.run(model, **kwargs, sampling=sampling, stopping=stopping))


def pinned(recorded, now, path="") -> list[str]:
    """Where ``now`` differs from ``recorded``: every recorded number must be there, bit for bit.

    Keys the result format gained after the numbers were recorded (new
    fields may be added within a version, docs/json.md) are not pinned.
    """
    if isinstance(recorded, dict):
        if not isinstance(now, dict):
            return [f"{path}: {now!r} is not an object"]
        return [d for k, v in recorded.items() for d in pinned(v, now.get(k, "<missing>"), f"{path}/{k}")]
    if isinstance(recorded, list):
        if not isinstance(now, list) or len(now) != len(recorded):
            return [f"{path}: {now!r} != {recorded!r}"]
        return [d for i, (a, b) in enumerate(zip(recorded, now, strict=True)) for d in pinned(a, b, f"{path}[{i}]")]
    return [] if now == recorded and type(now) is type(recorded) else [f"{path}: {now!r} != {recorded!r}"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_run(name):
    assert pinned(json.loads(FILE.read_text())[name], compute(name)) == []


def test_pinned_finds_a_changed_number_and_ignores_a_new_field():
    recorded = {"a": [1.0, {"b": 2}], "c": 3}
    assert pinned(recorded, {"a": [1.0, {"b": 2, "new": 0}], "c": 3, "d": 4}) == []
    assert pinned(recorded, {"a": [1.0000000000000002, {"b": 2}], "c": 3}) == ["/a[0]: 1.0000000000000002 != 1.0"]
    assert pinned(recorded, {"a": [1.0, {}], "c": 3.0}) == ["/a[1]/b: '<missing>' != 2", "/c: 3.0 != 3"]


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    FILE.write_text(json.dumps({name: compute(name) for name in sorted(CASES)}, indent=1) + "\n")
