"""Stopping rules: decided on the folded prefix, so bit-identical everywhere.

Tiers: identical stopping point and numbers for every worker count,
executor and task grouping; the stopping block is the first one that meets
the target; outcomes (cap, time limit) are reported, not raised; every
validation message; interval coverage under sequential stopping (slow).
"""

from __future__ import annotations

import json
import math
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import estimates_of, mc, numbers

import montecarlo
from montecarlo import Execution, Sampling, Stopping
from montecarlo.api import make_spec
from montecarlo.core.spec import RunSpec
from montecarlo.core.stopping_rules import (
    RULES,
    Prefix,
    RelativeTolerance,
    StoppingRule,
    TimeLimit,
    Tolerance,
    half_width,
)
from montecarlo.engine.backends.serial import SerialBackend
from montecarlo.engine.backends.threads import ThreadBackend
from montecarlo.engine.monitor import TRACE_PER_DECADE, Monitor
from montecarlo.engine.plan import plan_growing
from montecarlo.engine.scheduler import execute
from montecarlo.errors import TimeLimitError, ValidationError
from montecarlo.records.result import Result
from montecarlo.stats.accumulators import Stats
from montecarlo.stats.moments import Moments


@montecarlo.model(outputs=["a", "b"], block_size=1000)
def two_outputs(rng, n):
    """a: uniform (mean 1/2, sd 0.29); b: 10 x standard normal (mean 0, sd 10)."""
    return np.column_stack([rng.random(n), 10.0 * rng.standard_normal(n)])


def slow(rng, n):
    """Uniform values, slowly: 20 ms per call (for the time limit)."""
    time.sleep(0.02)
    return rng.random(n)


# --------------------------------------------------------------------------
# the determinism contract, with stopping
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pi_reference() -> Result:
    return montecarlo.run("pi", rng=2024, tolerance=1e-3, execution="serial")


@pytest.mark.slow
@pytest.mark.parametrize(
    "executor, workers",
    [
        ("serial", 1),
        ("threads", 1),
        ("threads", 2),
        ("threads", 4),
        ("processes", 1),
        ("processes", 2),
        ("processes", 4),
    ],
)
@pytest.mark.filterwarnings("ignore::montecarlo.errors.OversubscriptionWarning")  # more workers than cores, on purpose
def test_pi_tolerance_same_stop_for_every_executor(pi_reference, executor, workers):
    r = montecarlo.run("pi", rng=2024, tolerance=1e-3, execution=Execution(executor, workers=workers))
    assert r.stopping["rule"] == "tolerance" and r.stopping["target_met"] is True
    assert numbers(r) == numbers(pi_reference)
    assert r.estimate.hex() == pi_reference.estimate.hex()


@pytest.mark.slow
def test_pi_tolerance_with_a_callers_executor(pi_reference):
    with ThreadPoolExecutor(3) as pool:
        r = montecarlo.run("pi", rng=2024, tolerance=1e-3, execution=pool)
        assert numbers(r) == numbers(pi_reference)
        assert pool.submit(lambda: 7).result() == 7  # the caller's pool stays open


@pytest.mark.slow
def test_pi_tolerance_same_stop_on_a_dask_cluster(pi_reference, dask_client):
    r = montecarlo.run("pi", rng=2024, tolerance=1e-3, execution=dask_client)
    assert r.provenance["executor"] == "dask"
    assert numbers(r) == numbers(pi_reference)


@pytest.mark.slow
def test_pi_tolerance_stops_at_the_first_block_meeting_it(pi_reference):
    r = pi_reference
    h = half_width(r["pi"])
    assert h <= 1e-3
    # The prefix one block shorter did not meet the target, and a plain run of
    # exactly r.samples gives the very same numbers (the prefix is the run).
    shorter = montecarlo.run("pi", samples=r.samples - r.spec.block_size, rng=2024, execution="serial")
    assert half_width(shorter["pi"]) > 1e-3
    plain = montecarlo.run("pi", samples=r.samples, rng=2024, execution="serial")
    assert plain.accumulator == r.accumulator and plain.estimates == r.estimates
    # Accuracy: within the estimator's own 99.9% interval of π.
    assert abs(r.estimate - math.pi) <= 3.3 * r.standard_error


