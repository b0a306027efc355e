"""Histograms and ECDFs from the bucket counts: exact counts, exact steps, a DKW band that holds, plots."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display in tests; set before pyplot is imported

import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import modelzoo  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from conftest import mc  # noqa: E402
from scipy.stats import norm  # noqa: E402

import montecarlo  # noqa: E402
from montecarlo import Sampling  # noqa: E402
from montecarlo.core.seeding import block_rng  # noqa: E402
from montecarlo.estimation.distribution import dkw_epsilon  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def values_of(result, model):
    """Every per-sample outcome of a run, drawn again block by block (``scale`` applied)."""
    spec = result.spec
    out = []
    for b in range(spec.blocks):
        rng = block_rng(spec.entropy, b, spec.bit_generator, spec.spawn_key)
        m, done = spec.block_samples(b), 0
        while done < m:
            k = min(spec.batch_size, m - done)
            out.append(np.asarray(model(rng, k, **spec.params), dtype=float).reshape(k, -1))
            done += k
    return np.vstack(out)


@pytest.fixture(scope="module")
def laws():
    r = montecarlo.run(modelzoo.laws, 9_999, rng=3, execution="serial", sampling=Sampling(distribution=True))
    return r, values_of(r, modelzoo.laws)


@pytest.mark.parametrize("column", [0, 1, 2])
def test_histogram_counts_are_exact(laws, column):
    r, x = laws
    name = r.outputs[column]
    h = r.histogram(name, bins=25)
    v = x[:, column]
    assert h.counts.sum() == v.size == h.samples and np.all(np.diff(h.edges) >= 0)
    for i, count in enumerate(h.counts):
        assert ((v >= h.edges[i]) & (v < h.edges[i + 1])).sum() == count
    assert len(h.counts) <= 25 and h.density @ np.diff(h.edges) == pytest.approx(1.0)
    if name == "poisson":  # one bin per integer: the whole distribution, exactly
        assert list(h.counts) == list(np.bincount(v.astype(int))[: len(h.counts)])


@pytest.mark.slow
@pytest.mark.parametrize("column", [0, 2])
def test_ecdf_steps_are_exact(laws, column):
    r, x = laws
    e = r.ecdf(r.outputs[column])
    v = x[:, column]
    assert np.array_equal(e.value, [(v <= hi).mean() for hi in e.high])
    assert np.array_equal(e.before, [(v < lo).mean() for lo in e.low])
    assert e.epsilon == dkw_epsilon(9_999, 0.95) == pytest.approx(math.sqrt(math.log(40) / (2 * 9_999)))
    lo, hi = e.at(float(np.median(v)))
    assert lo <= (v <= np.median(v)).mean() <= hi


@pytest.mark.slow
def test_the_dkw_band_holds_the_true_distribution_function():
    reps, n, inside = 300, 300, 0
    for seed in range(reps):
        r = montecarlo.run(modelzoo.laws, n, rng=seed, execution="serial", sampling=Sampling(distribution=True))
        e = r.ecdf("normal")
        # F_n is known exactly just below each low and at each high: the sup over those points.
        dev = max(np.max(np.abs(e.value - norm.cdf(e.high))), np.max(np.abs(e.before - norm.cdf(e.low))))
        inside += dev <= e.epsilon
    assert inside / reps >= 0.93  # at least 95% in expectation; 300 seeds leave about ±1.3%


def test_without_a_distribution_the_histogram_says_how_to_keep_one():
    r = montecarlo.run("pi", 10_000, rng=1, execution="serial")
    with pytest.raises(montecarlo.ValidationError, match=r"kept no distribution of its outputs; accepted: a result"):
        r.histogram()
    r = montecarlo.run(modelzoo.laws, 1000, rng=1, execution="serial", sampling=Sampling(distribution=True))
    with pytest.raises(montecarlo.ValidationError, match=r"`output` = 'nope' is not an output of this result"):
        r.ecdf("nope")
    with pytest.raises(montecarlo.ValidationError, match=r"`bins` = 0 is not accepted; accepted: an integer >= 1"):
        r.histogram(bins=0)


@pytest.mark.slow
def test_mc_plot_histogram(capsys, tmp_path):
    path = tmp_path / "r.json"
    code, _, err = mc(capsys, "run", "gamblers_ruin", "-n", "20000", "-s", "1", "--quantile", "0.9", "-o", path, "-q")
    assert code == 0, err
    code, out, err = mc(capsys, "plot", path, "--histogram", "--estimate", "duration", "-o", tmp_path / "h.png")
    assert code == 0, err
    assert (tmp_path / "h.png").read_bytes().startswith(b"\x89PNG") and "wrote" in out
    code, _, err = mc(capsys, "plot", path, path, "--histogram")
    assert code == 2 and "--histogram plots one result; got 2." in err
    plain = tmp_path / "p.json"
    assert mc(capsys, "run", "pi", "-n", "1000", "-s", "1", "-o", plain, "-q")[0] == 0
    code, _, err = mc(capsys, "plot", plain, "--histogram")
    assert code == 2 and "--histogram: the result of model pi kept no distribution of its outputs" in err


def test_a_constant_output_has_one_bin():
    r = montecarlo.run(modelzoo.coin, 1000, rng=1, params={"p": 1.0}, execution="serial",
                       sampling=Sampling(distribution=True))  # fmt: skip
    h = r.histogram()
    assert list(h.counts) == [1000] and h.edges[0] == 1.0 < h.edges[1] and h.density @ np.diff(h.edges) == 1.0
