"""Task folders: finding the bundled ones, checking any folder, and proving a task is winnable."""

from __future__ import annotations

import ast
import fnmatch
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from budgetmlagent.workspace.errors import TaskError
from budgetmlagent.workspace.task import CONFIG_FILE, TaskConfig, declared_config, infer_metric, read_only_patterns

# The bundled suite ships beside this package (budgetmlagent/benchmarks/tasks), as package data only.
TASKS_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "tasks"
REFERENCE_DIR = "reference"
Level = Literal["ok", "warning", "error"]


def bundled_tasks() -> list[Path]:
    """Task folders shipped in benchmarks/tasks, by name."""
    if not TASKS_DIR.is_dir():
        return []
    return sorted(p for p in TASKS_DIR.iterdir() if (p / "scripts" / "research_problem.txt").is_file())


def resolve_task(name_or_path: str) -> Path:
    """A path to a task folder, or the name of a bundled task."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path.resolve()
    bundled = TASKS_DIR / name_or_path
    if bundled.is_dir():
        return bundled
    names = ", ".join(p.name for p in bundled_tasks())
    raise TaskError(f"no task folder {name_or_path!r}: give a path, or one of the bundled tasks: {names}")


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str


def check_task_folder(path: Path) -> list[Finding]:
    """Every problem that keeps a folder from being a scoreable MLAgentBench task, in plain words."""
    root = Path(path).expanduser()
    if not root.is_dir():
        return [Finding("error", f"{root} is not a directory")]
    env, scripts = root / "env", root / "scripts"
    findings: list[Finding] = []
    if not env.is_dir():
        findings.append(Finding("error", "env/ is missing: it holds the files the agent works on (train.py, data)"))
    if not scripts.is_dir():
        findings.append(Finding("error", "scripts/ is missing: it holds research_problem.txt and eval.py"))
        return findings
    findings += _check_problem(scripts / "research_problem.txt")
    findings += _check_eval(scripts / "eval.py")
    config, config_findings = _check_config(root)
    findings += config_findings
    prepare = scripts / "prepare.py"
    prepared = (scripts / "prepared").exists()
    if prepare.is_file():
        state = "has run" if prepared else "has not run yet (it runs on first use)"
        findings.append(Finding("ok", f"scripts/prepare.py builds the data; it {state}"))
    if env.is_dir():
        findings += _check_env(env, config, waiting_for_prepare=prepare.is_file() and not prepared)
        findings += _check_read_only(scripts / "read_only_files.txt", env, prepare.is_file() and not prepared)
    if (root / REFERENCE_DIR).is_dir():
        files = ", ".join(sorted(p.name for p in (root / REFERENCE_DIR).iterdir() if p.is_file()))
        findings.append(Finding("ok", f"reference/ improvement present ({files})"))
    return findings


def _check_problem(path: Path) -> list[Finding]:
    if not path.is_file():
        return [Finding("error", "scripts/research_problem.txt is missing: the agent needs the task statement")]
    if not path.read_text(encoding="utf-8", errors="replace").strip():
        return [Finding("error", "scripts/research_problem.txt is empty")]
    return [Finding("ok", "scripts/research_problem.txt present")]


def _check_eval(path: Path) -> list[Finding]:
    if not path.is_file():
        return [Finding("error", "scripts/eval.py is missing: define get_score(submission_folder) -> float in it")]
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=str(path))
    except SyntaxError as exc:
        return [Finding("error", f"scripts/eval.py does not parse: line {exc.lineno}: {exc.msg}")]
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "get_score":
            if not node.args.args and not node.args.vararg:
                return [Finding("error", "scripts/eval.py: get_score must take the submission folder as argument")]
            return [Finding("ok", "scripts/eval.py defines get_score(submission_folder)")]
    return [Finding("error", "scripts/eval.py has no top-level function get_score(submission_folder)")]


def _check_config(root: Path) -> tuple[TaskConfig, list[Finding]]:
    try:
        config, source = declared_config(root)
    except ValueError as exc:
        first = str(exc).splitlines()
        return TaskConfig(), [Finding("error", f"scripts/{CONFIG_FILE} is invalid: {' '.join(first[:3])}")]
    problem = root / "scripts" / "research_problem.txt"
    text = problem.read_text(encoding="utf-8", errors="replace") if problem.is_file() else ""
    found = infer_metric(config, source, root / "scripts" / "eval.py", text)
    config = config.model_copy(update={"metric": found["metric"], "direction": found["direction"]})
    said = (
        f"metric {found['metric']} ({found['metric_source']}), {found['direction']} is better "
        f"({found['direction_source']})"
    )
    if "default" not in found["metric_source"] + found["direction_source"]:
        return config, [Finding("ok", said)]
    example = json.dumps({"metric": "accuracy", "direction": "higher"})
    return config, [Finding("warning", f"{said}; nothing in the folder says it: declare it, e.g. {example}")]


def _check_env(env: Path, config: TaskConfig, *, waiting_for_prepare: bool) -> list[Finding]:
    return [
        *_check_baseline_script(env, config, waiting_for_prepare),
        *_check_scored_code(env, config, waiting_for_prepare),
    ]


def _check_baseline_script(env: Path, config: TaskConfig, waiting_for_prepare: bool) -> list[Finding]:
    script = env / config.baseline_script
    if script.is_file():
        return [Finding("ok", f"env/{config.baseline_script} (baseline script) present")]
    if waiting_for_prepare:
        return [Finding("warning", f"env/{config.baseline_script} is missing; prepare.py may create it")]
    return [
        Finding(
            "error",
            f"env/{config.baseline_script} is missing: the baseline script the agent improves "
            f'(set "baseline_script" in scripts/{CONFIG_FILE} if it has another name)',
        )
    ]


def _check_scored_code(env: Path, config: TaskConfig, waiting_for_prepare: bool) -> list[Finding]:
    if not config.scored_code:
        return []
    missing = [name for name in config.scored_code if not (env / name).is_file()]
    if not missing:
        return [Finding("ok", f"eval.py runs the code of {', '.join(config.scored_code)} (scored_code)")]
    level: Level = "warning" if waiting_for_prepare else "error"
    return [
        Finding(
            level,
            f"scored_code in scripts/{CONFIG_FILE} names env/{missing[0]}, which is missing: list the files "
            "eval.py imports from env/",
        )
    ]


def _check_read_only(path: Path, env: Path, waiting_for_prepare: bool) -> list[Finding]:
    if not path.is_file():
        return [Finding("warning", "no scripts/read_only_files.txt: the agent may change every file, data included")]
    patterns = read_only_patterns(path)
    files = [p.relative_to(env).as_posix() for p in env.rglob("*") if p.is_file()]
    unmatched = [
        pattern
        for pattern in patterns
        if not any(fnmatch.fnmatch(f, pattern.removeprefix("./")) or fnmatch.fnmatch(f, pattern) for f in files)
    ]
    if unmatched and not waiting_for_prepare:
        return [Finding("warning", f"read_only_files.txt patterns match no file in env/: {', '.join(unmatched)}")]
    return [Finding("ok", f"scripts/read_only_files.txt protects {len(patterns)} pattern(s)")]


@dataclass(frozen=True)
class ReferenceCheck:
    """The baseline measured, run again, and the reference improvement, all scored by eval.py."""

    baseline: float | None
    rerun: float | None
    reference: float | None
    rerun_success: bool
    reference_success: bool
    reference_improvement: float | None
    errors: tuple[str, ...] = ()
    validation: float | None = None  # the hold-out metric the starter printed, and the pattern that read it
    validation_pattern: str | None = None


def reference_check(task_dir: Path, *, cache_dir: Path | None = None, timeout_s: float = 300) -> ReferenceCheck:
    """Proves a task is fair: the untouched baseline run again does NOT clear the bar, the reference does."""
    from budgetmlagent.workspace.sandbox import run_script
    from budgetmlagent.workspace.scoring import baseline_score, score_workspace, verdict
    from budgetmlagent.workspace.task import load_task
    from budgetmlagent.workspace.workspace import Workspace

    task = load_task(task_dir)
    overlay = task.root / REFERENCE_DIR
    if not overlay.is_dir():
        raise TaskError(f"{task.root} has no reference/ folder with an improved script")
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="budgetmlagent-reference-") as tmp:
        base = baseline_score(task, cache_dir or Path(tmp) / "cache", timeout_s=timeout_s)
        if base.error:
            errors.append(f"baseline: {base.error}")
        scores: dict[str, float | None] = {}
        best_base = base.score
        for label in ("rerun", "reference"):
            ws = Workspace.create(task, Path(tmp) / label)
            if label == "reference":
                for file in overlay.iterdir():
                    if file.is_file():
                        shutil.copyfile(file, ws.root / file.name)
            run = run_script(ws.root, task.baseline_script, timeout_s=timeout_s)
            if not run.ok:
                errors.append(f"{label}: {task.baseline_script} failed: {(run.traceback or run.output)[-500:]}")
            if label == "rerun":
                # The baseline's first, cold timing ran 12-14 % slower than a rerun minutes later (a red CI on
                # tiny-gpt-inference): the untouched code is timed twice more, and its better value joins the
                # baseline's, as the scorers keep the fastest of their calls.
                again = score_workspace(task, ws.root, timeout_s=timeout_s).score
                if base.score is not None and again is not None:
                    higher = task.direction == "higher"
                    best_base = max(base.score, again) if higher else min(base.score, again)
            scored = score_workspace(task, ws.root, timeout_s=timeout_s)
            if scored.error:
                errors.append(f"{label}: {scored.error}")
            scores[label] = scored.score
    rerun = verdict(scores["rerun"], best_base, task.direction)
    reference = verdict(scores["reference"], best_base, task.direction)
    return ReferenceCheck(
        baseline=best_base,
        rerun=scores["rerun"],
        reference=scores["reference"],
        rerun_success=rerun.success,
        reference_success=reference.success,
        reference_improvement=reference.improvement,
        errors=tuple(errors),
        validation=base.validation,
        validation_pattern=base.validation_pattern,
    )
