import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from montecarlo.estimation.intervals import clopper_pearson_interval, interval, t_interval, wilson_interval
from montecarlo.stats.accumulators import Collector, Part, Stats, register_part
from montecarlo.stats.moments import Moments, fold

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@pytest.mark.slow
@settings(max_examples=200, deadline=None)
@given(
    data=arrays(np.float64, st.tuples(st.integers(2, 60), st.integers(1, 3)), elements=finite),
    cuts=st.lists(st.integers(1, 59), max_size=6),
)
def test_chan_merge_equals_numpy_on_the_concatenation(data, cuts):
    n = data.shape[0]
    bounds = sorted({c for c in cuts if c < n})
    parts = np.split(data, bounds)
    merged = fold(Moments.from_batch(p) for p in parts)
    assert merged.count == n
    scale = max(1.0, np.abs(data).max())
    np.testing.assert_allclose(merged.mean, data.mean(axis=0), rtol=1e-9, atol=1e-9 * scale)
    d = data - data.mean(axis=0)
    np.testing.assert_allclose(merged.comoment, d.T @ d, rtol=1e-7, atol=1e-7 * scale**2 * n)


def test_merge_with_empty_is_identity():
    m = Moments.from_batch(np.arange(6.0).reshape(3, 2))
    assert Moments.empty(2).merge(m) == m
    assert m.merge(Moments.empty(2)) == m


def test_bool_batches_match_the_float_path():
    x = np.random.default_rng(1).random((1000, 1)) < 0.3
    a, b = Moments.from_batch(x), Moments.from_batch(x.astype(float))
    assert a.count == b.count
    np.testing.assert_allclose(a.mean, b.mean, rtol=1e-15)
    np.testing.assert_allclose(a.comoment, b.comoment, rtol=1e-12)


def test_no_catastrophic_cancellation_with_a_large_offset():
    # Raw sums of squares would lose every digit here; Chan's update keeps them.
    rng = np.random.default_rng(0)
    x = 1e9 + rng.random((10_000, 1))
    m = fold(Moments.from_batch(p) for p in np.array_split(x, 37))
    np.testing.assert_allclose(m.covariance()[0, 0], x.var(ddof=1), rtol=1e-6)


def test_json_round_trip_is_exact():
    m = Moments.from_batch(np.random.default_rng(2).random((50, 3)))
    assert Moments.from_dict(m.to_dict()) == m


def test_wilson_is_valid_at_zero_and_all_hits():
    lo, hi = wilson_interval(0.0, 100, 0.95)
    assert lo == 0.0 and 0.02 < hi < 0.05  # rule of three: about 3/n
    lo, hi = wilson_interval(1.0, 100, 0.95)
    assert hi == 1.0 and 0.95 < lo < 0.98


def test_wilson_reference_value():
    # 15 hits out of 148 at 95%: Newcombe (1998), Statistics in Medicine 17, table I: 0.0624 to 0.1605.
    lo, hi = wilson_interval(15 / 148, 148, 0.95)
    assert (round(lo, 4), round(hi, 4)) == (0.0624, 0.1605)


def test_clopper_pearson_reference_and_bounds():
    # 15/148 exact interval (Newcombe 1998, table I): 0.0578 to 0.1617
    lo, hi = clopper_pearson_interval(15 / 148, 148, 0.95)
    assert (round(lo, 4), round(hi, 4)) == (0.0578, 0.1617)
    assert clopper_pearson_interval(0.0, 10, 0.95)[0] == 0.0
    assert clopper_pearson_interval(1.0, 10, 0.95)[1] == 1.0


def test_t_interval_matches_scipy():
    from scipy import stats

    lo, hi = t_interval(1.0, 0.5, 10, 0.9)
    h = stats.t.ppf(0.95, 9) * 0.5
    assert lo == pytest.approx(1 - h, rel=1e-12) and hi == pytest.approx(1 + h, rel=1e-12)
    assert t_interval(1.0, 0.5, 1, 0.9) == (-math.inf, math.inf)


def test_unknown_interval_method():
    with pytest.raises(ValueError, match="unknown interval method 'bogus'; accepted: auto, t"):
        interval("bogus", 0.5, 0.1, 10, 0.95)


# --------------------------------------------------------------------------
# block statistics: moments plus named parts
# --------------------------------------------------------------------------


class _Extremes(Part):
    """A part for the test: the largest value of each output (merges exactly in any grouping)."""

    name = "test_extremes"

    def __init__(self, top):
        self.top = np.asarray(top, dtype=float)

    def merge(self, other):
        return _Extremes(np.maximum(self.top, other.top))

    def to_dict(self):
        return {"top": self.top.tolist()}

    @classmethod
    def from_dict(cls, d):
        return cls(d["top"])

    def __eq__(self, other):
        return isinstance(other, _Extremes) and np.array_equal(self.top, other.top)


register_part("test_extremes", _Extremes)


class _TopCollector(Collector):
    name = "test_extremes"

    def collect(self, x, index, moments, deviations=None):
        return _Extremes(x.max(axis=0))


def test_stats_merge_parts_beside_the_moments_and_round_trip():
    rng = np.random.default_rng(5)
    batches = [rng.normal(size=(n, 2)) for n in (10, 7, 30)]
    parts = [Stats.from_batch(b, [_TopCollector()]) for b in batches]
    total = fold(parts)
    assert total.moments == fold([Moments.from_batch(b) for b in batches])
    assert np.array_equal(total.parts["test_extremes"].top, np.vstack(batches).max(axis=0))
    assert Stats.from_dict(json.loads(json.dumps(total.to_dict()))) == total
    assert Stats.empty(2).merge(total) == total  # a part on one side only is kept


def test_plain_stats_write_exactly_the_moments():
    s = Stats.from_batch(np.arange(6.0).reshape(3, 2))
    assert s.to_dict() == s.moments.to_dict() and "parts" not in s.to_dict()


def test_an_unknown_part_in_a_file_is_refused():
    d = Stats.empty(1).to_dict() | {"parts": {"nope": {}}}
    with pytest.raises(ValueError, match="holds the accumulator part 'nope', which is not registered"):
        Stats.from_dict(d)


def test_scipy_is_imported_beside_the_block_and_before_it_ends():
    # In a fresh process: scipy.special is not loaded before, is loaded when the block ends, and the
    # block ran while the import was under way on another thread (not after it).
    import subprocess
    import sys

    code = (
        "import sys, threading\n"
        "from montecarlo.estimation.intervals import loading_scipy\n"
        "assert 'scipy.special' not in sys.modules\n"
        "with loading_scipy():\n"
        "    names = [t.name for t in threading.enumerate()]\n"
        "assert 'scipy.special' in sys.modules\n"
        "assert 'montecarlo-scipy' in names, names\n"
        "assert [t for t in threading.enumerate() if t.name == 'montecarlo-scipy'] == []\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
