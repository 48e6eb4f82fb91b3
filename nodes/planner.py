"""Planner: chooses the next action (MLAgentBench reply fields) and checks it against the world.

The node assembles the prompt from the state (the words are prompts/planner.py's), and runs the reply through the
repairs and checks of scaffold/reply_checks.py, tracing each repair."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.prompts import planner as words
from budgetmlagent.prompts.history import SCAFFOLD_MODEL
from budgetmlagent.prompts.replies import planner_reply_model
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.experience import learned_offers, learned_warnings, requery
from budgetmlagent.runtime.llm import call_structured
from budgetmlagent.runtime.measure import best_value, measured_improvement, tried_changes
from budgetmlagent.runtime.recall import RECENT_STEPS, retrieve_older
from budgetmlagent.runtime.run_folder import append_trace
from budgetmlagent.runtime.scaffold_steps import (
    experience_stalled,
    may_stop,
    revert_changes_something,
    scaffold_action,
    scaffold_takes,
    starter_change,
    starter_retry,
    steps_without_gain,
)
from budgetmlagent.runtime.state import State, workspace_of
from budgetmlagent.scaffold.code_facts import unused_columns
from budgetmlagent.scaffold.data_facts import grounded_context
from budgetmlagent.scaffold.recipes import recipes_for
from budgetmlagent.scaffold.reply_checks import (
    Metric,
    check_reply,
    edit_already_made,
    line_range_repair,
    main_script_text,
    save_name_repair,
    script_name_repair,
    shown_whole,
)
from budgetmlagent.workspace.actions import PLANNER_ACTIONS
from budgetmlagent.workspace.scoring import improvement


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
    if not ctx.use_best_snapshot or not state.get("edits_made") or not revert_changes_something(state):
        names.remove("Revert To Best")
    if not may_stop(state, ctx):
        names.remove("Final Answer")
    if _at_an_edited_best(state):
        # Undoing the best version only leaves it: a 1.5B planner meaning "revert to the best" undid the
        # scaffold's fix of a skeleton starter, which then no longer ran.
        names.remove("Undo Edit Script")
    return tuple(names)


def _at_an_edited_best(state: State) -> bool:
    """The workspace is the best validated version, and an edit made it (not the untouched starter)."""
    best = state.get("best")
    return best is not None and best["step"] > 0 and not revert_changes_something(state)


def planner(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Ask the planner's current tier for one action; an invalid one becomes feedback for the retry. A stalled run
    first asks the experience store again, with the script as it is now."""
    ctx = runtime.context
    more = requery(state, ctx) if experience_stalled(state, ctx) else None
    if more is None:
        return next_action(state, ctx)
    return next_action(State(**(state | {"experience": more})), ctx) | {"experience": more}


def next_action(state: State, ctx: Context) -> dict[str, Any]:
    """The scaffold's own step when it takes one, else the planner model's reply (or the error it is told)."""
    taken = scaffold_action(state, ctx)
    if taken is not None:
        return scaffold_takes(state, taken)
    actions = available_actions(state, ctx)
    messages = [
        SystemMessage(system_prompt(state, actions, ctx)),
        HumanMessage(situation_prompt(state, ctx)),
    ]
    retry = bool(state.get("planner_error"))
    reply_model = planner_reply_model(actions, ctx.planner_reply)
    outcome = call_structured(state, ctx, "planner", reply_model, messages, retry=retry)
    failures = dict(state.get("failures", {}))
    update: dict[str, Any] = dict(outcome.update)
    reply = outcome.parsed
    if reply is not None and ctx.use_validity_checks:
        apply_repairs(state, ctx, reply)
    error = outcome.error if reply is None else reply_error(state, ctx, reply)
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


def apply_repairs(state: State, ctx: Context, reply: Any) -> None:
    """Mends the reply in place where scaffold/reply_checks.py repairs instead of rejecting, and traces each repair:
    a script named after a definition inside the main script is the main script; an edit saved under another kind
    of name is saved in place; a short script's segment lines are clamped."""
    action, args = reply.action.name, reply.action.input
    step = len(state.get("steps", [])) + 1
    main = state["task"].get("main_script")
    renamed = script_name_repair(workspace_of(state), action, args.model_dump(), main)
    if renamed is not None:
        script_name, args.script_name = str(args.script_name), renamed
        if getattr(args, "save_name", None) == script_name:
            args.save_name = renamed
        append_trace(
            state.get("run_dir"), {"type": "repaired", "step": step, "script_name": script_name, "renamed": renamed}
        )
    saved_as = save_name_repair(action, args.model_dump())
    if saved_as is not None:
        save_name, args.save_name = str(args.save_name), saved_as
        append_trace(
            state.get("run_dir"), {"type": "repaired", "step": step, "save_name": save_name, "saved_as": saved_as}
        )
    if not ctx.use_whole_file_edits:
        return
    clamped = line_range_repair(workspace_of(state), action, args.model_dump())
    if clamped is not None:
        lines = [int(args.start_line_number), int(args.end_line_number)]
        args.start_line_number, args.end_line_number = clamped
        append_trace(
            state.get("run_dir"), {"type": "repaired", "step": step, "lines": lines, "clamped_to": list(clamped)}
        )


