"""The verification-first scaffold on scripted models: measured edits, best snapshot, validity rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import BASELINE_TRAIN, BROKEN_TRAIN, IMPROVED_TRAIN
from test_graph_edges import BASE, LIST, TOP, code, edit, plan, run_graph

from budgetmlagent.runtime.run_folder import read_trace

FINAL = plan("Final Answer", final_answer="improved")
REVERT = plan("Revert To Best", reason="the last edit made it worse")


def scored(value: float) -> str:
    return BASELINE_TRAIN.replace("score = 0.5", f"score = {value}")


def observations(state: dict[str, Any]) -> list[str]:
    return [s["observation"] for s in state["steps"]]


def test_every_run_is_measured_against_the_best_and_revert_restores_it(measured_task: Path, tmp_path: Path) -> None:
    replies = {
        BASE: [edit("make it better"), code(IMPROVED_TRAIN), edit("make it worse"), code(scored(0.7)), REVERT, FINAL]
    }
    state, _ = run_graph(measured_task, tmp_path, replies)
    first, second, revert = observations(state)[:3]
    assert (
        "Measured: validation score 0.9 (baseline 0.5, +80.0%) - the best so far. Saved as the best version." in first
    )
    assert (
        "Measured: validation score 0.7 (baseline 0.5, +40.0%) - not better than the best so far, 0.9 at step 1"
        in second
    )
    assert "Revert To Best restores that version." in second
    assert revert.startswith("Restored the best version from step 1 (validation score 0.9). Files restored:")
    assert "train.py" in revert and "submission.csv" in revert
    result = state["result"]
    assert result["score"] == 0.9 and result["success"]
    assert result["best"]["step"] == 1 and result["last"]["score"] == 0.9
    assert state["measured"] == [(1, 0.9), (2, 0.7)]


def test_final_answer_restores_the_best_snapshot_and_records_both_verdicts(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("make it better"), code(IMPROVED_TRAIN), edit("make it worse"), code(scored(0.52)), FINAL]}
    state, _ = run_graph(measured_task, tmp_path, replies)
    result = state["result"]
    assert result["status"] == "final_answer"
    assert result["last"] == {"score": 0.52, "success": False, "improvement": pytest.approx(0.04)}
    assert result["score"] == 0.9 and result["success"] and result["best"]["validation"] == 0.9
    workspace = Path(result["run_dir"]) / "workspace"
    assert (workspace / "train.py").read_text() == IMPROVED_TRAIN
    assert json.loads((Path(result["run_dir"]) / "result.json").read_text())["best"]["restored_files"]


def test_the_step_cap_restores_the_best_snapshot(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("make it better"), code(IMPROVED_TRAIN), edit("make it worse"), code(scored(0.3))]}
    state, _ = run_graph(measured_task, tmp_path, replies, max_steps=2)
    result = state["result"]
    assert result["status"] == "step_cap" and result["last"]["score"] == 0.3 and result["score"] == 0.9


def test_a_run_stopped_before_any_step_is_scored_on_the_baseline(measured_task: Path, tmp_path: Path) -> None:
    state, _ = run_graph(measured_task, tmp_path, {BASE: [LIST]}, wall_clock_s=0.0)
    result = state["result"]
    assert result["status"] == "wall_clock" and result["last"]["score"] is None  # nothing had run yet
    assert result["best"]["step"] == 0 and result["score"] == 0.5


def test_a_run_that_never_improves_still_ends_with_the_baseline_score(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("break it"), code(BROKEN_TRAIN), LIST]}
    state, _ = run_graph(measured_task, tmp_path, replies, debug_attempts=0, max_steps=2)
    result = state["result"]
    assert result["best"]["step"] == 0 and result["score"] == 0.5 and not result["success"]
    trace = read_trace(Path(result["run_dir"]))
    assert any(r["type"] == "best_restored" and r["step"] == 0 for r in trace)


def test_final_answer_needs_a_measured_improvement(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("make it worse"), code(scored(0.4)), FINAL, LIST]}
    state, models = run_graph(measured_task, tmp_path, replies, max_steps=2)
    feedback = models.calls(BASE)[3]["messages"][-1].content
    assert "Final Answer rejected: no run has measured a validation score better than the baseline's (0.5)" in feedback
    assert state["result"]["status"] == "step_cap"


def test_a_claim_no_measurement_backs_is_an_invalid_reply(measured_task: Path, tmp_path: Path) -> None:
    boast = LIST | {"thought": "The accuracy improved to 0.97 with my change."}
    state, models = run_graph(measured_task, tmp_path, {BASE: [boast, boast, boast], TOP: [LIST]}, max_steps=1)
    rejected = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "rejected"]
    assert len(rejected) == 3 and "claims progress ('improved')" in rejected[0]["error"]
    assert [c["spec"] for c in models.calls()] == [BASE, BASE, BASE, TOP]  # three invalid replies escalate
    assert state["steps"][0]["action"] == "List Files"


def test_an_edit_saved_as_another_kind_of_file_is_saved_in_place(measured_task: Path, tmp_path: Path) -> None:
    clobber = plan(
        "Edit Script (AI)", script_name="train.py", edit_instruction="raise the score", save_name="submission.csv"
    )
    state, _ = run_graph(measured_task, tmp_path, {BASE: [clobber, code(IMPROVED_TRAIN)]}, max_steps=1)
    run_dir = Path(state["result"]["run_dir"])
    repaired = [r for r in read_trace(run_dir) if r["type"] == "repaired"]
    assert repaired[0]["save_name"] == "submission.csv" and repaired[0]["saved_as"] == "train.py"
    assert state["steps"][0]["action_input"]["save_name"] == "train.py"
    assert state["measured"] == [(1, 0.9)] and state["result"]["score"] == 0.9  # it ran, and was measured
    assert (run_dir / "workspace" / "submission.csv").read_text() == "0.9\n"  # the scorer's input, not a script


def test_a_script_named_after_a_definition_in_the_main_script_is_the_main_script(
    measured_task: Path, tmp_path: Path
) -> None:
    named = plan("Edit Script (AI)", script_name="score.py", edit_instruction="raise the score", save_name="score.py")
    invented = plan("Edit Script (AI)", script_name="x.py", edit_instruction="raise the score", save_name="x.py")
    state, _ = run_graph(measured_task, tmp_path, {BASE: [named, code(IMPROVED_TRAIN), invented, LIST]}, max_steps=2)
    repaired = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "repaired"]
    assert [(r["step"], r.get("script_name"), r.get("renamed")) for r in repaired] == [(1, "score.py", "train.py")]
    assert state["steps"][0]["action_input"]["save_name"] == "train.py" and state["measured"] == [(1, 0.9)]
    assert state["steps"][1]["action"] == "List Files"  # x.py names nothing in train.py: rejected as before


def test_a_worse_word_for_the_metric_is_not_a_claim(measured_task: Path, tmp_path: Path) -> None:
    honest = LIST | {"reflection": "The baseline accuracy is lower than we need."}
    state, _ = run_graph(measured_task, tmp_path, {BASE: [honest]}, max_steps=1)
    assert not [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "rejected"]


def test_inspecting_the_script_the_briefing_shows_is_an_invalid_reply(measured_task: Path, tmp_path: Path) -> None:
    inspect = plan("Inspect Script Lines", script_name="train.py", start_line_number=1, end_line_number=3)
    state, _ = run_graph(measured_task, tmp_path, {BASE: [inspect, LIST]}, max_steps=1)
    rejected = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "rejected"]
    assert "train.py is shown whole above" in rejected[0]["error"]
    state, _ = run_graph(measured_task, tmp_path / "off", {BASE: [inspect]}, max_steps=1, use_briefing=False)
    assert state["steps"][0]["action"] == "Inspect Script Lines" and state["steps"][0]["ok"]


def test_the_planner_sees_validation_numbers_not_the_hidden_test_score(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("make it better"), code(IMPROVED_TRAIN), LIST]}
    _, models = run_graph(measured_task, tmp_path, replies, max_steps=2)
    situation = models.calls(BASE)[2]["messages"][-1].content
    assert "Validation score: baseline 0.5; best so far 0.9 (step 1, +80.0%)." in situation
    assert "of the original script" not in situation


def test_switches_turn_each_piece_off(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("make it better"), code(IMPROVED_TRAIN), edit("make it worse"), code(scored(0.52)), FINAL]}
    state, models = run_graph(measured_task, tmp_path, replies, use_best_snapshot=False)
    result = state["result"]
    assert result["best"] is None and result["score"] == 0.52  # MLAgentBench's rule: the last state counts
    assert "Revert To Best" not in json.dumps(models.calls(BASE)[2]["schema"])
    state, _ = run_graph(measured_task, tmp_path / "off", dict(replies), use_measured_edits=False)
    assert not any("Measured:" in o for o in observations(state))
    assert state["result"]["best"] is None and state["result"]["score"] == 0.52


COUNTER = """\
from pathlib import Path
runs = Path("runs.txt")
count = int(runs.read_text()) + 1 if runs.exists() else 1
runs.write_text(str(count))
Path("submission.csv").write_text("0.5")
print(f"epoch loss after run {count}: {1 / count:.3f}")
"""
RUN = plan("Execute Script", script_name="train.py")


@pytest.mark.parametrize(("stuck_detection", "escalated"), [(True, False), (False, True)])
def test_a_rerun_that_prints_new_numbers_is_progress(
    measured_task: Path, tmp_path: Path, stuck_detection: bool, escalated: bool
) -> None:
    # A starter that runs and declares its metric's line: the scaffold takes no first step of its own.
    (measured_task / "env" / "train.py").write_text(COUNTER)
    replies = {BASE: [RUN, RUN, RUN], TOP: [RUN]}
    state, _ = run_graph(measured_task, tmp_path, replies, max_steps=3, use_stuck_detection=stuck_detection)
    assert bool(state.get("escalations")) is escalated
    assert len({s["observation"] for s in state["steps"]}) == 3


def test_runs_stopped_by_their_time_limit_are_not_stuck() -> None:
    from budgetmlagent.graph import Context
    from budgetmlagent.graph.routing import repeated_action

    action = {"action": "Execute Script", "action_input": {"script_name": "train.py"}}
    long_run = "The script was stopped after 600 s (time limit) and killed. Output before it was stopped:\nepoch 1"
    stopped = action | {"observation": long_run, "timed_out": True}
    state: Any = {"pending": action, "steps": [stopped] * 2}
    assert not repeated_action(state, Context())
    state["steps"] = [action | {"observation": "same output"}] * 2
    assert repeated_action(state, Context())
    assert repeated_action({"pending": action, "steps": [stopped] * 2}, Context(use_stuck_detection=False))


def test_a_script_stopped_by_its_time_limit_is_recorded_on_its_step(tiny_task: Path, tmp_path: Path) -> None:
    """Routing reads this field (not the observation's words) to tell long training from a stuck planner."""
    (tiny_task / "env" / "slow.py").write_text("import time\nprint('epoch 1', flush=True)\ntime.sleep(30)\n")
    slow = plan("Execute Script", script_name="slow.py")
    state, _ = run_graph(tiny_task, tmp_path, {BASE: [slow, LIST]}, max_steps=2, script_timeout_s=1)
    assert [s.get("timed_out") for s in state["steps"]] == [True, False]


def test_the_same_action_with_the_same_observation_escalates(tiny_task: Path, tmp_path: Path) -> None:
    state, _ = run_graph(tiny_task, tmp_path, {BASE: [RUN, RUN, RUN], TOP: [LIST]}, max_steps=3)
    assert state["escalations"][0]["reason"] == "repeated action"


def segment_edit(start: int, end: int, instruction: str = "raise the score") -> dict[str, Any]:
    return plan(
        "Edit Script Segment (AI)",
        script_name="train.py",
        start_line_number=start,
        end_line_number=end,
        edit_instruction=instruction,
        save_name="train.py",
    )


@pytest.mark.parametrize("whole_file", [True, False])
def test_a_segment_edit_of_a_short_script_is_a_whole_file_rewrite(
    measured_task: Path, tmp_path: Path, whole_file: bool
) -> None:
    # The coder returns a whole file: as a whole-file rewrite it replaces the script; spliced into line 1 (the
    # old way) it would duplicate every other line, which is how the sweep's segment edits broke scripts.
    replies = {BASE: [segment_edit(1, 1), code(IMPROVED_TRAIN), LIST]}
    state, models = run_graph(measured_task, tmp_path, replies, max_steps=2, use_whole_file_edits=whole_file)
    prompt = models.calls(BASE)[1]["messages"][-1].content
    written = (Path(state["result"]["run_dir"]) / "workspace" / "train.py").read_text()
    if whole_file:
        assert "The change concerns lines 1-1 mainly" in prompt and "Return the complete new script in one" in prompt
        assert f"Current content of train.py:\n{BASELINE_TRAIN}" in prompt
        assert state["measured"] == [(1, 0.9)]
    else:
        assert "Return the complete new segment (only those lines) in one" in prompt
    assert (written == IMPROVED_TRAIN) is whole_file


def test_the_same_edit_instruction_twice_is_an_invalid_reply(measured_task: Path, tmp_path: Path) -> None:
    again = edit("Use More Features.")  # case and spacing do not make it new
    replies = {
        BASE: [edit("use more   features."), code(IMPROVED_TRAIN), LIST, again, edit("a new idea"), code(scored(0.6))]
    }
    state, _ = run_graph(measured_task, tmp_path, replies, max_steps=3)
    rejected = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "rejected"]
    assert (
        len(rejected) == 1 and "You gave this edit instruction for train.py at step 1 already" in rejected[0]["error"]
    )
    assert [s["action_input"].get("edit_instruction") for s in state["steps"]] == [
        "use more   features.",
        None,
        "a new idea",
    ]


