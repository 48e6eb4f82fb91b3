"""The architecture picture in docs/ is the graph the builder compiles, edge for edge."""

from __future__ import annotations

import re
from pathlib import Path

from budgetmlagent.graph import graph

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
EDGE = re.compile(r"^\s*(\w+) (-->|-\.->) (\w+);$", re.MULTILINE)


def test_the_documented_graph_is_the_compiled_graph() -> None:
    drawn = set(EDGE.findall(graph.get_graph().draw_mermaid()))
    documented = set(EDGE.findall(DOC.read_text()))
    assert drawn and documented == drawn


def test_every_package_the_doc_names_exists() -> None:
    root = DOC.parents[1]
    named = set(re.findall(r"^ floor \d\s+(\w+)/", DOC.read_text(), re.MULTILINE))
    assert named >= {"budgetmlagent", "graph", "nodes", "runtime", "scaffold", "workspace"}
    assert all((root / name).is_dir() for name in named)
