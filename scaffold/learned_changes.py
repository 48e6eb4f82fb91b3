"""A measured change as code that can be made again: its changed statements as a fragment, a short summary of its
diff, and whether the fragment fits another script (every name it reads exists there, in the script or the data).

The fragment is what scaffold/script_repair.merge_fragment merges by the names it assigns, as it merges a recipe's
code; it is kept only when merging it into the script before the change makes the script after it again."""

from __future__ import annotations

import ast
import difflib
import re

from budgetmlagent.scaffold.code_facts import unknown_references, unused_columns
from budgetmlagent.scaffold.data_facts import all_data_columns
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
    # Imports alone change nothing: a swap whose model has another name here merged as its import only, and ames
    # measured it three times over.
    if merged is None or _same_code(_without_imports(merged), _without_imports(script)):
        return None
    if unknown_references(merged, ws) is not None:
        return None
    if set(undefined_names(merged)) - set(undefined_names(script)):
        return None
    return merged


def added_columns(ws: Workspace, before: str, fragment: str | None) -> dict[str, str]:
    """The columns a change brought in, with their kinds: those its fragment names that the script before it left
    unused (scaffold/code_facts.unused_columns). What lets another task's change be made with that task's own
    columns (`adapted`)."""
    if not fragment:
        return {}
    named = _string_constants(fragment)
    return {c: kind for kind, names in unused_columns(ws, before).items() for c in names if c in named}


def adapted(
    ws: Workspace,
    script: str,
    unused: dict[str, list[str]],
    change: tuple[str, str],
    added: dict[str, str],
    theirs: set[str],
) -> tuple[str, str] | None:
    """Another task's column change (its instruction and fragment) made with this workspace's columns: each column it
    brought in becomes a column of the same kind the script leaves unused (`unused`, code_facts.unused_columns of the
    script; in order, those without a partner left out), and a column list that also held the columns it kept becomes
    this script's list of the same name plus the new ones. (instruction, fragment), or None when the fragment names
    one of its task's columns any other way (a target, a group key)."""
    instruction, fragment = change
    mapping: dict[str, str] = {}
    for kind in dict.fromkeys(added.values()):
        partners = [c for c in unused.get(kind, []) if c not in mapping.values()]
        mapping |= dict(zip([c for c, k in added.items() if k == kind], partners, strict=False))
    if not mapping:
        return None
    try:
        tree, current = ast.parse(fragment), _column_lists(ast.parse(script))
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List) and _all_strings(node.value):
            names = [e.value for e in node.value.elts]  # type: ignore[attr-defined]
            if not set(names) & theirs:  # not a list of their columns
                continue
            kept = [n for n in names if n in theirs and n not in added]
            target = node.targets[0].id if isinstance(node.targets[0], ast.Name) else None
            if kept and target not in current:
                return None
            new = [*(current[target] if kept else []), *(mapping[n] for n in names if n in mapping)]
            node.value = ast.List([ast.Constant(n) for n in dict.fromkeys(new)], ast.Load())
    ours = all_data_columns(ws)
    if any(name in theirs and name not in ours for name in _string_constants(ast.unparse(tree))):
        return None  # one of their columns named outside a column list (a target, a group key)

    def named(names: list[str]) -> str:
        return "|".join(rf"(?<![\w.]){re.escape(n)}(?![\w])" for n in sorted(names, key=len, reverse=True))

    words = instruction
    dropped = [n for n in added if n not in mapping]
    if dropped:  # no partner here: out of the list it was in
        words = re.sub(rf",\s*(?:{named(dropped)})|(?:{named(dropped)}),\s*", "", words)
    words = re.sub(named(list(mapping)), lambda m: mapping[m.group(0)], words)
    return words, ast.unparse(tree)


def _column_lists(tree: ast.Module) -> dict[str, list[str]]:
    """The script's top-level `NAME = ["a", "b"]` lists."""
    found = {}
    for node in tree.body:
        simple = isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
        if simple and isinstance(node.value, ast.List) and _all_strings(node.value):  # type: ignore[attr-defined]
            found[node.targets[0].id] = [e.value for e in node.value.elts]  # type: ignore[attr-defined]
    return found


def _all_strings(node: ast.List) -> bool:
    return bool(node.elts) and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)


def _string_constants(code: str) -> set[str]:
    try:
        return {n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    except SyntaxError:
        return set()


def _statements(code: str) -> list[str]:
    return sorted(ast.unparse(s) for s in ast.parse(code).body)


def _without_imports(code: str) -> str:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code
    tree.body = [s for s in tree.body if not isinstance(s, ast.Import | ast.ImportFrom)]
    return ast.unparse(tree)


def code_key(code: str) -> str:
    """The same program whatever its layout and comments: two scripts with one key are one change."""
    try:
        return ast.dump(ast.parse(code))
    except SyntaxError:
        return code


def _same_code(a: str, b: str) -> bool:
    return code_key(a) == code_key(b)
