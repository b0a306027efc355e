"""The cache touches only what it wrote, never costs a result, and a write costs O(1) however large it is.

Each test plants the case: a project folder named as the cache, a file that
is not an entry inside a cache being pruned, a read-only cache, a cache path
that names a file, and sizes that are not sizes.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import types
import warnings
from pathlib import Path

import pytest
from conftest import estimates_of, mc

import montecarlo
from montecarlo import Execution
from montecarlo.errors import MonteCarloWarning, ValidationError
from montecarlo.records import cache as cache_module
from montecarlo.records import cachedir
from montecarlo.records.cache import Cache
from montecarlo.records.cachedir import MARKER, SIGNATURE

SERIAL_CACHED = Execution("serial", cache=True)


@pytest.fixture(autouse=True)
def cache_folder(tmp_path, monkeypatch):
    """Every test gets a cache of its own (the user's cache is never touched)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MONTECARLO_CACHE", str(folder))
    monkeypatch.delenv("MONTECARLO_CACHE_MB", raising=False)
    return folder


def pi_runs(n: int, samples: int = 2000) -> list:
    """``n`` results with ``n`` cache keys: one run, recorded as if run with each seed (the cache reads no number)."""
    first = montecarlo.run("pi", samples, rng=0, execution="serial")
    return [dataclasses.replace(first, spec=dataclasses.replace(first.spec, entropy=seed)) for seed in range(n)]


def project(folder: Path) -> dict[str, bytes]:
    """A folder of someone's work, shaped like entries where it can be: ``db/users.json`` and more."""
    files = {
        "db/users.json": b'{"users": ["ada", "alan"]}',
        "ab/notes.json": b"{}",
        "README.md": b"# my project\n",
        f"cd/{'c' * 63}.json": b"not an entry: its name has 63 hex digits",
    }
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def unchanged(folder: Path, files: dict[str, bytes]) -> bool:
    return all((folder / name).read_bytes() == data for name, data in files.items())


# --------------------------------------------------------------------------
# only what it wrote
# --------------------------------------------------------------------------


def test_the_cache_marks_the_folder_it_makes_and_names_its_entries(cache_folder):
    r = montecarlo.run("pi", 2000, rng=1, execution=SERIAL_CACHED)
    assert r.provenance["cache"] == "stored"
    tag = (cache_folder / MARKER).read_text()
    assert tag.startswith(SIGNATURE + "\n")  # the Cache Directory Tagging spec: backup tools skip the folder
    assert "created by montecarlo" in tag
    (entry,) = [p for p in cache_folder.rglob("*") if p.is_file() and p.name != MARKER]
    assert entry.parent.name == entry.name[:2] and len(entry.stem) == 64 and entry.suffix == ".json"
    assert montecarlo.run("pi", 2000, rng=1, execution=SERIAL_CACHED).provenance["cache"] == "reused"


def test_an_empty_folder_becomes_a_cache(cache_folder):
    cache_folder.mkdir()
    assert montecarlo.run("pi", 2000, rng=1, execution=SERIAL_CACHED).provenance["cache"] == "stored"
    assert (cache_folder / MARKER).is_file()


def test_clear_and_info_refuse_a_project_folder_and_touch_nothing(cache_folder, capsys):
    cache_folder.mkdir()
    files = project(cache_folder)
    for command in ("clear", "info"):
        code, out, err = mc(capsys, "cache", command)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert f"the cache folder '{cache_folder}' ($MONTECARLO_CACHE) is not a montecarlo cache" in err
        assert "accepted: an empty or new folder, or a folder montecarlo made its cache (it holds CACHEDIR.TAG)" in err
    assert unchanged(cache_folder, files) and not (cache_folder / MARKER).exists()
    with pytest.raises(ValidationError, match="is not a montecarlo cache"):
        Cache(cache_folder)


def test_a_run_into_a_project_folder_is_refused_before_it_starts(cache_folder, capsys, tmp_path):
    cache_folder.mkdir()
    files = project(cache_folder)
    code, out, err = mc(capsys, "run", "pi", "-n", "2000", "--seed", "1", "--cache", "-q")
    assert code == 2 and out == "" and "is not a montecarlo cache" in err
    cfg = tmp_path / "e.toml"
    cfg.write_text(f'model = "pi"\nsamples = 1000\nseed = 1\ncache = "{cache_folder}"\n')
    code, out, err = mc(capsys, "experiment", "run", cfg, "-o", tmp_path / "out", "-q")
    assert code == 2 and out == "" and f"{cfg}: the cache folder" in err and "is not a montecarlo cache" in err
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValidationError, match="is not a montecarlo cache"):
        montecarlo.run("pi", 2000, rng=1, execution=Execution("serial", cache=str(cache_folder)))
    assert unchanged(cache_folder, files) and not (cache_folder / MARKER).exists()


