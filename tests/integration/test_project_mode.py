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
