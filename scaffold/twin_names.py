"""Defines a name a script reads but never makes the way the script makes its twin: `train_mae` like `valid_mae`.

Skeleton starters ask for pairs (MLAgentBench's "populate train_mae and valid_mae", "train_accuracy and
val_accuracy"), and a 1.5B coder wrote one of the pair and not the other; three debugger replies to the NameError
did not add it. Names that differ in one word (train/valid, Train/Val) are twins; the twin's assignment with that
word swapped in every name it reads is exact when those names exist, and costs no model call.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection

_WORD = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def words(name: str) -> list[str]:
    """`valid_mae` -> [valid, mae]; `validAcc` -> [valid, Acc]."""
    return _WORD.findall(name)


def _swap(twin: str, wanted: str) -> tuple[str, str] | None:
    """The one word that differs between two names of the same shape, as (twin's word, wanted's word)."""
    a, b = words(twin), words(wanted)
    if len(a) != len(b) or len(a) < 2:
        return None
    differ = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return differ[0] if len(differ) == 1 else None


def _renamed(name: str, old: str, new: str) -> str:
    parts = words(name)
    if old not in parts:
        return name
    out, rest = [], name
    for part in parts:  # keep the separators between words as they are
        at = rest.index(part)
        out.append(rest[:at] + (new if part == old else part))
        rest = rest[at + len(part) :]
    return "".join(out) + rest


def define_by_twins(code: str, missing: Collection[str]) -> tuple[str, list[str]]:
    """`code` with each missing top-level name defined right after its twin's assignment; also the lines added."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, []
    inserts: list[tuple[int, str, str]] = []  # (line after which, indentation, new line)
    wanted = set(missing)
    bound: set[str] = set()  # names bound by the statements so far, so the new line only reads what exists
    for stmt in tree.body:
        bound |= _bound_by(stmt)
        for name in sorted(wanted):
            line = _twin_line(stmt, name, bound)
            if line is not None:
                inserts.append((stmt.end_lineno or stmt.lineno, " " * stmt.col_offset, line))
                wanted.discard(name)
                bound.add(name)
    if not inserts:
        return code, []
    lines = code.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for after, indent, line in sorted(inserts, key=lambda item: item[0], reverse=True):
        lines[after:after] = [f"{indent}{line}\n"]
    return "".join(lines), [line for _, _, line in inserts]


def _bound_by(stmt: ast.stmt) -> set[str]:
    names = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    for node in ast.walk(stmt):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _twin_line(stmt: ast.stmt, name: str, bound: set[str]) -> str | None:
    """`name = <the twin's value, word swapped>` when `stmt` assigns a twin of `name` from names that swap to
    existing ones; None otherwise."""
    if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name)):
        return None
    swap = _swap(stmt.targets[0].id, name)
    if swap is None:
        return None
    old, new = swap
    value = ast.parse(ast.unparse(stmt.value), mode="eval")  # a copy to rewrite
    changed = False
    for node in ast.walk(value):
        if isinstance(node, ast.Name) and old in words(node.id):
            renamed = _renamed(node.id, old, new)
            if renamed not in bound:
                return None
            node.id, changed = renamed, True
    return f"{name} = {ast.unparse(value.body)}" if changed else None
