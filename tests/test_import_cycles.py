"""No import cycles inside core/, counting function-local imports too (issue 14).

A function-local import hides a cycle from Python but not from a reader: both modules then depend on
each other. The graph is built from the source (ast), so nothing is imported to test it.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_names(root: Path = ROOT) -> dict[str, Path]:
    """``core.x.y`` -> file, packages named by their folder (``__init__.py``)."""
    out = {}
    for f in sorted((root / "core").rglob("*.py")):
        parts = list(f.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def _type_checking_only(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.AST, module: str, is_package: bool, mods: dict[str, Path]) -> set[str]:
    """Core modules imported anywhere in ``tree``: ``from x import y`` is x.y when that is a module, else x."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if _type_checking_only(child):
                continue  # annotations only: never imported at run time
            stack.append(child)
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = module.split(".") if is_package else module.split(".")[:-1]
                pkg = pkg[: len(pkg) - (node.level - 1)]
                base = ".".join(pkg + ([base] if base else []))
            found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names}
        elif (isinstance(node, ast.Call) and ast.unparse(node.func).endswith("import_module")
              and node.args and isinstance(node.args[0], ast.Constant)):
            found.add(str(node.args[0].value))
    return {m for m in found if m in mods and m != module}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the core modules it imports, top-level or inside functions."""
    mods = module_names(root)
    return {name: _imports(ast.parse(path.read_text()), name, path.name == "__init__.py", mods)
            for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_core_has_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles in core/ (function-local imports count): " + "; ".join(
        " <-> ".join(c) for c in found)


def test_the_checker_sees_function_local_cycles(tmp_path):
    """The check can fail: two modules importing each other inside functions form a cycle."""
    pkg = tmp_path / "core" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "core" / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("from core.pkg.a import f\n")
    (pkg / "a.py").write_text("def f():\n    from core.pkg import b\n    return b\n")
    (pkg / "b.py").write_text("def g():\n    from core.pkg.a import f\n    return f\n")
    (pkg / "c.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    from core.pkg import a\n")
    graph = import_graph(tmp_path)
    assert graph["core.pkg.c"] == set()
    assert cycles(graph) == [["core.pkg.a", "core.pkg.b"]]
