"""Quantiles and expected shortfall: exact ranks, sketches that merge exactly, intervals that cover."""

from __future__ import annotations

import dataclasses
import json
import math
from fractions import Fraction

import modelzoo
import numpy as np
import pytest
from conftest import mc, numbers
from scipy.stats import binom, norm, poisson

import montecarlo
from montecarlo import Execution, Sampling
from montecarlo.estimation.quantiles import binomial_cdf, ladder, rank_bounds
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.sketch import BITS, TAIL, Buckets, Extremes, Sketch, bucket_bounds, bucket_keys

# --------------------------------------------------------------------------
# order-statistic ranks against exact binomial enumeration
# --------------------------------------------------------------------------


def exact_cdf(n: int, q: float) -> tuple[list[int], int]:
    """``P(B <= j) * D**n`` for ``j = 0..n`` as exact integers, and ``D``, for the float ``q = a / D``."""
    a, d = Fraction(q).as_integer_ratio()
    cdf, total = [], 0
    for j in range(n + 1):
        total += math.comb(n, j) * a**j * (d - a) ** (n - j)
        cdf.append(total)
    return cdf, d


def exact_ranks(n: int, q: float, confidence: float) -> tuple[int, int, Fraction]:
    """``(l, u)`` and the guaranteed coverage, from the binomial distribution in exact integer arithmetic."""
    cdf, d = exact_cdf(n, q)
    scale = d**n
    h_num, h_den = Fraction((1.0 - confidence) / 2.0).as_integer_ratio()  # the float the code compares with

    def below(r: int) -> int:  # P(B <= r - 1) * scale
        return cdf[r - 1] if r >= 1 else 0

    low = max(r for r in range(0, n + 1) if below(r) * h_den <= h_num * scale)
    up = min(r for r in range(1, n + 2) if (scale - below(r)) * h_den <= h_num * scale)
    return low, up, 1 - Fraction(below(low), scale) - Fraction(scale - below(up), scale)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 59, 150, 251])
def test_rank_bounds_equal_exact_binomial_enumeration(n):
    for q in (0.01, 0.1, 0.5, 0.9, 0.99):
        for confidence in (0.5, 0.9, 0.95, 0.99):
            low, up, guaranteed = exact_ranks(n, q, confidence)
            assert rank_bounds(n, q, confidence) == (low, up), (n, q, confidence)
            assert guaranteed >= Fraction(confidence)


@pytest.mark.slow
def test_binomial_cdf_matches_exact_arithmetic():
    n, q, j = 700, 0.3, 195
    cdf, d = exact_cdf(n, q)
    assert binomial_cdf(j, n, q) == pytest.approx(float(Fraction(cdf[j], d**n)), rel=1e-13)


def test_rank_bounds_for_a_huge_run_are_near_the_normal_approximation():
    n, q = 10**12, 0.99
    low, up = rank_bounds(n, q, 0.95)
    centre, half = n * q, 1.959964 * math.sqrt(n * q * (1 - q))
    assert abs(low - (centre - half)) < 3 and abs(up - (centre + half)) < 3


def test_too_few_samples_leave_an_end_unbounded():
    assert rank_bounds(10, 0.99, 0.95) == (9, 11)  # x_(11) does not exist: no upper bound
    r = montecarlo.run(modelzoo.laws, 10, rng=1, execution="serial", sampling=Sampling(quantiles=[0.99]))
    t = r.quantiles["normal"][0]
    assert t.interval[1] == math.inf and t.ranks == (9, 11)
    assert json.loads(r.to_json())["quantiles"]["normal"][0]["interval"][1] is None


# --------------------------------------------------------------------------
# the sketch: exact bucket indices, exact merges
# --------------------------------------------------------------------------


def some_floats(rng, n=20_000):
    x = np.concatenate([
        rng.normal(0, 1, n), rng.lognormal(0, 5, n), -rng.lognormal(0, 5, n), [0.0, -0.0, 5e-324, -5e-324, 1e308],
        rng.integers(-5, 5, n).astype(float),
    ])  # fmt: skip
    return x


