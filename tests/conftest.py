"""Shared fixtures: a tiny MLAgentBench-style task whose score is whatever train.py writes."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

BASELINE_TRAIN = textwrap.dedent(
    """\
    score = 0.5
    with open("submission.csv", "w") as fh:
        fh.write(f"{score}\\n")
    print(f"validation score: {score}")
    """
)

IMPROVED_TRAIN = BASELINE_TRAIN.replace("score = 0.5", "score = 0.9")
BROKEN_TRAIN = BASELINE_TRAIN.replace("score = 0.5", "score = undefined_name")

EVAL = textwrap.dedent(
    """\
    from pathlib import Path


    def get_score(submission_folder):
        return float((Path(submission_folder) / "submission.csv").read_text().strip())
    """
)


@pytest.fixture
def tiny_task(tmp_path: Path) -> Path:
    """A task folder in MLAgentBench form: env/train.py, scripts/eval.py and the problem text."""
    root = tmp_path / "tiny-task"
    (root / "env").mkdir(parents=True)
    (root / "scripts").mkdir()
    (root / "env" / "train.py").write_text(BASELINE_TRAIN)
    (root / "env" / "data.csv").write_text("a,b,label\n1,2,0\n")
    (root / "scripts" / "eval.py").write_text(EVAL)
    (root / "scripts" / "research_problem.txt").write_text("Improve the score that train.py writes.")
    (root / "scripts" / "read_only_files.txt").write_text("data.csv\n")
    (root / "scripts" / "budgetmlagent.json").write_text('{"metric": "score", "direction": "higher"}')
    return root


@pytest.fixture(autouse=True)
def no_users_experience(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's experience store: off unless a test turns it on, and then in a folder of
    the session's own unless the test names one (the variables reach `budgetmlagent` subprocesses too)."""
    monkeypatch.setenv("BUDGETMLAGENT_USE_EXPERIENCE", "false")
    monkeypatch.setenv("BUDGETMLAGENT_EXPERIENCE_DIR", str(tmp_path_factory.getbasetemp() / "experience"))


PATTERN = r"validation score: (\S+)"


@pytest.fixture
def measured_task(tiny_task: Path) -> Path:
    """The tiny task, declaring how its script prints the validation metric."""
    config = {"metric": "score", "direction": "higher", "validation_pattern": PATTERN}
    (tiny_task / "scripts" / "budgetmlagent.json").write_text(json.dumps(config))
    return tiny_task


@pytest.fixture
def tabular_task(measured_task: Path) -> Path:
    """The measured task with a training and a test table, and a script that names one feature."""
    env = measured_task / "env"
    rows = "1,2,red,,0\n2,3,blue,40,1\n3,1,red,31,0\n4,5,red,52,1\n5,2,blue,18,0\n6,4,red,33,1\n"
    (env / "train.csv").write_text("id,size,color,age,label\n" + rows)
    (env / "test.csv").write_text("id,size,color,age\n4,2,blue,22\n")
    (env / "train.py").write_text('FEATURES = ["size"]\n' + BASELINE_TRAIN)
    return measured_task


# The adversarial suite's figures (README, "Reliability"): every test marked adversarial("category") is one
# hostile input tried; it is handled when the test passes. The tally is printed at the end of every run.
_ADVERSARIAL: dict[str, list[int]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    outcome = yield
    report = outcome.get_result()
    marker = item.get_closest_marker("adversarial")
    if marker is None or report.skipped:
        return
    if report.when == "call" or (report.when == "setup" and report.failed):
        category = marker.args[0] if marker.args else marker.kwargs.get("category", "other")
        tried_handled = _ADVERSARIAL.setdefault(category, [0, 0])
        tried_handled[0] += 1
        tried_handled[1] += int(report.passed)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _ADVERSARIAL:
        return
    terminalreporter.section("adversarial inputs: tried / handled")
    for category, (tried, handled) in sorted(_ADVERSARIAL.items()):
        terminalreporter.write_line(f"{category:<24} {tried:>4} / {handled}")
    tried, handled = (sum(v[i] for v in _ADVERSARIAL.values()) for i in (0, 1))
    terminalreporter.write_line(f"{'total':<24} {tried:>4} / {handled}")