@pytest.mark.slow
@pytest.mark.parametrize("group, window", [(1, 1), (3, 2), (7, 5), (64, 2), (None, 3)])
def test_task_grouping_never_moves_the_stopping_block(group, window):
    # Many small blocks: the stopping block falls inside a task for most groupings.
    spec = make_spec("pi", rng=5, tolerance=2e-2, sampling=Sampling(block_size=1000))
    ref = execute(spec, SerialBackend(), group=1, window=1)
    backend = ThreadBackend(3)
    try:
        out = execute(spec, backend, group=group, window=window)
    finally:
        backend.close()
    assert out.total == ref.total
    assert out.ending == ref.ending and out.trace == ref.trace
    assert ref.ending.blocks == ref.total.count // 1000


def test_growing_tasks_keep_speculative_work_small():
    spec = make_spec("pi", samples=10**7, rng=5, tolerance=2e-2, sampling=Sampling(block_size=1000))
    tasks = list(plan_growing(spec, 4096, 8))
    starts = [t.start for t in tasks[:20]]
    assert starts[:9] == list(range(9))  # one block per task at first
    for t in tasks[:500]:
        assert len(t.blocks) <= max(1, t.start // 8)
    assert sum(len(t.blocks) for t in tasks) == spec.blocks


# --------------------------------------------------------------------------
# outcomes: target met, cap reached, time limit
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_cap_reached_is_an_outcome_not_an_error():
    r = montecarlo.run("pi", samples=3 * 2**22, rng=1, tolerance=1e-6, execution="serial")
    s = r.stopping
    assert r.samples == 3 * 2**22
    assert s["rule"] == "max_samples" and s["target_met"] is False and s["reproducible"] is True
    assert s["max_samples"] == 3 * 2**22 and "cap reached" in s["message"] and "target not met" in s["message"]
    # The cap given as `max_samples` is the same setting as `samples`: the same run.
    capped = montecarlo.run("pi", rng=1, stopping=Stopping(tolerance=1e-6, max_samples=3 * 2**22), execution="serial")
    assert numbers(capped) == numbers(r)


def test_plain_run_reports_its_ending_and_trace():
    r = montecarlo.run("pi", samples=10**6, rng=1, execution="serial")
    assert r.stopping["rule"] == "max_samples" and r.stopping["target_met"] is None
    assert r.stopping["rules"] == [] and r.trace[-1]["samples"] == 10**6


def test_min_samples_floor():
    free = montecarlo.run(two_outputs, rng=3, stopping=Stopping(tolerance=0.05, target="a"), execution="serial")
    floored = montecarlo.run(
        two_outputs, rng=3, stopping=Stopping(tolerance=0.05, target="a", min_samples=10_500), execution="serial"
    )
    assert free.samples < 10_500
    # The target was already met: the run stops at the first block boundary at or past the floor.
    bs = floored.spec.block_size
    assert floored.samples == -(-10_500 // bs) * bs
    assert floored.stopping["min_samples"] == 10_500 and floored.stopping["target_met"] is True


@pytest.mark.slow
def test_target_restricts_the_outputs_checked():
    only_a = montecarlo.run(two_outputs, rng=4, stopping=Stopping(tolerance=0.01, target="a"), execution="serial")
    both = montecarlo.run(two_outputs, rng=4, tolerance=0.01, execution="serial")
    assert half_width(only_a["a"]) <= 0.01 < half_width(only_a["b"])
    assert half_width(both["b"]) <= 0.01 and both.samples > only_a.samples


def test_rtol_and_tolerance_combine_as_either():
    r = montecarlo.run(two_outputs, rng=4, stopping=Stopping(rtol=0.02, target="a"), execution="serial")
    assert r.stopping["rule"] == "rtol" and half_width(r["a"]) <= 0.02 * abs(r["a"].estimate)
    # Tolerance 1e-9 is never met; the relative target ends the run as before.
    both = montecarlo.run(
        two_outputs, rng=4, stopping=Stopping(rtol=0.02, tolerance=1e-9, target="a"), execution="serial"
    )
    assert estimates_of(both) == estimates_of(r) and both.stopping["rule"] == "rtol"


@pytest.mark.slow
def test_time_limit_is_flagged_non_reproducible():
    r = montecarlo.run(
        slow,
        samples=10**6,
        sampling=Sampling(block_size=100, batch_size=100),
        rng=1,
        stopping=Stopping(time_limit=0.3),
        execution=Execution("threads", workers=2),
    )
    s = r.stopping
    assert s["rule"] == "time_limit" and s["reproducible"] is False and s["target_met"] is None
    assert 0 < r.samples < 10**6 and "not reproducible" in s["message"]
    assert r.elapsed < 3.0
    # The numbers it reached can still be repeated exactly.
    again = montecarlo.run(
        slow, samples=r.samples, sampling=Sampling(block_size=100, batch_size=100), rng=1, execution="serial"
    )
    assert again.accumulator == r.accumulator


@pytest.mark.slow
def test_time_limit_holds_while_a_block_runs():
    # Blocks of 25 calls of 20 ms = 0.5 s: the limit (0.7 s) passes while the
    # second block runs; the run ends there with the first block, unwaited.
    t0 = time.perf_counter()
    r = montecarlo.run(
        slow,
        samples=10**5,
        sampling=Sampling(block_size=2500, batch_size=100),
        rng=1,
        stopping=Stopping(time_limit=0.7),
        execution=Execution("threads", workers=1),
    )
    assert r.stopping["rule"] == "time_limit" and r.samples == 2500
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["serial", "threads", "processes"])
def test_time_limit_holds_before_the_first_block_is_done(executor):
    # One block of 50 calls of 20 ms = 1 s: the limit (0.1 s) passes first,
    # and there is nothing to estimate from.
    t0 = time.perf_counter()
    with pytest.raises(
        TimeLimitError, match=r"the time limit \(0\.1 s\) passed before the first block \(5,000 samples\)"
    ):
        montecarlo.run(
            slow,
            samples=10**5,
            sampling=Sampling(block_size=5000, batch_size=100),
            rng=1,
            stopping=Stopping(time_limit=0.1),
            execution=Execution(executor, workers=2),
        )
    assert time.perf_counter() - t0 < 0.9


@pytest.mark.slow
def test_time_limit_with_a_target_not_met():
    r = montecarlo.run(
        slow,
        samples=10**6,
        sampling=Sampling(block_size=100, batch_size=100),
        rng=1,
        stopping=Stopping(time_limit=0.2, tolerance=1e-9),
        execution="serial",
    )
    assert r.stopping["rule"] == "time_limit" and r.stopping["target_met"] is False


# --------------------------------------------------------------------------
# the trace
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_trace_is_geometric_and_bounded_whatever_n():
    spec = make_spec("pi", samples=10**15, rng=1, sampling=Sampling(block_size=10**10))
    rec = spec.model_record
    monitor = Monitor(spec, rec, lambda: 0.0)
    m = Stats(Moments(0, np.zeros(1), np.zeros((1, 1))))
    block = Stats(Moments(10**10, np.array([0.785]), np.array([[10**10 * 0.785 * 0.215]])))
    for b in range(1, spec.blocks + 1):
        m = m.merge(block)
        assert monitor.after_block(m, b) is None
    monitor.finish(m, spec.blocks, None)
    ns = [p["samples"] for p in monitor.trace]
    assert len(ns) <= TRACE_PER_DECADE * 15 + 2
    assert ns[0] == 10**10 and ns[-1] == 10**15 and ns == sorted(set(ns))
    for decade in range(10, 15):
        assert sum(10**decade <= n < 10 ** (decade + 1) for n in ns) <= TRACE_PER_DECADE + 1
    # Where blocks are fine compared with the spacing, points are evenly spaced in log n.
    fine = [n for n in ns[:-1] if n >= 10**13]
    ratios = [b / a for a, b in zip(fine, fine[1:], strict=False)]
    assert 10 ** (0.5 / TRACE_PER_DECADE) < min(ratios) and max(ratios) < 10 ** (1.5 / TRACE_PER_DECADE)


def test_trace_points_match_plain_runs_of_that_length(pi_reference):
    p = pi_reference.trace[1]
    plain = montecarlo.run("pi", samples=p["samples"], rng=2024, execution="serial")
    assert p["estimate"] == [plain.estimate] and p["interval"] == [list(plain.interval)]


# --------------------------------------------------------------------------
# RunSpec and JSON
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class IntervalExcludes(StoppingRule):
    """A user's rule: stop once the interval of ``output`` excludes ``value``."""

    output: str
    value: float = 0.0

    def should_stop(self, prefix: Prefix) -> bool:
        lo, hi = prefix[self.output].interval
        return not lo <= self.value <= hi


montecarlo.register_rule("excludes", IntervalExcludes)


def test_stop_round_trips_through_runspec_json():
    spec = make_spec(
        "pi",
        samples=10**8,
        rng=1,
        stopping=Stopping(tolerance=1e-3, rtol=1e-4, target="pi", min_samples=10**6, time_limit=5),
    )
    back = RunSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert back == spec and back.digest() == spec.digest()
    assert back.stop.rules == (Tolerance(1e-3, ("pi",)), RelativeTolerance(1e-4, ("pi",)), TimeLimit(5.0))
    plain = make_spec("pi", samples=10**8, rng=1)
    assert plain.stop == Stopping() and plain.digest() != spec.digest()


def test_a_user_rule_runs_and_round_trips():
    assert RULES.get("excludes") is IntervalExcludes and IntervalExcludes.name == "excludes"
    r = montecarlo.run(
        "pi",
        rng=1,
        stopping=Stopping(rules=IntervalExcludes("pi", 3.14)),
        sampling=Sampling(block_size=2**16),
        execution="serial",
    )
    assert r.stopping["rule"] == "excludes" and r.stopping["target_met"] is True
    assert not r["pi"].covers(3.14)
    # Written by its registered name, not as a "module:Class" reference.
    assert json.loads(r.to_json())["spec"]["stop"]["rules"] == [{"rule": "excludes", "output": "pi", "value": 3.14}]
    back = Result.from_json(r.to_json())
    assert back.spec == r.spec and back.stopping == r.stopping and back.trace == r.trace
    assert back.spec.stop.rules[0] == IntervalExcludes("pi", 3.14)


def test_result_json_has_stopping_and_trace():
    r = montecarlo.run("pi", samples=10**7, rng=1, tolerance=1e-2, execution="serial")
    d = json.loads(r.to_json())
    assert d["stopping"]["target_met"] is True and d["stopping"]["rule"] == "tolerance"
    assert d["trace"][-1]["samples"] == r.samples and d["spec"]["stop"]["rules"][0]["rule"] == "tolerance"


# --------------------------------------------------------------------------
# validation: every message names the argument, the value and what is accepted
# --------------------------------------------------------------------------

ACCEPTED_COUNT = r"accepted: an integer >= 1"


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: make_spec("pi", tolerance=0),
            r"`tolerance` = 0 is not accepted; accepted: a finite number > 0, such as 1e-3",
        ),
        (
            lambda: make_spec("pi", tolerance=-1e-3),
            r"`tolerance` = -0\.001 is not accepted; accepted: a finite number > 0",
        ),
        (
            lambda: make_spec("pi", tolerance=math.nan),
            r"`tolerance` = nan is not accepted; accepted: a finite number > 0",
        ),
        (
            lambda: make_spec("pi", tolerance="abc"),
            r"`tolerance` = 'abc' is not a number; accepted: a finite number > 0",
        ),
        (
            lambda: make_spec("pi", rtol=math.inf),
            r"`rtol` = inf is not accepted; accepted: a finite number > 0, such as 1e-4",
        ),
        (
            lambda: Stopping(time_limit=0),
            r"`time_limit` = 0 is not accepted; accepted: a finite number > 0, such as 60",
        ),
        (
            lambda: make_spec("pi", stopping=Stopping(tolerance=1e-3, target="nope")),
            r"`target` = 'nope' is not an estimate of the model; accepted: one of pi\.",
        ),
        (
            lambda: Stopping(tolerance=1e-3, target=3),
            r"`target` = 3 is not accepted; accepted: an output name or a list of output names",
        ),
        (
            lambda: Stopping(target="pi"),
            r"`target` = 'pi' needs a precision target; accepted: an output name together with tolerance or rtol",
        ),
        (lambda: Stopping(min_samples=10), r"`min_samples` = 10 needs a precision target"),
        (lambda: Stopping(time_limit=5, min_samples=10), r"`min_samples` = 10 needs a precision target"),
        (
            lambda: Stopping(tolerance=1e-3, min_samples=0),
            r"`min_samples` = 0 is not accepted; " + ACCEPTED_COUNT,
        ),
        (
            lambda: make_spec("pi", samples=100, stopping=Stopping(tolerance=1e-3, min_samples=1000)),
            r"`min_samples` = 1000 is larger than the cap; accepted: at most the cap, `samples` = 100\.",
        ),
        (
            lambda: Stopping(tolerance=1e-3, min_samples=1000, max_samples=100),
            r"`min_samples` = 1000 is larger than the cap; accepted: at most `max_samples` = 100\.",
        ),
        (
            lambda: make_spec("pi", samples=100, stopping=Stopping(tolerance=1e-3, max_samples=200)),
            r"`samples` = 100 and `max_samples` = 200 are both given; accepted: one of the two",
        ),
        (
            lambda: make_spec("pi", tolerance=1e-3, stopping=Stopping(rtol=1e-4)),
            r"`tolerance` = 0\.001 is given beside `stopping`; accepted: tolerance inside `stopping`",
        ),
        (
            lambda: Stopping(rules="tolerance"),
            r"`rules` = 'tolerance' is not accepted; accepted: a StoppingRule or a list of them",
        ),
        (
            lambda: Stopping(rules=[Tolerance(1), 3]),
            r"`rules` = 3 is not a rule; accepted: Tolerance, RelativeTolerance, TimeLimit",
        ),
        (
            lambda: make_spec("pi", stopping=Stopping(rules=Tolerance(1, "x"))),
            r"`target` = 'x' is not an estimate of the model; accepted: one of pi\.",
        ),
    ],
)
def test_validation_messages(make, match):
    with pytest.raises(ValidationError, match=match):
        make()


