"""The package's layout, checked from its source with ``ast``: the import graph of ``repro`` has no
cycle (counting imports inside functions too), and the mmseg-free core never imports the
MMSegmentation glue in ``repro.train``."""
from __future__ import annotations

import ast
from pathlib import Path

from repro import paths

PKG = paths.REPO_ROOT / "repro"
#: the core of the method: usable without MMSegmentation
CORE = ("repro.perturb", "repro.kid", "repro.features", "repro.sensitivity", "repro.sampling", "repro.metrics",
        "repro.data", "repro.evaluate", "repro.corrupt", "repro.hashing", "repro.small_models", "repro.cache",
        "repro.perturbed", "repro.seeds", "repro.validation")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PKG.rglob("*.py")) if "_compat" not in p.parts}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The repro module ``name`` refers to (a module, a package, or the module holding an attribute)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[:len(base) - (node.level - 1)]
                    origin = ".".join(base + ([node.module] if node.module else []))
                else:
                    origin = node.module or ""
                # `from repro import train` names a module; `from repro.x import f` names an attribute of x
                targets = [f"{origin}.{a.name}" for a in node.names]
            for t in targets:
                dep = _resolve(t, modules) if t.startswith("repro") else None
                if dep is not None and dep != mod and not mod.startswith(dep + "."):  # a package's own __init__
                    graph[mod].add(dep)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                return stack[stack.index(d):] + [d]
            if d not in state:
                found = visit(d)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_the_graph_sees_function_level_and_package_imports():
    g = import_graph()
    assert "repro.perturb.functional" in g["repro.perturb"]       # from .functional import ...
    assert "repro.train.hooks" in g["repro.train"]               # the package __init__
    assert "repro.features" in g["repro.train.hooks"]            # imported inside a method
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_has_no_cycle():
    assert _cycle(import_graph()) is None


def test_the_core_never_imports_the_mmseg_glue():
    g = import_graph()

    def reach(m: str, seen: set[str]) -> set[str]:
        for d in g[m]:
            if d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen

    bad = {m: sorted(d for d in reach(m, set()) if d == "repro.train" or d.startswith("repro.train."))
           for m in g if any(m == c or m.startswith(c + ".") for c in CORE)}
    assert {m: v for m, v in bad.items() if v} == {}
