"""Durable runs on scripted models: a run killed mid-node resumes from its checkpoint, trace and money intact."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import IMPROVED_TRAIN
from fakes import ScriptedModels
from test_graph_edges import code, edit, plan

from budgetmlagent.graph import Context, build_graph
from budgetmlagent.runtime.durable import INTERRUPTED_TRACE, open_checkpointer, thread_config, trim_trace
from budgetmlagent.runtime.llm import MODEL_CALL_STARTED
from budgetmlagent.runtime.run_folder import read_trace
from budgetmlagent.workspace.workspace import Workspace

PRICED = "openai:gpt-4o"  # priced, so dollars are at stake
LIST = plan("List Files", dir_path=".")
FINAL = plan("Final Answer", final_answer="done")


class Killed(BaseException):
    """Stands in for SIGKILL: nothing in the graph catches it."""


def context(tmp_path: Path, models: ScriptedModels) -> Context:
    return Context(
        planner_models=[PRICED],
        coder_models=[PRICED],
        debugger_models=[PRICED],
        worker_model=PRICED,
        use_expert=False,
        use_retrieval=False,
        keep_improving=False,  # the scripted planner stops when it chooses
        cache_dir=str(tmp_path / "cache"),
        chat_model_factory=models,
    )


def test_a_run_killed_inside_a_node_resumes_without_double_counting(
    tiny_task: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "run"
    inputs = {"task_dir": str(tiny_task), "run_dir": str(run_dir)}
    first = ScriptedModels({PRICED: [LIST, edit(), code(IMPROVED_TRAIN)]}, input_tokens=10_000, output_tokens=1_000)
    real_write = Workspace.write_text

    def killed_once(self: Workspace, rel: str, content: str, **kw: Any) -> str:
        monkeypatch.setattr(Workspace, "write_text", real_write)
        raise Killed  # the coder's model call is done and paid for; its node never finishes

    monkeypatch.setattr(Workspace, "write_text", killed_once)
    saver = open_checkpointer(run_dir)
    with pytest.raises(Killed):
        build_graph(checkpointer=saver).invoke(inputs, context=context(tmp_path, first), config=thread_config(200))
    saver.conn.close()

    saver = open_checkpointer(run_dir)
    graph = build_graph(checkpointer=saver)
    snapshot = graph.get_state(thread_config(200))
    assert snapshot.next == ("coder",) and len(snapshot.values["steps"]) == 1
    calls_done = len(snapshot.values["ledger"].calls)
    assert calls_done == 2  # step 1's planner call and step 2's planner call; the coder's call was cut off
    moved = trim_trace(run_dir, 1, calls_done)
    assert [r["role"] for r in moved if r["type"] == "llm_call"] == ["coder"]

    second = ScriptedModels({PRICED: [code(IMPROVED_TRAIN), FINAL]}, input_tokens=10_000, output_tokens=1_000)
    state = graph.invoke(None, context=context(tmp_path, second), config=thread_config(200))
    saver.conn.close()
    result = state["result"]
    assert result["status"] == "final_answer" and result["success"]
    trace = read_trace(run_dir)
    assert [r["step"] for r in trace if r["type"] == "step"] == [1, 2, 3]
    calls = [r for r in trace if r["type"] == "llm_call"]
    assert len(calls) == result["llm_calls"] == 4
    interrupted = [r for r in read_trace(run_dir, INTERRUPTED_TRACE) if r["type"] == "llm_call"]
    assert len(interrupted) == result["interrupted_llm_calls"] == 1
    paid = sum(r["cost_usd"] for r in calls + interrupted)
    assert result["cost_usd"] == pytest.approx(paid) and paid > 0  # each paid call counted exactly once
    assert json.loads((run_dir / "result.json").read_text())["cost_usd"] == pytest.approx(paid)


def test_a_run_killed_between_saved_writes_and_the_next_checkpoint_still_resumes(
    tiny_task: Path, tmp_path: Path
) -> None:
    """The CI failure: the planner's writes were saved, the checkpoint after them was not. `next` reads empty,
    yet the run is not over; resume must continue it (without asking the planner again)."""
    from langgraph.checkpoint.sqlite import SqliteSaver

    from budgetmlagent.resume_command import resume_point

    run_dir = tmp_path / "run"
    inputs = {"task_dir": str(tiny_task), "run_dir": str(run_dir)}

    class DiesBeforeACheckpoint(SqliteSaver):
        def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
            if metadata.get("step") == 5:  # the checkpoint after step 2's planner
                raise Killed
            return super().put(config, checkpoint, metadata, new_versions)

    saver = open_checkpointer(run_dir)
    dying = DiesBeforeACheckpoint(saver.conn, serde=saver.serde)
    first = ScriptedModels({PRICED: [LIST, edit()]}, input_tokens=10_000, output_tokens=1_000)
    with pytest.raises(Killed):
        build_graph(checkpointer=dying).invoke(
            inputs, context=context(tmp_path, first), config=thread_config(200), durability="sync"
        )
    saver.conn.close()

    saver = open_checkpointer(run_dir)
    graph = build_graph(checkpointer=saver)
    snapshot = graph.get_state(thread_config(200))
    assert snapshot.next == () and "result" not in snapshot.values  # what fooled the old check
    assert resume_point(snapshot.values) == "resumable"
    assert [t.name for t in snapshot.tasks] == ["planner"] and snapshot.tasks[0].result  # done, writes saved
    # get_state's values already hold those writes: step 2's planner call is kept, not bought again
    assert len(snapshot.values["ledger"].calls) == 2 and len(snapshot.values["steps"]) == 1
    moved = trim_trace(run_dir, 1, 2)
    assert moved == []  # nothing to set aside: the planner's paid call stays in the trace
    second = ScriptedModels({PRICED: [code(IMPROVED_TRAIN), FINAL]}, input_tokens=10_000, output_tokens=1_000)
    state = graph.invoke(None, context=context(tmp_path, second), config=thread_config(200))
    saver.conn.close()
    assert state["result"]["status"] == "final_answer" and state["result"]["success"]
    assert resume_point(state) == "finished" and resume_point({}) == "not_started"
    assert state["result"]["llm_calls"] == 4 and state["result"]["interrupted_llm_calls"] == 0
    assert len([r for r in read_trace(run_dir) if r["type"] == "llm_call"]) == 4  # trace and ledger agree


def test_trim_keeps_checkpointed_work_and_survives_a_torn_line(tmp_path: Path) -> None:
    records = [
        {"type": "start"},
        {"type": "llm_call", "step": 1, "cost_usd": 1.0},
        {"type": "step", "step": 1},
        {"type": "llm_call", "step": 2, "cost_usd": 1.0},
        {"type": "llm_call", "step": 2, "cost_usd": 2.0},
        {"type": "script_run", "step": 2},
    ]
    text = "".join(json.dumps(r) + "\n" for r in records) + '{"type": "llm_ca'
    (tmp_path / "trace.jsonl").write_text(text)
    moved = trim_trace(tmp_path, steps_done=1, calls_done=2)
    assert [r["type"] for r in read_trace(tmp_path)] == ["start", "llm_call", "step", "llm_call"]
    assert [r.get("cost_usd") for r in moved] == [2.0, None]
    assert len(read_trace(tmp_path, INTERRUPTED_TRACE)) == 2  # the torn line is kept aside but unreadable


def test_resume_command_on_a_finished_or_foreign_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from budgetmlagent.cli import main

    assert main(["resume", str(tmp_path)]) == 2
    assert "not a resumable run folder" in capsys.readouterr().err


def test_progress_is_streamed_live_as_custom_events(tiny_task: Path, tmp_path: Path) -> None:
    models = ScriptedModels({PRICED: [LIST, edit(), code(IMPROVED_TRAIN), FINAL]})
    events = [
        chunk
        for mode, chunk in build_graph().stream(
            {"task_dir": str(tiny_task), "run_dir": str(tmp_path / "run")},
            context=context(tmp_path, models),
            stream_mode=["custom", "values"],
            config={"recursion_limit": 100},
        )
        if mode == "custom"
    ]
    assert [e["type"] for e in events if e["type"] != MODEL_CALL_STARTED] == ["start", "step", "step", "step", "result"]
    started = [e for e in events if e["type"] == MODEL_CALL_STARTED]
    assert [e["role"] for e in started] == ["planner", "planner", "coder", "planner"]
    assert started[0] == events[1]  # announced before the step it belongs to
    events = [e for e in events if e["type"] != MODEL_CALL_STARTED]
    step = events[2]
    assert step["action"] == "Edit Script (AI)" and step["model"] == PRICED and step["cost_usd"] > 0
    assert events[-1]["success"] is True and events[-1]["score"] == 0.9


def approval_run(tiny_task: Path, tmp_path: Path, replies: list[Any], answers: list[Any]) -> tuple[Any, list[Any]]:
    """Run with require_approval, answering each pause from `answers`; returns the final state and the pauses."""
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    models = ScriptedModels({PRICED: replies})
    ctx = context(tmp_path, models)
    ctx.require_approval, ctx.max_steps = True, 2
    graph = build_graph(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}, "recursion_limit": 200}
    pauses: list[Any] = []
    state = graph.invoke({"task_dir": str(tiny_task), "run_dir": str(tmp_path / "run")}, context=ctx, config=config)
    while "__interrupt__" in state:
        pauses.append(state["__interrupt__"][0].value)
        state = graph.invoke(Command(resume=answers[len(pauses) - 1]), context=ctx, config=config)
    return state, pauses


RUN = plan("Execute Script", script_name="train.py")


def test_approval_pauses_before_scripts_and_final_answer(tiny_task: Path, tmp_path: Path) -> None:
    replies = [edit(), code(IMPROVED_TRAIN), FINAL]
    state, pauses = approval_run(tiny_task, tmp_path, replies, [{"decision": "approve"}] * 2)
    assert [(p["action"], p["why"]) for p in pauses] == [
        ("Execute Script", "runs the script just edited"),
        ("Final Answer", "now Final Answer"),
    ]
    assert state["result"]["status"] == "final_answer" and state["result"]["success"]


def test_a_denied_action_closes_the_step_with_the_reason(tiny_task: Path, tmp_path: Path) -> None:
    state, pauses = approval_run(tiny_task, tmp_path, [RUN, LIST], ["deny"])
    assert len(pauses) == 1 and pauses[0]["action"] == "Execute Script"
    step = state["steps"][0] if "steps" in state else None
    assert step is not None and not step["ok"]
    assert step["observation"] == "A person denied this action: no reason given"
    runs = [line for line in read_trace(tmp_path / "run") if line["type"] == "script_run"]
    assert runs == []  # the script never ran (the end of the run re-runs the untouched baseline to score it)


def test_an_edited_action_runs_as_edited(tiny_task: Path, tmp_path: Path) -> None:
    (tiny_task / "env" / "other.py").write_text("print('the other script ran')\n")
    answer = {"decision": "edit", "action_input": {"script_name": "other.py"}}
    state, _ = approval_run(tiny_task, tmp_path, [RUN, LIST], [answer])
    step = state["steps"][0]
    assert step["ok"] and "the other script ran" in step["observation"]
    bad = {"decision": "edit", "action_input": {"script_name": "missing.py"}}
    state, _ = approval_run(tiny_task, tmp_path / "b", [RUN, LIST], [bad])
    assert "the edited input was invalid" in state["steps"][0]["observation"]
