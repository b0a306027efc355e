"""The model API: @model options, parameter validation (API and CLI), `mc show` and `mc list`."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
from conftest import mc

import montecarlo
from montecarlo.errors import ParameterError
from montecarlo.models.declare import model
from montecarlo.models.record import Output
from montecarlo.models.registry import BUILTIN, load_model


@model(
    outputs=[Output("hit", kind="probability"), Output("x")],
    exact=lambda p, mode="coin": {"hit": p, "x": 0.5},
    ranges={"p": (0.0, 1.0, "[]"), "n_flips": (1, 10), "width": (0.0, None, "()")},
    choices={"mode": ("coin", "die")},
    check=lambda p, n_flips, width, mode, fair: None,
)
def coins(rng, n, p: float = 0.5, n_flips: int = 1, width: float = 1.0, mode: str = "coin", fair: bool = True):
    """Coin flips with success probability p, and a uniform draw."""
    return np.column_stack([rng.random(n) < p, rng.random(n)])


# --------------------------------------------------------------------------
# parameter validation: unknown name, wrong type, out of range (API)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "match"),
    [
        (
            {"q": 0.3},
            r"^parameter `q` = 0\.3 is not a parameter of model 'coins'[^.;]*; accepted: one of p, n_flips, width, mode, fair\.$",
        ),
        (
            {"n_flip": 2},
            r"^parameter `n_flip` = 2 is not a parameter of model 'coins'[^;]*(?i:did you mean) `n_flips`\?\)?; "
            r"accepted: one of p, n_flips, width, mode, fair\.$",
        ),
        ({"p": "high"}, r"^parameter `p` = 'high' is not accepted; accepted: a number in \[0\.0, 1\.0\]\.$"),
        ({"p": True}, r"^parameter `p` = True is not accepted; accepted: a number in \[0\.0, 1\.0\]\.$"),
        ({"p": 1.5}, r"^parameter `p` = 1\.5 is out of range; accepted: a number in \[0\.0, 1\.0\]\.$"),
        ({"n_flips": 2.5}, r"^parameter `n_flips` = 2\.5 is not accepted; accepted: an integer in \[1, 10\]\.$"),
        ({"n_flips": "3.5"}, r"^parameter `n_flips` = '3\.5' is not accepted; accepted: an integer in \[1, 10\]\.$"),
        ({"n_flips": 11}, r"^parameter `n_flips` = 11 is out of range; accepted: an integer in \[1, 10\]\.$"),
        ({"width": 0.0}, r"^parameter `width` = 0\.0 is out of range; accepted: a number > 0\.0\.$"),
        ({"width": float("inf")}, r"^parameter `width` = inf is not finite; accepted: a number > 0\.0\.$"),
        ({"mode": "dice"}, r"^parameter `mode` = 'dice' is not accepted; accepted: one of 'coin', 'die'\.$"),
        ({"mode": 3}, r"^parameter `mode` = 3 is not accepted; accepted: one of 'coin', 'die'\.$"),
        ({"fair": "maybe"}, r"^parameter `fair` = 'maybe' is not accepted; accepted: true or false\.$"),
    ],
)
def test_api_parameter_errors(params, match):
    with pytest.raises(ParameterError, match=match) as info:
        montecarlo.make_spec(coins, 100, params=params)
    (name,) = params
    assert info.value.argument == name and info.value.value == params[name]


def test_strings_are_parsed_like_the_cli_gives_them():
    spec = montecarlo.make_spec(coins, 10, params={"p": "0.25", "n_flips": "1e1", "fair": "no", "width": "2"})
    assert spec.params == {"p": 0.25, "n_flips": 10, "width": 2.0, "mode": "coin", "fair": False}


def test_required_parameter_is_named():
    def f(rng, n, rate: float):
        return rng.random(n) * rate

    with pytest.raises(ParameterError, match=r"^parameter `rate`.* is required by model 'f'; accepted: a number\.$"):
        montecarlo.make_spec(f, 10)


def test_check_hook_runs_on_validated_parameters():
    def check(a, b):
        if a >= b:
            raise ParameterError("a", a, f"a number < `b` ({b!r})", "is out of range")

    rec = model(lambda rng, n, a=0.0, b=1.0: rng.random(n) * (b - a) + a, name="uniform", check=check)
    rec = load_model(rec)
    assert rec.bind({"a": "0.5"}) == {"a": 0.5, "b": 1.0}
    with pytest.raises(
        ParameterError, match=r"parameter `a` = 2\.0 is out of range; accepted: a number < `b` \(1\.0\)\."
    ):
        rec.bind({"a": 2})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"ranges": {"zz": (0, 1)}},
            r"`ranges` = \['zz'\] names unknown parameters; accepted: parameters of the model: p",
        ),
        (
            {"choices": {"zz": ("a",)}},
            r"`choices` = \['zz'\] names unknown parameters; accepted: parameters of the model: p",
        ),
        (
            {"choices": {"p": ("a",)}},
            r"`choices` = \('a',\) of parameter 'p' are not accepted; accepted: non-empty strings",
        ),
        (
            {"ranges": {"p": (0, 1, "<>")}},
            r"`ranges` = \(0, 1, '<>'\) of parameter 'p' is not accepted; accepted: \(low, high\)",
        ),
        ({"check": 3}, r"`check` = 3 is not accepted; accepted: a function check\(\*\*params\)"),
        ({"block_size": 0}, r"`block_size` = 0 is not accepted; accepted: an integer >= 1"),
    ],
)
def test_model_declaration_errors(kwargs, match):
    def f(rng, n, p: float = 0.5):
        return rng.random(n)

    with pytest.raises(montecarlo.ValidationError, match=match):
        model(f, **kwargs)


def test_open_and_half_open_bounds():
    def f(rng, n, a: float = 0.5, b: float = 0.5):
        return rng.random(n)

    rec = load_model(model(f, ranges={"a": (0.0, 1.0, "(]"), "b": (None, 1.0, "[)")}))
    assert rec.bind({"a": 1.0})["a"] == 1.0
    with pytest.raises(ParameterError, match=r"`a` = 0\.0 is out of range; accepted: a number in \(0\.0, 1\.0\]\."):
        rec.bind({"a": 0.0})
    with pytest.raises(ParameterError, match=r"`b` = 1\.0 is out of range; accepted: a number < 1\.0\."):
        rec.bind({"b": 1.0})


def test_plain_function_model_runs_with_exact_shown():
    r = montecarlo.run(coins, samples=4_000, rng=3, execution="serial", params={"p": 0.3})
    assert r.outputs == ("hit", "x")
    assert r["hit"].exact == 0.3 and r["hit"].method == "wilson"
    assert "exact" in r.table() and r.to_dict()["outputs"]["x"]["exact"] == 0.5


# --------------------------------------------------------------------------
# the CLI: same validation, exit code 2, one line naming parameter, value, accepted
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (
            ["-p", "nope=1"],
            r"-p nope=1 is not a parameter of model 'gamblers_ruin'[^.;]*; accepted: one of start, goal, p\.",
        ),
        (
            ["-p", "strat=2"],
            r"-p strat=2 is not a parameter of model 'gamblers_ruin'[^;]*(?i:did you mean) `start`\?\)?; "
            r"accepted: one of start, goal, p\.",
        ),
        (["-p", "p=abc"], r"-p p=abc is not accepted; accepted: a number in \(0\.0, 1\.0\)\."),
        (["-p", "p=1.5"], r"-p p=1\.5 is out of range; accepted: a number in \(0\.0, 1\.0\)\."),
        (["-p", "start=2.5"], r"-p start=2\.5 is not accepted; accepted: an integer >= 1\."),
        (["-p", "start=12"], r"-p start=12 is out of range; accepted: an integer in \[1, 9\]"),
        (["-p", "goal=5000"], r"-p goal=5000 is out of range; accepted: an integer in \[2, 1000\]\."),
    ],
)
def test_cli_parameter_errors(argv, match, capsys):
    code, _, err = mc(capsys, "run", "gamblers_ruin", "-n", "100", "--executor", "serial", *argv)
    assert code == 2
    assert re.search(r"^Error: " + match, err), err
    assert len(err.strip().splitlines()) == 1


def test_cli_choice_error(capsys):
    code, _, err = mc(capsys, "run", "european_option", "-n", "100", "-p", "kind=straddle")
    assert code == 2
    assert "-p kind=straddle is not accepted; accepted: one of 'call', 'put'." in err


def test_cli_run_shows_derived_and_control_variate_rows(capsys):
    code, out, _ = mc(capsys, "run", "asian_option", "-n", "20000", "-s", "1", "--executor", "serial", "-q")
    assert code == 0
    assert "arithmetic_cv" in out and "control-variate" in out and "variance reduction" in out
    code, out, _ = mc(capsys, "run", "buffon", "-n", "20000", "-s", "1", "--executor", "serial", "-q", "--json")
    assert code == 0
    d = json.loads(out)
    assert d["derived"]["pi"]["exact"] == np.pi and d["derived"]["pi"]["interval_method"] == "delta"


# --------------------------------------------------------------------------
# mc show, mc list
# --------------------------------------------------------------------------


def test_mc_list_one_line_per_model(capsys):
    code, out, _ = mc(capsys, "list")
    assert code == 0
    lines = out.strip().splitlines()
    assert [line.split()[0] for line in lines] == sorted(BUILTIN)
    for line in lines:
        assert len(line.split(None, 1)[1]) > 20  # a description, not just the name


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_mc_show_every_builtin(name, capsys):
    code, out, _ = mc(capsys, "show", name)
    assert code == 0
    rec = load_model(name)
    exact = "exact limit at the defaults:" if rec.levels is not None else "exact values at the defaults:"
    for section in ("parameters", "outputs:", exact):
        assert section in out
    for p in rec.params:
        assert f"  {p.name}" in out and "default" in out
    for o in rec.outputs:
        assert f"  {o.name}: {o.kind}" in out


def test_mc_show_buffon_details(capsys):
    code, out, _ = mc(capsys, "show", "buffon")
    assert code == 0
    assert "length   a number > 0.0; default 1.0" in out
    assert "derived quantities (delta method):" in out and "pi = f(crossing); analytic gradient" in out
    assert "crossing = 0.3183098861837907" in out and "pi = 3.141592653589793" in out


def test_mc_show_control_variates_and_choices(capsys):
    code, out, _ = mc(capsys, "show", "asian_option")
    assert code == 0
    assert "control variates:" in out and "arithmetic_cv: arithmetic with control(s) geometric" in out
    code, out, _ = mc(capsys, "show", "integrate")
    assert code == 0
    assert "family        one of 'oscillatory', 'product_peak'" in out


def test_mc_show_unknown_model(capsys):
    code, _, err = mc(capsys, "show", "bufon")
    assert code == 2
    assert "'bufon' is not a known model (did you mean 'buffon'?)" in err


def test_mc_show_reference(capsys):
    code, out, _ = mc(capsys, "show", "montecarlo.models.builtin.tail_probability:simulate")
    assert code == 0
    assert "shift" in out and "importance: mean" in out


# --------------------------------------------------------------------------
# models an analysis derives: "ANALYSIS(REFERENCE)"
# --------------------------------------------------------------------------


def _doubled(base):
    def simulate(rng, n, **params):
        return 2.0 * base.simulate(rng, n, **params)

    return montecarlo.model(name=f"doubled {base.name}", outputs=list(base.output_names))(simulate)


@pytest.fixture
def doubled():
    from montecarlo.models.registry import DERIVATIONS

    DERIVATIONS.register("doubled", _doubled)
    yield
    DERIVATIONS.unregister("doubled")


def test_a_derived_model_is_named_by_its_analysis_and_base(doubled, tmp_path):
    from montecarlo.models.registry import derived_model, load_model

    rec = derived_model("doubled", "european_option")
    assert rec.recorded_name == "doubled(european_option)"
    assert load_model("doubled(european_option)").recorded_name == "doubled(european_option)"
    spec = montecarlo.make_spec("doubled(european_option)", 10**4, rng=1)
    r = montecarlo.run_spec(spec, execution=montecarlo.Execution(workers=2))
    base = montecarlo.run("european_option", 10**4, rng=1, execution="serial")
    assert r.estimate == 2.0 * base.estimate and r.spec.model == "doubled(european_option)"
    path = tmp_path / "r.json"
    r.save(path)
    assert montecarlo.load(path).spec.model == "doubled(european_option)"


def test_an_unknown_analysis_or_base_is_a_clear_error(doubled):
    from montecarlo.errors import ModelNotFoundError
    from montecarlo.models.registry import load_model

    with pytest.raises(ModelNotFoundError, match="nope"):
        load_model("doubled(nope)")
    with pytest.raises(ModelNotFoundError, match="is not a known model"):
        load_model("tripled(pi)")


def test_a_derived_models_fingerprint_holds_its_base(doubled):
    from montecarlo.models.fingerprint import changes, fingerprint
    from montecarlo.models.registry import derived_model

    def base(rng, n, a=1.0):
        return a * rng.random(n)

    def other(rng, n, a=1.0):
        return a * rng.random(n) + 1.0

    one, two = fingerprint(derived_model("doubled", base)), fingerprint(derived_model("doubled", other))
    assert "the code of the model it is derived from" in changes(one, two)


# --------------------------------------------------------------------------
# plain functions with several outputs
# --------------------------------------------------------------------------


def two_columns(rng, n):
    x = rng.random(n)
    return np.column_stack([x, x * x])


def test_a_plain_function_with_several_outputs_runs_with_default_names(tmp_path):
    r = montecarlo.run(two_columns, 10**5, rng=1, execution=montecarlo.Execution(workers=2))
    assert r.outputs == ("y0", "y1")
    assert r["y0"].covers(0.5) and r["y1"].covers(1 / 3)
    with pytest.raises(montecarlo.ValidationError, match=r"has 2 outputs, so result.estimate.*result\[NAME\]"):
        r.estimate  # noqa: B018 - whose? refused rather than the first
    assert montecarlo.run(lambda rng, n: rng.random(n), 10**4, rng=1).estimate > 0  # one output: as before
    path = tmp_path / "two.py"
    path.write_text("import numpy as np\n\ndef f(rng, n, k: int = 3):\n    return rng.random((n, k))\n")
    spec = montecarlo.make_spec(f"{path}:f", 1000, rng=1, params={"k": 4})
    assert montecarlo.run_spec(spec).outputs == ("y0", "y1", "y2", "y3")  # counted in the workers, not here
    again = montecarlo.run_spec(dataclasses.replace(spec, model_record=None))  # loaded again from its name
    assert again.outputs == ("y0", "y1", "y2", "y3")
    (tmp_path / "changing.py").write_text(
        "import numpy as np\n\ndef f(rng, n):\n    x = rng.random(n)\n"
        "    return np.column_stack([x, x]) if rng.random() < 0.5 else x\n"
    )
    with pytest.raises(montecarlo.ModelError, match=r"returned \d column\(s\) in block \d+ and \d before it"):
        montecarlo.run(f"{tmp_path / 'changing.py'}:f", 8000, rng=1, sampling=montecarlo.Sampling(block_size=1000))


# --------------------------------------------------------------------------
# sequence parameters: lists and tuples of numbers, booleans or strings
# --------------------------------------------------------------------------


def basket(rng, n, w=(0.2, 0.3, 0.5)):
    return (rng.random((n, len(w))) * np.asarray(w)).sum(axis=1)


def labelled(rng, n, names: list[str] = ("a", "b"), flags: tuple[bool, ...] = (True,), k: tuple[int, ...] = (1,)):
    return rng.random(n) * len(names) * sum(flags) * sum(k)


def test_a_sequence_parameter_is_a_tuple_in_the_runspec_and_round_trips():
    r = montecarlo.run(basket, 10**5, rng=1, params={"w": [0.6, 0.6, 0.6]}, execution="serial")
    assert r.spec.params == {"w": (0.6, 0.6, 0.6)} and r["value"].covers(0.9)
    back = montecarlo.Result.from_json(r.to_json())
    assert back.spec == r.spec and back.spec.digest() == r.spec.digest()
    assert montecarlo.make_spec(basket, 10, rng=1, params={"w": np.array([0.6, 0.6, 0.6])}).params == r.spec.params
    ps = {p.name: p for p in load_model(labelled).params}
    assert (ps["names"].type, ps["flags"].type, ps["k"].type) == (str, bool, int)
    assert all(p.sequence for p in ps.values())
    spec = montecarlo.make_spec(labelled, 10, params={"names": "x,y,z", "flags": "true,false", "k": "1e3,2"})
    assert spec.params == {"names": ("x", "y", "z"), "flags": (True, False), "k": (1000, 2)}


@pytest.mark.parametrize(
    "value, message",
    [
        ([0.6, "x"], r"has element 1 = 'x', which is not accepted; accepted: a list, each element a number"),
        (0.5, r"`w` = 0.5 is not accepted; accepted: a list"),
        ([[0.1]], r"has element 0 = \[0.1\]"),
    ],
)
def test_bad_sequence_values_name_the_element(value, message):
    with pytest.raises(ParameterError, match=message):
        montecarlo.make_spec(basket, 10, params={"w": value})


def test_sequence_parameters_on_the_command_line_and_in_experiment_files(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bk.py").write_text(
        "import numpy as np\n\n\ndef basket(rng, n, w: tuple[float, ...] = (0.2, 0.3, 0.5)):\n"
        "    return (rng.random((n, len(w))) * np.asarray(w)).sum(axis=1)\n"
    )
    code, out, err = mc(capsys, "run", "bk.py:basket", "-n", "1e4", "-s", "1", "-p", "w=0.6,0.6,0.6", "--json", "-q")
    assert code == 0, err
    assert json.loads(out)["spec"]["params"] == {"w": [0.6, 0.6, 0.6]}
    code, _, err = mc(capsys, "run", "bk.py:basket", "-n", "1e4", "-p", "w=0.6,oops")
    assert code == 2 and "-p w=0.6,oops has element 1 = 'oops'" in err
    (tmp_path / "sweep.toml").write_text(
        f'name = "baskets"\nmodel = "{tmp_path / "bk.py"}:basket"\nsamples = 10000\nseed = 3\n'
        "[sweep.params]\nw = [[0.2, 0.3, 0.5], [0.6, 0.6, 0.6]]\n"
    )
    code, out, err = mc(capsys, "experiment", "run", "sweep.toml", "-o", "out", "-q")
    assert code == 0, err
    assert "(0.2, 0.3, 0.5)" in out and "(0.6, 0.6, 0.6)" in out
    (result,) = (tmp_path / "out").glob("*/*/result.json")
    assert mc(capsys, "reproduce", result)[1].splitlines()[-1] == "bit-identical"