def test_unknown_rule_in_a_file():
    with pytest.raises(
        ValueError, match=r"names the stopping rule 'nope', which is not registered\..* Registered: .*rtol"
    ):
        Stopping.from_dict({"rules": [{"rule": "nope"}]})
    # Files name rules by their registered name only: a "module:Class" reference
    # is refused, never imported, even when it names a real rule class.
    for ref in ("no_such_module:Rule", "test_stopping:IntervalExcludes", "montecarlo.core.stopping_rules:Tolerance"):
        with pytest.raises(ValueError, match=rf"names the stopping rule '{ref}', which is not registered"):
            Stopping.from_dict({"rules": [{"rule": ref, "output": "pi", "value": 1.0}]})
    # A registered rule is read back by its name.
    back = Stopping.from_dict({"rules": [{"rule": "excludes", "output": "pi", "value": 3.14}]})
    assert back.rules == (IntervalExcludes("pi", 3.14),)
    assert Stopping.from_dict(Stopping(rules=IntervalExcludes("pi")).to_dict()) == Stopping(
        rules=IntervalExcludes("pi")
    )


# --------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_tolerance_same_numbers_for_workers_and_executors(capsys):
    outs = set()
    for extra in (
        ["--executor", "serial"],
        ["-w", "1"],
        ["-w", "2"],
        ["-w", "4"],
        ["--executor", "threads", "-w", "2"],
    ):
        code, out, err = mc(capsys, "run", "pi", "--tolerance", "1e-3", "--seed", "11", "--json", "-q", *extra)
        assert code == 0, err
        d = json.loads(out)
        assert d["stopping"]["target_met"] is True
        outs.add(json.dumps([d["samples"], d["outputs"], d["trace"], d["stopping"]], sort_keys=True))
    assert len(outs) == 1


