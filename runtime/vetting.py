"""Vetting a code reply, shared by the coder and the debugger: the code taken from its fence, a segment spliced into
its script, the scaffold's repairs, the checks that keep a reply from running (names the data does not have, a
cut-off script), and, once the node accepts it, the write and its diff.

Here rather than in scaffold/ because the code is found in its fence with the reply parser's own rule (providers/)."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from budgetmlagent.providers.chat import code_blocks
from budgetmlagent.scaffold.code_facts import unknown_references
from budgetmlagent.scaffold.data_facts import all_data_columns
from budgetmlagent.scaffold.script_repair import lost_lines, repair_reply
from budgetmlagent.workspace.actions import bounded_diff
from budgetmlagent.workspace.workspace import Workspace

PROSE_LINES = 3
_LANGUAGE_TAGS = ("python", "python3", "py")


@dataclass(frozen=True)
class Vetted:
    """A code reply as it would be written, and what the checks found in it."""

    text: str  # the whole new file: the reply's code, spliced into the script for a segment, repaired
    repairs: list[str]  # one note per repair made, for the observation
    unknown: str | None  # why it would fail on names the data does not have (grounding checks)
    lost: str | None  # why it is a cut-off fragment rather than a whole script (validity checks)


def vet_code(
    reply: str,
    original: str,
    ws: Workspace,
    *,
    span: tuple[int, int] | None = None,
    repair: bool,
    ground: bool,
    whole: bool,
) -> Vetted:
    """The reply's code (lines `span` of `original` replaced by it, or the whole file), repaired when `repair`,
    checked for unknown names when `ground` and for lost lines when `whole`."""
    code = strip_fences(reply)
    if span is not None:
        lines = original.splitlines(keepends=True)
        code = "".join(lines[: span[0] - 1]) + code + "".join(lines[span[1] :])
    repairs: list[str] = []
    if repair:
        code, repairs = repair_reply(original, code, all_data_columns(ws), ws.root)
    unknown = unknown_references(code, ws) if ground else None
    lost = lost_lines(original, code) if whole else None
    return Vetted(code, repairs, unknown, lost)


def save_code(ws: Workspace, name: str, original: str, text: str) -> str:
    """Write the vetted text to `name`; returns the diff from `original`, for the observation."""
    ws.write_text(name, text)
    return bounded_diff(original, text, name)


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
