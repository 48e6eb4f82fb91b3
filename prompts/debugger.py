"""The debugger's words: the fix prompt (data facts, the script, the error, what such an error usually means, the
edit's intended shape, the attempt's number and the form of the reply) and the notes a fix attempt adds to the
step's observation. Plain values in; nodes/debugger.py decides which parts apply."""

from __future__ import annotations

import re
from collections.abc import Sequence

from budgetmlagent.prompts.coder import code_request

# How much of the traceback (its end) the debugger sees.
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


def fix_prompt(
    *, facts: str, script: str, code: str, error: str, hints: Sequence[str], shape: str, attempt: int, fenced: bool
) -> str:
    """The fix request: `facts` about the data, the failing script, its error, hints for it, the recipe's shape."""
    return "\n\n".join(
        [
            facts,
            f"Script {script}:\n{code}",
            f"Running it failed with:\n{error}",
            *(["What this error usually means: " + " ".join(hints)] if hints else []),
            *([shape] if shape else []),
            f"This is fix attempt {attempt}. " + code_request(fenced, "the complete corrected script", "the cause"),
        ]
    )


# -- notes added to the step's observation -------------------------------------------------------------------------

UNCHANGED = "it returned the script unchanged"


def unreadable(script: str, error: Exception) -> str:
    return f"\n\nThe debugger cannot read {script}: {error}"


def not_applied(problem: str) -> str:
    return f"the fix was not applied: {problem}"


def attempt_failed(attempt: int, why: str | None) -> str:
    return f"\n\nDebugger attempt {attempt} failed: {why}."


def attempt_applied(attempt: int, diagnosis: str, script: str, diff: str, repairs: Sequence[str]) -> str:
    """A written fix: the model's diagnosis if it gave one, the diff, and a line per repair the scaffold made."""
    said = f" ({diagnosis})" if diagnosis else ""  # a fenced reply may have none
    note = f"\n\nDebugger attempt {attempt}{said} changed {script}:\n{diff}"
    return note + "".join(f"\n{line}" for line in repairs)