@pytest.mark.slow
def test_cli_cap_reached_exits_0_with_a_clear_line(capsys, tmp_path):
    out_file = tmp_path / "r.json"
    code, out, err = mc(
        capsys, "run", "pi", "--tolerance", "1e-6", "--max-samples", "8e6", "-s", "1", "-q", "-o", out_file
    )
    assert code == 0, err
    assert "cap reached: max_samples = 8,000,000 samples taken; target not met" in out
    d = json.loads(out_file.read_text())
    assert d["stopping"]["target_met"] is False and d["stopping"]["rule"] == "max_samples"


@pytest.mark.slow
def test_cli_target_met_line(capsys):
    code, out, err = mc(capsys, "run", "pi", "--tolerance", "1e-2", "-s", "1", "-q")
    assert code == 0 and "target met: interval half-width <= 0.01 on every output" in out


@pytest.mark.slow
def test_cli_time_limit_flag(capsys):
    code, out, err = mc(
        capsys,
        "run",
        "test_stopping:slow",
        "--time-limit",
        "0.2",
        "--block-size",
        "100",
        "--batch-size",
        "100",
        "--executor",
        "serial",
        "-s",
        "1",
        "-q",
        "--json",
    )
    assert code == 0, err
    d = json.loads(out)
    assert d["stopping"]["reproducible"] is False and d["stopping"]["rule"] == "time_limit"
    assert "not reproducible" in err


