"""Experience across runs on a real task, with the real MiniLM embeddings and Chroma: a second no-model run of
ames-house-price takes the first run's best version first and reaches +10 % on the validation metric sooner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from budgetmlagent.graph import Context, build_graph, recursion_limit
from budgetmlagent.memory.experience import read_records

AMES = Path(__file__).resolve().parents[2] / "benchmarks" / "tasks" / "ames-house-price"

pytestmark = pytest.mark.integration


def no_model(spec: str, temperature: float, max_tokens: int) -> None:
    raise AssertionError(f"recipes_only built a chat model: {spec}")


def run(tmp_path: Path, store: Path, name: str) -> dict[str, Any]:
    ctx = Context(
        recipes_only=True,
        use_expert=False,
        use_cascade=False,
        use_retrieval=False,
        use_experience=True,
        experience_dir=str(store),
        max_steps=10,
        runs_dir=str(tmp_path / name),
        cache_dir=str(tmp_path / "cache"),
        chat_model_factory=no_model,
    )
    state = build_graph().invoke(
        {"task_dir": str(AMES)}, context=ctx, config={"recursion_limit": recursion_limit(ctx.max_steps)}
    )
    return state["result"]


def test_a_second_run_of_a_real_task_reaches_its_first_success_sooner(tmp_path: Path) -> None:
    store = tmp_path / "experience"
    first = run(tmp_path, store, "first")
    second = run(tmp_path, store, "second")
    assert first["success"] and second["success"]
    assert first["first_success_step"] is not None and first["first_success_step"] > 1
    assert second["first_success_step"] == 1
    assert second["experience"]["status"] == "on" and second["experience"]["used"]
    assert any(r.kind == "run" for r in read_records(store))
    report = (Path(second["run_dir"]) / "report.md").read_text()
    assert "first reached +10 % on the validation metric at step 1" in report
