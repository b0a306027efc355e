"""Result and checkpoint files: atomic writes, full disks and unwritable places."""

import errno
import os

import pytest
from conftest import mc

import montecarlo
from montecarlo.errors import CheckpointWriteError
from montecarlo.records import files


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_write_atomic_replaces_whole_files(tmp_path):
    path = tmp_path / "r.json"
    files.write_atomic(path, "old\n")
    files.write_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert os.listdir(tmp_path) == ["r.json"]


@pytest.mark.slow
def test_a_full_disk_leaves_the_earlier_result_intact(tmp_path, capsys, monkeypatch):
    path = tmp_path / "r.json"
    path.write_text("earlier result\n")
    monkeypatch.setattr(files.os, "fsync", disk_full)
    code, out, err = mc(capsys, "run", "pi", "-n", "1e5", "-s", "1", "-q", "-o", path)
    assert code == 1
    assert "3.1" in out  # the numbers were shown before the write failed
    assert err.count("\n") == 1 and "cannot write --output" in err and "No space left on device" in err
    assert path.read_text() == "earlier result\n"
    assert os.listdir(tmp_path) == ["r.json"]  # no temporary file left behind


def test_an_output_folder_that_does_not_exist_is_refused_before_the_run(tmp_path, capsys):
    code, out, err = mc(capsys, "run", "pi", "-n", "1e5", "-q", "-o", tmp_path / "missing" / "r.json")
    assert code == 2 and out == "" and "does not exist" in err


def test_a_checkpoint_that_cannot_be_written_fails_the_run_clearly(tmp_path, monkeypatch):
    ck = tmp_path / "c.json"
    monkeypatch.setattr(files.os, "replace", disk_full)
    with pytest.raises(CheckpointWriteError, match=r"cannot write checkpoint .*No space left on device; the previous"):
        montecarlo.run("pi", samples=10**6, rng=1, execution="serial", checkpoint=ck)
    assert not ck.exists() and os.listdir(tmp_path) == []
