"""barenet's modules import each other without a cycle, and the core imports only NumPy.

The import graph is read from the source with ``ast`` (every ``import`` and ``from ... import``
inside barenet, at any depth in the file), so an import placed inside a function to dodge a
cycle is still an edge.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "src" / "barenet"


def module_names() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the barenet modules it imports (a package's __init__ counts as the package)."""
    mods = module_names()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = name.split(".")
                    base = base if is_pkg else base[:-1]
                    base = base[:len(base) - (node.level - 1)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                # ``from pkg import sub`` imports the submodule; other names come from ``mod``
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod
                           for a in node.names]
            for t in targets:
                while t and t not in mods and "." in t:
                    t = t.rsplit(".", 1)[0]
                if t in mods and t != name:
                    graph[name].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def without_packages(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The graph less edges from a package's modules up to the package itself (``from .
    import x`` in a submodule names the package, which Python has already started)."""
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}


def test_the_import_graph_is_read():
    graph = import_graph()
    assert "barenet.nn.module" in graph["barenet.nn.linear"]
    assert "barenet.nn.kernels.conv2d" in graph["barenet.nn.conv"]


def test_no_import_cycles():
    assert cycles(without_packages(import_graph())) == []


def test_a_planted_cycle_is_found():
    graph = without_packages(import_graph())
    graph["barenet.nn.module"].add("barenet.nn.linear")
    assert any({"barenet.nn.linear", "barenet.nn.module"} <= set(c) for c in cycles(graph))


@pytest.mark.parametrize("core", ["barenet.nn", "barenet.optim"])
def test_the_core_imports_nothing_outside_it_but_numpy(core):
    graph = import_graph()
    for mod, targets in graph.items():
        if mod == core or mod.startswith(core + "."):
            outside = {t for t in targets if not t.startswith(("barenet.nn", "barenet.optim"))}
            assert not outside, f"{mod} imports {outside}"
