"""The cheap-tier workers' words: Understand File and Reflection requests, the summary of a long observation, and
the observations they leave. Plain values in; nodes/workers.py and runtime/summaries.py decide when they apply."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from budgetmlagent.prompts.history import OLDER_OBSERVATION_CHARS, render_step

FILE_CHARS = 8000  # what one Understand File call reads; longer files are cut with a note
REFLECTION_STEPS = 6  # the last steps a reflection looks back on, in brief
EXCERPT_CHARS = 3000  # each end of a long output the summariser reads

NOTHING_RETRIEVED = "The research log holds no relevant earlier steps yet."


def understand_file_prompt(name: str, content: str, looking_for: str) -> str:
    if len(content) > FILE_CHARS:
        content = content[:FILE_CHARS] + f"\n[... {len(content) - FILE_CHARS} more characters not shown]"
    return f"File {name}:\n{content}\n\nWhat to look for: {looking_for}"


def reflection_prompt(plan: str, steps: Sequence[Mapping[str, Any]], reflect_on: str) -> str:
    recent = "\n\n".join(render_step(s, OLDER_OBSERVATION_CHARS) for s in steps[-REFLECTION_STEPS:])
    return "\n\n".join(filter(None, [plan, recent, "Reflect on: " + reflect_on]))


def action_failed(action: str, error: str | None) -> str:
    return f"{action} failed: {error}"


def excerpt(text: str) -> str:
    """Both ends of a long output: what the summariser reads, and what stands in for a summary that failed."""
    return text[:EXCERPT_CHARS] + "\n[...]\n" + text[-EXCERPT_CHARS:]


def summarise_request(excerpt: str) -> str:
    return f"Summarise this output:\n{excerpt}"


def summary(length: int, answer: str) -> str:
    return f"[summary of {length} characters] {answer}"
