"""Fixes read off a traceback: errors whose cause and cure an ML engineer sees at a glance, made without a model.

The debugger tries these before its model call. A 1.5B coder one-hot encoded the training features but not the test
features; sklearn refused to predict ("The feature names should match those that were passed during fit") and two
1.5B fix attempts (86 s) failed to align them. The fix is one line, and it is only made where the error message
itself shows the cause: every fit-time name it lists is a dummy column of a text column it lists as unseen.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_MISMATCH = "The feature names should match those that were passed during fit"
_PREDICTORS = frozenset({"predict", "predict_proba", "predict_log_proba", "decision_function", "score", "transform"})


@dataclass(frozen=True)
class KnownFix:
    code: str
    diagnosis: str


def known_fix(code: str, traceback: str, script: str) -> KnownFix | None:
    """The fixed script and what was wrong, when the traceback shows a known error in `script`; else None."""
    if _MISMATCH in traceback:
        return _align_dummy_columns(code, traceback, script)
    return None


def _align_dummy_columns(code: str, traceback: str, script: str) -> KnownFix | None:
    """`X = pd.get_dummies(X).reindex(columns=model.feature_names_in_, fill_value=0)` before the failing
    `model.predict(X)`, when the frame reaching it has raw text columns where the model was fit on their dummies."""
    unseen, missing = _listed(traceback, "unseen at fit time"), _listed(traceback, "yet now missing")
    if not unseen or not missing or not all(any(m.startswith(u + "_") for u in unseen) for m in missing):
        return None
    line = _failing_line(traceback, script)
    lines = code.splitlines(keepends=True)
    if line is None or not 1 <= line <= len(lines):
        return None
    call = _predict_call(lines[line - 1].strip())
    if call is None:
        return None
    model, frame = call
    indent = lines[line - 1][: len(lines[line - 1]) - len(lines[line - 1].lstrip())]
    fixed = f"{indent}{frame} = pd.get_dummies({frame}).reindex(columns={model}.feature_names_in_, fill_value=0)\n"
    if not re.search(r"^\s*import pandas as pd\b", code, re.MULTILINE):
        fixed = f"{indent}import pandas as pd\n{fixed}"
    new = "".join(lines[: line - 1]) + fixed + "".join(lines[line - 1 :])
    return KnownFix(
        new,
        f"{frame} reached {model} with raw text columns where {model} was fit on their one-hot columns; line {line} "
        f"now encodes {frame} the same way and aligns it to the fitted columns",
    )


def _listed(traceback: str, heading: str) -> list[str]:
    """The names sklearn lists under a heading of its mismatch message ("- name" lines; "- ..." ends the list)."""
    match = re.search(rf"{heading}:\n((?:- .*\n?)+)", traceback)
    if match is None:
        return []
    names = [line[2:].strip() for line in match.group(1).splitlines()]
    return [n for n in names if n and n != "..."]


def _failing_line(traceback: str, script: str) -> int | None:
    """The line of `script` the traceback's innermost frame in it points at."""
    found = re.findall(rf'File "[^"]*\b{re.escape(script)}", line (\d+)', traceback)
    return int(found[-1]) if found else None


def _predict_call(statement: str) -> tuple[str, str] | None:
    """(model, frame) of a `model.predict(frame)`-like call on a line, both plain names."""
    try:
        tree = ast.parse(statement)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _PREDICTORS
            and isinstance(node.func.value, ast.Name)
            and node.args
            and isinstance(node.args[0], ast.Name)
        ):
            return node.func.value.id, node.args[0].id
    return None
