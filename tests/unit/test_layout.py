"""The package's layout, checked from its source with ``ast`` (docs/ARCHITECTURE.md).

``repro`` is built in layers; a module imports only from its own layer or the ones below, counting
imports inside functions and those that go through a package's ``__init__``; the import graph has no
cycle; the mmseg-free core (layers up to ``evaluation``) never reaches ``repro.train``. The checks
are run once on a copy with a deliberately added upward import, to show that they catch one."""
from __future__ import annotations

import ast
import shutil
from collections import Counter
from pathlib import Path

from repro.base import paths

PKG = paths.REPO_ROOT / "repro"
#: the layers, bottom up: a module may import from its own layer and the ones before it
LAYERS = ("base", "data", "perturb", "scoring", "analysis", "evaluation", "train", "robustness", "paper")
#: the core of the method: usable without MMSegmentation
CORE = LAYERS[:LAYERS.index("train")]
#: top-level modules beside the subpackages (the package face, the entry points)
TOP = ("repro", "repro.__main__", "repro.cli", "repro.gpu_check")
MAX_LINES = 700


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(root: Path) -> dict[str, Path]:
    # the mmengine config files under train/configs are data (read by mmengine), not modules
    return {_module_name(p, root): p for p in sorted(root.rglob("*.py")) if "configs" not in p.relative_to(root).parts}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The repro module ``name`` refers to (a module, a package, or the module holding an attribute)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(root: Path = PKG) -> dict[str, set[str]]:
    """module → the repro modules it imports anywhere in its source (functions included)."""
    modules = _modules(root)
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
                dep = _resolve(t, modules) if t.split(".")[0] == "repro" else None
                if dep is not None and dep != mod:
                    graph[mod].add(dep)
    return graph


def layer_of(module: str) -> int:
    """Index of ``module``'s layer in :data:`LAYERS`; the top-level modules are above them all."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    if module in TOP:
        return len(LAYERS)
    raise ValueError(f"{module}: not in a layer of {LAYERS} nor one of the top-level modules {TOP}")


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{m} -> {d}" for m, ds in graph.items() for d in ds if layer_of(d) > layer_of(m))


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


def core_reaching_train(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    def reach(m: str, seen: set[str]) -> set[str]:
        for d in graph[m]:
            if d not in seen:
                seen.add(d)
                reach(d, seen)
        return seen

    bad = {m: sorted(d for d in reach(m, set()) if d == "repro.train" or d.startswith("repro.train."))
           for m in graph if m not in TOP and LAYERS[layer_of(m)] in CORE}
    return {m: v for m, v in bad.items() if v}


def test_the_graph_sees_function_level_and_package_imports():
    g = import_graph()
    assert "repro.perturb.functional" in g["repro.perturb"]                # from repro.perturb.functional import ...
    assert "repro.train.hooks" in g["repro.train"]                        # the package __init__
    assert "repro.analysis.features" in g["repro.train.hooks"]            # imported inside a method
    assert "repro.data" in g["repro.perturb.functional._geometry"]        # through the package face repro.data
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_every_module_is_in_a_layer_and_imports_only_lower_layers():
    g = import_graph()
    for m in g:
        layer_of(m)  # raises for a module outside the layers
    assert upward_imports(g) == []


def test_the_import_graph_has_no_cycle():
    assert _cycle(import_graph()) is None


def test_the_core_never_imports_the_mmseg_glue():
    assert core_reaching_train(import_graph()) == {}


def test_the_checks_catch_an_added_upward_import(tmp_path):
    copy = tmp_path / "repro"
    shutil.copytree(PKG, copy, ignore=shutil.ignore_patterns("__pycache__", "*.yaml"))
    target = copy / "base" / "paths.py"
    # inside a function, as the old perturb -> sensitivity imports were
    target.write_text(target.read_text() + "\n\ndef _upward():\n    from repro.train import hooks\n    return hooks\n")
    g = import_graph(copy)
    assert upward_imports(g) == ["repro.base.paths -> repro.train.hooks"]
    assert "repro.base.paths" in core_reaching_train(g)
    assert _cycle(g) is not None  # repro.train.hooks reaches repro.base.paths back


def test_the_tree_is_small_enough_to_read():
    modules = _modules(PKG)
    top_level = [m for m in modules if m.count(".") == 1 and modules[m].name != "__init__.py"]
    assert len(top_level) <= 8, top_level
    long = {m: n for m, p in modules.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
    leaves = Counter(m.rpartition(".")[2] for m, p in modules.items() if p.name != "__init__.py")
    assert leaves["report"] <= 1  # one module called "report": the robustness report


def test_the_public_entry_points_resolve_and_import_repro_stays_light():
    import importlib
    import subprocess
    import sys

    import repro

    for name, module in repro.PUBLIC.items():
        assert getattr(repro, name) is getattr(importlib.import_module(module), name), name
    code = ("import sys, repro; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'mmseg', 'mmengine'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=paths.REPO_ROOT, check=True)
    assert out.stdout.strip() == "[]"
