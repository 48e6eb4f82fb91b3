"""The MLAgentBench action set: input models, validation against the workspace, plain executors.

Leniency (decided here because small models need it): action names match ignoring case, spaces and
punctuation ("edit script ai" is "Edit Script (AI)"); extra input keys are ignored, but when a required
field is missing the error names the unexpected keys and shows the expected JSON; line numbers accept
int-like strings ("12", 12.0); an end line past the end of the file is clamped; a bare string input is
taken as the value of a one-field action (Action Input: "train.py" for Execute Script).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from budgetmlagent.workspace.errors import ActionInputError
from budgetmlagent.workspace.sandbox import ScriptRun, truncate_middle
from budgetmlagent.workspace.workspace import HIDDEN_NAMES, MAX_EDIT_BYTES, Workspace, display_name, is_plain_name

# plain: the executor runs it; llm: a model answers; state: the graph runs it from run state; final: ends the run.
ActionKind = Literal["plain", "llm", "state", "final"]
MAX_INSPECT_LINES = 100
MAX_DIFF_CHARS = 4000
MAX_READ_CHARS = 30000


class ActionInput(BaseModel):
    """Base of all action inputs: unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore")


def _nonblank(value: str) -> str:
    """Reject empty or whitespace-only strings."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value


NonBlank = Annotated[str, AfterValidator(_nonblank)]


def _strip_number(value: Any) -> Any:
    """Strip padded numeric strings; pydantic's lax mode takes "12" but not " 12 "."""
    return value.strip() if isinstance(value, str) else value


LineNumber = Annotated[int, BeforeValidator(_strip_number)]


class ListFilesInput(ActionInput):
    """List Files input."""

    dir_path: str = Field(description='a valid relative path to a directory, such as "." or "folder1/folder2"')


class ReadFileInput(ActionInput):
    """Read File input."""

    file_name: str = Field(description="a valid file name with relative path to current directory if needed")


class WriteFileInput(ActionInput):
    """Write File and Append File input."""

    file_name: str = Field(description="a valid file name with relative path to current directory if needed")
    content: str = Field(description="the content to be written to the file")


class CopyFileInput(ActionInput):
    """Copy File input."""

    source: str = Field(description="a valid file name with relative path to current directory if needed")
    destination: str = Field(description="a valid file name with relative path to current directory if needed")


class ScriptNameInput(ActionInput):
    """Undo Edit Script and Execute Script input."""

    script_name: str = Field(description="a valid python script name with relative path to current directory")


class FinalAnswerInput(ActionInput):
    """Final Answer input."""

    final_answer: NonBlank = Field(description="a detailed description of the final answer and how it was reached")


class UnderstandFileInput(ActionInput):
    """Understand File input."""

    file_name: str = Field(description="a valid file name with relative path to current directory if needed")
    things_to_look_for: NonBlank = Field(description="a detailed description of what to look for and what to return")


class InspectScriptLinesInput(ActionInput):
    """Inspect Script Lines input."""

    script_name: str = Field(description="a valid python script name with relative path to current directory")
    start_line_number: LineNumber = Field(description="a valid line number, counting from 1")
    end_line_number: LineNumber = Field(description="a valid line number, at least start_line_number")


class EditScriptInput(ActionInput):
    """Edit Script (AI) input."""

    script_name: str = Field(
        description="a valid python script name with relative path; if it does not exist, it is created"
    )
    edit_instruction: NonBlank = Field(description="a detailed step by step description of how to edit it")
    save_name: str = Field(description="a valid file name with relative path to save the edited script")


class EditScriptSegmentInput(ActionInput):
    """Edit Script Segment (AI) input."""

    script_name: str = Field(description="a valid python script name with relative path to current directory")
    start_line_number: LineNumber = Field(description="a valid line number, counting from 1")
    end_line_number: LineNumber = Field(description="a valid line number, at least start_line_number")
    edit_instruction: NonBlank = Field(description="a detailed step by step description of how to edit the segment")
    save_name: str = Field(description="a valid file name with relative path to save the edited script")


class ReflectionInput(ActionInput):
    """Reflection input."""

    things_to_reflect_on: NonBlank = Field(description="a detailed description of what to reflect on")


class RetrievalInput(ActionInput):
    """Retrieval from Research Log input."""

    current_plan: str = Field(description="a detailed description of the current research plan and status")


