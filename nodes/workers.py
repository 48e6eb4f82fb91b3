"""Workers on the cheap tier: Understand File, Reflection, Retrieval from Research Log (words: prompts/workers.py).

Summaries of long observations are runtime/summaries.py's; they are imported here too for nodes/observe.py, until it
imports them from there."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.prompts import profiles
from budgetmlagent.prompts import workers as words
from budgetmlagent.prompts.replies import AnswerReply
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured
from budgetmlagent.runtime.recall import retrieve_older
from budgetmlagent.runtime.state import State, workspace_of


def worker(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    pending = state["pending"]
    assert pending is not None
    action, args = pending["action"], pending["action_input"]
    if action == "Retrieval from Research Log":
        found = retrieve_older(state, ctx, args["current_plan"], k=2 * ctx.retrieval_k)
        text = "\n".join(found) if found else words.NOTHING_RETRIEVED
        return {"observation": text, "step_ok": True, "executed": True}
    if action == "Understand File":
        content = workspace_of(state).read_text(args["file_name"])
        profile = profiles.UNDERSTAND_FILE
        prompt = words.understand_file_prompt(args["file_name"], content, args["things_to_look_for"])
    else:  # Reflection
        profile = profiles.REFLECTION
        prompt = words.reflection_prompt(state.get("plan", ""), state.get("steps", []), args["things_to_reflect_on"])
    outcome = call_structured(state, ctx, "worker", AnswerReply, [SystemMessage(profile), HumanMessage(prompt)])
    if outcome.parsed is None:
        return outcome.update | {
            "observation": words.action_failed(action, outcome.error),
            "step_ok": False,
            "executed": True,
        }
    return outcome.update | {"observation": outcome.parsed.answer, "step_ok": True, "executed": True}
