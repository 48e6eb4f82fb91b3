"""The MLAgentBench actions: validate_action, the plain executors and execute_plain_action.

The input models live in action_inputs, the action table and tool descriptions in action_specs, lenient
parsing and the checks against the workspace in action_parsing; the names the rest of the code imports
are re-exported here (__all__), so `budgetmlagent.workspace.actions` stays the one place to import from.
"""

from __future__ import annotations

import difflib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from budgetmlagent.workspace.action_inputs import (
    CopyFileInput,
    EditScriptInput,
    InspectScriptLinesInput,
    ListFilesInput,
    ReadFileInput,
    ScriptNameInput,
    WriteFileInput,
)
from budgetmlagent.workspace.action_parsing import (
    check_range,
    check_text_file,
    check_world,
    coerce_input,
    describe_validation_error,
)
from budgetmlagent.workspace.action_specs import (
    ACTIONS,
    EDIT_ACTIONS,
    LOOK_ACTIONS,
    MAX_INSPECT_LINES,
    PLAIN_ACTIONS,
    PLANNER_ACTIONS,
    WORKER_ACTIONS,
    ActionKind,
    ActionSpec,
    canonical_action_name,
    expected_json,
    render_tool_descriptions,
)
from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.sandbox import ScriptRun, truncate_middle
from budgetmlagent.workspace.workspace import HIDDEN_NAMES, Workspace, display_name, is_plain_name

__all__ = [
    "ACTIONS",
    "EDIT_ACTIONS",
    "LOOK_ACTIONS",
    "MAX_DIFF_CHARS",
    "MAX_INSPECT_LINES",
    "MAX_READ_CHARS",
    "PLAIN_ACTIONS",
    "PLANNER_ACTIONS",
    "WORKER_ACTIONS",
    "ActionKind",
    "ActionResult",
    "ActionSpec",
    "CopyFileInput",
    "EditScriptInput",
    "InspectScriptLinesInput",
    "ListFilesInput",
    "ReadFileInput",
    "ScriptNameInput",
    "WriteFileInput",
    "bounded_diff",
    "canonical_action_name",
    "execute_plain_action",
    "expected_json",
    "render_tool_descriptions",
    "validate_action",
]

MAX_DIFF_CHARS = 4000
MAX_READ_CHARS = 30000


@dataclass(frozen=True)
class ActionResult:
    """Outcome of a plain action."""

    observation: str
    ok: bool
    script_run: ScriptRun | None = None
    changed_files: list[str] = field(default_factory=list)


def validate_action(
    ws: Workspace, name: str, action_input: dict[str, Any] | str | None
) -> tuple[BaseModel | None, str | None]:
    """Parse and check an action against the workspace: (input, None) or (None, error observation)."""
    canonical = canonical_action_name(name)
    if canonical is None:
        return None, (f"Unknown action {name!r}. Valid actions are: {', '.join(ACTIONS)}.")
    try:
        raw = coerce_input(canonical, action_input)
        try:
            parsed = ACTIONS[canonical].input_model.model_validate(raw)
        except ValidationError as exc:
            return None, describe_validation_error(canonical, raw, exc)
        return check_world(ws, canonical, parsed), None
    except ActionInputError as exc:
        return None, f"Invalid Action Input for {canonical}: {exc}"
    except (OSError, ValueError) as exc:
        return None, f"Invalid Action Input for {canonical}: {type(exc).__name__}: {exc}"


# -- plain executors -----------------------------------------------------------------------------


