"""A measured change as code that can be made again: its changed statements as a fragment, a short summary of its
diff, and whether the fragment fits another script (every name it reads exists there, in the script or the data).

The fragment is what scaffold/script_repair.merge_fragment merges by the names it assigns, as it merges a recipe's
code; it is kept only when merging it into the script before the change makes the script after it again."""

from __future__ import annotations

import ast
import difflib

from budgetmlagent.scaffold.code_facts import unknown_references
from budgetmlagent.scaffold.script_repair import merge_fragment, undefined_names
from budgetmlagent.workspace.workspace import Workspace

FRAGMENT_CHARS = 2000  # longer changes keep their instruction only
SUMMARY_LINES = 4
SUMMARY_CHARS = 300


def changed_fragment(before: str, after: str) -> str | None:
    """The statements of `after` that `before` lacks, in order, when they re-make the change; else None."""
    try:
        old, new = ast.parse(before), ast.parse(after)
    except SyntaxError:
        return None
    known = {ast.unparse(s) for s in old.body}
    changed = [ast.get_source_segment(after, s) or ast.unparse(s) for s in new.body if ast.unparse(s) not in known]
    fragment = "\n".join(changed)
    if not changed or len(fragment) > FRAGMENT_CHARS:
        return None
    remade = merge_fragment(before, fragment)
    # The same statements, in an order the merge chose: a run's best version merged whole put its fillna lines above
    # the split where the recipes had put them below; the change is measured again wherever it is made.
    return fragment if remade is not None and _statements(remade) == _statements(after) else None


def diff_summary(before: str, after: str) -> str:
    """`+a -r lines: <the first changed lines>`, a line or two a person (or a planner) reads at a glance."""
    lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    changed = [line for line in lines if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    added = sum(1 for line in changed if line.startswith("+"))
    shown = " | ".join(" ".join(line.split()) for line in changed[:SUMMARY_LINES])
    summary = f"+{added} -{len(changed) - added} lines: {shown}"
    return summary if len(summary) <= SUMMARY_CHARS else summary[: SUMMARY_CHARS - 3] + "..."


def fitted(ws: Workspace, script: str, fragment: str) -> str | None:
    """The script with the fragment merged in, when it fits: it merges, changes something, reads no column or file
    the data lacks, and reads no name the script does not define; None otherwise (its instruction may still be
    offered, for a model to adapt)."""
    merged = merge_fragment(script, fragment)
    if merged is None or _same_code(merged, script):
        return None
    if unknown_references(merged, ws) is not None:
        return None
    if set(undefined_names(merged)) - set(undefined_names(script)):
        return None
    return merged


def _statements(code: str) -> list[str]:
    return sorted(ast.unparse(s) for s in ast.parse(code).body)


def _same_code(a: str, b: str) -> bool:
    try:
        return ast.dump(ast.parse(a)) == ast.dump(ast.parse(b))
    except SyntaxError:
        return a == b
