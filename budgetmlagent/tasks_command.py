"""`budgetmlagent tasks list|check`: the bundled suite, and a checker for any task folder."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any


def add_tasks_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tasks = sub.add_parser("tasks", help="List the bundled tasks, or check a task folder.")
    actions = tasks.add_subparsers(dest="tasks_command", metavar="ACTION")
    listing = actions.add_parser("list", help="The bundled benchmark tasks with their metric.")
    listing.add_argument("--json", action="store_true", help="print the list as one JSON document")
    listing.set_defaults(handler=list_command)
    check = actions.add_parser("check", help="Say precisely what a task folder (ours or MLAgentBench's) lacks.")
    check.add_argument("task_dir", help="task folder, or the name of a bundled task")
    check.add_argument(
        "--run",
        action="store_true",
        help="also prepare the data, run the baseline and score it; with reference/, prove the task is winnable",
    )
    check.add_argument("--timeout", type=float, default=300, help="seconds per script run with --run")
    check.add_argument(
        "--json", action="store_true", help="print the findings (and --run's scores) as one JSON document"
    )
    check.set_defaults(handler=check_command)
    tasks.set_defaults(handler=lambda args: _missing_action(tasks))


def _missing_action(parser: argparse.ArgumentParser) -> int:
    """`tasks` without list or check: a usage error, so its help goes to stderr with exit 2."""
    parser.print_help(sys.stderr)
    return 2


def print_json(document: Any) -> None:
    """The one JSON document a command prints to stdout with --json."""
    print(json.dumps(document, indent=2, default=str))


def list_command(args: argparse.Namespace) -> int:
    from budgetmlagent.workspace.task import declared_config
    from budgetmlagent.workspace.task_check import TASKS_DIR, bundled_tasks

    tasks = bundled_tasks()
    entries: list[dict[str, Any]] = []
    for path in tasks:
        config, _ = declared_config(path)
        entries.append(
            {
                "name": path.name,
                "path": str(path),
                "metric": config.metric,
                "direction": config.direction,
                "prepared": (path / "scripts" / "prepared").exists(),
            }
        )
    if getattr(args, "json", False):
        print_json({"tasks_dir": str(TASKS_DIR), "tasks": entries})
        return 0
    rows = [
        (e["name"], f"{e['metric']} ({e['direction']} is better)", "prepared" if e["prepared"] else "not prepared")
        for e in entries
    ]
    width = max((len(r[0]) for r in rows), default=4)
    for name, metric, prepared in rows:
        print(f"{name:<{width}}  {metric:<34} {prepared}")
    print(f"{len(rows)} tasks in {tasks[0].parent if tasks else 'benchmarks/tasks'}")
    return 0


def check_command(args: argparse.Namespace) -> int:
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.task_check import REFERENCE_DIR, check_task_folder, resolve_task

    as_json = bool(getattr(args, "json", False))
    marks = {"ok": "ok  ", "warning": "warn", "error": "FAIL"}
    try:
        path = resolve_task(args.task_dir)
    except TaskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    findings = check_task_folder(path)
    errors = sum(f.level == "error" for f in findings)
    document: dict[str, Any] = {
        "task_dir": str(path),
        "findings": [{"level": f.level, "message": f.message} for f in findings],
        "problems": errors,
        "usable": not errors,
        "run": None,
    }
    # Human lines are printed as they are known (a --run takes minutes); --json prints one document at the end.
    say: Callable[[str], None] = (lambda _line: None) if as_json else print
    for finding in findings:
        say(f"[{marks[finding.level]}] {finding.message}")
    code = 0
    if errors:
        say(f"{path}: {errors} problem(s); it is not a usable task folder yet.")
        code = 1
    elif args.run:
        has_reference = (Path(path) / REFERENCE_DIR).is_dir()
        code, document["run"] = _check_by_running(path, args.timeout, has_reference=has_reference, say=say)
        document["usable"] = code == 0
    else:
        say(f"{path}: looks like a usable task folder (add --run to run and score its baseline).")
    if as_json:
        print_json(document)
    return code


def _check_by_running(
    path: Path, timeout_s: float, *, has_reference: bool, say: Callable[[str], None] = print
) -> tuple[int, dict[str, Any]]:
    """Run and score the baseline (and the reference/ overlay when there is one), saying each result as a line:
    the exit code and what was measured (for --json)."""
    from budgetmlagent.preflight import one_line
    from budgetmlagent.workspace.errors import TaskError
    from budgetmlagent.workspace.scoring import baseline_score
    from budgetmlagent.workspace.task import load_task
    from budgetmlagent.workspace.task_check import reference_check

    try:
        if has_reference:
            result = reference_check(path, timeout_s=timeout_s)
            task = load_task(path)
            fair = result.reference_success and not result.rerun_success and not result.errors
            measured = asdict(result) | {"metric": task.metric, "errors": list(result.errors), "fair": fair}
            say(f"baseline {result.baseline}, baseline run again {result.rerun}, reference {result.reference}")
            for error in result.errors:
                say(f"[FAIL] {one_line(error)}")
            say(validation_line(task, result.validation, result.validation_pattern))
            gain = "n/a" if result.reference_improvement is None else f"{result.reference_improvement:+.1%}"
            say(
                f"[{'ok  ' if fair else 'FAIL'}] reference improvement {gain}; baseline rerun clears the bar: "
                f"{result.rerun_success}"
            )
            return (0 if fair else 1), measured
        import tempfile

        task = load_task(path)
        with tempfile.TemporaryDirectory() as tmp:
            base = baseline_score(task, Path(tmp), timeout_s=timeout_s)
    except TaskError as exc:
        message = one_line(str(exc))
        say(f"[FAIL] {message}")
        return 1, {"error": message}
    measured = {
        "metric": task.metric,
        "baseline": base.score,
        "seconds": base.seconds,
        "error": None if base.score is not None else one_line(base.error or "the baseline has no score"),
        "validation": base.validation,
        "validation_pattern": base.validation_pattern,
    }
    if base.score is None:
        say(f"[FAIL] {measured['error']}")
        return 1, measured
    say(f"[ok  ] baseline {task.metric} = {base.score:.6g} ({base.seconds:.1f} s)")
    say(validation_line(task, base.validation, base.validation_pattern))
    return 0, measured


def validation_line(task: Any, value: float | None, pattern: str | None) -> str:
    """What the starter printed as its hold-out metric, or that the agent's first change will make it print one."""
    if value is None:
        return (
            f"[note] the starter prints no validation {task.metric}: the agent's first change will make it print "
            f"'Validation {task.metric}: <value>' on a hold-out split"
        )
    how = "declared pattern" if task.validation_pattern else f"recognised line, pattern {pattern!r}"
    return f"[ok  ] the starter prints its validation {task.metric}: {value:.6g} ({how})"
