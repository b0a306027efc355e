"""The package's shape: one-way layers, no import cycles, small modules (docs/architecture.md).

Every import counts, function-local ones included; only imports inside an
``if TYPE_CHECKING:`` block are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "montecarlo"

#: Layers from the bottom up; a module may import from its own layer and the ones below.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "values",
        (
            "montecarlo._version",
            "montecarlo.errors",
            "montecarlo.validate",
            "montecarlo.options",
            "montecarlo.execution",
            "montecarlo.estimate",
            "montecarlo.stopping",
            "montecarlo.twostage",
            "montecarlo.vocabulary",
            "montecarlo.seeding",
            "montecarlo.jit",
            "montecarlo.column_sums",
            "montecarlo.column_pass",
            "montecarlo.stats",
            "montecarlo.accumulate",
            "montecarlo.pointset",
            "montecarlo.replicates",
            "montecarlo.shape",
            "montecarlo.sketch",
            "montecarlo.parts",
            "montecarlo.spec",
        ),
    ),
    (
        "models",
        (
            "montecarlo.parameters",
            "montecarlo.derived",
            "montecarlo.model",
            "montecarlo.uniforms",
            "montecarlo.models",
            "montecarlo.registry",
        ),
    ),
    (
        "estimation",
        (
            "montecarlo.rqmc",
            "montecarlo.estimation",
            "montecarlo.diagnostics",
            "montecarlo.quantiles",
            "montecarlo.distribution",
        ),
    ),
    ("engine", ("montecarlo.executors", "montecarlo.engine")),
    (
        "records",
        (
            "montecarlo.reading",
            "montecarlo.integrity",
            "montecarlo.files",
            "montecarlo.locking",
            "montecarlo.provenance",
            "montecarlo.result",
            "montecarlo.checkpoint",
            "montecarlo.experiment_result",
            "montecarlo.loading",
            "montecarlo.cache",
        ),
    ),
    ("api", ("montecarlo.specs", "montecarlo.api")),
    (
        "presentation",
        (
            "montecarlo.table",
            "montecarlo.frames",
            "montecarlo.plot",
            "montecarlo.distplot",
            "montecarlo.progress",
            "montecarlo.experiments",
        ),
    ),
    ("cli", ("montecarlo.cli", "montecarlo.__main__")),
]

#: The only upward imports: lazy presentation delegations of a result.
UPWARD = {
    ("montecarlo.result", "montecarlo.table"),
    ("montecarlo.result", "montecarlo.plot"),
    ("montecarlo.result", "montecarlo.frames"),
    ("montecarlo.experiment_result", "montecarlo.table"),
    ("montecarlo.experiment_result", "montecarlo.frames"),
}

MAX_LINES = 400


def modules() -> dict[str, Path]:
    """Module name -> file, for every module of the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports (function-local too; TYPE_CHECKING blocks aside)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for b in node.body for n in ast.walk(b))
    base = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                parts = base.split(".")[: len(base.split(".")) - (node.level - 1)]
                mod = ".".join(parts + ([mod] if mod else []))
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


MODULES = modules()
GRAPH = {name: imports(name, path, set(MODULES)) for name, path in MODULES.items()}


def layer_of(name: str) -> int:
    """Index of the layer holding ``name`` (a module or any module inside a listed package)."""
    for i, (_, members) in enumerate(LAYERS):
        if any(name == m or name.startswith(m + ".") for m in members):
            return i
    raise AssertionError(f"{name} is in no layer: add it to LAYERS (and to docs/architecture.md)")


def test_every_module_has_a_layer():
    for name in MODULES:
        if name != "montecarlo":
            layer_of(name)


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m != "montecarlo"))
def test_imports_go_down_the_layers(name):
    mine = layer_of(name)
    for target in GRAPH[name]:
        assert target != "montecarlo", f"{name} imports the package itself; import the module that holds the name"
        if (name, target) in UPWARD:
            continue
        theirs = layer_of(target)
        assert theirs <= mine, f"{name} ({LAYERS[mine][0]}) imports {target} ({LAYERS[theirs][0]}), a layer above"


def test_no_import_cycles():
    # Tarjan's strongly connected components over the package's import graph.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in GRAPH or w == "montecarlo" or w.startswith(v + "."):
                continue  # a package importing its own children is not a cycle
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index and v != "montecarlo":
            visit(v)
    assert cycles == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name):
    lines = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines; split it (at most {MAX_LINES})"


def test_the_checker_sees_function_local_imports():
    # The result's table delegation is a function-local import: it must be found.
    assert "montecarlo.table" in GRAPH["montecarlo.result"]