@pytest.mark.parametrize("briefing", [True, False])
def test_the_briefing_shows_the_planner_the_data_and_the_numbered_script(
    measured_task: Path, tmp_path: Path, briefing: bool
) -> None:
    replies = {BASE: [edit("make it better"), code(IMPROVED_TRAIN), LIST]}
    _, models = run_graph(measured_task, tmp_path, replies, max_steps=2, use_briefing=briefing)
    first, second = models.calls(BASE)[0]["messages"], models.calls(BASE)[2]["messages"]
    numbered_first_line = f"1: {BASELINE_TRAIN.splitlines()[0]}"
    assert ("Data files (read them by these exact names and columns)" in first[0].content) is briefing
    assert (numbered_first_line in first[-1].content) is briefing
    assert ("The data files and the script are shown above" in first[-1].content) is briefing
    # Later steps show the script as it is now, after the edit.
    assert (f"1: {IMPROVED_TRAIN.splitlines()[0]}" in second[-1].content) is briefing
    # The data part sits in the system prompt, ahead of everything that changes every step (prefix cache).
    assert ("data.csv: columns a (int64), b (int64), label (int64)" in second[0].content) is briefing


def test_an_edit_of_a_script_that_does_not_exist_is_an_invalid_reply(measured_task: Path, tmp_path: Path) -> None:
    invent = plan("Edit Script (AI)", script_name="train_v2.py", edit_instruction="x", save_name="train_v2.py")
    state, _ = run_graph(measured_task, tmp_path, {BASE: [invent, LIST]}, max_steps=1)
    rejected = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "rejected"]
    assert "'train_v2.py' does not exist, so there is nothing to edit" in rejected[0]["error"]
    assert not (Path(state["result"]["run_dir"]) / "workspace" / "train_v2.py").exists()
    state, _ = run_graph(measured_task, tmp_path / "off", {BASE: [invent, code(IMPROVED_TRAIN)]}, max_steps=1,
                         use_validity_checks=False)  # fmt: skip
    assert (Path(state["result"]["run_dir"]) / "workspace" / "train_v2.py").exists()  # MLAgentBench's behaviour


