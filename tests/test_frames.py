"""Results as frames and notebook tables: quantiles shown everywhere estimates are, swept columns never lost."""

from __future__ import annotations

import dataclasses
import math

import pytest
from conftest import mc

import montecarlo
from montecarlo import Sampling

pytest.importorskip("pandas")

QUANTILES = Sampling(quantiles=[0.5, 0.99], shortfall=[0.95])


@pytest.fixture(scope="module")
def with_tails():
    return montecarlo.run("european_option", 10**5, rng=1, execution="serial", sampling=QUANTILES)


def test_a_results_frame_holds_its_quantiles_and_shortfalls(with_tails):
    frame = with_tails.to_frame().set_index("name")
    assert list(frame.index) == ["price", "price q0.5", "price q0.99", "price ES0.95"]
    assert list(frame["kind"]) == ["mean", "quantile", "quantile", "shortfall"]
    q = with_tails.quantiles["price"][1]
    row = frame.loc["price q0.99"]
    assert (row["estimate"], row["lower"], row["upper"], row["exact"]) == (q.estimate, *q.interval, q.exact)
    assert math.isnan(row["standard_error"]) and row["method"] == "order-statistic"
    es = with_tails.shortfall["price"][0]
    assert frame.loc["price ES0.95", "standard_error"] == es.standard_error


def test_the_notebook_table_shows_quantiles(with_tails):
    html = with_tails._repr_html_()
    for name in ("price q0.5", "price q0.99", "price ES0.95"):
        assert f"<td>{name}</td>" in html


def experiment_result(tmp_path, capsys, text):
    (tmp_path / "e.toml").write_text(text)
    code, out, err = mc(capsys, "experiment", "run", tmp_path / "e.toml", "-o", tmp_path / "out", "-q")
    assert code == 0, err
    (folder,) = (tmp_path / "out").glob("*/*")
    return montecarlo.load(folder), out


def test_experiment_tables_and_frames_show_quantiles(tmp_path, capsys):
    res, out = experiment_result(
        tmp_path, capsys,
        'name = "q"\nmodel = "european_option"\nsamples = 20000\nseed = 3\nquantiles = [0.5]\n'
        "[sweep.params]\nstrike = [90.0, 110.0]\n",
    )  # fmt: skip
    assert "price q0.5" in out
    assert "price q0.5" in res.table() and "<th>price q0.5</th>" in res._repr_html_()
    frame = res.to_frame()
    assert list(frame[frame["kind"] == "quantile"]["strike"]) == [90.0, 110.0]


MODEL = """
def f(rng, n, estimate: float = 1.0, name: str = "a", point: int = 0):
    return estimate * rng.random(n) + point
"""


def test_swept_parameters_named_like_frame_columns_keep_their_values(tmp_path, capsys):
    (tmp_path / "m.py").write_text(MODEL)
    res, _ = experiment_result(
        tmp_path, capsys,
        f'name = "clash"\nmodel = "{tmp_path / "m.py"}:f"\nsamples = 2000\nseed = 1\n'
        '[sweep]\nmode = "zip"\n[sweep.params]\nestimate = [1.0, 2.0]\nname = ["x", "y"]\npoint = [5, 6]\n',
    )  # fmt: skip
    frame = res.to_frame()
    assert list(frame["param_estimate"]) == [1.0, 2.0] and list(frame["param_name"]) == ["x", "y"]
    assert list(frame["param_point"]) == [5, 6] and list(frame["point"]) == [0, 1]
    assert list(frame["name"]) == ["value", "value"]
    # A point without one of the swept parameters keeps the others (and shows the missing one empty).
    first = dataclasses.replace(res.points[0], swept={"estimate": 1.0})
    partial = dataclasses.replace(res, points=(first, *res.points[1:]))
    frame = partial.to_frame()
    assert list(frame["param_name"].isna()) == [True, False]
    assert "y" in partial.table()
