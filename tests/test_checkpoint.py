"""Checkpoint, resume and extend, with real processes and signals."""

import json
import os
import signal
import subprocess
import time

import pytest
from conftest import MC, mc, numbers

import montecarlo
from montecarlo import Checkpointing, Execution, Result, ValidationError
from montecarlo.errors import CheckpointError
from montecarlo.records.integrity import sealed

SLOW = ["run", "modelzoo:slow", "-n", "300000", "--block-size", "1000", "-s", "5", "-w", "2", "--json", "-q"]


def json_numbers(text):
    """`numbers` of a result printed with --json."""
    return numbers(Result.from_json(text))


def mc_process(args, **kw):
    # conftest put the tests folder on PYTHONPATH: `mc` imports modelzoo by name.
    return subprocess.Popen(
        [MC, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw
    )


def wait_for_checkpoint(path, proc, min_samples):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            d = json.loads(path.read_text())
            if d["samples_done"] >= min_samples:
                return d
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


@pytest.fixture(scope="module")
def straight():
    p = subprocess.run([MC, *SLOW], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json_numbers(p.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGKILL, -9), (signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_interrupted_run_resumes_bit_identical(tmp_path, straight, sig, code):
    ck = tmp_path / "run.ckpt"
    args = [*SLOW, "--checkpoint", str(ck), "--checkpoint-every", "0.1"]
    proc = mc_process(args)
    seen = wait_for_checkpoint(ck, proc, 30_000)
    os.killpg(proc.pid, sig)  # the whole process tree, as a power cut or a terminal would
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == code, err
    saved = json.loads(ck.read_text())  # never a half-written file
    assert not saved["complete"] and saved["samples_done"] >= seen["samples_done"]
    resumed = mc_process([*args, "--resume"])
    out, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert json_numbers(out) == straight
    assert json.loads(out)["provenance"]["resumed_at_samples"] == saved["samples_done"]


def test_resume_of_a_finished_run_and_adopting_the_entropy(tmp_path, capsys):
    ck = tmp_path / "c.json"
    # No --seed: fresh entropy, recorded in the checkpoint and adopted on resume.
    args = ["run", "modelzoo:exp_mean", "-n", "50000", "--block-size", "1000", "--executor", "serial"]
    args += ["--checkpoint", str(ck), "--json", "-q"]
    code, first, err = mc(capsys, *args)
    assert code == 0, err
    code, again, err = mc(capsys, *args, "--resume")
    assert code == 0, err
    assert json_numbers(again) == json_numbers(first)
    assert json.loads(again)["provenance"]["resumed_at_samples"] == 50000


def write_checkpoint(tmp_path):
    ck = tmp_path / "c.json"
    montecarlo.run("pi", samples=10**6, rng=1, execution="serial", checkpoint=ck)
    return ck


def resealed(text: str) -> str:
    """A checkpoint's text with its checksum made anew (as if written that way)."""
    return json.dumps(sealed(json.loads(text)))


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda t: t[: len(t) // 2], "is truncated or not JSON \\(line 1"),
        (
            lambda t: t.replace('"version": 2', '"version": 9'),
            "has format version 9; this release reads version 2 \\(a newer montecarlo wrote it\\)",
        ),
        (lambda t: t.replace('"montecarlo.checkpoint"', '"something"'), "is not a montecarlo checkpoint"),
        (lambda t: t.replace('"entropy": 1', '"entropy": 2'), "does not match its checksum: it was edited or damaged"),
        (lambda t: resealed(t.replace('"entropy": 1', '"entropy": 2')), "its RunSpec does not match its digest"),
    ],
)
def test_bad_checkpoints_are_refused_and_left_untouched(tmp_path, mangle, message):
    ck = write_checkpoint(tmp_path)
    text = mangle(ck.read_text())
    ck.write_text(text)
    before = ck.stat().st_mtime_ns
    with pytest.raises(CheckpointError, match=message):
        montecarlo.run("pi", samples=10**6, rng=1, execution="serial", checkpoint=Checkpointing(ck, resume=True))
    assert ck.read_text() == text and ck.stat().st_mtime_ns == before


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    ck = write_checkpoint(tmp_path)
    text = ck.read_text()
    with pytest.raises(CheckpointError, match=r"belongs to a different run \(samples: 1000000 != 2000000"):
        montecarlo.run("pi", samples=2 * 10**6, rng=1, execution="serial", checkpoint=Checkpointing(ck, resume=True))
    with pytest.raises(ValidationError, match=r"`checkpoint` = .* already exists; accepted: resume=True \(--resume\)"):
        montecarlo.run("pi", samples=10**6, rng=1, execution="serial", checkpoint=ck)
    assert ck.read_text() == text


def test_resuming_a_missing_checkpoint_is_an_error(tmp_path, capsys):
    ck = tmp_path / "missing.json"
    with pytest.raises(ValidationError, match=r"`checkpoint` = .*missing\.json.* does not exist") as err:
        montecarlo.run("pi", samples=10**6, rng=1, execution="serial", checkpoint=Checkpointing(ck, resume=True))
    assert err.value.argument == "checkpoint"
    code, out, err = mc(capsys, "run", "pi", "-n", "1e6", "-s", "1", "--checkpoint", ck, "--resume", "-q")
    assert code == 2 and out == "" and "does not exist" in err
    assert not ck.exists()


def test_cli_checkpoint_errors(tmp_path, capsys):
    ck = write_checkpoint(tmp_path)
    code, _, err = mc(capsys, "run", "pi", "-n", "2e6", "-s", "1", "--checkpoint", ck, "--resume", "-q")
    assert code == 2 and err.count("\n") == 1 and "belongs to a different run (samples: 1000000 != 2000000)" in err
    code, _, err = mc(capsys, "run", "pi", "--resume", "-q")
    assert code == 2 and err.startswith("Error: --resume needs a checkpoint file; accepted: --checkpoint FILE as well")
    code, _, err = mc(capsys, "run", "pi", "--checkpoint", tmp_path / "no" / "such" / "dir.json", "-q")
    assert code == 2 and "does not exist" in err


@pytest.mark.slow
@pytest.mark.parametrize("n1, n2", [(10**6, 4 * 10**6), (5 * 10**6 + 7, 2 * 10**7 + 3)])
def test_extend_equals_a_single_run(n1, n2):
    two = Execution(workers=2)
    short = montecarlo.run("pi", samples=n1, rng=3, execution=two)
    longer = montecarlo.extend(short, n2, execution=two)
    straight_run = montecarlo.run("pi", samples=n2, rng=3, execution=two)
    assert numbers(longer) == numbers(straight_run)
    assert longer.continuation == straight_run.continuation


@pytest.mark.slow
def test_extend_from_the_command_line(tmp_path, capsys):
    first = tmp_path / "r.json"
    assert mc(capsys, "run", "pi", "-n", "1e6", "-s", "9", "-q", "-o", first)[0] == 0
    code, extended, err = mc(capsys, "extend", first, "-n", "4e6", "--json", "-q")
    assert code == 0, err
    code, straight_run, err = mc(capsys, "run", "pi", "-n", "4e6", "-s", "9", "--json", "-q")
    assert code == 0, err
    assert json_numbers(extended) == json_numbers(straight_run)
    code, _, err = mc(capsys, "extend", first, "-n", "1e5", "-q")
    assert code == 2 and "is fewer than the result already has; accepted: at least 1000000." in err


@pytest.mark.slow
def test_a_worker_killed_by_sigkill_mid_run_changes_nothing(straight):
    import psutil

    proc = mc_process(SLOW)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 20
    while len(parent.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # inside the run, blocks in flight
    victim = parent.children()[0]
    victim.send_signal(signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert not victim.is_running()
    assert json_numbers(out) == straight


@pytest.mark.slow
def test_a_result_resumed_after_its_short_last_block_cannot_be_extended_wrongly(tmp_path):
    # The checkpoint of a finished run folded its short last block: the
    # whole-block prefix is gone, so extending must refuse rather than guess.
    ck = tmp_path / "c.json"
    montecarlo.run("pi", samples=(1 << 22) + 5, rng=1, execution="serial", checkpoint=ck)
    again = montecarlo.run(
        "pi", samples=(1 << 22) + 5, rng=1, execution="serial", checkpoint=Checkpointing(ck, resume=True)
    )
    assert again.continuation == {}
    with pytest.raises(ValueError, match="no continuation record"):
        montecarlo.extend(again, 10**7)
    # A run that stopped on a whole block extends exactly.
    whole = montecarlo.run("pi", samples=1 << 23, rng=1, execution="serial")
    assert (
        montecarlo.extend(whole, 10**7).to_dict()["outputs"] == montecarlo.run("pi", 10**7, rng=1).to_dict()["outputs"]
    )


def test_a_checkpoint_holding_the_next_block_to_fold_resumes(tmp_path):
    # A checkpoint may be written after block `done` arrived and before it
    # was folded: the snapshot then holds it, and resuming folds it first.
    from montecarlo.engine.fold import Fold
    from montecarlo.engine.jobs import block_job
    from montecarlo.engine.monitor import Monitor
    from montecarlo.engine.worker import run_block
    from montecarlo.records.checkpoint import RunState, save
    from montecarlo.stats.accumulators import Stats

    sampling = montecarlo.Sampling(block_size=1000)
    straight = montecarlo.run("pi", 5000, rng=3, sampling=sampling, execution="serial")
    spec = montecarlo.make_spec("pi", 5000, rng=3, sampling=sampling)
    model = spec.model_record
    job = block_job(spec, model, True)
    blocks = [run_block(job, b, 1000) for b in range(5)]
    fold = Fold(spec, Monitor(spec, model, lambda: 0.0), RunState(0, Stats.empty(1), {}, []))
    fold.add(0, blocks[:2])
    fold.advance()
    fold.add(2, blocks[2:4])  # arrived, not yet folded
    state = fold.snapshot()
    assert state.next_block == 2 and sorted(state.held) == [2, 3]
    path = tmp_path / "c.json"
    save(str(path), spec, state)
    resumed = montecarlo.run(
        "pi", 5000, rng=3, sampling=sampling, execution="serial", checkpoint=Checkpointing(str(path), resume=True)
    )
    assert numbers(resumed) == numbers(straight)


def test_a_checkpoint_reads_back_in_a_fresh_interpreter(tmp_path):
    # Parts and rules are found by registered name whatever was imported before.
    import subprocess
    import sys

    path = tmp_path / "pi.ckpt"
    montecarlo.run("pi", 10**5, rng=1, checkpoint=str(path), execution="serial", tolerance=0.5)
    code = "import sys; from montecarlo.records.checkpoint import load; spec, state = load(sys.argv[1]); print(state.total.count, sorted(state.total.parts), spec.stop.rules[0].name)"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    assert out.split()[1:] == ["['shape']", "tolerance"]


def test_the_checkpoint_interval_is_honoured(tmp_path, monkeypatch):
    # The first folded task is saved at once, then none until `every` seconds have passed, then the final one.
    import montecarlo.records.checkpoint as ckpt

    writes = []
    real = ckpt.save
    monkeypatch.setattr(
        ckpt, "save", lambda path, spec, state: (writes.append(state.next_block), real(path, spec, state))
    )
    import montecarlo.engine.driver as driver

    monkeypatch.setattr(driver, "save_checkpoint", ckpt.save)
    sampling = montecarlo.Sampling(block_size=10_000)
    r = montecarlo.run(
        "pi",
        10**6,
        rng=1,
        sampling=sampling,
        execution="serial",
        checkpoint=montecarlo.Checkpointing(tmp_path / "c", every=3600),
    )
    assert r.samples == 10**6 and len(writes) == 2, writes  # the first task, and the end (100 blocks folded)
    assert writes[-1] == 100


def test_the_interrupt_note_counts_finished_blocks_waiting_to_be_folded(tmp_path):
    # Block 0 is slow: blocks 1-3 finished first and wait in the checkpoint,
    # 0 samples folded. The note says what the file holds.
    from montecarlo.cli.run import checkpoint_summary
    from montecarlo.records.checkpoint import RunState, save
    from montecarlo.stats.accumulators import Stats

    spec = montecarlo.make_spec("pi", 4000, rng=3, sampling=montecarlo.Sampling(block_size=1000))
    blocks = [montecarlo.replay_block(spec, b) for b in range(1, 4)]
    path = tmp_path / "c.json"
    save(str(path), spec, RunState(0, Stats.empty(1), dict(zip(range(1, 4), blocks, strict=True)), []))
    assert checkpoint_summary(str(path)) == (
        f"checkpoint {path} saved at 0 samples and 3 finished block(s) of 3,000 samples waiting for an earlier block"
    )
    assert checkpoint_summary(str(tmp_path / "none.json")).startswith("no checkpoint was saved")


def test_an_extension_says_what_it_extended_and_what_it_kept(tmp_path):
    first = montecarlo.run("european_option", 2_000_000, rng=1, execution="serial")  # blocks of 2^20: one short
    more = montecarlo.extend(first, 3_000_000, execution="serial")
    assert more.provenance["extended_from_samples"] == 2_000_000
    assert more.provenance["resumed_at_samples"] == 1 << 20
    assert "3,000,000 samples, extended from 2,000,000 (1,048,576 in whole blocks kept)" in more.table()
