"""Multilevel Monte Carlo (montecarlo.mlmc): Giles' algorithm, its diagnostics, and the same bits everywhere.

Full-size figures (100-seed RMSE, the eps**2 cost sweep, QMCPy) are in
benchmarks/mlmc.py; these tests are smaller versions of the same checks.
"""

import dataclasses
import json
import math
import os
import signal
import subprocess
import time

import numpy as np
import pytest
from conftest import MC, mc

import montecarlo
from montecarlo import Checkpointing, Levels, MLMCResult, ModelError, ValidationError
from montecarlo.analyses.mlmc import make_mlmc_spec
from montecarlo.errors import CheckpointError, ResultFormatError
from montecarlo.models.fingerprint import fingerprint
from montecarlo.records.integrity import sealed

BLACK_SCHOLES = 10.450584
DIGITAL = 53.232482


def key(result):
    """Every number of a multilevel result (no timings, no provenance)."""
    return json.dumps(result.to_dict()["mlmc"], sort_keys=True)


@pytest.fixture(scope="module")
def reference():
    """gbm_call at eps = 0.02, in this process: the numbers every executor must give."""
    return montecarlo.mlmc("gbm_call", 0.02, rng=11, executor="serial")


# -- declaring a level model ---------------------------------------------------------------


def _levels_model(**options):
    def simulate(rng, n, level: int = 0):
        return rng.random((n, 2))

    return montecarlo.model(outputs=["difference", "fine"], **options)(simulate)


def test_a_level_model_is_declared_with_its_costs_and_recorded():
    f = _levels_model(levels=Levels(cost=lambda level: 2**level, exact=0.5, unit="steps"))
    rec = montecarlo.load_model(f)
    assert rec.levels.unit == "steps" and rec.levels.exact == 0.5
    assert montecarlo.load_model("gbm_call").levels is not None and montecarlo.load_model("pi").levels is None


@pytest.mark.parametrize(
    ("levels", "match"),
    [
        (Levels(cost=3), "is not callable"),
        (Levels(cost=lambda level: 0), "gives 0 at level 0"),
        (Levels(cost=lambda level: -(2.0**level)), "gives -1.0 at level 0"),
        (Levels(cost=lambda level: math.inf), "gives inf"),
        (Levels(cost=lambda level: 1 / (2 - level)), "raised ZeroDivisionError at level 2"),
        ({"cost": 1}, "montecarlo.Levels"),
        (Levels(cost=lambda level: 1, exact="x"), "a finite number or a function"),
    ],
)
def test_bad_levels_are_refused_at_declaration(levels, match):
    with pytest.raises(ValidationError, match=match):
        _levels_model(levels=levels)


def test_a_level_model_needs_a_level_parameter_and_two_mean_outputs():
    cost = Levels(cost=lambda level: 2**level)
    with pytest.raises(ValidationError, match="has no `level` parameter"):
        montecarlo.model(outputs=["difference", "fine"], levels=cost)(lambda rng, n: rng.random((n, 2)))
    with pytest.raises(ValidationError, match="is the type of `level`"):
        montecarlo.model(outputs=["difference", "fine"], levels=cost)(lambda rng, n, level=0.5: rng.random((n, 2)))
    with pytest.raises(ValidationError, match="two outputs of kind mean"):
        montecarlo.model(outputs=["difference"], levels=cost)(lambda rng, n, level=0: rng.random(n))


def test_the_levels_are_part_of_the_fingerprint():
    a = _levels_model(levels=Levels(cost=lambda level: 2**level))
    b = _levels_model(levels=Levels(cost=lambda level: 4**level))
    c = _levels_model(levels=Levels(cost=lambda level: 2**level, exact=1.0))
    fa, fb, fc = (fingerprint(montecarlo.load_model(f)) for f in (a, b, c))
    assert fa["digest"] != fb["digest"] and fa["digest"] != fc["digest"]
    assert fingerprint(montecarlo.load_model("pi")) == fingerprint(montecarlo.load_model("pi"))


def test_mc_show_says_the_model_has_levels_and_their_cost(capsys):
    code, out, _ = mc(capsys, "show", "gbm_call")
    assert code == 0
    assert "levels (a level model: mc mlmc MODEL --rmse EPS)" in out
    assert "cost per sample of levels 0, 1, 2, ...: 1, 2, 4, 8, 16, ... fine time steps" in out
    assert "exact limit at the defaults: 10.45058357" in out
    code, out, _ = mc(capsys, "show", "pi")
    assert "levels" not in out


