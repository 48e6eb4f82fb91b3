"""Prepare (task -> workspace, baseline, run folder) and evaluate (score, verdict, result files)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from langgraph.runtime import Runtime

from budgetmlagent.prompts import planner as words
from budgetmlagent.prompts.history import SCAFFOLD_MODEL
from budgetmlagent.providers.ledger import Ledger
from budgetmlagent.runtime.context import Context
from budgetmlagent.runtime.durable import INTERRUPTED_TRACE
from budgetmlagent.runtime.experience import experience_summary, first_success, recall, record_run
from budgetmlagent.runtime.measure import BEST_DIR, LAST_RUN_DIR, tried_changes
from budgetmlagent.runtime.run_folder import (
    LEARNED_SOURCE,
    RECIPE_SOURCE,
    SCAFFOLD_SOURCE,
    append_trace,
    emit,
    read_trace,
    render_changes,
    render_experience,
    render_report,
    write_json,
)
from budgetmlagent.runtime.run_plot import plot_section
from budgetmlagent.runtime.state import BestSoFar, State, TaskInfo
from budgetmlagent.runtime.steps import STEP_RESET, current_step
from budgetmlagent.workspace.validation import is_better


def prepare(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Copy env/ into a fresh run folder and measure (or read) the baseline score."""
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.scoring import baseline_score
    from budgetmlagent.workspace.snapshots import save_snapshot
    from budgetmlagent.workspace.task import load_task
    from budgetmlagent.workspace.workspace import Workspace

    ctx = runtime.context
    started = time.time()
    run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    task_dir = state.get("task_dir", "")
    try:
        task = load_task(Path(task_dir), use_declarations=ctx.use_task_declarations)
    except (TaskError, OSError) as exc:
        run_dir = Path(state.get("run_dir") or Path(ctx.runs_dir) / f"invalid-task-{run_id}")
        run_dir.mkdir(parents=True, exist_ok=True)
        result = {"task": task_dir, "status": "error", "success": False, "error": str(exc)}
        write_json(run_dir / "result.json", result)
        return {"run_id": run_id, "run_dir": str(run_dir), "status": "error", "result": result}
    run_dir = Path(state.get("run_dir") or Path(ctx.runs_dir) / f"{task.name}-{run_id}")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "config.json", {"task_dir": str(task.root), "run_id": run_id, **ctx.public_dict()})
    ws = Workspace.create(task, run_dir / "workspace")
    base = baseline_score(task, Path(ctx.cache_dir) / "baselines", timeout_s=ctx.script_timeout_s)
    measured = ctx.use_measured_edits  # off: no hold-out metric or invariant output is read
    info = TaskInfo(
        **task.facts(),
        baseline=base.score,
        baseline_error=base.error,
        workspace=str(ws.root),
        validation_baseline=base.validation if measured else None,
        invariant_baseline=base.invariant if measured else None,
        starter_ran=None if base.source == "declared" else base.error is None,
    )
    if not measured:
        info |= {"validation_pattern": None, "invariant_pattern": None}
    elif task.validation_pattern:
        info["validation_source"] = "declared"
    elif base.validation_pattern:  # the starter prints a hold-out metric in a common form
        info |= {
            "validation_pattern": base.validation_pattern,
            "validation_source": "recognised in the starter's output",
        }
    best = None
    # Only a measured metric can say which version is best. The untouched workspace is the first "best".
    if ctx.use_best_snapshot and info["validation_pattern"]:
        save_snapshot(ws, run_dir / BEST_DIR)
        best = BestSoFar(validation=info["validation_baseline"], step=0, snapshot=str(run_dir / BEST_DIR))
    emit(runtime, str(run_dir), {"type": "start", "task": info})
    experience = recall(State(task=info, run_dir=str(run_dir)), ctx)
    return STEP_RESET | {
        "experience": experience,
        "run_id": run_id,
        "run_dir": str(run_dir),
        "task": info,
        "tiers": {"planner": 0, "coder": 0, "debugger": 0},
        "failures": {},
        "lifelines": ctx.lifelines if ctx.expert_enabled else 0,
        "ledger": Ledger(),
        "plan": "",
        "expert_advice": None,
        "dirty_scripts": [],
        "edits_made": 0,
        "best": best,
        "status": "running",
        "started_at": started,
    }


