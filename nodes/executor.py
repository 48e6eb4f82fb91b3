"""Executor: runs plain actions, and the script that the coder or debugger just changed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from budgetmlagent.prompts import planner as words
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.measure import LAST_RUN_DIR, REVERT, first_working_baseline, measure_run, revert_to_best
from budgetmlagent.runtime.run_folder import append_trace
from budgetmlagent.runtime.state import ScriptOutcome, State, workspace_of
from budgetmlagent.workspace.actions import PLAIN_ACTIONS, execute_plain_action, validate_action
from budgetmlagent.workspace.snapshots import save_snapshot

EXECUTE = "Execute Script"


def executor(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context
    pending = state["pending"]
    assert pending is not None
    ws = workspace_of(state)
    to_run = state.get("to_run")
    if to_run is not None:
        script, origin = to_run
        name, args = EXECUTE, {"script_name": script}
    elif not state.get("executed") and pending["action"] == REVERT:
        text, ok = revert_to_best(state)
        # The restored scripts are the validated ones: nothing is left unrun.
        dirty = [] if ok else state.get("dirty_scripts", [])
        return {
            "observation": _join(state, text),
            "step_ok": ok,
            "executed": True,
            "to_run": None,
            "dirty_scripts": dirty,
        }
    elif not state.get("executed") and pending["action"] in PLAIN_ACTIONS:
        name, args, origin = pending["action"], pending["action_input"], "planner"
    else:
        return {"executed": True, "to_run": None}  # the coder or debugger gave up: nothing to run
    parsed, error = validate_action(ws, name, args)
    if parsed is None:
        return {"observation": _join(state, error or ""), "step_ok": False, "executed": True, "to_run": None}
    result = execute_plain_action(
        ws, name, parsed, script_timeout_s=ctx.script_timeout_s, memory_limit_mb=ctx.script_memory_mb
    )
    observation = result.observation
    update: dict[str, Any] = {"step_ok": result.ok, "executed": True, "to_run": None}
    if result.script_run is not None:
        note, measured = measure_run(state, ctx, result.script_run.stdout, result.ok)
        observation += note
        update |= measured
        update |= _first_change_done(state, measured)
    update["observation"] = _join(state, observation)
    dirty = set(state.get("dirty_scripts", []))
    dirty |= {f for f in result.changed_files if f.endswith(".py") and name != EXECUTE}
    if result.script_run is not None:
        script = args["script_name"]
        # Script time is kept apart so the benchmark can report framework overhead per step.
        append_trace(
            state.get("run_dir"),
            {
                "type": "script_run",
                "step": len(state.get("steps", [])) + 1,
                "script": script,
                "origin": origin,
                "ok": result.ok,
                "seconds": round(result.script_run.seconds, 3),
            },
        )
        if result.ok:
            dirty.discard(script)
            if script == state["task"].get("main_script") and state.get("run_dir"):
                # The end of the run falls back to this if the final workspace cannot be scored.
                save_snapshot(ws, Path(state["run_dir"]) / LAST_RUN_DIR)  # type: ignore[arg-type]
                update |= first_working_baseline(state, ctx, update.get("task", state["task"]))
        update["last_run"] = ScriptOutcome(
            script=script, ok=result.ok, traceback=result.script_run.traceback, origin=origin
        )
        update["failures"] = _count_breaks(state, origin, result.ok)
        update["timed_out"] = bool(state.get("timed_out")) or result.script_run.timed_out
    update["dirty_scripts"] = sorted(dirty)
    return update


def _first_change_done(state: State, measured: dict[str, Any]) -> dict[str, Any]:
    """The scaffold's own plan, marked done once its first change is measured. Left as "1. Make the script run
    ... 2. Then improve the model", a 1.5B planner read step 1 as still to do and re-ran the fixed script three
    steps running, with three ready changes offered."""
    if state.get("plan") != words.FIRST_CHANGE_PLAN or not measured.get("measured"):
        return {}
    step, value = measured["measured"][-1]
    return {"plan": words.first_change_done(state["task"]["main_script"], state["task"]["metric"], step, value)}


def _join(state: State, text: str) -> str:
    before = state.get("observation", "")
    return f"{before}\n\n{text}" if before else text


def _count_breaks(state: State, origin: str, ok: bool) -> dict[str, int]:
    """Edits that break the script escalate the coder; failed fixes escalate the debugger."""
    failures = dict(state.get("failures", {}))
    if origin in ("coder", "debugger"):
        failures[origin] = 0 if ok else failures.get(origin, 0) + 1
    if ok:
        failures["debugger"] = 0
    return failures
