"""--target: a run stops once its best validation metric beats the baseline's by the asked fraction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_graph_edges import BASE, LIST, code, edit, run_graph
from test_stalls import scored

from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.limits import target_reached


def state_with(best: float | None, baseline: float, direction: str) -> dict[str, Any]:
    task = {"validation_baseline": baseline, "direction": direction}
    return {"task": task, "best": None if best is None else {"validation": best, "step": 1}}


@pytest.mark.parametrize(
    ("best", "baseline", "direction", "target", "reached"),
    [
        (0.56, 0.5, "higher", 0.10, True),
        (0.56, 0.5, "higher", 0.15, False),
        (0.85, 1.0, "lower", 0.15, True),  # an error 15 % lower
        (0.9, 1.0, "lower", 0.15, False),
        (0.9, 0.5, "higher", 0.0, False),  # 0 = off
        (None, 0.5, "higher", 0.1, False),  # nothing measured yet
    ],
)
def test_the_target_is_a_relative_gain_in_the_metric_direction(
    best: float | None, baseline: float, direction: str, target: float, reached: bool
) -> None:
    ctx = Context(target_improvement=target)
    assert target_reached(state_with(best, baseline, direction), ctx) is reached  # type: ignore[arg-type]


def test_a_run_stops_at_its_target_on_its_best_version(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("use more trees"), code(scored(0.6)), LIST, LIST]}
    state, _ = run_graph(measured_task, tmp_path, replies, max_steps=6, target_improvement=0.15)
    assert [s["action"] for s in state["steps"]] == ["Edit Script (AI)"]  # no further step once 0.6 > 0.5 * 1.15
    result = state["result"]
    assert result["status"] == "target" and result["success"] and result["score"] == 0.6


def test_without_a_target_the_run_goes_on(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("use more trees"), code(scored(0.6)), *[LIST] * 6]}
    state, _ = run_graph(measured_task, tmp_path, replies, max_steps=2)
    assert [s["action"] for s in state["steps"]][-1] == "List Files" and state["result"]["status"] == "step_cap"