def test_each_level_is_an_ordinary_run_of_the_model(reference):
    spec = reference.spec
    for lv in reference.levels:
        run = montecarlo.run_spec(spec.level_spec(lv.level, lv.cost, lv.blocks), executor="threads", workers=2)
        assert run.accumulator.to_dict() == lv.accumulator.to_dict()
        assert run.spec.params["level"] == lv.level and run.spec.spawn_key == (*spec.spawn_key, lv.level)
        assert run.spec.block_size * lv.cost == max(16 * lv.cost, spec.block_cost)  # equal cost per block


# -- bad input: one line, before any worker starts ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("gbm_call", 0.0), "`rmse` = 0.0 is not accepted"),
        (("gbm_call", -0.01), "`rmse` = -0.01"),
        (("gbm_call", math.nan), "`rmse` = nan"),
        (("pi", 0.01), "has no levels"),
        (("gbm_call", 0.01, {"params": {"level": 3}}), "`level` = 3 is set by the algorithm"),
        (("gbm_call", 0.01, {"params": {"strike": -1.0}}), "`strike` = -1.0 is out of range"),
        (("gbm_call", 0.01, {"theta": 1.0}), "`theta` = 1.0"),
        (("gbm_call", 0.01, {"max_cost": 100}), "is below the cost of the first round"),
        (("gbm_call", 0.01, {"max_level": 25}), "`max_level` = 25 is beyond its levels"),
        (("gbm_call", 0.01, {"max_level": 1}), "`max_level` = 1"),
    ],
)
def test_bad_input_is_refused_before_anything_runs(args, match):
    model, rmse, *rest = args
    with pytest.raises(ValidationError, match=match):
        make_mlmc_spec(model, rmse, **(rest[0] if rest else {}))


def test_a_typo_in_a_keyword_is_named():
    with pytest.raises(TypeError, match="Did you mean `max_cost`"):
        montecarlo.mlmc("gbm_call", 0.01, max_costs=1e6)


def test_a_level_of_the_wrong_shape_is_the_models_error_naming_block_and_spawn_key():
    @montecarlo.model(outputs=["difference", "fine"], levels=Levels(cost=lambda level: 2**level))
    def short_on_level_two(rng, n, level: int = 0):
        return rng.random((n, 1 if level == 2 else 2))

    with pytest.raises(ModelError, match=r"expected \(1024, 2\) \(block 0, spawn key \(5, 2, 0\)\)"):
        montecarlo.mlmc(short_on_level_two, 0.1, rng=np.random.SeedSequence(1, spawn_key=(5,)), executor="serial")


def test_cli_bad_input_is_one_line_and_exit_2(capsys):
    for args, said in [
        (("--rmse", "0"), "--rmse 0 is not accepted"),
        (("--rmse", "abc"), "--rmse abc is not a number"),
        ((), "--rmse is required"),
        (("--rmse", "0.1", "-p", "level=2"), "-p level=2 is set by the algorithm"),
        (("--rmse", "0.1", "--theta", "2"), "--theta 2.0 is not accepted"),
        (("--rmse", "0.1", "--max-cost", "10"), "--max-cost 10.0 is below the cost of the first round"),
        (("--rmse", "0.1", "--max-level", "30"), "--max-level 30 is beyond its levels"),
        (("--rmse", "0.1", "--resume"), "--resume needs a checkpoint file"),
    ]:
        code, out, err = mc(capsys, "mlmc", "gbm_call", *args)
        assert code == 2 and out == "", (args, err)
        assert len(err.strip().splitlines()) == 1 and said in err, (args, err)
    code, _, err = mc(capsys, "mlmc", "pi", "--rmse", "0.1")
    assert code == 2 and "has no levels" in err


# -- the algorithm and its diagnostics --------------------------------------------------------------


