"""Planner: chooses the next action (MLAgentBench reply fields) and checks it against the world."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.nodes.coder import WHOLE_FILE_LINES, earlier_edits
from budgetmlagent.prompts import profiles
from budgetmlagent.prompts.replies import planner_reply_model
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured
from budgetmlagent.runtime.measure import best_value, measured_improvement
from budgetmlagent.runtime.recall import RECENT_STEPS, retrieve_older
from budgetmlagent.runtime.run_folder import append_trace
from budgetmlagent.runtime.state import State, Step, workspace_of
from budgetmlagent.scaffold.code_facts import unused_columns
from budgetmlagent.scaffold.data_facts import grounded_context
from budgetmlagent.scaffold.recipes import recipes_for
from budgetmlagent.workspace.actions import (
    EDIT_ACTIONS,
    LOOK_ACTIONS,
    PLANNER_ACTIONS,
    render_tool_descriptions,
    validate_action,
)
from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.scoring import improvement
from budgetmlagent.workspace.snapshots import differs_from_snapshot

RECENT_OBSERVATION_CHARS = 2500
OLDER_OBSERVATION_CHARS = 400


def available_actions(state: State, ctx: Context) -> tuple[str, ...]:
    """Ask Expert disappears when the lifelines are spent; retrieval goes with the memory ablation.

    The expert is also withheld on the first step (there is nothing to ask about yet) and right after
    an answer (the advice is in the prompt): small planners otherwise spend every lifeline at once.
    """
    names = list(PLANNER_ACTIONS)
    steps = state.get("steps", [])
    just_asked = bool(steps) and steps[-1]["action"] == "Ask Expert"
    if not ctx.expert_enabled or state.get("lifelines", ctx.lifelines) <= 0 or not steps or just_asked:
        names.remove("Ask Expert")
    if not ctx.use_retrieval:
        names.remove("Retrieval from Research Log")
    if not ctx.use_best_snapshot or not state.get("edits_made") or not _revert_changes_something(state):
        names.remove("Revert To Best")
    return tuple(names)


def _revert_changes_something(state: State) -> bool:
    """A 1.5B planner reverted an already-best workspace nine steps running; a no-op revert is not offered."""
    best = state.get("best")
    return best is not None and differs_from_snapshot(workspace_of(state), Path(best["snapshot"]))


def planner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Ask the planner's current tier for one action; an invalid one becomes feedback for the retry."""
    ctx = runtime.context
    actions = available_actions(state, ctx)
    messages = [
        SystemMessage(system_prompt(state, actions, ctx)),
        HumanMessage(situation_prompt(state, ctx)),
    ]
    retry = bool(state.get("planner_error"))
    outcome = call_structured(state, ctx, "planner", planner_reply_model(actions), messages, retry=retry)
    failures = dict(state.get("failures", {}))
    update: dict[str, Any] = dict(outcome.update)
    reply = outcome.parsed
    if reply is not None and ctx.use_validity_checks:
        repair_save_name(state, reply)
        if ctx.use_whole_file_edits:
            repair_line_range(state, reply)
    error = outcome.error if reply is None else check_reply(state, ctx, reply)
    if error is not None:
        append_trace(
            state.get("run_dir"),
            {"type": "rejected", "step": len(state.get("steps", [])) + 1, "model": outcome.model, "error": error},
        )
        failures["planner"] = failures.get("planner", 0) + 1
        if outcome.provider_failed:
            failures["provider"] = failures.get("provider", 0) + 1
        return update | {"pending": None, "planner_error": error, "failures": failures}
    failures["planner"] = 0
    failures["provider"] = 0
    pending = {
        "reflection": reply.reflection,
        "research_plan_and_status": reply.research_plan_and_status,
        "fact_check": reply.fact_check,
        "thought": reply.thought,
        "action": reply.action.name,
        "action_input": reply.action.input.model_dump(),
        "model": outcome.model,
        "tier": outcome.tier,
    }
    return update | {
        "pending": pending,
        "planner_error": None,
        "failures": failures,
        "plan": reply.research_plan_and_status,
    }