def test_bucket_keys_are_monotone_and_buckets_narrow():
    x = np.sort(some_floats(np.random.default_rng(1))) + 0.0  # -0.0 counts as +0.0 (they compare equal)
    keys = bucket_keys(x)
    assert np.all(np.diff(keys) >= 0)
    low, high = bucket_bounds(keys)
    assert np.all(low <= x) and np.all(x <= high)
    normal = np.abs(x) > 1e-300
    width = (high - low)[normal] / np.minimum(np.abs(low), np.abs(high))[normal]
    assert width.max() <= 2.0**-BITS
    assert bucket_keys(np.array([-0.0]))[0] == -1 and bucket_keys(np.array([0.0]))[0] == 0


@pytest.mark.slow
def test_sketch_and_extremes_merge_exactly_in_any_grouping():
    rng = np.random.default_rng(2)
    x = some_floats(rng).reshape(-1, 1)
    whole_b, whole_e = Buckets.of(x[:, 0]), Extremes.of(x)
    for _ in range(5):
        cuts = np.sort(rng.choice(np.arange(1, x.shape[0]), 6, replace=False))
        pieces = np.split(x, cuts)
        left = Buckets.of(pieces[0][:, 0])
        for p in pieces[1:]:
            left = left.merge(Buckets.of(p[:, 0]))
        assert left == whole_b and left.total == x.shape[0]
        # Right-nested grouping: the same parts.
        right = Buckets.of(pieces[-1][:, 0])
        for p in reversed(pieces[:-1]):
            right = Buckets.of(p[:, 0]).merge(right)
        assert right == whole_b
        ext = Extremes.of(pieces[0])
        for p in pieces[1:]:
            ext = ext.merge(Extremes.of(p))
        assert ext == whole_e
    s = np.sort(x[:, 0])
    assert np.array_equal(whole_e.smallest[0], s[:TAIL]) and np.array_equal(whole_e.largest[0], s[-TAIL:])
    for part in (Sketch((whole_b,)), whole_e):
        assert type(part).from_dict(json.loads(json.dumps(part.to_dict()))) == part


# --------------------------------------------------------------------------
# quantile and shortfall estimates
# --------------------------------------------------------------------------


def stats_of(x, block=300):
    """The folded statistics of ``x`` with a distribution sketch, as a run folds them."""
    from montecarlo.stats.sketch import ExtremesCollector, SketchCollector

    collectors = [SketchCollector(), ExtremesCollector()]
    total = Stats.empty(x.shape[1])
    for start in range(0, x.shape[0], block):
        total = total.merge(Stats.from_batch(x[start : start + block], collectors))
    return total


@pytest.mark.parametrize("n", [1, 50, TAIL, 2 * TAIL - 1, 2 * TAIL + 1, 5_000])
def test_quantile_estimate_and_interval_hold_the_sample_order_statistics(n):
    from montecarlo.estimation.quantiles import quantile_estimate

    x = np.random.default_rng(n).lognormal(0, 1, (n, 1))
    s = np.sort(x[:, 0])
    lad = ladder(stats_of(x), 0)
    for q in (0.01, 0.25, 0.5, 0.9, 0.99):
        t = quantile_estimate(lad, "x", q, 0.95)
        r = max(1, math.ceil(Fraction(str(q)) * n))  # the decimal level: 0.9 is 9/10
        if n <= 2 * TAIL or min(r, n - r + 1) <= TAIL:
            assert t.estimate == s[r - 1]  # exact: from the kept extremes
        assert abs(t.estimate - s[r - 1]) <= 2.0**-BITS * s[r - 1]
        low, up = t.ranks
        assert t.interval[0] <= (s[low - 1] if low >= 1 else -math.inf)
        assert t.interval[1] >= (s[up - 1] if up <= n else math.inf)
        assert t.interval[0] <= t.estimate <= t.interval[1]


def test_discrete_outputs_get_exact_quantiles():
    r = montecarlo.run(modelzoo.laws, 20_000, rng=4, execution="serial", sampling=Sampling(quantiles=[0.5, 0.9]))
    for t, q in zip(r.quantiles["poisson"], (0.5, 0.9), strict=True):
        assert t.estimate == poisson.ppf(q, 3.0)  # the bucket of an integer holds only that integer
        assert t.interval[0] == math.floor(t.interval[0]) and t.interval[1] == math.floor(t.interval[1])