def bounded_diff(old: str, new: str, name: str, *, limit: int = MAX_DIFF_CHARS) -> str:
    """Unified diff of old -> new, truncated in the middle past limit characters."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{name}", f"b/{name}")
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    return truncate_middle(text, limit) if text else "(no change)"


def _snapshot(ws: Workspace) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime_ns) of visible entries, links not followed, to tell which ones a script wrote."""
    result: dict[str, tuple[int, int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(ws.root):
        dirnames[:] = [d for d in dirnames if d not in HIDDEN_NAMES]
        links = [d for d in dirnames if (Path(dirpath) / d).is_symlink()]  # listed, never descended into
        for filename in [*filenames, *links]:
            path = Path(dirpath) / filename
            try:
                st = path.lstat()
            except OSError:
                continue
            result[path.relative_to(ws.root).as_posix()] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return result


def _changed_files_note(changed: list[str]) -> str:
    """The files a run created or changed, with names shown safely (a script may pick any bytes)."""
    if not changed:
        return "\nNo files were created or changed."
    shown = [display_name(name) for name in changed[:50]]
    more = f" (and {len(changed) - 50} more)" if len(changed) > 50 else ""
    return f"\nFiles created or changed: {', '.join(shown)}{more}"


def _list_files(ws: Workspace, parsed: ListFilesInput, **_: Any) -> ActionResult:
    names = ws.list_dir(parsed.dir_path)
    return ActionResult("\n".join(names) if names else "The directory is empty.", True)


def _read_file(ws: Workspace, parsed: ReadFileInput, **_: Any) -> ActionResult:
    size = check_text_file(ws, parsed.file_name).stat().st_size
    # Only the head and tail of a large file are read: a script may have written gigabytes.
    text = ws.read_text(parsed.file_name, max_bytes=4 * MAX_READ_CHARS)
    if len(text) > MAX_READ_CHARS or size > 4 * MAX_READ_CHARS:
        text = truncate_middle(text, MAX_READ_CHARS) + (
            f"\n[The file has {size} bytes; use Inspect Script Lines for specific parts.]"
        )
    return ActionResult(text, True)


def _write_file(ws: Workspace, parsed: WriteFileInput, *, append: bool = False, **_: Any) -> ActionResult:
    rel = ws.relative(ws.resolve(parsed.file_name, for_write=True))
    old = ws.write_text(rel, parsed.content, append=append)
    new = old + parsed.content if append else parsed.content
    verb = "appended to" if append else "written to"
    diff = bounded_diff(old, new, rel)
    return ActionResult(
        f"{len(parsed.content)} characters {verb} {rel} successfully.\nDiff:\n{diff}", True, None, [rel]
    )


def _append_file(ws: Workspace, parsed: WriteFileInput, **kwargs: Any) -> ActionResult:
    return _write_file(ws, parsed, append=True, **kwargs)


def _copy_file(ws: Workspace, parsed: CopyFileInput, **_: Any) -> ActionResult:
    destination = ws.relative(ws.resolve(parsed.destination, for_write=True))
    ws.copy_file(parsed.source, destination)
    return ActionResult(f"File {parsed.source} copied to {destination}.", True, None, [destination])


def _undo(ws: Workspace, parsed: ScriptNameInput, **_: Any) -> ActionResult:
    rel = ws.relative(ws.resolve(parsed.script_name, for_write=True))
    content = ws.undo(rel)
    if not (ws.root / rel).exists():
        return ActionResult(
            f"Undid the last edit of {rel}: the file did not exist before, so it was removed.",
            True,
            None,
            [rel],
        )
    shown = truncate_middle(content, MAX_READ_CHARS)
    return ActionResult(f"Undid the last edit of {rel}. Content of {rel} now:\n{shown}", True, None, [rel])


def _execute(
    ws: Workspace,
    parsed: ScriptNameInput,
    *,
    script_timeout_s: float,
    memory_limit_mb: int | None,
    max_output_chars: int,
    **_: Any,
) -> ActionResult:
    rel = ws.relative(ws.existing_file(parsed.script_name))
    before = _snapshot(ws)
    limits = ws.script_limits(
        timeout_s=script_timeout_s, memory_limit_mb=memory_limit_mb, max_output_chars=max_output_chars
    )
    run = ws.run_script(rel, **limits)
    after = _snapshot(ws)
    changed = sorted(name for name, sig in after.items() if before.get(name) != sig)
    output = run.output.rstrip() or "(the script printed nothing)"
    if run.timed_out:
        text = (
            f"The script was stopped after {limits['timeout_s']:g} s (time limit) and killed. "
            f"Output before it was stopped:\n{output}"
        )
    elif run.returncode == 0:
        text = f"The script has been executed. Here is the output:\n{output}"
    else:
        text = f"The script failed with exit code {run.returncode}. Here is the output:\n{output}"
        if run.returncode is not None and run.returncode < 0 and not run.traceback:
            text += (
                f"\nThe process was killed by signal {-run.returncode} (often the memory or CPU limit of the sandbox)."
            )
        if run.traceback and run.traceback not in run.output:
            text += f"\nTraceback:\n{truncate_middle(run.traceback, 3000)}"
        text += _sandbox_hints(run, limits)
    # Names with odd bytes stay out of the run state: it is serialised, and a lone surrogate cannot be.
    plain = [name for name in changed if is_plain_name(name)]
    return ActionResult(text + _changed_files_note(changed), run.ok, run, plain)


def _sandbox_hints(run: ScriptRun, limits: dict[str, Any]) -> str:
    """Why the sandbox, not the script's logic, made a failed run fail, so the model does not retry it."""
    hints = []
    if run.filesystem_confined and "Read-only file system" in run.stderr:
        # Tell the model why an absolute path or a task file failed, so it does not retry the same write.
        hints.append(
            "Only the workspace is writable, and its read-only task files are not: save files under new "
            "relative paths (HOME and TMPDIR are inside it)."
        )
    if "File too large" in run.stderr:
        size = limits.get("file_limit_mb", 8192)
        hints.append(f"Every file a script writes is limited to {size} MB by the sandbox.")
    if limits.get("memory_limit_mb") and "cudaGetDeviceCount" in run.stderr and "out of memory" in run.stderr:
        # Seen on an H100: CUDA reserves more address space than RLIMIT_AS allows, whatever the GPU holds.
        hints.append("CUDA cannot start under the sandbox's memory limit for this task: train on the CPU.")
    if run.process_limit is not None and "Resource temporarily unavailable" in run.stderr:
        hints.append(f"The sandbox allows at most {run.process_limit} processes and threads at a time.")
    return "".join(f"\n{hint}" for hint in hints)


def _inspect(ws: Workspace, parsed: InspectScriptLinesInput, **_: Any) -> ActionResult:
    parsed = check_range(ws, parsed, parsed.script_name, max_lines=MAX_INSPECT_LINES)  # type: ignore[assignment]
    lines = ws.read_text(parsed.script_name).splitlines()
    start, end = parsed.start_line_number, parsed.end_line_number
    width = len(str(end))
    body = "\n".join(f"{number:>{width}}: {lines[number - 1]}" for number in range(start, end + 1))
    header = f"Here are lines {start}-{end} of {parsed.script_name} (the file has {len(lines)} lines):"
    return ActionResult(f"{header}\n{body}", True)


_EXECUTORS: dict[str, Callable[..., ActionResult]] = {
    "List Files": _list_files,
    "Read File": _read_file,
    "Write File": _write_file,
    "Append File": _append_file,
    "Copy File": _copy_file,
    "Undo Edit Script": _undo,
    "Execute Script": _execute,
    "Inspect Script Lines": _inspect,
}


def execute_plain_action(
    ws: Workspace,
    name: str,
    parsed_input: BaseModel | dict[str, Any],
    *,
    script_timeout_s: float,
    memory_limit_mb: int | None = 4096,
    max_output_chars: int = 10000,
) -> ActionResult:
    """Run a plain (non-LLM) action; bad input gives an observation with ok False, never an exception."""
    canonical = canonical_action_name(name)
    if canonical not in _EXECUTORS:
        plain = ", ".join(_EXECUTORS)
        return ActionResult(f"{name!r} is not an action the executor runs; plain actions are: {plain}.", False)
    expected_model = ACTIONS[canonical].input_model
    if not isinstance(parsed_input, expected_model):
        raw = parsed_input.model_dump() if isinstance(parsed_input, BaseModel) else parsed_input
        parsed, error = validate_action(ws, canonical, raw)
        if error is not None:
            return ActionResult(error, False)
        parsed_input = parsed  # type: ignore[assignment]
    try:
        return _EXECUTORS[canonical](
            ws,
            parsed_input,
            script_timeout_s=script_timeout_s,
            memory_limit_mb=memory_limit_mb,
            max_output_chars=max_output_chars,
        )
    except ActionInputError as exc:
        return ActionResult(f"{canonical} failed: {exc}", False)
    except Exception as exc:  # an agent step must never crash the run
        return ActionResult(f"{canonical} failed: {type(exc).__name__}: {exc}", False)