def check_reply(state: State, ctx: Context, reply: Any) -> str | None:
    """World checks the grammar cannot make: files exist, ranges fit, Final Answer is earned, claims are backed."""
    action, args = reply.action.name, reply.action.input.model_dump()
    _, error = validate_action(workspace_of(state), action, args)
    if error is not None:
        return error
    steps = state.get("steps", [])
    if steps and (steps[-1]["action"], steps[-1]["action_input"]) == (action, args):
        # Same input, same world: a look repeats its observation, a failure repeats its failure.
        if action in LOOK_ACTIONS:
            return (
                f"{action} with the same input was your last step; its observation is above and nothing has "
                "changed since. Use what you learned: for example edit the script to try an improvement."
            )
        if not steps[-1]["ok"] and not (action in EDIT_ACTIONS and ctx.use_validity_checks):  # see edit_already_made
            return (
                f"{action} with the same input failed in your last step (see its observation above). "
                "Do something different: change the input, or choose another action."
            )
    if action == "Final Answer":
        if state.get("edits_made", 0) == 0:
            return (
                "Final Answer rejected: nothing has been changed yet, so the baseline cannot have "
                "improved. Edit the training script to try a better model, then run it."
            )
        if state.get("dirty_scripts"):
            names = ", ".join(state["dirty_scripts"])
            return f"Final Answer rejected: {names} changed since it last ran successfully. Run it first."
    if ctx.use_validity_checks:
        bad_edit = (
            edit_of_missing_script(state, action, args)
            or vague_edit(action, args)
            or edit_already_made(steps, action, args)
            or (inspect_of_shown_script(state, action, args) if ctx.use_briefing else None)
        )
        if bad_edit is not None:
            return bad_edit
    if ctx.use_validity_checks and state["task"].get("validation_pattern"):
        return unbacked_claim(state, action, reply)
    return None


def inspect_of_shown_script(state: State, action: str, args: dict[str, Any]) -> str | None:
    """The briefing shows the whole main script every step; inspecting it again spends a step to learn nothing."""
    main = state["task"].get("main_script")
    if (
        action != "Inspect Script Lines"
        or args.get("script_name") != main
        or main_script_listing(state, _main_script(state)) is None
    ):
        return None
    return (
        f"{main} is shown whole above, with line numbers, under 'The current {main}'; nothing more to inspect. "
        "Use it: edit the script to try one concrete improvement."
    )


def edit_of_missing_script(state: State, action: str, args: dict[str, Any]) -> str | None:
    """MLAgentBench lets an edit create a script from nothing; small models then write a whole program from a one-line
    instruction (the 1.5B ran to its token cap on 'train.py_modified'). Variants start from a copy instead."""
    script = str(args.get("script_name", ""))
    if action not in EDIT_ACTIONS or (workspace_of(state).root / script).is_file():
        return None
    main = state["task"].get("main_script") or "train.py"
    return (
        f"{script!r} does not exist, so there is nothing to edit. Edit an existing script such as {main!r} "
        f"(save_name may be a new name), or Copy File first."
    )


def repair_save_name(state: State, reply: Any) -> None:
    """An edited script saved under another kind of name cannot run and may clobber an output (the 0.5B planner
    saved train.py's edits as submission.csv, the file the scorer reads, and as train.py_modified). Rejecting it
    cost three 0.5B retries a step; the edit is saved in place instead, which the best snapshot makes safe."""
    action, args = reply.action.name, reply.action.input
    if action not in EDIT_ACTIONS:
        return
    script, save_name = str(args.script_name), str(args.save_name)
    if PurePosixPath(script).suffix == PurePosixPath(save_name).suffix:
        return
    args.save_name = script
    append_trace(
        state.get("run_dir"),
        {"type": "repaired", "step": len(state.get("steps", [])) + 1, "save_name": save_name, "saved_as": script},
    )