def test_the_estimate_and_its_diagnostics(reference):
    r = reference
    assert r.converged and r.stopped == "converged" and r.finest == 6
    assert abs(r.estimate - BLACK_SCHOLES) < 3 * 0.02 and r.exact == pytest.approx(BLACK_SCHOLES, abs=1e-6)
    assert r.interval[0] < r.estimate < r.interval[1]
    assert r.estimate == math.fsum(lv.mean for lv in r.levels)
    assert r.rmse_estimate <= 0.02 and r.bias <= math.sqrt(0.25) * 0.02
    assert r.cost == sum(lv.samples * lv.cost for lv in r.levels) and r.savings == r.plain_cost / r.cost
    assert [lv.cost for lv in r.levels] == [2.0**lv for lv in range(7)]
    assert all(lv.samples == lv.blocks * lv.block_size for lv in r.levels)
    assert r.levels[0].check is None and all(0 <= lv.check < 1 for lv in r.levels[1:])
    assert all(0 < lv.kurtosis < 100 for lv in r.levels) and r.warnings == ()
    variances = [lv.variance for lv in r.levels[1:]]
    assert variances == sorted(variances, reverse=True)  # the corrections shrink with the level


@pytest.mark.slow
def test_rates_savings_and_accuracy_at_eps_001():
    # The checks at eps = 0.01 on one seed (100 seeds: benchmarks/mlmc.py).
    r = montecarlo.mlmc("gbm_call", 0.01, rng=2025, executor="threads", workers=2)
    assert 1.8 <= r.beta <= 2.1 and abs(r.gamma - 1.0) <= 0.05 and r.alpha >= 0.8
    assert r.finest == 7 and r.savings >= 100
    assert abs(r.estimate - BLACK_SCHOLES) < 3 * 0.01


@pytest.mark.slow
def test_savings_at_eps_0005_and_the_cost_scales_like_eps_squared():
    costs = {}
    for eps in (0.1, 0.05, 0.02, 0.01, 0.005):
        r = montecarlo.mlmc("gbm_call", eps, rng=2025, executor="threads", workers=2)
        costs[eps] = eps * eps * r.cost
        if eps == 0.005:
            assert r.savings >= 200 and r.finest == 8
    assert max(costs.values()) / min(costs.values()) <= 2.0, costs


@pytest.mark.slow
def test_rmse_over_seeds_is_within_eps():
    eps = 0.05
    errors = [
        montecarlo.mlmc("gbm_call", eps, rng=300 + s, executor="serial").estimate - BLACK_SCHOLES for s in range(60)
    ]
    rmse = math.sqrt(math.fsum(e * e for e in errors) / len(errors))
    assert rmse <= 1.1 * eps, rmse  # 60 seeds: the RMSE's own relative error is about 9%


def test_the_digital_variant_and_its_exact_value():
    r = montecarlo.mlmc("digital_call", 0.05, rng=3, executor="serial")
    assert r.exact == pytest.approx(DIGITAL, abs=1e-6)
    assert abs(r.estimate - DIGITAL) < 3 * 0.05 and r.converged
    assert r.levels[0].variance < 1e-20  # level 0 is deterministic: the last step is integrated out
    assert r.finest_variance == r.levels[-1].variance_fine  # its coarse paths are smoothed another way


def test_a_budget_that_cannot_reach_eps_says_so():
    r = montecarlo.mlmc("gbm_call", 0.001, rng=4, executor="serial", max_cost=2e5)
    assert r.stopped == "max_cost" and not r.converged
    assert r.cost <= 2e5 and r.cost > 1e5  # the last round spends what the budget leaves
    assert "stopped at the budget" in r.message and any("stopped at the budget" in w for w in r.warnings)
    assert r.rmse_estimate > 0.001


@pytest.mark.slow
def test_max_level_reached_is_a_warning():
    r = montecarlo.mlmc("gbm_call", 0.005, rng=4, executor="threads", max_level=3)
    assert r.stopped == "max_level" and r.finest == 3
    assert any(w.startswith("weak convergence not achieved") for w in r.warnings)


# -- the same bits everywhere ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("executor", "workers"), [("threads", 1), ("threads", 2), ("processes", 1), ("processes", 2), ("processes", 4)]
)
@pytest.mark.filterwarnings("ignore::montecarlo.errors.OversubscriptionWarning")  # 4 workers on 2 cores
def test_bit_identical_for_every_worker_count_and_executor(reference, executor, workers):
    r = montecarlo.mlmc("gbm_call", 0.02, rng=11, executor=executor, workers=workers)
    assert key(r) == key(reference)