class AskExpertInput(ActionInput):
    """Ask Expert input."""

    question: NonBlank = Field(description="what you need advice on, with the relevant facts")


class RevertInput(ActionInput):
    """Revert To Best input."""

    reason: NonBlank = Field(description="why the current version is worse than the best one")


@dataclass(frozen=True)
class ActionSpec:
    """One action: its name, what it does, its input model, what it returns, and who runs it."""

    name: str
    description: str
    input_model: type[ActionInput]
    kind: ActionKind
    observation: str


@dataclass(frozen=True)
class ActionResult:
    """Outcome of a plain action."""

    observation: str
    ok: bool
    script_run: ScriptRun | None = None
    changed_files: list[str] = field(default_factory=list)


_SPECS = [
    ActionSpec(
        "List Files",
        "Use this to navigate the file system.",
        ListFilesInput,
        "plain",
        "a list of files and folders in dir_path, or an error message if dir_path is invalid",
    ),
    ActionSpec(
        "Read File",
        "Use this to read an existing file.",
        ReadFileInput,
        "plain",
        "the contents of the file read",
    ),
    ActionSpec(
        "Write File",
        "Use this to write a file. If the file already exists, it will be overwritten.",
        WriteFileInput,
        "plain",
        "a success message and the diff of the change",
    ),
    ActionSpec(
        "Append File",
        "Use this to append content to the end of a file (it is created if missing).",
        WriteFileInput,
        "plain",
        "a success message and the diff of the change",
    ),
    ActionSpec(
        "Copy File",
        "Use this to copy a file to a new location with a new name.",
        CopyFileInput,
        "plain",
        "a success message or an error message",
    ),
    ActionSpec(
        "Undo Edit Script",
        "Use this to undo the last edit of a script.",
        ScriptNameInput,
        "plain",
        "the content of the script before the last edit",
    ),
    ActionSpec(
        "Execute Script",
        "Use this to execute a python script. The script must already exist.",
        ScriptNameInput,
        "plain",
        "the output of the script, or the error and traceback if it failed",
    ),
    ActionSpec(
        "Final Answer",
        "Use this to submit the final answer once the task is solved; it ends the run.",
        FinalAnswerInput,
        "final",
        "none: the run ends and the workspace is scored",
    ),
    ActionSpec(
        "Understand File",
        "Use this to read the whole file and understand certain aspects of it.",
        UnderstandFileInput,
        "llm",
        "a description of the relevant content and lines in the file, or a note if it is not there",
    ),
    ActionSpec(
        "Inspect Script Lines",
        f"Use this to inspect specific lines of a script (at most {MAX_INSPECT_LINES} lines at a time).",
        InspectScriptLinesInput,
        "plain",
        "the requested lines of the script, numbered",
    ),
    ActionSpec(
        "Edit Script (AI)",
        "Use this to have an AI edit a python script; the edited script is saved under save_name.",
        EditScriptInput,
        "llm",
        "the diff of the edit; check that it is correct, and undo it if not",
    ),
    ActionSpec(
        "Edit Script Segment (AI)",
        "Use this to have an AI edit a range of lines of a script; the result is saved under save_name.",
        EditScriptSegmentInput,
        "llm",
        "the diff of the edit; check that it is correct, and undo it if not",
    ),
    ActionSpec(
        "Reflection",
        "Use this to look over all past steps and reflect on them.",
        ReflectionInput,
        "llm",
        "the reflection",
    ),
    ActionSpec(
        "Retrieval from Research Log",
        "Use this to retrieve relevant information from the research log.",
        RetrievalInput,
        "llm",
        "relevant information from earlier steps",
    ),
    ActionSpec(
        "Ask Expert",
        "Use this to ask the planning expert (a stronger model) for advice; it can be used only a few times.",
        AskExpertInput,
        "llm",
        "the expert's advice",
    ),
    ActionSpec(
        "Revert To Best",
        "Use this to restore every script and output to the version with the best validation metric so far "
        "(after a regression or a broken script).",
        RevertInput,
        "state",
        "which files were restored",
    ),
]

