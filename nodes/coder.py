"""Coder: Edit Script (AI) and Edit Script Segment (AI) return the whole new file or segment."""

from __future__ import annotations

import ast
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.prompts import profiles
from budgetmlagent.prompts.replies import CodeReply
from budgetmlagent.providers.chat import code_blocks
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured, code_reply_tokens
from budgetmlagent.runtime.state import State, Step, workspace_of
from budgetmlagent.scaffold.code_facts import unknown_references
from budgetmlagent.scaffold.data_facts import all_data_columns, grounded_context
from budgetmlagent.scaffold.recipes import recipe_for_instruction, recipes_for
from budgetmlagent.scaffold.script_repair import lost_lines, repair_reply
from budgetmlagent.workspace.actions import EDIT_ACTIONS, bounded_diff
from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.workspace import Workspace

# Scripts up to this many lines are rewritten whole (a 1.5B model returns ~150 lines well within its reply cap).
WHOLE_FILE_LINES = 150
# How much of an earlier failed attempt's observation (its end: the traceback) the coder sees on a retry.
FAILURE_CHARS = 1500


def edit_key(args: dict[str, Any]) -> tuple[str, str]:
    """An edit's identity: its script and its instruction, case and spacing aside."""
    return str(args.get("script_name")), " ".join(str(args.get("edit_instruction", "")).split()).lower()


def earlier_edits(steps: list[Step], args: dict[str, Any]) -> list[Step]:
    """Earlier steps that gave the same edit instruction for the same script."""
    key = edit_key(args)
    return [s for s in steps if s["action"] in EDIT_ACTIONS and edit_key(s["action_input"]) == key]


PROSE_LINES = 3
_LANGUAGE_TAGS = ("python", "python3", "py")


def strip_fences(code: str) -> str:
    """Small models wrap code in markdown fences even when told not to, sometimes after a sentence of prose ("The
    corrected script is as follows:"), which then ran as line 1: the longest fenced block is the code."""
    blocks = code_blocks(code)
    code = max(blocks, key=len) if blocks else code
    first, _, rest = code.lstrip("\n").partition("\n")
    if first.strip().lower() in _LANGUAGE_TAGS:  # a fence that lost its backticks: "python" ran as line 1
        code = rest
    return _without_leading_prose(code.strip("\n")) + "\n"


def _without_leading_prose(code: str) -> str:
    """Drops up to three leading lines of prose ("Your corrected script is:", unfenced) when that makes it parse."""
    lines = code.splitlines()
    for cut in range(PROSE_LINES + 1):
        candidate = "\n".join(lines[cut:])
        if cut and not all(_is_prose(line) for line in lines[:cut]):
            break
        try:
            ast.parse(candidate)
        except SyntaxError:
            continue
        return candidate
    return code  # the run reports the SyntaxError and the debugger gets it


def _is_prose(line: str) -> bool:
    words = line.split()
    return not line.strip() or (len(words) >= 3 and not any(c in line for c in "=()[]{}#") and words[0][0].isupper())


