"""The workspace and data facts nodes ground their prompts in."""

from __future__ import annotations

import ast
import csv
import difflib
import importlib.util
import re
from pathlib import Path
from typing import Any

from budgetmlagent.graph.state import State
from budgetmlagent.workspace.task import SandboxConfig
from budgetmlagent.workspace.workspace import Workspace

# Packages the grounding line names; the coder may only import what is really installed.
_KNOWN_PACKAGES = ("numpy", "pandas", "sklearn", "scipy", "torch", "xgboost", "lightgbm", "catboost")


def workspace_of(state: State) -> Workspace:
    """The run's workspace with its task's read-only files, hidden scripts/ and sandbox limits."""
    task = state["task"]
    return Workspace(
        Path(task["workspace"]),
        task["read_only"],
        private_paths=[task["scripts_dir"]],
        sandbox=SandboxConfig(**(task.get("sandbox") or {})),  # runs checkpointed before limits existed have none
    )


def installed_packages() -> list[str]:
    return [name for name in _KNOWN_PACKAGES if importlib.util.find_spec(name) is not None]


def data_columns(ws: Workspace, limit: int = 6) -> list[str]:
    """`file: col1, col2, ...` for the CSV files in the workspace (small models invent columns)."""
    out = []
    for rel in ws.files():
        if rel.endswith(".csv") and len(out) < limit:
            out.append(f"{rel}: {', '.join(data_columns_of(ws.root / rel))}")
    return out


def grounding(ws: Workspace) -> str:
    """Facts that keep generated code honest: real column names and installed packages."""
    lines = ["Data files and their columns:", *data_columns(ws)]
    lines.append("Installed packages you may import: " + ", ".join(installed_packages()) + ".")
    return "\n".join(lines)


SCHEMA_CHARS = 2400
_READERS = {"read_csv", "read_table", "read_parquet", "read_json", "read_feather", "load", "loadtxt", "genfromtxt"}


def _csv_summary(path: Path, rel: str, example_rows: int = 2) -> str:
    import pandas as pd

    frame = pd.read_csv(path, nrows=200)
    columns = ", ".join(f"{name} ({dtype})" for name, dtype in frame.dtypes.astype(str).items())
    lines = [f"{rel}: columns {columns}", *_column_notes(frame)]  # notes before rows: a wide table's cut takes rows
    for _, row in frame.head(example_rows).iterrows():
        values = ", ".join(f"{k}={str(v)[:25]}" for k, v in row.items())
        lines.append(f"  e.g. {values[:400]}")
    return "\n".join(lines)


CATEGORY_VALUES = 8


def _column_notes(frame: Any) -> list[str]:
    """Text columns and missing values, which small coders forget: fillna(median) over a frame holding a text
    column crashed a titanic run, and three debugger attempts did not find why."""
    text = []
    for name, column in frame.items():
        if column_kind(column) == "number":
            continue
        values = [str(v)[:20] for v in column.dropna().unique()]
        shown = "|".join(values) if len(values) <= CATEGORY_VALUES else f"{len(values)}+ distinct values"
        text.append(f"{name} ({shown})")
    missing = [f"{name} {column.isna().mean():.0%}" for name, column in frame.items() if column.isna().any()]
    notes = []
    if text:
        notes.append(
            "  text columns (encode before a model sees them, e.g. .map({...}) or pd.get_dummies): " + "; ".join(text)
        )
    if missing:
        notes.append("  missing values (in the first rows): " + ", ".join(missing))
    return notes


def column_kind(column: Any) -> str:
    """number, category (few distinct values: encode it) or free text (most values distinct: names, tickets)."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return "number"
    present = column.dropna()
    return "free text" if present.nunique() > len(present) / 2 else "category"


def training_table(files: list[str]) -> str | None:
    """The workspace's training CSV: the first whose name says train."""
    return next((rel for rel in files if rel.endswith(".csv") and "train" in rel), None)


def held_out_table(files: list[str]) -> str | None:
    """The workspace's test CSV: the first whose name says test."""
    return next((rel for rel in files if rel.endswith(".csv") and "test" in rel), None)


