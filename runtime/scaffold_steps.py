"""Steps the scaffold takes itself, with no planner call: the starter's first change, the expert consulted when the
run stalls, and every step of the no-model baseline (Context.recipes_only). The planner node (nodes/planner.py) asks
`scaffold_action` first and calls its model only when it returns None."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budgetmlagent.prompts import planner as words
from budgetmlagent.prompts.history import SCAFFOLD_MODEL
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.experience import learned_thought, next_learned_change, requery_due
from budgetmlagent.runtime.measure import LAST_RUN_DIR, best_value
from budgetmlagent.runtime.run_folder import append_trace
from budgetmlagent.runtime.state import State, workspace_of
from budgetmlagent.scaffold.recipes import recipes_for
from budgetmlagent.scaffold.reply_checks import main_script_text
from budgetmlagent.scaffold.starter import PRINT_METRIC, first_change, hold_out_code
from budgetmlagent.workspace.snapshots import differs_from_snapshot


@dataclass(frozen=True)
class ScaffoldAction:
    """An action the scaffold takes itself, with no planner call."""

    name: str
    action_input: dict[str, Any]
    thought: str
    plan: str
    own_code: bool = False  # an edit the coder node makes from the recipe's own code, with no model call
    fragment: str | None = None  # the code a learned change merges in (own_code), instead of a recipe's
    code: str | None = None  # the whole new script, when the scaffold wrote it (own_code): the starter's hold-out


def scaffold_action(state: State, ctx: Context) -> ScaffoldAction | None:
    """The step the scaffold takes this time, or None when the planner's model chooses."""
    first = starter_change(state, ctx)
    own = own_hold_out(state, first) if first is not None else None
    if own is not None:
        return own
    if ctx.recipes_only:
        if first is not None:  # a starter that needs another change first needs a model to write it
            return ScaffoldAction("Final Answer", {"final_answer": words.RECIPES_ONLY_UNMEASURED}, "", "")
        return recipe_step(state, ctx) or ScaffoldAction("Final Answer", {"final_answer": words.RECIPES_DONE}, "", "")
    retry = starter_retry(state, first) if first is not None else None
    if retry is not None:
        return first_change_action(state, retry)
    if first is not None:
        return None
    if ctx.recipes_first:
        taken = recipe_step(state, ctx)
        if taken is not None:
            return taken
    if stalled(state, ctx):
        return expert_on_stall(state)
    return None


def scaffold_takes(state: State, action: ScaffoldAction) -> dict[str, Any]:
    """The pending action of a step the scaffold takes itself, traced as such."""
    step = len(state.get("steps", [])) + 1
    append_trace(
        state.get("run_dir"), {"type": "scaffold_step", "step": step, "action": action.name, **action.action_input}
    )
    pending = {
        "reflection": "",
        "research_plan_and_status": action.plan,
        "fact_check": "",
        "thought": action.thought,
        "action": action.name,
        "action_input": action.action_input,
        "model": SCAFFOLD_MODEL,
        "tier": state.get("tiers", {}).get("planner", 0),
    }
    if action.own_code:
        pending["own_code"] = True
    if action.fragment is not None:
        pending["fragment"] = action.fragment
    if action.code is not None:
        pending["code"] = action.code
    return {"pending": pending, "planner_error": None, "plan": state.get("plan") or action.plan}


# -- the starter's first change ------------------------------------------------------------------------------------


def first_change_action(state: State, instruction: str) -> ScaffoldAction:
    """A starter that does not run, or prints no hold-out metric, has one sensible next step; the scaffold takes it
    without a planner call (twice at most, as any instruction). A 0.5B planner offered this instruction once asked
    instead to "add a gap between the train and validation sets", and the skeleton never ran."""
    main = state["task"]["main_script"]
    edit = {"script_name": main, "edit_instruction": instruction, "save_name": main}
    return ScaffoldAction("Edit Script (AI)", edit, words.first_change_thought(main), words.FIRST_CHANGE_PLAN)


