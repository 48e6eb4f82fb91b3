"""The planner's words, in prompt order. The system prompt is its fixed part (persona, problem, goal, data briefing,
actions, reply format), first so the server's prefix cache reuses it; the situation prompt is the changing part
(progress, budget, plan, advice, earlier steps, the script, ready changes, the last steps, a rejected reply).
Plain values in; nodes/planner.py reads the state and decides which parts apply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from budgetmlagent.prompts import profiles
from budgetmlagent.prompts.history import OLDER_OBSERVATION_CHARS, RECENT_OBSERVATION_CHARS, render_step
from budgetmlagent.workspace.actions import render_tool_descriptions

# -- the fixed part ------------------------------------------------------------------------------------------------


def system_prompt(
    problem: str,
    metric: str,
    direction: str,
    briefing: str | None,
    actions: Sequence[str],
    reply_format: str = "short",
) -> str:
    """Persona, research problem, what success means, the data briefing (None: not shown), the actions, the format."""
    better = "higher" if direction == "higher" else "lower"
    return "\n\n".join(
        [
            profiles.PLANNER,
            "Research problem:\n" + problem.strip(),
            f"Success means the {metric} of the final submission is more than 10% better "
            f"({better} is better) than the baseline script's.",
            *([briefing] if briefing is not None else []),
            "Actions you can use (name and JSON input):\n" + render_tool_descriptions(list(actions)),
            profiles.PLANNER_FORMAT_SHORT if reply_format == "short" else profiles.PLANNER_FORMAT,
        ]
    )


# -- the changing part, in the order it is shown -----------------------------------------------------------------


def nothing_measured(metric: str) -> str:
    return f"The scripts print their validation {metric}; no value has been measured yet."


def validation_progress(metric: str, baseline: float, best: float, step: int, gain: float) -> str:
    """Where the measured validation metric stands (the hidden test score of the agent's work is never shown):
    `best` was measured at `step` (0: the baseline), `gain` is its improvement over the baseline."""
    where = "the baseline itself" if step == 0 else f"step {step}"
    return (
        f"Validation {metric}: baseline {baseline:.6g}; best so far {best:.6g} ({where}, {gain:+.1%}). "
        f"The goal needs more than +10%."
    )


def score_progress(metric: str, baseline: float | None) -> str:
    """For tasks whose scripts print no validation metric: the baseline's score."""
    if baseline is not None:
        return f"Baseline {metric} of the original script: {baseline:.4g}."
    return f"The baseline {metric} is unknown."


def budget_line(step: int, max_steps: int, lifelines: int) -> str:
    return f"Step {step} of {max_steps}. Lifelines (Ask Expert) left: {lifelines}."


def edits_line(edits: int, dirty: Sequence[str]) -> str:
    line = f"Edits made so far: {edits}."
    if dirty:
        line += f" Changed but not yet run successfully: {', '.join(dirty)}."
    return line


def plan_so_far(plan: str) -> str:
    return "Your research plan and status so far:\n" + plan


def expert_advice(advice: str) -> str:
    return "Advice from the expert:\n" + advice


def earlier_steps(found: Sequence[str]) -> str:
    """Older steps retrieved from memory, one line each."""
    return "Relevant earlier steps:\n" + "\n".join(found)


def script_listing(name: str | None, text: str) -> str:
    """The task's script as it is now, numbered."""
    lines = text.splitlines()
    numbered = "\n".join(f"{i}: {line}" for i, line in enumerate(lines, 1))
    return f"The current {name} ({len(lines)} lines):\n{numbered}"


UNUSED_SHOWN = 15
_KIND_NOTES = {
    "number": "numbers",
    "category": "text categories: encode them",
    "free text": "mostly distinct text values",
}


def unused_columns(script: str | None, kinds: Mapping[str, Sequence[str]]) -> str:
    """Facts, not advice: the planners asked to 'add more features' without naming one, then named every column
    (free-text names and tickets too); naming the unused columns by kind turns that into an instruction that works."""
    groups = []
    for kind, names in kinds.items():
        shown = ", ".join(names[:UNUSED_SHOWN]) + (
            f" and {len(names) - UNUSED_SHOWN} more" if len(names) > UNUSED_SHOWN else ""
        )
        note = _KIND_NOTES.get(kind, "")
        groups.append(f"{shown} ({note})" if note else shown)
    return f"Columns of the training data that {script} does not use yet: {'; '.join(groups)}."


def ready_changes(script: str | None, instructions: Sequence[str]) -> str:
    """Ready edit instructions (scaffold/recipes.py): the planners knew the idea but worded it vaguely ("add more
    features"), and their coders broke it."""
    listed = "\n".join(f"- {instruction}" for instruction in instructions)
    return (
        f"Changes that usually lift a baseline like this one: each is a ready edit_instruction for {script} "
        f"(Edit Script (AI)); use one word for word, or write your own:\n{listed}"
    )


def learned_changes(script: str | None, offers: Sequence[tuple[str, float, str]]) -> str:
    """Changes earlier runs measured a gain with (runtime/experience.py): (instruction, effect, where), where is
    "this task" or another task's name; learned, beside the hand-written ready changes."""
    listed = "\n".join(f"- {instruction} (measured {effect:+.1%} on {where})" for instruction, effect, where in offers)
    return (
        f"Changes that lifted the validation metric in earlier runs on this or similar tasks (learned; each a ready "
        f"edit_instruction for {script}, its gain there in brackets):\n{listed}"
    )


def learned_warnings(warnings: Sequence[tuple[str, str]]) -> str:
    """Changes earlier runs on similar tasks saw break the script or lower the metric: (instruction, what happened)."""
    listed = "\n".join(f"- {instruction} ({what})" for instruction, what in warnings)
    return f"Changes that broke the script or lowered the metric in earlier runs on similar tasks (avoid):\n{listed}"


def learned_warning_outcome(ran: bool, effect: float | None, error: str | None) -> str:
    if not ran:
        return "failed" + (f": {error[:90]}" if error else "")
    return f"measured {effect:+.1%}" if effect is not None else "measured nothing"


TRIED_SHOWN = 10  # the latest edits in the table of tried changes
TRIED_INSTRUCTION_CHARS = 110


def tried_changes(rows: Sequence[tuple[int, str, str]]) -> str:
    """Every edit so far and what it measured, one line each (step, instruction, outcome): so that no step is spent
    on a change already made or already refused."""
    lines = []
    for step, instruction, outcome in rows[-TRIED_SHOWN:]:
        said = " ".join(instruction.split())
        if len(said) > TRIED_INSTRUCTION_CHARS:
            said = said[: TRIED_INSTRUCTION_CHARS - 3] + "..."
        lines.append(f"- step {step}: {said} -> {outcome}")
    return "Changes tried so far (do not repeat one; build on the best):\n" + "\n".join(lines)


def tried_outcome(ok: bool, observation: str, measured: float | None, best: bool, metric: str) -> str:
    if not ok:
        last = next((line.strip() for line in reversed(observation.splitlines()) if line.strip()), "")
        return "failed" + (f": {last[:90]}" if last else "")
    if measured is None:
        return "ran, measured nothing"
    return f"validation {metric} {measured:.6g}" + (", the best so far" if best else "")


def last_steps(recent: Sequence[Mapping[str, Any]], listing: str | None = None) -> str:
    """The most recent steps verbatim: the last one's observation at length, the others' in brief; with `listing`
    (the script shown above), without the diffs it repeats."""
    rendered = [
        render_step(s, RECENT_OBSERVATION_CHARS if s is recent[-1] else OLDER_OBSERVATION_CHARS, listing)
        for s in recent
    ]
    return "Your last steps:\n" + "\n\n".join(rendered)


def first_step(script_shown: bool, changes_offered: bool) -> str:
    """What to do on the first step: with the data and the script shown, edit; otherwise look around first."""
    if not script_shown:
        return "This is your first step. Start by looking at the files in the workspace."
    return (
        "This is your first step. The data files and the script are shown above: choose one concrete change "
        "likely to improve the metric ("
        + (
            "one of the ready changes above"
            if changes_offered
            else "for example a useful column the script leaves out, or a stronger model"
        )
        + ") and edit the script; an edited script runs automatically."
    )


def rejected(error: str) -> str:
    return "Your previous reply was rejected:\n" + error + "\nChoose a valid action."


# A step the scaffold takes itself (a starter that does not run or prints no hold-out metric): its record reads like
# a planner's, so the planners that follow see why it was made.
FIRST_CHANGE_PLAN = "1. Make the script run end to end and print its validation metric. 2. Then improve the model."


# Added to the starter's change when its first try ran but printed no line the scaffold can read.
STARTER_RETRY = " The last try ran but printed no such line: add exactly that print, with that label."


def first_change_done(script: str, metric: str, step: int, value: float) -> str:
    return (
        f"1. Done at step {step}: {script} runs and prints validation {metric} {value:.6g}; it is the reference "
        f"point. 2. Now: improve it, one measured change at a time (a ready change, or your own)."
    )


def first_change_thought(script: str) -> str:
    return f"{script} must run and print a validation metric before any change can be measured."


# -- the recipes, taken by the scaffold as their own code (recipes first; the no-model baseline) ----------------------

RECIPES_PLAN = "1. Try each ready recipe as its own code; keep a version only if it measures better. 2. Then improve."
RECIPE_THOUGHT_PREFIX = "Recipe taken without a model: "
# A change an earlier run measured a gain with, taken as its own code (runtime/experience.py): "<prefix><record id>".
LEARNED_THOUGHT_PREFIX = "Learned change taken without a model: record "
RECIPES_ONLY_UNMEASURED = (
    "No model is called and no run has printed a validation metric to keep the best by: the starter is the answer."
)
RECIPES_DONE = "No model is called and every offered recipe has been tried: the best measured version is the answer."
RECIPE_REVERT = "The last recipe measured no better than the best version (or broke the script)."


def recipe_thought(name: str) -> str:
    return RECIPE_THOUGHT_PREFIX + name


# -- the expert, consulted by the scaffold when the run stalls -------------------------------------------------------

STALL_THOUGHT = "No step has improved on the best version for a while: a lifeline buys the expert's advice."


def stall_question(metric: str, best: float, step: int, waited: int, script: str | None) -> str:
    at = "the baseline" if step == 0 else f"step {step}"
    where = f" to {script}" if script else ""
    return (
        f"The last {waited} steps found nothing better than validation {metric} {best:.6g} ({at}). Which one "
        f"concrete change{where} should be tried next (a feature, a model, a hyper-parameter or the training "
        "length), and why is it likely to help here?"
    )
