"""`budgetmlagent tasks list|check`: the bundled suite, and a checker for any task folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_tasks_parser(sub: argparse._SubParsersAction) -> None:
    tasks = sub.add_parser("tasks", help="List the bundled tasks, or check a task folder.")
    actions = tasks.add_subparsers(dest="tasks_command", metavar="ACTION")
    listing = actions.add_parser("list", help="The bundled benchmark tasks with their metric.")
    listing.set_defaults(handler=list_command)
    check = actions.add_parser("check", help="Say precisely what a task folder (ours or MLAgentBench's) lacks.")
    check.add_argument("task_dir", help="task folder, or the name of a bundled task")
    check.add_argument(
        "--run",
        action="store_true",
        help="also prepare the data, run the baseline and score it; with reference/, prove the task is winnable",
    )
    check.add_argument("--timeout", type=float, default=300, help="seconds per script run with --run")
    check.set_defaults(handler=check_command)
    tasks.set_defaults(handler=lambda args: tasks.print_help() or 2)


def list_command(args: argparse.Namespace) -> int:
    from budgetmlagent.workspace.task import declared_config
    from budgetmlagent.workspace.task_check import bundled_tasks

    tasks = bundled_tasks()
    rows = []
    for path in tasks:
        config, _ = declared_config(path)
        prepared = "prepared" if (path / "scripts" / "prepared").exists() else "not prepared"
        rows.append((path.name, f"{config.metric} ({config.direction} is better)", prepared))
    width = max((len(r[0]) for r in rows), default=4)
    for name, metric, prepared in rows:
        print(f"{name:<{width}}  {metric:<34} {prepared}")
    print(f"{len(rows)} tasks in {tasks[0].parent if tasks else 'benchmarks/tasks'}")
    return 0


def check_command(args: argparse.Namespace) -> int:
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.task_check import REFERENCE_DIR, check_task_folder, resolve_task

    marks = {"ok": "ok  ", "warning": "warn", "error": "FAIL"}
    try:
        path = resolve_task(args.task_dir)
    except TaskError as exc:
        print(f"error: {exc}")
        return 1
    findings = check_task_folder(path)
    for finding in findings:
        print(f"[{marks[finding.level]}] {finding.message}")
    errors = sum(f.level == "error" for f in findings)
    if errors:
        print(f"{path}: {errors} problem(s); it is not a usable task folder yet.")
        return 1
    if args.run:
        return _check_by_running(path, args.timeout, has_reference=(Path(path) / REFERENCE_DIR).is_dir())
    print(f"{path}: looks like a usable task folder (add --run to run and score its baseline).")
    return 0


def _check_by_running(path: Path, timeout_s: float, *, has_reference: bool) -> int:
    from budgetmlagent.preflight import one_line
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.scoring import baseline_score
    from budgetmlagent.workspace.task import load_task
    from budgetmlagent.workspace.task_check import reference_check

    try:
        if has_reference:
            result = reference_check(path, timeout_s=timeout_s)
            print(f"baseline {result.baseline}, baseline run again {result.rerun}, reference {result.reference}")
            for error in result.errors:
                print(f"[FAIL] {one_line(error)}")
            print(validation_line(load_task(path), result.validation, result.validation_pattern))
            fair = result.reference_success and not result.rerun_success and not result.errors
            gain = "n/a" if result.reference_improvement is None else f"{result.reference_improvement:+.1%}"
            print(
                f"[{'ok  ' if fair else 'FAIL'}] reference improvement {gain}; baseline rerun clears the bar: "
                f"{result.rerun_success}"
            )
            return 0 if fair else 1
        import tempfile

        task = load_task(path)
        with tempfile.TemporaryDirectory() as tmp:
            base = baseline_score(task, Path(tmp), timeout_s=timeout_s)
    except TaskError as exc:
        print(f"[FAIL] {one_line(str(exc))}")
        return 1
    if base.score is None:
        print(f"[FAIL] {one_line(base.error or 'the baseline has no score')}")
        return 1
    print(f"[ok  ] baseline {task.metric} = {base.score:.6g} ({base.seconds:.1f} s)")
    print(validation_line(task, base.validation, base.validation_pattern))
    return 0


def validation_line(task: Any, value: float | None, pattern: str | None) -> str:
    """What the starter printed as its hold-out metric, or that the agent's first change will make it print one."""
    if value is None:
        return (
            f"[note] the starter prints no validation {task.metric}: the agent's first change will make it print "
            f"'Validation {task.metric}: <value>' on a hold-out split"
        )
    how = "declared pattern" if task.validation_pattern else f"recognised line, pattern {pattern!r}"
    return f"[ok  ] the starter prints its validation {task.metric}: {value:.6g} ({how})"
