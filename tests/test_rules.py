"""The stopping-rule contract: every rule is a value, survives a file, and stops every executor alike.

One test class holds the contract; each rule subclasses it once, a rule of
a user's own included.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

import modelzoo
import pytest
from conftest import estimates_of, numbers

import montecarlo
from montecarlo import Execution, Stopping
from montecarlo.core.stopping_rules import RULES, RelativeTolerance, StoppingRule, TimeLimit, Tolerance, rule_from_dict
from montecarlo.core.twostage import TwoStage


@dataclass(frozen=True)
class Excludes(StoppingRule):
    """Stop once the interval of ``output`` excludes ``value`` (a rule of a user's own)."""

    output: str
    value: float

    def should_stop(self, prefix):
        return not prefix[self.output].covers(self.value)

    def outputs_named(self):
        return (self.output,)


montecarlo.register_rule("test_excludes", Excludes)


class RuleContract:
    """What every stopping rule must do. Subclasses set ``rule`` (and the cap it needs)."""

    rule: StoppingRule
    cap = 200_000

    def run(self, execution):
        stopping = Stopping(rules=[self.rule], max_samples=self.cap)
        return montecarlo.run(modelzoo.moments3, rng=21, stopping=stopping, execution=execution)

    def test_is_a_frozen_hashable_value(self):
        assert hash(self.rule) == hash(dataclasses.replace(self.rule))
        assert self.rule == dataclasses.replace(self.rule)
        field = dataclasses.fields(self.rule)[0].name
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(self.rule, field, None)

    def test_round_trips_through_json_by_its_registered_name(self):
        d = json.loads(json.dumps(self.rule.to_dict()))
        assert d["rule"] == self.rule.name and RULES.get(self.rule.name) is type(self.rule)
        assert rule_from_dict(d) == self.rule

    @pytest.mark.slow
    def test_a_result_records_it_and_reads_it_back(self):
        r = self.run("serial")
        assert r.stopping["rules"] == [self.rule.to_dict()]
        again = montecarlo.Result.from_json(r.to_json())
        assert again.spec == r.spec and again.spec.stop.rules == (self.rule,)

    @pytest.mark.slow
    def test_stops_every_executor_at_the_same_block(self):
        ref = self.run("serial")
        for execution in (Execution("threads", workers=3), Execution("processes", workers=2)):
            assert numbers(self.run(execution)) == numbers(ref)

    def test_declares_what_it_is(self):
        assert isinstance(self.rule.name, str) and self.rule.name
        assert isinstance(self.rule.target, bool) and isinstance(self.rule.reproducible, bool)


class TestTolerance(RuleContract):
    rule = Tolerance(0.01, ("u",))


class TestRelativeTolerance(RuleContract):
    rule = RelativeTolerance(0.02)


class TestTwoStage(RuleContract):
    rule = TwoStage(0.02, 3.0, ("u",))  # moments3's u is uniform: excess kurtosis -1.2


class TestTimeLimit(RuleContract):
    rule = TimeLimit(0.3)
    cap = 10**9

    @pytest.mark.slow
    def test_stops_every_executor_at_the_same_block(self):
        # The clock decides where: what holds instead is that every executor's
        # numbers are those of a plain run of the samples it reached.
        for execution in ("serial", Execution("threads", workers=3), Execution("processes", workers=2)):
            r = self.run(execution)
            plain = montecarlo.run(modelzoo.moments3, r.samples, rng=21, execution="serial")
            assert estimates_of(r) == estimates_of(plain)

    @pytest.mark.slow
    def test_a_result_it_stopped_says_so(self):
        r = montecarlo.run(modelzoo.slow, 10**9, rng=1, stopping=Stopping(time_limit=0.3), execution="serial")
        assert r.stopping["rule"] == "time_limit" and r.stopping["reproducible"] is False
        assert f"samples={r.samples}" in r.stopping["message"]


class TestUsersOwnRule(RuleContract):
    rule = Excludes("u", 0.5)
    cap = 10**6


def test_an_unregistered_rule_in_a_file_is_refused_without_importing_anything():
    with pytest.raises(ValueError, match=r"names the stopping rule 'this:Rule', which is not registered"):
        rule_from_dict({"rule": "this:Rule"})


def test_a_rule_name_belongs_to_one_class():
    @dataclass(frozen=True)
    class Mine(StoppingRule):
        def should_stop(self, prefix):
            return True

    with pytest.raises(montecarlo.ValidationError, match=r"`name` = 'tolerance' is taken by <class 'montecarlo.core"):
        montecarlo.register_rule("tolerance", Mine)
    with pytest.raises(montecarlo.ValidationError, match=r"`rule` = .* is not accepted; accepted: a subclass of"):
        montecarlo.register_rule("mine", dict)
    montecarlo.register_rule("mine", Mine)
    montecarlo.register_rule("mine", Mine)  # registering the same class again is harmless


def test_a_rule_without_a_name_of_its_own_is_refused():
    # It would be written under its parent's name and read back as the parent.
    @dataclass(frozen=True)
    class Tighter(Tolerance):
        pass

    with pytest.raises(montecarlo.ValidationError, match=r"`rules` = .*Tighter.* is not registered under its name"):
        Stopping(rules=[Tighter(0.1)])