def test_a_code_reply_is_capped_by_the_size_of_the_script() -> None:
    from budgetmlagent.graph import Context
    from budgetmlagent.runtime.llm import code_reply_tokens

    ctx = Context()
    assert code_reply_tokens(ctx, "") == 500
    short = code_reply_tokens(ctx, "x = 1\n" * 180)  # about the size of the benchmark's train.py files
    assert short == 1250 and short < ctx.code_output_tokens
    assert code_reply_tokens(ctx, "x" * 1_000_000) == ctx.code_output_tokens


def test_a_rejected_planner_reply_is_resampled_hotter(measured_task: Path, tmp_path: Path) -> None:
    boast = LIST | {"thought": "The accuracy improved."}
    state, models = run_graph(
        measured_task, tmp_path, {BASE: [boast, LIST, plan("List Files", dir_path="./")]}, max_steps=2
    )
    temperatures = [t for spec, t, _ in models.settings]
    assert temperatures == [0.2, 0.8, 0.2]  # the retry after the rejection, then the paper's 0.2 again
    assert [s["action"] for s in state["steps"]] == ["List Files", "List Files"]


LOUD_CRASH = 'print("x" * 9000)\nraise SystemExit("the real error is at the end")\n'


@pytest.mark.parametrize("measured", [True, False])
def test_a_long_run_observation_is_cut_not_summarised(measured_task: Path, tmp_path: Path, measured: bool) -> None:
    # The small summariser lost a failed edit's diff and traceback; edits and runs keep both ends verbatim.
    summary = {"answer": "a summary"}
    replies = {BASE: [edit("crash loudly"), code(LOUD_CRASH), summary]}
    state, models = run_graph(
        measured_task, tmp_path, replies, max_steps=1, debug_attempts=0, use_measured_edits=measured
    )
    observation = state["steps"][0]["observation"]
    summarised = any(c["schema"]["title"] == "AnswerReply" for c in models.calls())
    assert summarised is not measured
    if measured:
        assert "characters omitted" in observation and "the real error is at the end" in observation
        assert observation.startswith("The edited file is saved to train.py") and len(observation) < 5200
    else:
        assert observation.startswith("[summary of") and "a summary" in observation


