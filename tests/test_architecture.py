"""The package's layering, checked on the source (docs/architecture.md states the rules).

Layers, bottom to top: the foundation modules at the package root (exceptions, enums,
conventions, files, pricing, plotting, the private ``_core`` and ``_validate``), then
``market``, ``risk``, ``models``, ``accounts``, ``analytics``, ``strategy``, ``reporting`` and
``cli``. A module may import its own layer and the layers below, at module level or inside a
function alike (imports under ``if TYPE_CHECKING:``, for annotations only, are not counted);
no module imports a private name (``_x``) from another module; module-level imports form no
cycle; no file is over 600 lines. ``pymargin/__init__.py`` (the public facade),
``__main__`` and ``pymargin.testing`` (helpers for tests of code built on pymargin) sit above
every layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pymargin"
LAYERS = [
    "foundation",
    "market",
    "risk",
    "models",
    "accounts",
    "analytics",
    "strategy",
    "reporting",
    "live",
    "cli",
    "testing",
]
# Package-private foundation modules other modules may import (their names are public).
SHARED_PRIVATE_MODULES = {"pymargin._core", "pymargin._validate"}
FACADE = {"pymargin", "pymargin.__main__"}


def _modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        parts = p.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _layer(module: str) -> int:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return LAYERS.index(parts[1])
    return 0  # a module at the package root


def _type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(name: str, path: Path, modules: dict[str, Path]):
    """(target module, imported name or None, top level?) for every pymargin import that runs:
    imports under ``if TYPE_CHECKING:`` exist for annotations only and are not followed (an
    annotation may name a type from any layer)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    skipped = set()
    for node in ast.walk(tree):
        if _type_checking(node):
            skipped.update(ast.walk(node))
    top_level = set()
    for node in tree.body:
        top_level.add(node)
        if isinstance(node, (ast.If, ast.Try)):
            top_level.update(node.body)
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target != "pymargin" and not target.startswith("pymargin."):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules or sub == "pymargin._core":
                    yield sub, None, node in top_level
                else:
                    yield target, alias.name, node in top_level
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("pymargin"):
                    yield alias.name, None, node in top_level


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_imports_a_layer_above_it():
    modules = _modules()
    upward = []
    for name, path in modules.items():
        if name in FACADE:
            continue
        for target, _, _ in _imports(name, path, modules):
            if _layer(target) > _layer(name):
                upward.append(f"{name} -> {target}")
    assert not upward, "imports pointing up a layer:\n" + "\n".join(sorted(set(upward)))


def test_no_private_name_is_imported_from_another_module():
    modules = _modules()
    found = []
    for name, path in modules.items():
        for target, imported, _ in _imports(name, path, modules):
            if target == name or target in SHARED_PRIVATE_MODULES:
                continue
            private_module = any(_private(part) for part in target.split("."))
            if private_module or (imported is not None and _private(imported)):
                found.append(f"{name} imports {target}{'.' + imported if imported else ''}")
    assert not found, "private names imported across modules:\n" + "\n".join(sorted(set(found)))


def test_module_level_imports_have_no_cycle():
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for target, _, top in _imports(name, path, modules):
            if top and target in modules and target != name:
                graph[name].add(target)
    # A package importing its own submodules (its __init__) is not a cycle of modules.
    for name in graph:
        graph[name] = {t for t in graph[name] if not name.startswith(t + ".")}
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_no_python_file_is_over_600_lines():
    long = {
        str(p.relative_to(PACKAGE.parent)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert not long, f"files over 600 lines: {long}"
