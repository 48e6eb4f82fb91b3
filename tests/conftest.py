"""Shared fixtures: a tiny MLAgentBench-style task whose score is whatever train.py writes."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

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
