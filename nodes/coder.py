"""Coder: Edit Script (AI) and Edit Script Segment (AI) return the whole new file or segment.

The node assembles the edit prompt (words: prompts/coder.py), vets the reply (runtime/vetting.py, shared with the
debugger) and writes it; the executor runs it next."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.prompts import coder as words
from budgetmlagent.prompts import profiles
from budgetmlagent.prompts.replies import CodeReply
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured, code_reply_tokens
from budgetmlagent.runtime.state import State, workspace_of
from budgetmlagent.runtime.vetting import Vetted, save_code, vet_code
from budgetmlagent.scaffold.data_facts import grounded_context
from budgetmlagent.scaffold.recipes import recipe_for_instruction, recipes_for
from budgetmlagent.scaffold.reply_checks import WHOLE_FILE_LINES, earlier_edits
from budgetmlagent.scaffold.script_repair import merge_fragment
from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.workspace import Workspace


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
        pointed_at = words.pointed_at(start, end)
        segment, start, end = False, 1, len(lines)
    # A failed edit may be asked again once (the planner's idea was often right, the code wrong): the coder sees how
    # its first attempt ended and samples hotter, instead of writing the same failing code.
    failed = [s for s in earlier_edits(state.get("steps", []), args) if not s["ok"]]
    lesson = words.lesson(failed[-1]["observation"]) if failed else ""
    span = (start, end) if segment else None
    if pending.get("own_code"):  # a recipe the scaffold takes: its own code, merged as a model's fragment would be
        fragment = pending.get("fragment")  # a learned change's code, merged here as it was when measured
        if pending.get("code"):  # the scaffold's own whole script (the starter's hold-out check)
            code = pending["code"]
        elif fragment:
            code = merge_fragment(original, fragment)
        else:
            code = recipe_code(ws, original, args["edit_instruction"])
        error, update = words.NO_RECIPE_CODE, {}
    else:
        messages = edit_messages(ctx, ws, script, original, args["edit_instruction"], span, pointed_at, lesson)
        target = "".join(lines[start - 1 : end])
        reply_cap = code_reply_tokens(ctx, target if segment else original)
        outcome = call_structured(
            state, ctx, "coder", CodeReply, messages, max_output_tokens=reply_cap, retry=bool(failed),
            fenced=ctx.use_fenced_code,
        )  # fmt: skip
        code, error, update = (outcome.parsed.code if outcome.parsed else None), outcome.error, dict(outcome.update)
    failures = dict(state.get("failures", {}))
    python = save_name.endswith(".py")
    vetted = None
    if code is not None:
        vetted = vet_code(
            code, original, ws, span=span, repair=(ctx.use_validity_checks or bool(pending.get("own_code"))) and python,
            ground=ctx.use_grounding_checks and python, whole=not segment and ctx.use_validity_checks,
        )  # fmt: skip
    why = words.edit_failed(error) if vetted is None else _refusal(vetted, original, save_name == script)
    if why is not None:
        failures["coder"] = failures.get("coder", 0) + 1
        return update | _failed(state, why, failures)
    assert vetted is not None
    try:
        previous = ws.read_text(save_name) if (ws.root / save_name).is_file() else None
        backups = ws.backup_count(save_name)
        diff = save_code(ws, save_name, original, vetted.text)
    except ActionInputError as exc:
        return update | _failed(state, words.not_saved(exc), failures)
    dirty = sorted({*state.get("dirty_scripts", []), save_name})
    return update | {
        "observation": words.saved(save_name, diff, vetted.repairs),
        "step_ok": True,
        "to_run": (save_name, "coder") if python else None,
        "pre_edit": (save_name, previous, backups),
        "edits_made": state.get("edits_made", 0) + 1,
        "dirty_scripts": dirty if python else state.get("dirty_scripts", []),
        "failures": failures,
    }


def recipe_code(ws: Workspace, original: str, instruction: str) -> str | None:
    """The code shape of the recipe the instruction names, as the fragment to merge; None when none fits."""
    recipe = recipe_for_instruction(instruction, recipes_for(ws, original))
    return None if recipe is None else recipe.pattern


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
    start, end = span or (1, len(original.splitlines()))
    # the code shape of the recipe the instruction asks for, if any (see scaffold/recipes.py)
    recipe = (
        recipe_for_instruction(instruction, recipes_for(ws, original)) if ctx.use_recipes and span is None else None
    )
    prompt = words.edit_prompt(
        facts=grounded_context(ws, ctx.use_grounding_checks),
        script=script,
        target="".join(original.splitlines(keepends=True)[start - 1 : end]),
        span=span,
        # the segment's surroundings decide which names exist
        whole=original if span is not None and ctx.use_grounding_checks else None,
        lesson=lesson,
        pointed_at=pointed_at,
        instruction=instruction,
        shape="" if recipe is None else words.recipe_shape(recipe.name, recipe.pattern),
        fenced=ctx.use_fenced_code,
    )
    return [SystemMessage(profiles.CODER), HumanMessage(prompt)]


def _refusal(vetted: Vetted, original: str, in_place: bool) -> str | None:
    """Why a vetted edit is not written, in the coder's order; None when it may be."""
    if vetted.text == original and in_place:
        return words.CHANGED_NOTHING
    if vetted.lost is not None:  # a 1.5B coder returned one line for a 26-line script; running it would wipe the model
        return words.cut_off(vetted.lost)
    if vetted.unknown is not None:  # it would crash on a name the data does not have: do not even run it
        return words.not_applied(vetted.unknown)
    return None


def _failed(state: State, message: str, failures: dict[str, int]) -> dict[str, Any]:
    return {"observation": message, "step_ok": False, "to_run": None, "failures": failures, "executed": True}
