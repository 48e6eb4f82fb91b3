"""The no-model baseline (Context.recipes_only): the offered recipes taken in order as their own code, run,
measured, and kept only when better; no model is ever called."""

from __future__ import annotations

from pathlib import Path

from test_graph_edges import BASE, LIST, run_graph

from budgetmlagent.benchmarks.configs import parse_config
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.run_folder import read_trace

# Reads its tables and uses one feature; prints a constant, so no recipe measures better.
CONSTANT_SCORE = """\
import pandas as pd

FEATURES = ["size"]
train = pd.read_csv("train.csv")
test = pd.read_csv("test.csv")
X = train[FEATURES]
X_test = test[FEATURES]
print(X.shape, X_test.shape)
open("submission.csv", "w").write("0.5\\n")
print("validation score: 0.5")
"""


def test_recipes_only_calls_no_model_and_reverts_what_measured_no_better(tabular_task: Path, tmp_path: Path) -> None:
    (tabular_task / "env" / "train.py").write_text(CONSTANT_SCORE)
    state, models = run_graph(tabular_task, tmp_path, {}, recipes_only=True, use_cascade=False, use_expert=False)
    assert models.calls() == []  # an empty script of replies: any model call would have failed the run
    steps = state["steps"]
    actions = [s["action"] for s in steps]
    # Each recipe leaves the printed score at 0.5 (the script prints a constant): not better, so it is reverted.
    assert actions[0] == "Edit Script (AI)" and actions[1] == "Revert To Best"
    assert actions[-1] == "Final Answer" and len(steps) < 10
    recipes = [s["thought"] for s in steps if s["action"] == "Edit Script (AI)"]
    assert len(recipes) == len(set(recipes)) >= 2  # each recipe once
    assert all(s["model"] == "scaffold" for s in steps)
    trace = read_trace(Path(state["result"]["run_dir"]))
    assert not [e for e in trace if e["type"] == "llm_call"]
    assert state["result"]["score"] == 0.5 and not state["result"]["success"]
    report = (Path(state["result"]["run_dir"]) / "report.md").read_text()
    assert "Beyond the recipes the models proposed 0 change(s)" in report
    assert report.count("| recipe (no model) | ") == len(recipes)


def test_recipes_only_ends_at_once_without_a_validation_metric(tiny_task: Path, tmp_path: Path) -> None:
    (tiny_task / "env" / "train.py").write_text("open('submission.csv', 'w').write('0.5')\n")
    state, models = run_graph(tiny_task, tmp_path, {}, recipes_only=True, use_cascade=False, use_expert=False)
    assert models.calls() == []
    assert [s["action"] for s in state["steps"]] == ["Final Answer"]
    assert state["result"]["score"] == 0.5


def test_the_recipes_only_configuration_turns_every_model_off() -> None:
    settings = parse_config("recipes-only").context_settings("local")
    ctx = Context(**settings)
    assert ctx.recipes_only and not ctx.expert_enabled and not ctx.use_cascade


def test_recipes_first_then_the_planner_plans_knowing_what_they_measured(tabular_task: Path, tmp_path: Path) -> None:
    (tabular_task / "env" / "train.py").write_text(CONSTANT_SCORE)
    state, models = run_graph(tabular_task, tmp_path, {BASE: [LIST]}, max_steps=5, recipes_first=True)
    steps = state["steps"]
    assert [s["action"] for s in steps] == [
        "Edit Script (AI)", "Revert To Best", "Edit Script (AI)", "Revert To Best", "List Files", "List Files",
    ][: len(steps)]  # fmt: skip
    assert all(s["model"] == "scaffold" for s in steps[:4]) and steps[4]["model"] == BASE
    planner_calls = models.calls(BASE)
    assert len(planner_calls) >= 1  # the first model call comes after every recipe was tried
    prompt = planner_calls[0]["messages"][-1].content
    assert "Changes tried so far" in prompt and "-> validation score 0.5" in prompt
    assert "Changes that usually lift a baseline" not in prompt  # each recipe ran: none is offered again


# Fits a model and writes its predictions, but prints no validation metric (film-release-year's shape, smaller).
FITS_AND_PRINTS_NOTHING = """\
import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

train = pd.read_csv("train.csv")
cols = ["size", "id"]
reg = LinearRegression()
reg.fit(train[cols], train["label"])
open("submission.csv", "w").write(f"{float(np.clip(reg.predict(train[cols])[0], 0, 1))}\\n")
"""


def test_recipes_only_writes_the_starter_s_hold_out_check_itself_and_then_measures_recipes(
    tabular_task: Path, tmp_path: Path
) -> None:
    # Without a validation number no recipe could be measured, and recipes-only used to stop at once.
    (tabular_task / "env" / "train.py").write_text(FITS_AND_PRINTS_NOTHING)
    (tabular_task / "scripts" / "budgetmlagent.json").write_text('{"metric": "MAE", "direction": "lower"}')
    state, models = run_graph(tabular_task, tmp_path, {}, recipes_only=True, use_cascade=False, use_expert=False)
    assert models.calls() == []
    first = state["steps"][0]
    assert first["action"] == "Edit Script (AI)" and first["ok"] and first["model"] == "scaffold"
    assert first["action_input"]["edit_instruction"].startswith("Make train.py print its validation metric")
    assert "_train_test_split(train[cols], train['label']" in first["observation"]
    assert state["measured"] and state["measured"][0][0] == 1  # measured from step 1 on
    assert len(state["steps"]) > 2  # recipes followed, measured against it
