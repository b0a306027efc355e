"""Plots: convergence traces and sweeps, from the API and the `mc` command."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import uuid

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from conftest import mc  # noqa: E402

import montecarlo  # noqa: E402
from montecarlo import Sampling  # noqa: E402
from montecarlo.reports.plot import (
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
    return montecarlo.run("pi", rng=3, tolerance=5e-3, sampling=Sampling(block_size=2**16), execution="serial")


@pytest.fixture(scope="module")
def strike_results():
    return [
        montecarlo.run("european_option", samples=2**16, rng=1, params={"strike": k}, execution="serial")
        for k in (80.0, 100.0, 120.0)
    ]


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
    with pytest.raises(
        PlotError, match=r"`result` = 'pi' has no trace; accepted: a result with a convergence trace \(run it again\)"
    ):
        plot_convergence(old)
    with pytest.raises(
        PlotError,
        match=r"`output` = 'x.txt' has no plot file extension; accepted: a file name ending in \.png, \.svg, \.pdf\.",
    ):
        save_convergence(pi_result, "x.txt")


@pytest.mark.slow
@pytest.mark.parametrize("ext", ["png", "svg", "pdf"])
def test_mc_plot_writes_each_format(capsys, tmp_path, pi_result, ext):
    src = tmp_path / "pi.json"
    pi_result.save(str(src))
    out = tmp_path / f"conv.{ext}"
    code, stdout, err = mc(capsys, "plot", src, "-o", out)
    assert code == 0 and stdout == f"wrote {out}\n", err
    data = out.read_bytes()
    assert len(data) > 1000 and data.startswith(MAGIC[ext])


@pytest.mark.slow
def test_mc_plot_default_name(capsys, tmp_path, pi_result):
    src = tmp_path / "pi.json"
    pi_result.save(str(src))
    assert mc(capsys, "plot", src)[0] == 0
    assert (tmp_path / "pi.png").stat().st_size > 1000


@pytest.mark.slow
def test_mc_run_plot(capsys, tmp_path):
    out = tmp_path / "run.png"
    code, _, err = mc(
        capsys, "run", "pi", "--tolerance", "1e-2", "-s", "1", "-q", "--executor", "serial", "--plot", out
    )
    assert code == 0, err
    assert out.read_bytes().startswith(MAGIC["png"]) and out.stat().st_size > 1000
    assert not list(tmp_path.glob(".*tmp*"))  # written atomically, nothing left behind


def test_mc_plot_usage_errors(capsys, tmp_path, pi_result):
    src = tmp_path / "pi.json"
    pi_result.save(str(src))
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    cases = [
        (["plot", src, "--estimate", "nope"], "--estimate nope is not an estimate of this result; accepted: pi."),
        (["plot", bad], f"{bad}: not a montecarlo result"),
        (["plot", src, "--sweep", "strike"], "--sweep strike needs two or more results; got 1."),
        (["plot", tmp_path / "missing.json"], f"Path '{tmp_path / 'missing.json'}' does not exist"),
        (
            ["plot", src, "-o", tmp_path / "x.txt"],
            f"'{tmp_path / 'x.txt'}' has no plot file extension; accepted: a file name ending in .png, .svg, .pdf.",
        ),
    ]
    for args, message in cases:
        code, out, err = mc(capsys, *args)
        assert code == 2 and out == "", err
        assert err.startswith("Error: ") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "pi.png").exists() and not (tmp_path / "x.txt").exists()


def test_missing_matplotlib_says_how_to_install(monkeypatch, capsys, tmp_path, pi_result):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    assert "pip install 'montecarlo-engine[plot]'" in INSTALL_HINT
    with pytest.raises(
        MatplotlibMissing,
        match=r"plotting needs matplotlib, which is not installed; install it with: "
        r"pip install 'montecarlo-engine\[plot\]'",
    ):
        pi_result.plot()
    src = tmp_path / "pi.json"
    pi_result.save(str(src))
    code, out, err = mc(capsys, "plot", src)  # a usage error (2), as every missing piece of the command's input
    assert code == 2 and out == "" and err == f"Error: {INSTALL_HINT}\n"
    # mc run --plot checks before running, not after.
    code, out, err = mc(capsys, "run", "pi", "-q", "--plot", tmp_path / "x.png")
    assert code == 2 and out == "" and err == f"Error: {INSTALL_HINT}\n"
    assert not (tmp_path / "x.png").exists()


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
    with pytest.raises(PlotError, match=r"`results` = \[\] is empty; accepted: one or more results of the same model"):
        plot_sweep([])
    with pytest.raises(
        PlotError, match=r"`results` = \['european_option', 'pi'\] mix models; accepted: results of one model"
    ):
        plot_sweep([*strike_results, pi_result], "strike")
    with pytest.raises(
        PlotError, match=r"`parameter` = 'sigma' is not a parameter of model 'european_option'; accepted: spot"
    ):
        plot_sweep(strike_results, "sigma")
    with pytest.raises(PlotError, match=r"`parameter` = 'kind' has the value 'call'; accepted: a numeric parameter"):
        plot_sweep(strike_results, "kind")
    two = montecarlo.run(
        "european_option", samples=2**16, rng=1, params={"strike": 90.0, "spot": 90.0}, execution="serial"
    )
    with pytest.raises(
        PlotError,
        match=r"`parameter` cannot be told: parameters that differ: spot, strike; "
        r"accepted: the name of the swept parameter",
    ):
        plot_sweep([*strike_results, two])


@pytest.mark.slow
def test_mc_plot_sweep(capsys, tmp_path, strike_results):
    paths = []
    for r in strike_results:
        p = tmp_path / f"k{r.spec.params['strike']:g}.json"
        r.save(str(p))
        paths.append(str(p))
    code, out, err = mc(capsys, "plot", *paths, "-o", tmp_path / "sweep.svg")
    assert code == 0, err
    assert (tmp_path / "sweep.svg").read_bytes().startswith(MAGIC["svg"])
    assert mc(capsys, "plot", *paths, "--sweep", "strike")[0] == 0
    assert (tmp_path / "k80-sweep.png").stat().st_size > 1000
    # Every result has the same volatility: it is a parameter, just not a swept one.
    code, out, err = mc(capsys, "plot", *paths, "--sweep", "volatility")
    assert code == 2 and err.count("\n") == 1
    assert "--sweep volatility has the same value 0.2 in every result; accepted: a parameter that differs" in err
    assert json.loads((tmp_path / "k80.json").read_text())["spec"]["params"]["volatility"] == 0.2


USER_MODEL = """
from montecarlo import model


