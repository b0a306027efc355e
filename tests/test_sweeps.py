"""Sweeps record each point as it finishes and resume from their result folder, without the cache.

An experiment run with an output folder appends every finished point to
``DIR/<name>/<stamp>-<hash>.partial/points.jsonl``; the same command run
again takes those points back (checked line by line against the point's
RunSpec digest and the model's fingerprint) and ends with the numbers of an
uninterrupted run.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from conftest import MC, mc, numbers

from montecarlo import Execution
from montecarlo.experiments import load_experiment, run_experiment
from montecarlo.experiments import record as record_module
from montecarlo.experiments.record import PARTIAL, POINTS_FILE

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SERIAL = Execution("serial")

MODEL = """
import time
import numpy as np

def expo(rng, n, a: float = 1.0, pause: float = 0.0):
    \"\"\"E[exp(a U)] = (e^a - 1) / a for U uniform on [0, 1); ``pause`` seconds of sleep per call.\"\"\"
    if pause:
        time.sleep(pause)
    return np.exp(a * rng.random(n))
"""


@pytest.fixture
def models(tmp_path, monkeypatch):
    """A real module of the test model on sys.path, under a unique name; returns (name, path)."""
    name = f"mc_sweep_models_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, path
    sys.modules.pop(name, None)


@pytest.fixture
def record_at_once(monkeypatch):
    """Make the unfinished folder at the first point (a real sweep makes it after a second)."""
    monkeypatch.setattr(record_module, "FIRST_RECORD_S", 0.0)


def sweep_file(tmp_path, model: str, points: int = 6, extra: str = "") -> str:
    values = ", ".join(f"{1.0 + i / 10:.1f}" for i in range(points))
    text = f"""
        name = "s"
        model = "{model}"
        samples = 2000
        block_size = 500
        seed = 5
        executor = "serial"
        {extra}
        [sweep.params]
        a = [{values}]
    """
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(text))
    return str(path)


class Stop(Exception):
    pass


def stop_at(index: int):
    def on_point(point):
        if point.index == index:
            raise Stop

    return on_point


def partials(out: Path) -> list[Path]:
    return sorted((out / "s").glob(f"*{PARTIAL}"))


def lines(record: Path) -> list[bytes]:
    return record.read_bytes().split(b"\n")


def point_numbers(res) -> list[dict]:
    return [numbers(p.result) for p in res.points]


# --------------------------------------------------------------------------
# the record and its resumption, in-process
# --------------------------------------------------------------------------


def test_finished_points_are_recorded_and_taken_back(tmp_path, models, record_at_once):
    exp = load_experiment(sweep_file(tmp_path, f"{models[0]}:expo"))
    out = tmp_path / "out"
    with pytest.raises(Stop) as stopped:
        run_experiment(exp, on_point=stop_at(3), output_dir=str(out))
    (partial,) = partials(out)
    assert stopped.value.__notes__ == [
        f"4 finished point(s) are kept in {partial}: the same command resumes from them."
    ]
    record = lines(partial / POINTS_FILE)
    assert len(record) == 6 and record[-1] == b""  # a header, four points, each line ended
    header = json.loads(record[0])
    assert header["schema"] == "montecarlo.points" and header["points"] == 6 and header["entropy"] == 5
    first = json.loads(record[1])
    assert first["index"] == 0 and first["spec"] == exp.points[0].spec.digest()
    assert first["checksum"].startswith("sha256:") and first["point"]["result"]["samples"] == 2000

    seen = []
    res = run_experiment(exp, on_point=seen.append, output_dir=str(out))
    assert res.provenance["resumed"] == 4 and [p.index for p in seen] == list(range(6))
    assert [p.result.provenance.get("folder") for p in res.points] == ["resumed"] * 4 + [None] * 2
    fresh = run_experiment(exp, execution=SERIAL)
    assert point_numbers(res) == point_numbers(fresh)
    assert [p.swept for p in res.points] == [p.swept for p in fresh.points]
    assert partials(out) == [] and os.listdir(out / "s") == [os.path.basename(res.folder)]
    assert sorted(os.listdir(res.folder)) == ["result.json", "s.toml", "sweep.csv"]  # the record is gone
    written = json.loads(Path(res.folder, "result.json").read_text())
    assert [p["result"]["outputs"] for p in written["points"]] == [p.result.to_dict()["outputs"] for p in fresh.points]


def test_torn_and_damaged_lines_are_computed_again(tmp_path, models, record_at_once):
    exp = load_experiment(sweep_file(tmp_path, f"{models[0]}:expo"))
    out = tmp_path / "out"
    with pytest.raises(Stop):
        run_experiment(exp, on_point=stop_at(3), output_dir=str(out))
    (partial,) = partials(out)
    path = partial / POINTS_FILE
    record = lines(path)
    damaged = json.loads(record[2])  # point 1
    damaged["point"]["result"]["samples"] = 2001  # edited: its checksum no longer matches
    record[2] = json.dumps(damaged, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(record) + record[4][: len(record[4]) // 2])  # and a torn last line (point 3, again)
    res = run_experiment(exp, output_dir=str(out))
    assert res.provenance["resumed"] == 3
    assert [p.result.provenance.get("folder") for p in res.points] == [
        "resumed",
        None,
        "resumed",
        "resumed",
        None,
        None,
    ]
    assert point_numbers(res) == point_numbers(run_experiment(exp, execution=SERIAL))


def test_another_model_or_other_points_start_afresh(tmp_path, models, record_at_once):
    name, source = models
    cfg = sweep_file(tmp_path, f"{name}:expo")
    out = tmp_path / "out"
    with pytest.raises(Stop):
        run_experiment(load_experiment(cfg), on_point=stop_at(2), output_dir=str(out))
    (old,) = partials(out)
    res = run_experiment(load_experiment(cfg, {"samples": 1000}), output_dir=str(out))  # other RunSpecs
    assert res.provenance["resumed"] == 0
    source.write_text(MODEL.replace("np.exp(a * rng.random(n))", "np.exp(a * rng.random(n)) + 0.0"))
    res = run_experiment(load_experiment(cfg), output_dir=str(out))  # the model's source changed
    assert res.provenance["resumed"] == 0
    assert partials(out) == [old] and len(lines(old / POINTS_FILE)) == 5  # left alone


def test_a_sweep_without_a_seed_resumes_with_the_recorded_one(tmp_path, models, record_at_once):
    cfg = sweep_file(tmp_path, f"{models[0]}:expo")
    Path(cfg).write_text(Path(cfg).read_text().replace("seed = 5\n", ""))
    out = tmp_path / "out"
    first = load_experiment(cfg)
    with pytest.raises(Stop):
        run_experiment(first, on_point=stop_at(1), output_dir=str(out))
    again = load_experiment(cfg)
    assert again.points[0].spec.entropy != first.points[0].spec.entropy  # a fresh seed, as any run without one
    res = run_experiment(again, output_dir=str(out))
    assert res.provenance["resumed"] == 2
    assert {p.result.spec.entropy for p in res.points} == {first.points[0].spec.entropy}
    assert point_numbers(res) == point_numbers(run_experiment(first, execution=SERIAL))
    seeded = load_experiment(cfg, {"seed": 5})
    with pytest.raises(Stop):
        run_experiment(seeded, on_point=stop_at(1), output_dir=str(out))
    other = run_experiment(load_experiment(cfg, {"seed": 6}), output_dir=str(out))
    assert other.provenance["resumed"] == 0  # a seed of its own: only a record of that seed


@pytest.mark.skipif(fcntl is None, reason="no flock")
def test_a_record_another_run_is_appending_to_is_left_to_it(tmp_path, models, record_at_once):
    exp = load_experiment(sweep_file(tmp_path, f"{models[0]}:expo"))
    out = tmp_path / "out"
    with pytest.raises(Stop):
        run_experiment(exp, on_point=stop_at(2), output_dir=str(out))
    (partial,) = partials(out)
    with open(partial / POINTS_FILE, "rb") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)  # as the live run that writes it holds it
        res = run_experiment(exp, output_dir=str(out))
    assert res.provenance["resumed"] == 0 and partials(out) == [partial]


def test_a_failure_keeps_the_points_finished_even_within_the_first_second(tmp_path, models):
    exp = load_experiment(sweep_file(tmp_path, f"{models[0]}:expo"))
    out = tmp_path / "out"
    with pytest.raises(Stop) as stopped:
        run_experiment(exp, on_point=stop_at(0), output_dir=str(out))  # the first point's callback fails
    assert "kept in" in stopped.value.__notes__[0]  # that point finished: kept, even within the first second
    (partial,) = partials(out)
    assert len(lines(partial / POINTS_FILE)) == 3
    res = run_experiment(exp, output_dir=str(out))
    assert res.provenance["resumed"] == 1 and partials(out) == []  # the unfinished folder became the result


def test_the_command_line_says_how_many_points_it_took_back(tmp_path, models, record_at_once, capsys):
    cfg = sweep_file(tmp_path, f"{models[0]}:expo")
    out = tmp_path / "out"
    with pytest.raises(Stop):
        run_experiment(load_experiment(cfg), on_point=stop_at(2), output_dir=str(out))
    code, text, err = mc(capsys, "experiment", "run", cfg, "-o", out, "-q")
    assert code == 0, err
    assert "3 of 6 points taken from an unfinished run of this experiment" in text
    (final,) = (out / "s").iterdir()
    assert f"wrote {final}" in text


def test_a_record_that_cannot_be_written_stops_the_sweep_and_says_why(
    tmp_path, models, record_at_once, monkeypatch, capsys
):
    cfg = sweep_file(tmp_path, f"{models[0]}:expo")
    out = tmp_path / "out"
    real = record_module._write_all
    calls = []

    def full_disk(fd, data):
        calls.append(1)
        if len(calls) > 3:  # the header and the first points got out
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(record_module, "_write_all", full_disk)
    code, text, err = mc(capsys, "experiment", "run", cfg, "-o", out, "-q")
    (partial,) = partials(out)
    assert code == 1 and text == ""
    assert err.splitlines() == [
        f"3 finished point(s) are kept in {partial}: the same command resumes from them.",
        f"Error: --output-dir '{out}': cannot write the result folder ([Errno 28] No space left on device).",
    ]
    monkeypatch.setattr(record_module, "_write_all", real)
    code, text, err = mc(capsys, "experiment", "run", cfg, "-o", out, "-q")
    assert code == 0 and "3 of 6 points taken from an unfinished run" in text


# --------------------------------------------------------------------------
# a real kill
# --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_sweep_killed_by_sigkill_resumes_to_the_numbers_of_an_uninterrupted_run(tmp_path, models):
    name, _ = models
    cfg = tmp_path / "s.toml"
    values = ", ".join(f"{1.0 + i / 10:.1f}" for i in range(40))
    cfg.write_text(
        f'name = "s"\nmodel = "{name}:expo"\nsamples = 2000\nblock_size = 500\nseed = 5\nworkers = 1\n'
        f"[params]\npause = 0.02\n[sweep.params]\na = [{values}]\n"
    )  # 40 points of four blocks, each block sleeping 20 ms: the kill lands mid-way
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    command = [MC, "experiment", "run", str(cfg), "-o", str(out), "-q"]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            found = partials(out)
            if found and (found[0] / POINTS_FILE).read_bytes().count(b"\n") > 8:  # a header and 8 points
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        else:
            pytest.fail("the sweep recorded no points")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole run, workers included, at once
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    (partial,) = partials(out)
    kept = len([line for line in lines(partial / POINTS_FILE)[1:] if line.endswith(b"}")])
    assert 8 <= kept < 40
    with open(partial / POINTS_FILE, "ab") as f:
        f.write(b'{"index":39,"spec":"torn')  # as a kill in the middle of a write leaves it
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    resumed = int(done.stdout.split(" of 40 points taken from an unfinished run")[0].rsplit("\n", 1)[-1])
    assert kept <= resumed < 40
    (final,) = (out / "s").iterdir()
    assert not final.name.endswith(PARTIAL) and sorted(os.listdir(final)) == ["result.json", "s.toml", "sweep.csv"]
    written = json.loads((final / "result.json").read_text())
    assert written["provenance"]["resumed"] == resumed
    uninterrupted = run_experiment(load_experiment(str(cfg)), execution=SERIAL)
    keep = ("samples", "outputs", "derived", "covariance", "accumulator", "trace", "stopping", "spec")
    assert [{k: p["result"].get(k) for k in keep} for p in written["points"]] == [
        {k: p.result.to_dict().get(k) for k in keep} for p in uninterrupted.points
    ]
