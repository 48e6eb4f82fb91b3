"""`budgetmlagent run TASK_DIR`: one agent run with live progress and a run folder."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any


def add_run_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="Improve one task (MLAgentBench folder form) and write a run folder.")
    run.add_argument("task_dir", type=Path, help="task folder with env/ and scripts/")
    # Flags default to None: a flag given wins, then BUDGETMLAGENT_<NAME>, then the Context default.
    run.add_argument("--preset", help="local (default, offline), paper, or single:<spec>")
    run.add_argument("--max-steps", type=int, help="step cap (default 30)")
    run.add_argument("--budget-usd", type=float, help="dollar cap (default 2.0)")
    run.add_argument("--wall-clock", type=float, help="wall-clock cap in seconds (default 10800)")
    run.add_argument("--script-timeout", type=float, help="timeout of one script run in seconds (default 600)")
    run.add_argument("--lifelines", type=int, help="expert calls + top-tier escalations (default 5)")
    run.add_argument(
        "--target",
        type=float,
        help="stop once the validation metric beats the baseline's by this fraction, e.g. 0.12 (default: off)",
    )
    run.add_argument("--out", type=Path, default=None, help="run folder (default runs/<task>-<id>)")
    run.add_argument("--seed", type=int, help="run seed, recorded with the run (default 0)")
    run.add_argument("--no-retrieval", action="store_true", help="ablation: no Chroma memory")
    run.add_argument("--no-expert", action="store_true", help="ablation: no Ask Expert")
    run.add_argument("--no-cascade", action="store_true", help="ablation: base tier only")
    run.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="any Context setting, e.g. lifelines=3"
    )
    run.add_argument(
        "--approve", action="store_true", help="ask before any script runs and before Final Answer (approve/deny/edit)"
    )
    run.add_argument("--json", action="store_true", help="print result.json instead of the summary")
    project = run.add_argument_group(
        "an ordinary project (not a task folder)", "TASK_DIR is then the project's folder; it is copied, never changed"
    )
    project.add_argument("--goal", help="what to improve, e.g. 'lower the RMSE of the predictions'")
    project.add_argument("--score-cmd", help="command run in the project folder that prints the score last")
    project.add_argument("--script", help="the training script (default train.py, or the only .py file)")
    project.add_argument("--read-only", nargs="+", default=[], metavar="FILE", help="files the agent must not change")
    project.add_argument("--direction", choices=["higher", "lower"], help="which way is better (default: from --goal)")
    project.add_argument("--metric", help="the score's name (default: from --goal)")
    run.set_defaults(handler=run_command)


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console

    from budgetmlagent.preflight import (
        TASK_EXIT,
        BadInput,
        check_local_models_installed,
        check_task,
        context_from,
        given,
        run_caps,
    )

    console = Console(stderr=True, soft_wrap=True, emoji=False, highlight=False)
    settings = run_caps(args) | given({"preset": args.preset, "seed": args.seed, "target_improvement": args.target})
    # A switch names its setting only when given, so BUDGETMLAGENT_USE_EXPERT=false still works without it.
    for flag, name, value in (
        (args.no_retrieval, "use_retrieval", False),
        (args.no_expert, "use_expert", False),
        (args.no_cascade, "use_cascade", False),
        (args.approve, "require_approval", True),
    ):
        if flag:
            settings[name] = value
    try:
        ctx = context_from(settings, args.set)
        run_dir = Path(args.out) if args.out is not None else new_run_dir(ctx.runs_dir, args.task_dir)
        check_run_folder(run_dir)
        if args.goal is not None or args.score_cmd is not None:
            args.task_dir = project_folder(args, ctx)
    except BadInput as exc:
        return show_error(console, str(exc), exc.exit_code)
    try:
        check_task(args.task_dir, ctx)  # a broken task is the run's verdict, so it is recorded even on a bare machine
        check_local_models_installed(ctx)
    except BadInput as exc:
        if exc.exit_code == TASK_EXIT:  # the run's verdict: the folder says so, as a run's would
            record_failed_start(run_dir, str(args.task_dir), str(exc))
            return show_error(console, f"{exc} (recorded in {run_dir / 'result.json'})", exc.exit_code)
        return show_error(console, str(exc), exc.exit_code)
    inputs: dict[str, Any] = {"task_dir": str(args.task_dir), "run_dir": str(run_dir)}
    console.print(f"[bold]budgetmlagent[/] {escape(str(args.task_dir))} preset={escape(ctx.preset)} "
                  f"max_steps={ctx.max_steps}")  # fmt: skip
    return stream_run(inputs, ctx, run_dir, console, as_json=args.json)


def project_folder(args: argparse.Namespace, ctx: Any) -> Path:
    """The task folder made from an ordinary project (--goal and --score-cmd); bad project input is BadInput."""
    from budgetmlagent.preflight import BadInput
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.project import project_task_folder

    if not args.goal or not args.score_cmd:
        raise BadInput("a project run needs both --goal TEXT and --score-cmd CMD")
    try:
        return project_task_folder(
            args.task_dir,
            goal=args.goal,
            score_cmd=args.score_cmd,
            cache_dir=Path(ctx.cache_dir),
            script=args.script,
            read_only=args.read_only,
            metric=args.metric,
            direction=args.direction,
        )
    except (TaskError, OSError) as exc:
        raise BadInput(str(exc)) from exc


def check_run_folder(run_dir: Path) -> None:
    """A new run needs an empty (or new) folder it can write; a used one is resumed, never overwritten."""
    from budgetmlagent.preflight import BadInput
    from budgetmlagent.runtime.durable import CHECKPOINT_FILE

    if run_dir.exists() and not run_dir.is_dir():
        raise BadInput(f"--out {run_dir} is a file, not a folder: give a new folder for the run")
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if (run_dir / CHECKPOINT_FILE).is_file():
            raise BadInput(f"{run_dir} is not empty; `budgetmlagent resume {run_dir}` continues a run there")
        raise BadInput(f"{run_dir} is not empty and holds no run to resume: give a new --out, or empty it")
    probe = run_dir if run_dir.is_dir() else next((p for p in run_dir.parents if p.exists()), Path("."))
    if not os.access(probe, os.W_OK):
        raise BadInput(f"cannot create the run folder {run_dir}: {probe} is not writable; choose another --out")


def record_failed_start(run_dir: Path, task_dir: str, error: str) -> None:
    """A run that cannot start still leaves its folder with a result.json that says why (as `prepare` does)."""
    from budgetmlagent.runtime.run_folder import write_json

    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(run_dir / "result.json", {"task": task_dir, "status": "error", "success": False, "error": error})


def show_error(console: Any, message: str, exit_code: int) -> int:
    console.print(f"[red]error:[/] {escape(message)}")
    return exit_code


def escape(text: str) -> str:
    """Text shown through rich as it is: `[...]` in a path or a setting is not markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def stream_run(inputs: dict[str, Any] | None, ctx: Any, run_dir: Path, console: Any, *, as_json: bool) -> int:
    """Run (inputs) or resume (None) the graph with the run folder's checkpointer, printing progress.

    An exception from inside the run ends the command with one line, never a traceback: the folder keeps its
    checkpoints (so `resume` can continue), result.json says what stopped it and error.log has the traceback.
    """
    from langgraph.types import Command

    from budgetmlagent.graph import build_graph, recursion_limit
    from budgetmlagent.progress import STREAM_MODES, Progress
    from budgetmlagent.runtime.durable import open_checkpointer, thread_config

    checkpointer = open_checkpointer(run_dir)
    graph = build_graph(checkpointer=checkpointer)
    config = thread_config(recursion_limit(ctx.max_steps))
    progress = Progress(console)
    final: dict[str, Any] = {}
    payload: Any = inputs
    try:
        if inputs is None:  # steps done before the interruption were printed by the first process
            done = graph.get_state(config).values
            progress.steps_seen, progress.task_shown = len(done.get("steps", [])), True
            progress.escalations_seen = len(done.get("escalations", []))
        while True:
            with progress:
                for mode, data in graph.stream(payload, context=ctx, stream_mode=STREAM_MODES, config=config):
                    progress.event(mode, data)
                    if mode == "values":
                        final = data
            pauses = graph.get_state(config).interrupts
            if not pauses:
                break
            payload = Command(resume=ask_person(console, pauses[0].value))
    except KeyboardInterrupt:
        console.print(f"interrupted; `budgetmlagent resume {escape(str(run_dir))}` continues from the last step")
        raise
    except Exception as exc:  # the run's own failure: reported on one line, its folder kept
        return stopped_by_exception(console, run_dir, exc, str((inputs or {}).get("task_dir", "")))
    finally:
        checkpointer.conn.close()
    result = final.get("result", {})
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:  # the result goes to stdout, progress and errors to stderr (docs/cli.md)
        from rich.console import Console

        progress.verdict(result, Console(soft_wrap=True, emoji=False, highlight=False))
    return 0 if result.get("status") not in (None, "error") else 1


