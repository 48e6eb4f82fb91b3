"""The planner's reply checks: what the reply grammar cannot say about the world (files exist, ranges fit, Final
Answer is earned, claims are backed, an edit is new and concrete), each with the error text the planner reads on
its retry, and the two repairs made instead of a rejection (save name, line range). Plain values in, no state."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from budgetmlagent.workspace.actions import EDIT_ACTIONS, LOOK_ACTIONS, validate_action
from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.workspace import Workspace

# Scripts up to this many lines are rewritten whole (a 1.5B model returns ~150 lines well within its reply cap).
WHOLE_FILE_LINES = 150
# A one-word instruction ("Add,", "Improve") cannot say what to change.
MIN_INSTRUCTION_WORDS = 2

Steps = Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class Metric:
    """What a claim of progress is checked against: the task's validation metric, and whether a run beat it."""

    name: str
    direction: str
    baseline: float | None
    improved: bool


def check_reply(
    ws: Workspace,
    action: str,
    args: dict[str, Any],
    steps: Steps,
    *,
    edits_made: int,
    dirty_scripts: Sequence[str],
    main_script: str | None,
    validity: bool,
    briefing: bool,
    said: str = "",
    metric: Metric | None = None,
) -> str | None:
    """The first world check the reply fails, as the planner's feedback; None when it passes them all.

    `said`: the reply's reflection and thought, checked for claims of progress when `metric` is given (the task
    prints a validation metric and the validity checks are on)."""
    _, error = validate_action(ws, action, args)
    if error is not None:
        return error
    if steps and (steps[-1]["action"], steps[-1]["action_input"]) == (action, args):
        # Same input, same world: a look repeats its observation, a failure repeats its failure.
        if action in LOOK_ACTIONS:
            return (
                f"{action} with the same input was your last step; its observation is above and nothing has "
                "changed since. Use what you learned: for example edit the script to try an improvement."
            )
        if not steps[-1]["ok"] and not (action in EDIT_ACTIONS and validity):  # see edit_already_made
            return (
                f"{action} with the same input failed in your last step (see its observation above). "
                "Do something different: change the input, or choose another action."
            )
    if action == "Final Answer":
        if edits_made == 0:
            return (
                "Final Answer rejected: nothing has been changed yet, so the baseline cannot have "
                "improved. Edit the training script to try a better model, then run it."
            )
        if dirty_scripts:
            names = ", ".join(dirty_scripts)
            return f"Final Answer rejected: {names} changed since it last ran successfully. Run it first."
    if validity:
        bad_edit = (
            edit_of_missing_script(ws, main_script, action, args)
            or vague_edit(action, args)
            or edit_already_made(steps, action, args)
            or (inspect_of_shown_script(ws, main_script, action, args) if briefing else None)
        )
        if bad_edit is not None:
            return bad_edit
    if metric is not None:
        return unbacked_claim(action, said, metric)
    return None


def main_script_text(ws: Workspace, name: str | None) -> str | None:
    """The task's main script as it is now; None when there is none or it cannot be read."""
    if not name or not (ws.root / name).is_file():
        return None
    try:
        return ws.read_text(name)
    except (OSError, UnicodeDecodeError, ActionInputError):
        return None


def shown_whole(text: str | None) -> bool:
    """Whether a script is short enough for the planner's prompt to show it whole, numbered."""
    return text is not None and len(text.splitlines()) <= WHOLE_FILE_LINES


def inspect_of_shown_script(ws: Workspace, main_script: str | None, action: str, args: dict[str, Any]) -> str | None:
    """The briefing shows the whole main script every step; inspecting it again spends a step to learn nothing."""
    if (
        action != "Inspect Script Lines"
        or args.get("script_name") != main_script
        or not shown_whole(main_script_text(ws, main_script))
    ):
        return None
    return (
        f"{main_script} is shown whole above, with line numbers, under 'The current {main_script}'; nothing more to "
        "inspect. Use it: edit the script to try one concrete improvement."
    )


def edit_of_missing_script(ws: Workspace, main_script: str | None, action: str, args: dict[str, Any]) -> str | None:
    """MLAgentBench lets an edit create a script from nothing; small models then write a whole program from a one-line
    instruction (the 1.5B ran to its token cap on 'train.py_modified'). Variants start from a copy instead."""
    script = str(args.get("script_name", ""))
    if action not in EDIT_ACTIONS or (ws.root / script).is_file():
        return None
    main = main_script or "train.py"
    return (
        f"{script!r} does not exist, so there is nothing to edit. Edit an existing script such as {main!r} "
        f"(save_name may be a new name), or Copy File first."
    )


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