def test_a_script_that_does_not_compile_goes_to_the_debugger(measured_task: Path, tmp_path: Path) -> None:
    # A coder reply cut off mid-statement has no "Traceback" head; it used to skip the debugger and be rolled back.
    cut_off = BASELINE_TRAIN.replace('print(f"validation score: {score}")', "print(dict({")
    fix = {"diagnosis": "unclosed brace", "code": IMPROVED_TRAIN}
    state, _ = run_graph(measured_task, tmp_path, {BASE: [edit(), code(cut_off), fix]}, max_steps=1)
    observation = state["steps"][0]["observation"]
    assert "SyntaxError" in observation and "Debugger attempt 1 (unclosed brace)" in observation
    assert state["measured"] == [(1, 0.9)]


@pytest.mark.parametrize("checks", [True, False])
def test_a_whole_file_rewrite_that_drops_most_lines_is_not_applied(
    measured_task: Path, tmp_path: Path, checks: bool
) -> None:
    long_train = BASELINE_TRAIN + "".join(f"# note {i}\n" for i in range(8))
    (measured_task / "env" / "train.py").write_text(long_train)
    replies = {BASE: [edit(), code("print(0.9)\n"), LIST]}  # nothing to merge it by (see test_recipes)
    state, _ = run_graph(measured_task, tmp_path, replies, max_steps=2, use_validity_checks=checks)
    written = (Path(state["result"]["run_dir"]) / "workspace" / "train.py").read_text()
    first = state["steps"][0]["observation"]
    if checks:
        assert first.startswith("The edit was not applied: the reply has 1 lines where the script has 12.")
        assert written == long_train
    else:
        assert first.startswith("The edited file is saved to train.py")


