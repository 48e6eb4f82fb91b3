"""The bundled suite's folders and `budgetmlagent tasks check` on good and broken folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budgetmlagent.cli import main
from budgetmlagent.workspace.errors import TaskError
from budgetmlagent.workspace.task import TaskConfig
from budgetmlagent.workspace.task_check import bundled_tasks, check_task_folder, resolve_task
from budgetmlagent.workspace.validation import read_validation_metric

SUITE = {
    "adult-income", "ames-house-price", "fashion-mnist", "food-review-sentiment", "letter-recognition",
    "movielens-rating", "telecom-churn", "tiny-gpt-inference", "titanic", "vectorize-conv2d",
}  # fmt: skip


def test_the_suite_has_ten_complete_tasks() -> None:
    assert {p.name for p in bundled_tasks()} == SUITE
    for task in bundled_tasks():
        errors = [f.message for f in check_task_folder(task) if f.level == "error"]
        assert errors == [], (task.name, errors)
        config = TaskConfig.model_validate_json((task / "scripts" / "budgetmlagent.json").read_text())
        assert config.baseline is None  # baselines are measured, never declared
        assert (task / "reference").is_dir() and not (task / "env" / "reference").exists()
        ignored = (task / ".gitignore").read_text()
        assert "answer" in ignored  # hidden answers and data are generated, never committed
        script = (task / "env" / config.baseline_script).read_text()
        assert f"Validation {config.metric}" in script, f"{task.name}: baseline must print its validation metric"
        assert config.validation_pattern is not None
        assert read_validation_metric(f"Validation {config.metric}: 0.25\n", config.validation_pattern) == 0.25
        # A task whose eval.py imports the script (timing tasks) declares it, so the unchanged-code rule sees it.
        imports = 'SCRIPT = "' + config.baseline_script + '"' in (task / "scripts" / "eval.py").read_text()
        assert config.scored_code == ([config.baseline_script] if imports else []), task.name


def test_resolve_task_by_name_or_path(tmp_path: Path) -> None:
    assert resolve_task("titanic").name == "titanic"
    assert resolve_task(str(tmp_path)) == tmp_path.resolve()
    with pytest.raises(TaskError, match="bundled tasks: adult-income"):
        resolve_task("no-such-task")


def test_check_says_precisely_what_is_missing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "broken"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "eval.py").write_text("def score(folder):\n    return 1.0\n")
    (root / "scripts" / "budgetmlagent.json").write_text(json.dumps({"metric": "acc", "direction": "up"}))
    assert main(["tasks", "check", str(root)]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] env/ is missing" in out
    assert "[FAIL] scripts/research_problem.txt is missing" in out
    assert "[FAIL] scripts/eval.py has no top-level function get_score(submission_folder)" in out
    assert "[FAIL] scripts/budgetmlagent.json is invalid" in out
    assert "3 problem(s)" not in out and "4 problem(s)" in out


def test_check_accepts_an_mlagentbench_folder_with_warnings(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = tmp_path / "house-price"  # a known MLAgentBench task name: its metric comes from the table
    (root / "env").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "env" / "train.py").write_text("print(1)\n")
    (root / "scripts" / "research_problem.txt").write_text("Predict prices.")
    (root / "scripts" / "eval.py").write_text("def get_score(submission_folder='../env'):\n    return 1.0\n")
    (root / "scripts" / "read_only_files.txt").write_text("./train.csv\n")
    assert main(["tasks", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "metric MAE (MLAgentBench's table of its tasks), lower is better (MLAgentBench's table of its tasks)" in out
    assert "[warn] read_only_files.txt patterns match no file in env/: ./train.csv" in out


def test_check_prints_the_metric_and_direction_it_inferred_and_from_where(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    root = tmp_path / "my-regression"  # nobody's known task, no budgetmlagent.json
    (root / "env").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "env" / "train.py").write_text("print(1)\n")
    (root / "scripts" / "research_problem.txt").write_text("Predict the price of each house.")
    (root / "scripts" / "eval.py").write_text(
        "from sklearn.metrics import mean_squared_error\n\n"
        "def get_score(submission_folder='../env'):\n    return mean_squared_error([1.0], [2.0]) ** 0.5\n"
    )
    assert main(["tasks", "check", str(root)]) == 0
    out = capsys.readouterr().out
    said = "eval.py calls mean_squared_error"
    assert f"[ok  ] metric RMSE ({said}), lower is better ({said})" in out
    (root / "scripts" / "eval.py").write_text("def get_score(submission_folder='../env'):\n    return 1.0\n")
    assert main(["tasks", "check", str(root)]) == 0
    out = capsys.readouterr().out
    assert "[warn] metric score (nothing says; the default), higher is better" in out and "declare it" in out


def test_tasks_list_names_every_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks", "list"]) == 0
    out = capsys.readouterr().out
    assert "titanic" in out and "RMSE (lower is better)" in out and "10 tasks" in out


def test_bench_refuses_unknown_names_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--tasks", "titanic", "--configs", "cascade+oracle", "--out", str(tmp_path)]) == 2
    assert "unknown configuration 'cascade+oracle'" in capsys.readouterr().err
    assert main(["bench", "--tasks", "nope", "--out", str(tmp_path)]) == 2
    assert "no task folder 'nope'" in capsys.readouterr().err
    assert main(["bench", "--tasks", "titanic", "--preset", "huge", "--out", str(tmp_path)]) == 2
    assert "unknown preset 'huge'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("print('Validation accuracy: 0.75')", "[ok  ] the starter prints its validation accuracy: 0.75 (recognised"),
        ("print('done')", "[note] the starter prints no validation accuracy: the agent's first change will"),
    ],
)
def test_check_run_says_what_validation_the_starter_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture, printed: str, expected: str
) -> None:
    root = tmp_path / "printing"
    (root / "env").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "env" / "train.py").write_text(f"open('submission.csv', 'w').write('0.5')\n{printed}\n")
    (root / "scripts" / "research_problem.txt").write_text("Improve the accuracy.")
    (root / "scripts" / "eval.py").write_text(
        "import os\n\ndef get_score(submission_folder='../env'):\n"
        "    return float(open(os.path.join(submission_folder, 'submission.csv')).read())\n"
    )
    assert main(["tasks", "check", str(root), "--run"]) == 0
    assert expected in capsys.readouterr().out
