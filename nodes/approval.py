"""Human approval (opt-in): the graph pauses before a script runs or the run ends, until a person decides."""

from __future__ import annotations

from typing import Any, Literal

from langgraph.runtime import Runtime
from langgraph.types import interrupt
from pydantic import BaseModel, Field, ValidationError

from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.state import State, workspace_of
from budgetmlagent.workspace.actions import validate_action


class Decision(BaseModel):
    """What the person answered: approve, deny (with a reason the planner sees), or edit the action input."""

    decision: Literal["approve", "deny", "edit"]
    reason: str = Field(default="", max_length=1000)
    action_input: dict[str, Any] | None = None


def approval(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Pause with the action for a person (CLI prompt or LangGraph Studio), then apply the decision."""
    pending = state["pending"]
    assert pending is not None
    to_run = state.get("to_run")
    request = {
        "action": "Execute Script" if to_run else pending["action"],
        "action_input": {"script_name": to_run[0]} if to_run else pending["action_input"],
        "why": "runs the script just edited" if to_run else pending["thought"],
        "observation_so_far": state.get("observation", "")[-2000:],
        "answer_with": {"decision": "approve | deny | edit", "reason": "for deny", "action_input": "for edit"},
    }
    raw = interrupt(request)
    try:
        decision = Decision.model_validate(raw if isinstance(raw, dict) else {"decision": str(raw).strip().lower()})
    except ValidationError as exc:
        return _denied(state, f"the answer {raw!r} was not approve, deny or edit ({exc.error_count()} errors)")
    if decision.decision == "deny":
        return _denied(state, decision.reason or "no reason given")
    if decision.decision == "edit" and not to_run:
        new_input = decision.action_input or {}
        _, error = validate_action(workspace_of(state), pending["action"], new_input)
        if error is not None:
            return _denied(state, f"the edited input was invalid: {error}")
        return {"approved": True, "pending": {**pending, "action_input": new_input}}
    return {"approved": True}


def _denied(state: State, reason: str) -> dict[str, Any]:
    """A denied action closes the step as failed; the planner reads why on its next turn."""
    observation = state.get("observation", "")
    note = f"A person denied this action: {reason}"
    return {
        "approved": False,
        "to_run": None,
        "executed": True,
        "step_ok": False,
        "observation": f"{observation}\n\n{note}" if observation else note,
    }