def evaluate(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Score the final workspace with the task's hidden eval.py and write the verdict."""
    from budgetmlagent.workspace.scoring import score_workspace
    from budgetmlagent.workspace.task import load_task

    ctx = runtime.context
    update: dict[str, Any] = {}
    steps = list(state.get("steps", []))
    status = state.get("status", "running")
    pending = state.get("pending")
    if pending is not None and pending["action"] == "Final Answer":
        final = current_step(state) | {"observation": "Final answer submitted.", "ok": True}
        emit(runtime, state.get("run_dir"), {"type": "step", **final})
        steps.append(final)
        update["steps"] = [final]
        status = "final_answer"
    elif status == "running":
        status = "error"
    task = state["task"]
    loaded = load_task(Path(state["task_dir"]), prepare=False, use_declarations=ctx.use_task_declarations)
    scored = score_workspace(loaded, Path(task["workspace"]), timeout_s=ctx.script_timeout_s)
    unchanged = same_code(loaded.env_dir, Path(task["workspace"]), loaded.scored_code)
    judged = honest_verdict(scored.score, task, unchanged)
    # MLAgentBench scores the last state; with the best snapshot on, the run ends on its best validated one.
    last = {"score": scored.score, "success": judged.success, "improvement": judged.improvement}
    best_result = None
    best = state.get("best")
    if ctx.use_best_snapshot and best is not None:
        scored, restored = _score_best(state, ctx, loaded, best, scored)
        # The restore may have changed the code.
        unchanged = same_code(loaded.env_dir, Path(task["workspace"]), loaded.scored_code)
        judged = honest_verdict(scored.score, task, unchanged)
        best_result = {
            "step": best["step"],
            "validation": best["validation"],
            "restored_files": restored,
            "score": scored.score,
            "success": judged.success,
            "improvement": judged.improvement,
        }
    fallback = None
    if scored.score is None:  # a run never ends without a score when some version of it could be scored
        scored, fallback = _score_fallback(state, ctx, loaded, scored)
        unchanged = same_code(loaded.env_dir, Path(task["workspace"]), loaded.scored_code)
        judged = honest_verdict(scored.score, task, unchanged)
    ledger: Ledger = state.get("ledger") or Ledger()
    escalations = state.get("escalations", [])
    interrupted = [r for r in read_trace(state["run_dir"], INTERRUPTED_TRACE) if r.get("type") == "llm_call"]
    result = {
        "task": task["name"],
        "status": status,
        "success": judged.success,
        "score": scored.score,
        "score_error": scored.error,
        "score_repairs": list(scored.repairs),  # links, special files, changed read-only files undone before scoring
        "baseline": task["baseline"],
        "baseline_source": task.get("baseline_source"),  # set when the starter did not run (a skeleton)
        "metric": task["metric"],
        "direction": task["direction"],
        "improvement": judged.improvement,
        "unchanged_code": unchanged,
        "validation_baseline": task.get("validation_baseline"),
        "last": last,
        "best": best_result,
        "fallback": fallback,
        "steps": len(steps),
        # Calls of a step cut off by a kill were paid for but are not in the checkpointed ledger: count them once.
        "cost_usd": ledger.cost_usd + sum(c.get("cost_usd") or 0.0 for c in interrupted),
        "interrupted_llm_calls": len(interrupted),
        "tokens_per_model": ledger.by_model(),
        "llm_calls": len(ledger.calls),
        "escalations": len(escalations),
        "expert_calls": sum(1 for c in ledger.calls if c.role == "expert"),
        "lifelines_left": state.get("lifelines", 0),
        "wall_time_s": round(time.time() - state.get("started_at", time.time()), 1),
        "run_dir": state.get("run_dir"),
    }
    # Dated by the validation metric: the hidden score is read once, at the end.
    result["first_success_step"], result["first_success_s"] = first_success(state)
    result["experience"] = experience_summary(state)
    run_dir = Path(state["run_dir"])
    write_json(run_dir / "result.json", result)
    rows = change_rows(state)
    if ctx.use_experience:
        made_best = [row[2] for row in rows if row[4] and best is not None and row[0] <= best["step"]]
        starter = _read_text(loaded.env_dir / task["main_script"]) if task.get("main_script") else None
        record_run(state, ctx, result, made_best, starter)
    report = render_report(result, steps) + render_changes(rows) + render_experience(result)
    report += plot_section(run_dir, state, steps)
    (run_dir / "report.md").write_text(report, encoding="utf-8")
    emit(runtime, str(run_dir), {"type": "result", **result})
    return update | {"status": status, "result": result}


def _score_fallback(state: State, ctx: Context, task: Any, last: Any) -> tuple[Any, str]:
    """The final workspace could not be scored (no submission, or a broken one): run the main script as it stands
    and score again; else restore the version whose main script last ran successfully, run it, and score that.
    Returns the score and one plain line saying what was done, or that no version could be scored."""
    from budgetmlagent.runtime.state import workspace_of
    from budgetmlagent.workspace.scoring import score_workspace
    from budgetmlagent.workspace.snapshots import restore_snapshot

    ws = workspace_of(state)
    main = task.baseline_script
    attempts = [
        ("the final workspace", None),
        ("the last version whose script ran", Path(state["run_dir"]) / LAST_RUN_DIR),
    ]
    for label, snapshot in attempts:
        if snapshot is not None:
            try:
                restore_snapshot(ws, snapshot)
            except OSError:  # no such snapshot (the script never ran), or it cannot be restored
                continue
        if not (ws.root / main).is_file():
            continue
        run = ws.run_script(main, timeout_s=ctx.script_timeout_s, memory_limit_mb=ctx.script_memory_mb)
        scored = score_workspace(task, ws.root, timeout_s=ctx.script_timeout_s) if run.ok else last
        if scored.score is not None:
            append_trace(state.get("run_dir"), {"type": "score_fallback", "version": label})
            return scored, f"{label} had no scoreable submission until {main} ran again; that run was scored"
    return last, f"no version of the workspace produced a submission eval.py could score ({last.error})"


def honest_verdict(score: float | None, task: Any, unchanged: bool) -> Any:
    """The verdict, except that the task's own code never succeeds: its re-scored baseline above the bar is timing
    noise (a timing task's baseline is measured once, at the start, under other load), not an improvement. Seen:
    tiny-gpt-inference scored +18 % with every edit rolled back."""
    from budgetmlagent.workspace.scoring import Verdict, verdict

    judged = verdict(score, task["baseline"], task["direction"])
    if unchanged and judged.success:
        return Verdict(False, judged.improvement, "the code is the task's own: no improvement to credit")
    return judged


def same_code(env_dir: Path, workspace: Path, scored_code: Sequence[str] = ()) -> bool:
    """Whether the workspace's Python files are the task's own, byte for byte (no file added, none changed).

    With scored_code (the files eval.py imports and times), only those count: a copy such as train_modified.py
    next to an untouched train.py changes nothing eval.py runs (seen: tiny-gpt-inference credited +17 %)."""
    if scored_code:
        return all(_same_file(env_dir / name, workspace / name) for name in scored_code)
    original = {p.relative_to(env_dir): p for p in env_dir.rglob("*.py")}
    current = {p.relative_to(workspace): p for p in workspace.rglob("*.py") if "__pycache__" not in p.parts}
    if set(original) != set(current):
        return False
    return all(original[rel].read_bytes() == current[rel].read_bytes() for rel in original)


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _same_file(original: Path, current: Path) -> bool:
    try:
        return original.read_bytes() == current.read_bytes()
    except OSError:  # deleted, or a folder where the file was
        return False


def _score_best(state: State, ctx: Context, task: Any, best: BestSoFar, last: Any) -> tuple[Any, list[str]]:
    """Restore the best snapshot and score it; the untouched baseline is re-run so it has its outputs."""
    from budgetmlagent.runtime.state import workspace_of
    from budgetmlagent.workspace.scoring import ScoreResult, score_workspace
    from budgetmlagent.workspace.snapshots import restore_snapshot

    ws = workspace_of(state)
    try:
        restored = restore_snapshot(ws, Path(best["snapshot"]))
    except OSError as exc:
        append_trace(state.get("run_dir"), {"type": "best_restore_failed", "error": str(exc)})
        return last, []
    if not restored and last.score is not None:
        return last, []
    append_trace(state.get("run_dir"), {"type": "best_restored", "step": best["step"], "files": restored})
    if best["step"] == 0 and (ws.root / task.baseline_script).is_file():
        run = ws.run_script(task.baseline_script, timeout_s=ctx.script_timeout_s, memory_limit_mb=ctx.script_memory_mb)
        if not run.ok:
            return ScoreResult(None, f"the restored baseline script failed: {run.traceback or run.output}"), restored
    return score_workspace(task, ws.root, timeout_s=ctx.script_timeout_s), restored


def change_rows(state: State) -> list[tuple[int, str, str, str, bool]]:
    """Each edit for the report, from the planner's own table of tried changes: its step, who proposed it (a recipe
    taken without a model, the scaffold, or the planner's model), its instruction, what it measured, and whether
    that beat every measurement before it."""
    by_step = {s["step"]: s for s in state.get("steps", [])}
    measured = dict(state.get("measured", []))
    task = state.get("task") or {}
    best = task.get("validation_baseline")
    rows = []
    for step, instruction, outcome in tried_changes(state) if task else []:
        record = by_step[step]
        source = record["model"]
        if source == SCAFFOLD_MODEL:
            source = SCAFFOLD_SOURCE
            if record["thought"].startswith(words.RECIPE_THOUGHT_PREFIX):
                source = RECIPE_SOURCE
            elif record["thought"].startswith(words.LEARNED_THOUGHT_PREFIX):
                source = LEARNED_SOURCE
        value = measured.get(step)
        better = value is not None and (best is None or is_better(value, best, task["direction"]))
        if better:
            best = value
        rows.append((step, source, instruction, outcome, better))
    return rows
