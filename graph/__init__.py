"""Graph room: the builder that wires the nodes into the BudgetMLAgent StateGraph, and the routing between them."""

from __future__ import annotations

from budgetmlagent.graph.builder import build_graph, graph, recursion_limit
from budgetmlagent.runtime.context import Context

__all__ = ["Context", "build_graph", "graph", "recursion_limit"]