def coder(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Write the edited file; the executor runs it next so no edit goes untested."""
    ctx = runtime.context
    pending = state["pending"]
    assert pending is not None
    args = pending["action_input"]
    ws = workspace_of(state)
    script, save_name = args["script_name"], args.get("save_name") or args["script_name"]
    original = ws.read_text(script) if (ws.root / script).is_file() else ""  # MLAgentBench creates it
    lines = original.splitlines(keepends=True)
    segment = pending["action"] == "Edit Script Segment (AI)"
    start, end = (int(args["start_line_number"]), int(args["end_line_number"])) if segment else (1, len(lines))
    pointed_at = ""
    if segment and ctx.use_whole_file_edits and len(lines) <= WHOLE_FILE_LINES:
        # Spliced segments broke scripts (a fragment replaced the data loading): short scripts are rewritten whole.
        pointed_at = f"The change concerns lines {start}-{end} mainly; keep the rest working.\n"
        segment, start, end = False, 1, len(lines)
    # A failed edit may be asked again once (the planner's idea was often right, the code wrong): the coder sees how
    # its first attempt ended and samples hotter, instead of writing the same failing code.
    failed = [s for s in earlier_edits(state.get("steps", []), args) if not s["ok"]]
    lesson = ""
    if failed:
        tail = failed[-1]["observation"][-FAILURE_CHARS:]
        lesson = f"An earlier attempt at this edit failed; its outcome ended with:\n{tail}\nAvoid that mistake."
    span = (start, end) if segment else None
    messages = edit_messages(ctx, ws, script, original, args["edit_instruction"], span, pointed_at, lesson)
    target = "".join(lines[start - 1 : end])
    reply_cap = code_reply_tokens(ctx, target if segment else original)
    outcome = call_structured(
        state, ctx, "coder", CodeReply, messages, max_output_tokens=reply_cap, retry=bool(failed),
        fenced=ctx.use_fenced_code,
    )  # fmt: skip
    failures = dict(state.get("failures", {}))
    update: dict[str, Any] = dict(outcome.update)
    if outcome.parsed is None:
        failures["coder"] = failures.get("coder", 0) + 1
        return update | _failed(state, f"The edit failed: {outcome.error}", failures)
    code = strip_fences(outcome.parsed.code)
    new_text = "".join(lines[: start - 1]) + code + "".join(lines[end:]) if segment else code
    repairs: list[str] = []
    if ctx.use_validity_checks and save_name.endswith(".py"):
        new_text, repairs = repair_reply(original, new_text, all_data_columns(ws))
    if new_text == original and save_name == script:
        failures["coder"] = failures.get("coder", 0) + 1
        return update | _failed(state, "The edit changed nothing; give a more specific instruction.", failures)
    shrunk = lost_lines(original, new_text) if not segment and ctx.use_validity_checks else None
    if shrunk is not None:  # a 1.5B coder returned one line for a 26-line script; running it would wipe the model
        failures["coder"] = failures.get("coder", 0) + 1
        return update | _failed(state, f"The edit was not applied: {shrunk}. Return the complete script.", failures)
    problem = unknown_references(new_text, ws) if ctx.use_grounding_checks and save_name.endswith(".py") else None
    if problem is not None:  # it would crash on a name the data does not have: do not even run it
        failures["coder"] = failures.get("coder", 0) + 1
        return update | _failed(state, f"The edit was not applied: {problem}.", failures)
    try:
        previous = ws.read_text(save_name) if (ws.root / save_name).is_file() else None
        backups = ws.backup_count(save_name)
        ws.write_text(save_name, new_text)
    except ActionInputError as exc:
        return update | _failed(state, f"The edit could not be saved: {exc}", failures)
    diff = bounded_diff(original, new_text, save_name)
    observation = f"The edited file is saved to {save_name}. Here is the diff:\n{diff}"
    observation += "".join(f"\n{note}" for note in repairs)
    dirty = sorted({*state.get("dirty_scripts", []), save_name})
    runnable = save_name.endswith(".py")
    return update | {
        "observation": observation,
        "step_ok": True,
        "to_run": (save_name, "coder") if runnable else None,
        "pre_edit": (save_name, previous, backups),
        "edits_made": state.get("edits_made", 0) + 1,
        "dirty_scripts": dirty if runnable else state.get("dirty_scripts", []),
        "failures": failures,
    }


def edit_messages(
    ctx: Context,
    ws: Workspace,
    script: str,
    original: str,
    instruction: str,
    span: tuple[int, int] | None = None,
    pointed_at: str = "",
    lesson: str = "",
) -> list[BaseMessage]:
    """The coder's prompt: the data, the code to change (lines `span` only, or the whole script), how an earlier try
    ended, the instruction, the code shape of the recipe it names, and the form of the reply."""
    context = [grounded_context(ws, ctx.use_grounding_checks)]
    if span is not None and ctx.use_grounding_checks:  # the segment's surroundings decide which names exist
        context.append(f"The whole current {script}, for context:\n{original}")
    start, end = span or (1, len(original.splitlines()))
    target = "".join(original.splitlines(keepends=True)[start - 1 : end])
    where = f"lines {start}-{end} of {script}" if span else script
    shape = recipe_pattern(original, instruction, ws) if ctx.use_recipes and span is None else ""
    returned = "segment (only those lines)" if span else "script"
    prompt = "\n\n".join(
        [
            *context,
            f"Current content of {where}:\n{target}",
            *([lesson] if lesson else []),
            f"{pointed_at}Edit instruction: {instruction}",
            *([shape] if shape else []),
            code_request(ctx, f"the complete new {returned}", "what you changed"),
        ]
    )
    return [SystemMessage(profiles.CODER), HumanMessage(prompt)]


def code_request(ctx: Context, what: str, note: str) -> str:
    """The prompt's last line: what to return, and in which form the reply carries it."""
    if ctx.use_fenced_code:
        # Code first: asked for a sentence first, the 1.5B wrote the sentence and stopped.
        return f"Return {what} in one ```python block, then one sentence on {note}."
    return f"Return {what}."


def recipe_pattern(script: str, instruction: str, ws: Workspace) -> str:
    """The code shape of the recipe the instruction asks for, if any (see nodes/recipes.py); else nothing."""
    recipe = recipe_for_instruction(instruction, recipes_for(ws, script))
    if recipe is None:
        return ""
    return (
        f"Code of the right shape for this change ({recipe.name}), to adapt to the script; every other line (imports, "
        f"data loading, the target, the split, the metric, the submission) stays:\n```python\n{recipe.pattern}\n```"
    )


def _failed(state: State, message: str, failures: dict[str, int]) -> dict[str, Any]:
    return {"observation": message, "step_ok": False, "to_run": None, "failures": failures, "executed": True}