def own_hold_out(state: State, first: str) -> ScaffoldAction | None:
    """The starter's change as the scaffold's own code (scaffold/starter.hold_out_code), for a starter that runs
    but prints no hold-out metric, once; a model writes it if that code does not fit or its run failed."""
    task = state["task"]
    main = task["main_script"]
    tried = any(s["action_input"].get("edit_instruction") == first for s in state.get("steps", []))
    if tried or not first.startswith(PRINT_METRIC.format(script=main)):
        return None
    source = main_script_text(workspace_of(state), main)
    code = hold_out_code(source, task["metric"]) if source is not None else None
    if code is None:
        return None
    action = first_change_action(state, first)
    return ScaffoldAction(action.name, action.action_input, action.thought, action.plan, own_code=True, code=code)


def starter_change(state: State, ctx: Context) -> str | None:
    """The first change the task's script needs (scaffold/starter.py): to run end to end, when it failed at the
    start and has not run since; to print a hold-out metric, when no run has printed one yet."""
    task = state["task"]
    main = task.get("main_script")
    if not main or not ctx.use_measured_edits:
        return None
    ran_since = bool(state.get("run_dir")) and (Path(state["run_dir"]) / LAST_RUN_DIR).is_dir()  # type: ignore[arg-type]
    runs = ran_since or task.get("starter_ran") is not False
    source = main_script_text(workspace_of(state), main) if not runs else None
    printed = bool(task.get("validation_pattern"))
    return first_change(main, task["metric"], runs=runs, prints_validation=printed, source=source)


def starter_retry(state: State, first: str) -> str | None:
    """The starter's change as the scaffold takes it now: as is at first, and again after a failed try; after a
    try that ran but still printed no hold-out line, told so (a 1.5B coder kept the starter's own "[1985 held out]
    mean abs error" print, so nothing was measured and no best version kept); None after two tries."""
    tries = [
        s
        for s in state.get("steps", [])
        if str(s["action_input"].get("edit_instruction", "")).startswith(first)
        and s["action_input"].get("script_name") == state["task"].get("main_script")
    ]
    if len(tries) >= 2:
        return None
    if tries and tries[-1]["ok"]:
        return first + words.STARTER_RETRY
    return first


# -- the expert, when the run stalls -------------------------------------------------------------------------------


def steps_without_gain(state: State) -> int:
    """The planner's steps since the best version was measured, or since the expert last answered, whichever came
    later (the scaffold's own recipe steps are not the planner's to count: it has not tried yet)."""
    steps = state.get("steps", [])
    _, best_step = best_value(state)
    asked = [i + 1 for i, s in enumerate(steps) if s["action"] == "Ask Expert"]
    since = max([best_step or 0, *asked])
    return sum(1 for s in steps[since:] if s["model"] != SCAFFOLD_MODEL)


def stalled(state: State, ctx: Context) -> bool:
    """k steps without a better validation metric, a lifeline left, and a measured best to improve on: the expert
    is consulted where it can change the outcome (in the committed sweeps no planner ever asked on its own)."""
    if not ctx.expert_enabled or ctx.stall_steps <= 0 or state.get("lifelines", ctx.lifelines) <= 0:
        return False
    if not state["task"].get("validation_pattern") or best_value(state)[0] is None:
        return False
    return steps_without_gain(state) >= ctx.stall_steps


def experience_stalled(state: State, ctx: Context) -> bool:
    """When the experience store is asked again (runtime/experience.requery): the planner's k steps without a gain,
    or the recipe phase with no recipe or learned change left to take. Once asked at this best version, the recipe
    phase is not weighed again here (the step itself weighs it)."""
    if not ctx.use_experience or not state.get("steps") or not requery_due(state):
        return False
    if steps_without_gain(state) >= max(1, ctx.stall_steps):
        return True
    return (ctx.recipes_only or ctx.recipes_first) and recipe_step(state, ctx) is None


STOP_AFTER = 3  # steps without gain before Final Answer is offered, when stall_steps is 0


