"""Debugger: after a failed script run, traceback + script -> the whole fixed script -> re-run.

The node assembles the fix prompt (words: prompts/debugger.py) and vets the reply as the coder does
(runtime/vetting.py) before writing it."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.prompts import debugger as words
from budgetmlagent.prompts import profiles
from budgetmlagent.prompts.coder import recipe_shape
from budgetmlagent.prompts.replies import FixReply
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured, code_reply_tokens
from budgetmlagent.runtime.run_folder import append_trace
from budgetmlagent.runtime.state import State, workspace_of
from budgetmlagent.runtime.vetting import Vetted, save_code, vet_code
from budgetmlagent.scaffold.data_facts import grounded_context
from budgetmlagent.scaffold.known_fixes import known_fix
from budgetmlagent.scaffold.recipes import recipe_for_instruction, recipes_for
from budgetmlagent.workspace.actions import EDIT_ACTIONS
from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.workspace import Workspace


def debugger(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """One fix attempt; a fix identical to the failing file is rejected without running it."""
    ctx = runtime.context
    run = state["last_run"]
    assert run is not None
    ws = workspace_of(state)
    script = run["script"]
    try:
        code = ws.read_text(script)
    except ActionInputError as exc:  # the script replaced itself with a link or a special file: nothing to fix
        return {
            "debug_attempts": ctx.debug_attempts,
            "observation": state.get("observation", "") + words.unreadable(script, exc),
            "to_run": None,
        }
    error = (run["traceback"] or "")[-words.TRACEBACK_CHARS :]
    attempt = state.get("debug_attempts", 0) + 1
    fix = known_fix(code, run["traceback"] or "", script) if ctx.use_known_fixes else None
    if fix is not None:  # no model call: the traceback shows the cause and its one-line cure
        append_trace(state.get("run_dir"), {"type": "known_fix", "step": len(state.get("steps", [])) + 1})
        return _applied(state, ws, script, code, fix.code, attempt, fix.diagnosis, [], {"debug_attempts": attempt})
    pending = state.get("pending") or {}
    recipe = None
    if ctx.use_recipes and pending.get("action") in EDIT_ACTIONS:  # the edit's intended shape, to fix towards
        before_edit = (state.get("pre_edit") or (None, None, 0))[1] or code  # recipes read the unedited script
        instruction = str(pending["action_input"].get("edit_instruction", ""))
        recipe = recipe_for_instruction(instruction, recipes_for(ws, before_edit))
    prompt = words.fix_prompt(
        facts=grounded_context(ws, ctx.use_grounding_checks),
        script=script,
        code=code,
        error=error,
        hints=words.error_hints(error) if ctx.use_grounding_checks else [],
        shape="" if recipe is None else recipe_shape(recipe.name, recipe.pattern),
        attempt=attempt,
        fenced=ctx.use_fenced_code,
    )
    messages = [SystemMessage(profiles.DEBUGGER), HumanMessage(prompt)]
    cap = code_reply_tokens(ctx, code)
    outcome = call_structured(
        state, ctx, "debugger", FixReply, messages, max_output_tokens=cap, retry=attempt > 1, fenced=ctx.use_fenced_code
    )
    failures = dict(state.get("failures", {}))
    update: dict[str, Any] = dict(outcome.update) | {"debug_attempts": attempt}
    vetted = None
    if outcome.parsed is not None:
        vetted = vet_code(
            outcome.parsed.code, code, ws, repair=ctx.use_validity_checks, ground=ctx.use_grounding_checks,
            whole=ctx.use_validity_checks,
        )  # fmt: skip
    why = outcome.error if vetted is None else _refusal(vetted, code)
    if vetted is None or why is not None:
        failures["debugger"] = failures.get("debugger", 0) + 1
        return update | {
            "failures": failures,
            "observation": state.get("observation", "") + words.attempt_failed(attempt, why),
            "to_run": None,
        }
    update["failures"] = failures
    return _applied(state, ws, script, code, vetted.text, attempt, outcome.parsed.diagnosis, vetted.repairs, update)


def _applied(
    state: State,
    ws: Workspace,
    script: str,
    code: str,
    fixed: str,
    attempt: int,
    diagnosis: str,
    repairs: list[str],
    update: dict[str, Any],
) -> dict[str, Any]:
    """A fix written to the script, noted in the observation, and sent to run."""
    diff = save_code(ws, script, code, fixed)
    note = words.attempt_applied(attempt, diagnosis, script, diff, repairs)
    return update | {
        "observation": state.get("observation", "") + note,
        "to_run": (script, "debugger"),
        "dirty_scripts": sorted({*state.get("dirty_scripts", []), script}),
    }


def _refusal(vetted: Vetted, code: str) -> str | None:
    """Why a vetted fix is not written, in the debugger's order; None when it may be."""
    # a 1.5B "fix" of a 23-line script was the one line that crashed: lost lines are refused too
    problem = vetted.unknown if vetted.unknown is not None else vetted.lost
    if problem is not None:
        return words.not_applied(problem)
    if vetted.text.strip() == code.strip():
        return words.UNCHANGED
    return None
