"""The opt-in two-stage rule: pilot and fresh sample sizes, the stated guarantee, its flags."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import modelzoo
import pytest
from conftest import mc, numbers
from scipy.stats import binom

import montecarlo
from montecarlo import Stopping
from montecarlo.core.twostage import BERRY_ESSEEN, INFLATION, fresh_samples, kurtosis_covered, pilot_samples


@pytest.mark.parametrize("kurtosis", [0.5, 3.0, 6.0, 10.0, 100.0])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_the_pilot_is_the_smallest_that_bounds_sigma(kurtosis, confidence):
    n = pilot_samples(kurtosis, confidence)
    assert kurtosis_covered(n, confidence) >= kurtosis + 3 > kurtosis_covered(n - 1, confidence)
    # Cantelli's bound, written out: Var(s^2)/sigma^4 = (k - (n-3)/(n-1))/n must be at most a/(1-a) (1 - 1/C^2)^2.
    a = 1 - math.sqrt(confidence)
    assert ((kurtosis + 3) - (n - 3) / (n - 1)) / n <= a / (1 - a) * (1 - 1 / INFLATION**2) ** 2 * (1 + 1e-12)


@pytest.mark.parametrize(("sigma", "tol", "kurtosis"), [(1.0, 0.1, 0.0), (1.0, 0.01, 6.0), (3.0, 0.5, 100.0)])
def test_fresh_samples_are_the_smallest_chebyshev_or_berry_esseen_count(sigma, tol, kurtosis):
    n = fresh_samples(sigma, tol, kurtosis, 0.95)
    a = 1 - math.sqrt(0.95)

    def bound(m):
        return 2 * NormalDist().cdf(-math.sqrt(m) * tol / sigma) + 2 * BERRY_ESSEEN * (
            kurtosis + 3
        ) ** 0.75 / math.sqrt(m)

    chebyshev = math.ceil((sigma / tol) ** 2 / a)
    assert n <= chebyshev
    assert n == chebyshev or (bound(n) <= a < bound(n - 1))
    assert fresh_samples(0.0, tol, kurtosis, 0.95) == 1


@pytest.mark.slow
def test_a_two_stage_run_reports_the_mean_of_its_fresh_blocks_on_every_executor():
    kwargs = {"rng": 4, "stopping": Stopping(tolerance=0.1, kurtosis_bound=10.0)}
    ref = montecarlo.run(modelzoo.exponential, execution="serial", **kwargs)
    two = montecarlo.run(modelzoo.exponential, execution=montecarlo.Execution(workers=2), **kwargs)
    assert numbers(two) == numbers(ref)
    e = ref["x_two_stage"]
    part = ref.accumulator.parts["two_stage"]
    pilot = pilot_samples(10.0, 0.95)
    assert part.pilot.count == math.ceil(pilot / 1000) * 1000 == e.details["pilot_samples"]
    assert e.samples == part.fresh.count >= e.details["fresh_needed"] > part.fresh.count - 1000
    assert ref.samples == part.pilot.count + part.fresh.count and ref.stopping["target_met"]
    assert e.interval == (e.estimate - 0.1, e.estimate + 0.1) and e.method == "two-stage" and not e.warnings
    assert e.estimate == part.fresh.mean[0] != ref["x"].estimate
    back = montecarlo.Result.from_json(ref.to_json())
    assert back["x_two_stage"] == e
    assert json.loads(ref.to_json())["derived"]["x_two_stage"]["kind"] == "two-stage"


@pytest.mark.slow
def test_the_guarantee_holds_over_many_seeds():
    # Exponential outcomes: excess kurtosis 6, within the assumed bound 10.
    reps, hits = 400, 0
    for seed in range(reps):
        r = montecarlo.run(modelzoo.exponential, rng=seed, execution="serial",
                           stopping=Stopping(tolerance=0.1, kurtosis_bound=10.0))  # fmt: skip
        hits += r["x_two_stage"].covers(1.0)
    assert hits >= binom.ppf(0.001, reps, 0.95), f"{hits}/{reps}"


@pytest.mark.slow
def test_flags_when_the_assumption_fails_or_the_cap_comes_first(capsys):
    stopping = Stopping(tolerance=0.05, kurtosis_bound=10.0, target="importance", max_samples=1 << 16)
    r = montecarlo.run("tail_probability", rng=1, params={"c": -3.0, "shift": -3.0}, execution="serial",
                       stopping=stopping, sampling=montecarlo.Sampling(block_size=1 << 13))  # fmt: skip
    e = r["importance_two_stage"]
    assert e.warnings == ("two-stage-incomplete", "kurtosis-bound") and e.details["pilot_kurtosis"] > 10.0
    assert r.stopping["target_met"] is False and e.method == "t"
    code, out, err = mc(capsys, "run", "tests/modelzoo.py:exponential", "-n", "6000", "-s", "1", "--tolerance",
                        "0.01", "--kurtosis-bound", "10", "-q")  # fmt: skip
    assert code == 0, err
    assert "(!) x_two_stage: the run ended with 1,000 fresh samples" in out


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"kurtosis_bound": 10.0}, "`kurtosis_bound` = 10.0 needs a tolerance; accepted: a bound together with `tolerance`."),
        ({"tolerance": 0.1, "rtol": 0.01, "kurtosis_bound": 10.0}, "`rtol` = 0.01 cannot stop a two-stage run early; accepted: rtol or the two-stage rule, not both."),
        ({"tolerance": 0.1, "kurtosis_bound": -1.0}, "`kurtosis_bound` = -1.0 is not accepted; accepted: a finite number > 0, such as 10."),
    ],
)  # fmt: skip
def test_bad_two_stage_options(kwargs, message):
    with pytest.raises(montecarlo.ValidationError) as info:
        Stopping(**kwargs)
    assert str(info.value).startswith(message)


def test_two_stage_targets_model_outputs_only(capsys):
    with pytest.raises(
        montecarlo.ValidationError, match=r"`target` = 'pi' is not a model output; accepted: one of crossing"
    ):
        montecarlo.make_spec("buffon", stopping=Stopping(tolerance=0.1, kurtosis_bound=3.0, target="pi"))
    code, _, err = mc(capsys, "run", "pi", "--kurtosis-bound", "3", "-q")
    assert code == 2 and "--kurtosis-bound 3.0 needs a tolerance; accepted: a bound together with --tolerance." in err
