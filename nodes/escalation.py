"""Escalation nodes: move a role one tier up the cascade (the routers decide when)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime

from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.run_folder import emit
from budgetmlagent.runtime.state import State

REPEAT_FEEDBACK = "You chose the same action {r} times in a row without progress; choose a different action."


def make_escalation(role: str) -> Callable[[State, Runtime[Context]], dict[str, Any]]:
    def escalate(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
        ctx = runtime.context
        tiers = dict(state.get("tiers", {}))
        old = tiers.get(role, 0)
        tiers[role] = old + 1
        failures = dict(state.get("failures", {})) | {role: 0}
        lineup = ctx.lineup.tiers(role)
        event = {
            "role": role,
            "step": len(state.get("steps", [])) + 1,
            "from": lineup[old],
            "to": lineup[old + 1],
            "reason": _reason(state, role),
        }
        emit(runtime, state.get("run_dir"), {"type": "escalation", **event})
        update: dict[str, Any] = {"tiers": tiers, "failures": failures, "escalations": [event]}
        if role == "planner" and state.get("pending") is not None:  # a repeated action is discarded
            update |= {"pending": None, "planner_error": REPEAT_FEEDBACK.format(r=ctx.repeat_limit)}
        return update

    escalate.__name__ = f"escalate_{role}"
    return escalate


def _reason(state: State, role: str) -> str:
    if role == "planner":
        if state.get("pending") is not None:
            return "repeated action"
        failures = state.get("failures", {})
        if failures.get("provider", 0):
            return "provider error"
        return "invalid replies" if failures.get("planner", 0) else "edit failed verification"
    return "edits broke the script" if role == "coder" else "failed fixes"
