"""An ordinary project (script, data, the user's own score command) run as a task: real scripts, real scoring."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from budgetmlagent.workspace.errors import TaskError
from budgetmlagent.workspace.project import project_task_folder
from budgetmlagent.workspace.scoring import baseline_score, score_workspace, verdict
from budgetmlagent.workspace.task import load_task
from budgetmlagent.workspace.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "diabetes-project"
GOAL = "Lower the RMSE of the progression predictions"
READ_ONLY = ["evaluate.py", "data/train.csv", "data/holdout.csv", "data/holdout_labels.csv"]

pytestmark = pytest.mark.integration


def make_folder(tmp_path: Path, project: Path = EXAMPLE, **kwargs: object) -> Path:
    settings: dict = {"goal": GOAL, "score_cmd": "python evaluate.py", "read_only": READ_ONLY} | kwargs
    return project_task_folder(project, cache_dir=tmp_path / "cache", **settings)


def test_the_example_project_is_a_scoreable_task_and_a_better_script_wins(tmp_path: Path) -> None:
    task = load_task(make_folder(tmp_path))
    assert (task.metric_name, task.direction, task.baseline_script) == ("RMSE", "lower", "train.py")
    assert "evaluate.py" in task.read_only_files
    baseline = baseline_score(task, tmp_path / "baselines", timeout_s=120)
    assert baseline.score == pytest.approx(72.11, abs=0.01), baseline.error
    ws = Workspace.create(task, tmp_path / "ws")
    train = (ws.root / "train.py").read_text()
    ws.write_text("train.py", train.replace('["age", "sex"]', "list(holdout.columns)"))
    assert ws.run_script("train.py", timeout_s=120).ok
    improved = score_workspace(task, ws.root, timeout_s=120)
    assert improved.score is not None and improved.score < 60
    assert verdict(improved.score, baseline.score, task.direction).success
    assert not (EXAMPLE / "predictions.csv").exists()  # the project itself is never touched


def test_project_folders_refuse_what_cannot_work(tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="--direction"):
        make_folder(tmp_path, goal="Make the model better")
    with pytest.raises(TaskError, match=r"--read-only nope\.py"):
        make_folder(tmp_path, read_only=["nope.py"])
    bare = tmp_path / "bare"
    shutil.copytree(EXAMPLE, bare)
    (bare / "train.py").rename(bare / "fit.py")
    (bare / "other.py").write_text("")
    with pytest.raises(TaskError, match="--script"):
        make_folder(tmp_path, project=bare)
    assert make_folder(tmp_path, project=bare, script="fit.py", direction="lower").is_dir()


def test_a_project_run_through_the_graph_ends_on_the_better_script_with_the_users_score(tmp_path: Path) -> None:
    """The graph on the project's task folder; the replies are scripted, the runs and the score command real."""
    from fakes import ScriptedModels

    from budgetmlagent.graph import Context, build_graph, recursion_limit

    model = "openai_compatible:scripted@http://127.0.0.1:9/v1"

    def plan(name: str, **action_input: object) -> dict:
        reply = {"reflection": "r", "research_plan_and_status": "p", "fact_check": "f", "thought": f"now {name}"}
        return reply | {"action": {"name": name, "input": action_input}}

    from budgetmlagent.scaffold.starter import hold_out_code

    # The script prints no validation metric: the scaffold's first step puts in its own hold-out check (no model).
    measured = hold_out_code((EXAMPLE / "train.py").read_text(), "RMSE")
    assert measured is not None
    better = measured.replace('["age", "sex"]', "list(holdout.columns)")
    instruction = "Use every column of the holdout table as a feature: features = list(holdout.columns)."
    replies = [
        plan("Edit Script (AI)", script_name="train.py", edit_instruction=instruction, save_name="train.py"),
        {"summary": "all columns", "code": better},
        plan("Final Answer", final_answer="all columns"),
    ]
    ctx = Context(
        planner_models=[model],
        coder_models=[model],
        debugger_models=[model],
        worker_model=model,
        expert_model=model,
        use_retrieval=False,
        keep_improving=False,  # the scripted planner stops when it chooses
        recipes_first=False,  # the scripted planner's edit comes first
        runs_dir=str(tmp_path / "runs"),
        cache_dir=str(tmp_path / "cache"),
        chat_model_factory=ScriptedModels({model: replies}),
    )
    state = build_graph().invoke(
        {"task_dir": str(make_folder(tmp_path))},
        context=ctx,
        config={"recursion_limit": recursion_limit(ctx.max_steps)},
    )
    result = state["result"]
    assert result["baseline"] == pytest.approx(72.11, abs=0.01) and result["direction"] == "lower"
    assert result["score"] < 60 and result["success"], result
    first = state["steps"][0]
    assert first["model"] == "scaffold" and first["ok"] and "Validation RMSE" in first["observation"]


def test_the_cli_refuses_half_a_project_run_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from budgetmlagent.cli import main

    out = str(tmp_path / "run")
    assert main(["run", str(EXAMPLE), "--goal", GOAL, "--out", out]) == 2
    assert "a project run needs both --goal TEXT and --score-cmd CMD" in capsys.readouterr().err
    assert main(["run", str(EXAMPLE), "--goal", "Make it better", "--score-cmd", "python evaluate.py"]) == 2
    assert "--direction" in capsys.readouterr().err
