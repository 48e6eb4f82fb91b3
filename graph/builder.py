"""Wires the nodes and conditional edges into the BudgetMLAgent StateGraph."""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from budgetmlagent.graph.routing import (
    route_after_approval,
    route_after_executor,
    route_after_observe,
    route_after_planner,
    route_after_prepare,
    route_to_run,
)
from budgetmlagent.nodes.approval import approval
from budgetmlagent.nodes.coder import coder
from budgetmlagent.nodes.debugger import debugger
from budgetmlagent.nodes.escalation import make_escalation
from budgetmlagent.nodes.executor import executor
from budgetmlagent.nodes.expert import expert
from budgetmlagent.nodes.lifecycle import evaluate, prepare
from budgetmlagent.nodes.observe import observe
from budgetmlagent.nodes.planner import planner
from budgetmlagent.nodes.workers import worker
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.state import InputState, State

# One step runs planner -> (coder | expert | worker | executor [-> debugger]*) -> observe, and can
# revisit the planner several times (retries, escalations), so LangGraph's default of 25 is too low.
SUPERSTEPS_PER_STEP = 24


def build_graph(*, checkpointer: object | None = None, name: str = "budgetmlagent") -> CompiledStateGraph:
    """Build and compile the graph; variants (ablations, models) are chosen by `Context` at run time."""
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node("prepare", prepare)
    builder.add_node("planner", planner)
    builder.add_node("escalate_planner", make_escalation("planner"))
    builder.add_node("expert", expert)
    builder.add_node("coder", coder)
    builder.add_node("escalate_coder", make_escalation("coder"))
    builder.add_node("worker", worker)
    builder.add_node("executor", executor)
    builder.add_node("approval", approval)
    builder.add_node("debugger", debugger)
    builder.add_node("escalate_debugger", make_escalation("debugger"))
    builder.add_node("observe", observe)
    builder.add_node("evaluate", evaluate)

    builder.add_edge(START, "prepare")
    builder.add_conditional_edges("prepare", route_after_prepare)
    builder.add_conditional_edges("planner", route_after_planner)
    builder.add_edge("escalate_planner", "planner")
    builder.add_edge("expert", "observe")
    builder.add_edge("escalate_coder", "coder")
    builder.add_conditional_edges("coder", route_to_run)
    builder.add_edge("worker", "observe")
    builder.add_conditional_edges("executor", route_after_executor)
    builder.add_edge("escalate_debugger", "debugger")
    builder.add_conditional_edges("debugger", route_to_run)
    builder.add_conditional_edges("approval", route_after_approval)
    builder.add_conditional_edges("observe", route_after_observe)
    builder.add_edge("evaluate", END)
    return builder.compile(checkpointer=checkpointer, name=name)  # type: ignore[arg-type]


def recursion_limit(max_steps: int) -> int:
    return max(100, (max_steps + 2) * SUPERSTEPS_PER_STEP)


graph = build_graph()