@model(exact=lambda a: a / 2)
def scaled(rng, n, a: float = 1.0):
    return a * rng.random(n)
"""


@pytest.mark.slow
def test_sweep_of_a_user_model_never_imports_it(capsys, tmp_path, monkeypatch):
    """Reading result files runs no code: the exact curve of a model that is not
    built in goes through the recorded exact values, even when the model could be imported."""
    name = f"mc_plot_user_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(USER_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    paths = []
    for a in (3.0, 1.0, 2.0):
        r = montecarlo.run(f"{name}:scaled", samples=4000, rng=2, params={"a": a}, execution="serial")
        paths.append(str(tmp_path / f"a{a:g}.json"))
        r.save(paths[-1])
    monkeypatch.delitem(sys.modules, name)
    loaded = [montecarlo.Result.load(p) for p in paths]
    ax = plot_sweep(loaded)
    assert ax.get_xlabel() == "a"
    exact = next(line for line in ax.get_lines() if line.get_label() == "exact")
    assert list(exact.get_xdata()) == [1.0, 2.0, 3.0]
    assert list(exact.get_ydata()) == [0.5, 1.0, 1.5]
    code, out, err = mc(capsys, "plot", *paths, "-o", tmp_path / "user.png")
    assert code == 0, err
    assert (tmp_path / "user.png").read_bytes().startswith(MAGIC["png"])
    assert name not in sys.modules


def test_mc_plot_takes_an_experiments_result_folder(capsys, tmp_path):
    (tmp_path / "e.toml").write_text('name = "one"\nmodel = "pi"\nsamples = 20000\nseed = 1\n')
    assert mc(capsys, "experiment", "run", tmp_path / "e.toml", "-o", tmp_path / "out", "-q")[0] == 0
    (folder,) = (tmp_path / "out" / "one").iterdir()
    code, out, err = mc(capsys, "plot", folder, "-o", tmp_path / "p.png")
    assert code == 0, err
    assert (tmp_path / "p.png").exists()