def test_expected_shortfall_of_a_small_sample_is_the_mean_of_its_top_values():
    from montecarlo.estimation.quantiles import shortfall_estimate

    x = np.random.default_rng(8).normal(size=(100, 1))
    s = np.sort(x[:, 0])[::-1]
    lad = ladder(stats_of(x), 0)
    t = shortfall_estimate(lad, "x", 0.875, 0.95)  # n (1 - q) = 12.5 samples
    want = (s[:12].sum() + 0.5 * s[12]) / 12.5
    assert t.estimate == pytest.approx(want, rel=1e-14)
    assert t.interval[0] < want < t.interval[1] and t.warnings == ("tail-samples",)


@pytest.mark.slow
def test_done_when_european_quantiles_cover_the_exact_lognormal_quantiles_on_any_worker_count():
    kwargs = {"rng": 2, "sampling": Sampling(quantiles=[0.5, 0.99], block_size=1 << 15)}
    one = montecarlo.run("european_option", 200_000, execution=Execution(workers=1), **kwargs)
    two = montecarlo.run("european_option", 200_000, execution=Execution("processes", workers=2), **kwargs)
    assert numbers(one) == numbers(two)
    for t in one.quantiles["price"]:
        z = norm.ppf(t.q)  # the discounted payoff is monotone in Z: its quantile is the payoff at Z's
        exact = math.exp(-0.05) * max(100.0 * math.exp(0.05 - 0.02 + 0.2 * z) - 100.0, 0.0)
        assert t.covers(exact), (t.q, t.interval, exact)
    assert [t.method for t in one.quantiles["price"]] == ["order-statistic"] * 2


@pytest.mark.slow
def test_quantiles_survive_checkpoint_resume_and_extend(tmp_path):
    sampling = Sampling(quantiles=[0.1, 0.5, 0.999], shortfall=[0.95])
    straight = montecarlo.run(modelzoo.laws, 30_000, rng=5, execution="serial", sampling=sampling)
    short = montecarlo.run(modelzoo.laws, 10_000, rng=5, execution="serial", sampling=sampling)
    # An extension keeps its sketch's resolution (chosen for 10,000 samples): it equals the run of that RunSpec.
    same = dataclasses.replace(sampling, quantile_resolution=2.0**-short.spec.quantile_bits)
    assert short.spec.quantile_bits < straight.spec.quantile_bits
    longer = montecarlo.run(modelzoo.laws, 30_000, rng=5, execution="serial", sampling=same)
    assert numbers(montecarlo.extend(short, 30_000, execution="threads")) == numbers(longer)
    ck = tmp_path / "c.json"
    montecarlo.run(modelzoo.laws, 30_000, rng=5, execution="serial", sampling=sampling, checkpoint=ck)
    again = montecarlo.run(
        modelzoo.laws, 30_000, rng=5, sampling=sampling, checkpoint=montecarlo.Checkpointing(ck, resume=True)
    )
    assert numbers(again) == numbers(straight)
    back = montecarlo.Result.from_json(straight.to_json())
    assert back.quantiles == straight.quantiles and back.shortfall == straight.shortfall


@pytest.mark.slow
def test_json_layout_and_table_rows(capsys):
    code, out, err = mc(capsys, "run", "european_option", "-n", "20000", "-s", "2", "--quantile", "0.99",
                        "--quantile", "0.5", "--shortfall", "0.99", "--json", "-q")  # fmt: skip
    assert code == 0, err
    d = json.loads(out)
    rows = d["quantiles"]["price"]
    assert [r["q"] for r in rows] == [0.5, 0.99]
    assert set(rows[0]) >= {"q", "estimate", "interval", "method", "confidence", "ranks"}
    assert rows[0]["method"] == "order-statistic" and d["spec"]["quantiles"] == [0.5, 0.99]
    es = d["shortfall"]["price"][0]
    assert es["q"] == 0.99 and es["method"] == "normal" and es["interval"][0] < es["estimate"] < es["interval"][1]
    code, out, _ = mc(capsys, "run", "european_option", "-n", "20000", "-s", "2", "--quantile", "0.99", "-q")
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith("price q0.99"))
    assert "order-statistic" in row and f"{rows[1]['estimate']:.2f}"[:4] in row


