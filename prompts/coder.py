"""The coder's words: the edit prompt (data facts, the code to change, how an earlier try ended, the instruction, the
recipe's code shape, the form of the reply) and the observations an edit leaves for the planner. The last line of
the request and the recipe's shape are the debugger's too. Plain values in; nodes/coder.py decides which apply."""

from __future__ import annotations

from collections.abc import Sequence

# How much of an earlier failed attempt's observation (its end: the traceback) the coder sees on a retry.
FAILURE_CHARS = 1500


def edit_prompt(
    *,
    facts: str,
    script: str,
    target: str,
    span: tuple[int, int] | None,
    whole: str | None,
    lesson: str,
    pointed_at: str,
    instruction: str,
    shape: str,
    fenced: bool,
) -> str:
    """The edit request: `facts` about the data, the whole script for context (`whole`, when only lines `span` are to
    change), the code to change (`target`), how an earlier attempt ended, the instruction, the recipe's shape."""
    start, end = span or (0, 0)
    where = f"lines {start}-{end} of {script}" if span else script
    returned = "segment (only those lines)" if span else "script"
    return "\n\n".join(
        [
            facts,
            *([f"The whole current {script}, for context:\n{whole}"] if whole is not None else []),
            f"Current content of {where}:\n{target}",
            *([lesson] if lesson else []),
            f"{pointed_at}Edit instruction: {instruction}",
            *([shape] if shape else []),
            code_request(fenced, f"the complete new {returned}", "what you changed"),
        ]
    )


def pointed_at(start: int, end: int) -> str:
    """A segment edit of a short script, rewritten whole: the lines the planner named only say where to look."""
    return f"The change concerns lines {start}-{end} mainly; keep the rest working.\n"


def lesson(observation: str) -> str:
    """How an earlier attempt at the same edit ended (the end of its observation: the traceback)."""
    tail = observation[-FAILURE_CHARS:]
    return f"An earlier attempt at this edit failed; its outcome ended with:\n{tail}\nAvoid that mistake."


def code_request(fenced: bool, what: str, note: str) -> str:
    """The prompt's last line: what to return, and in which form the reply carries it."""
    if fenced:
        # Code first: asked for a sentence first, the 1.5B wrote the sentence and stopped.
        return f"Return {what} in one ```python block, then one sentence on {note}."
    return f"Return {what}."


def recipe_shape(name: str, pattern: str) -> str:
    """The code shape of the recipe an instruction asks for (scaffold/recipes.py)."""
    return (
        f"Code of the right shape for this change ({name}), to adapt to the script; every other line (imports, "
        f"data loading, the target, the split, the metric, the submission) stays:\n```python\n{pattern}\n```"
    )


# -- observations ------------------------------------------------------------------------------------------------

CHANGED_NOTHING = "The edit changed nothing; give a more specific instruction."


def edit_failed(error: str | None) -> str:
    return f"The edit failed: {error}"


def cut_off(lost: str) -> str:
    return f"The edit was not applied: {lost}. Return the complete script."


def not_applied(problem: str) -> str:
    return f"The edit was not applied: {problem}."


def not_saved(error: Exception) -> str:
    return f"The edit could not be saved: {error}"


def saved(name: str, diff: str, repairs: Sequence[str]) -> str:
    """A written edit: its diff, and a line per repair the scaffold made."""
    return f"The edited file is saved to {name}. Here is the diff:\n{diff}" + "".join(f"\n{note}" for note in repairs)


# The no-model baseline's coder (Context.recipes_only) found no recipe for the instruction.
NO_RECIPE_CODE = "no recipe's code fits this instruction, and no model is called to write one"
