"""Plots: convergence traces and sweeps, from the API and the `mc` command."""

from __future__ import annotations

import dataclasses
import json
import math
import sys

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from click.testing import CliRunner  # noqa: E402

import montecarlo  # noqa: E402
from montecarlo.cli import cli  # noqa: E402
from montecarlo.plot import (  # noqa: E402
    INSTALL_HINT,
    MatplotlibMissing,
    PlotError,
    plot_convergence,
    plot_sweep,
    save_convergence,
    sweep_parameter,
)

MAGIC = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def pi_result():
    return montecarlo.run("pi", rng=3, tolerance=5e-3, block_size=2**16, executor="serial")


@pytest.fixture(scope="module")
def strike_results():
    return [
        montecarlo.run("european_option", samples=2**16, rng=1, params={"strike": k}, executor="serial")
        for k in (80.0, 100.0, 120.0)
    ]


def mc(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# --------------------------------------------------------------------------
# convergence
# --------------------------------------------------------------------------


def test_result_plot_returns_axes(pi_result):
    ax = pi_result.plot()
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "samples"
    labels = [line.get_label() for line in ax.get_lines()]
    assert "estimate" in labels and "1/√n envelope" in labels and any(s.startswith("exact") for s in labels)
    est = ax.get_lines()[labels.index("estimate")]
    assert list(est.get_xdata()) == [p["samples"] for p in pi_result.trace]
    assert est.get_ydata()[-1] == pi_result.estimate


def test_result_plot_draws_on_given_axes(pi_result):
    fig, ax = plt.subplots()
    assert pi_result.plot(ax=ax) is ax
    # The band spans each trace point's interval.
    (band,) = ax.collections
    lo, hi = band.get_paths()[0].vertices[:, 1].min(), band.get_paths()[0].vertices[:, 1].max()
    assert math.isclose(lo, min(p["interval"][0][0] for p in pi_result.trace))
    assert math.isclose(hi, max(p["interval"][0][1] for p in pi_result.trace))


def test_plot_errors(pi_result):
    with pytest.raises(PlotError, match=r"`output` = 'nope' is not an estimate of this result; accepted: pi"):
        pi_result.plot(output="nope")
    old = dataclasses.replace(pi_result, trace=())
    with pytest.raises(PlotError, match=r"this result has no convergence trace"):
        plot_convergence(old)
    with pytest.raises(
        PlotError,
        match=r"`output` = 'x.txt': cannot tell the file format from its extension; "
        r"accepted: a file name ending in .png, .svg, .pdf",
    ):
        save_convergence(pi_result, "x.txt")


@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_mc_plot_writes_each_format(tmp_path, pi_result, ext):
    src = tmp_path / "pi.json"
    pi_result.save(str(src))
    out = tmp_path / f"conv.{ext}"
    res = mc("plot", str(src), "-o", str(out))
    assert res.exit_code == 0 and f"wrote {out}" in res.output
    data = out.read_bytes()
    assert len(data) > 1000 and data.startswith(MAGIC[ext])


def test_mc_plot_default_name(tmp_path, pi_result):
    src = tmp_path / "pi.json"
    pi_result.save(str(src))
    assert mc("plot", str(src)).exit_code == 0
    assert (tmp_path / "pi.png").stat().st_size > 1000


def test_mc_run_plot(tmp_path):
    out = tmp_path / "run.png"
    res = mc("run", "pi", "--tolerance", "1e-2", "-s", "1", "-q", "--executor", "serial", "--plot", str(out))
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(MAGIC["png"]) and out.stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, nothing left behind


def test_mc_plot_usage_errors(tmp_path, pi_result):
    src = tmp_path / "pi.json"
    pi_result.save(str(src))
    res = CliRunner().invoke(cli, ["plot", str(src), "--estimate", "nope"])
    assert res.exit_code == 2 and "--estimate 'nope' is not an estimate of this result; accepted: pi" in res.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    res = CliRunner().invoke(cli, ["plot", str(bad)])
    assert res.exit_code == 2 and "bad.json: not a montecarlo result" in res.output
    res = CliRunner().invoke(cli, ["plot", str(src), "--sweep", "strike"])
    assert res.exit_code == 2 and "--sweep strike needs two or more result files; got 1" in res.output
    res = CliRunner().invoke(cli, ["plot", str(tmp_path / "missing.json")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_missing_matplotlib_says_how_to_install(monkeypatch, tmp_path, pi_result):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert "pip install 'montecarlo[plot]'" in INSTALL_HINT
    with pytest.raises(
        MatplotlibMissing,
        match=r"plotting needs matplotlib, which is not installed; install it with: "
        r"pip install 'montecarlo\[plot\]'",
    ):
        pi_result.plot()
    src = tmp_path / "pi.json"
    pi_result.save(str(src))
    res = CliRunner().invoke(cli, ["plot", str(src)])
    assert res.exit_code == 1 and "pip install 'montecarlo[plot]'" in res.output
    # mc run --plot checks before running, not after.
    res = CliRunner().invoke(cli, ["run", "pi", "-q", "--plot", str(tmp_path / "x.png")])
    assert res.exit_code == 1 and "pip install 'montecarlo[plot]'" in res.output
    assert "samples" not in res.output


# --------------------------------------------------------------------------
# sweeps
# --------------------------------------------------------------------------


def test_sweep_plot(strike_results):
    assert sweep_parameter(strike_results) == "strike"
    ax = plot_sweep(list(reversed(strike_results)))  # any order: sorted by the parameter
    assert ax.get_xlabel() == "strike" and ax.get_ylabel() == "price"
    exact = next(line for line in ax.get_lines() if line.get_label() == "exact")
    assert len(exact.get_xdata()) > 100  # a curve from the model's formula, not 3 points
    # The exact curve passes through each result's exact value.
    for r in strike_results:
        k = r.spec.params["strike"]
        i = list(exact.get_xdata()).index(k)
        assert math.isclose(exact.get_ydata()[i], r["price"].exact, rel_tol=1e-12)
    (bars,) = ax.containers
    assert list(bars.lines[0].get_xdata()) == [80.0, 100.0, 120.0]


def test_sweep_errors(strike_results, pi_result):
    with pytest.raises(PlotError, match=r"`results` is empty"):
        plot_sweep([])
    with pytest.raises(PlotError, match=r"`results` mix models european_option, pi; accepted: results of one model"):
        plot_sweep([*strike_results, pi_result], "strike")
    with pytest.raises(
        PlotError, match=r"`parameter` = 'sigma' is not a parameter of model 'european_option'; accepted: spot"
    ):
        plot_sweep(strike_results, "sigma")
    with pytest.raises(PlotError, match=r"`parameter` = 'kind' has the value 'call'; accepted: a numeric parameter"):
        plot_sweep(strike_results, "kind")
    two = montecarlo.run(
        "european_option", samples=2**16, rng=1, params={"strike": 90.0, "spot": 90.0}, executor="serial"
    )
    with pytest.raises(
        PlotError,
        match=r"cannot tell the swept parameter: parameters that differ between the "
        r"results: spot, strike; name it",
    ):
        plot_sweep([*strike_results, two])


def test_mc_plot_sweep(tmp_path, strike_results):
    paths = []
    for r in strike_results:
        p = tmp_path / f"k{r.spec.params['strike']:g}.json"
        r.save(str(p))
        paths.append(str(p))
    res = mc("plot", *paths, "-o", str(tmp_path / "sweep.svg"))
    assert res.exit_code == 0
    assert (tmp_path / "sweep.svg").read_bytes().startswith(MAGIC["svg"])
    assert mc("plot", *paths, "--sweep", "strike").exit_code == 0
    assert (tmp_path / "k80-sweep.png").stat().st_size > 1000
    # Every result has the same volatility: it is a parameter, just not a swept one.
    res = CliRunner().invoke(cli, ["plot", *paths, "--sweep", "volatility"])
    assert res.exit_code == 2
    assert (
        "--sweep 'volatility' has the same value 0.2 in every result; accepted: a parameter that differs" in res.output
    )
    assert json.loads((tmp_path / "k80.json").read_text())["spec"]["params"]["volatility"] == 0.2