def test_a_run_without_quantiles_keeps_the_digest_and_form_of_earlier_releases():
    spec = montecarlo.make_spec("pi", 10**6, rng=1)
    d = spec.to_dict()
    assert not {"quantiles", "shortfall", "distribution"} & set(d)
    # The digest an earlier release computed for this run (its checkpoints still resume).
    assert spec.digest() == "9b00454850c265885e922b67d105c35907549bf2dee2bbedee74f467c0580627"
    with_q = montecarlo.make_spec("pi", 10**6, rng=1, sampling=Sampling(quantiles=0.5))
    assert with_q.digest() != spec.digest() and with_q.to_dict()["distribution"] is True
    assert montecarlo.RunSpec.from_dict(with_q.to_dict()) == with_q


# --------------------------------------------------------------------------
# coverage over many seeds (slow)
# --------------------------------------------------------------------------

LEVELS = (0.5, 0.9, 0.99)
EXACT = {
    "normal": [norm.ppf(q) for q in LEVELS],
    "lognormal": [math.exp(norm.ppf(q)) for q in LEVELS],
    "poisson": [poisson.ppf(q, 3.0) for q in LEVELS],
}


@pytest.mark.slow
def test_quantile_intervals_cover_at_or_above_nominal():
    reps, n = 1_000, 1_000
    covered = {k: [0] * len(LEVELS) for k in EXACT}
    sampling = Sampling(quantiles=LEVELS)
    for seed in range(reps):
        r = montecarlo.run(modelzoo.laws, n, rng=seed, execution="serial", sampling=sampling)
        for name, exact in EXACT.items():
            for i, t in enumerate(r.quantiles[name]):
                covered[name][i] += t.covers(exact[i])
    # At or above 95%: the counts must be consistent with a coverage >= 0.95.
    floor = binom.ppf(0.001, reps, 0.95)
    for name, counts in covered.items():
        for q, k in zip(LEVELS, counts, strict=True):
            assert k >= floor, f"{name} q={q}: {k}/{reps} covered, below the 99.9% floor {floor} of 95%"


# --------------------------------------------------------------------------
# one option, three entry points; every message
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantiles": [0.5, 1.5]}, "`quantiles` = 1.5 is not accepted; accepted: numbers strictly between 0 and 1, such as 0.99."),
        ({"quantiles": "abc"}, "`quantiles` = 'abc' is not a number; accepted: numbers strictly between 0 and 1, such as 0.99."),
        ({"quantiles": {"q": 0.5}}, "`quantiles` = {'q': 0.5} is not accepted; accepted: a number strictly between 0 and 1, or a list of them."),
        ({"shortfall": [0.0]}, "`shortfall` = 0.0 is not accepted; accepted: numbers strictly between 0 and 1, such as 0.99."),
        ({"distribution": "yes"}, "`distribution` = 'yes' is not accepted; accepted: true or false."),
    ],
)  # fmt: skip
def test_bad_values_are_refused_naming_the_option(kwargs, message):
    with pytest.raises(montecarlo.ValidationError) as info:
        Sampling(**kwargs)
    assert str(info.value) == message


def test_quantiles_on_the_command_line_and_in_experiment_files(tmp_path, capsys):
    code, _, err = mc(capsys, "run", "pi", "-n", "1000", "--quantile", "0.5", "--quantile", "1.5", "-q")
    assert code == 2
    assert err.startswith(
        "Error: --quantile 1.5 is not accepted; accepted: numbers strictly between 0 and 1, such as 0.99."
    )
    code, _, err = mc(capsys, "run", "pi", "-n", "1000", "--shortfall", "x", "-q")
    assert code == 2 and "--shortfall x is not a number" in err
    from montecarlo.experiments import ExperimentError, load_experiment

    path = tmp_path / "q.toml"
    path.write_text('model = "european_option"\nsamples = 1000\nseed = 1\nquantiles = [0.99, 0.5]\nshortfall = 0.9\n')
    spec = load_experiment(str(path)).points[0].spec
    assert (spec.quantiles, spec.shortfall, spec.distribution) == ((0.5, 0.99), (0.9,), True)
    path.write_text('model = "pi"\nsamples = 1000\nquantiles = [2]\n')
    with pytest.raises(ExperimentError, match=r"`quantiles` = 2 is not accepted; accepted: numbers strictly between"):
        load_experiment(str(path))
    path.write_text('model = "pi"\nsamples = 1000\ndistribution = true\n')
    assert load_experiment(str(path)).points[0].spec.distribution