LineInput = InspectScriptLinesInput | EditScriptSegmentInput
ACTIONS: dict[str, ActionSpec] = {spec.name: spec for spec in _SPECS}
PLAIN_ACTIONS: tuple[str, ...] = tuple(name for name, spec in ACTIONS.items() if spec.kind == "plain")
EDIT_ACTIONS = ("Edit Script (AI)", "Edit Script Segment (AI)")
# The research agent's action list (MLAgentBench hides the low-level Write/Append File from it too).
PLANNER_ACTIONS = (
    "List Files",
    "Read File",
    "Understand File",
    "Inspect Script Lines",
    "Edit Script (AI)",
    "Edit Script Segment (AI)",
    "Execute Script",
    "Undo Edit Script",
    "Copy File",
    "Reflection",
    "Retrieval from Research Log",
    "Ask Expert",
    "Revert To Best",
    "Final Answer",
)
# Actions that only look: repeating one right after itself returns the same observation.
LOOK_ACTIONS = ("List Files", "Read File", "Understand File", "Inspect Script Lines")
WORKER_ACTIONS = ("Understand File", "Reflection", "Retrieval from Research Log")


def _squash(name: str) -> str:
    """Lowercase letters and digits only, for forgiving name matching."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_SQUASHED = {_squash(name): name for name in ACTIONS}


def canonical_action_name(name: Any) -> str | None:
    """The registry name an LLM meant ("execute script" -> "Execute Script"), or None."""
    if not isinstance(name, str):
        return None
    return _BY_SQUASHED.get(_squash(name))


def expected_json(name: str) -> str:
    """The Action Input template of one action, MLAgentBench style."""
    model = ACTIONS[name].input_model
    lines = [f'    "{key}": [{info.description}]' for key, info in model.model_fields.items()]
    return "{\n" + ",\n".join(lines) + "\n}"


def render_tool_descriptions(names: list[str]) -> str:
    """Tool list for the planner prompt, in the given order: one compact line per action.

    Placeholders sit in angle brackets; small models copy prose templates verbatim otherwise.
    """
    blocks = []
    for name in names:
        spec = ACTIONS[name]
        fields = ", ".join(f'"{key}": <{info.description}>' for key, info in spec.input_model.model_fields.items())
        blocks.append(f"- {spec.name} {{{fields}}}: {spec.description}")
    return "\n".join(blocks)


def _coerce_input(name: str, action_input: Any) -> dict[str, Any]:
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


def _describe_validation_error(name: str, raw: dict[str, Any], exc: ValidationError) -> str:
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


def _check_text_file(ws: Workspace, rel: str) -> Path:
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


def _check_range(ws: Workspace, parsed: LineInput, script: str, *, max_lines: int | None) -> LineInput:
    """Validate (and clamp the end of) a line range against the file."""
    n_lines = _line_count(_check_text_file(ws, script), script)
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


def _check_world(ws: Workspace, name: str, parsed: ActionInput) -> ActionInput:
    """Check an input against the workspace; raises ActionInputError; may normalise the input."""
    if isinstance(parsed, ListFilesInput):
        if not ws.resolve(parsed.dir_path).is_dir():
            raise ActionInputError(f"'{parsed.dir_path}' is not an existing directory.")
    elif isinstance(parsed, ReadFileInput | UnderstandFileInput):
        _check_text_file(ws, parsed.file_name)
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
        return _check_range(ws, parsed, parsed.script_name, max_lines=MAX_INSPECT_LINES)
    elif isinstance(parsed, EditScriptSegmentInput):
        ws.resolve(_require(parsed.save_name, "save_name"), for_write=True)
        return _check_range(ws, parsed, parsed.script_name, max_lines=None)
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


def validate_action(
    ws: Workspace, name: str, action_input: dict[str, Any] | str | None
) -> tuple[BaseModel | None, str | None]:
    """Parse and check an action against the workspace: (input, None) or (None, error observation)."""
    canonical = canonical_action_name(name)
    if canonical is None:
        return None, (f"Unknown action {name!r}. Valid actions are: {', '.join(ACTIONS)}.")
    try:
        raw = _coerce_input(canonical, action_input)
        try:
            parsed = ACTIONS[canonical].input_model.model_validate(raw)
        except ValidationError as exc:
            return None, _describe_validation_error(canonical, raw, exc)
        return _check_world(ws, canonical, parsed), None
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
    size = _check_text_file(ws, parsed.file_name).stat().st_size
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
    parsed = _check_range(ws, parsed, parsed.script_name, max_lines=MAX_INSPECT_LINES)  # type: ignore[assignment]
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
