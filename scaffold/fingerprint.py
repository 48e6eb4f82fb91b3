"""A task's fingerprint, read from its files: what the experience store compares to find alike tasks.

Names and kinds only, never a value: the tables' columns by kind (number, category, free text), the target and its
kind, the arrays' shapes, and the script's shape (how it reads its data and picks features, the classes it builds,
what it imports). Nothing here is keyed to a task: two tabular classification scripts that build a
LogisticRegression read alike, whatever their columns are called."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from budgetmlagent.scaffold.data_facts import column_kind, held_out_table, is_table, read_table, training_table
from budgetmlagent.scaffold.model_recipes import kind_of_target, target_of
from budgetmlagent.scaffold.script_shape import call_name, read_shape
from budgetmlagent.workspace.workspace import Workspace

COLUMNS_SHOWN = 40  # per kind: a wide table's fingerprint stays a few lines
SAMPLE_ROWS = 200  # rows read to tell a column's kind (never kept)


@dataclass(frozen=True)
class TaskPrint:
    """The fingerprint's parts as text (memory/experience_records.Fingerprint adds the problem and the metric)."""

    data: str
    script: str


def task_print(ws: Workspace, script: str | None) -> TaskPrint:
    """The data's and the script's shape in this workspace."""
    return TaskPrint(data=data_print(ws, script), script=script_print(ws, script))


def data_print(ws: Workspace, script: str | None) -> str:
    """The training table's columns by kind and its target; other data files by name pattern and shape."""
    files = ws.files()
    train, test = training_table(files), held_out_table(files)
    parts = []
    if train is not None:
        parts.append(_table_print(ws, train))
        if test is not None:
            parts.append("a test table without the target")
        shape = read_shape(ws, script) if script is not None else None
        target = target_of(shape) if shape is not None else None
        if shape is not None and target is not None:
            parts.append(f"target {target} ({kind_of_target(ws, shape, target) or 'kind unknown'})")
    others = sorted({_suffix(rel) for rel in files if rel not in (train, test) and _suffix(rel) != ".py"})
    if others:
        parts.append("other files: " + ", ".join(others))
    return "; ".join(parts) or "no data files"


def _table_print(ws: Workspace, rel: str) -> str:
    try:
        frame = read_table(ws.root / rel, nrows=SAMPLE_ROWS)
    except Exception:  # an unreadable table is named, not fatal
        return f"{rel}: unreadable"
    kinds: dict[str, list[str]] = {}
    for name, column in frame.items():
        kinds.setdefault(column_kind(column), []).append(str(name))
    groups = [
        f"{len(names)} {kind} ({', '.join(names[:COLUMNS_SHOWN])}{', ...' if len(names) > COLUMNS_SHOWN else ''})"
        for kind, names in sorted(kinds.items())
    ]
    return f"training table with {frame.shape[1]} columns: " + ", ".join(groups)


def _suffix(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    return "." + name.rsplit(".", 1)[-1].lower() if "." in name else name


def script_print(ws: Workspace, script: str | None) -> str:
    """How the script reads its data and picks features, the classes it builds and the modules it imports."""
    if script is None:
        return "no script"
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return "a script that does not parse"
    shape = read_shape(ws, script)
    parts = []
    if shape is not None and shape.reads:
        tables = [t for t in (shape.train_table, shape.test_table) if t is not None and is_table(t)]
        parts.append(f"reads {len(tables)} table(s)" + (f", features by {shape.mode}" if shape.mode else ""))
    classes = sorted({call_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)} - {""})
    built = [name for name in classes if name[:1].isupper()]
    if built:
        parts.append("builds " + ", ".join(built))
    modules = sorted(
        {alias.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
        | {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    )
    if modules:
        parts.append("imports " + ", ".join(modules))
    return "; ".join(parts) or "a script with no calls"
