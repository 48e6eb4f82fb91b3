"""Errors fixed off the traceback without a model: real sklearn errors, the fixed script run again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import BASELINE_TRAIN
from test_graph_edges import BASE, code, edit, run_graph

from budgetmlagent.runtime.run_folder import read_trace
from budgetmlagent.scaffold.known_fixes import known_fix

# One-hot encodes the training features but not the test features: sklearn refuses to predict.
ENCODED_UNLIKE_TEST = """import pandas as pd
from sklearn.linear_model import LinearRegression

train = pd.DataFrame({"size": [1, 2, 3, 4], "town": ["a", "b", "a", "c"], "price": [10, 20, 30, 40]})
test = pd.DataFrame({"size": [5, 6], "town": ["b", "a"]})
X = pd.get_dummies(train[["size", "town"]])
model = LinearRegression().fit(X, train["price"])
test_X = test[["size", "town"]]
preds = model.predict(test_X)
print("Validation score: 0.9")
with open("submission.csv", "w") as fh:
    fh.write(f"{0.9}\\n")
"""


def run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, path.name], cwd=path.parent, capture_output=True, text=True, timeout=120)


def test_test_features_left_unencoded_are_encoded_and_aligned_and_the_script_runs(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(ENCODED_UNLIKE_TEST)
    failed = run(script)
    assert failed.returncode != 0 and "feature names should match" in failed.stderr
    fix = known_fix(ENCODED_UNLIKE_TEST, failed.stderr, "train.py")
    assert fix is not None and "test_X reached model with raw text columns" in fix.diagnosis
    assert "test_X = pd.get_dummies(test_X).reindex(columns=model.feature_names_in_, fill_value=0)" in fix.code
    script.write_text(fix.code)
    assert run(script).returncode == 0


def test_a_mismatch_that_is_not_about_dummy_columns_is_left_to_the_debugger(tmp_path: Path) -> None:
    # A column made for the training rows only: filling it with zeros would run, and predict nonsense.
    engineered = ENCODED_UNLIKE_TEST.replace(
        'X = pd.get_dummies(train[["size", "town"]])', 'X = train[["size"]].assign(size2=train["size"] ** 2)'
    ).replace('test_X = test[["size", "town"]]', 'test_X = test[["size"]]')
    script = tmp_path / "train.py"
    script.write_text(engineered)
    failed = run(script)
    assert "feature names should match" in failed.stderr
    assert known_fix(engineered, failed.stderr, "train.py") is None
    assert known_fix(ENCODED_UNLIKE_TEST, "ValueError: something else", "train.py") is None


def test_the_debugger_makes_a_known_fix_without_a_model_call(measured_task: Path, tmp_path: Path) -> None:
    encoded = ENCODED_UNLIKE_TEST.replace('print("Validation score: 0.9")', 'print("validation score: 0.9")')
    replies = {BASE: [edit("encode the town"), code(encoded)]}  # no debugger reply is scripted
    state, models = run_graph(measured_task, tmp_path, replies, max_steps=1)
    observation = state["steps"][0]["observation"]
    assert "Debugger attempt 1 (test_X reached model with raw text columns" in observation
    assert state["measured"] == [(1, 0.9)]
    assert not [c for c in models.calls() if c["schema"]["title"] == "FixReply"]
    trace = read_trace(Path(state["result"]["run_dir"]))
    assert [r["type"] for r in trace].count("known_fix") == 1
    off = {BASE: [*replies[BASE], {"diagnosis": "no idea", "code": encoded}]}
    state, _ = run_graph(measured_task, tmp_path / "off", off, max_steps=1, use_known_fixes=False, debug_attempts=1)
    observation = state["steps"][0]["observation"]
    assert "Debugger attempt 1 failed: it returned the script unchanged" in observation
    assert "train.py was restored" in observation and BASELINE_TRAIN in (measured_task / "env" / "train.py").read_text()
