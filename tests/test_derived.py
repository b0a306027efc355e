"""Derived quantities (delta method) and control variates: numerics, determinism, JSON, coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import numbers
from scipy.stats import binom

import montecarlo
from montecarlo import Execution, Sampling
from montecarlo.errors import UnknownNameError, ValidationError
from montecarlo.estimation.control import control_variate_fit
from montecarlo.estimation.delta import delta_method, gradient
from montecarlo.models.declare import model
from montecarlo.models.derived import ControlVariate, Derived
from montecarlo.models.record import Output
from montecarlo.records.result import Result

E1 = math.e - 1.0


@model(
    outputs=[Output("y"), Output("u")],
    exact=lambda: {"y": E1, "u": 0.5},
    derived=[
        Derived("log_y", lambda y: math.log(y), inputs=["y"], exact=math.log(E1)),
        Derived("ratio", lambda y, u: y / u, exact=2.0 * E1),
    ],
    controls=[ControlVariate("y_cv", "y", ["u"])],
    block_size=500,
    batch_size=250,
)
def exp_uniform(rng, n):
    """E[exp(U)] = e - 1 for U uniform on [0, 1), with U itself as control (mean 1/2)."""
    u = rng.random(n)
    return np.column_stack([np.exp(u), u])


# --------------------------------------------------------------------------
# numerics
# --------------------------------------------------------------------------


def test_delta_method_ratio_matches_textbook_formula():
    means = np.array([2.0, 5.0])
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    value, se, g, how = delta_method(lambda a, b: a / b, means, cov)
    a, b = means
    var = cov[0, 0] / b**2 + a**2 * cov[1, 1] / b**4 - 2 * a * cov[0, 1] / b**3
    assert value == 0.4
    assert how == "central-difference"
    assert se == pytest.approx(math.sqrt(var), rel=1e-8)
    value2, se2, _, how2 = delta_method(lambda a, b: a / b, means, cov, grad=lambda a, b: [1 / b, -a / b**2])
    assert how2 == "analytic" and se2 == pytest.approx(math.sqrt(var), rel=1e-14)


@pytest.mark.parametrize(
    ("func", "grad", "x"),
    [
        (lambda a, b: a * b, lambda a, b: [b, a], [3.0, -2.0]),
        (lambda a: math.exp(a), lambda a: [math.exp(a)], [1.5]),
        (lambda a, b: a / b, lambda a, b: [1 / b, -a / b**2], [2e-9, 3e-9]),  # tiny means: step scales with them
        (lambda a: a**2, lambda a: [2 * a], [0.0]),
    ],
)
def test_central_difference_gradient_is_accurate(func, grad, x):
    x = np.array(x)
    g = gradient(func, x, np.abs(x) * 1e-3)
    assert np.allclose(g, grad(*x), rtol=1e-8, atol=1e-10)


def test_derived_receives_the_parameters_its_signature_names():
    r = montecarlo.run("buffon", samples=2_000, rng=1, execution="serial", params={"length": 0.5, "spacing": 1.0})
    got = r.derive("pi2", lambda p, length, spacing: 2 * length / (spacing * p), inputs=["crossing"])
    assert got.estimate == r["pi"].estimate
    assert got.standard_error == pytest.approx(r["pi"].standard_error, rel=1e-8)  # FD vs analytic gradient
    kw = r.derive("pi3", lambda p, **params: 2 * params["length"] / (params["spacing"] * p), inputs=["crossing"])
    assert kw.estimate == r["pi"].estimate


def test_control_variate_fit_is_the_regression_intercept():
    rng = np.random.default_rng(11)
    n = 400
    c = rng.normal(size=(n, 2))
    y = 1.0 + c @ [0.8, -0.5] + rng.normal(scale=0.3, size=n)
    x = np.column_stack([y, c])
    mu = np.array([0.1, -0.2])  # known control means (deliberately not the sample means)
    cov = np.cov(x, rowvar=False) / n
    fit = control_variate_fit(n, x.mean(axis=0), cov, 0, [1, 2], mu)
    design = np.column_stack([np.ones(n), c - mu])
    coef, rss, *_ = np.linalg.lstsq(design, y, rcond=None)
    s2 = rss[0] / (n - 3)
    se = math.sqrt(s2 * np.linalg.inv(design.T @ design)[0, 0])
    assert fit["estimate"] == pytest.approx(coef[0], rel=1e-12)
    assert fit["coefficients"] == pytest.approx(coef[1:], rel=1e-10)
    assert fit["standard_error"] == pytest.approx(se, rel=1e-10)
    assert fit["df"] == n - 3
    assert fit["variance_reduction"] == pytest.approx(cov[0, 0] / se**2, rel=1e-10)


def test_control_variate_with_constant_control_reports_nan():
    cov = np.array([[1.0, 0.0], [0.0, 0.0]])
    fit = control_variate_fit(100, np.array([1.0, 0.5]), cov, 0, [1], [0.5])
    assert math.isnan(fit["estimate"]) and math.isnan(fit["standard_error"])


# --------------------------------------------------------------------------
# declared in a model, and post hoc
# --------------------------------------------------------------------------


def test_declared_estimators_appear_in_result_table_and_json():
    r = montecarlo.run(exp_uniform, samples=20_000, rng=5, execution="serial")
    assert r.outputs == ("y", "u")
    assert [e.name for e in r.derived] == ["log_y", "ratio", "y_cv"]
    assert r.covariance.shape == (2, 2)
    assert r["log_y"].kind == "derived" and r["log_y"].method == "delta"
    assert r["log_y"].details["gradient_method"] == "central-difference"
    assert r["y_cv"].kind == "control-variate" and r["y_cv"].exact == E1
    assert r["y_cv"].details["control_means"] == [0.5]
    d = r.to_dict()
    assert set(d["outputs"]) == {"y", "u"}
    assert set(d["derived"]) == {"log_y", "ratio", "y_cv"}
    assert d["derived"]["ratio"]["exact"] == 2.0 * E1
    table = r.table()
    for word in ("log_y", "ratio", "y_cv", "delta", "control-variate", "variance reduction"):
        assert word in table


def test_post_hoc_estimators_equal_declared_ones_bitwise():
    r = montecarlo.run(exp_uniform, samples=20_000, rng=5, execution="serial")
    assert r.derive("log_y", lambda y: math.log(y), inputs=["y"], exact=math.log(E1)) == r["log_y"]
    assert r.control_variate("y", "u", name="y_cv") == r["y_cv"]
    cv = r.control_variate("y", ["u"], means=[0.5])
    assert cv.name == "y_cv" and cv.estimate == r["y_cv"].estimate


def test_json_round_trip_is_exact_with_derived_estimates():
    r = montecarlo.run(exp_uniform, samples=5_000, rng=8, execution="serial")
    extra = r.derive("u_squared", lambda u: u * u, inputs=["u"], exact=0.25)
    r2 = r.with_estimates(extra)
    text = r2.to_json()
    back = Result.from_json(text)
    assert back.to_json() == text
    assert back["u_squared"] == extra
    assert back.estimates == r2.estimates
    assert back.outputs == ("y", "u")


def test_buffon_pi_is_a_delta_method_estimate():
    r = montecarlo.run("buffon", samples=100_000, rng=2, execution="serial")
    p, pi = r["crossing"], r["pi"]
    assert pi.estimate == pytest.approx(2 * 1.0 / (2.0 * p.estimate), rel=1e-15)
    # se(π̂) = π̂ se(p̂) / p̂ by the delta method
    assert pi.standard_error == pytest.approx(pi.estimate * p.standard_error / p.estimate, rel=1e-12)
    assert pi.exact == math.pi and pi.details["gradient_method"] == "analytic"


# --------------------------------------------------------------------------
# determinism: every executor and worker count gives the same bits
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("model", "params"),
    [("asian_option", {}), ("buffon", {"length": 0.5, "spacing": 1.0}), (exp_uniform, {})],
)
def test_estimators_identical_across_executors(model, params):
    kw = {"samples": 6_000, "rng": 99, "params": params, "sampling": Sampling(block_size=500, batch_size=250)}
    serial = montecarlo.run(model, execution=Execution("serial", workers=1), **kw)
    procs = montecarlo.run(model, execution=Execution("processes", workers=2), **kw)
    threads = montecarlo.run(model, execution=Execution("threads", workers=3), **kw)
    assert serial.derived
    assert procs.provenance["executor"] == "processes" and threads.provenance["executor"] == "threads"
    assert numbers(serial) == numbers(procs) == numbers(threads)


# --------------------------------------------------------------------------
# errors name the argument, the value and what is accepted
# --------------------------------------------------------------------------


def test_estimator_errors():
    r = montecarlo.run(exp_uniform, samples=1_000, rng=1, execution="serial")
    with pytest.raises(
        UnknownNameError, match=r"`inputs` = 'w' of derived quantity 'bad' is not an output; accepted: one of y, u"
    ):
        r.derive("bad", lambda w: w, inputs=["w"])
    with pytest.raises(
        KeyError, match=r"`target` = 'w' of control variate 'w_cv' is not an output; accepted: one of y, u"
    ):
        r.control_variate("w", "u")
    with pytest.raises(KeyError, match=r"`controls` = 'v' of control variate 'y_cv' is not an output"):
        r.control_variate("y", "v")
    with pytest.raises(
        ValidationError,
        match=r"`means` = \[0\.5, 1\.0\] is not accepted; accepted: 1 finite number\(s\), one per control",
    ):
        r.control_variate("y", "u", means=[0.5, 1.0])
    with pytest.raises(ValidationError, match=r"`extra` = 'ratio' is the name of an estimate already there"):
        r.with_estimates(r.derive("ratio", lambda y, u: y / u))
    with pytest.raises(
        ValidationError, match=r"`extra` = Estimate\(name='y'.* accepted: derived or control-variate Estimates"
    ):
        r.with_estimates(r["y"])
    with pytest.raises(
        KeyError, match=r"`name` = 'nope' is not an estimate of this result; accepted: one of y, u, log_y, ratio, y_cv"
    ):
        r["nope"]


def test_control_mean_must_be_known():
    r = montecarlo.run("asian_option", samples=1_000, rng=1, execution="serial")
    with pytest.raises(
        ValidationError, match=r"`means` of control\(s\) \['arithmetic'\] of 'geometric_cv' are not known"
    ):
        r.control_variate("geometric", "arithmetic")


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Derived("2x", lambda a: a), r"`name` = '2x' is not accepted; accepted: a Python identifier"),
        (lambda: Derived("x", 3.0), r"`func` = 3\.0 is not accepted; accepted: a function func\(\*means\)"),
        (lambda: Derived("x", abs, inputs=[]), r"`inputs` = \(\) of 'x' names no output"),
        (lambda: ControlVariate("c", "y", []), r"`controls` = \(\) of 'c' names no output"),
        (
            lambda: ControlVariate("c", "y", ["y"]),
            r"`target` = 'y' is not accepted; accepted: an output that is not one of its `controls`",
        ),
        (
            lambda: ControlVariate("c", "y", ["u", "u"]),
            r"`controls` = \['u', 'u'\] is not accepted; accepted: distinct output names",
        ),
    ],
)
def test_record_validation(make, match):
    with pytest.raises(ValidationError, match=match):
        make()


def test_declaration_errors():
    def f(rng, n):
        return rng.random((n, 2))

    with pytest.raises(
        UnknownNameError, match=r"`inputs` = 'z' of derived quantity 'd' is not an output; accepted: one of a, b"
    ):
        model(f, outputs=["a", "b"], derived=[Derived("d", abs, inputs=["z"])])
    with pytest.raises(UnknownNameError, match=r"`controls` = 'z' of control variate 'c' is not an output"):
        model(f, outputs=["a", "b"], controls=[ControlVariate("c", "a", ["z"])])
    with pytest.raises(
        ValidationError, match=r"`outputs` = \['a', 'b', 'a'\] is not accepted; accepted: distinct names"
    ):
        model(f, outputs=["a", "b"], derived=[Derived("a", abs, inputs=["b"])])
    with pytest.raises(
        ValidationError,
        match=r"`derived` = <built-in function abs> is not accepted; accepted: montecarlo.Derived records",
    ):
        model(f, outputs=["a", "b"], derived=[abs])


# --------------------------------------------------------------------------
# coverage (slow)
# --------------------------------------------------------------------------

REPS = 300
BAND = (binom.ppf(0.0005, REPS, 0.95), binom.ppf(0.9995, REPS, 0.95))


@pytest.mark.slow
def test_buffon_delta_method_pi_interval_covers_at_nominal_rate():
    hits = sum(
        montecarlo.run("buffon", samples=1_000, rng=s, execution="serial", params={"length": 0.5, "spacing": 1.0})[
            "pi"
        ].covers(math.pi)
        for s in range(REPS)
    )
    assert BAND[0] <= hits <= BAND[1], f"{hits}/{REPS} outside {BAND}"


@pytest.mark.slow
def test_control_variate_and_finite_difference_intervals_cover_at_nominal_rate():
    hits = {"y_cv": 0, "log_y": 0, "ratio": 0}
    for s in range(REPS):
        r = montecarlo.run(exp_uniform, samples=200, rng=s, execution="serial")
        for k in hits:
            hits[k] += r[k].covers(r[k].exact)
    for k, h in hits.items():
        assert BAND[0] <= h <= BAND[1], f"{k}: {h}/{REPS} outside {BAND}"


def test_degenerate_prefixes_give_nan_not_errors():
    # One sample: no covariance; Buffon with no crossing: π = 2l/(t·0).
    r = montecarlo.run("buffon", samples=1, rng=0, execution="serial")
    assert math.isnan(r["pi"].standard_error) and r["pi"].interval == (-math.inf, math.inf)
    seed = next(
        s
        for s in range(100)
        if montecarlo.run("buffon", samples=3, rng=s, execution="serial")["crossing"].estimate == 0
    )
    r = montecarlo.run("buffon", samples=3, rng=seed, execution="serial")
    assert math.isnan(r["pi"].estimate) and r["pi"].interval == (-math.inf, math.inf)
    assert "pi" in r.table() and Result.from_json(r.to_json()).to_json() == r.to_json()
    cv = montecarlo.run("asian_option", samples=2, rng=0, execution="serial")["arithmetic_cv"]
    assert math.isnan(cv.estimate) and cv.details["df"] == 0
