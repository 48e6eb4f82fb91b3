"""The expert's words: what it is told when the planner asks (the problem, the baseline, the data, the planner's plan
and recent steps, its question). Plain values in; nodes/expert.py reads them from the state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from budgetmlagent.prompts.history import OLDER_OBSERVATION_CHARS, render_step

STEPS_SHOWN = 5  # the planner's last steps, in brief
SCRIPT_LINES_SHOWN = 150  # advice about a script it cannot see was generic ("try feature engineering")


def question_prompt(
    *,
    problem: str,
    metric: str,
    baseline: float | None,
    direction: str,
    grounding: str,
    plan: str,
    steps: Sequence[Mapping[str, Any]],
    question: str,
    script: tuple[str, str] | None = None,
) -> str:
    """The expert's prompt; empty parts (no plan, no steps yet, no readable script) are left out. The script is the
    one the advice is about: (name, text), cut to its first SCRIPT_LINES_SHOWN lines."""
    recent = "\n\n".join(render_step(s, OLDER_OBSERVATION_CHARS) for s in steps[-STEPS_SHOWN:])
    listing = ""
    if script is not None:
        name, text = script
        lines = text.splitlines()
        cut = f"\n... ({len(lines) - SCRIPT_LINES_SHOWN} more lines)" if len(lines) > SCRIPT_LINES_SHOWN else ""
        listing = f"The current {name}:\n" + "\n".join(lines[:SCRIPT_LINES_SHOWN]) + cut
    return "\n\n".join(
        filter(
            None,
            [
                "Research problem:\n" + problem.strip(),
                f"Baseline {metric}: {baseline} ({direction} is better).",
                grounding,
                "The planner's plan so far:\n" + plan if plan else "",
                listing,
                "Its recent steps:\n" + recent if recent else "",
                "Its question: " + question,
            ],
        )
    )


def not_asked(error: str | None) -> str:
    return f"The expert was not asked: {error}"


def advises(model: str, advice: str) -> str:
    return f"The expert ({model}) advises: {advice}"


def no_answer(error: str | None) -> str:
    return f"The expert could not answer: {error}"
