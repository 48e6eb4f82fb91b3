"""When edits stop paying: the planner sees every change tried and what it measured, and after k steps without a
better validation metric the scaffold spends a lifeline on the expert's advice."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import BASELINE_TRAIN
from test_graph_edges import BASE, LIST, RUN, TOP, code, edit, run_graph, title


def scored(value: float) -> str:
    return BASELINE_TRAIN.replace("score = 0.5", f"score = {value}")


def planner_prompts(models: object) -> list[str]:
    return [c["messages"][-1].content for c in models.calls(BASE) if title(c) == "PlannerReply"]  # type: ignore[attr-defined]


NO_GAIN = [
    edit("use more trees"), code(scored(0.4)),
    edit("add a feature"), code(scored(0.3)),
    edit("scale the inputs"), code(scored(0.45)),
]  # fmt: skip


def test_three_steps_without_gain_ask_the_expert_once(measured_task: Path, tmp_path: Path) -> None:
    state, models = run_graph(
        measured_task,
        tmp_path,
        {BASE: [*NO_GAIN, LIST], TOP: [{"advice": "try a larger learning rate"}]},
        max_steps=5,
        stall_steps=3,
    )
    steps = state["steps"]
    assert [s["action"] for s in steps][3:] == ["Ask Expert", "List Files"]
    asked = steps[3]
    assert asked["model"] == "scaffold" and asked["ok"]
    question = asked["action_input"]["question"]
    assert question.startswith("The last 3 steps found nothing better than validation score 0.5 (the baseline)")
    expert_prompt = models.calls(TOP)[0]["messages"][-1].content
    assert "The current train.py:" in expert_prompt and "score = 0.45" in expert_prompt  # it sees the script
    assert "try a larger learning rate" in planner_prompts(models)[-1]  # the advice reaches the next plan
    assert state["result"]["expert_calls"] == 1 and state["lifelines"] == 4


def test_no_stall_question_without_lifelines_or_with_the_rule_off(measured_task: Path, tmp_path: Path) -> None:
    for settings in ({"lifelines": 0}, {"stall_steps": 0}, {"use_expert": False}):
        state, models = run_graph(
            measured_task, tmp_path / str(len(settings)) / next(iter(settings)), {BASE: [*NO_GAIN, LIST]},
            max_steps=4, **settings,
        )  # fmt: skip
        assert [s["action"] for s in state["steps"]][3] == "List Files"
        assert models.calls(TOP) == []


def test_the_planner_sees_every_change_tried_and_what_it_measured(measured_task: Path, tmp_path: Path) -> None:
    _, models = run_graph(measured_task, tmp_path, {BASE: [*NO_GAIN[:4], LIST]}, max_steps=3, stall_steps=0)
    last = planner_prompts(models)[-1]
    assert "Changes tried so far (do not repeat one; build on the best):" in last
    assert "- step 1: use more trees -> validation score 0.4\n- step 2: add a feature -> validation score 0.3" in last
    first_two = planner_prompts(models)[:2]
    assert not any("Changes tried so far" in p for p in first_two)  # shown once two edits were made


FINAL = {**LIST, "action": {"name": "Final Answer", "input": {"final_answer": "done"}}}


def offered_final(models: object) -> list[bool]:
    return [
        "Final Answer" in json.dumps(c["schema"])
        for c in models.calls(BASE)  # type: ignore[attr-defined]
        if title(c) == "PlannerReply"
    ]


def test_a_run_that_still_improves_is_not_offered_final_answer(measured_task: Path, tmp_path: Path) -> None:
    better = [edit("use more trees"), code(scored(0.6)), edit("add a feature"), code(scored(0.7))]
    state, models = run_graph(
        measured_task, tmp_path, {BASE: [*better, LIST, RUN, LIST, FINAL]}, max_steps=12, keep_improving=True,
        use_expert=False,
    )  # fmt: skip
    # steps 1-2 improve; 3-5 find nothing better; only then may the run stop
    assert offered_final(models) == [False, False, False, False, False, True]
    assert state["result"]["status"] == "final_answer" and state["result"]["score"] == 0.7


def test_final_answer_is_offered_near_the_step_cap(measured_task: Path, tmp_path: Path) -> None:
    better = [edit("use more trees"), code(scored(0.6)), edit("add a feature"), code(scored(0.7))]
    _, models = run_graph(measured_task, tmp_path, {BASE: [*better, LIST]}, max_steps=3, keep_improving=True)
    assert offered_final(models) == [False, True, True]
