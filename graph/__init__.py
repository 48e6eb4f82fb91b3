"""Graph room: state, runtime context, routing and the compiled BudgetMLAgent graph."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from budgetmlagent.graph.builder import build_graph, graph, recursion_limit
    from budgetmlagent.graph.context import Context

__all__ = ["Context", "build_graph", "graph", "recursion_limit"]


def __getattr__(name: str) -> Any:
    # Lazy: nodes import graph.state/graph.context, and the builder imports the nodes.
    if name == "Context":
        from budgetmlagent.graph.context import Context

        return Context
    if name in ("build_graph", "graph", "recursion_limit"):
        from budgetmlagent.graph import builder

        return getattr(builder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
