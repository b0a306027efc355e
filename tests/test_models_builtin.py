"""The built-in models: exact values inside their own intervals, coverage, variance reduction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom

import montecarlo
from montecarlo.errors import ParameterError
from montecarlo.models.builtin.asian_option import geometric_asian_call
from montecarlo.models.builtin.european_option import black_scholes
from montecarlo.models.builtin.gamblers_ruin import ruin_exact
from montecarlo.models.builtin.integrate import FAMILIES, genz_integral
from montecarlo.models.registry import BUILTIN, load_model

MODELS_WITH_EXACT = [
    ("buffon", {}),
    ("buffon", {"length": 0.7, "spacing": 1.0}),
    *[("integrate", {"family": f, "dim": d}) for f in FAMILIES for d in (3, 50)],
    ("integrate", {"family": "product_peak", "dim": 4, "coefficients": "1,2,4,8", "shift": 0.2}),
    ("european_option", {}),
    ("european_option", {"kind": "put", "antithetic": True}),
    ("european_option", {"spot": 90.0, "strike": 110.0, "volatility": 0.4, "maturity": 2.0}),
    ("asian_option", {}),
    ("asian_option", {"steps": 50, "strike": 90.0}),
    ("gamblers_ruin", {}),
    ("gamblers_ruin", {"start": 3, "goal": 10, "p": 0.45}),
    ("gamblers_ruin", {"start": 7, "goal": 12, "p": 0.6}),
    ("tail_probability", {"c": 2.0}),
    ("tail_probability", {"c": 6.0}),
    ("ishigami", {}),
    ("ishigami", {"a": 5.0, "b": 0.2}),
    ("sobol_g", {}),
    ("sobol_g", {"a": "1,2,3,4,5,6"}),
]


def exact_checks(result):
    """Every estimate with an exact value, as (name, exact)."""
    return [(e.name, e.exact) for e in result.estimates if e.exact is not None]


@pytest.mark.parametrize(("name", "params"), MODELS_WITH_EXACT, ids=lambda x: str(x))
def test_exact_value_inside_own_999_interval(name, params):
    r = montecarlo.run(name, samples=50_000, rng=20240601, params=params, execution="serial", confidence=0.999)
    checks = exact_checks(r)
    assert checks, f"{name} reports no exact value"
    for out, exact in checks:
        e = r[out]
        assert e.covers(exact), f"{name} {params} {out}: {e.interval} misses {exact} ({e.error_in_se:+.2f} se)"


#: Level models: their exact value is the limit of their levels, checked by multilevel runs (tests/test_mlmc.py).
LEVEL_MODELS = {"gbm_call", "digital_call"}


def test_every_builtin_model_is_covered_by_an_exact_test():
    assert {name for name, _ in MODELS_WITH_EXACT} | {"pi"} | LEVEL_MODELS == set(BUILTIN)


# --------------------------------------------------------------------------
# coverage over many seeds (slow)
# --------------------------------------------------------------------------

REPS = 300
#: The 99.9 % binomial band of the number of covering intervals out of REPS at 0.95.
BAND = (binom.ppf(0.0005, REPS, 0.95), binom.ppf(0.9995, REPS, 0.95))

COVERAGE = [
    ("buffon", {}, 2_000),
    ("integrate", {"family": "gaussian", "dim": 10}, 1_000),
    ("integrate", {"family": "oscillatory", "dim": 50}, 500),
    ("integrate", {"family": "discontinuous", "dim": 4}, 2_000),
    ("european_option", {"antithetic": True}, 2_000),
    ("asian_option", {}, 2_000),
    ("gamblers_ruin", {"start": 3, "goal": 8, "p": 0.45}, 1_000),
    ("tail_probability", {"c": 2.0}, 2_000),
    # At c = 5 plain sampling sees no hit and Wilson's interval covers always
    # (conservative, by design): only the importance estimate is checked.
    ("tail_probability", {"c": 5.0}, 1_000, ("importance",)),
]


def coverage_counts(name, params, n, outputs=None):
    hits: dict[str, int] = {}
    for seed in range(REPS):
        r = montecarlo.run(name, samples=n, rng=seed, params=params, execution="serial")
        for out, exact in exact_checks(r):
            if outputs is None or out in outputs:
                hits[out] = hits.get(out, 0) + r[out].covers(exact)
    return hits


@pytest.mark.slow
@pytest.mark.parametrize("case", COVERAGE, ids=lambda c: f"{c[0]}-{c[1]}")
def test_95_interval_coverage(case):
    name, params, n, *outputs = case
    hits = coverage_counts(name, params, n, *outputs)
    assert hits
    for out, k in hits.items():
        assert BAND[0] <= k <= BAND[1], f"{name} {out}: {k}/{REPS} covered, outside the 99.9% band {BAND}"


@pytest.mark.slow
def test_tail_probability_default_shift_covers_below_zero():
    # Before: the default shift mu = c made the likelihood ratio lognormal
    # with sigma = 3 at c = -3, and the 95% interval covered 69% of the time
    # at 5,000 samples. The default now estimates the rarer event {Z <= c}.
    reps, n = 1_000, 5_000
    lo, hi = binom.ppf(0.0005, reps, 0.95), binom.ppf(0.9995, reps, 0.95)
    exact = montecarlo.load_model("tail_probability").exact_values({"c": -3.0, "shift": None})["importance"]
    covered, ratio = 0, []
    for seed in range(reps):
        r = montecarlo.run("tail_probability", samples=n, rng=seed, params={"c": -3.0}, execution="serial")
        covered += r["importance"].covers(exact)
        ratio.append(r["plain"].standard_error / r["importance"].standard_error)
    assert lo <= covered <= hi, f"{covered}/{reps} covered, outside the 99.9% band [{lo}, {hi}]"
    assert 12 < np.median(ratio) < 17  # docs/models.md: a standard error 15 times smaller than plain


def test_tail_probability_default_shift_is_bounded_on_both_sides_of_zero():
    for c in (-3.0, -0.5, 0.0, 2.0):
        r = montecarlo.run("tail_probability", samples=20_000, rng=1, params={"c": c}, execution="serial")
        imp = r["importance"]
        assert imp.covers(imp.exact)
        bound = math.exp(-c * c / 2)  # the likelihood ratio on the weighted event
        lo, hi = (1 - bound, 1.0) if c < 0 else (0.0, bound)
        x = load_model("tail_probability").simulate(np.random.default_rng(3), 100_000, c=c)[:, 1]
        assert lo <= x.min() and x.max() <= hi
    # For c >= 0 the default is the shift mu = c itself: the same numbers.
    a = montecarlo.run("tail_probability", samples=20_000, rng=2, params={"c": 4.0}, execution="serial")
    b = montecarlo.run("tail_probability", samples=20_000, rng=2, params={"c": 4.0, "shift": 4.0}, execution="serial")
    assert a["importance"] == b["importance"]


# --------------------------------------------------------------------------
# variance reduction, measured at a fixed seed (the README quotes these factors)
# --------------------------------------------------------------------------


def test_antithetic_reduces_standard_error_of_european_call():
    plain = montecarlo.run("european_option", samples=200_000, rng=7, execution="serial")
    anti = montecarlo.run("european_option", samples=200_000, rng=7, execution="serial", params={"antithetic": True})
    factor = plain.standard_error / anti.standard_error
    # Per sample (one normal draw each); per payoff evaluation the gain is factor / sqrt(2).
    assert round(factor, 2) == 2.01
    assert factor > 1.8


@pytest.mark.slow
def test_control_variate_reduces_standard_error_of_asian_call():
    r = montecarlo.run("asian_option", samples=200_000, rng=7, execution="serial")
    cv = r["arithmetic_cv"]
    factor = r["arithmetic"].standard_error / cv.standard_error
    assert round(factor, 1) == 35.7
    assert cv.details["variance_reduction"] == pytest.approx(factor**2, rel=1e-3)
    # The plain and control-variate estimates agree within their intervals.
    assert r["arithmetic"].covers(cv.estimate)


def test_importance_sampling_reduces_standard_error_at_c4():
    r = montecarlo.run("tail_probability", samples=200_000, rng=7, execution="serial", params={"c": 4.0})
    factor = r["plain"].standard_error / r["importance"].standard_error
    assert round(factor) == 94
    assert r["importance"].covers(r["importance"].exact)


def test_tail_at_c6_plain_has_no_hits_but_wilson_still_covers():
    r = montecarlo.run("tail_probability", samples=100_000, rng=3, execution="serial", params={"c": 6.0})
    plain = r["plain"]
    assert plain.estimate == 0.0 and plain.standard_error == 0.0
    assert plain.method == "wilson"
    assert plain.interval[0] < 1e-20 < plain.exact < plain.interval[1]  # a t interval would be [0, 0]
    imp = r["importance"]
    assert imp.standard_error / imp.estimate < 0.02
    assert imp.covers(imp.exact)


# --------------------------------------------------------------------------
# exact formulas
# --------------------------------------------------------------------------


def test_geometric_asian_with_one_date_is_black_scholes():
    args = (100.0, 95.0, 0.03, 0.25, 1.5)
    assert geometric_asian_call(*args, steps=1) == pytest.approx(black_scholes(*args, "call"), rel=1e-13)


def test_black_scholes_put_call_parity():
    s, k, r, v, t = 100.0, 110.0, 0.02, 0.3, 0.5
    lhs = black_scholes(s, k, r, v, t, "call") - black_scholes(s, k, r, v, t, "put")
    assert lhs == pytest.approx(s - k * math.exp(-r * t), rel=1e-12)


def test_gamblers_ruin_exact_matches_rational_arithmetic():
    from fractions import Fraction

    for k, big_n, p in [(5, 10, 0.45), (5, 10, 0.55), (3, 20, 0.3), (17, 20, 0.9)]:
        pf = Fraction(p)
        r = (1 - pf) / pf
        ruin = (r**k - r**big_n) / (1 - r**big_n)
        dur = k / (1 - 2 * pf) - (big_n / (1 - 2 * pf)) * (1 - r**k) / (1 - r**big_n)
        got = ruin_exact(k, big_n, p)
        assert got["ruin"] == pytest.approx(float(ruin), rel=1e-12)
        assert got["duration"] == pytest.approx(float(dur), rel=1e-12)
    assert ruin_exact(4, 10, 0.5) == {"ruin": 0.6, "duration": 24.0}


def _ruin_rational(k, big_n, p):
    from fractions import Fraction

    pf = Fraction(p)  # the float exactly; q = 1 - p exactly
    r = (1 - pf) / pf
    rk, rn = r**k, r**big_n
    return float((rk - rn) / (1 - rn)), float(k / (1 - 2 * pf) - (big_n / (1 - 2 * pf)) * (1 - rk) / (1 - rn))


@pytest.mark.slow
def test_gamblers_ruin_duration_is_exact_next_to_one_half():
    # The case that lost 2.4e-5 relative to cancellation: 41.0009765625 for 41.0000000001.
    assert ruin_exact(1, 42, 0.5000000000000984)["duration"] == pytest.approx(41.00000000010755, rel=1e-14)
    rng = np.random.default_rng(11)
    cases = [(1, 42, 0.5 + s * 10.0**e) for e in range(-16, 0) for s in (-1, 1)]
    cases += [(int(k), int(n), float(0.5 + rng.choice([-1, 1]) * 10 ** rng.uniform(-15, -0.4)))
              for n in (2, 3, 10, 100, 1000) for k in rng.integers(1, n, 6)]  # fmt: skip
    for k, big_n, p in cases:
        if p == 0.5:
            continue
        ruin, duration = _ruin_rational(k, big_n, p)
        got = ruin_exact(k, big_n, p)
        assert got["duration"] == pytest.approx(duration, rel=1e-12), (k, big_n, p)
        assert got["ruin"] == pytest.approx(ruin, rel=1e-12), (k, big_n, p)


def test_corner_peak_matches_vertex_sum_in_low_dimension():
    import itertools

    rng = np.random.default_rng(5)
    for d in (1, 2, 4, 6):
        a = rng.uniform(0.2, 3.0, d)
        total = sum((-1) ** sum(v) / (1.0 + a @ np.array(v)) for v in itertools.product((0, 1), repeat=d))
        want = total / (math.factorial(d) * np.prod(a))
        assert genz_integral("corner_peak", a, np.full(d, 0.5)) == pytest.approx(want, rel=1e-10)


@pytest.mark.parametrize("family", FAMILIES)
def test_genz_integral_of_one_dimension_matches_quadrature(family):
    from scipy.integrate import quad

    from montecarlo.models.builtin.integrate import genz_values

    a, u = np.array([2.5]), np.array([0.3])
    want = quad(lambda x: genz_values(family, np.array([[x]]), a, u)[0], 0, 1, points=[0.3], epsabs=1e-14)[0]
    assert genz_integral(family, a, u) == pytest.approx(want, rel=1e-10)


# --------------------------------------------------------------------------
# parameters of the built-in models
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        (
            "buffon",
            {"length": 3.0},
            r"parameter `length` = 3\.0 is out of range; accepted: a number <= `spacing` \(2\.0\)",
        ),
        ("buffon", {"spacing": 0.0}, r"parameter `spacing` = 0\.0 is out of range; accepted: a number > 0"),
        (
            "integrate",
            {"family": "bumpy"},
            r"parameter `family` = 'bumpy' is not accepted; accepted: one of 'oscillatory'",
        ),
        ("integrate", {"dim": 101}, r"parameter `dim` = 101 is out of range; accepted: an integer in \[1, 100\]"),
        ("integrate", {"coefficients": "1,2"}, r"parameter `coefficients` = '1,2' has 2 values; accepted: 5 values"),
        (
            "integrate",
            {"coefficients": "1,x,2,3,4"},
            r"parameter `coefficients` = '1,x,2,3,4' is not a list of numbers; accepted: comma-separated",
        ),
        (
            "integrate",
            {"coefficients": "1,-2,2,3,4"},
            r"parameter `coefficients` = '1,-2,2,3,4' is not accepted; accepted: positive",
        ),
        (
            "european_option",
            {"kind": "straddle"},
            r"parameter `kind` = 'straddle' is not accepted; accepted: one of 'call', 'put'",
        ),
        (
            "european_option",
            {"volatility": 0.0},
            r"parameter `volatility` = 0\.0 is out of range; accepted: a number in \(0\.0, 5\.0\]",
        ),
        ("asian_option", {"steps": 0}, r"parameter `steps` = 0 is out of range; accepted: an integer in \[1, 1000\]"),
        ("gamblers_ruin", {"start": 10}, r"parameter `start` = 10 is out of range; accepted: an integer in \[1, 9\]"),
        ("gamblers_ruin", {"p": 1.0}, r"parameter `p` = 1\.0 is out of range; accepted: a number in \(0\.0, 1\.0\)"),
        (
            "tail_probability",
            {"c": "high"},
            r"parameter `c` = 'high' is not accepted; accepted: a number in \[-10\.0, 10\.0\]",
        ),
    ],
)
def test_builtin_parameter_errors(name, params, match):
    with pytest.raises(ParameterError, match=match):
        montecarlo.make_spec(name, 1000, params=params)


def test_builtin_models_document_their_exact_value_with_a_citation():
    for name in BUILTIN:
        rec = load_model(name)
        assert rec.exact is not None or (rec.levels is not None and rec.levels.exact is not None), name
        assert "exact" in rec.doc.lower() or "Exact" in rec.doc, name
        assert any(ch.isdigit() for ch in rec.doc), name  # a year or page of the citation
