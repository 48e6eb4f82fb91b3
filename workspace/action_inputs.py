"""The pydantic input models of the actions: one per input shape, unknown keys ignored.

The fields that several actions share (a file name, a script name, a line range, a save name) are defined
once, as annotated types, so every model that has one describes it the same way to the model.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field


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

FileName = Annotated[str, Field(description="a valid file name with relative path to current directory if needed")]
ScriptName = Annotated[str, Field(description="a valid python script name with relative path to current directory")]
StartLine = Annotated[LineNumber, Field(description="a valid line number, counting from 1")]
EndLine = Annotated[LineNumber, Field(description="a valid line number, at least start_line_number")]
SaveName = Annotated[str, Field(description="a valid file name with relative path to save the edited script")]


class ListFilesInput(ActionInput):
    """List Files input."""

    dir_path: str = Field(description='a valid relative path to a directory, such as "." or "folder1/folder2"')


class ReadFileInput(ActionInput):
    """Read File input."""

    file_name: FileName


class WriteFileInput(ActionInput):
    """Write File and Append File input."""

    file_name: FileName
    content: str = Field(description="the content to be written to the file")


class CopyFileInput(ActionInput):
    """Copy File input."""

    source: FileName
    destination: FileName


class ScriptNameInput(ActionInput):
    """Undo Edit Script and Execute Script input."""

    script_name: ScriptName


class FinalAnswerInput(ActionInput):
    """Final Answer input."""

    final_answer: NonBlank = Field(description="a detailed description of the final answer and how it was reached")


class UnderstandFileInput(ActionInput):
    """Understand File input."""

    file_name: FileName
    things_to_look_for: NonBlank = Field(description="a detailed description of what to look for and what to return")


class InspectScriptLinesInput(ActionInput):
    """Inspect Script Lines input."""

    script_name: ScriptName
    start_line_number: StartLine
    end_line_number: EndLine


class EditScriptInput(ActionInput):
    """Edit Script (AI) input."""

    script_name: str = Field(
        description="a valid python script name with relative path; if it does not exist, it is created"
    )
    edit_instruction: NonBlank = Field(description="a detailed step by step description of how to edit it")
    save_name: SaveName


class EditScriptSegmentInput(ActionInput):
    """Edit Script Segment (AI) input."""

    script_name: ScriptName
    start_line_number: StartLine
    end_line_number: EndLine
    edit_instruction: NonBlank = Field(description="a detailed step by step description of how to edit the segment")
    save_name: SaveName


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


LineInput = InspectScriptLinesInput | EditScriptSegmentInput
