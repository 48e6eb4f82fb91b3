"""Workers on the cheap tier: Understand File, Reflection, Retrieval from Research Log, summaries."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.nodes.planner import OLDER_OBSERVATION_CHARS, render_step
from budgetmlagent.prompts import profiles
from budgetmlagent.prompts.replies import AnswerReply
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured
from budgetmlagent.runtime.recall import retrieve_older
from budgetmlagent.runtime.state import State, workspace_of

FILE_CHARS = 8000  # what one Understand File call reads; longer files are cut with a note
SUMMARY_THRESHOLD = 5000  # MLAgentBench summarises observations longer than this


def worker(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    pending = state["pending"]
    assert pending is not None
    action, args = pending["action"], pending["action_input"]
    if action == "Retrieval from Research Log":
        found = retrieve_older(state, ctx, args["current_plan"], k=2 * ctx.retrieval_k)
        text = "\n".join(found) if found else "The research log holds no relevant earlier steps yet."
        return {"observation": text, "step_ok": True, "executed": True}
    if action == "Understand File":
        content = workspace_of(state).read_text(args["file_name"])
        if len(content) > FILE_CHARS:
            content = content[:FILE_CHARS] + f"\n[... {len(content) - FILE_CHARS} more characters not shown]"
        profile = profiles.UNDERSTAND_FILE
        prompt = f"File {args['file_name']}:\n{content}\n\nWhat to look for: {args['things_to_look_for']}"
    else:  # Reflection
        steps = "\n\n".join(render_step(s, OLDER_OBSERVATION_CHARS) for s in state.get("steps", [])[-6:])
        profile = profiles.REFLECTION
        prompt = "\n\n".join(
            filter(None, [state.get("plan", ""), steps, "Reflect on: " + args["things_to_reflect_on"]])
        )
    outcome = call_structured(state, ctx, "worker", AnswerReply, [SystemMessage(profile), HumanMessage(prompt)])
    if outcome.parsed is None:
        return outcome.update | {
            "observation": f"{action} failed: {outcome.error}",
            "step_ok": False,
            "executed": True,
        }
    return outcome.update | {"observation": outcome.parsed.answer, "step_ok": True, "executed": True}


def summarise_if_long(state: State, ctx: Context, text: str) -> tuple[str, dict[str, Any]]:
    """Long observations are summarised by the cheap tier before they enter prompts and memory."""
    if len(text) <= SUMMARY_THRESHOLD:
        return text, {}
    excerpt = text[:3000] + "\n[...]\n" + text[-3000:]
    messages = [SystemMessage(profiles.SUMMARISER), HumanMessage(f"Summarise this output:\n{excerpt}")]
    outcome = call_structured(state, ctx, "worker", AnswerReply, messages)
    if outcome.parsed is None:
        return excerpt, outcome.update
    return f"[summary of {len(text)} characters] {outcome.parsed.answer}", outcome.update
