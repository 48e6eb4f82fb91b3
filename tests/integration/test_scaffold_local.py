"""A real run on the bundled titanic task: the real 1.5B coder edits, every edit is run and measured, one
edit regresses, and the run ends on its best validated snapshot. The planner is scripted so the run takes
that path every time; the code, the runs, the metric and the scores are all real."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakes import ScriptedModels

from budgetmlagent.graph import Context, build_graph, recursion_limit
from budgetmlagent.providers.chat import load_chat_model

pytestmark = pytest.mark.integration

TITANIC = Path(__file__).resolve().parents[2] / "benchmarks" / "tasks" / "titanic"
PLANNER = "openai_compatible:scripted-planner@http://127.0.0.1:9/v1"
CODER = "local:qwen2.5-coder-1.5b"


def plan(name: str, **action_input: Any) -> dict[str, Any]:
    return {
        "reflection": "noted",
        "research_plan_and_status": "1. add sex 2. try fare only 3. finish",
        "fact_check": "none",
        "thought": f"now {name}",
        "action": {"name": name, "input": action_input},
    }


def edit(instruction: str) -> dict[str, Any]:
    return plan("Edit Script (AI)", script_name="train.py", edit_instruction=instruction, save_name="train.py")


ADD_SEX = (
    "After the two read_csv lines, add a column female to both train and test: "
    "train['female'] = (train['sex'] == 'female').astype(int) and the same for test. "
    "Then set FEATURES = ['pclass', 'age', 'fare', 'female']. Change nothing else."
)
FARE_ONLY = "Set FEATURES = ['fare'] so the model uses the fare column alone. Change nothing else."


def run_titanic(tmp_path: Path, edits: list[dict[str, Any]], max_steps: int, **settings: Any) -> dict[str, Any]:
    """A titanic run whose planner sends these edits then Final Answer; coder and debugger are the real 1.5B."""
    scripted = ScriptedModels(
        {PLANNER: [*edits, plan("Final Answer", final_answer="done")] + [plan("List Files", dir_path=".")] * 4}
    )

    def factory(spec: str, temperature: float, max_tokens: int) -> Any:
        if spec == PLANNER:
            return scripted(spec, temperature, max_tokens)
        return load_chat_model(spec, temperature=temperature, max_tokens=max_tokens)

    ctx = Context(
        planner_models=[PLANNER],
        coder_models=[CODER],
        debugger_models=[CODER],
        worker_model=PLANNER,
        use_expert=False,
        use_retrieval=False,
        max_steps=max_steps,
        debug_attempts=1,
        keep_improving=False,  # the scripted planner stops when it chooses
        recipes_first=False,  # the scripted planner's edits, written by the real coder
        runs_dir=str(tmp_path / "runs"),
        cache_dir=str(tmp_path / "cache"),
        chat_model_factory=factory,
        **settings,
    )
    config = {"recursion_limit": recursion_limit(max_steps)}
    return build_graph().invoke({"task_dir": str(TITANIC)}, context=ctx, config=config)


def test_real_edits_are_measured_and_the_run_ends_on_its_best_version(tmp_path: Path) -> None:
    state = run_titanic(tmp_path, [edit(ADD_SEX), edit(FARE_ONLY)], max_steps=3, code_output_tokens=1200)
    result = state["result"]
    run_dir = Path(result["run_dir"])
    measured = state.get("measured", [])
    for step, obs in enumerate(s["observation"] for s in state["steps"][:2]):
        print(f"step {step + 1}: {obs[-300:]}")
    print(json.dumps({k: result[k] for k in ("score", "last", "best", "validation_baseline")}, indent=1))

    baseline = result["validation_baseline"]
    assert baseline == pytest.approx(0.7, abs=0.05)  # read from the real baseline run's printed line
    assert measured, "no run printed a validation accuracy that the scaffold read"
    values = [v for _, v in measured]
    best_value = max([baseline, *values])
    assert result["best"]["validation"] == pytest.approx(best_value)
    best_step = result["best"]["step"]
    assert best_step == (0 if best_value == baseline else next(s for s, v in measured if v == best_value))
    # the run ends on the best version: its train.py and a real hidden-test score of it
    assert (run_dir / "workspace" / "train.py").read_text() == (run_dir / "best" / "train.py").read_text()
    assert result["score"] is not None and result["last"] is not None
    if len(values) == 2 and values[1] < values[0]:  # the usual path: +sex improves, fare-only regresses
        assert "not better than the best so far" in state["steps"][1]["observation"]
        assert best_step == 1 and result["score"] >= result["last"]["score"]


def test_a_recipe_edit_by_the_real_coder_clears_the_bar(tmp_path: Path) -> None:
    """The recipe the planner is offered first on titanic (one-hot the unused text columns), made by the real 1.5B
    coder with the recipe's code shape in its prompt and any definitions it drops put back, clears the 10 % bar on
    the hidden test set. Before recipes, the 1.5B's own version of this edit crashed on median() over text."""
    from budgetmlagent.scaffold.recipes import recipes_for
    from budgetmlagent.workspace.workspace import Workspace

    env = Workspace(TITANIC / "env", [])
    recipe = recipes_for(env, env.read_text("train.py"))[0]
    assert recipe.name == "encode text categories"
    state = run_titanic(tmp_path, [edit(recipe.instruction)], max_steps=2)
    result = state["result"]
    print(state["steps"][0]["observation"][-1200:])
    print(json.dumps({k: result[k] for k in ("score", "baseline", "improvement", "success")}, indent=1))
    assert state["measured"], "the edited script printed no validation accuracy"
    assert state["measured"][0][1] > 1.1 * result["validation_baseline"]
    assert result["success"], f"hidden-test score {result['score']} vs baseline {result['baseline']}"
