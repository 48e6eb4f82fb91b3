"""Graph room: state, runtime context, routing and the compiled BudgetMLAgent graph."""

from budgetmlagent.graph.builder import build_graph, graph, recursion_limit
from budgetmlagent.graph.context import Context

__all__ = ["Context", "build_graph", "graph", "recursion_limit"]