def test_a_fix_that_drops_most_lines_is_not_applied(measured_task: Path, tmp_path: Path) -> None:
    long_broken = BROKEN_TRAIN + "".join(f"# note {i}\n" for i in range(8))
    fragment = {"diagnosis": "simplified", "code": "print(0.9)\n"}
    replies = {BASE: [edit(), code(long_broken), fragment]}
    state, _ = run_graph(measured_task, tmp_path, replies, max_steps=1, debug_attempts=1)
    observation = state["steps"][0]["observation"]
    assert "Debugger attempt 1 failed: the fix was not applied: the reply has 1 lines where the script has 12." in (
        observation
    )
    assert "was restored to its previous version" in observation


def test_revert_is_offered_only_when_it_would_change_something(measured_task: Path, tmp_path: Path) -> None:
    # After an improvement the workspace is the best version: a revert would be a no-op (nine in a row in a sweep).
    replies = {
        BASE: [edit("make it better"), code(IMPROVED_TRAIN), REVERT, edit("make it worse"), code(scored(0.7)), REVERT]
    }
    state, models = run_graph(measured_task, tmp_path, replies, max_steps=3)
    rejected = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["step"] == 2
    assert [s["action"] for s in state["steps"]] == ["Edit Script (AI)", "Edit Script (AI)", "Revert To Best"]
    planner_systems = [c["messages"][0].content for c in models.calls() if c["schema"]["title"] != "CodeReply"]
    assert "Revert To Best" not in planner_systems[1] and "Revert To Best" in planner_systems[-1]
    # Nor is undoing the best version: it can only leave it.
    assert "Undo Edit Script" not in planner_systems[1] and "Undo Edit Script" in planner_systems[-1]


def test_the_schema_names_text_columns_and_missing_values(tabular_task: Path) -> None:
    from budgetmlagent.scaffold.data_facts import data_schema
    from budgetmlagent.workspace.workspace import Workspace

    schema = data_schema(Workspace(tabular_task / "env", []))
    assert "test.csv: the training file's columns without the target" in schema
    assert (
        "text columns (encode before a model sees them, e.g. .map({...}) or pd.get_dummies): color (red|blue)" in schema
    )
    assert "missing values (in the first rows): age 17%" in schema
    assert "Target (in the training file but not the test file): label" in schema


@pytest.mark.parametrize("briefing", [True, False])
def test_the_planner_is_told_which_columns_the_script_leaves_out(
    tabular_task: Path, tmp_path: Path, briefing: bool
) -> None:
    _, models = run_graph(tabular_task, tmp_path, {BASE: [LIST]}, max_steps=1, use_briefing=briefing)
    prompt = models.calls(BASE)[0]["messages"][-1].content
    line = "Columns of the training data that train.py does not use yet: age (numbers); color (text categories: encode"
    assert (line in prompt) is briefing


