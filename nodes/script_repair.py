"""Restores what a small coder dropped: definitions a rewritten script still uses but no longer makes.

A 1.5B coder asked to splice a block into a 26-line script returned it without `y = train["survived"]` (and, in
other samples, without the data loading): the run then died on a NameError the debugger rarely fixed. Putting the
original line back before its first use is exact, costs no model call, and leaves every intended change alone.
"""

from __future__ import annotations

import ast
import builtins

_ALWAYS_BOUND = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__builtins__", "__spec__"}
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_RESTORABLE = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)


def _bound_by(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement binds (assignments, imports, loop and with targets, definitions, handlers)."""
    names: set[str] = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.ExceptHandler) and node.name:
            names.add(node.name)
    return names


def _loaded_by(stmt: ast.stmt) -> set[str]:
    """Names a top-level statement reads when it runs (not inside function or class bodies, which run later)."""
    names: set[str] = set()
    pending: list[ast.AST] = [stmt]
    while pending:
        node = pending.pop()
        if isinstance(node, _SCOPES):
            pending.extend(getattr(node, "decorator_list", []))  # decorators run now, bodies later
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names


def _has_star_import(tree: ast.Module) -> bool:
    return any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names) for n in ast.walk(tree))


def undefined_names(code: str) -> dict[str, int]:
    """Name -> index of the first top-level statement that reads it before anything binds it. Conservative: a
    script that does not parse or star-imports reports nothing (the run will tell)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return {}
    if _has_star_import(tree):
        return {}
    bound: set[str] = set(_ALWAYS_BOUND)
    missing: dict[str, int] = {}
    for index, stmt in enumerate(tree.body):
        made = _bound_by(stmt)
        for name in _loaded_by(stmt) - bound - made:
            missing.setdefault(name, index)
        bound |= made
    return missing


def restore_lost_definitions(original: str, new: str) -> tuple[str, list[str]]:
    """`new` with the original's top-level assignments and imports of names it reads but never binds put back before
    their first use, together with the original lines those need (`import pandas as pd` before `train =
    pd.read_csv(...)`); also the restored lines, for the observation. A name the original cannot make whole stays
    missing, for the run and the debugger to report."""
    missing = undefined_names(new)
    if not missing:
        return new, []
    try:
        old_tree, new_tree = ast.parse(original), ast.parse(new)
    except SyntaxError:
        return new, []
    definers: dict[str, ast.stmt] = {}
    for stmt in old_tree.body:
        if isinstance(stmt, _RESTORABLE):
            for name in _bound_by(stmt):
                definers.setdefault(name, stmt)
    bound_before: list[set[str]] = []
    bound: set[str] = set(_ALWAYS_BOUND)
    for stmt in new_tree.body:
        bound_before.append(set(bound))
        bound |= _bound_by(stmt)
    insertions: dict[int, list[ast.stmt]] = {}  # statement index in `new` -> original statements to put before it
    placed: list[ast.stmt] = []  # missing names are visited in order of first use, so earlier insertions count
    for name, index in sorted(missing.items(), key=lambda item: item[1]):
        available = bound_before[index].union(*(_bound_by(s) for s in placed))
        for stmt in _definition_chain(name, available, definers, depth=0) or []:
            if stmt not in placed:
                placed.append(stmt)
                insertions.setdefault(index, []).append(stmt)
    restored = [s for index in sorted(insertions) for s in sorted(insertions[index], key=lambda s: s.lineno)]
    if not restored:
        return new, []
    lines = new.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for index in sorted(insertions, reverse=True):
        at = new_tree.body[index].lineno - 1
        decorators = getattr(new_tree.body[index], "decorator_list", [])
        at = min([at, *(d.lineno - 1 for d in decorators)])
        texts = [ast.get_source_segment(original, s) or "" for s in sorted(insertions[index], key=lambda s: s.lineno)]
        lines[at:at] = [text + "\n" for text in texts]
    return "".join(lines), [ast.get_source_segment(original, s) or "" for s in restored]


MAX_CHAIN = 6


def _definition_chain(name: str, bound: set[str], definers: dict[str, ast.stmt], depth: int) -> list[ast.stmt] | None:
    """The original statements that make `name` given what is `bound`, inputs first; None when one cannot be made."""
    stmt = definers.get(name)
    if stmt is None or depth > MAX_CHAIN:
        return None
    chain: list[ast.stmt] = []
    made = set(bound)
    for needed in sorted(_loaded_by(stmt) - bound - _bound_by(stmt)):
        if needed in made:
            continue
        inputs = _definition_chain(needed, made, definers, depth + 1)
        if inputs is None:
            return None
        for s in inputs:
            if s not in chain:
                chain.append(s)
                made |= _bound_by(s)
    return [*chain, stmt]