@pytest.mark.parametrize("q", [0.1, 0.3, 0.7, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("n", [10, 1000, 10**5, 123_456])
def test_the_rank_is_that_of_the_decimal_level(n, q):
    # Fraction(0.9) lies just above 9/10: ceil(1000 * Fraction(0.9)) would be 901.
    from montecarlo.estimation.quantiles import quantile_rank

    want = max(1, math.ceil(Fraction(str(q)) * n))
    assert quantile_rank(n, q) == want
    x = np.arange(1.0, n + 1.0)  # the k-th order statistic is k
    assert np.quantile(x, q, method="inverted_cdf") == want or (n * q) % 1 != 0


@pytest.mark.slow
def test_quantile_intervals_keep_shrinking_past_the_coarsest_bucket():
    # The lognormal's median is 1. With buckets of 2^-7 the interval would stop
    # at one bucket (0.78%) from about 10^6 samples on; the sketch's
    # resolution follows the sample count, so it keeps shrinking as n^-1/2.
    def median(n):
        r = montecarlo.run(modelzoo.laws, n, rng=3, sampling=Sampling(quantiles=[0.5], block_size=1 << 17))
        (t,) = [t for t in r.quantiles["lognormal"]]
        assert t.covers(1.0), (n, t.interval)
        return t.interval[1] - t.interval[0], r.spec.quantile_bits

    wide, coarse = median(1 << 19)
    narrow, fine = median(1 << 21)
    assert fine > coarse > 7
    assert 0.4 < narrow / wide < 0.6  # n four times larger: half the width
    assert narrow < 0.6 * 2.0**-7


def test_the_resolution_is_the_callers_choice_within_bounds():
    from montecarlo.core.sampling import resolution_bits

    assert [resolution_bits(n) for n in (10, 10**4, 10**6, 10**7, 10**12)] == [7, 8, 11, 13, 15]
    assert resolution_bits(10, 1e-5) == 17 and resolution_bits(10**12, 2.0**-20) == 20
    spec = montecarlo.make_spec("pi", 10**4, sampling=Sampling(quantiles=[0.5], quantile_resolution=1e-5))
    assert spec.quantile_bits == 17
    assert montecarlo.make_spec("pi", 10**4).quantile_bits == 0  # no sketch
    for bad in (0.5, 1e-7, -1.0, "x"):
        with pytest.raises(montecarlo.ValidationError, match="quantile_resolution"):
            Sampling(quantile_resolution=bad)


def test_built_in_models_show_their_exact_quantiles():
    r = montecarlo.run("european_option", 10**5, rng=1, execution="serial", sampling=Sampling(quantiles=[0.5, 0.99]))
    for t in r.quantiles["price"]:
        z = norm.ppf(t.q)
        assert t.exact == pytest.approx(math.exp(-0.05) * max(100.0 * math.exp(0.05 - 0.02 + 0.2 * z) - 100.0, 0.0))
        assert t.covers(t.exact)
    assert montecarlo.Result.from_json(r.to_json()).quantiles == r.quantiles
    assert "price q0.99" in r.table() and f"{r.quantiles['price'][1].exact:.2f}"[:4] in r.table()
    put = montecarlo.run("european_option", 10**4, rng=1, params={"kind": "put"}, sampling=Sampling(quantiles=[0.9]))
    assert put.quantiles["price"][0].exact > 0  # a put's large payoffs come from low Z
    anti = montecarlo.run(
        "european_option", 10**4, rng=1, params={"antithetic": True}, sampling=Sampling(quantiles=[0.9])
    )
    assert anti.quantiles["price"][0].exact is None  # not monotone in Z: no closed form
    pi = montecarlo.run("pi", 10**4, rng=1, sampling=Sampling(quantiles=[0.1, 0.5]))
    assert [(t.estimate, t.exact) for t in pi.quantiles["pi"]] == [(0.0, 0.0), (4.0, 4.0)]
