"""The CLI's live status line: which role works, with which model, for how long, at what cost so far."""

from __future__ import annotations

import io
from pathlib import Path

from conftest import IMPROVED_TRAIN
from fakes import ScriptedModels
from rich.console import Console
from test_durable import FINAL, LIST, PRICED, context
from test_graph_edges import code, edit

from budgetmlagent.graph import build_graph
from budgetmlagent.progress import STREAM_MODES, LiveStatus, Progress


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_status_line_counts_the_seconds_of_the_current_call() -> None:
    clock = FakeClock()
    status = LiveStatus(clock=clock)
    assert status.text() == "starting"
    status.node_started("coder")
    status.model_called({"role": "coder", "model": "local:qwen2.5-coder-1.5b", "tier": 1})
    clock.now += 42
    assert status.text() == "step 1: coder writing code local:qwen2.5-coder-1.5b (tier 1) | 42 s | 0 tok $0.0000"
    status.node_started("executor")  # a new node: its own clock, no model until one is called
    clock.now += 3
    assert status.text().startswith("step 1: executor running the action | 3 s")


def run_with_progress(tiny_task: Path, tmp_path: Path, console: Console) -> list[str]:
    """A scripted run streamed into Progress as the CLI does; returns the status text after each event."""
    models = ScriptedModels({PRICED: [LIST, edit(), code(IMPROVED_TRAIN), FINAL]})
    progress = Progress(console)
    seen: list[str] = []
    with progress:
        for mode, data in build_graph().stream(
            {"task_dir": str(tiny_task), "run_dir": str(tmp_path / "run")},
            context=context(tmp_path, models),
            stream_mode=STREAM_MODES,
            config={"recursion_limit": 100},
        ):
            progress.event(mode, data)
            seen.append(progress.status.text())
    return seen


def test_the_status_line_follows_roles_models_and_cost(tiny_task: Path, tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=200)
    seen = run_with_progress(tiny_task, tmp_path, console)
    assert any(text.startswith(f"step 1: planner planning {PRICED} (tier 0)") for text in seen)
    assert any(text.startswith(f"step 2: coder writing code {PRICED} (tier 0)") for text in seen)
    assert any("executor running the action" in text for text in seen)
    last = seen[-1]
    assert "$0.0000" not in last and "tok" in last  # dollars and tokens so far come from the ledger


def test_without_a_terminal_only_plain_step_lines_are_printed(tiny_task: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    run_with_progress(tiny_task, tmp_path, Console(file=out, force_terminal=False, width=200))
    text = out.getvalue()
    assert "step  1 List Files" in text and "step  2 Edit Script (AI)" in text
    assert "…" not in text and "\x1b[" not in text  # no status line, no cursor movement
