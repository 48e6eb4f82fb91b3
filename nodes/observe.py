"""Observe: closes a step — memory write, trace, tier reset, limits — and clears per-step state."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from budgetmlagent.providers.ledger import Ledger
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.experience import record_change
from budgetmlagent.runtime.limits import limit_reached
from budgetmlagent.runtime.recall import memory
from budgetmlagent.runtime.run_folder import emit
from budgetmlagent.runtime.state import State, workspace_of
from budgetmlagent.runtime.steps import STEP_RESET, current_step
from budgetmlagent.runtime.summaries import SUMMARY_THRESHOLD, summarise_if_long
from budgetmlagent.workspace.actions import EDIT_ACTIONS
from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.sandbox import truncate_middle

MEMORY_OBSERVATION_CHARS = 1200


# Observations of edits and script runs reach the planner verbatim (middle cut), never LLM-summarised.
MEASURED_ACTIONS = (*EDIT_ACTIONS, "Execute Script")


def observe(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    step = current_step(state)
    update: dict[str, Any] = dict(STEP_RESET)
    if step["action"] in EDIT_ACTIONS and ctx.use_experience:
        record_change(state, ctx, step, *_edited_versions(state))
    if not step["ok"] and state.get("pre_edit"):
        step["observation"] += _restore(state)
    if ctx.use_measured_edits and step["action"] in MEASURED_ACTIONS:
        # A small summariser turned a failed edit's 6,400 characters into one sentence repeated to its cap and lost
        # the diff, the traceback and the restore note; cutting the middle keeps both ends and costs no call.
        step["observation"] = truncate_middle(step["observation"], SUMMARY_THRESHOLD)
    else:
        step["observation"], summary_update = summarise_if_long(state, ctx, step["observation"])
        update |= summary_update
    store = memory(ctx)
    if store is not None:
        store.add(
            f"Thought: {step['thought']}\nAction: {step['action']}\n"
            f"Observation: {step['observation'][:MEMORY_OBSERVATION_CHARS]}",
            run=state["run_id"],
            task=state["task"]["name"],
            step=step["step"],
            action=step["action"],
            outcome="ok" if step["ok"] else "failed",
        )
    ledger: Ledger = state.get("ledger") or Ledger()
    progress = {"cost_usd": ledger.cost_usd, "tokens": ledger.input_tokens + ledger.output_tokens}
    emit(runtime, state.get("run_dir"), {"type": "step", **step, **progress})
    tiers = dict(state.get("tiers", {}))
    if step["ok"]:
        tiers = {role: 0 for role in tiers}  # back to the cheap tier after a success
    lifelines = update.get("lifelines", state.get("lifelines", ctx.lifelines))
    for role, tier in tiers.items():  # a tier nobody can pay for any more falls back to the base
        if lifelines <= 0 and ctx.lineup.spends_lifeline(role, tier):
            tiers[role] = 0
    failures = dict(state.get("failures", {})) | {"planner": 0}
    merged = {**state, **update, "failures": failures}
    status = limit_reached(merged, ctx, step["step"]) or "running"  # type: ignore[arg-type]
    return update | {"steps": [step], "tiers": tiers, "failures": failures, "status": status}


def _edited_versions(state: State) -> tuple[str | None, str | None]:
    """The edited file before the step and as it stands (before a failed edit is rolled back)."""
    pre_edit = state.get("pre_edit")
    if not pre_edit:
        return None, None
    path, previous, *_ = pre_edit
    try:
        return previous, workspace_of(state).read_text(path)
    except ActionInputError:
        return previous, None


def _restore(state: State) -> str:
    """A failed edit that debugging could not fix is rolled back so the workspace stays runnable.

    Rolled back by undoing the step's writes (the edit and each fix), not by writing the old text again: a write
    would push the broken version on the undo stack, and a later Undo Edit Script brought it back (seen in a run).
    """
    path, previous, *depth = state["pre_edit"]  # type: ignore[misc]
    if previous is None:
        return ""
    ws = workspace_of(state)
    try:
        if depth:  # checkpoints from before the depth was recorded restore by writing
            while ws.backup_count(path) > depth[0]:
                ws.undo(path)
        if ws.read_text(path) != previous:
            ws.write_text(path, previous)
    except ActionInputError as exc:
        return f"\n\n(Could not restore {path}: {exc})"
    return f"\n\nThe edit broke {path} and could not be fixed, so {path} was restored to its previous version."
