"""Run limits: steps, dollars, wall clock and provider failures, checked between steps and between retries."""

from __future__ import annotations

from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import BUDGET_REFUSED, spent_usd, time_left_s
from budgetmlagent.runtime.measure import best_value
from budgetmlagent.runtime.state import State, Status
from budgetmlagent.workspace.scoring import improvement

PROVIDER_FAILURE_LIMIT = 3  # consecutive provider failures end the run cleanly


def limit_reached(state: State, ctx: Context, steps_done: int) -> Status | None:
    """Which run limit, if any, is spent; checked between steps and between retries."""
    # A call refused before it was made (its worst case would cross the cap) set the status: the reason wins.
    if state.get("status") == BUDGET_REFUSED:
        return "budget"
    if steps_done >= ctx.max_steps:
        return "step_cap"
    if target_reached(state, ctx):
        return "target"
    # Calls are bounded before they are made, so spending exactly the cap is allowed (free models go on under
    # a $0 cap); more than the cap means a provider billed beyond its worst case, or a resumed run's cut-off step.
    if spent_usd(state) > ctx.budget_usd:
        return "budget"
    if time_left_s(state, ctx) <= 0:
        return "wall_clock"
    if state.get("failures", {}).get("provider", 0) >= PROVIDER_FAILURE_LIMIT:
        return "provider_error"
    return None


def target_reached(state: State, ctx: Context) -> bool:
    """--target: the best validation metric so far beats the baseline's by the asked fraction (off at 0)."""
    task = state.get("task")
    if ctx.target_improvement <= 0 or not task or task.get("validation_baseline") is None:
        return False
    best, _ = best_value(state)
    if best is None:
        return False
    return improvement(best, task["validation_baseline"], task["direction"]) >= ctx.target_improvement
