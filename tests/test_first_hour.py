"""What a new user meets first: messages that say what happened and what to type next."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MC, mc

import montecarlo
from montecarlo import Checkpointing, Sampling

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_ctrl_c_says_where_the_checkpoint_is_and_how_to_resume(tmp_path):
    ckpt = tmp_path / "run.ckpt"
    args = ["run", "pi", "-n", "1e11", "--seed", "3", "--checkpoint", str(ckpt), "-q", "-w", "2"]
    p = subprocess.Popen([MC, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not ckpt.exists() and time.monotonic() < deadline:  # the first folded task is saved at once
        time.sleep(0.05)
    assert ckpt.exists()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130
    done = json.loads(ckpt.read_text())["samples_done"]
    command = f"mc run pi -n 1e11 --seed 3 --checkpoint {ckpt} -q -w 2 --resume"
    assert f"checkpoint {ckpt} saved at {done:,} samples; resume with: {command}" in err
    # The printed command resumes the run (here to a smaller cap: the same RunSpec is needed, so resume
    # exactly as printed, then stop it once more to keep the test short).
    p = subprocess.Popen([MC, *command.split()[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 143 and "Terminated: workers stopped." in err
    assert json.loads(ckpt.read_text())["samples_done"] >= done


@pytest.mark.slow
def test_a_resumed_run_says_so_and_counts_only_its_own_samples(tmp_path):
    path = tmp_path / "c.ckpt"
    montecarlo.run("pi", 10**7, rng=1, checkpoint=path, sampling=Sampling(block_size=10**6), execution="serial")
    again = montecarlo.run(
        "pi", 10**7, rng=1, checkpoint=Checkpointing(path, resume=True), sampling=Sampling(block_size=10**6)
    )
    assert again.provenance["resumed_at_samples"] == 10**7
    assert again.provenance["throughput"] == 0.0  # nothing was computed in this run
    assert "samples, resumed at 10,000,000," in again.table()


@pytest.mark.slow
def test_why_a_run_used_one_worker(capsys):
    code, out, _ = mc(capsys, "run", "european_option", "-n", "1e5", "-w", "2", "--seed", "1", "-q")
    assert code == 0
    assert "1 worker(s) (processes; 2 asked for, the run has 1 block: a smaller --block-size splits it across" in out
    python = str(montecarlo.run("european_option", 10**5, rng=1, workers=2))
    assert "(processes; 2 asked for, the run has 1 block)" in python  # no command-line option named in Python
    code, out, _ = mc(capsys, "run", "european_option", "-n", "1e5", "-w", "1", "--seed", "1", "-q")
    assert "1 worker(s) (processes)\n" in out  # as asked: no reason to give


@pytest.mark.slow
def test_an_unseeded_run_says_how_to_repeat_it(capsys):
    code, out, _ = mc(capsys, "run", "pi", "-n", "1e5", "-q")
    entropy = int(out.split("seed entropy ")[1].split(",")[0])
    assert code == 0 and out.rstrip().endswith(f"repeat these numbers with --seed {entropy}")
    code, out, _ = mc(capsys, "run", "pi", "-n", "1e5", "-q", "--seed", "5")
    assert "repeat these numbers" not in out


def test_one_notation_per_interval():
    r = montecarlo.run("tail_probability", 2 * 10**5, rng=1, params={"c": 4.0}, execution="serial")
    line = next(row for row in r.table().splitlines() if row.startswith("importance"))
    estimate, interval = line.split()[1], line.split("[")[1].split("]")[0]
    assert "e-" in estimate and all("e-" in end for end in interval.split(", "))


@pytest.mark.slow
def test_extend_to_a_target_and_say_when_nothing_is_saved(tmp_path, capsys):
    first = tmp_path / "e.json"
    montecarlo.run("european_option", 500_000, rng=4, sampling=Sampling(block_size=50_000), execution="serial").save(
        str(first)
    )
    code, out, err = mc(capsys, "extend", first, "-n", "1e8", "--tolerance", "0.02", "-q", "--executor", "serial")
    assert code == 0 and "target met: interval half-width <= 0.02" in out
    assert "not saved: add -o FILE to write the extended result" in err
    code, _, _ = mc(capsys, "extend", first, "-n", "1e8", "--tolerance", "0.02", "-q", "-o", tmp_path / "x.json")
    r = montecarlo.load(tmp_path / "x.json")
    assert r.stopping["target_met"] and r.spec.stop.min_samples == 500_000
    assert "bit-identical" in mc(capsys, "reproduce", tmp_path / "x.json", "--executor", "serial")[1]


@pytest.mark.slow
def test_mc_plot_draws_an_experiment_result(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "results"
    assert mc(capsys, "experiment", "run", ROOT / "experiments" / "european_call_strikes.toml", "-n", "2e4", "-o",
              folder, "-q")[0] == 0  # fmt: skip
    (result,) = folder.glob("european_call_strikes/*/result.json")
    code, out, err = mc(capsys, "plot", result, "-o", tmp_path / "sweep.png")
    assert code == 0, err and (tmp_path / "sweep.png").stat().st_size > 10_000


@pytest.mark.slow
def test_files_are_as_readable_as_the_umask_says(tmp_path, capsys):
    old = os.umask(0o022)
    try:
        out = tmp_path / "r.json"
        assert mc(capsys, "run", "pi", "-n", "1e5", "-q", "-o", out)[0] == 0
        assert oct(out.stat().st_mode & 0o777) == oct(0o644)
        folder = tmp_path / "results"
        assert (
            mc(capsys, "experiment", "run", ROOT / "experiments" / "pi.toml", "-n", "1e5", "-o", folder, "-q")[0] == 0
        )
        (made,) = folder.glob("pi/*")
        assert oct(made.stat().st_mode & 0o777) == oct(0o755)
        montecarlo.run("pi", 10**5, rng=1, checkpoint=tmp_path / "c.ckpt", execution="serial")
        assert oct((tmp_path / "c.ckpt").stat().st_mode & 0o777) == oct(0o644)
    finally:
        os.umask(old)


@pytest.mark.slow
def test_shell_completion_knows_the_model_names():
    env = {**os.environ, "_MC_COMPLETE": "bash_complete", "COMP_WORDS": "mc run p", "COMP_CWORD": "2"}
    out = subprocess.run([MC], env=env, capture_output=True, text=True, timeout=30).stdout
    assert "plain,pi" in out.splitlines() and "plain,gamblers_ruin" not in out.splitlines()
    env["COMP_WORDS"], env["COMP_CWORD"] = "mc run pi --executor t", "4"
    assert "plain,threads" in subprocess.run([MC], env=env, capture_output=True, text=True, timeout=30).stdout


@pytest.mark.slow
def test_the_long_command_name_and_the_version(capsys):
    montecarlo_cmd = str(Path(MC).with_name("montecarlo"))
    out = subprocess.run([montecarlo_cmd, "-V"], capture_output=True, text=True, timeout=30).stdout
    assert out.strip() == f"mc (montecarlo) {montecarlo.__version__}"