@pytest.mark.parametrize(
    "args, match",
    [
        (
            ["--tolerance", "0"],
            r"--tolerance 0 is not accepted; accepted: a finite number > 0, such as 1e-3",
        ),
        (
            ["--tolerance", "abc"],
            r"--tolerance abc is not a number; accepted: a finite number > 0",
        ),
        (
            ["--rtol", "-1"],
            r"--rtol -1 is not accepted; accepted: a finite number > 0, such as 1e-4",
        ),
        (
            ["--time-limit", "inf"],
            r"--time-limit inf is not accepted; accepted: a finite number > 0, such as 60",
        ),
        (
            ["--min-samples", "0", "--tolerance", "1"],
            r"--min-samples 0 is not accepted; " + ACCEPTED_COUNT,
        ),
        (
            ["-n", "1e6", "--max-samples", "1e7", "--tolerance", "1"],
            # The command line names both options as they are typed.
            r"--samples 1000000 and --max-samples (= )?10000000 are both given; accepted: one of the two",
        ),
        (
            ["-n", "1e6", "--max-samples", "1e7"],
            r"--max-samples (1e7|10000000) needs a rule; accepted: a cap together with",
        ),
        (
            ["--tolerance", "1", "--target", "nope"],
            r"--target nope is not an estimate of the model; accepted: one of pi\.",
        ),
        (["--target", "pi"], r"--target pi needs a precision target; accepted: an output name together"),
        (["--min-samples", "10"], r"--min-samples 10 needs a precision target"),
        (
            ["--tolerance", "1", "--max-samples", "10", "--min-samples", "100"],
            r"--min-samples 100 is larger than the cap; accepted: at most --max-samples (= )?10\.",
        ),
        (
            ["--plot", "out.txt"],
            r"Invalid value for '--plot': 'out.txt' has no plot file extension; accepted: a file name ending in .png, .svg, .pdf",
        ),
    ],
)
def test_cli_usage_errors(capsys, args, match):
    code, out, err = mc(capsys, "run", "pi", "-q", *args)
    assert code == 2
    assert re.search(r"^Error: " + match, err), err
    assert "(see 'mc run --help')" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------
# coverage of the final interval under sequential stopping (slow)
# --------------------------------------------------------------------------


def exponential(rng, n):
    """Exponential(1) samples: mean 1, skewed."""
    return rng.exponential(size=n)


def _coverage(model, exact: float, seeds: int, block_size: int, tolerance: float) -> tuple[float, float]:
    hits = 0
    for seed in range(seeds):
        r = montecarlo.run(
            model, rng=seed, tolerance=tolerance, sampling=Sampling(block_size=block_size), execution="serial"
        )
        assert r.stopping["target_met"] is True
        hits += r.interval[0] <= exact <= r.interval[1]
    p = hits / seeds
    # 99.9% binomial band around the nominal level for this many seeds.
    return p, 3.29 * math.sqrt(0.95 * 0.05 / seeds)


@pytest.mark.slow
def test_coverage_pi_wilson_under_tolerance_stopping():
    p, band = _coverage("pi", math.pi, 1000, block_size=1000, tolerance=0.02)
    assert abs(p - 0.95) <= band, p


@pytest.mark.slow
def test_coverage_t_interval_under_tolerance_stopping():
    p, band = _coverage(exponential, 1.0, 1000, block_size=50, tolerance=0.05)
    assert abs(p - 0.95) <= band, p
