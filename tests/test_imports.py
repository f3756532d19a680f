"""The import graph of the package has no circles (docs/internals.md, "Layers").

Every `import` and `from ... import` in core/, plugins/ and machines/ counts, at module
level or inside a function, except under `if TYPE_CHECKING:`.  A circle means some
module imports one of its own users, usually because something they share lives in
the wrong module: move the shared piece down instead of importing lazily."""

import ast
import os
from typing import Dict, List, Set

import pytest

REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: repository folder -> the package name it is installed as (pyproject package-dir)
PACKAGE_ROOTS = {"core": "pcmachine", "plugins": "pcmachine.plugins", "machines": "pcmachine.machines"}


def module_files(repository: str) -> Dict[str, str]:
    """{dotted module name: file path} for every module of the package."""
    modules = {}
    for folder, package in PACKAGE_ROOTS.items():
        top = os.path.join(repository, folder)
        for directory, _, names in os.walk(top):
            for name in names:
                if not name.endswith(".py"):
                    continue
                parts = os.path.relpath(os.path.join(directory, name[:-3]), top).split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                modules[".".join([package] + [p for p in parts if p != "."])] = os.path.join(directory, name)
    return modules


def _under_type_checking(node: ast.AST, parents: Dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test):
            return True
    return False


def import_graph(repository: str) -> Dict[str, Set[str]]:
    """{module: modules of the package it imports}."""
    modules = module_files(repository)

    def known(name: str) -> str:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph = {}
    for module, path in modules.items():
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read(), path)
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        is_package = path.endswith("__init__.py")
        imported = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = module.split(".")[: None if is_package else -1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([node.module] if node.module else []))
                # `from package import name` imports the submodule when name is one
                targets = [base + "." + alias.name if base + "." + alias.name in modules else base
                           for alias in node.names]
            else:
                continue
            if _under_type_checking(node, parents):
                continue
            imported.update(known(target) for target in targets)
        imported.discard("")
        imported.discard(module)
        graph[module] = imported
    return graph


def circles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    found: List[List[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(component: List[str], graph: Dict[str, Set[str]]) -> str:
    members = set(component)
    return "; ".join(f"{m} -> {', '.join(sorted(graph[m] & members))}" for m in component)


def test_the_package_has_no_import_circles():
    graph = import_graph(REPOSITORY)
    assert "pcmachine.plugins.cpu.cpu" in graph and "pcmachine.machine" in graph
    found = circles(graph)
    assert not found, "import circles:\n" + "\n".join(describe(c, graph) for c in found)


@pytest.mark.parametrize("edge", [("core/bus.py", "from .machine import Machine"),
                                  ("plugins/cpu/alu.py", "from .cpu import CPU"),
                                  ("core/errors.py", "from pcmachine import cli")])
def test_a_new_circle_is_found(tmp_path, edge):
    """Copy the tree, add one import that closes a circle, and the checker reports it."""
    import shutil
    for folder in PACKAGE_ROOTS:
        shutil.copytree(os.path.join(REPOSITORY, folder), tmp_path / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.bin", "*.img"))
    path, line = edge
    with open(tmp_path / path, "a", encoding="utf-8") as handle:
        handle.write(f"\n\ndef _closes_a_circle():\n    {line}\n")
    assert circles(import_graph(str(tmp_path)))
