"""Verdict arithmetic, eval.py scoring in a subprocess, declared and cached baselines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from budgetmlagent.workspace.scoring import baseline_score, improvement, score_workspace, verdict
from budgetmlagent.workspace.task import load_task

EVAL = """
import pandas as pd

def get_score(submission_folder="../env"):
    answer = pd.read_csv("answer.csv")  # relative: eval.py runs with cwd = scripts/
    with open(submission_folder + "/submission.txt") as handle:
        return float(handle.read()) + 0 * len(answer)
"""


def make_task(tmp_path: Path, *, eval_py: str = EVAL, config: dict | None = None) -> Path:
    root = tmp_path / "scored"
    (root / "env").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "env" / "train.py").write_text("open('submission.txt', 'w').write('0.25')\n")
    (root / "scripts" / "research_problem.txt").write_text("p\n")
    (root / "scripts" / "eval.py").write_text(eval_py)
    (root / "scripts" / "answer.csv").write_text("y\n1\n")
    if config is not None:
        (root / "scripts" / "budgetmlagent.json").write_text(json.dumps(config))
    return root


# -- verdict -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "baseline", "direction", "success", "expected"),
    [
        (0.80, 0.70, "higher", True, 0.142857),
        (0.77, 0.70, "higher", False, 0.10),  # exactly +10 % is not "more than"
        (0.55, 0.50, "higher", False, 0.10),
        (0.60, 0.70, "higher", False, -0.142857),
        (80.0, 100.0, "lower", True, 0.20),
        (95.0, 100.0, "lower", False, 0.05),
        (120.0, 100.0, "lower", False, -0.20),
        (-0.8, -1.0, "higher", True, 0.20),  # negative baselines use |baseline|
        (0.2, 0.0, "higher", True, 0.2),  # zero baseline: absolute change
        (0.05, 0.0, "higher", False, 0.05),
        (-0.2, 0.0, "lower", True, 0.2),
    ],
)
def test_verdict_arithmetic(score: float, baseline: float, direction: str, success: bool, expected: float) -> None:
    result = verdict(score, baseline, direction)  # type: ignore[arg-type]
    assert result.success is success
    assert result.improvement == pytest.approx(expected, abs=1e-6)
    assert improvement(score, baseline, direction) == pytest.approx(expected, abs=1e-6)  # type: ignore[arg-type]


@pytest.mark.parametrize(("score", "baseline"), [(None, 0.7), (float("nan"), 0.7), (0.9, None)])
def test_verdict_without_score_or_baseline_fails(score: float | None, baseline: float | None) -> None:
    result = verdict(score, baseline, "higher")
    assert result.success is False and result.improvement is None and result.reason


# -- scoring -------------------------------------------------------------------------------------


def test_score_workspace_runs_eval_with_scripts_as_cwd(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path))
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "submission.txt").write_text("0.75")
    result = score_workspace(task, folder, timeout_s=60)
    assert result.score == 0.75 and result.error is None


FILE_EVAL = """
def get_score(submission_path="../env/submission.txt"):
    with open(submission_path) as handle:  # some MLAgentBench forks score the file, not its folder
        return float(handle.read())
"""


def test_an_eval_whose_get_score_takes_a_file_is_given_the_file(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path, eval_py=FILE_EVAL))
    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "submission.txt").write_text("0.5")
    result = score_workspace(task, folder, timeout_s=60)
    assert result.score == 0.5 and result.error is None


def test_score_workspace_reports_eval_failure(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path))
    folder = tmp_path / "ws"
    folder.mkdir()  # no submission.txt
    result = score_workspace(task, folder, timeout_s=60)
    assert result.score is None and result.error is not None and "FileNotFoundError" in result.error


def test_score_workspace_rejects_non_finite_and_missing_eval(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path, eval_py="def get_score(folder):\n    return float('nan')\n"))
    result = score_workspace(task, tmp_path, timeout_s=60)
    assert result.score is None and "non-finite" in (result.error or "")
    task.eval_script.unlink()
    result = score_workspace(task, tmp_path, timeout_s=60)
    assert result.score is None and "no scripts/eval.py" in (result.error or "")


def test_score_workspace_timeout(tmp_path: Path) -> None:
    slow = "import time\ndef get_score(folder):\n    time.sleep(30)\n    return 1.0\n"
    task = load_task(make_task(tmp_path, eval_py=slow))
    result = score_workspace(task, tmp_path, timeout_s=1)
    assert result.score is None and "did not finish" in (result.error or "")


def test_declared_baseline_needs_no_run(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path, config={"baseline": 0.5}))
    result = baseline_score(task, tmp_path / "cache", timeout_s=60)
    assert (result.score, result.source) == (0.5, "declared")
    assert not (tmp_path / "cache").exists()


def test_measured_baseline_is_cached(tmp_path: Path) -> None:
    task = load_task(make_task(tmp_path))
    first = baseline_score(task, tmp_path / "cache", timeout_s=60)
    assert (first.score, first.source) == (0.25, "measured")
    second = baseline_score(task, tmp_path / "cache", timeout_s=60)
    assert (second.score, second.source) == (0.25, "cache")
    assert not (task.env_dir / "submission.txt").exists()  # measured in a copy


def test_failing_baseline_script_is_reported(tmp_path: Path) -> None:
    root = make_task(tmp_path)
    (root / "env" / "train.py").write_text("raise RuntimeError('broken starter')\n")
    result = baseline_score(load_task(root), tmp_path / "cache", timeout_s=60)
    assert result.score is None and "broken starter" in (result.error or "")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())