def unused_columns(ws: Workspace, code: str) -> dict[str, list[str]]:
    """Columns of the training CSV that the script never names (nor the target, nor id columns), by kind: the first
    place a weak baseline leaves accuracy. Empty when the script names no column (it may use them all implicitly)."""
    import pandas as pd

    tables = [rel for rel in ws.files() if rel.endswith(".csv")]
    train = training_table(tables)
    if train is None:
        return {}
    columns = data_columns_of(ws.root / train)
    test = held_out_table(tables)
    kept = set(data_columns_of(ws.root / test)) if test is not None else set(columns)
    named = _string_constants(code)
    if not named & set(columns):
        return {}
    unused = [
        c for c in columns if c not in named and c in kept and c.lower() != "id" and not c.lower().endswith("_id")
    ]
    if not unused:
        return {}
    try:
        frame = pd.read_csv(ws.root / train, nrows=200, usecols=unused)
    except Exception:  # an unreadable table still has its header's names
        return {"columns": unused}
    kinds: dict[str, list[str]] = {kind: [] for kind in ("number", "category", "free text")}
    for name in unused:
        kinds[column_kind(frame[name])].append(name)
    return {kind: names for kind, names in kinds.items() if names}


def _string_constants(code: str) -> set[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set(re.findall(r"[\"']([^\"'\n]+)[\"']", code))
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def data_schema(ws: Workspace, limit: int = 6) -> str:
    """Files with columns, dtypes and example rows, the target (in train but not test), and arrays."""
    parts: list[str] = []
    headers = {rel: data_columns_of(ws.root / rel) for rel in ws.files() if rel.endswith(".csv")}
    train = [cols for rel, cols in headers.items() if "train" in rel]
    for rel in ws.files():
        if len(parts) >= limit:
            break
        path = ws.root / rel
        try:
            if rel.endswith(".csv") and "test" in rel and train and set(headers[rel]) < set(train[0]):
                # Said in one line, so a wide table's notes on the training file survive the cut.
                parts.append(f"{rel}: the training file's columns without the target")
            elif rel.endswith(".csv"):
                parts.append(_csv_summary(path, rel))
            elif rel.endswith(".npz"):
                import numpy as np

                with np.load(path, allow_pickle=False) as arrays:
                    shown = ", ".join(f"{k} {arrays[k].dtype}{list(arrays[k].shape)}" for k in arrays.files)
                parts.append(f"{rel}: arrays {shown}")
        except Exception as exc:  # a file the schema cannot read is named, not fatal
            parts.append(f"{rel}: (unreadable: {type(exc).__name__})")
    test = [cols for rel, cols in headers.items() if "test" in rel]
    if train and test:
        target = target_columns(train[0], test[0])
        if target:
            parts.append(f"Target (in the training file but not the test file): {', '.join(target)}")
    text = "\n".join(parts)
    return text if len(text) <= SCHEMA_CHARS else text[:SCHEMA_CHARS] + "\n[... schema cut]"


def target_columns(train_columns: list[str], test_columns: list[str]) -> list[str]:
    """What the model predicts: the training file's columns that the test file lacks."""
    return [c for c in train_columns if c not in set(test_columns)]


def all_data_columns(ws: Workspace) -> set[str]:
    """Every column of every CSV in the workspace: the names a script reads rather than makes."""
    return set().union(*(data_columns_of(ws.root / rel) for rel in ws.files() if rel.endswith(".csv")))


def data_columns_of(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            return next(csv.reader(fh), [])
    except OSError:
        return []


def grounded_context(ws: Workspace, detailed: bool) -> str:
    """What the coder and debugger are told about the data: the full schema, or just column names."""
    if not detailed:
        return grounding(ws)
    schema = data_schema(ws)
    packages = "Installed packages you may import: " + ", ".join(installed_packages()) + "."
    return f"Data files (read them by these exact names and columns):\n{schema}\n{packages}"


def call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def subscript_keys(node: ast.AST | None, lists: dict[str, list[str]]) -> list[str]:
    """String keys of a subscript: 'a', ['a', 'b'], or a name bound to a list of strings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple):
        return [e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(node, ast.Name):
        return lists.get(node.id, [])
    return []


def unknown_references(code: str, ws: Workspace) -> str | None:
    """Why code would fail on names the data does not have: a data file that does not exist, or a column
    missing from the CSV a frame was read from. Conservative: frames reassigned later are not checked."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None  # the run reports it with a traceback
    files = set(ws.files())
    missing_files: list[str] = []
    assigned: dict[str, int] = {}
    frames: dict[str, tuple[str, list[str]]] = {}
    lists: dict[str, list[str]] = {}
    created: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and call_name(node) in _READERS and node.args:
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
                if isinstance(value, ast.Call) and call_name(value) == "read_csv" and value.args:
                    source = value.args[0]
                    if isinstance(source, ast.Constant) and isinstance(source.value, str):
                        rel = Path(source.value).as_posix().removeprefix("./")
                        if rel in files and rel.endswith(".csv"):
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
