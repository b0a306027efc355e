"""The package's shape: folders that are one-way layers, no import cycles, small modules (docs/architecture.md).

Every import counts, function-local ones included; only imports inside an
``if TYPE_CHECKING:`` block are left out (they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "montecarlo"

#: Layers from the bottom up, each one or more folders (or top-level modules) of the package.
#: A module's layer is its folder's: a module may import from its own layer and the ones below.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("values", ("_version", "errors", "core")),
    ("kernels", ("_kernels",)),
    ("statistics", ("stats",)),
    ("models", ("models",)),
    ("estimation", ("estimation",)),
    ("records", ("records",)),
    ("engine", ("engine",)),
    ("api", ("api",)),
    ("analyses", ("analyses",)),
    ("presentation", ("reports", "experiments")),
    ("cli", ("cli", "__main__")),
]

#: The only upward imports: lazy presentation delegations of a result (by folder).
UPWARD = {("records", "reports"), ("analyses", "reports")}

#: What `montecarlo/` holds at its top: these modules, the layers' folders, and at most three more modules.
TOP_MODULES = {"__init__", "__main__", "_version", "errors", "api"}
MAX_LOOSE = 3
MAX_FOLDERS = 12

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


def top(name: str) -> str:
    """The folder (or top-level module) of the package that holds ``name``."""
    return name.split(".")[1]


def layer_of(name: str) -> int:
    """Index of the layer holding ``name``: its folder's."""
    for i, (_, folders) in enumerate(LAYERS):
        if top(name) in folders:
            return i
    raise AssertionError(f"{name} is in no layer: its folder {top(name)!r} is not in LAYERS (nor docs/architecture.md)")


def test_every_module_has_a_layer():
    for name in MODULES:
        if name != "montecarlo":
            layer_of(name)


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m != "montecarlo"))
def test_imports_go_down_the_layers(name):
    mine = layer_of(name)
    for target in GRAPH[name]:
        assert target != "montecarlo", f"{name} imports the package itself; import the module that holds the name"
        if (top(name), top(target)) in UPWARD:
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
    assert "montecarlo.reports.table" in GRAPH["montecarlo.records.result"]


def test_the_folders_are_the_layers():
    loose = {p.stem for p in PACKAGE.glob("*.py")} - TOP_MODULES
    assert len(loose) <= MAX_LOOSE, f"montecarlo/ holds loose modules {sorted(loose)}: put them in their layer's folder"
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert len(folders) <= MAX_FOLDERS, f"montecarlo/ has {len(folders)} folders: {sorted(folders)}"
    layered = {f for _, members in LAYERS for f in members}
    assert folders <= layered, f"folders in no layer: {sorted(folders - layered)}"


def test_the_architecture_page_shows_every_folder():
    page = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    folders = sorted(p.parent.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*/__init__.py"))
    missing = [f for f in folders if f + "/" not in page]
    assert missing == [], f"docs/architecture.md does not show {missing}"


def test_every_exception_class_is_in_errors_under_one_root():
    import inspect

    import montecarlo.errors as errors

    elsewhere = []
    for name, path in MODULES.items():
        if name in ("montecarlo.errors",) or name.startswith("montecarlo.cli"):
            continue  # the CLI's click exceptions only carry exit codes
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                ast.unparse(b).endswith(("Error", "Exception", "Warning", "Interrupt", "Problem")) for b in node.bases
            ):
                elsewhere.append(f"{name}.{node.name}")
    assert elsewhere == [], f"exception classes outside errors.py: {elsewhere}"
    signals = {errors.Terminated, errors.ExitAtImport}
    for _, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, BaseException) and cls.__module__ == errors.__name__ and cls not in signals:
            root = errors.MonteCarloWarning if issubclass(cls, Warning) else errors.MonteCarloError
            assert issubclass(cls, root), f"{cls.__name__} is not a {root.__name__}"
