"""The rooms' floors: a package imports only packages on lower floors, so there is no cycle between them."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Lowest first. A package may import its own floor's peers only where listed in ALLOWED_PEERS.
FLOORS: list[set[str]] = [
    {"workspace", "providers", "memory"},  # leaves: the task folder and sandbox, model access, observation memory
    {"scaffold", "prompts"},  # facts, recipes and repairs (workspace only); every word the models read
    {"runtime"},  # state, settings, run folder, checkpoints, model calls, limits
    {"nodes"},  # graph nodes only
    {"graph"},  # builder and routing
    {"benchmarks", "budgetmlagent"},  # the sweeps, and the CLI
]
ALLOWED_PEERS = {("budgetmlagent", "benchmarks")}
ALLOWED_DOWN: dict[str, set[str]] = {"scaffold": {"workspace"}}  # the scaffold's helpers need nothing else


def floor_of(package: str) -> int:
    return next(i for i, floor in enumerate(FLOORS) if package in floor)


def imported(path: Path) -> list[str]:
    """The dotted names a module imports; `from a.b import c` gives a.b and a.b.c (c may be a module)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names += [node.module or "", *(f"{node.module}.{alias.name}" for alias in node.names)]
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
    return names


def imports_of(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        where = set(path.relative_to(ROOT / package).parts)
        if not path.is_file() or {"tasks", "unseen", "results"} & where:
            continue  # task folders and sweep results hold user and agent code, run in the sandbox
        for name in imported(path):
            parts = name.split(".")
            if parts[0] == "budgetmlagent" and len(parts) > 1 and parts[1] != package:
                target = parts[1] if any(parts[1] in f for f in FLOORS) else "budgetmlagent"
                if target != package:
                    found.add(target)
    return found


def test_every_package_imports_only_lower_floors() -> None:
    wrong = []
    for floor in FLOORS:
        for package in floor:
            for target in imports_of(package):
                down = floor_of(target) < floor_of(package) and target in ALLOWED_DOWN.get(package, {target})
                peer = (package, target) in ALLOWED_PEERS
                if not (down or peer):
                    wrong.append(f"{package} -> {target}")
    assert not wrong, wrong


def test_nodes_hold_graph_nodes_only() -> None:
    """Every module in nodes/ defines a function the builder adds as a node."""
    builder = (ROOT / "graph" / "builder.py").read_text()
    for path in (ROOT / "nodes").glob("*.py"):
        if path.name != "__init__.py":
            assert f"budgetmlagent.nodes.{path.stem} import" in builder, f"{path.name} holds no graph node"


def test_no_node_module_imports_another() -> None:
    """What several nodes share lives on a lower floor (words in prompts/, checks in scaffold/, calls in runtime/)."""
    wrong = []
    for path in (ROOT / "nodes").glob("*.py"):
        for name in imported(path):
            parts = name.split(".")
            other = parts[2] if parts[:2] == ["budgetmlagent", "nodes"] and len(parts) > 2 else None
            if other is not None:
                wrong.append(f"nodes/{path.name} -> {name}")
    assert not wrong, wrong
