"""The real thing: the agent on local models, real scripts, real Chroma, over the bundled task."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

from budgetmlagent.graph import Context, build_graph, recursion_limit
from budgetmlagent.runtime.run_folder import read_trace

TITANIC = Path(__file__).resolve().parents[2] / "benchmarks" / "tasks" / "titanic"

pytestmark = pytest.mark.integration


def test_local_run_of_a_few_steps_leaves_a_result_that_matches_its_trace(tmp_path: Path) -> None:
    ctx = Context(
        max_steps=2,
        recipes_first=False,  # the models' steps: the recipe phase would take both without a model call
        runs_dir=str(tmp_path / "runs"),
        memory_dir=str(tmp_path / "memory"),
        cache_dir=str(tmp_path / "cache"),
        code_output_tokens=1200,
    )
    state = build_graph().invoke(
        {"task_dir": str(TITANIC)}, context=ctx, config={"recursion_limit": recursion_limit(ctx.max_steps)}
    )
    run_dir = Path(state["run_dir"])
    result = json.loads((run_dir / "result.json").read_text())
    trace = read_trace(run_dir)

    assert result["status"] in ("step_cap", "final_answer")
    assert result["baseline"] == pytest.approx(0.6997, abs=1e-3)  # measured by running the real baseline
    steps = [r for r in trace if r["type"] == "step"]
    calls = [r for r in trace if r["type"] == "llm_call"]
    assert result["steps"] == len(steps) == len(state["steps"]) >= 1
    assert result["llm_calls"] == len(calls) >= 1
    per_model: dict[str, dict[str, int]] = defaultdict(lambda: {"input_tokens": 0, "output_tokens": 0, "calls": 0})
    for call in calls:
        per_model[call["model"]]["input_tokens"] += call["input_tokens"]
        per_model[call["model"]]["output_tokens"] += call["output_tokens"]
        per_model[call["model"]]["calls"] += 1
    for model, usage in result["tokens_per_model"].items():
        assert usage["input_tokens"] == per_model[model]["input_tokens"] > 0
        assert usage["output_tokens"] == per_model[model]["output_tokens"] > 0
        assert usage["calls"] == per_model[model]["calls"]
    assert result["cost_usd"] == 0.0  # local models are free; their tokens are still counted
    assert (run_dir / "workspace" / "train.py").exists() and (run_dir / "report.md").exists()
    assert json.loads((run_dir / "config.json").read_text())["models"]["planner"][0] == "local:qwen2.5-coder-0.5b"

    from budgetmlagent.memory.observations import ObservationMemory

    observed = [s for s in steps if s["action"] != "Final Answer"]  # the final answer ends the run instead
    assert ObservationMemory(tmp_path / "memory").count() == len(observed)  # every step went to Chroma
