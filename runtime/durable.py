"""Durable CLI runs: a SQLite checkpointer in the run folder, and what a resume must tidy first."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver

from budgetmlagent.runtime.run_folder import append_line, write_text_atomic

CHECKPOINT_FILE = "checkpoints.sqlite"
INTERRUPTED_TRACE = "trace.interrupted.jsonl"
THREAD_ID = "run"  # one run folder holds one run: one thread
# Our own types that live in graph state; everything else in state is plain JSON.
_STATE_TYPES = [("budgetmlagent.providers.ledger", "Ledger"), ("budgetmlagent.providers.ledger", "CallRecord")]


def open_checkpointer(run_dir: Path) -> SqliteSaver:
    """A checkpointer whose file lives in the run folder, so the folder alone is enough to resume."""
    Path(run_dir).mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(Path(run_dir) / CHECKPOINT_FILE), check_same_thread=False)
    return SqliteSaver(conn, serde=JsonPlusSerializer(allowed_msgpack_modules=_STATE_TYPES))


def thread_config(recursion_limit: int) -> dict[str, Any]:
    return {"configurable": {"thread_id": THREAD_ID}, "recursion_limit": recursion_limit}


def trim_trace(run_dir: Path, steps_done: int, calls_done: int) -> list[dict[str, Any]]:
    """Cut the trace back to what the last checkpoint holds: its steps and its ledger's calls (the first
    `calls_done` llm_call records). Later records belong to work the resumed run does again; they move to
    trace.interrupted.jsonl, where evaluate counts their calls' dollars once. Returns the moved records."""
    path = Path(run_dir) / "trace.jsonl"
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    keep_until, calls = 0, 0
    for index, line in enumerate(lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line torn by the kill
        kind = record.get("type")
        if kind == "llm_call":
            calls += 1
        if (
            kind == "start"
            or (kind == "step" and record.get("step", 0) <= steps_done)
            or (kind == "llm_call" and calls <= calls_done)
        ):
            keep_until = index + 1
    kept, moved_lines = lines[:keep_until], lines[keep_until:]
    moved = []
    for line in moved_lines:
        try:
            moved.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    set_aside(Path(run_dir) / INTERRUPTED_TRACE, moved_lines)
    write_text_atomic(path, "".join(line + "\n" for line in kept))
    return moved


def set_aside(path: Path, lines: list[str]) -> None:
    """Append the cut-off records, skipping any already there: a resume killed between this append and the
    trace's rewrite moves the same records again, and their dollars must still count once."""
    if not lines:
        return
    present = set(path.read_text(encoding="utf-8", errors="replace").splitlines()) if path.exists() else set()
    new = [line for line in lines if line not in present]
    if new:
        append_line(path, "\n".join(new))
