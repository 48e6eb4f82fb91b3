"""Grounded coder and debugger: the data schema they see, and edits naming missing columns or files."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import BASELINE_TRAIN
from test_graph_edges import BASE, LIST, code, edit, run_graph

from budgetmlagent.scaffold.code_facts import unknown_references
from budgetmlagent.scaffold.data_facts import data_schema
from budgetmlagent.workspace.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "train.csv").write_text("passenger_id,sex,age,survived\n1,male,22,0\n2,female,38,1\n")
    (tmp_path / "test.csv").write_text("passenger_id,sex,age\n3,female,26\n")
    return Workspace(tmp_path, ["train.csv", "test.csv"])


def script(body: str) -> str:
    head = 'import pandas as pd\ntrain = pd.read_csv("train.csv")\ntest = pd.read_csv("test.csv")\n'
    return head + textwrap.dedent(body)


def test_schema_has_dtypes_examples_and_the_target(ws: Workspace) -> None:
    schema = data_schema(ws)
    assert "train.csv: columns passenger_id (int64), sex (str), age (int64), survived (int64)" in schema.replace(
        "(object)", "(str)"
    )
    assert "e.g. passenger_id=1, sex=male, age=22, survived=0" in schema
    assert "Target (in the training file but not the test file): survived" in schema


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('X = train[["Sex", "age"]]\n', "train.csv has no column 'Sex' (did you mean 'sex'?)"),
        ('FEATURES = ["age", "fare"]\nX = train[FEATURES]\n', "train.csv has no column 'fare'"),
        ('y = test["survived"]\n', "test.csv has no column 'survived'"),
        ('extra = pd.read_csv("data/train.csv")\n', "it reads data/train.csv, which does not exist"),
        ('import numpy as np\narr = np.load("train.npz")\n', "it reads train.npz, which does not exist"),
    ],
)
def test_edits_naming_what_the_data_lacks_are_caught(ws: Workspace, body: str, expected: str) -> None:
    problem = unknown_references(script(body), ws)
    assert problem is not None and expected in problem
    if "column" in expected:
        assert "its columns are: passenger_id, sex, age" in problem


@pytest.mark.parametrize(
    "body",
    [
        'train["family"] = 1\nX = train[["family", "age"]]\n',  # made by the script itself
        'train = pd.get_dummies(train)\nX = train[["sex_male"]]\n',  # reassigned: its columns are unknown
        'train = train.assign(ratio=train["age"] / 2)\n',
        'params = {"max_depth": 3}\nprint(params["max_depth"])\n',  # not a data frame
        'submission = pd.DataFrame({"passenger_id": test["passenger_id"]})\nsubmission.to_csv("out.csv")\n',
        "this is not python (",  # left for the run to report
        # the script's own loader reads from a data folder: its argument is no path (a function-based starter's
        # untouched lines were refused as reading a missing file)
        'def load(name):\n    return pd.read_csv(DATA_DIR / name)\nextra = load("extra.csv")\n',
    ],
)
def test_valid_or_unknowable_code_is_not_blocked(ws: Workspace, body: str) -> None:
    assert unknown_references(script(body), ws) is None


def test_an_edit_with_an_invented_column_is_not_applied(tiny_task: Path, tmp_path: Path) -> None:
    invented = 'import pandas as pd\nframe = pd.read_csv("data.csv")\nprint(frame["Label"])\n' + BASELINE_TRAIN
    state, models = run_graph(tiny_task, tmp_path, {BASE: [edit("use the label"), code(invented), LIST]}, max_steps=2)
    step = state["steps"][0]
    assert not step["ok"]
    assert "The edit was not applied: data.csv has no column 'Label' (did you mean 'label'?)" in step["observation"]
    assert (Path(state["result"]["run_dir"]) / "workspace" / "train.py").read_text() == BASELINE_TRAIN
    coder_prompt = models.calls(BASE)[1]["messages"][-1].content
    assert "data.csv: columns a (int64), b (int64), label (int64)" in coder_prompt


def test_switching_grounding_off_lets_the_edit_run(tiny_task: Path, tmp_path: Path) -> None:
    invented = 'import pandas as pd\nframe = pd.read_csv("data.csv")\nprint(frame["Label"])\n' + BASELINE_TRAIN
    replies = {BASE: [edit("use the label"), code(invented), LIST]}
    state, _ = run_graph(tiny_task, tmp_path, replies, max_steps=2, use_grounding_checks=False, debug_attempts=0)
    assert "KeyError" in state["steps"][0]["observation"]
