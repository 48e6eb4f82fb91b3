"""Conditional edges: every retry, escalation, lifeline and limit is decided here, from state."""

from __future__ import annotations

import json
from typing import Literal

from langgraph.runtime import Runtime

from budgetmlagent.prompts.history import SCAFFOLD_MODEL
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.limits import limit_reached
from budgetmlagent.runtime.measure import unproductive_edit
from budgetmlagent.runtime.state import State
from budgetmlagent.workspace.actions import EDIT_ACTIONS, WORKER_ACTIONS

GATED_ACTIONS = ("Execute Script", "Final Answer")  # paused for a person when approval is on


def can_escalate(state: State, ctx: Context, role: str) -> bool:
    """A next tier exists, the cascade is on, and a lifeline pays for it if it must."""
    tier = state.get("tiers", {}).get(role, 0)
    if not ctx.use_cascade or ctx.recipes_only or tier + 1 >= len(ctx.lineup.tiers(role)):
        return False
    return not ctx.lineup.spends_lifeline(role, tier + 1) or state.get("lifelines", 0) > 0


def repeated_action(state: State, ctx: Context) -> bool:
    """The pending action equals the previous r-1 actions (same name and input).

    With stuck detection on, those steps must also have ended the same way: the same observation, and
    not a run stopped by its time limit. A training script re-run that prints new numbers is progress.
    """
    pending = state.get("pending")
    previous = state.get("steps", [])[-(ctx.repeat_limit - 1) :] if ctx.repeat_limit > 1 else []
    if pending is None or len(previous) < ctx.repeat_limit - 1:
        return False
    key = (pending["action"], json.dumps(pending["action_input"], sort_keys=True))
    if not all((s["action"], json.dumps(s["action_input"], sort_keys=True)) == key for s in previous):
        return False
    if not ctx.use_stuck_detection:
        return True
    observations = {s["observation"] for s in previous}
    return len(observations) <= 1 and not any(s.get("timed_out") for s in previous)


def needs_approval(state: State, ctx: Context) -> bool:
    """A script is about to run (the planner's Execute Script or an edit's test run), or the run would end."""
    if not ctx.require_approval or state.get("approved"):
        return False
    pending = state.get("pending")
    return state.get("to_run") is not None or (pending is not None and pending["action"] in GATED_ACTIONS)


def route_after_prepare(state: State) -> Literal["planner", "__end__"]:
    return "planner" if state.get("status") == "running" else "__end__"


def route_after_planner(
    state: State, runtime: Runtime[Context]
) -> Literal[
    "planner",
    "escalate_planner",
    "expert",
    "coder",
    "escalate_coder",
    "worker",
    "executor",
    "approval",
    "observe",
    "evaluate",
]:
    ctx = runtime.context
    if limit_reached(state, ctx, len(state.get("steps", []))):
        return "observe"  # closes the step; observe's limit check then ends the run
    pending = state.get("pending")
    if pending is None:
        tier = state.get("tiers", {}).get("planner", 0)
        if state.get("failures", {}).get("provider", 0) and can_escalate(state, ctx, "planner"):
            return "escalate_planner"  # the client already retried this provider; the next tier may be up
        if state.get("failures", {}).get("planner", 0) < ctx.tries_at(tier):
            return "planner"  # retry at the same tier with the rejection as feedback
        return "escalate_planner" if can_escalate(state, ctx, "planner") else "observe"
    if repeated_action(state, ctx) and can_escalate(state, ctx, "planner"):
        return "escalate_planner"
    action = pending["action"]
    if needs_approval(state, ctx):
        return "approval"  # Execute Script or Final Answer, when a person must approve
    if action == "Final Answer":
        return "evaluate"
    if action == "Ask Expert":
        return "expert"
    if action in EDIT_ACTIONS:
        broke = state.get("failures", {}).get("coder", 0) >= ctx.coder_escalate_after
        return "escalate_coder" if broke and can_escalate(state, ctx, "coder") else "coder"
    if action in WORKER_ACTIONS:
        return "worker"
    return "executor"


def route_after_executor(
    state: State, runtime: Runtime[Context]
) -> Literal["debugger", "escalate_debugger", "observe"]:
    """A script that just failed with a traceback goes to the debugger, a bounded number of times."""
    ctx = runtime.context
    run = state.get("last_run")
    if run is None or run["ok"] or not run["traceback"] or ctx.recipes_only:
        return "observe"  # recipes_only: no model to debug with; the next step reverts to the best version
    if state.get("debug_attempts", 0) >= ctx.debug_attempts or limit_reached(state, ctx, len(state["steps"])):
        return "observe"
    stuck = state.get("failures", {}).get("debugger", 0) >= ctx.debugger_escalate_after
    return "escalate_debugger" if stuck and can_escalate(state, ctx, "debugger") else "debugger"


def route_after_observe(state: State, runtime: Runtime[Context]) -> Literal["planner", "escalate_planner", "evaluate"]:
    """An edit the cheap planner asked for that broke or measured no gain failed verification: the tier above plans
    next (the cheap tier again after any step that succeeds)."""
    if state.get("status") != "running":
        return "evaluate"
    ctx = runtime.context
    cheap = state.get("tiers", {}).get("planner", 0) == 0
    steps = state.get("steps", [])
    planners = bool(steps) and steps[-1]["model"] != SCAFFOLD_MODEL  # the scaffold's own edits are no tier's
    eligible = ctx.escalate_on_no_gain and ctx.use_measured_edits and cheap and planners
    return (
        "escalate_planner"
        if eligible and unproductive_edit(state) and can_escalate(state, ctx, "planner")
        else "planner"
    )


def route_to_run(state: State, runtime: Runtime[Context]) -> Literal["approval", "executor"]:
    """After the coder or debugger: the edited script runs next, once a person approves if they must."""
    return "approval" if needs_approval(state, runtime.context) else "executor"


def route_after_approval(state: State) -> Literal["executor", "observe", "evaluate"]:
    if not state.get("approved"):
        return "observe"  # denied: the step closes with the reason as its observation
    pending = state.get("pending")
    if state.get("to_run") is None and pending is not None and pending["action"] == "Final Answer":
        return "evaluate"
    return "executor"
