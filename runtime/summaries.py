"""Long observations, summarised by the cheap tier before they enter prompts and memory (words: prompts/workers.py)."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage

from budgetmlagent.prompts import profiles
from budgetmlagent.prompts import workers as words
from budgetmlagent.prompts.replies import AnswerReply
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured
from budgetmlagent.runtime.state import State

SUMMARY_THRESHOLD = 5000  # MLAgentBench summarises observations longer than this


def summarise_if_long(state: State, ctx: Context, text: str) -> tuple[str, dict[str, Any]]:
    """The text, or its summary when long (both its ends when the summary fails), and the state the call changes."""
    if len(text) <= SUMMARY_THRESHOLD:
        return text, {}
    excerpt = words.excerpt(text)
    messages = [SystemMessage(profiles.SUMMARISER), HumanMessage(words.summarise_request(excerpt))]
    outcome = call_structured(state, ctx, "worker", AnswerReply, messages)
    if outcome.parsed is None:
        return excerpt, outcome.update
    return words.summary(len(text), outcome.parsed.answer), outcome.update
