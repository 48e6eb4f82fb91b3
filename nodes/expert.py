"""Expert: a strong model's advice, bought with a lifeline; the planner sees it on its next step (words:
prompts/expert.py)."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from budgetmlagent.prompts import expert as words
from budgetmlagent.prompts import profiles
from budgetmlagent.prompts.replies import AdviceReply
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.llm import call_structured
from budgetmlagent.runtime.state import State, workspace_of
from budgetmlagent.scaffold.data_facts import grounding
from budgetmlagent.scaffold.reply_checks import main_script_text

EXPERT_TRIES = 2  # the paper allows one retry for an expert call


def expert(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    pending = state["pending"]
    assert pending is not None
    task = state["task"]
    prompt = words.question_prompt(
        problem=task["problem"],
        metric=task["metric"],
        baseline=task["baseline"],
        direction=task["direction"],
        grounding=grounding(workspace_of(state)),
        plan=state.get("plan", ""),
        steps=state.get("steps", []),
        question=pending["action_input"]["question"],
        script=_main_script(state),
    )
    messages = [SystemMessage(profiles.EXPERT), HumanMessage(prompt)]
    lifelines = max(0, state.get("lifelines", ctx.lifelines) - 1)  # one lifeline per question, retry included
    for _ in range(EXPERT_TRIES):
        outcome = call_structured(state, ctx, "expert", AdviceReply, messages)
        state = {**state, **outcome.update}  # type: ignore[typeddict-item]
        if outcome.budget_refused:  # the question was never asked: no lifeline spent, and the run stops
            return {
                "status": "budget",
                "observation": words.not_asked(outcome.error),
                "step_ok": False,
                "executed": True,
            }
        if outcome.parsed is not None:
            advice = outcome.parsed.advice
            return {
                "ledger": state["ledger"],
                "lifelines": lifelines,
                "expert_advice": advice,
                "observation": words.advises(outcome.model, advice),
                "step_ok": True,
                "executed": True,
            }
    return {
        "ledger": state["ledger"],
        "lifelines": lifelines,
        "observation": words.no_answer(outcome.error),
        "step_ok": False,
        "executed": True,
    }


def _main_script(state: State) -> tuple[str, str] | None:
    main = state["task"].get("main_script")
    text = main_script_text(workspace_of(state), main)
    return None if main is None or text is None else (main, text)
