"""Pydantic shapes of every structured LLM reply; free-text fields are bounded so a small model
cannot ramble to the token limit."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from budgetmlagent.workspace.actions import ACTIONS

PATH_CHARS = 200
INPUT_TEXT_CHARS = {"edit_instruction": 700, "question": 500, "final_answer": 500, "content": 8000}
DEFAULT_INPUT_CHARS = 300


def _text(max_chars: int, description: str) -> Any:
    return Field(max_length=max_chars, description=description)


def _strict_input(name: str, model: type[BaseModel]) -> type[BaseModel]:
    """The action's input with every string bounded and no extra keys, so the grammar stays tight."""
    overrides: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if info.annotation is str:
            limit = INPUT_TEXT_CHARS.get(
                field_name,
                PATH_CHARS if "name" in field_name or "path" in field_name else DEFAULT_INPUT_CHARS,
            )
            overrides[field_name] = (str, Field(max_length=limit, description=info.description))
    strict = create_model(f"{name}Input", __base__=model, **overrides)
    strict.model_config = ConfigDict(**(model.model_config | {"extra": "forbid"}))
    strict.model_rebuild(force=True)
    return strict


class ShortPlannerReply(BaseModel):
    """The short reply's base: the full format's reflection and fact check are not asked for (no schema field,
    so the grammar makes the model write none of them), and read as empty."""

    @property
    def reflection(self) -> str:
        return ""

    @property
    def fact_check(self) -> str:
        return ""


@cache
def planner_reply_model(actions: tuple[str, ...], reply_format: str = "short") -> type[BaseModel]:
    """The planner's reply over the given action list: each action carries its own input schema, so
    the grammar only admits known actions with well-formed inputs. `short` (plan, thought, action) is about a
    third of `full`'s tokens (MLAgentBench's reflection, plan, fact check, thought, action)."""
    variants = []
    for name in actions:
        slug = "".join(ch for ch in name.title() if ch.isalnum())
        variants.append(
            create_model(
                f"{slug}Action",
                name=(Literal[name], ...),  # type: ignore[valid-type]
                input=(_strict_input(slug, ACTIONS[name].input_model), ...),
            )
        )
    action_type = (
        Annotated[Union[tuple(variants)], Field(discriminator="name")]  # noqa: UP007
        if len(variants) > 1
        else variants[0]
    )
    if reply_format == "short":
        return create_model(
            "PlannerReply",
            __base__=ShortPlannerReply,
            research_plan_and_status=(str, _text(250, "Plan and progress so far, with measured numbers.")),
            thought=(str, _text(200, "What to do now and why, in one sentence.")),
            action=(action_type, ...),
        )
    return create_model(
        "PlannerReply",
        reflection=(str, _text(250, "What the last observation means.")),
        research_plan_and_status=(str, _text(450, "Plan and progress so far, with measured numbers.")),
        fact_check=(str, _text(200, "Which statements were confirmed by observations.")),
        thought=(str, _text(250, "What to do now and why.")),
        action=(action_type, ...),
    )


class CodeReply(BaseModel):
    """The coder's answer: the whole new file (or segment)."""

    summary: str = Field(max_length=300, description="One sentence: what you changed.")
    code: str = Field(max_length=16000, description="The complete new code, no markdown fences.")


class FixReply(BaseModel):
    """The debugger's answer: diagnosis and the whole corrected file."""

    diagnosis: str = Field(max_length=300, description="The cause of the error in one sentence.")
    code: str = Field(max_length=16000, description="The complete corrected script, no markdown fences.")


class AdviceReply(BaseModel):
    """The expert's advice for the planner's next steps."""

    advice: str = Field(max_length=900, description="Concrete next actions and the change to try.")


class AnswerReply(BaseModel):
    """A worker's answer (Understand File, Reflection, summaries)."""

    answer: str = Field(max_length=1200, description="The answer, brief and factual.")