def repair_line_range(state: State, reply: Any) -> None:
    """A short script is rewritten whole, so a segment edit's lines only say where to look: lines past the end (the
    planners asked for lines 27-40 of a 26-line train.py for a whole run) are clamped instead of rejected."""
    if reply.action.name != "Edit Script Segment (AI)":
        return
    args = reply.action.input
    try:  # through the workspace: a name leading outside it is refused there, and rejected later as usual
        length = len(workspace_of(state).read_text(str(args.script_name)).splitlines())
    except (OSError, UnicodeDecodeError, ActionInputError):
        return
    start, end = int(args.start_line_number), int(args.end_line_number)
    if not 0 < length <= WHOLE_FILE_LINES or (1 <= start <= end <= length):
        return
    args.start_line_number = min(max(start, 1), length)
    args.end_line_number = min(max(end, args.start_line_number), length)
    append_trace(
        state.get("run_dir"),
        {
            "type": "repaired",
            "step": len(state.get("steps", [])) + 1,
            "lines": [start, end],
            "clamped_to": [args.start_line_number, args.end_line_number],
        },
    )


# A one-word instruction ("Add,", "Improve") cannot say what to change.
MIN_INSTRUCTION_WORDS = 2


def vague_edit(action: str, args: dict[str, Any]) -> str | None:
    """An edit instruction too short to act on: the 0.5B sent "Add," and the coder guessed at columns that do not
    exist, then three debugger attempts returned the script unchanged (movielens-rating, v8)."""
    words = re.findall(r"\w+", str(args.get("edit_instruction", "")))
    if action not in EDIT_ACTIONS or len(words) >= MIN_INSTRUCTION_WORDS:
        return None
    return (
        f"The edit instruction {args.get('edit_instruction', '')!r} does not say what to change. Write one concrete "
        "change, naming the columns, the model or the lines, or copy one of the ready instructions word for word."
    )


def edit_already_made(steps: list[Step], action: str, args: dict[str, Any]) -> str | None:
    """The same instruction on the same script gives the same edit: the 0.5B planner re-sent one edit three times in
    five steps, with a look in between so the back-to-back check missed it. A failed edit may be asked once more
    (the coder then sees how it failed); a second failure, or an edit that already worked, is final."""
    if action not in EDIT_ACTIONS:
        return None
    earlier = earlier_edits(steps, args)
    if not earlier or (len(earlier) == 1 and not earlier[0]["ok"]):
        return None
    return (
        f"You gave this edit instruction for {args.get('script_name')} at step {earlier[-1]['step']} already; its "
        "result is in your history. Ask for a different, concrete change (name the columns or the model to use)."
    )


# Past-tense claims of progress; plans ("to improve ...") do not match.
_CLAIM = re.compile(
    r"\b(improved|has improved|have improved|increased|decreased|reduced|is (?:now )?(?:better|higher|lower)|"
    r"outperforms?|beats? the baseline|achieved|succeeded)\b",
    re.IGNORECASE,
)


_WORSE_WORDS = {"higher": ("decreased", "reduced", "lower"), "lower": ("increased", "higher")}


def _against(claim: str, task: Any) -> bool:
    """Words that describe a change the wrong way for this metric are not claims of progress: 'the accuracy is lower
    than we need' was rejected as a boast in a real run."""
    return any(word in claim.lower() for word in _WORSE_WORDS[task["direction"]])


