"""README.md and the guides in docs/: every Python example runs as written and
prints its result, the README stays a front page, and its links lead somewhere.

docs/models.md's "Writing your own model" example is tested in depth by
tests/test_models_docs.py, and docs/rqmc.md's by tests/test_qmc.py.
"""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # end to end: processes, clusters, signals, whole programs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
#: Guide pages whose every python block is a self-contained program.
GUIDES = ("python.md", "failures.md", "quantiles.md", "dask.md")
MAX_README_LINES = 250


def python_blocks(text):
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


EXAMPLES = [("README.md", i, code) for i, code in enumerate(python_blocks(README))] + [
    (f"docs/{page}", i, code)
    for page in GUIDES
    for i, code in enumerate(python_blocks((ROOT / "docs" / page).read_text(encoding="utf-8")))
]


def test_readme_has_python_examples():
    assert len(python_blocks(README)) >= 2


@pytest.mark.parametrize("page", GUIDES)
def test_guide_has_python_examples(page):
    assert python_blocks((ROOT / "docs" / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("source", "index", "code"), EXAMPLES, ids=[f"{source}-{index + 1}" for source, index, _ in EXAMPLES]
)
def test_python_example_runs(source, index, code, tmp_path, monkeypatch, capsys):
    from montecarlo.core.execution import BACKENDS
    from montecarlo.core.stopping_rules import RULES
    from montecarlo.stats.accumulators import PARTS

    monkeypatch.chdir(tmp_path)
    for registry in (BACKENDS, RULES, PARTS):  # what an example registers is gone after it
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    exec(compile(code, f"{source} example {index + 1}", "exec"), {"__name__": "__main__"})
    assert capsys.readouterr().out.strip()  # it printed its result


def test_readme_is_a_front_page():
    lines = len(README.splitlines())
    assert lines <= MAX_README_LINES, f"README.md has {lines} lines; move details to a guide in docs/"


def test_readme_links_lead_to_files():
    targets = re.findall(r"\]\(([^)\s]+)\)", README)
    relative = [t for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]
    assert relative  # the guides are linked
    missing = [t for t in relative if not (ROOT / t.split("#", 1)[0]).exists()]
    assert missing == [], f"README.md links to files that do not exist: {missing}"


def test_readme_links_every_guide():
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    toctree = re.search(r"```\{toctree\}\n(.*?)```", index, flags=re.S).group(1)
    pages = [line.strip() for line in toctree.splitlines() if line.strip() and not line.startswith(":")]
    unlinked = [p for p in pages if p != "readme" and f"(docs/{p}.md)" not in README]
    assert unlinked == [], f"README.md's guide list misses {unlinked}"


def test_console_examples_print_what_they_show():
    # The README's and the guides' `$ mc ...` blocks are the output of their
    # commands, line for line; only the timing line's figures are the machine's
    # (benchmarks/console.py --write sets them, on a quiet machine).
    import subprocess
    import sys

    p = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "console.py")], capture_output=True, text=True, timeout=900
    )
    assert p.returncode == 0, p.stdout + p.stderr