ERROR_LOG = "error.log"


def stopped_by_exception(console: Any, run_dir: Path, exc: Exception, task_dir: str) -> int:
    """Record an exception that stopped a run (result.json, error.log) and say so on one line."""
    import traceback

    from budgetmlagent.preflight import one_line
    from budgetmlagent.runtime.run_folder import write_json

    message = one_line(f"{type(exc).__name__}: {exc}")
    resume_hint = f"`budgetmlagent resume {run_dir}` continues from the last completed step"
    try:
        (run_dir / ERROR_LOG).write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
        previous = _read_json(run_dir / "result.json")
        if previous.get("status") in (None, "error"):  # a finished run's verdict is never overwritten
            task = previous.get("task") or task_dir or _read_json(run_dir / "config.json").get("task_dir", "")
            record = {"task": task, "status": "error", "success": False, "error": message, "resumable": True}
            write_json(run_dir / "result.json", record)
    except OSError as write_error:
        resume_hint += f" (the folder could not record the error: {write_error})"
    console.print(
        f"[red]error:[/] the run stopped: {escape(message)}; {escape(resume_hint)}; "
        f"traceback in {escape(str(run_dir / ERROR_LOG))}"
    )
    return 1


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def ask_person(console: Any, request: dict[str, Any]) -> dict[str, Any]:
    """The CLI side of --approve: show the action, read approve / deny (with a reason) / edit (new JSON input)."""
    console.print(
        f"[bold yellow]approve?[/] {request['action']} {json.dumps(request['action_input'])}\n  why: {request['why']}"
    )
    try:
        answer = input("[a]pprove, [d]eny, [e]dit: ").strip().lower()
        if answer.startswith("e"):
            text = input("new action input as JSON: ")
            return {"decision": "edit", "action_input": json.loads(text)}
        if answer.startswith("d"):
            return {"decision": "deny", "reason": input("reason (the agent reads it): ").strip()}
        if answer.startswith("a") or answer == "":
            return {"decision": "approve"}
        return {"decision": "deny", "reason": f"unrecognised answer {answer!r}"}
    except EOFError:
        return {"decision": "deny", "reason": "nobody answered (standard input closed)"}
    except json.JSONDecodeError as exc:
        return {"decision": "deny", "reason": f"the edited input was not JSON: {exc}"}


def new_run_dir(runs_dir: str, task_dir: Path) -> Path:
    """runs/<task>-<date>-<time>-<random>: the folder a new run writes everything into."""
    import time
    import uuid

    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    return Path(runs_dir) / f"{Path(task_dir).resolve().name}-{stamp}"