@pytest.mark.slow
def test_bit_identical_on_dask(reference, dask_client):
    assert key(montecarlo.mlmc("gbm_call", 0.02, rng=11, execution=dask_client)) == key(reference)


def test_an_interrupted_run_resumes_to_the_same_bits(tmp_path, reference):
    path = tmp_path / "mlmc.ckpt"

    def stop_at_round_three(report):
        if report["round"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        montecarlo.mlmc("gbm_call", 0.02, rng=11, executor="threads", checkpoint=path, on_round=stop_at_round_three)
    assert json.loads(path.read_text())["round"] == 4
    again = montecarlo.mlmc("gbm_call", 0.02, rng=11, executor="threads", checkpoint=Checkpointing(path, resume=True))
    assert key(again) == key(reference) and again.provenance["resumed"]
    unseeded = montecarlo.mlmc("gbm_call", 0.02, executor="serial", checkpoint=Checkpointing(path, resume=True))
    assert key(unseeded) == key(reference)  # a finished checkpoint: its entropy, nothing left to run


def test_a_checkpoint_of_another_run_or_model_is_refused(tmp_path):
    path = tmp_path / "mlmc.ckpt"
    montecarlo.mlmc("gbm_call", 0.1, rng=1, executor="serial", checkpoint=path)
    before = path.read_text()
    with pytest.raises(ValidationError, match="already exists"):
        montecarlo.mlmc("gbm_call", 0.1, rng=1, executor="serial", checkpoint=path)
    with pytest.raises(CheckpointError, match=r"belongs to a different multilevel run \(rmse: 0.1 != 0.2\)"):
        montecarlo.mlmc("gbm_call", 0.2, rng=1, executor="serial", checkpoint=Checkpointing(path, resume=True))
    with pytest.raises(CheckpointError, match="another version of the model"):
        montecarlo.mlmc(
            dataclasses.replace(montecarlo.load_model("gbm_call"), levels=Levels(cost=lambda level: 2**level)),
            0.1, rng=1, executor="serial", checkpoint=Checkpointing(path, resume=True),
        )  # fmt: skip
    edited = json.loads(before)
    edited["levels"][0]["next_block"] += 1
    path.write_text(json.dumps(edited))
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        montecarlo.mlmc("gbm_call", 0.1, rng=1, executor="serial", checkpoint=Checkpointing(path, resume=True))
    path.write_text(json.dumps(sealed({k: v for k, v in edited.items() if k != "checksum"})))
    with pytest.raises(CheckpointError, match="which are not its"):
        montecarlo.mlmc("gbm_call", 0.1, rng=1, executor="serial", checkpoint=Checkpointing(path, resume=True))


@pytest.mark.slow
def test_a_run_killed_mid_way_resumes_bit_identical(tmp_path):
    args = ["mlmc", "gbm_call", "--rmse", "0.005", "--seed", "5", "-w", "2", "--json", "-q"]
    straight = subprocess.run([MC, *args], capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr
    ck = tmp_path / "mlmc.ckpt"
    proc = subprocess.Popen(
        [MC, *args, "--checkpoint", str(ck), "--checkpoint-every", "0.05"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the checkpoint holds part of the big second round
        assert proc.poll() is None, proc.communicate()
        try:
            seen = json.loads(ck.read_text())
            if seen["round"] == 2 and seen["levels"][0]["next_block"] > 1:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process tree, as a power cut would
    proc.communicate()
    assert proc.returncode == -9
    seen = json.loads(ck.read_text())
    assert seen["levels"][0]["next_block"] < seen["targets"][0]  # killed mid-round
    resumed = subprocess.run([MC, *args, "--checkpoint", str(ck), "--resume"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    a, b = json.loads(straight.stdout)["mlmc"], json.loads(resumed.stdout)["mlmc"]
    assert a == b  # every N_l, the level count, the estimate and every folded statistic


# -- the result: JSON, load, table, frame, plot, command line ------------------------------------------------


def test_json_round_trip_and_load(tmp_path, reference):
    path = tmp_path / "r.json"
    reference.save(str(path))
    back = montecarlo.load(path)
    assert isinstance(back, MLMCResult) and key(back) == key(reference)
    assert back.to_dict() == reference.to_dict()
    d = json.loads(path.read_text())
    assert d["schema"] == "montecarlo.mlmc" and d["mlmc"]["levels"][2]["spawn_key"] == [2]
    for field in ("estimate", "standard_error", "alpha", "beta", "gamma", "cost", "plain_cost", "levels"):
        assert field in d["mlmc"]
    for field in ("level", "samples", "mean", "variance", "cost", "kurtosis", "check"):
        assert field in d["mlmc"]["levels"][1]
    d["mlmc"]["levels"][1]["mean"] += 1e-9
    path.write_text(json.dumps(sealed({k: v for k, v in d.items() if k != "checksum"})))
    with pytest.raises(ResultFormatError, match="not its accumulator's"):
        montecarlo.load(path)


def test_table_html_and_frame(reference):
    text = reference.table()
    assert "gbm_call: multilevel Monte Carlo to RMSE 0.02" in text and "savings" in text
    assert "ave(Pf-Pc)" in text and "kurtosis" in text and len(text.splitlines()) >= 13
    assert "<table" in reference._repr_html_() and "var(Pf)" in reference._repr_html_()
    pytest.importorskip("pandas")
    frame = reference.to_frame()
    assert list(frame["level"]) == list(range(7)) and list(frame["samples"]) == list(reference.samples)


@pytest.mark.slow
def test_plot(tmp_path, reference):
    pytest.importorskip("matplotlib")
    out = tmp_path / "levels.png"
    axes = reference.plot(output=str(out))
    assert out.stat().st_size > 1000 and len(axes) == 2
    assert axes[0].get_ylabel() == "$\\log_2$ variance" and len(axes[0].lines) == 2


@pytest.mark.slow
def test_cli_prints_table_json_and_files(tmp_path, capsys, reference):
    out_file, plot_file = tmp_path / "r.json", tmp_path / "r.svg"
    code, out, err = mc(capsys, "mlmc", "gbm_call", "--rmse", "0.02", "--seed", "11", "--executor", "threads",
                        "-o", out_file, "--plot", plot_file)  # fmt: skip
    assert code == 0, err
    assert out.startswith("gbm_call: multilevel Monte Carlo to RMSE 0.02") and "round 1: levels 0-2" in err
    assert key(montecarlo.load(out_file)) == key(reference) and plot_file.exists()
    code, out, err = mc(capsys, "mlmc", "gbm_call", "--rmse", "0.02", "--seed", "11", "--json", "-q", "-w", "2")
    assert code == 0 and err == ""
    assert json.loads(out)["mlmc"] == reference.to_dict()["mlmc"]
    code, out, _ = mc(capsys, "mlmc", "gbm_call", "--rmse", "0.1", "--executor", "serial", "-q")
    assert code == 0 and "repeat these numbers with --seed" in out


@pytest.mark.slow
def test_mc_reproduce_and_mc_plot_of_a_multilevel_result(tmp_path, capsys, reference):
    path = tmp_path / "r.json"
    reference.save(str(path))
    code, out, err = mc(capsys, "reproduce", path, "--executor", "threads", "-w", "2")
    assert code == 0, err
    assert "bit-identical" in out and "1 run(s)" in out
    d = json.loads(path.read_text())
    d["mlmc"]["alpha"] += 1e-9  # a decision's number, not checked by the reader: the re-run finds it
    path.write_text(json.dumps(sealed({k: v for k, v in d.items() if k != "checksum"})))
    code, out, _ = mc(capsys, "reproduce", path, "--executor", "serial")
    assert code == 1 and "alpha: recorded" in out and "not reproduced: 1 of" in _
    pytest.importorskip("matplotlib")
    code, out, err = mc(capsys, "plot", path, "-o", tmp_path / "levels.png")
    assert code == 0 and (tmp_path / "levels.png").exists(), err


def test_the_guide_writes_a_level_model_that_runs_as_written(tmp_path, monkeypatch):
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[1] / "docs" / "mlmc.md").read_text(encoding="utf-8")
    section = guide.split("## Writing a level model", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "__main__"}
    exec(compile(code.replace("rng=1)", 'rng=1, executor="threads")'), "docs/mlmc.md", "exec"), namespace)
    result = montecarlo.load(tmp_path / "ou_square.json")
    assert result.converged and abs(result.estimate - result.exact) < 3 * 0.002
    assert 1.8 <= result.beta and abs(result.gamma - 1.0) < 1e-12 and max(lv.check for lv in result.levels[1:]) < 1