def unbacked_claim(state: State, action: str, reply: Any) -> str | None:
    """Final Answer and claims of improvement need a measured validation metric better than the baseline's."""
    if measured_improvement(state):
        return None
    task = state["task"]
    baseline = task.get("validation_baseline")
    shown = "unknown" if baseline is None else f"{baseline:.6g}"
    if action == "Final Answer":
        return (
            f"Final Answer rejected: no run has measured a validation {task['metric']} better than the baseline's "
            f"({shown}). Keep improving the script and run it."
        )
    claim = next(
        (m for m in _CLAIM.finditer(f"{reply.reflection} {reply.thought}") if not _against(m.group(0), task)), None
    )
    if claim is not None:
        return (
            f"Your reply claims progress ({claim.group(0)!r}) but no run has measured a validation {task['metric']} "
            f"better than the baseline's ({shown}). State only what observations show, then choose an action."
        )
    return None


def system_prompt(state: State, actions: tuple[str, ...], ctx: Context | None = None) -> str:
    """The fixed part of the planner prompt comes first so the server's prefix cache reuses it."""
    task = state["task"]
    direction = "higher" if task["direction"] == "higher" else "lower"
    briefing = []
    if ctx is not None and ctx.use_briefing:  # the data files are read-only, so this part never changes
        briefing.append(grounded_context(workspace_of(state), detailed=True))
    return "\n\n".join(
        [
            profiles.PLANNER,
            "Research problem:\n" + task["problem"].strip(),
            f"Success means the {task['metric']} of the final submission is more than 10% better "
            f"({direction} is better) than the baseline script's.",
            *briefing,
            "Actions you can use (name and JSON input):\n" + render_tool_descriptions(list(actions)),
            profiles.PLANNER_FORMAT,
        ]
    )


def _main_script(state: State) -> str | None:
    name = state["task"].get("main_script")
    ws = workspace_of(state)
    if not name or not (ws.root / name).is_file():
        return None
    try:
        return ws.read_text(name)
    except (OSError, UnicodeDecodeError, ActionInputError):
        return None


def main_script_listing(state: State, text: str | None) -> str | None:
    """The task's script as it is now (text), numbered, when it is short enough to show whole."""
    lines = [] if text is None else text.splitlines()
    if text is None or len(lines) > WHOLE_FILE_LINES:
        return None
    numbered = "\n".join(f"{i}: {line}" for i, line in enumerate(lines, 1))
    return f"The current {state['task'].get('main_script')} ({len(lines)} lines):\n{numbered}"


UNUSED_SHOWN = 15
_KIND_NOTES = {
    "number": "numbers",
    "category": "text categories: encode them",
    "free text": "mostly distinct text values",
}


def unused_columns_line(state: State, text: str | None) -> str | None:
    """Facts, not advice: the planners asked to 'add more features' without naming one, then named every column
    (free-text names and tickets too); naming the unused columns by kind turns that into an instruction that works."""
    kinds = unused_columns(workspace_of(state), text) if text is not None else {}
    if not kinds:
        return None
    groups = []
    for kind, names in kinds.items():
        shown = ", ".join(names[:UNUSED_SHOWN]) + (
            f" and {len(names) - UNUSED_SHOWN} more" if len(names) > UNUSED_SHOWN else ""
        )
        note = _KIND_NOTES.get(kind, "")
        groups.append(f"{shown} ({note})" if note else shown)
    return (
        f"Columns of the training data that {state['task'].get('main_script')} does not use yet: {'; '.join(groups)}."
    )


def recipes_line(state: State, script: str) -> str | None:
    """Ready edit instructions for the main script (nodes/recipes.py), less those already made: the planners knew
    the idea but worded it vaguely ("add more features"), and their coders broke it."""
    main = state["task"].get("main_script")
    steps = state.get("steps", [])
    fresh = [
        r.instruction
        for r in recipes_for(workspace_of(state), script)
        if edit_already_made(steps, "Edit Script (AI)", {"script_name": main, "edit_instruction": r.instruction})
        is None
    ]
    if not fresh:
        return None
    listed = "\n".join(f"- {instruction}" for instruction in fresh)
    return (
        f"Changes that usually lift a baseline like this one: each is a ready edit_instruction for {main} "
        f"(Edit Script (AI)); use one word for word, or write your own:\n{listed}"
    )