def reply_error(state: State, ctx: Context, reply: Any) -> str | None:
    """The reply's first failed world check (scaffold/reply_checks.py), read from the state; None when it passes."""
    task = state["task"]
    metric = None
    if ctx.use_validity_checks and task.get("validation_pattern"):
        improved = measured_improvement(state)
        metric = Metric(task["metric"], task["direction"], task.get("validation_baseline"), improved)
    return check_reply(
        workspace_of(state),
        reply.action.name,
        reply.action.input.model_dump(),
        state.get("steps", []),
        edits_made=state.get("edits_made", 0),
        dirty_scripts=state.get("dirty_scripts", []),
        main_script=task.get("main_script"),
        validity=ctx.use_validity_checks,
        briefing=ctx.use_briefing,
        said=f"{reply.reflection} {reply.thought}",
        metric=metric,
    )


def system_prompt(state: State, actions: tuple[str, ...], ctx: Context | None = None) -> str:
    """The fixed part of the planner prompt; the data briefing is in it because the data files are read-only."""
    task = state["task"]
    briefing = None
    if ctx is not None and ctx.use_briefing:
        briefing = grounded_context(workspace_of(state), detailed=True)
    reply_format = ctx.planner_reply if ctx is not None else "short"
    return words.system_prompt(task["problem"], task["metric"], task["direction"], briefing, actions, reply_format)


def situation_prompt(state: State, ctx: Context) -> str:
    """The changing part: progress, budget, advice, retrieved and recent steps, the script, the rejected reply."""
    steps = state.get("steps", [])
    lifelines = state.get("lifelines", ctx.lifelines) if ctx.expert_enabled else 0
    parts = [
        progress_line(state),
        words.budget_line(len(steps) + 1, ctx.max_steps, lifelines),
        words.edits_line(state.get("edits_made", 0), state.get("dirty_scripts", [])),
    ]
    if state.get("plan"):
        parts.append(words.plan_so_far(state["plan"]))
    if state.get("expert_advice"):
        parts.append(words.expert_advice(state["expert_advice"]))
    query = " ".join(filter(None, [state.get("plan", ""), steps[-1]["thought"] if steps else ""]))
    older = retrieve_older(state, ctx, query) if len(steps) > RECENT_STEPS else []
    if older:
        parts.append(words.earlier_steps(older))
    main = state["task"].get("main_script")
    script = main_script_text(workspace_of(state), main) if ctx.use_briefing else None
    listed = script is not None and shown_whole(script)
    if listed:
        parts.append(words.script_listing(main, script))
        kinds = unused_columns(workspace_of(state), script)
        if kinds:
            parts.append(words.unused_columns(main, kinds))
    tried = tried_changes(state)
    if len(tried) >= 2:
        parts.append(words.tried_changes(tried))
    first = starter_change(state, ctx)
    if first is not None:  # a starter that does not run, or prints no hold-out metric, is fixed before any recipe
        retry = starter_retry(state, first)
        offered = [retry] if retry is not None else []
    else:
        offered = fresh_recipes(state, script) if ctx.use_recipes and script is not None else []
    if offered:
        parts.append(words.ready_changes(main, offered))
    if first is None and learned_now(state, ctx):
        parts += learned_parts(state, main, ctx.experience_k)
    if steps:
        parts.append(words.last_steps(steps[-RECENT_STEPS:], script if listed else None))
    else:
        parts.append(words.first_step(listed, bool(offered)))
    if state.get("planner_error"):
        parts.append(words.rejected(state["planner_error"]))
    return "\n\n".join(parts)


def learned_now(state: State, ctx: Context) -> bool:
    """Learned changes are offered at the planner's first call and when the run stalls (runtime/experience.py)."""
    steps = state.get("steps", [])
    first_call = all(s["model"] == SCAFFOLD_MODEL for s in steps)
    return first_call or steps_without_gain(state) >= max(1, ctx.stall_steps)


def learned_parts(state: State, main: str | None, k: int) -> list[str]:
    """The first k learned changes not made yet, with what they measured, and the warnings, as prompt parts."""
    offers = {" ".join(o["instruction"].split()): o for o in learned_offers(state)}
    fresh = fresh_instructions(state, list(offers))[:k]
    parts = []
    if fresh:
        rows = [(i, offers[i]["effect"], "this task" if offers[i]["same_task"] else offers[i]["task"]) for i in fresh]
        parts.append(words.learned_changes(main, rows))
    warnings = [
        (" ".join(o["instruction"].split()), words.learned_warning_outcome(o["ran"], o["effect"], o["error"]))
        for o in learned_warnings(state)
    ]
    if warnings:
        parts.append(words.learned_warnings(warnings))
    return parts


def fresh_recipes(state: State, script: str) -> list[str]:
    """The ready edit instructions for the main script (scaffold/recipes.py), less those already made."""
    return fresh_instructions(state, [r.instruction for r in recipes_for(workspace_of(state), script)])


def fresh_instructions(state: State, instructions: list[str]) -> list[str]:
    """Instructions for the main script, less those already made (an edit that worked, or failed twice)."""
    main = state["task"].get("main_script")
    steps = state.get("steps", [])
    asked = [(i, {"script_name": main, "edit_instruction": i}) for i in instructions]
    return [i for i, args in asked if edit_already_made(steps, "Edit Script (AI)", args) is None]


def progress_line(state: State) -> str:
    """Where the metric stands: measured validation numbers when the task prints them, else the baseline's score."""
    task = state["task"]
    if not task.get("validation_pattern"):
        return words.score_progress(task["metric"], task.get("baseline"))
    baseline = task.get("validation_baseline")
    best, step = best_value(state)
    if baseline is None or best is None:
        return words.nothing_measured(task["metric"])
    return words.validation_progress(
        task["metric"], baseline, best, step, improvement(best, baseline, task["direction"])
    )