def test_another_programs_cachedir_tag_is_not_a_montecarlo_cache(cache_folder):
    cache_folder.mkdir()
    (cache_folder / MARKER).write_text(SIGNATURE + "\n# This file is a cache directory tag created by ccache.\n")
    with pytest.raises(ValidationError, match="its CACHEDIR.TAG was written by another program"):
        Cache()


def test_clear_removes_entries_and_nothing_else(cache_folder, capsys):
    for r in pi_runs(3):
        Cache().put(r)
    files = project(cache_folder)  # planted inside a marked cache: not entries, so never touched
    (cache_folder / "ab" / ("ab" + "0" * 62 + ".json.bak")).write_text("a backup")
    assert Cache().info().entries == 3
    code, out, _ = mc(capsys, "cache", "clear")
    assert code == 0 and out == f"{cache_folder}: removed 3 run(s)\n"
    assert unchanged(cache_folder, files) and (cache_folder / "ab" / ("ab" + "0" * 62 + ".json.bak")).exists()
    assert (cache_folder / MARKER).is_file() and Cache().info().entries == 0


@pytest.mark.slow
def test_pruning_removes_only_entries(cache_folder, monkeypatch):
    monkeypatch.setenv("MONTECARLO_CACHE_MB", "0.5")
    Cache().put(pi_runs(1)[0])
    big = cache_folder / "big.bin"
    big.write_bytes(b"\0" * 600_000)  # larger than the whole limit, but not an entry
    shard_file = cache_folder / "ab" / "data.json"
    shard_file.parent.mkdir(exist_ok=True)
    shard_file.write_bytes(b"\0" * 600_000)
    size = len(next(cache_folder.glob("??/" + "?" * 64 + ".json")).read_bytes())
    runs = pi_runs(int(1.5 * 2**19 / size))  # half as much again as the limit holds
    for r in runs:
        Cache().put(r)
    info = Cache().info()
    assert big.stat().st_size == 600_000 and shard_file.stat().st_size == 600_000
    assert info.bytes <= 0.5 * 2**20 and 0.8 * cache_module.LOW_WATER * 2**19 / size <= info.entries < len(runs)


def test_a_cache_of_an_earlier_release_without_a_marker_is_taken_as_one(cache_folder):
    runs = pi_runs(2)
    Cache().put(runs[0])
    (cache_folder / MARKER).unlink()  # as an earlier release left it: entries only
    cachedir._MARKED.clear()
    store = Cache()
    assert store.info().entries == 1 and store.get(runs[0].spec, runs[0].fingerprint) is not None
    assert store.put(runs[1]) and (cache_folder / MARKER).is_file()


# --------------------------------------------------------------------------
# a cache that cannot be written never costs a result
# --------------------------------------------------------------------------


def catch_cache_warnings() -> warnings.catch_warnings:
    return warnings.catch_warnings(record=True)


