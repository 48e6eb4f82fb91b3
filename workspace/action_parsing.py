"""Lenient parsing and validation of an Action Input, before anything runs.

Leniency (decided here because small models need it): action names match ignoring case, spaces and
punctuation ("edit script ai" is "Edit Script (AI)"); extra input keys are ignored, but when a required
field is missing the error names the unexpected keys and shows the expected JSON; line numbers accept
int-like strings ("12", 12.0); an end line past the end of the file is clamped; a bare string input is
taken as the value of a one-field action (Action Input: "train.py" for Execute Script).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from budgetmlagent.workspace.action_inputs import (
    ActionInput,
    CopyFileInput,
    EditScriptInput,
    EditScriptSegmentInput,
    InspectScriptLinesInput,
    LineInput,
    ListFilesInput,
    ReadFileInput,
    ScriptNameInput,
    UnderstandFileInput,
    WriteFileInput,
)
from budgetmlagent.workspace.action_specs import ACTIONS, MAX_INSPECT_LINES, expected_json
from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.workspace import MAX_EDIT_BYTES, Workspace


def coerce_input(name: str, action_input: Any) -> dict[str, Any]:
    """Turn the raw Action Input into a dict (JSON text and bare strings accepted)."""
    if isinstance(action_input, dict):
        return action_input
    if action_input is None:
        return {}
    if isinstance(action_input, str):
        text = action_input.strip()
        try:
            parsed = json.loads(text) if text else {}
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict):
            return parsed
        fields = list(ACTIONS[name].input_model.model_fields)
        if len(fields) == 1:
            return {fields[0]: text if parsed is None else str(parsed)}
    raise ActionInputError(
        f"The Action Input for {name} must be a JSON object, got {type(action_input).__name__}. "
        f"Expected:\n{expected_json(name)}"
    )


def describe_validation_error(name: str, raw: dict[str, Any], exc: ValidationError) -> str:
    """Explain a pydantic error in words an LLM can act on."""
    model = ACTIONS[name].input_model
    missing = [str(err["loc"][0]) for err in exc.errors() if err["type"] == "missing"]
    problems = []
    if missing:
        problems.append(f"missing field(s): {', '.join(missing)}")
        unexpected = [key for key in raw if key not in model.model_fields]
        if unexpected:
            problems.append(f"unexpected field(s): {', '.join(map(str, unexpected))}")
    for err in exc.errors():
        if err["type"] == "missing":
            continue
        loc = ".".join(str(part) for part in err["loc"]) or "input"
        problems.append(f"field '{loc}' {err['msg'].lower()} (got {err.get('input')!r:.80})")
    joined = "; ".join(problems)
    return f"Invalid Action Input for {name}: {joined}. Expected Action Input:\n{expected_json(name)}"


def check_text_file(ws: Workspace, rel: str) -> Path:
    """An existing, non-binary file."""
    path = ws.existing_file(rel)
    with path.open("rb") as handle:
        if b"\0" in handle.read(8192):
            raise ActionInputError(f"'{rel}' is a binary file and cannot be shown as text.")
    return path


def _line_count(path: Path, name: str) -> int:
    """Number of lines in a text file small enough to edit."""
    size = path.stat().st_size
    if size > MAX_EDIT_BYTES:
        raise ActionInputError(
            f"'{name}' is {size / 2**20:.0f} MB, too large to inspect or edit by lines "
            f"(limit {MAX_EDIT_BYTES // 2**20} MB); use Read File for its head and tail."
        )
    return len(path.read_text(encoding="utf-8", errors="replace").splitlines())


def check_range(ws: Workspace, parsed: LineInput, script: str, *, max_lines: int | None) -> LineInput:
    """Validate (and clamp the end of) a line range against the file."""
    n_lines = _line_count(check_text_file(ws, script), script)
    start, end = parsed.start_line_number, parsed.end_line_number
    if n_lines == 0:
        raise ActionInputError(f"'{script}' is empty; there are no lines to show or edit.")
    if start < 1:
        raise ActionInputError(f"start_line_number must be at least 1 (lines count from 1), got {start}.")
    if start > n_lines:
        raise ActionInputError(f"start_line_number {start} is past the end of '{script}' ({n_lines} lines).")
    if end < start:
        raise ActionInputError(f"end_line_number ({end}) must not be smaller than start_line_number ({start}).")
    end = min(end, n_lines)
    if max_lines is not None and end - start + 1 > max_lines:
        raise ActionInputError(
            f"At most {max_lines} lines can be inspected at once; you asked for {start}-{end} "
            f"({end - start + 1} lines). Ask for a smaller range, e.g. {start}-{start + max_lines - 1}."
        )
    return parsed.model_copy(update={"end_line_number": end})


def check_world(ws: Workspace, name: str, parsed: ActionInput) -> ActionInput:
    """Check an input against the workspace; raises ActionInputError; may normalise the input."""
    if isinstance(parsed, ListFilesInput):
        if not ws.resolve(parsed.dir_path).is_dir():
            raise ActionInputError(f"'{parsed.dir_path}' is not an existing directory.")
    elif isinstance(parsed, ReadFileInput | UnderstandFileInput):
        check_text_file(ws, parsed.file_name)
    elif isinstance(parsed, WriteFileInput):
        ws.resolve(_require(parsed.file_name, "file_name"), for_write=True)
    elif isinstance(parsed, CopyFileInput):
        ws.existing_file(parsed.source)
        ws.resolve(_require(parsed.destination, "destination"), for_write=True)
    elif isinstance(parsed, ScriptNameInput) and name == "Undo Edit Script":
        ws.resolve(_require(parsed.script_name, "script_name"), for_write=True)
        if ws.backup_count(parsed.script_name) == 0:
            raise ActionInputError(f"There is no edit of '{parsed.script_name}' to undo.")
    elif isinstance(parsed, ScriptNameInput):
        ws.existing_file(parsed.script_name)
        if not parsed.script_name.strip().endswith(".py"):
            raise ActionInputError(f"'{parsed.script_name}' is not a python script (.py); only those can run.")
    elif isinstance(parsed, InspectScriptLinesInput):
        return check_range(ws, parsed, parsed.script_name, max_lines=MAX_INSPECT_LINES)
    elif isinstance(parsed, EditScriptSegmentInput):
        ws.resolve(_require(parsed.save_name, "save_name"), for_write=True)
        return check_range(ws, parsed, parsed.script_name, max_lines=None)
    elif isinstance(parsed, EditScriptInput):
        script = ws.resolve(_require(parsed.script_name, "script_name"))
        if script.is_dir():
            raise ActionInputError(f"'{parsed.script_name}' is a directory, not a script.")
        ws.resolve(_require(parsed.save_name, "save_name"), for_write=True)
    return parsed


def _require(value: str, field_name: str) -> str:
    """A path field must not be blank."""
    if not value.strip():
        raise ActionInputError(f"{field_name} must not be empty.")
    return value
