"""The benchmark harness on fake runners and scripted models: cells, resume, crashes, aggregation, report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import IMPROVED_TRAIN
from fakes import ScriptedModels

from budgetmlagent.benchmarks.configs import ConfigError, parse_config
from budgetmlagent.benchmarks.harness import RESULTS_FILE, Cell, Sweep, SweepSettings, effective_jobs, load_results
from budgetmlagent.benchmarks.report import aggregate, prompt_tokens_by_step, write_report
from budgetmlagent.benchmarks.trace_stats import run_stats
from budgetmlagent.runtime.presets import LOCAL_BASE, LOCAL_TOP

BASE = "openai_compatible:base@http://127.0.0.1:9/v1"


def test_configuration_names_follow_the_paper() -> None:
    single = parse_config("single-base").context_settings("local")
    assert single == {
        "use_retrieval": False,
        "use_experience": False,
        "preset": f"single:{LOCAL_BASE}",
        "use_expert": False,
        "use_cascade": False,
    }
    assert parse_config("single-expert").context_settings("local")["preset"] == f"single:{LOCAL_TOP}"
    cascade = parse_config("cascade").context_settings("local")
    assert cascade == {
        "use_retrieval": False,
        "use_experience": False,
        "preset": "local",
        "use_expert": False,
        "use_cascade": True,
    }
    full = parse_config("cascade+expert+R")
    assert full.base == "cascade+expert" and full.retrieval
    assert full.context_settings("local") == {
        "use_retrieval": True,
        "use_experience": False,
        "preset": "local",
        "use_expert": True,
        "use_cascade": True,
    }
    with pytest.raises(ConfigError, match="unknown configuration 'cascade\\+oracle'"):
        parse_config("cascade+oracle")


def test_jobs_are_capped_by_cores() -> None:
    assert effective_jobs(4, cpu_count=2) == 1
    assert effective_jobs(4, cpu_count=16) == 4
    assert effective_jobs(8, cpu_count=6) == 3


class FakeRunner:
    """Writes a small trace and returns a result; raises for keys listed in `crash` (count = times)."""

    def __init__(self, crash: dict[str, int] | None = None, success: set[str] | None = None) -> None:
        self.calls: list[str] = []
        self.crash = dict(crash or {})
        self.success = success or set()

    def __call__(self, cell: Cell, settings: SweepSettings, run_dir: Path) -> dict[str, Any]:
        self.calls.append(cell.key)
        run_dir.mkdir(parents=True, exist_ok=True)
        lines = [
            {"time": 100.0, "type": "start"},
            {"time": 103.0, "type": "llm_call", "step": 1, "role": "planner", "input_tokens": 900, "seconds": 2.0},
            {"time": 104.0, "type": "step", "step": 1},
            {"time": 106.0, "type": "llm_call", "step": 2, "role": "planner", "input_tokens": 1000, "seconds": 1.5,
             "cost_usd": 0.25},
            {"time": 109.0, "type": "script_run", "step": 2, "seconds": 2.5},
            {"time": 110.0, "type": "step", "step": 2},
        ]  # fmt: skip
        (run_dir / "trace.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
        if self.crash.get(cell.key, 0) > 0:
            self.crash[cell.key] -= 1
            raise RuntimeError(f"boom in {cell.key}")
        won = cell.key in self.success
        return {
            "status": "final_answer",
            "success": won,
            "score": 0.9 if won else 0.5,
            "baseline": 0.5,
            "improvement": 0.8 if won else 0.0,
            "steps": 2,
            "cost_usd": 0.25,
            "tokens_per_model": {"local:qwen2.5-coder-1.5b": {"input_tokens": 1900, "output_tokens": 100}},
            "expert_calls": 1,
            "escalations": 2,
        }


def settings(tmp_path: Path, **kw: Any) -> SweepSettings:
    tasks = [tmp_path / "tasks" / "alpha", tmp_path / "tasks" / "beta"]
    base = {"tasks": tasks, "configs": ["single-base", "cascade+expert"], "out": tmp_path / "sweep", "seeds": 1}
    return SweepSettings(**(base | kw))


def test_sweep_runs_each_cell_once_and_resumes(tmp_path: Path) -> None:
    runner = FakeRunner(success={"alpha/cascade+expert/seed0"})
    records = Sweep(settings(tmp_path), runner, log=lambda _: None).run()
    assert len(records) == len(runner.calls) == 4
    assert {r["key"] for r in records} == {
        f"{t}/{c}/seed0" for t in ("alpha", "beta") for c in ("single-base", "cascade+expert")
    }
    won = next(r for r in records if r["key"] == "alpha/cascade+expert/seed0")
    assert won["success"] and won["attempts"] == 1 and won["stats"]["planner_prompt_tokens"] == [900, 1000]
    assert won["run_dir"] == "runs/alpha/cascade+expert/seed0"

    again = FakeRunner()
    assert len(Sweep(settings(tmp_path), again, log=lambda _: None).run()) == 4
    assert again.calls == []  # finished cells are skipped
    more = FakeRunner()
    records = Sweep(settings(tmp_path, seeds=2), more, log=lambda _: None).run()
    assert sorted(more.calls) == sorted(
        f"{t}/{c}/seed1" for t in ("alpha", "beta") for c in ("single-base", "cascade+expert")
    )
    assert len(records) == 8 and len(load_results(tmp_path / "sweep")) == 8
    sweep = json.loads((tmp_path / "sweep" / "sweep.json").read_text())
    assert sweep["machine"]["cores"] and len(sweep["resumed"]) == 2


def test_crashed_cell_is_retried_once_then_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    flaky, broken = "alpha/single-base/seed0", "alpha/cascade+expert/seed0"
    runner = FakeRunner(crash={flaky: 1, broken: 5}, success={flaky})
    records = {r["key"]: r for r in Sweep(settings(tmp_path), runner, log=lambda _: None).run()}
    assert runner.calls.count(flaky) == 2 and runner.calls.count(broken) == 2
    assert records[flaky]["success"] and records[flaky]["attempts"] == 2
    assert records[flaky]["crash_errors"] == [f"RuntimeError: boom in {flaky}"]
    assert records[flaky]["cost_usd"] == pytest.approx(0.5)  # the crashed attempt's spend still counts
    failed = records[broken]
    assert failed["status"] == "crashed" and not failed["success"] and failed["score"] is None
    assert failed["error"] == f"RuntimeError: boom in {broken}" and failed["cost_usd"] == pytest.approx(0.5)
    assert (
        "RuntimeError"
        in (tmp_path / "sweep" / "runs" / "alpha" / "cascade+expert" / "seed0" / "crash-2.txt").read_text()
    )
    assert len(records) == 4  # the beta cells still ran
    # a recorded crash is a finished cell: resuming does not retry it forever
    again = FakeRunner()
    Sweep(settings(tmp_path), again, log=lambda _: None).run()
    assert again.calls == []


def test_a_killed_sweep_resumes_past_a_torn_line_and_a_half_run(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    Sweep(settings(tmp_path, configs=["single-base"]), FakeRunner(), log=lambda _: None).run()
    with (out / RESULTS_FILE).open("a") as fh:
        fh.write('{"key": "beta/cascade+expe')  # killed while writing
    half = out / "runs" / "beta" / "cascade+expert" / "seed0"
    half.mkdir(parents=True)
    (half / "trace.jsonl").write_text('{"type": "start", "time": 1}\n')
    runner = FakeRunner()
    records = Sweep(settings(tmp_path), runner, log=lambda _: None).run()
    assert sorted(runner.calls) == ["alpha/cascade+expert/seed0", "beta/cascade+expert/seed0"]
    assert len(records) == 4
    assert any(p.name.startswith("seed0.crashed-") for p in half.parent.iterdir())  # the half run is kept aside


def record(task: str, config: str, seed: int, success: bool, **kw: Any) -> dict[str, Any]:
    return {
        "key": f"{task}/{config}/seed{seed}",
        "task": task,
        "config": config,
        "seed": seed,
        "success": success,
        "score": kw.get("score", 1.0),
        "improvement": kw.get("improvement", 0.2 if success else 0.0),
        "cost_usd": kw.get("cost", 0.0),
        "tokens_per_model": {
            LOCAL_BASE: {"input_tokens": 1000, "output_tokens": 0},
            LOCAL_TOP: {"input_tokens": kw.get("top", 0), "output_tokens": 0},
        },
        "expert_calls": kw.get("expert", 0),
        "escalations": 1,
        "wall_time_s": 60.0,
        "stats": {"planner_prompt_tokens": kw.get("prompts", []), "overhead_s_per_step": [0.1, 0.3]},
    }


def test_aggregation_means_over_seeds_with_spread() -> None:
    records = [
        record("a", "cascade+expert", 0, True, top=2000, expert=2),
        record("a", "cascade+expert", 1, False, top=4000),
        record("b", "cascade+expert", 0, True, top=0),
        record("b", "cascade+expert", 1, True, top=0),
        record("a", "single-base", 0, False, score=None, improvement=None),
        record("b", "single-base", 0, False),
    ]
    agg = aggregate(records)
    full = agg["per_config"]["cascade+expert"]
    assert full["runs"] == 4 and full["success_rate"] == 0.75
    assert full["success_spread"] == pytest.approx(0.25)  # seed 0: 100 %, seed 1: 50 %
    assert full["tokens_per_model"][LOCAL_TOP] == 1500 and full["expert_calls"] == 0.5
    assert agg["per_task"]["a"]["cascade+expert"]["success_rate"] == 0.5
    base = agg["per_config"]["single-base"]
    assert base["success_rate"] == 0.0 and base["success_spread"] is None and base["no_score"] == 1


def test_prompt_tokens_are_bucketed_by_step_per_configuration() -> None:
    records = [
        record("a", "cascade+expert+R", 0, True, prompts=[1000, 1100, 1200, 1300, 1250]),
        record("a", "cascade+expert", 0, True, prompts=[1000, 1500, 2000, 2500]),
    ]
    table = prompt_tokens_by_step(records)
    assert table["cascade+expert+R"] == {"steps 1-3": 1100, "steps 4-6": 1275}
    assert table["cascade+expert"] == {"steps 1-3": 1500, "steps 4-6": 2500}


def test_report_has_tables_and_plots(tmp_path: Path) -> None:
    runner = FakeRunner(success={"alpha/cascade+expert/seed0", "beta/cascade+expert/seed0"})
    Sweep(settings(tmp_path), runner, log=lambda _: None).run()
    report = write_report(tmp_path / "sweep")
    text = report.read_text()
    assert "| cascade+expert | 2 | 100% | - | 100% |" in text and "| single-base | 2 | 0% | - | 0% |" in text
    assert "![success_vs_cost.png](success_vs_cost.png)" in text
    for name in ("success_vs_cost.png", "success_by_task.png"):
        assert (tmp_path / "sweep" / name).read_bytes().startswith(b"\x89PNG")
    assert "Median 2.0 s" in text  # see test_run_stats_separate_model_script_and_framework_time
    summary = json.loads((tmp_path / "sweep" / "summary.json").read_text())
    assert summary["aggregate"]["per_config"]["cascade+expert"]["cost_usd"] == 0.25


def test_run_stats_separate_model_script_and_framework_time(tmp_path: Path) -> None:
    FakeRunner()(Cell("t", tmp_path, parse_config("cascade"), 0), settings(tmp_path), tmp_path / "run")
    stats = run_stats(tmp_path / "run")
    assert stats["planner_prompt_tokens"] == [900, 1000]
    # step 1: 104-100 s minus 2.0 s model = 2.0 s; step 2: 110-104 s minus 1.5 model minus 2.5 script = 2.0 s
    assert stats["overhead_s_per_step"] == [2.0, 2.0]
    assert stats["llm_seconds"] == 3.5 and stats["script_seconds"] == 2.5 and stats["trace_cost_usd"] == 0.25


def test_a_real_graph_cell_with_scripted_models(tiny_task: Path, tmp_path: Path) -> None:
    edit = {
        "reflection": "noted",
        "research_plan_and_status": "1. improve",
        "fact_check": "none",
        "thought": "raise it",
        "action": {
            "name": "Edit Script (AI)",
            "input": {"script_name": "train.py", "edit_instruction": "raise the score", "save_name": "train.py"},
        },
    }
    final = edit | {"action": {"name": "Final Answer", "input": {"final_answer": "done"}}}
    models = ScriptedModels({BASE: [edit, {"summary": "s", "code": IMPROVED_TRAIN}, final]})
    sweep_settings = SweepSettings(
        tasks=[tiny_task],
        configs=["single-base"],
        out=tmp_path / "sweep",
        preset=f"single:{BASE}",
        max_steps=5,
        context_overrides={"chat_model_factory": models, "cache_dir": str(tmp_path / "cache"), "keep_improving": False},
    )
    (only,) = Sweep(sweep_settings, log=lambda _: None).run()
    assert only["success"] and only["status"] == "final_answer" and only["score"] == 0.9
    assert only["stats"]["planner_prompt_tokens"] == [100, 100]
    assert only["stats"]["script_seconds"] > 0 and len(only["stats"]["overhead_s_per_step"]) == 2
    run_dir = tmp_path / "sweep" / only["run_dir"]
    assert (run_dir / "result.json").is_file() and (run_dir / "memory").parent == run_dir


def test_settings_from_the_command_line_are_typed_and_checked() -> None:
    from budgetmlagent.runtime.context import parse_settings

    assert parse_settings(["use_best_snapshot=false", "lifelines=3", "tries_per_tier=2,1"]) == {
        "use_best_snapshot": False,
        "lifelines": 3,
        "tries_per_tier": [2, 1],
    }
    with pytest.raises(ValueError, match="expected NAME=VALUE with NAME one of"):
        parse_settings(["use_magic=true"])
    with pytest.raises(ValueError, match="'lifelines=many'"):
        parse_settings(["lifelines=many"])
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        parse_settings(["chat_model_factory=x"])


def test_sweep_settings_reach_every_run_and_sweep_json(tmp_path: Path) -> None:
    seen: list[Any] = []

    def runner(cell: Cell, settings: SweepSettings, run_dir: Path) -> dict[str, Any]:
        seen.append(settings.context_overrides)
        return FakeRunner()(cell, settings, run_dir)

    Sweep(settings(tmp_path, context_overrides={"use_best_snapshot": False}), runner, log=lambda _: None).run()
    assert seen and all(s == {"use_best_snapshot": False} for s in seen)
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["settings"] == {"use_best_snapshot": False}


def test_parallel_cells_each_write_one_intact_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    runner = FakeRunner()
    records = Sweep(settings(tmp_path, seeds=3, jobs=4), runner, log=lambda _: None).run()
    assert len(records) == len(runner.calls) == 12
    lines = (tmp_path / "sweep" / RESULTS_FILE).read_text().splitlines()
    assert len(lines) == 12 and len({json.loads(line)["key"] for line in lines}) == 12


def test_the_tally_counts_cells_successes_and_time_left_across_a_resume(tmp_path: Path) -> None:
    tallies: list[tuple[int, int, int]] = []
    lines: list[str] = []

    def seen(tally: Any) -> None:
        tallies.append((tally.done, tally.total, tally.successes))

    first = settings(tmp_path, configs=["single-base"])
    Sweep(first, FakeRunner(success={"alpha/single-base/seed0"}), log=lines.append, on_cell=seen).run()
    assert tallies == [(0, 2, 0), (1, 2, 1), (2, 2, 1)]
    assert "| 1/2 cells done, 1 successes, 0 min elapsed, about 0 min left" in lines[1]
    tallies.clear()
    Sweep(settings(tmp_path), FakeRunner(), log=lines.append, on_cell=seen).run()  # two more cells, two kept
    assert tallies[0] == (2, 4, 1) and tallies[-1] == (4, 4, 1)


def test_a_sweep_without_a_terminal_logs_plain_lines(capsys: pytest.CaptureFixture[str]) -> None:
    from budgetmlagent.bench_command import sweep_display

    with sweep_display() as (log, on_cell):
        log("[alpha/single-base/seed0] SUCCESS | 1/2 cells done")
    assert on_cell is None  # no progress bar under pytest (no terminal)
    assert capsys.readouterr().err == "[alpha/single-base/seed0] SUCCESS | 1/2 cells done\n"


def test_a_checkpoint_under_a_relative_out_folder_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `bench --out benchmarks/results/...` (relative) stopped every resume with "relative path can't be expressed
    # as a file URI" before any cell ran.
    import sqlite3

    from budgetmlagent.benchmarks.harness import resumable
    from budgetmlagent.runtime.durable import CHECKPOINT_FILE

    cell = tmp_path / "out" / "runs" / "t" / "c" / "seed0"
    cell.mkdir(parents=True)
    with sqlite3.connect(cell / CHECKPOINT_FILE) as conn:
        conn.execute("CREATE TABLE checkpoints (id TEXT)")
        conn.execute("INSERT INTO checkpoints VALUES ('1')")
    monkeypatch.chdir(tmp_path)
    assert resumable(Path("out/runs/t/c/seed0"))