def mc_shown(capsys, *args) -> tuple[int, str, str]:
    """`mc` as a user runs it: warnings shown (the suite turns them into errors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("default", MonteCarloWarning)
        return mc(capsys, *args)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes in a read-only folder")
def test_a_read_only_cache_warns_once_and_returns_every_result(cache_folder, tmp_path, capsys):
    montecarlo.run("pi", 2000, rng=1, execution=SERIAL_CACHED)  # one entry, then the folder goes read-only
    folders = [cache_folder, *(p for p in cache_folder.iterdir() if p.is_dir())]
    for f in folders:
        f.chmod(0o500)
    try:
        with catch_cache_warnings() as seen:
            warnings.simplefilter("always")
            hit = montecarlo.run("pi", 2000, rng=1, execution=SERIAL_CACHED)
            fresh = [montecarlo.run("pi", 2000, rng=seed, execution=SERIAL_CACHED) for seed in (7, 8, 9)]
        assert hit.provenance["cache"] == "reused"  # reading still works
        assert [r.provenance["cache"] for r in fresh] == ["not stored"] * 3
        (w,) = [w for w in seen if issubclass(w.category, MonteCarloWarning)]
        assert f"cannot store runs in the cache '{cache_folder}'" in str(w.message)
        out = tmp_path / "r.json"
        code, text, err = mc_shown(capsys, "run", "pi", "-n", "3000", "--seed", "3", "--cache", "-q", "-o", out)
        assert code == 0 and "pi" in text and out.is_file()
    finally:
        for f in folders:
            f.chmod(0o700)


@pytest.mark.slow
def test_a_cache_on_a_read_only_file_system_warns_once_and_returns_every_result(
    cache_folder, tmp_path, monkeypatch, capsys
):
    """As a read-only mount behaves, for root too: every file the cache tries to make fails with EROFS."""
    other = tmp_path / "other-cache"
    montecarlo.run("pi", 2000, rng=1, execution=SERIAL_CACHED)
    montecarlo.run("pi", 2000, rng=1, execution=Execution("serial", cache=str(other)))

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(cachedir, "tempfile", types.SimpleNamespace(mkstemp=read_only))
    with catch_cache_warnings() as seen:
        warnings.simplefilter("always")
        hit = montecarlo.run("pi", 2000, rng=1, execution=SERIAL_CACHED)
        fresh = [montecarlo.run("pi", 2000, rng=seed, execution=SERIAL_CACHED) for seed in (7, 8, 9)]
    assert hit.provenance["cache"] == "reused"  # reading still works
    assert [r.provenance["cache"] for r in fresh] == ["not stored"] * 3
    assert estimates_of(fresh[0]) == estimates_of(montecarlo.run("pi", 2000, rng=7, execution="serial"))
    (w,) = [w for w in seen if issubclass(w.category, MonteCarloWarning)]  # once, before the first run computed
    assert str(w.message) == (
        f"cannot store runs in the cache '{cache_folder}' (Read-only file system): runs are computed as without "
        "the cache and not stored; point $MONTECARLO_CACHE at a writable folder, or run without the cache."
    )
    monkeypatch.setenv("MONTECARLO_CACHE", str(other))
    out = tmp_path / "r.json"
    code, text, err = mc_shown(capsys, "run", "pi", "-n", "3000", "--seed", "3", "--cache", "-q", "-o", out)
    assert code == 0 and "3,000 samples" in text and json.loads(out.read_text())["samples"] == 3000
    assert err.count("Warning: cannot store runs in the cache") == 1
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        'model = "european_option"\nsamples = 2000\nseed = 4\ncache = true\nexecutor = "serial"\n'
        "[sweep.params]\nstrike = [90.0, 100.0, 110.0]\n"
    )
    code, text, err = mc_shown(capsys, "experiment", "run", cfg, "-o", tmp_path / "results", "-q")
    assert code == 0, err
    assert "0 of 3 points reused from the cache" in text and (tmp_path / "results" / "s").is_dir()


def test_a_cache_path_that_names_a_file_costs_no_result(cache_folder, tmp_path, capsys):
    cache_folder.write_text("a file, not a folder")  # fails for root too
    out = tmp_path / "r.json"
    code, text, err = mc_shown(capsys, "run", "pi", "-n", "3000", "--seed", "3", "--cache", "-q", "-o", out)
    assert code == 0, err
    assert "3,000 samples" in text and json.loads(out.read_text())["samples"] == 3000
    assert err.count("Warning: cannot use the cache") == 1 and "it is not a folder" in err
    with catch_cache_warnings() as seen:
        warnings.simplefilter("always")
        runs = [montecarlo.run("pi", 2000, rng=seed, execution=SERIAL_CACHED) for seed in range(3)]
    assert [r.provenance["cache"] for r in runs] == ["not stored"] * 3
    assert len([w for w in seen if issubclass(w.category, MonteCarloWarning)]) <= 1  # once per folder and process
    assert estimates_of(runs[0]) == estimates_of(montecarlo.run("pi", 2000, rng=0, execution="serial"))
    assert cache_folder.read_text() == "a file, not a folder"
    code, _, err = mc(capsys, "cache", "info")
    assert code == 2 and "is not a folder" in err


def test_an_experiment_with_an_unwritable_cache_writes_its_folder(cache_folder, tmp_path, capsys):
    cache_folder.write_text("a file")
    cfg = tmp_path / "s.toml"
    cfg.write_text(
        'model = "european_option"\nsamples = 2000\nseed = 4\ncache = true\nexecutor = "serial"\n'
        "[sweep.params]\nstrike = [90.0, 100.0, 110.0]\n"
    )
    code, out, err = mc_shown(capsys, "experiment", "run", cfg, "-o", tmp_path / "out", "-q")
    assert code == 0, err
    assert "0 of 3 points reused from the cache" in out and "wrote " in out
    assert err.count("Warning: ") == 1


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-1", "0", "1e999"])
def test_a_cache_size_that_is_not_a_size_is_a_usage_error(monkeypatch, capsys, tmp_path, value):
    monkeypatch.setenv("MONTECARLO_CACHE_MB", value)
    with pytest.raises(ValidationError, match=f"MONTECARLO_CACHE_MB={value!r} is not a cache size"):
        montecarlo.run("pi", 2000, rng=1, execution=SERIAL_CACHED)
    # before any worker starts: the model never runs
    (tmp_path / "touch.py").write_text(
        "import pathlib\nimport numpy as np\n\n"
        "def sim(rng, n):\n    pathlib.Path(__file__).with_name('ran').touch()\n    return rng.random(n)\n"
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = mc(capsys, "run", "touch.py:sim", "-n", "1000", "--seed", "1", "--cache", "-q")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"the environment variable MONTECARLO_CACHE_MB={value!r} is not a cache size" in err
    assert "accepted: a finite number of megabytes > 0, such as 500 (the default)" in err
    cfg = tmp_path / "e.toml"
    cfg.write_text('model = "touch.py:sim"\nsamples = 1000\nseed = 1\ncache = true\n')
    assert mc(capsys, "experiment", "run", cfg, "-q", "-o", "out")[0] == 2
    assert mc(capsys, "cache", "info")[0] == 2
    assert not (tmp_path / "ran").exists() and not (tmp_path / "out").exists()
    assert montecarlo.run("pi", 2000, rng=1, execution="serial").samples == 2000  # without the cache: not read


def test_max_mb_is_checked_in_python():
    for bad in (0, -1.0, float("nan"), float("inf"), "5", True):
        with pytest.raises(ValidationError, match="`max_mb` = .* is not a cache size"):
            Cache(max_mb=bad)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# a write costs O(1) amortised
# --------------------------------------------------------------------------


def test_a_write_does_not_scan_the_cache(monkeypatch):
    runs = pi_runs(60, samples=1000)
    scans = []
    real = cachedir.entries

    def counted(folder, temps=False):
        scans.append(1)
        return real(folder, temps)

    monkeypatch.setattr(cachedir, "entries", counted)
    for r in runs:
        Cache().put(r)
    assert len(scans) == 1  # measured once, at the process's first write
    small = Cache(max_mb=0.05)  # room for a score of entries
    scans.clear()
    more = pi_runs(120, samples=1001)
    for r in more:
        small.put(r)
    assert len(scans) < len(more) / 2  # a pruning leaves room for the next writes
    assert small.info().bytes <= 0.05 * 2**20