def edit_key(args: Mapping[str, Any]) -> tuple[str, str]:
    """An edit's identity: its script and its instruction, case and spacing aside."""
    return str(args.get("script_name")), " ".join(str(args.get("edit_instruction", "")).split()).lower()


def earlier_edits(steps: Steps, args: Mapping[str, Any]) -> list[Any]:
    """Earlier steps that gave the same edit instruction for the same script."""
    key = edit_key(args)
    return [s for s in steps if s["action"] in EDIT_ACTIONS and edit_key(s["action_input"]) == key]


def edit_already_made(steps: Steps, action: str, args: dict[str, Any]) -> str | None:
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


def _against(claim: str, direction: str) -> bool:
    """Words that describe a change the wrong way for this metric are not claims of progress: 'the accuracy is lower
    than we need' was rejected as a boast in a real run."""
    return any(word in claim.lower() for word in _WORSE_WORDS[direction])


def unbacked_claim(action: str, said: str, metric: Metric) -> str | None:
    """Final Answer and claims of improvement need a measured validation metric better than the baseline's."""
    if metric.improved:
        return None
    shown = "unknown" if metric.baseline is None else f"{metric.baseline:.6g}"
    if action == "Final Answer":
        return (
            f"Final Answer rejected: no run has measured a validation {metric.name} better than the baseline's "
            f"({shown}). Keep improving the script and run it."
        )
    claim = next((m for m in _CLAIM.finditer(said) if not _against(m.group(0), metric.direction)), None)
    if claim is not None:
        return (
            f"Your reply claims progress ({claim.group(0)!r}) but no run has measured a validation {metric.name} "
            f"better than the baseline's ({shown}). State only what observations show, then choose an action."
        )
    return None


def save_name_repair(action: str, args: Mapping[str, Any]) -> str | None:
    """The name an edit is saved under instead of its save_name, or None to keep it. An edited script saved under
    another kind of name cannot run and may clobber an output (the 0.5B planner saved train.py's edits as
    submission.csv, the file the scorer reads, and as train.py_modified). Rejecting it cost three 0.5B retries a
    step; the edit is saved in place instead, which the best snapshot makes safe."""
    if action not in EDIT_ACTIONS:
        return None
    script, save_name = str(args["script_name"]), str(args["save_name"])
    if PurePosixPath(script).suffix == PurePosixPath(save_name).suffix:
        return None
    return script


_SCRIPT_ACTIONS = frozenset({*EDIT_ACTIONS, "Inspect Script Lines", "Execute Script", "Undo Edit Script"})


def script_name_repair(ws: Workspace, action: str, args: Mapping[str, Any], main: str | None) -> str | None:
    """The main script, for an action on a script that does not exist but is named after a function, class or
    variable the main script defines, or None to keep the name. Both planners of a ratings task asked to edit
    `item_mean_model.py`, the name of a function inside train.py, seven steps running, each one rejected."""
    script = str(args.get("script_name", ""))
    if action not in _SCRIPT_ACTIONS or not main or not script or script == main or (ws.root / script).exists():
        return None
    try:
        tree = ast.parse(ws.read_text(main))
    except (OSError, UnicodeDecodeError, ActionInputError, SyntaxError, ValueError):
        return None
    defined = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)}
    defined |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return main if PurePosixPath(script).stem in defined else None


def line_range_repair(ws: Workspace, action: str, args: Mapping[str, Any]) -> tuple[int, int] | None:
    """The lines a segment edit is clamped to, or None to keep them. A short script is rewritten whole, so a segment
    edit's lines only say where to look: lines past the end (the planners asked for lines 27-40 of a 26-line
    train.py for a whole run) are clamped instead of rejected."""
    if action != "Edit Script Segment (AI)":
        return None
    try:  # through the workspace: a name leading outside it is refused there, and rejected later as usual
        length = len(ws.read_text(str(args["script_name"])).splitlines())
    except (OSError, UnicodeDecodeError, ActionInputError):
        return None
    start, end = int(args["start_line_number"]), int(args["end_line_number"])
    if not 0 < length <= WHOLE_FILE_LINES or (1 <= start <= end <= length):
        return None
    start = min(max(start, 1), length)
    return start, min(max(end, start), length)
