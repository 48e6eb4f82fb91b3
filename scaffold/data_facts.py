"""Data facts: the workspace's tables, their columns and kinds, which file is train and which is test, and the
packages installed. What prompts are grounded in, so small models do not invent names."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from typing import Any

from budgetmlagent.workspace.workspace import Workspace

# Packages the grounding line names; the coder may only import what is really installed.
_KNOWN_PACKAGES = ("numpy", "pandas", "sklearn", "scipy", "torch", "xgboost", "lightgbm", "catboost")


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
