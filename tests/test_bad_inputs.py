"""Inputs that used to end in an internal error, or to be taken silently: each is one line, exit 2, before any run."""

from __future__ import annotations

import pytest
from conftest import mc

DIMS = """
import montecarlo


@montecarlo.model(dimension=lambda: 5000, uniform=lambda u: u[:, 0])
def wide(rng, n):
    return rng.random(n)


@montecarlo.model(dimension=lambda: -1, uniform=lambda u: u[:, 0])
def negative(rng, n):
    return rng.random(n)


@montecarlo.model(dimension=lambda: 2.5, uniform=lambda u: u[:, 0])
def fractional(rng, n):
    return rng.random(n)


def one_argument(rng):
    return rng.random(3)
"""


@pytest.fixture
def dims(tmp_path):
    path = tmp_path / "dims.py"
    path.write_text(DIMS)
    return str(path)


@pytest.mark.parametrize(
    "args, message",
    [
        (["european_option", "--tolerance", "0.1", "--kurtosis-bound", "1e308"], "accepted: a bound up to 1e+12"),
        (["european_option", "--sampler", "sobol", "--replicates", "0"], "accepted: an integer from 2 to 1024"),
        (["european_option", "--sampler", "sobol", "--replicates", "1"], "accepted: an integer from 2 to 1024"),
        (["{dims}:wide", "--sampler", "halton"], "cannot draw the 5000 dimensions of model 'wide' in bounded memory"),
        (["{dims}:negative", "--sampler", "sobol"], "`dimension` = -1 of model 'negative'"),
        (["{dims}:fractional", "--sampler", "sobol"], "`dimension` = 2.5 of model 'fractional'"),
        (["{dims}:one_argument"], "has another signature; accepted: a function simulate(rng, n, **params)"),
        (["builtins:print"], "has another signature"),
        (["os:getcwd"], "has another signature"),
    ],
)
def test_a_bad_input_is_one_line_and_exit_2(capsys, dims, args, message):
    argv = ["run", args[0].format(dims=dims), "-n", "64", *args[1:]]
    code, out, err = mc(capsys, *argv)
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert message in err
