"""Randomized quasi-Monte Carlo: point sets, layout, estimates on replicate means, options and messages.

Coverage over many seeds is in test_qmc_coverage.py; the same numbers on
every backend (Dask included) are in test_backends.py's contract.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math

import modelzoo
import numpy as np
import pytest
from conftest import mc, numbers
from scipy.stats import qmc
from scipy.stats import t as student_t

import montecarlo
from montecarlo import Checkpointing, Execution, Sampling, ValidationError
from montecarlo.core.layout import SOBOL_BITS, rounding_note
from montecarlo.core.seeding import block_rng
from montecarlo.core.spec import RunSpec
from montecarlo.engine.jobs import block_job
from montecarlo.engine.points import replicate_points
from montecarlo.models.uniforms import brownian_bridge, normals
from montecarlo.stats.replicate_means import ReplicateMeans

SOBOL = Sampling(sampler="sobol")


def run(model, samples=None, **kw):
    kw.setdefault("execution", "serial")
    return montecarlo.run(model, samples, **kw)


def part(result) -> ReplicateMeans:
    return result.accumulator.parts["replicates"]


# --------------------------------------------------------------------------
# the point sets
# --------------------------------------------------------------------------


def job_of(model, samples, rng, sampling):
    spec = montecarlo.make_spec(model, samples, rng=rng, sampling=sampling)
    rec = spec.model_record
    return spec, block_job(spec, rec, in_process=True)


@pytest.mark.parametrize("sampler", ["sobol", "halton"])
def test_blocks_are_consecutive_points_of_scipys_scrambled_sequence(sampler):
    spec, job = job_of(modelzoo.points3, 4 * 1024, 7, Sampling(sampler=sampler, replicates=4, block_size=256))
    for r in range(4):
        kind = qmc.Sobol if sampler == "sobol" else qmc.Halton
        extra = {"bits": SOBOL_BITS} if sampler == "sobol" else {}
        whole = kind(3, scramble=True, rng=block_rng(7, r, "sfc64"), **extra).random(1024)
        at_once = replicate_points(job, r, 0, 1024)
        # Blocks fetched in reverse order (as a worker may get them) are the same points.
        pieces = {b: replicate_points(job, r, 256 * b, 256) for b in reversed(range(4))}
        assert np.array_equal(np.vstack([pieces[b] for b in range(4)]), at_once)
        if sampler == "halton":
            assert np.array_equal(at_once, whole)
        else:  # scipy's 30-bit points, with uniform digits below them
            low = (at_once - whole) * 2.0**SOBOL_BITS
            assert np.array_equal(np.floor(at_once * 2.0**SOBOL_BITS), whole * 2.0**SOBOL_BITS)
            assert 0 <= low.min() and low.max() < 1 and abs(low.mean() - 0.5) < 0.05


@pytest.mark.slow
def test_sobol_replicates_are_unbiased_below_scipys_30_bits():
    # Without the low digits every replicate would average the integrand over
    # the 2^-30 grid: here (a jump of e^-8 at u = 1/2) an error of 1.6e-13.
    got = run("tail_probability", 16 * 2**16, rng=1, params={"c": 4.0}, sampling=SOBOL)["importance"]
    assert got.standard_error < 1e-13 and got.covers(got.exact)


def test_sobol_replicates_keep_the_net_property_and_differ():
    spec, job = job_of(modelzoo.points3, 16 * 64, 3, SOBOL)
    sets = [replicate_points(job, r, 0, 64) for r in range(16)]
    for u in sets:
        assert u.min() >= 0 and u.max() < 1
        # A scrambled (0, m, d)-net: every interval [j/64, (j+1)/64) of every axis holds one point.
        for axis in range(3):
            assert np.array_equal(np.sort(np.floor(u[:, axis] * 64)), np.arange(64))
    assert len({u.tobytes() for u in sets}) == 16  # independent scrambles


@pytest.mark.slow
def test_distinct_seeds_give_distinct_point_sets_and_one_seed_the_same():
    def points(rng, key=()):
        seed = np.random.SeedSequence(rng, spawn_key=key)
        _, job = job_of(modelzoo.points3, 16 * 64, seed, SOBOL)
        return replicate_points(job, 0, 0, 64)

    assert np.array_equal(points(1), points(1))
    assert not np.array_equal(points(1), points(2))
    assert not np.array_equal(points(1), points(1, (0,)))  # sweep points differ by spawn key
    # The run sees exactly those points: its replicate means are theirs, on any worker count.
    one = run(modelzoo.points3, 16 * 64, rng=1, sampling=SOBOL)
    two = run(modelzoo.points3, 16 * 64, rng=1, sampling=SOBOL, execution=Execution(workers=2))
    assert numbers(one) == numbers(two)
    np.testing.assert_allclose(part(one).means[0], points(1).mean(axis=0), rtol=1e-14)


# --------------------------------------------------------------------------
# the layout: rounding, blocks, stop points
# --------------------------------------------------------------------------


def test_samples_are_rounded_up_to_a_power_of_two_per_replicate():
    spec = montecarlo.make_spec("european_option", 10**6, rng=1, sampling=SOBOL)
    assert (spec.samples, spec.replicates, spec.block_size, spec.blocks) == (1 << 20, 16, 1 << 16, 16)
    assert rounding_note(10**6, spec.samples, "sobol", 16) == (
        "sobol: 16 replicates x 65,536 points = 1,048,576 samples "
        "(1,000,000 asked for, rounded up to a power of two per replicate)"
    )
    halton = montecarlo.make_spec("integrate", 10**6 + 1, rng=1, sampling=Sampling(sampler="halton", replicates=8))
    assert (halton.samples, halton.samples // 8, halton.block_size) == (1_000_008, 125_001, 1 << 16)
    assert halton.blocks == 8 * 2 and halton.block_samples(8) == 125_001 - (1 << 16)
    # A cap only (a stopping run): Sobol' points stop at 2^30 per replicate.
    capped = montecarlo.make_spec("pi", rng=1, tolerance=1e-6, sampling=Sampling(sampler="sobol", replicates=8))
    assert capped.samples == 8 << SOBOL_BITS
    assert "(the cap 10,000,000,000 lowered to 2^30 points per replicate)" in rounding_note(
        10**10, capped.samples, "sobol", 8
    )


@pytest.mark.slow
def test_the_command_line_says_how_n_was_rounded(capsys):
    code, out, err = mc(capsys, "run", "european_option", "--sampler", "sobol", "-n", "1e6", "-s", "1", "-q")
    assert code == 0, err
    assert err == (
        "sobol: 16 replicates x 65,536 points = 1,048,576 samples "
        "(1,000,000 asked for, rounded up to a power of two per replicate)\n"
    )
    assert out.startswith("european_option: 1,048,576 samples (sobol: 16 replicates x 65,536 points), seed entropy 1")
    assert "intervals on the 16 replicate means (15 degrees of freedom)" in out
    code, out, err = mc(
        capsys, "run", "pi", "--sampler", "halton", "--replicates", "4", "-n", "1000", "-s", "1", "--json"
    )
    assert code == 0 and err == "halton: 4 replicates x 250 points = 1,000 samples\n"
    d = json.loads(out)
    assert (d["spec"]["sampler"], d["spec"]["replicates"]) == ("halton", 4)
    assert d["provenance"]["scipy"]
    assert d["outputs"]["pi"]["details"] == {"sampler": "halton", "replicates": 4, "points_per_replicate": 250, "df": 3}


def test_a_random_spec_keeps_its_form_and_digest():
    spec = montecarlo.make_spec("european_option", 10**6, rng=1)
    d = spec.to_dict()
    assert "sampler" not in d and "replicates" not in d
    # The digest recorded before samplers existed: old checkpoints still resume.
    assert spec.digest() == "1eb762ee847b4626d70d978725b39cfbb3e52ae530fd8e7968b879b30873cc5d"
    assert RunSpec.from_dict(d) == spec
    quasi = montecarlo.make_spec("european_option", 10**6, rng=1, sampling=SOBOL)
    assert RunSpec.from_dict(json.loads(json.dumps(quasi.to_dict()))) == quasi
    assert quasi.digest() != spec.digest()


@pytest.mark.slow
def test_stopping_rules_are_asked_where_every_replicate_holds_a_power_of_two():
    kw = {"rng": 2, "sampling": Sampling(sampler="sobol", block_size=256), "tolerance": 2e-4}
    got = run("european_option", **kw)
    m = got.samples // 16
    assert got.stopping["target_met"] and m & (m - 1) == 0 and m >= 512
    trace = [p["samples"] // 16 for p in got.trace]
    assert trace == [256 << i for i in range(len(trace))]  # 256, 512, ... per replicate
    assert got["price"].interval[1] - got["price"].interval[0] <= 4e-4
    assert numbers(got) == numbers(run("european_option", **kw, execution=Execution(workers=2)))
    # The same numbers as a plain run of that length.
    fixed = run("european_option", got.samples, rng=2, sampling=Sampling(sampler="sobol", block_size=256))
    assert fixed.to_dict()["outputs"] == got.to_dict()["outputs"]


# --------------------------------------------------------------------------
# estimates on the replicate means
# --------------------------------------------------------------------------


def test_estimate_is_the_mean_of_replicate_means_with_a_t_interval():
    got = run("asian_option", 8 * 512, rng=5, sampling=Sampling(sampler="sobol", replicates=8), confidence=0.9)
    means = part(got).means
    assert np.array_equal(part(got).counts, [512] * 8)
    for i, name in enumerate(("arithmetic", "geometric")):
        e = got[name]
        mean = means[:, i].mean()
        se = means[:, i].std(ddof=1) / math.sqrt(8)
        h = student_t.ppf(0.95, 7) * se
        np.testing.assert_allclose([e.estimate, e.standard_error, *e.interval], [mean, se, mean - h, mean + h])
        assert e.method == "t" and e.samples == 8 * 512
    np.testing.assert_allclose(got.covariance, np.cov(means, rowvar=False) / 8)


def test_control_variate_is_the_regression_on_replicate_means():
    got = run("asian_option", 16 * 256, rng=6, sampling=SOBOL)
    y, x = part(got).means.T
    mu = got["geometric"].exact
    design = np.column_stack([np.ones(16), x - mu])
    coef, ssr, *_ = np.linalg.lstsq(design, y, rcond=None)
    s2 = ssr[0] / (16 - 2)
    se = math.sqrt(s2 * np.linalg.inv(design.T @ design)[0, 0])  # the intercept's OLS standard error
    cv = got["arithmetic_cv"]
    np.testing.assert_allclose([cv.estimate, cv.standard_error], [coef[0], se], rtol=1e-10)
    assert cv.details["df"] == 14 and cv.details["replicates"] == 16 and cv.samples == 4096
    h = student_t.ppf(0.975, 14) * se
    np.testing.assert_allclose(cv.interval, (coef[0] - h, coef[0] + h), rtol=1e-10)
    # Post hoc, the same.
    again = got.control_variate("arithmetic", "geometric")
    assert (again.estimate, again.standard_error) == (cv.estimate, cv.standard_error)


def test_derived_quantities_use_the_replicate_covariance():
    got = run("buffon", 16 * 1024, rng=7, sampling=SOBOL)
    p, se_p = got["crossing"].estimate, got["crossing"].standard_error
    pi = got["pi"]
    assert pi.estimate == pytest.approx(1.0 / p) and pi.standard_error == pytest.approx(se_p / p**2)
    assert pi.interval[1] - pi.estimate == pytest.approx(student_t.ppf(0.975, 15) * pi.standard_error)
    assert pi.details["df"] == 15 and pi.covers(math.pi)
    post = got.derive("pi_again", lambda c: 1.0 / c, inputs=["crossing"])
    assert post.standard_error == pytest.approx(pi.standard_error) and post.details["replicates"] == 16


# --------------------------------------------------------------------------
# every built-in uniform form estimates what its model does
# --------------------------------------------------------------------------

CASES = [
    ("pi", {}, "pi"),
    ("buffon", {"length": 0.7}, "crossing"),
    ("european_option", {}, "price"),
    ("european_option", {"kind": "put", "antithetic": True, "strike": 90.0}, "price"),
    ("asian_option", {"steps": 5}, "geometric"),
    ("tail_probability", {"c": 2.0}, "plain"),
    ("tail_probability", {"c": 3.0}, "importance"),
    *[("integrate", {"family": f, "dim": 4}, "value") for f in ("oscillatory", "product_peak", "corner_peak")],
    *[("integrate", {"family": f, "dim": 4}, "value") for f in ("gaussian", "continuous", "discontinuous")],
]


@pytest.mark.parametrize("sampler", ["sobol", "halton"])
@pytest.mark.parametrize("model, params, output", CASES)
def test_uniform_forms_hit_the_exact_value(model, params, output, sampler):
    got = run(
        model, 8 * 2048, rng=11, params=params, sampling=Sampling(sampler=sampler, replicates=8), confidence=0.999
    )
    e = got[output]
    assert e.covers(e.exact), e
    assert e.standard_error > 0


def test_uniform_forms_match_the_generator_forms():
    # The same draws through both forms: u = Φ(z) for the normals.
    from scipy.special import ndtr

    from montecarlo.models.builtin import asian_option, european_option, tail_probability

    z = np.random.default_rng(1).standard_normal((1000, 7))
    u = ndtr(z)
    np.testing.assert_allclose(normals(u), z, atol=1e-9)
    params = {"spot": 100.0, "strike": 95.0, "rate": 0.03, "volatility": 0.3, "maturity": 2.0}
    bs = european_option.price_at(u, **params, kind="call", antithetic=False)
    s = 100 * np.exp((0.03 - 0.045) * 2 + 0.3 * math.sqrt(2) * z[:, 0])
    np.testing.assert_allclose(bs, math.exp(-0.06) * np.maximum(s - 95, 0), atol=1e-9)
    tail = tail_probability.tail_at(u, c=1.0, shift=None)
    np.testing.assert_array_equal(tail[:, 0], z[:, 0] > 1.0)
    inc = asian_option.prices_at(u, **params, steps=7, bridge=False)
    x = np.cumsum((0.03 - 0.045) * 2 / 7 + 0.3 * math.sqrt(2 / 7) * z, axis=1)
    expect = math.exp(-0.06) * np.maximum(100 * np.exp(x).mean(axis=1) - 95, 0)
    np.testing.assert_allclose(inc[:, 0], expect, atol=1e-9)


@pytest.mark.parametrize("steps", [1, 2, 5, 12, 16])
def test_brownian_bridge_has_the_covariance_of_brownian_motion(steps):
    dt = 0.25
    a = brownian_bridge(np.eye(steps), dt)  # row i: the path of the i-th unit normal
    t = dt * np.arange(1, steps + 1)
    np.testing.assert_allclose(a.T @ a, np.minimum.outer(t, t), atol=1e-12)
    # The first coordinate alone fixes the end point.
    assert np.count_nonzero(a[1:, -1]) == 0


@pytest.mark.slow
def test_brownian_bridge_beats_time_order_on_sobol_points():
    from montecarlo.models.builtin import asian_option

    bridge = montecarlo.models.registry.load_model("asian_option")
    ordered = dataclasses.replace(bridge, uniform=functools.partial(asian_option.prices_at, bridge=False))
    se = [run(m, 16 * 2048, rng=3, sampling=SOBOL)["arithmetic"].standard_error for m in (bridge, ordered)]
    assert se[0] < 0.5 * se[1]


# --------------------------------------------------------------------------
# resume, extend, checkpoints
# --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    "sampling, n1, n2",
    [(Sampling(sampler="sobol", replicates=4, block_size=256), 4 * 1024, 4 * 3000),
     (Sampling(sampler="halton", replicates=3, block_size=100), 3 * 250, 3 * 1000),
     (Sampling(sampler="sobol", replicates=4), 4 * 1024, 4 * 2048)],  # one short block per replicate
)  # fmt: skip
def test_extend_equals_a_single_run(sampling, n1, n2):
    short = run("asian_option", n1, rng=4, sampling=sampling)
    longer = montecarlo.extend(short, n2, execution=Execution(workers=2))
    straight = run("asian_option", longer.samples, rng=4, sampling=sampling)
    if n2 == 4 * 3000:
        assert longer.samples == 4 * 4096  # 3000 per replicate: the next power of two
    assert numbers(longer) == numbers(straight) and longer.continuation == straight.continuation


@pytest.mark.slow
def test_extend_from_the_command_line_says_how_n_was_rounded(tmp_path, capsys):
    first = tmp_path / "r.json"
    args = ["asian_option", "--sampler", "sobol", "--replicates", "4", "-s", "3", "-q", "--json"]
    assert mc(capsys, "run", *args, "-n", "4096", "-o", first)[0] == 0
    code, extended, err = mc(capsys, "extend", first, "-n", "10000", "-q", "--json")
    assert code == 0 and err == (
        "sobol: 4 replicates x 4,096 points = 16,384 samples (10,000 asked for, rounded up to a power of two "
        "per replicate)\nnot saved: add -o FILE to write the extended result\n"
    )
    code, straight, _ = mc(capsys, "run", *args, "-n", "16384")
    assert numbers(montecarlo.Result.from_json(extended)) == numbers(montecarlo.Result.from_json(straight))


@pytest.mark.slow
def test_an_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    sampling = Sampling(sampler="sobol", replicates=4)
    straight = run(modelzoo.interrupted, 4 * 4096, rng=8, sampling=sampling)
    ck = tmp_path / "c.json"
    modelzoo.INTERRUPT.calls, modelzoo.INTERRUPT.after = 0, 50
    try:
        with pytest.raises(KeyboardInterrupt):
            run(modelzoo.interrupted, 4 * 4096, rng=8, sampling=sampling, checkpoint=Checkpointing(ck, every=0.001))
    finally:
        modelzoo.INTERRUPT.after = None
    saved = json.loads(ck.read_text())
    assert 0 < saved["samples_done"] < 4 * 4096 and not saved["complete"]
    again = run(modelzoo.interrupted, 4 * 4096, rng=8, sampling=sampling, checkpoint=Checkpointing(ck, resume=True))
    assert numbers(again) == numbers(straight)
    assert again.provenance["resumed_at_samples"] == saved["samples_done"]


@pytest.mark.slow
def test_the_dimension_may_be_a_function_of_the_parameters():
    got = run(
        modelzoo.sum_of_uniforms, 8 * 512, rng=1, params={"k": 5}, sampling=Sampling(sampler="halton", replicates=8)
    )
    assert got.interval[0] < 2.5 < got.interval[1] and got.standard_error < 0.2 * math.sqrt(5 / 12 / 4096)
    assert numbers(got) == numbers(
        run(modelzoo.sum_of_uniforms, 8 * 512, rng=1, params={"k": 5}, sampling=Sampling(sampler="halton", replicates=8),
            execution=Execution(workers=2))
    )  # fmt: skip


# --------------------------------------------------------------------------
# messages: every one names the option, the value and what is accepted
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"sampler": "sobl"}, "`sampler` = 'sobl' is not accepted; accepted: one of random, sobol, halton."),
        ({"replicates": 8}, "`replicates` = 8 needs a quasi-random sampler; accepted: a count together with `sampler` sobol or halton."),
        ({"sampler": "sobol", "replicates": 1}, "`replicates` = 1 is not accepted; accepted: an integer from 2 to 1024."),
        ({"sampler": "sobol", "block_size": 1000}, "`block_size` = 1000 is not accepted; accepted: a power of two with `sampler` sobol (the balance of Sobol' points)."),
        ({"sampler": "sobol", "batch_size": 100}, "`batch_size` = 100 is not accepted; accepted: a power of two with `sampler` sobol (the balance of Sobol' points)."),
    ],
)  # fmt: skip
def test_sampling_messages(kwargs, message):
    with pytest.raises(ValidationError) as err:
        Sampling(**kwargs)
    assert str(err.value) == message


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"samples": 1000, "replicates": 4}, "`samples` = 1000 gives 250 points per replicate; accepted: `replicates` = 4 times a power of two, with `sampler` sobol."),
        ({"samples": 1001, "replicates": 4}, "`samples` = 1001 does not split into equal replicates; accepted: a multiple of `replicates` = 4."),
        ({"samples": 4 << 31, "replicates": 4}, "`samples` = 8589934592 gives 2,147,483,648 points per replicate; accepted: at most 2^30 = 1,073,741,824 points per replicate (more replicates take more points)."),
        ({"samples": 4096, "replicates": 1}, "`replicates` = 1 is not accepted; accepted: an integer from 2 to 1024."),
        ({"samples": 4096, "replicates": 4, "sampler": "random"}, "`replicates` = 4 needs a quasi-random sampler; accepted: 1 with `sampler` random."),
    ],
)  # fmt: skip
def test_runspec_messages(fields, message):
    base = {"model": "pi", "sampler": "sobol", "block_size": 256, "batch_size": 256}
    with pytest.raises(ValidationError) as err:
        RunSpec(**{**base, **fields})
    assert str(err.value) == message


def test_models_without_a_uniform_form_are_refused_in_one_line(capsys):
    for model in ("gamblers_ruin", "modelzoo:exp_mean"):
        code, out, err = mc(capsys, "run", model, "--sampler", "sobol")
        assert code == 2 and out == "" and err.count("\n") == 1
        name = model.split(":")[-1]
        assert err.startswith(
            f"Error: --sampler sobol needs a model with a uniform form (a fixed dimension d and a function of points "
            f"in [0, 1)^d), and model {name!r} has none; accepted: random for this model."
        )


def test_command_line_messages(capsys):
    code, _, err = mc(capsys, "run", "pi", "--replicates", "4")
    assert code == 2 and err.startswith(
        "Error: --replicates 4 needs a quasi-random sampler; accepted: a count together with --sampler sobol or halton."
    )
    code, _, err = mc(capsys, "run", "pi", "--sampler", "sobol", "--interval", "wilson")
    assert code == 2 and err.startswith(
        "Error: --interval wilson is a binomial interval; accepted: auto, t or normal with --sampler sobol "
        "(an interval on the replicate means)."
    )
    code, _, err = mc(capsys, "run", "pi", "--sampler", "qmc")
    assert code == 2 and "--sampler qmc is not accepted; accepted: one of random, sobol, halton." in err
    code, _, err = mc(capsys, "run", "pi", "--sampler", "sobol", "--block-size", "1000")
    assert code == 2 and "--block-size 1000 is not accepted; accepted: a power of two with --sampler sobol" in err
    code, _, err = mc(capsys, "run", "pi", "--sampler", "sobol", "-n", "1e12")
    assert code == 2 and err.startswith(
        "Error: --samples 1000000000000 needs 68,719,476,736 Sobol' points per replicate; accepted: at most 2^30 = "
        "1,073,741,824 points per replicate (17,179,869,184 samples with 16 replicates)."
    )


def test_model_declarations_are_checked():
    with pytest.raises(
        ValidationError, match="`dimension` = 2 is given without the other; accepted: a function uniform"
    ):
        montecarlo.model(dimension=2)(lambda rng, n: rng.random(n))
    with pytest.raises(
        ValidationError, match="`dimension` = 0 is not accepted; accepted: an integer >= 1 or a function"
    ):
        montecarlo.model(dimension=0, uniform=lambda u: u[:, 0])(lambda rng, n: rng.random(n))
    bad = montecarlo.model(dimension=lambda: "two", uniform=lambda u: u[:, 0])(lambda rng, n: rng.random(n))
    with pytest.raises(
        ValidationError, match="`dimension` = 'two' of model '<lambda>' at the parameters {} is not acc"
    ):
        montecarlo.make_spec(bad, 1024, sampling=SOBOL)
    wide = montecarlo.model(dimension=30000, uniform=lambda u: u[:, 0])(lambda rng, n: rng.random(n))
    with pytest.raises(ValidationError, match="cannot draw the 30000 dimensions of model '<lambda>'; accepted: halton"):
        montecarlo.make_spec(wide, 1024, sampling=SOBOL)
    with pytest.raises(ValidationError, match="cannot draw the 30000 dimensions of model '<lambda>' in bounded memory"):
        montecarlo.make_spec(wide, 1024, sampling=Sampling(sampler="halton"))  # Halton's scrambling: memory ~ d^2


def test_a_model_error_names_the_replicate_and_points():
    def boom(u):
        if u[0, 0] < 2:
            raise ValueError("no")
        return u[:, 0]

    rec = montecarlo.model(dimension=1, uniform=boom)(lambda rng, n: rng.random(n))
    with pytest.raises(montecarlo.ModelError, match=r"block 0: replicate 0, points 0-63, spawn key \(0,\)"):
        run(rec, 4 * 64, rng=1, sampling=Sampling(sampler="sobol", replicates=4))
    spec = montecarlo.make_spec(rec, 4 * 64, rng=1, sampling=Sampling(sampler="sobol", replicates=4))
    with pytest.raises(ValueError, match="^no$"):  # the model's own exception, in-process
        montecarlo.replay_block(spec, 3, rec)


# --------------------------------------------------------------------------
# experiment files: the same keys, and a sweep of the sampler
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_experiment_files_set_and_sweep_the_sampler(tmp_path, capsys):
    from montecarlo.experiments import load_experiment

    one = tmp_path / "one.toml"
    one.write_text('model = "asian_option"\nsamples = 4096\nseed = 1\nsampler = "halton"\nreplicates = 8\n')
    (point,) = load_experiment(str(one)).points
    assert (point.spec.sampler, point.spec.replicates, point.spec.samples) == ("halton", 8, 4096)
    both = tmp_path / "both.toml"
    both.write_text(
        'model = "european_option"\nsamples = 5000\nseed = 2\n[sweep.params]\nsampler = ["random", "sobol"]\n'
        '[expect]\nprice = "exact"\n'
    )
    exp = load_experiment(str(both))
    assert [(p.swept, p.spec.sampler, p.spec.samples, p.spec.spawn_key) for p in exp.points] == [
        ({"sampler": "random"}, "random", 5000, (0,)),
        ({"sampler": "sobol"}, "sobol", 16 * 512, (1,)),
    ]
    out = tmp_path / "results"
    assert mc(capsys, "experiment", "run", both, "-o", out, "-w", "2", "-q")[0] == 0
    (folder,) = list((out / "both").iterdir())
    assert (folder / "sweep.csv").read_text().splitlines()[1].startswith("0,random,5000,")
    capsys.readouterr()
    # The table says what each point ran: the Sobol' point rounds up to 16 x 2^9
    table = mc(capsys, "experiment", "show", folder)[1].splitlines()
    assert "2 points (grid sweep), samples as listed," in table[1]
    assert table[2].split()[:3] == ["point", "sampler", "samples"]
    assert table[3].split()[:3] == ["0", "random", "5,000"] and table[4].split()[:3] == ["1", "sobol", "8,192"]
    code, text, err = mc(capsys, "reproduce", folder / "result.json", "--workers", "1", "--executor", "serial")
    assert code == 0 and text.endswith("bit-identical\n"), err


@pytest.mark.parametrize(
    "text, message",
    [
        ('sampler = "sobl"', "`sampler` = 'sobl' is not accepted; accepted: one of random, sobol, halton."),
        ("replicates = 4", "`replicates` = 4 needs a quasi-random sampler; accepted: a count together with `sampler` sobol or halton."),
        ('sampler = "sobol"\n[sweep.params]\nsampler = ["random"]', "`sampler` is both set and swept ([sweep.params]); accepted: one of the two."),
        ('[sweep.params]\nsampler = ["random", "quasi"]', "[sweep] point 1 (sampler='quasi'): `sampler` = 'quasi' is not accepted; accepted: one of random, sobol, halton."),
        ('replicates = 4\n[sweep.params]\nsampler = ["sobol", "random"]', "`replicates` = 4 needs a quasi-random sampler"),
    ],
)  # fmt: skip
def test_experiment_file_messages(tmp_path, text, message):
    from montecarlo.experiments import ExperimentError, load_experiment

    path = tmp_path / "bad.toml"
    path.write_text(f'model = "european_option"\n{text}\n')
    with pytest.raises(ExperimentError) as err:
        load_experiment(str(path))
    assert str(err.value).startswith(f"{path}: {message}")


@pytest.mark.slow
def test_the_documented_example_runs(capsys):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "rqmc.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python\n(.*?)```", doc, flags=re.S)
    exec(compile(code, "docs/rqmc.md", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.startswith("basket: 65,536 samples (sobol: 16 replicates x 4,096 points)")


def test_show_tells_whether_a_model_runs_on_quasi_random_points(capsys):
    assert "uniform form of dimension 12 at the defaults\n" in mc(capsys, "show", "asian_option")[1]
    assert "uniform form of dimension 1\n" in mc(capsys, "show", "european_option")[1]
    assert "quasi-random points: no uniform form (--sampler random only)\n" in mc(capsys, "show", "gamblers_ruin")[1]


@pytest.mark.slow
def test_the_issues_acceptance_runs(capsys):
    # mc run european_option --sampler sobol -n 1048576 --seed 1, with 1 and 2 workers, and plain.
    args = ["run", "european_option", "-n", "1048576", "--seed", "1", "--json", "-q"]
    runs = [json.loads(mc(capsys, *args, "--sampler", "sobol", "--workers", w)[1]) for w in ("1", "2")]
    assert {k: runs[0][k] for k in ("outputs", "accumulator")} == {k: runs[1][k] for k in ("outputs", "accumulator")}
    sobol, plain = runs[0]["outputs"]["price"], json.loads(mc(capsys, *args)[1])["outputs"]["price"]
    assert sobol["standard_error"] <= 0.05 * plain["standard_error"]
    assert abs(sobol["error_in_se"]) <= 3.3
    # mc run asian_option --sampler sobol -n 262144: the arithmetic average's standard error at most 0.2x plain.
    asian = [run("asian_option", 262144, rng=2, sampling=s)["arithmetic"] for s in (SOBOL, Sampling())]
    assert asian[0].standard_error <= 0.2 * asian[1].standard_error