def may_stop(state: State, ctx: Context) -> bool:
    """Whether Final Answer is offered: crossing +10 % is not the end, so a run that still improves goes on to its
    caps (it ends on its best version). Offered once k steps brought no better validation metric (after the
    expert's advice, when a lifeline bought one), near the step cap, or when nothing is measured to tell."""
    if not ctx.keep_improving or not state["task"].get("validation_pattern") or best_value(state)[0] is None:
        return True
    if len(state.get("steps", [])) + 2 >= ctx.max_steps:
        return True
    return steps_without_gain(state) >= (ctx.stall_steps or STOP_AFTER)


def expert_on_stall(state: State) -> ScaffoldAction:
    task = state["task"]
    best, step = best_value(state)
    assert best is not None
    waited = steps_without_gain(state)
    question = words.stall_question(task["metric"], best, step or 0, waited, task.get("main_script"))
    return ScaffoldAction("Ask Expert", {"question": question}, words.STALL_THOUGHT, state.get("plan") or "")


# -- the recipes, each as its own code (recipes first; all of the no-model baseline) ----------------------------------


def revert_changes_something(state: State) -> bool:
    """A 1.5B planner reverted an already-best workspace nine steps running; a no-op revert is not offered."""
    best = state.get("best")
    return best is not None and differs_from_snapshot(workspace_of(state), Path(best["snapshot"]))


def recipe_step(state: State, ctx: Context) -> ScaffoldAction | None:
    """The recipe phase, with no model call: back to the best version when the last recipe left it (no better, or
    broken), else the next learned change that fits (one earlier runs measured a gain with, runtime/experience.py),
    else the next hand-written recipe not yet tried, its own code merged into the script; None once each was tried.

    What a recipe does is known code: paying a model to copy it (a 0.5B planner pasted the recipe's words, a 1.5B
    coder rewrote the whole script to change one line) cost a minute a step. A recipe whose own code does not fit
    stays offered to the planner, whose coder adapts it."""
    main = state["task"].get("main_script")
    if not main or not state["task"].get("validation_pattern") or best_value(state)[0] is None:
        return None
    steps = state.get("steps", [])
    plan = words.RECIPES_PLAN
    prefixes = (words.RECIPE_THOUGHT_PREFIX, words.LEARNED_THOUGHT_PREFIX)
    last_was_recipe = bool(steps) and steps[-1]["thought"].startswith(prefixes)
    if last_was_recipe and ctx.use_best_snapshot and revert_changes_something(state):
        return ScaffoldAction("Revert To Best", {"reason": words.RECIPE_REVERT}, words.RECIPE_REVERT, plan)
    script = main_script_text(workspace_of(state), main)
    if script is None:
        return None
    # This task's own learned changes first, then the hand-written recipes, then what helped on other tasks: taken
    # first, other tasks' changes cost titanic two steps before its first recipe win (experience-v1 leave-one-out).
    learned = next_learned_change(state, script, same_task=True)
    if learned is not None:
        return _learned_action(main, learned, plan)
    tried = {s["thought"] for s in steps}
    recipes = recipes_for(workspace_of(state), script) if ctx.use_recipes else []
    fresh = next((r for r in recipes if words.recipe_thought(r.name) not in tried), None)
    if fresh is not None:
        edit = {"script_name": main, "edit_instruction": fresh.instruction, "save_name": main}
        return ScaffoldAction("Edit Script (AI)", edit, words.recipe_thought(fresh.name), plan, own_code=True)
    learned = next_learned_change(state, script, same_task=False)
    return _learned_action(main, learned, plan) if learned is not None else None


def _learned_action(main: str, learned: dict[str, Any], plan: str) -> ScaffoldAction:
    edit = {"script_name": main, "edit_instruction": learned["instruction"], "save_name": main}
    return ScaffoldAction(
        "Edit Script (AI)", edit, learned_thought(learned), plan, own_code=True, fragment=learned["fragment"]
    )
