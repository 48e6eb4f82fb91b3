"""Code facts: what a script names, read from its syntax tree (data files, frame columns, string constants), and
what it would fail on in this workspace."""

from __future__ import annotations

import ast
import difflib
import re
from pathlib import Path

from budgetmlagent.scaffold.data_facts import (
    column_kind,
    data_columns_of,
    held_out_table,
    id_roles,
    is_table,
    read_table,
    training_table,
)
from budgetmlagent.scaffold.script_shape import TABLE_READERS, Shape, call_name, read_shape, subscript_keys
from budgetmlagent.workspace.workspace import Workspace

_READERS = TABLE_READERS | {"read_json", "read_feather", "load", "loadtxt", "genfromtxt"}


def unused_columns(ws: Workspace, code: str) -> dict[str, list[str]]:
    """Columns of the training table that the script never uses (nor the target, nor row keys), by kind: the first
    place a weak baseline leaves accuracy. Empty when the script names no column (it may use them all implicitly),
    or passes every column on (X = df.drop(columns=[target]) leaves out only what it drops)."""
    tables = [rel for rel in ws.files() if is_table(rel)]
    train = training_table(tables)
    if train is None:
        return {}
    columns = data_columns_of(ws.root / train)
    test = held_out_table(tables)
    kept = set(data_columns_of(ws.root / test)) if test is not None else set(columns)
    shape = read_shape(ws, code)
    left_out, numbers_only = _left_out(shape, code, columns)
    if shape is not None and shape.target is not None:
        kept.discard(shape.target)
    candidates = [c for c in columns if c in kept and (c in left_out or numbers_only)]
    roles = id_roles(ws.root / train, candidates) if candidates else {}
    unused = [c for c in candidates if roles.get(c) != "row key"]
    if not unused:
        return {}
    try:
        frame = read_table(ws.root / train, nrows=200, usecols=unused)
    except Exception:  # an unreadable table still has its header's names
        return {} if numbers_only else {"columns": unused}
    kinds: dict[str, list[str]] = {kind: [] for kind in ("number", "category", "free text")}
    for name in unused:
        kind = column_kind(frame[name])
        if name in left_out or kind != "number":  # select_dtypes("number") passes the number columns on
            kinds[kind].append(name)
    return {kind: names for kind, names in kinds.items() if names}


def _left_out(shape: Shape | None, code: str, columns: list[str]) -> tuple[set[str], bool]:
    """The training columns the script does not pass on, and whether it passes on only the number columns."""
    if shape is None:
        named = set(re.findall(r"[\"']([^\"'\n]+)[\"']", code))
        return (set(columns) - named if named & set(columns) else set()), False
    if shape.transformer is not None and shape.passthrough:
        return set(), False
    if shape.mode == "drop":
        drop = next(d for d in shape.drops if d.frame == shape.train)
        return set(drop.keys), drop.numbers_only
    named = {n.value for n in ast.walk(shape.tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return (set(columns) - named if named & set(columns) else set()), False


def unknown_references(code: str, ws: Workspace) -> str | None:
    """Why code would fail on names the data does not have: a data file that does not exist, or a column
    missing from the CSV a frame was read from. Conservative: frames reassigned later are not checked."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None  # the run reports it with a traceback
    files = set(ws.files())
    # The script's own `def load(name)` (reading DATA_DIR / name) is not numpy's load: its literal is no path.
    own = {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    missing_files: list[str] = []
    assigned: dict[str, int] = {}
    frames: dict[str, tuple[str, list[str]]] = {}
    lists: dict[str, list[str]] = {}
    created: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and call_name(node) in _READERS - _own_calls(node, own) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and "://" not in first.value:
                rel = Path(first.value).as_posix().removeprefix("./")
                if not Path(first.value).is_absolute() and rel not in files:
                    missing_files.append(first.value)
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        assigned[name.id] = assigned.get(name.id, 0) + 1
                    if isinstance(name, ast.Subscript):
                        created.update(subscript_keys(name.slice, lists))
            value = node.value
            if isinstance(node, ast.Assign) and len(targets) == 1 and isinstance(targets[0], ast.Name):
                if isinstance(value, ast.Call) and call_name(value) in TABLE_READERS and value.args:
                    source = value.args[0]
                    if isinstance(source, ast.Constant) and isinstance(source.value, str):
                        rel = Path(source.value).as_posix().removeprefix("./")
                        if rel in files and is_table(rel) and data_columns_of(ws.root / rel):
                            frames[targets[0].id] = (rel, data_columns_of(ws.root / rel))
                elif isinstance(value, ast.List | ast.Tuple):
                    lists[targets[0].id] = subscript_keys(value, {})
        if isinstance(node, ast.Call):  # columns made by assign(...) or rename(columns={...})
            created.update(k.arg for k in node.keywords if k.arg and call_name(node) == "assign")
            for k in node.keywords:
                if k.arg == "columns" and isinstance(k.value, ast.Dict):
                    created.update(v.value for v in k.value.values if isinstance(v, ast.Constant))
    problems: list[str] = []
    if missing_files:
        names = ", ".join(sorted(set(missing_files)))
        problems.append(f"it reads {names}, which does not exist (workspace files: {', '.join(sorted(files))})")
    unknown: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Subscript) or not isinstance(node.ctx, ast.Load):
            continue
        if not isinstance(node.value, ast.Name):
            continue
        var = node.value.id
        if var not in frames or assigned.get(var, 0) != 1:
            continue
        rel, columns = frames[var]
        for key in subscript_keys(node.slice, lists):
            if key not in columns and key not in created:
                unknown.setdefault(rel, set()).add(key)
    headers = dict(frames.values())  # each CSV's header, read once above
    for rel, keys in unknown.items():
        columns = headers[rel]
        hints = []
        for key in sorted(keys):
            close = difflib.get_close_matches(key, columns, n=1, cutoff=0.6)
            hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
        problems.append(f"{rel} has no column {', '.join(hints)}; its columns are: {', '.join(columns)}")
    return "; ".join(problems) if problems else None


def _own_calls(call: ast.Call, own: set[str]) -> set[str]:
    """The call's name when it calls a function the script defines itself (a bare name, not `np.load`)."""
    return {call.func.id} if isinstance(call.func, ast.Name) and call.func.id in own else set()