def test_the_debugger_reads_what_the_error_means_and_a_second_attempt_samples_hotter(
    measured_task: Path, tmp_path: Path
) -> None:
    crash = BASELINE_TRAIN + "raise ValueError(\"could not convert string to float: 'male'\")\n"
    same = {"diagnosis": "no idea", "code": crash}
    replies = {BASE: [edit(), code(crash), same, {"diagnosis": "encode sex", "code": IMPROVED_TRAIN}]}
    state, models = run_graph(
        measured_task, tmp_path, replies, max_steps=1, debug_attempts=2, debugger_escalate_after=9
    )
    fixes = [c for c in models.calls() if c["schema"]["title"] == "FixReply"]
    assert len(fixes) == 2
    assert (
        "What this error usually means: A text column reached a numeric operation" in fixes[0]["messages"][-1].content
    )
    debugger_temperatures = [t for spec, t, cap in models.settings][-2:]
    assert debugger_temperatures == [0.01, 0.8]  # the first fix as the paper; the retry must not repeat it
    assert state["measured"] == [(1, 0.9)]


def test_error_hints_match_only_their_errors() -> None:
    from budgetmlagent.prompts.debugger import error_hints

    assert error_hints("Traceback ...\nKeyError: 'Sex'") == [
        "A column name is not in the frame: use only the columns listed above, spelled exactly."
    ]
    assert error_hints("Traceback ...\nZeroDivisionError: division by zero") == []
    assert len(error_hints("ValueError: Input X contains NaN.")) == 1


def test_a_failed_edit_may_be_asked_once_more_with_its_failure_shown(measured_task: Path, tmp_path: Path) -> None:
    # The 1.5B planner's idea (add the text columns) was right and the code wrong; rejecting the retry lost the idea.
    replies = {BASE: [edit("add sex"), code(BROKEN_TRAIN), edit("add sex"), code(BROKEN_TRAIN), edit("add sex"), LIST]}
    state, models = run_graph(measured_task, tmp_path, replies, max_steps=3, debug_attempts=0)
    coder_calls = [c for c in models.calls() if c["schema"]["title"] == "CodeReply"]
    assert len(coder_calls) == 2
    assert "An earlier attempt at this edit failed" not in coder_calls[0]["messages"][-1].content
    second = coder_calls[1]["messages"][-1].content
    assert "An earlier attempt at this edit failed" in second and "NameError" in second
    assert [t for _, t, cap in models.settings if cap != 700] == [0.01, 0.8]  # coder calls: first, then the retry
    rejected = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "rejected"]
    assert len(rejected) == 1 and "at step 2 already" in rejected[0]["error"]
    assert [s["action"] for s in state["steps"]] == ["Edit Script (AI)", "Edit Script (AI)", "List Files"]


@pytest.mark.parametrize("on", [True, False])
def test_an_edit_that_measures_no_gain_sends_the_next_plan_up_the_cascade(
    measured_task: Path, tmp_path: Path, on: bool
) -> None:
    # The 0.5B's edits ran and changed nothing that mattered (requoted strings); it planned the next one too.
    base = [edit("requote strings"), code(scored(0.45))]
    replies = {BASE: [*base, code(IMPROVED_TRAIN), LIST], TOP: [edit("add a column")]}
    if not on:
        replies = {BASE: [*base, edit("add a column"), code(IMPROVED_TRAIN), LIST]}
    state, models = run_graph(measured_task, tmp_path, replies, max_steps=3, escalate_on_no_gain=on)
    planners = [c["spec"] for c in models.calls() if c["schema"]["title"] not in ("CodeReply", "FixReply")]
    assert planners == ([BASE, TOP, BASE] if on else [BASE, BASE, BASE])  # back to the cheap tier after a gain
    escalations = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "escalation"]
    assert [e["reason"] for e in escalations] == (["edit failed verification"] if on else [])
    assert state["lifelines"] == (4 if on else 5)  # the top tier costs a lifeline, as every escalation to it
    assert state["measured"] == [(1, 0.45), (2, 0.9)]


