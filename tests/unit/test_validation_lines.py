"""Hold-out metric lines recognised without a declared pattern, and numbers printed with separators."""

from __future__ import annotations

import json
import re

import pytest

from budgetmlagent.workspace.task_check import TASKS_DIR
from budgetmlagent.workspace.validation import read_validation_metric, recognise_validation_pattern


@pytest.mark.parametrize(
    ("output", "metric", "value"),
    [
        ("Train MAE: 7,504\nValidation MAE: 18,450\n", "MAE", 18450.0),  # MLAgentBench's house-price prints
        ("epoch 1 val_accuracy = 0.83\nepoch 2 val_accuracy = 0.85\n", "accuracy", 0.85),  # the last one counts
        ("Hold-out RMSE is 1.2e3\n", None, 1200.0),
        ("CV F1: 85.3%\n", "F1", 85.3),
        ("val loss: 0.3, val acc: 0.8\n", "accuracy", 0.8),  # the label that names the task's metric
        ("valid_mae 3.5\n", "MAE", 3.5),
        ("Validation set size: 1,000\nValidation score: 0.7\n", "score", 0.7),  # a row count is no metric
        ("Validation MAE: -1.5e-3\n", "MAE", -0.0015),
        ("Validation RMSE (ratings): 0.9412\n", None, 0.9412),
        ("[2019 held out] median error = 4.2 days\n", None, 4.2),  # a time split's last year, held out
    ],
)
def test_common_hold_out_lines_are_recognised(output: str, metric: str | None, value: float) -> None:
    pattern = recognise_validation_pattern(output, metric)
    assert pattern is not None
    assert read_validation_metric(output, pattern) == pytest.approx(value)


@pytest.mark.parametrize(
    ("output", "metric"),
    [
        ("done\n", None),
        ("Train accuracy 0.9\n", "accuracy"),  # a training score is not a hold-out score
        ("val loss: 0.3\nval acc: 0.8\n", None),  # two metrics and no name to choose by: no guess
        ("val loss: 0.3\nval acc: 0.8\n", "F1"),
    ],
)
def test_no_pattern_when_no_single_hold_out_metric_is_printed(output: str, metric: str | None) -> None:
    assert recognise_validation_pattern(output, metric) is None


def test_a_thousands_separator_is_read_whole() -> None:
    assert read_validation_metric("Validation MAE: 18,450\n", r"Validation MAE: (\S+)") == 18450.0
    assert read_validation_metric("Validation MAE: 1,234,567.5\n", r"Validation MAE: (\S+)") == 1234567.5


def test_the_bundled_tasks_printed_lines_are_recognised_as_their_declared_pattern_reads_them() -> None:
    """Without declarations, the bundled tasks' lines must read the same value as with them."""
    checked = 0
    for task in sorted(TASKS_DIR.iterdir()):
        config = task / "scripts" / "budgetmlagent.json"
        if not config.is_file() or "validation_pattern" not in json.loads(config.read_text()):
            continue
        declared = json.loads(config.read_text())
        line = re.sub(r"\(.*\)", "0.8125", declared["validation_pattern"].replace("\\", "")) + "\n"
        output = "Train score: 0.9\n" + line
        pattern = recognise_validation_pattern(output, declared["metric"])
        assert pattern is not None, (task.name, line)
        assert read_validation_metric(output, pattern) == read_validation_metric(output, declared["validation_pattern"])
        checked += 1
    assert checked >= 8


def test_a_recognised_pattern_still_reads_the_line_after_a_coder_changes_its_capitals() -> None:
    pattern = recognise_validation_pattern("Validation MAE: 3.5\n", "MAE")
    assert read_validation_metric("validation mae: 4.25\n", pattern) == 4.25
