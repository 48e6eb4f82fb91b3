"""Data facts: the workspace's tables, their columns and kinds, which file is train and which is test, and the
packages installed. What prompts are grounded in, so small models do not invent names."""

from __future__ import annotations

import csv
import importlib.util
import re
from pathlib import Path
from typing import Any

from budgetmlagent.workspace.workspace import Workspace

# Packages the grounding line names; the coder may only import what is really installed.
_KNOWN_PACKAGES = ("numpy", "pandas", "sklearn", "scipy", "torch", "xgboost", "lightgbm", "catboost")
# The tables whose columns are read: CSV always, parquet where pandas has an engine for it.
TABLE_SUFFIXES = (".csv", ".parquet")
# A file name's word that says train or test (train, training, dtrain, X_test, test2), not pretrained or latest.
_TRAIN_WORD = re.compile(r"(?:d|x|df)?train(?:ing|set|data)?\d*")
_TEST_WORD = re.compile(r"(?:d|x|df)?test(?:s|ing|set|data)?\d*")
# Rows read to tell a row key (every value once) from a repeated id, and a target's kind.
FULL_ROWS = 200_000
# Distinct integer values above which a numeric target is a quantity (a year, a count), not a class label.
CLASS_VALUES = 30


def installed_packages() -> list[str]:
    return [name for name in _KNOWN_PACKAGES if importlib.util.find_spec(name) is not None]


def is_table(rel: str) -> bool:
    return rel.lower().endswith(TABLE_SUFFIXES)


def data_columns(ws: Workspace, limit: int = 6) -> list[str]:
    """`file: col1, col2, ...` for the tables in the workspace (small models invent columns)."""
    out = []
    for rel in ws.files():
        if is_table(rel) and len(out) < limit:
            columns = data_columns_of(ws.root / rel)
            out.append(f"{rel}: {', '.join(columns)}" if columns else f"{rel}: {_unread(rel)}")
    return out


def grounding(ws: Workspace) -> str:
    """Facts that keep generated code honest: real column names and installed packages."""
    lines = ["Data files and their columns:", *data_columns(ws)]
    lines.append("Installed packages you may import: " + ", ".join(installed_packages()) + ".")
    return "\n".join(lines)


SCHEMA_CHARS = 2400


def read_table(path: Path, nrows: int | None = None, usecols: list[str] | None = None) -> Any:
    """A table as a pandas frame, CSV or parquet; raises what pandas raises (no parquet engine: ImportError)."""
    import pandas as pd

    if path.suffix.lower() == ".parquet":
        frame = pd.read_parquet(path, columns=usecols)
        return frame if nrows is None else frame.head(nrows)
    return pd.read_csv(path, nrows=nrows, usecols=usecols)


def _table_summary(path: Path, rel: str, example_rows: int = 2) -> str:
    frame = read_table(path, nrows=200)
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


def _words(text: str) -> list[str]:
    """The words of a name: df_Train -> ['df', 'train']."""
    return [w for w in re.split(r"[^a-z0-9]+", text.lower()) if w]


def _says(rel: str, word: re.Pattern[str], in_folder: bool) -> bool:
    """Whether a table's file name (or, in_folder, a folder above it) has a word of this pattern, and no word of
    a validation split (valid.csv, data/validation/part.csv)."""
    path = Path(rel)
    words = [w for part in path.parent.parts for w in _words(part)] if in_folder else _words(path.stem)
    held = any(word.fullmatch(w) for w in words) and not any(w.startswith(("val", "dev")) for w in words)
    return is_table(rel) and held


def _first_saying(files: list[str], word: re.Pattern[str], other: re.Pattern[str]) -> str | None:
    """The first table whose file name says the word, else the first in a folder that says it (train/part.csv)."""
    named = next((rel for rel in files if _says(rel, word, False) and not _says(rel, other, False)), None)
    if named is not None:
        return named
    return next((rel for rel in files if _says(rel, word, True) and not _says(rel, other, True)), None)


def training_table(files: list[str]) -> str | None:
    """The workspace's training table: the first whose file name says train (in any folder, CSV or parquet)."""
    return _first_saying(files, _TRAIN_WORD, _TEST_WORD)


def held_out_table(files: list[str]) -> str | None:
    """The workspace's test table: the first whose file name says test (a validation file is not it)."""
    return _first_saying(files, _TEST_WORD, _TRAIN_WORD)