@pytest.mark.parametrize("whole_file", [True, False])
def test_segment_lines_past_the_end_of_a_short_script_are_clamped(
    measured_task: Path, tmp_path: Path, whole_file: bool
) -> None:
    replies = {BASE: [segment_edit(27, 40), code(IMPROVED_TRAIN), LIST, LIST]}
    state, models = run_graph(measured_task, tmp_path, replies, max_steps=1, use_whole_file_edits=whole_file)
    trace = read_trace(Path(state["result"]["run_dir"]))
    if whole_file:
        assert [r["clamped_to"] for r in trace if r["type"] == "repaired"] == [[4, 4]]
        assert "The change concerns lines 4-4 mainly" in models.calls(BASE)[1]["messages"][-1].content
        assert state["measured"] == [(1, 0.9)]
    else:
        rejected = [r["error"] for r in trace if r["type"] == "rejected"]
        assert rejected[0].endswith("start_line_number 27 is past the end of 'train.py' (4 lines).")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("```python\nimport os\nprint(1)\n```", "import os\nprint(1)\n"),
        ("The corrected script is as follows:\n\n```python\nimport os\n```\nIt now works.", "import os\n"),
        ("```\nimport os\nprint(2)", "import os\nprint(2)\n"),  # cut off before the closing fence
        ('import os\nprint("``` inline")\n', 'import os\nprint("``` inline")\n'),
        ("x = 1", "x = 1\n"),
        ("Your corrected script is:\nimport os\nprint(3)\n", "import os\nprint(3)\n"),  # unfenced prose: dropped
        ("import os\nprint(3\n", "import os\nprint(3\n"),  # broken code stays as it is, for the debugger
        ("python\nimport os\n", "import os\n"),  # a fence without its backticks (it parses: python is a name)
    ],
)
def test_code_is_taken_from_its_fence_even_after_prose(reply: str, expected: str) -> None:
    from budgetmlagent.runtime.vetting import strip_fences

    assert strip_fences(reply) == expected


def test_undo_after_a_rolled_back_edit_does_not_bring_the_broken_script_back(
    measured_task: Path, tmp_path: Path
) -> None:
    # The rollback used to write the old text again, pushing the broken version on the undo stack; Undo restored it.
    undo = plan("Undo Edit Script", script_name="train.py")
    broken_fix = {"diagnosis": "try", "code": BROKEN_TRAIN.replace("undefined_name", "still_undefined")}
    # The first edit is worse than the baseline: undoing the best version is not offered (test above).
    replies = {BASE: [edit("make it worse"), code(scored(0.3)), edit("break it"), code(BROKEN_TRAIN), broken_fix, undo]}
    state, _ = run_graph(measured_task, tmp_path, replies, max_steps=3, debug_attempts=1, escalate_on_no_gain=False)
    assert "was restored to its previous version" in state["steps"][1]["observation"]
    undone = state["steps"][2]["observation"]
    assert state["steps"][2]["ok"] and "Undid the last edit of train.py" in undone
    assert "score = 0.5" in undone and "undefined" not in undone  # the edit before the broken one is undone


def test_the_tasks_own_code_is_never_credited_with_a_success(tiny_task: Path, tmp_path: Path) -> None:
    """A timing task's untouched baseline re-scored 18 % faster than its start-of-run measurement (noise)."""
    import shutil

    from budgetmlagent.nodes.lifecycle import honest_verdict, same_code

    workspace = tmp_path / "ws"
    shutil.copytree(tiny_task / "env", workspace)
    (workspace / "__pycache__").mkdir()
    (workspace / "__pycache__" / "x.py").write_text("")
    assert same_code(tiny_task / "env", workspace)
    task = {"baseline": 100.0, "direction": "higher"}
    noise = honest_verdict(118.0, task, unchanged=True)
    assert (noise.success, noise.improvement) == (False, pytest.approx(0.18))
    assert honest_verdict(118.0, task, unchanged=False).success
    (workspace / "train.py").write_text(IMPROVED_TRAIN)
    assert not same_code(tiny_task / "env", workspace)
    (workspace / "train.py").write_text(BASELINE_TRAIN)
    (workspace / "helper.py").write_text("x = 1\n")
    assert not same_code(tiny_task / "env", workspace)


def test_a_copy_beside_the_scored_script_is_not_a_change(tiny_task: Path, tmp_path: Path) -> None:
    """tiny-gpt-inference was credited +17 % for a train_modified.py its eval.py never imports."""
    import shutil

    from budgetmlagent.nodes.lifecycle import same_code

    workspace = tmp_path / "ws"
    shutil.copytree(tiny_task / "env", workspace)
    (workspace / "train_modified.py").write_text(IMPROVED_TRAIN)
    assert same_code(tiny_task / "env", workspace, ["train.py"])
    assert not same_code(tiny_task / "env", workspace)  # without scored_code every .py file counts
    (workspace / "train.py").write_text(IMPROVED_TRAIN)
    assert not same_code(tiny_task / "env", workspace, ["train.py"])
    (workspace / "train.py").unlink()
    assert not same_code(tiny_task / "env", workspace, ["train.py"])
    (workspace / "train.py").mkdir()
    assert not same_code(tiny_task / "env", workspace, ["train.py"])


