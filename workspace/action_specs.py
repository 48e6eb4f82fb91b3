"""The action table: each action's name, description, input model, kind and observation; the action-name
groups each role may use; forgiving name matching; and the tool descriptions the prompts show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from budgetmlagent.workspace.action_inputs import (
    ActionInput,
    AskExpertInput,
    CopyFileInput,
    EditScriptInput,
    EditScriptSegmentInput,
    FinalAnswerInput,
    InspectScriptLinesInput,
    ListFilesInput,
    ReadFileInput,
    ReflectionInput,
    RetrievalInput,
    RevertInput,
    ScriptNameInput,
    UnderstandFileInput,
    WriteFileInput,
)

# plain: the executor runs it; llm: a model answers; state: the graph runs it from run state; final: ends the run.
ActionKind = Literal["plain", "llm", "state", "final"]
MAX_INSPECT_LINES = 100


@dataclass(frozen=True)
class ActionSpec:
    """One action: its name, what it does, its input model, what it returns, and who runs it."""

    name: str
    description: str
    input_model: type[ActionInput]
    kind: ActionKind
    observation: str


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
