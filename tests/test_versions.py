"""Versions of the engine's arithmetic are recorded, and never mixed.

Every result, checkpoint and cache entry records the version of the
arithmetic that computed it (montecarlo.stats.sums.ARITHMETIC). A resume or
an extension of a file of another version is refused in one line naming the
version, the cache does not serve it, and `mc reproduce` of such a file
compares within the recorded intervals and says that the arithmetic changed.
"""

from __future__ import annotations

import json

from conftest import mc

import montecarlo
from montecarlo.records.integrity import sealed
from montecarlo.stats.sums import ARITHMETIC


def older(path, nudge=True):
    """Rewrite a result or checkpoint file as version 1 wrote it: no `arithmetic` key, last bits nudged."""
    d = json.loads(path.read_text())
    d.pop("arithmetic", None)
    if nudge and "outputs" in d:
        for e in d["outputs"].values():
            e["estimate"] = e["estimate"] * (1 + 2**-50)
    path.write_text(json.dumps(sealed(d)))


def test_files_record_the_arithmetic(tmp_path):
    r = montecarlo.run("european_option", 10**4, rng=1, executor="serial")
    assert json.loads(r.to_json())["arithmetic"] == ARITHMETIC == r.arithmetic
    path = tmp_path / "r.json"
    r.save(str(path))
    older(path, nudge=False)
    assert montecarlo.load(path).arithmetic == 1  # written before the version was recorded
    ckpt = tmp_path / "c.ckpt"
    montecarlo.run("pi", 10**4, rng=1, executor="serial", checkpoint=str(ckpt))
    assert json.loads(ckpt.read_text())["arithmetic"] == ARITHMETIC


def test_a_checkpoint_of_another_arithmetic_is_refused_and_kept(tmp_path, capsys):
    ckpt = tmp_path / "c.ckpt"
    code, _, _ = mc(capsys, "run", "pi", "-n", "1e5", "--seed", "1", "--checkpoint", ckpt, "--executor", "serial", "-q")
    assert code == 0
    older(ckpt)
    before = ckpt.read_bytes()
    code, out, err = mc(capsys, "run", "pi", "-n", "1e5", "--seed", "1", "--checkpoint", ckpt, "--resume", "-q")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "written with the engine's arithmetic of version 1, and this release computes with version 2" in err
    assert "delete" not in err and ckpt.read_bytes() == before


def test_a_result_of_another_arithmetic_is_not_extended(tmp_path, capsys):
    path = tmp_path / "r.json"
    montecarlo.run("pi", 10**4, rng=1, executor="serial", checkpoint=str(tmp_path / "c")).save(str(path))
    older(path)
    code, out, err = mc(capsys, "extend", path, "-n", "2e4", "-q")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "computed with the engine's arithmetic of version 1" in err and "re-run it with the larger" in err


def test_the_cache_does_not_serve_another_arithmetic(tmp_path, monkeypatch):
    import montecarlo.records.cache as cache

    store = cache.Cache(tmp_path)
    first = montecarlo.run("pi", 10**4, rng=1, execution=montecarlo.Execution("serial", cache=str(tmp_path)))
    assert first.provenance["cache"] == "stored"
    monkeypatch.setattr(cache, "ARITHMETIC", ARITHMETIC + 1)  # a later release
    assert store.get(first.spec, first.fingerprint) is None


def test_reproduce_across_arithmetics_compares_within_the_intervals(tmp_path, capsys):
    path = tmp_path / "r.json"
    montecarlo.run("european_option", 10**4, rng=1, executor="serial").save(str(path))
    older(path)
    code, out, err = mc(capsys, "reproduce", path, "--executor", "serial")
    assert code == 0, err
    assert "the arithmetic changed: the file was computed with version 1, this release computes with version 2" in out
    assert "every re-run estimate lies within its recorded interval" in out and "bit-identical" not in out
    # An estimate outside its recorded interval is reported.
    d = json.loads(path.read_text())
    e = d["outputs"]["price"]
    e["interval"] = [e["estimate"] + 1.0, e["estimate"] + 2.0]
    e["estimate"] += 1.5  # a consistent file (its estimate inside its interval) that the re-run does not reproduce
    path.write_text(json.dumps(sealed(d)))
    code, out, _ = mc(capsys, "reproduce", path, "--executor", "serial")
    assert code == 1 and "price: reproduced" in out and "outside the recorded interval" in out
