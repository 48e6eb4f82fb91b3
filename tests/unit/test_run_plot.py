"""run.png: the validation metric per step with the best so far, escalations, expert calls and tokens per tier."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from budgetmlagent.providers.ledger import Ledger
from budgetmlagent.runtime import run_plot
from budgetmlagent.runtime.run_folder import render_report
from budgetmlagent.runtime.run_plot import (
    PLOT_FILE,
    best_so_far,
    plot_section,
    tokens_by_role_tier,
    validation_per_step,
    write_run_plot,
)


def step(number: int, action: str, ok: bool = True, model: str = "small") -> dict[str, Any]:
    return {
        "step": number,
        "action": action,
        "action_input": {},
        "thought": f"thought {number}",
        "observation": "",
        "ok": ok,
        "model": model,
        "tier": 0,
    }


STEPS = [
    step(1, "Edit Script (AI)"),
    step(2, "Edit Script (AI)", ok=False),  # broke the script: no metric
    step(3, "Ask Expert", model="big"),
    step(4, "Edit Script (AI)"),
    step(5, "Final Answer"),
]


def state() -> dict[str, Any]:
    ledger = (
        Ledger()
        .record("planner", "small", tier=0, input_tokens=900, output_tokens=100)
        .record("coder", "small", tier=0, input_tokens=500, output_tokens=300)
        .record("coder", "big", tier=1, input_tokens=400, output_tokens=200, cost_usd=0.01)
        .record("expert", "big", tier=0, input_tokens=700, output_tokens=50)
    )
    return {
        "task": {"name": "houses", "metric": "MAE", "direction": "lower", "validation_baseline": 10.0},
        # Step 4 ran twice (an edit, then the debugger's fix): the fixed version counts.
        "measured": [(1, 9.0), (3, 9.5), (4, 12.0), (4, 8.0)],
        "escalations": [{"role": "coder", "step": 2, "from": "small", "to": "big", "reason": "edits broke"}],
        "ledger": ledger,
    }


def test_best_so_far_follows_the_direction_and_skips_missing_values() -> None:
    values = [9.0, None, 9.5, 8.0, None]
    assert best_so_far(values, "lower", start=10.0) == [9.0, 9.0, 9.0, 8.0, 8.0]
    assert best_so_far(values, "higher", start=10.0) == [10.0, 10.0, 10.0, 10.0, 10.0]
    assert best_so_far([None, 0.3, 0.2, 0.4], "higher") == [None, 0.3, 0.3, 0.4]
    assert best_so_far([], "lower", start=1.0) == []


def test_validation_per_step_reads_the_states_measurements() -> None:
    assert validation_per_step(STEPS, state()["measured"]) == [9.0, None, 9.5, 8.0, None]
    own = [step(1, "Edit Script (AI)") | {"validation": 7.0}]
    assert validation_per_step(own, [(1, 9.0)]) == [7.0]


def test_tokens_are_grouped_by_role_and_tier() -> None:
    grouped = tokens_by_role_tier(state()["ledger"].calls)
    assert grouped == {
        "planner": {(0, "small"): 1000},
        "coder": {(0, "small"): 800, (1, "big"): 600},
        "expert": {(0, "big"): 750},
    }


def test_run_png_is_written(tmp_path: Path) -> None:
    path = write_run_plot(tmp_path, state(), STEPS)
    assert path == tmp_path / PLOT_FILE
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000
    assert [p.name for p in tmp_path.iterdir()] == [PLOT_FILE]  # no temporary file left behind


def test_a_run_with_no_metric_and_no_calls_still_draws(tmp_path: Path) -> None:
    bare = {"task": {"name": "t", "metric": "accuracy", "direction": "higher", "validation_baseline": None}}
    assert plot_section(tmp_path, bare, [step(1, "(invalid reply)", ok=False)]) == "\n## Run\n\n![run](run.png)\n"
    assert (tmp_path / PLOT_FILE).read_bytes().startswith(b"\x89PNG")


def test_a_plotting_failure_is_a_report_line_not_an_exception(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: Any) -> Path:
        raise RuntimeError("no fonts\nat all")

    monkeypatch.setattr(run_plot, "write_run_plot", broken)
    result = {"task": "houses", "status": "final_answer", "steps": 5, "wall_time_s": 1.0, "cost_usd": 0.0}
    result |= {"escalations": 1, "expert_calls": 1}
    report = render_report(result, STEPS) + plot_section(tmp_path, state(), STEPS)
    assert report.endswith("\n- plot not drawn: no fonts at all\n") and "![run]" not in report
    assert not (tmp_path / PLOT_FILE).exists()


def test_a_missing_run_folder_is_reported_too(tmp_path: Path) -> None:
    line = plot_section(tmp_path / "gone", state(), STEPS)
    assert line.startswith("\n- plot not drawn: ")