def test_a_run_that_changes_the_invariant_output_is_not_valid_whatever_its_metric(
    measured_task: Path, tmp_path: Path
) -> None:
    """tiny-gpt-inference kept a CONTEXT_LENGTH change (+0.3 %) as its best: other weights, other tokens, so the
    hidden scorer refused it and the run ended without a score."""
    from conftest import PATTERN

    config = {"metric": "score", "validation_pattern": PATTERN, "invariant_pattern": r"tokens: (.*)"}
    (measured_task / "scripts" / "budgetmlagent.json").write_text(json.dumps(config))
    (measured_task / "env" / "train.py").write_text(BASELINE_TRAIN + 'print("tokens: [1, 2]")\n')
    other_tokens = IMPROVED_TRAIN + 'print("tokens: [1, 3]")\n'
    same_tokens = scored(0.6) + 'print("tokens: [1, 2]")\n'
    no_tokens = scored(0.7)
    replies = {
        BASE: [edit("change a"), code(other_tokens), code(no_tokens), code(same_tokens), FINAL],
        TOP: [edit("change b"), edit("change c")],
    }
    state, models = run_graph(measured_task, tmp_path, replies, max_steps=4, escalate_on_no_gain=True)
    first, second, third = observations(state)[:3]
    assert "Not valid: this run printed '[1, 3]' where the original prints '[1, 2]'" in first
    assert "Revert To Best restores the best valid version." in first
    assert "printed no line matching 'tokens: (.*)'" in second
    assert "Measured: validation score 0.6 (baseline 0.5, +20.0%) - the best so far." in third
    assert [s["ok"] for s in state["steps"][:3]] == [False, False, True]
    assert state["measured"] == [(3, 0.6)]
    result = state["result"]
    assert result["best"]["step"] == 3 and result["score"] == 0.6 and result["success"]
    escalations = [r for r in read_trace(Path(result["run_dir"])) if r["type"] == "escalation"]
    assert escalations[0]["reason"] == "edit failed verification"  # an invalid run sends the next plan up
    planners = [c["spec"] for c in models.calls() if c["schema"]["title"] not in ("CodeReply", "FixReply")]
    assert planners == [BASE, TOP, TOP, BASE]


def test_a_one_word_edit_instruction_is_an_invalid_reply(measured_task: Path, tmp_path: Path) -> None:
    """The 0.5B sent "Add,"; the coder guessed at columns the data lacks and the debugger never recovered."""
    state, _ = run_graph(measured_task, tmp_path, {BASE: [edit("Add,"), LIST]}, max_steps=1)
    rejected = [r for r in read_trace(Path(state["result"]["run_dir"])) if r["type"] == "rejected"]
    assert rejected[0]["error"].startswith("The edit instruction 'Add,' does not say what to change.")
    assert state["steps"][0]["action"] == "List Files" and state["edits_made"] == 0
    replies = {BASE: [edit("Add,"), code(IMPROVED_TRAIN)]}
    state, _ = run_graph(measured_task, tmp_path / "off", replies, max_steps=1, use_validity_checks=False)
    assert state["edits_made"] == 1  # the ablation lets it through


def test_the_planner_sees_no_diff_the_script_listing_already_shows(measured_task: Path, tmp_path: Path) -> None:
    # The kept edit's diff repeats the listing; the reverted edit's diff is the only view of what it wrote.
    replies = {
        BASE: [edit("make it better"), code(IMPROVED_TRAIN), edit("make it worse"), code(scored(0.7)), REVERT, LIST]
    }
    _, models = run_graph(measured_task, tmp_path, replies, max_steps=4)
    planner_calls = [c for c in models.calls(BASE) if c["schema"]["title"] != "CodeReply"]
    after_kept, after_revert = planner_calls[1]["messages"][-1].content, planner_calls[3]["messages"][-1].content
    assert "+score = 0.9" not in after_kept and "diff left out" in after_kept
    assert "+score = 0.7" in after_revert  # step 2's edit is no longer in the script: its diff stays
    assert "+score = 0.9" not in after_revert


def test_the_report_lists_each_change_who_proposed_it_and_what_it_measured(measured_task: Path, tmp_path: Path) -> None:
    replies = {BASE: [edit("make it better"), code(IMPROVED_TRAIN), edit("make it worse"), code(scored(0.7)), FINAL]}
    state, _ = run_graph(measured_task, tmp_path, replies)
    report = (Path(state["result"]["run_dir"]) / "report.md").read_text()
    section = report.split("## Changes and what each measured")[1]
    assert "Beyond the recipes the models proposed 2 change(s); 1 measured better than the best version before" in (
        section
    )
    assert f"| 1 | {BASE} | make it better | validation score 0.9, the best so far | yes |" in section
    assert f"| 2 | {BASE} | make it worse | validation score 0.7 |  |" in section