def situation_prompt(state: State, ctx: Context) -> str:
    """The changing part: budget, advice, retrieved and recent steps, the rejected reply if any."""
    steps = state.get("steps", [])
    parts = []
    parts.append(progress_line(state))
    parts.append(
        f"Step {len(steps) + 1} of {ctx.max_steps}. Lifelines (Ask Expert) left: "
        f"{state.get('lifelines', ctx.lifelines) if ctx.expert_enabled else 0}."
    )
    edits, dirty = state.get("edits_made", 0), state.get("dirty_scripts", [])
    progress = f"Edits made so far: {edits}."
    if dirty:
        progress += f" Changed but not yet run successfully: {', '.join(dirty)}."
    parts.append(progress)
    if state.get("plan"):
        parts.append("Your research plan and status so far:\n" + state["plan"])
    if state.get("expert_advice"):
        parts.append("Advice from the expert:\n" + state["expert_advice"])
    query = " ".join(filter(None, [state.get("plan", ""), steps[-1]["thought"] if steps else ""]))
    older = retrieve_older(state, ctx, query) if len(steps) > RECENT_STEPS else []
    if older:
        parts.append("Relevant earlier steps:\n" + "\n".join(older))
    script = _main_script(state) if ctx.use_briefing else None
    listing = main_script_listing(state, script)
    if listing is not None:
        parts.append(listing)
        unused = unused_columns_line(state, script)
        if unused is not None:
            parts.append(unused)
    offered = recipes_line(state, script) if ctx.use_recipes and script is not None else None
    if offered is not None:
        parts.append(offered)
    if steps:
        recent = steps[-RECENT_STEPS:]
        rendered = [
            render_step(s, RECENT_OBSERVATION_CHARS if s is recent[-1] else OLDER_OBSERVATION_CHARS) for s in recent
        ]
        parts.append("Your last steps:\n" + "\n\n".join(rendered))
    elif listing is not None:
        parts.append(
            "This is your first step. The data files and the script are shown above: choose one concrete change "
            "likely to improve the metric ("
            + (
                "one of the ready changes above"
                if offered
                else "for example a useful column the script leaves out, or a stronger model"
            )
            + ") and edit the script; an edited script runs automatically."
        )
    else:
        parts.append("This is your first step. Start by looking at the files in the workspace.")
    if state.get("planner_error"):
        parts.append("Your previous reply was rejected:\n" + state["planner_error"] + "\nChoose a valid action.")
    return "\n\n".join(parts)


def progress_line(state: State) -> str:
    """Where the metric stands: measured validation numbers when the task prints them (the hidden test score
    of the agent's work is never shown), else the baseline's score."""
    task = state["task"]
    metric = task["metric"]
    if task.get("validation_pattern"):
        baseline = task.get("validation_baseline")
        best, step = best_value(state)
        if baseline is None or best is None:
            return f"The scripts print their validation {metric}; no value has been measured yet."
        where = "the baseline itself" if step == 0 else f"step {step}"
        gain = improvement(best, baseline, task["direction"])
        return (
            f"Validation {metric}: baseline {baseline:.6g}; best so far {best:.6g} ({where}, {gain:+.1%}). "
            f"The goal needs more than +10%."
        )
    if task.get("baseline") is not None:
        return f"Baseline {metric} of the original script: {task['baseline']:.4g}."
    return f"The baseline {metric} is unknown."


def render_step(step: Step, max_chars: int) -> str:
    observation = step["observation"]
    if len(observation) > max_chars:
        observation = observation[: max_chars // 2] + "\n[...]\n" + observation[-max_chars // 2 :]
    status = "" if step["ok"] else " (failed)"
    return (
        f"Step {step['step']}: {step['action']} {json.dumps(step['action_input'])}{status}\n"
        f"Thought: {step['thought']}\nObservation: {observation}"
    )
