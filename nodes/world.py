"""The workspace and data facts nodes ground their prompts in."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

from budgetmlagent.graph.state import State
from budgetmlagent.workspace.workspace import Workspace

# Packages the grounding line names; the coder may only import what is really installed.
_KNOWN_PACKAGES = ("numpy", "pandas", "sklearn", "scipy", "torch", "xgboost", "lightgbm", "catboost")


def workspace_of(state: State) -> Workspace:
    return Workspace(Path(state["task"]["workspace"]), state["task"]["read_only"])


def installed_packages() -> list[str]:
    return [name for name in _KNOWN_PACKAGES if importlib.util.find_spec(name) is not None]


def data_columns(ws: Workspace, limit: int = 6) -> list[str]:
    """`file: col1, col2, ...` for the CSV files in the workspace (small models invent columns)."""
    out = []
    for rel in ws.files():
        if not rel.endswith(".csv") or len(out) >= limit:
            continue
        try:
            with (ws.root / rel).open(newline="", encoding="utf-8", errors="replace") as fh:
                header = next(csv.reader(fh), [])
        except OSError:
            continue
        out.append(f"{rel}: {', '.join(header)}")
    return out


def grounding(ws: Workspace) -> str:
    """Facts that keep generated code honest: real column names and installed packages."""
    lines = ["Data files and their columns:", *data_columns(ws)]
    lines.append("Installed packages you may import: " + ", ".join(installed_packages()) + ".")
    return "\n".join(lines)
