"""The house rules of docs/architecture.md, checked: which rooms import which, no import cycles,
and files small enough to read in one sitting. A rule nobody runs is not a rule."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "service" / "sluice"
CORE = ROOT / "core_rs" / "src"
MAX_PYTHON_LINES = 400
MAX_RUST_LINES = 510  # "about 500"
# The JSON parser is one state machine; splitting it would hide its flow.
RUST_EXEMPT = {"json.rs"}


def modules() -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every hand-written module of the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        if "v1" in relative.parts:  # generated protobuf code
            continue
        name = ".".join(relative.parts)
        yield name.removesuffix(".__init__"), path


def imports_of(path: Path, name: str) -> set[str]:
    """The sluice modules a module imports (at any level, TYPE_CHECKING blocks included)."""
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    known = {module for module, _ in modules()} | {"sluice._core"}
    return {module for module in found if module in known}


GRAPH = {name: imports_of(path, name) for name, path in modules()}


def in_room(module: str, room: str) -> bool:
    return module == room or module.startswith(room + ".")


def test_transports_reach_storage_and_the_core_only_through_services() -> None:
    for module, imported in GRAPH.items():
        if in_room(module, "sluice.web") or in_room(module, "sluice.rpc"):
            forbidden = {
                target
                for target in imported
                if in_room(target, "sluice.storage") or target == "sluice._core"
            }
            assert not forbidden, f"{module} imports {sorted(forbidden)}"


def test_services_and_storage_never_import_a_transport_or_the_composition_root() -> None:
    upper = ("sluice.web", "sluice.rpc", "sluice.server", "sluice.cli", "sluice.gateway")
    for module, imported in GRAPH.items():
        if any(in_room(module, room) for room in upper) or module == "sluice.__main__":
            continue
        wrong = {target for target in imported if any(in_room(target, r) for r in upper)}
        assert not wrong, f"{module} imports {sorted(wrong)}"


def test_storage_imports_no_service() -> None:
    allowed = ("sluice.storage", "sluice.model", "sluice.errors", "sluice._core")
    for module, imported in GRAPH.items():
        if in_room(module, "sluice.storage"):
            wrong = {t for t in imported if not any(in_room(t, room) for room in allowed)}
            assert not wrong, f"{module} imports {sorted(wrong)}"


def test_no_import_cycles_between_modules() -> None:
    # A package importing its own submodules (re-exports) is not a cycle of rooms.
    edges = {
        module: {t for t in imported if not in_room(t, module) and t in GRAPH}
        for module, imported in GRAPH.items()
    }
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " -> ".join([*visiting, module])
        visiting.append(module)
        for target in edges[module]:
            if not in_room(module, target):  # a submodule importing its package's names
                visit(target)
        visiting.pop()
        done.add(module)

    for module in edges:
        visit(module)


def test_no_rust_module_cycles() -> None:
    uses = re.compile(r"^use crate::(?:\{([^}]*)\}|(\w+))", re.M)
    graph: dict[str, set[str]] = {}
    for path in CORE.glob("*.rs"):
        if path.stem in ("lib",):
            continue
        found: set[str] = set()
        for group, single in uses.findall(path.read_text()):
            names = (
                [single] if single else [part.strip().split("::")[0] for part in group.split(",")]
            )
            found.update(name for name in names if name and name != "self")
        graph[path.stem] = found - {path.stem}
    for module, targets in graph.items():
        for target in targets:
            assert module not in graph.get(target, set()), f"{module} <-> {target}"


def test_files_stay_small_enough_to_read_in_one_sitting() -> None:
    for module, path in modules():
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_PYTHON_LINES, f"{module}: {lines} lines"
    for path in CORE.rglob("*.rs"):
        if path.name == "tests.rs" or path.name in RUST_EXEMPT:
            continue
        lines = len(path.read_text().splitlines())
        assert lines <= MAX_RUST_LINES, f"{path.relative_to(ROOT)}: {lines} lines"