def data_schema(ws: Workspace, limit: int = 6) -> str:
    """Files with columns, dtypes and example rows, the target (in train but not test), and arrays."""
    parts: list[str] = []
    files = ws.files()
    train, test = training_table(files), held_out_table(files)
    train_columns = data_columns_of(ws.root / train) if train is not None else []
    test_columns = data_columns_of(ws.root / test) if test is not None else []
    for rel in files:
        if len(parts) >= limit:
            break
        path = ws.root / rel
        try:
            if rel == test and train_columns and set(test_columns) < set(train_columns):
                # Said in one line, so a wide table's notes on the training file survive the cut.
                parts.append(f"{rel}: the training file's columns without the target")
            elif is_table(rel) and not data_columns_of(path):
                parts.append(f"{rel}: {_unread(rel)}")
            elif is_table(rel):
                parts.append(_table_summary(path, rel))
            elif rel.endswith(".npz"):
                import numpy as np

                with np.load(path, allow_pickle=False) as arrays:
                    shown = ", ".join(f"{k} {arrays[k].dtype}{list(arrays[k].shape)}" for k in arrays.files)
                parts.append(f"{rel}: arrays {shown}")
        except Exception as exc:  # a file the schema cannot read is named, not fatal
            parts.append(f"{rel}: (unreadable: {type(exc).__name__})")
    target = target_columns(train_columns, test_columns) if train_columns and test_columns else []
    if target:
        parts.append(f"Target (in the training file but not the test file): {', '.join(target)}")
    text = "\n".join(parts)
    return text if len(text) <= SCHEMA_CHARS else text[:SCHEMA_CHARS] + "\n[... schema cut]"


def _unread(rel: str) -> str:
    if rel.lower().endswith(".parquet") and not _parquet_engine():
        return "(a parquet file; no parquet engine such as pyarrow is installed to read it)"
    return "(no columns could be read)"


def _parquet_engine() -> bool:
    return any(importlib.util.find_spec(name) is not None for name in ("pyarrow", "fastparquet"))


def target_columns(train_columns: list[str], test_columns: list[str]) -> list[str]:
    """What the model predicts: the training file's columns that the test file lacks."""
    return [c for c in train_columns if c not in set(test_columns)]


def all_data_columns(ws: Workspace) -> set[str]:
    """Every column of every table in the workspace: the names a script reads rather than makes."""
    return set().union(*(data_columns_of(ws.root / rel) for rel in ws.files() if is_table(rel)))


def data_columns_of(path: Path) -> list[str]:
    """A table's column names from its header (CSV) or schema (parquet); none where it cannot be read."""
    if path.suffix.lower() == ".parquet":
        return _parquet_columns(path)
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            return next(csv.reader(fh), [])
    except OSError:
        return []


def _parquet_columns(path: Path) -> list[str]:
    try:
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    except ImportError:
        pass
    except Exception:  # not a parquet file after all
        return []
    try:
        return [str(c) for c in read_table(path).columns]
    except Exception:  # no engine (ImportError) or an unreadable file: skipped, not fatal
        return []


_ID_WORD = re.compile(r"(?:^|[_\s.-])(?:id|key|uuid)$", re.IGNORECASE)
_CAMEL_ID = re.compile(r"[a-z0-9](?:Id|ID)$")


def id_named(column: str) -> bool:
    """Named like an identifier: id, user_id, ITEM_ID, userId, movieID."""
    return _ID_WORD.search(column) is not None or _CAMEL_ID.search(column) is not None


def id_roles(path: Path, columns: list[str]) -> dict[str, str]:
    """Which of these id named training columns are row keys (every value once) and which are repeated ids (values
    that repeat across rows: who or what a row is about). Told by the data, not by the spelling: user_id is a row
    key in a table of users and a repeated id in a table of ratings."""
    named = [c for c in columns if id_named(c)]
    try:
        frame = read_table(path, nrows=FULL_ROWS, usecols=named) if named else None
    except Exception:  # unreadable: nothing is known to be a key
        return {}
    roles = {}
    for name in named:
        column = frame[name]
        if column.notna().all() and column.nunique() == len(column):
            roles[name] = "row key"
        elif column.nunique() <= len(column) / 2:
            roles[name] = "repeated id"
    return roles


def target_kind(path: Path, target: str) -> str | None:
    """class (text labels, or yes/no), number (fractional values, or many distinct integers: a year, a count, a
    price) or None where the data cannot tell (a few integer values: labels or a rating; the script decides)."""
    import pandas as pd

    try:
        column = read_table(path, nrows=FULL_ROWS, usecols=[target])[target].dropna()
    except Exception:  # unreadable: unknown
        return None
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return "class"
    if len(column) == 0:
        return None
    if (column != column.round()).any() or column.nunique() > CLASS_VALUES:
        return "number"
    return None


def grounded_context(ws: Workspace, detailed: bool) -> str:
    """What the coder and debugger are told about the data: the full schema, or just column names."""
    if not detailed:
        return grounding(ws)
    schema = data_schema(ws)
    packages = "Installed packages you may import: " + ", ".join(installed_packages()) + "."
    return f"Data files (read them by these exact names and columns):\n{schema}\n{packages}"
