"""A real tiny sweep: one bundled task, two configurations, two steps each, on the local models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budgetmlagent.cli import main

pytestmark = pytest.mark.integration


def test_tiny_real_sweep_reports_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("BUDGETMLAGENT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "sweep"
    argv = ["bench", "--tasks", "titanic", "--configs", "single-base", "cascade+expert+R", "--max-steps", "2",
            "--script-timeout", "120", "--set", "recipes_first=false", "--out", str(out)]  # fmt: skip
    # recipes_first off: the two steps are the models' (the recipe phase would take them without a model call)
    assert main(argv) == 0
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["config"] for r in records] == ["single-base", "cascade+expert+R"]
    for r in records:
        assert r["status"] in ("step_cap", "final_answer"), r
        assert r["baseline"] == pytest.approx(0.6997, abs=1e-3)
        assert r["score"] is not None and r["attempts"] == 1
        run_dir = out / r["run_dir"]
        assert json.loads((run_dir / "result.json").read_text())["steps"] == r["steps"]
        assert r["stats"]["planner_prompt_tokens"][0] > 300  # measured by the real server
        assert all(x >= 0 for x in r["stats"]["overhead_s_per_step"])
    single = json.loads((out / records[0]["run_dir"] / "config.json").read_text())
    assert single["models"]["planner"] == ["local:qwen2.5-coder-0.5b"] and not single["use_retrieval"]
    full = json.loads((out / records[1]["run_dir"] / "config.json").read_text())
    assert full["models"]["planner"] == ["local:qwen2.5-coder-0.5b", "local:qwen2.5-coder-1.5b"]
    assert full["use_retrieval"] and full["models"]["expert"] == "local:qwen2.5-coder-1.5b"
    report = (out / "report.md").read_text()
    assert "| single-base | 1 |" in report and "| cascade+expert+R | 1 |" in report
    assert (out / "success_vs_cost.png").stat().st_size > 1000

    capsys.readouterr()
    assert main(argv) == 0  # everything finished: the re-run only rebuilds the report
    assert "resuming: 2 of 2 cells already finished" in capsys.readouterr().err  # the sweep's log is on stderr
    assert len((out / "results.jsonl").read_text().splitlines()) == 2
