"""Debugger: after a failed script run, traceback + script -> the whole fixed script -> re-run."""

from __future__ import annotations

import re
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.nodes.coder import code_request, recipe_pattern, strip_fences
from budgetmlagent.prompts import profiles
from budgetmlagent.prompts.replies import FixReply
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured, code_reply_tokens
from budgetmlagent.runtime.state import State, workspace_of
from budgetmlagent.scaffold.code_facts import unknown_references
from budgetmlagent.scaffold.data_facts import all_data_columns, grounded_context
from budgetmlagent.scaffold.script_repair import lost_lines, repair_reply
from budgetmlagent.workspace.actions import EDIT_ACTIONS, bounded_diff
from budgetmlagent.workspace.errors import ActionInputError

TRACEBACK_CHARS = 3000

# What an ML engineer reads in an error at a glance and a 1.5B debugger did not: it returned a script crashing on
# median() over a text column unchanged twice, then pasted the error message into the code.
ERROR_HINTS: dict[str, str] = {
    r"could not convert string to float|with string dtype|Cannot perform reduction|unsupported operand type\(s\)"
    r".*'str'|Cannot convert .* to numeric|dtype: str": "A text column reached a numeric operation (median, fillna, "
    "fit). Encode each text category column before it is used (for example df['sex'] = df['sex'].map({'male': 0, "
    "'female': 1}) or pd.get_dummies), drop free-text columns (names, tickets), and compute medians on numeric "
    "columns only.",
    r"contains NaN": "Missing values reached the model: fill them (fillna with the training median for numbers, a "
    "constant for text) before fitting, in the training, validation and test data alike.",
    r"inconsistent numbers of samples": "X and y have different lengths: build both from the same rows, and split "
    "them in the same call.",
    r"^KeyError: ": "A column name is not in the frame: use only the columns listed above, spelled exactly.",
    r"^(SyntaxError|IndentationError): ": "The script does not parse (an unclosed bracket or a cut-off line): return "
    "the whole script, complete.",
    r"^ImportError: cannot import name": "That name is not in that module (get_dummies is pandas': pd.get_dummies): "
    "import it from where it is defined, or do without it.",
    r"^ModuleNotFoundError: ": "That package is not installed: use only the installed packages listed above.",
}


def error_hints(error: str) -> list[str]:
    return [hint for pattern, hint in ERROR_HINTS.items() if re.search(pattern, error, re.IGNORECASE | re.MULTILINE)]


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
        note = f"\n\nThe debugger cannot read {script}: {exc}"
        return {
            "debug_attempts": ctx.debug_attempts,
            "observation": state.get("observation", "") + note,
            "to_run": None,
        }
    error = (run["traceback"] or "")[-TRACEBACK_CHARS:]
    attempt = state.get("debug_attempts", 0) + 1
    hints = error_hints(error) if ctx.use_grounding_checks else []
    pending = state.get("pending") or {}
    shape = ""
    if ctx.use_recipes and pending.get("action") in EDIT_ACTIONS:  # the edit's intended shape, to fix towards
        before_edit = (state.get("pre_edit") or (None, None, 0))[1] or code  # recipes read the unedited script
        shape = recipe_pattern(before_edit, str(pending["action_input"].get("edit_instruction", "")), ws)
    prompt = "\n\n".join(
        [
            grounded_context(ws, ctx.use_grounding_checks),
            f"Script {script}:\n{code}",
            f"Running it failed with:\n{error}",
            *(["What this error usually means: " + " ".join(hints)] if hints else []),
            *([shape] if shape else []),
            f"This is fix attempt {attempt}. " + code_request(ctx, "the complete corrected script", "the cause"),
        ]
    )
    messages = [SystemMessage(profiles.DEBUGGER), HumanMessage(prompt)]
    cap = code_reply_tokens(ctx, code)
    outcome = call_structured(
        state, ctx, "debugger", FixReply, messages, max_output_tokens=cap, retry=attempt > 1, fenced=ctx.use_fenced_code
    )
    failures = dict(state.get("failures", {}))
    update: dict[str, Any] = dict(outcome.update) | {"debug_attempts": attempt}
    fixed = strip_fences(outcome.parsed.code) if outcome.parsed is not None else None
    repairs: list[str] = []
    if fixed is not None and ctx.use_validity_checks:
        fixed, repairs = repair_reply(code, fixed, all_data_columns(ws))
    problem = unknown_references(fixed, ws) if fixed is not None and ctx.use_grounding_checks else None
    if fixed is not None and ctx.use_validity_checks and problem is None:
        problem = lost_lines(code, fixed)  # a 1.5B "fix" of a 23-line script was the one line that crashed
    if fixed is None or fixed.strip() == code.strip() or problem is not None:
        failures["debugger"] = failures.get("debugger", 0) + 1
        why = (
            outcome.error
            if fixed is None
            else f"the fix was not applied: {problem}"
            if problem
            else ("it returned the script unchanged")
        )
        note = f"\n\nDebugger attempt {attempt} failed: {why}."
        return update | {
            "failures": failures,
            "observation": state.get("observation", "") + note,
            "to_run": None,
        }
    ws.write_text(script, fixed)
    diff = bounded_diff(code, fixed, script)
    diagnosis = f" ({outcome.parsed.diagnosis})" if outcome.parsed.diagnosis else ""  # a fenced reply may have none
    note = f"\n\nDebugger attempt {attempt}{diagnosis} changed {script}:\n{diff}"
    note += "".join(f"\n{line}" for line in repairs)
    return update | {
        "failures": failures,
        "observation": state.get("observation", "") + note,
        "to_run": (script, "debugger"),
        "dirty_scripts": sorted({*state.get("dirty_scripts", []), script}),
    }
