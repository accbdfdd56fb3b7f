"""Layers point one way, read from the source with `ast` (as import-linter would): the model
imports nothing from the kit, no private name crosses a package, and no import cycle exists."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("runmodel", "conformance")

MODEL_TO_KIT = {"runmodel.cli"}
"""The model's one reference to the kit: ``runmodel.cli.main``, kept so that the documented
``from runmodel.cli import main`` and ``python -m runmodel`` still work; imported lazily."""

# Known offenders, left for the parts being redesigned elsewhere; these lists only shrink.
# Empty the lists as those land: a new offender fails at once.
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str]] = set()
KNOWN_CYCLE_EDGES: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    """One imported name, resolved to its full dotted path."""

    importer: str
    target: str  # the module imported, or module.name for a name taken from a module
    module: str  # the module that runs because of it (target or its module)
    lazy: bool  # inside a function: runs when called, not at import
    typing_only: bool  # under ``if TYPE_CHECKING:``: never runs


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _package(module: str) -> str:
    """The package a module belongs to (a package belongs to itself)."""
    return module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]


def _walk(node: ast.AST, lazy: bool, typing_only: bool) -> Iterator[tuple[ast.AST, bool, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk(child, True, typing_only)
        elif isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            for stmt in child.body:
                yield stmt, lazy, True
                yield from _walk(stmt, lazy, True)
            for stmt in child.orelse:
                yield stmt, lazy, typing_only
                yield from _walk(stmt, lazy, typing_only)
        else:
            yield child, lazy, typing_only
            yield from _walk(child, lazy, typing_only)


def _imports(module: str) -> list[Import]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = _package(module)
    out = []
    for node, lazy, typing_only in _walk(tree, False, False):
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(module, alias.name, alias.name, lazy, typing_only))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                full = f"{base}.{alias.name}"
                runs = full if full in MODULES else base
                out.append(Import(module, full, runs, lazy, typing_only))
    return out


IMPORTS = [i for m in MODULES for i in _imports(m)]


def _private(target: str) -> tuple[str, str] | None:
    """The dotted path up to its first private part, and the package that holds that part
    (None if every part is public)."""
    parts = target.split(".")
    for n, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            holder = ".".join(parts[:n])
            return ".".join(parts[: n + 1]), _package(holder) if holder in MODULES else holder
    return None


def test_private_parts_are_told_by_their_package() -> None:
    assert _private("conformance._sdk.http_module") == ("conformance._sdk", "conformance")
    assert _private("conformance.check.engine._Run") == (
        "conformance.check.engine._Run",
        "conformance.check",
    )
    assert _private("runmodel.fields.Present") is None


def test_the_scan_sees_the_packages_and_their_imports() -> None:
    assert {"runmodel", "runmodel._core", "conformance.cli", "conformance.check"} <= set(MODULES)
    assert any(i.importer == "conformance.cli.check" and i.lazy for i in IMPORTS)
    assert any(i.typing_only for i in IMPORTS)


def test_the_model_imports_nothing_from_the_kit() -> None:
    found = {
        (i.importer, i.target)
        for i in IMPORTS
        if i.importer.split(".")[0] == "runmodel" and i.target.split(".")[0] == "conformance"
    }
    assert {importer for importer, _ in found} <= MODEL_TO_KIT, sorted(found)
    lazy = {i.lazy for i in IMPORTS if (i.importer, i.target) in found}
    assert lazy <= {True}, "the model's one reference to the kit must be imported lazily"


def test_no_private_name_is_imported_from_another_package() -> None:
    found = set()
    for i in IMPORTS:
        private = _private(i.target)
        if private is None:
            continue
        path, owner = private
        if owner.split(".")[0] in PACKAGES and owner != _package(i.importer):
            found.add((i.importer, path))
    new = found - KNOWN_PRIVATE_IMPORTS
    assert not new, f"private names imported across packages: {sorted(new)}"


def _cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        graph.setdefault(a, set()).add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def _edges() -> set[tuple[str, str]]:
    return {
        (i.importer, i.module)
        for i in IMPORTS
        if not i.typing_only and i.module in MODULES and i.module != i.importer
    }


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")}) == [["a", "b", "c"]]
    assert _cycles({("a", "b"), ("b", "c")}) == []


def test_no_import_cycle_among_the_modules() -> None:
    cycles = _cycles(_edges() - KNOWN_CYCLE_EDGES)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize(
    "module", ["runmodel", "conformance.emulator", "conformance.check", "conformance.readers"]
)
def test_serving_and_checking_do_not_import_the_sdk(module: str) -> None:
    """`runmodel serve` and `runmodel check` start without the openai SDK (about 0.9 s of
    imports): only in-process clients need it, and they import it when asked."""
    heavy = "('openai', 'hypothesis')"
    code = f"import sys, {module}; print(sorted(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "[]"
