"""Closing a step: the step record made from the planner's action and what it observed, and the per-step state
that is cleared for the next one (used by observe, and by evaluate for a Final Answer)."""

from __future__ import annotations

from typing import Any

from budgetmlagent.providers.ledger import Ledger
from budgetmlagent.runtime.state import State, Step

STEP_RESET: dict[str, Any] = {
    "pending": None,
    "planner_error": None,
    "observation": "",
    "step_ok": False,
    "executed": False,
    "to_run": None,
    "last_run": None,
    "debug_attempts": 0,
    "pre_edit": None,
    "approved": False,
    "timed_out": False,
}


def current_step(state: State) -> Step:
    """The step being closed: the planner's action with its observation, or the rejected reply."""
    number = len(state.get("steps", [])) + 1
    pending = state.get("pending")
    if pending is None:
        return Step(
            step=number,
            action="(invalid reply)",
            action_input={},
            thought="",
            observation=state.get("planner_error") or "The reply was rejected.",
            ok=False,
            model=_last_model(state),
            tier=state.get("tiers", {}).get("planner", 0),
        )
    return Step(
        step=number,
        action=pending["action"],
        action_input=pending["action_input"],
        thought=pending["thought"],
        observation=state.get("observation", ""),
        ok=bool(state.get("step_ok")),
        model=pending["model"],
        tier=pending["tier"],
        timed_out=bool(state.get("timed_out")),
    )


def _last_model(state: State) -> str:
    ledger: Ledger | None = state.get("ledger")
    return ledger.calls[-1].model if ledger and ledger.calls else ""
