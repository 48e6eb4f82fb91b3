"""The planner's reply format: short by default (plan, thought, action), MLAgentBench's full one on request."""

from __future__ import annotations

from pathlib import Path

from test_graph_edges import BASE, LIST, run_graph, title

from budgetmlagent.prompts.replies import planner_reply_model
from budgetmlagent.workspace.actions import PLANNER_ACTIONS


def test_the_short_format_asks_for_three_fields_and_reads_the_others_as_empty() -> None:
    short = planner_reply_model(PLANNER_ACTIONS)
    assert list(short.model_json_schema()["properties"]) == ["research_plan_and_status", "thought", "action"]
    reply = short.model_validate({"research_plan_and_status": "p", "thought": "t", "action": LIST["action"]})
    assert (reply.reflection, reply.fact_check) == ("", "")
    full = planner_reply_model(PLANNER_ACTIONS, "full")
    assert list(full.model_json_schema()["properties"]) == [
        "reflection", "research_plan_and_status", "fact_check", "thought", "action",
    ]  # fmt: skip


def test_the_prompt_and_the_schema_follow_the_setting(tiny_task: Path, tmp_path: Path) -> None:
    for reply_format, asked in (("short", False), ("full", True)):
        _, models = run_graph(
            tiny_task, tmp_path / reply_format, {BASE: [LIST]}, max_steps=1, planner_reply=reply_format
        )
        (call,) = [c for c in models.calls(BASE) if title(c) == "PlannerReply"]
        assert ('"fact_check"' in call["messages"][0].content) is asked
        assert ("fact_check" in call["schema"]["properties"]) is asked
